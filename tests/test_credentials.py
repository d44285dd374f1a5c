"""Content Credentials: the production's signing identity, signing, reading and verifying (offline)."""

from __future__ import annotations

import http.server
import json
import stat
import struct
import threading
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
import typer
from conftest import run_cli
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from PIL import Image

from reelforge.cli.trust import credentials_show, credentials_verify
from reelforge.store.paths import ProductionPaths
from reelforge.trust.credentials import (
    RENDER_LABEL,
    TRAINED_ALGORITHMIC_MEDIA,
    format_credentials,
    read_credentials,
    sign_file,
    verify_credentials,
)
from reelforge.trust.deliveries import VerifyCache, delivery_credentials
from reelforge.trust.identity import (
    DOCUMENT_SIGNING,
    CredentialsError,
    create_identity,
    default_identity_folder,
    load_identity,
    renew_leaf,
)
from reelforge.trust.unhashed_boxes import C2PA_UUID

RENDER = {
    "prompts": ["a lighthouse at dusk, 35mm", "é ✓ unicode"],
    "seeds": [1, 2, 300],  # a list of small ints: c2pa's Reader.json() would mangle it into base64
    "shot_seed": 2 ** 63 - 1,
    "backend": "previz",
    "checkpoint_sha256": "0" * 64,
    "jobs": {"s01e01/sc01/sh01": "ab" * 32},
    "rendered_at": "2025-01-01T00:00:00Z",
    "environment": {"threads": 1, "torch": None, "cuda": False},
    "frame_manifest_sha256": "f" * 64,
    "cfg": [7.5, 1.0],
}


# --- media helpers --------------------------------------------------------------------------------

def make_mp4(path: Path, frames: int = 10) -> Path:
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=10)
    stream.width = stream.height = 64
    stream.pix_fmt = "yuv420p"
    stream.options = {"preset": "ultrafast"}
    stream.codec_context.thread_count = 1
    for i in range(frames):
        rgb = np.zeros((64, 64, 3), np.uint8)
        rgb[..., 0] = i * 20
        rgb[..., 1] = np.arange(64, dtype=np.uint8)[None, :] * 3
        for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def make_png(path: Path) -> Path:
    pixels = (np.arange(64 * 64 * 3) % 251).astype(np.uint8).reshape(64, 64, 3)
    Image.fromarray(pixels).save(path)
    return path


def boxes(data: bytes, start: int = 0, end: int | None = None) -> dict[str, tuple[int, int, int]]:
    """ISO-BMFF boxes between start and end: type → (offset, size, header length); first of each type."""
    end = len(data) if end is None else end
    found: dict[str, tuple[int, int, int]] = {}
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[offset + 8:offset + 16])[0], 16
        elif size == 0:
            size = end - offset
        found.setdefault(kind.decode("latin-1"), (offset, size, header))
        offset += size
    return found


def flipped(path: Path, position: int, out: Path) -> Path:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    out.write_bytes(bytes(data))
    return out


def failure_codes(result) -> list[str]:
    return [code for code, _ in result.failures]


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("credentials")


@pytest.fixture(scope="module")
def identity(work):
    return create_identity(work / "prod-a" / ".reelforge" / "identity", "Production A")


@pytest.fixture(scope="module")
def other_identity(work):
    return create_identity(work / "prod-b" / "identity", "Production B", algorithm="ed25519")


@pytest.fixture(scope="module")
def video(work) -> Path:
    return make_mp4(work / "plain.mp4")


@pytest.fixture(scope="module")
def signed_video(work, video, identity) -> Path:
    return sign_file(video, work / "signed.mp4", identity, assertion=RENDER, title="s01e01.mp4")


# --- identity -------------------------------------------------------------------------------------

def test_identity_files_permissions_and_chain(identity):
    folder = identity.chain_path.parent
    for name in ("root.pem", "root.key", "intermediate.pem", "chain.pem", "leaf.key", ".gitignore"):
        assert (folder / name).is_file(), name
    assert stat.S_IMODE((folder / "leaf.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "root.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert "*.key" in (folder / ".gitignore").read_text()
    assert identity.algorithm == "es256"

    leaf, intermediate = x509.load_pem_x509_certificates((folder / "chain.pem").read_bytes())
    root = x509.load_pem_x509_certificate((folder / "root.pem").read_bytes())
    assert x509.load_pem_x509_certificate((folder / "intermediate.pem").read_bytes()) == intermediate
    leaf.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)

    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == {
        ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING}
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
            == intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest)
    assert intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0

    key = serialization.load_pem_private_key((folder / "leaf.key").read_bytes(), None)
    assert key.public_key() == leaf.public_key()
    assert "key_pem" not in repr(identity)
    assert load_identity(folder) == identity


def test_create_identity_refuses_to_replace_one(identity):
    with pytest.raises(CredentialsError, match="already exists"):
        create_identity(identity.chain_path.parent, "Production A")


def test_default_identity_folder(tmp_path):
    assert default_identity_folder(tmp_path) == tmp_path / ".reelforge" / "identity"


def test_studio_chain_errors_name_the_file(tmp_path, identity, other_identity):
    folder = identity.chain_path.parent
    missing = tmp_path / "nope.pem"
    with pytest.raises(CredentialsError, match="nope.pem: certificate file not found"):
        load_identity(chain=missing, key=folder / "leaf.key")
    with pytest.raises(CredentialsError, match=r"leaf\.key: this private key does not match"):
        load_identity(chain=other_identity.chain_path, key=folder / "leaf.key")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello\n")
    with pytest.raises(CredentialsError, match="garbage.pem: not a PEM private key"):
        load_identity(chain=folder / "chain.pem", key=garbage)
    encrypted = tmp_path / "encrypted.key"
    key = serialization.load_pem_private_key((folder / "leaf.key").read_bytes(), None)
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"secret")))
    with pytest.raises(CredentialsError, match="encrypted.key: the private key is encrypted"):
        load_identity(chain=folder / "chain.pem", key=encrypted)
    with pytest.raises(CredentialsError, match="root.pem: the chain in .* does not lead to this trust anchor"):
        load_identity(chain=folder / "chain.pem", key=folder / "leaf.key",
                      trust_anchor=other_identity.trust_anchor_path)
    with pytest.raises(CredentialsError, match="no signing identity"):
        load_identity(tmp_path / "no-such-folder")
    # a studio's own chain and key, with an explicit anchor, load fine
    studio = load_identity(chain=folder / "chain.pem", key=folder / "leaf.key", trust_anchor=folder / "root.pem")
    assert studio.chain_pem == identity.chain_pem and studio.trust_anchor_pem == identity.trust_anchor_pem


# --- signing and verifying ------------------------------------------------------------------------

def test_sign_and_verify_mp4(signed_video, video, identity):
    result = verify_credentials(signed_video, identity.trust_anchor_pem)
    assert result.ok and result.state == "Trusted" and result.failures == []
    summary = result.summary
    assert summary["title"] == "s01e01.mp4"
    assert summary["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA
    assert summary["created_action"]["action"] == "c2pa.created"
    assert summary["reelforge"] == RENDER  # exact, numbers and all
    assert summary["signer"] == "Production A Content Credentials"
    assert "c2pa.actions.v2" in summary["assertions"]
    assert video.read_bytes() != signed_video.read_bytes()

    store = read_credentials(signed_video)
    manifest = store["manifests"][store["active_manifest"]]
    render = [a["data"] for a in manifest["assertions"] if a["label"] == RENDER_LABEL]
    assert render == [RENDER]
    text = format_credentials(summary)
    assert "trainedAlgorithmicMedia (generated by a trained model)" in text and "a lighthouse at dusk" in text


@pytest.mark.parametrize("where", ["mdat", "moov", "manifest"])
def test_tampering_is_detected(where, signed_video, identity, work):
    data = signed_video.read_bytes()
    top = boxes(data)
    if where == "mdat":
        offset, size, header = top["mdat"]
        position = offset + header + size // 2  # the video payload
        expected = "assertion.bmffHash.mismatch"
    elif where == "moov":
        offset, size, header = top["moov"]
        mvhd = boxes(data, offset + header, offset + size)["mvhd"]
        position = mvhd[0] + mvhd[2] + 4 + 3  # a byte of mvhd's creation time: the structure stays parseable
        expected = "assertion.bmffHash.mismatch"
    else:
        offset, size, header = top["uuid"]  # the C2PA manifest store (JUMBF in a uuid box)
        position = data.index(b"a lighthouse at dusk", offset, offset + size) + 2  # inside the render assertion
        expected = "assertion.hashedURI.mismatch"
    result = verify_credentials(flipped(signed_video, position, work / f"tampered-{where}.mp4"),
                                identity.trust_anchor_pem)
    assert not result.ok and result.state == "Invalid"
    assert expected in failure_codes(result), result.failures


def test_broken_manifest_structure_is_a_failure_not_an_exception(signed_video, identity, work):
    offset = boxes(signed_video.read_bytes())["uuid"][0]
    result = verify_credentials(flipped(signed_video, offset + 60, work / "broken.mp4"), identity.trust_anchor_pem)
    assert not result.ok and result.state in ("Invalid", "unsigned")
    if result.state == "Invalid":
        assert result.failures


def test_unsigned_file_is_reported_not_raised(video, identity, work):
    result = verify_credentials(video, identity.trust_anchor_pem)
    assert (result.ok, result.state, result.failures) == (False, "unsigned", [])
    assert read_credentials(video) is None
    png = make_png(work / "unsigned.png")
    assert verify_credentials(png, identity.trust_anchor_pem).state == "unsigned"


def test_not_media_or_missing_raises(tmp_path, identity):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 10)
    for call in (lambda p: verify_credentials(p, identity.trust_anchor_pem), read_credentials,
                 lambda p: sign_file(p, tmp_path / "out.mp4", identity, assertion={}, title="x")):
        with pytest.raises(CredentialsError, match="notes.mp4: not a media file"):
            call(text)
        with pytest.raises(CredentialsError, match="missing.mp4: file not found"):
            call(tmp_path / "missing.mp4")


def test_another_productions_anchor_is_untrusted(signed_video, video, identity, other_identity, work):
    result = verify_credentials(signed_video, other_identity.trust_anchor_pem)
    assert not result.ok and result.state == "Valid"
    assert "signingCredential.untrusted" in failure_codes(result)
    # and the other production (Ed25519) signs and verifies under its own anchor only
    theirs = sign_file(video, work / "theirs.mp4", other_identity, assertion={"backend": "x"}, title="theirs")
    assert verify_credentials(theirs, other_identity.trust_anchor_pem).ok
    assert "signingCredential.untrusted" in failure_codes(verify_credentials(theirs, identity.trust_anchor_pem))


def test_png_signing_and_tampering(identity, work):
    png = make_png(work / "still.png")
    signed = sign_file(png, work / "still-signed.png", identity, assertion=RENDER, title="still.png")
    result = verify_credentials(signed, identity.trust_anchor_pem)
    assert result.ok and result.state == "Trusted" and result.summary["reelforge"] == RENDER
    assert np.array_equal(np.asarray(Image.open(signed)), np.asarray(Image.open(png)))  # pixels untouched
    data = signed.read_bytes()
    idat = data.index(b"IDAT")
    tampered = verify_credentials(flipped(signed, idat + 10, work / "still-tampered.png"), identity.trust_anchor_pem)
    assert not tampered.ok and "assertion.dataHash.mismatch" in failure_codes(tampered)


def test_signing_twice_differs_but_both_verify(video, identity, work):
    # UUIDs and ECDSA nonces: signed bytes are never reproducible, only the unsigned stream is.
    first = sign_file(video, work / "twice-1.mp4", identity, assertion=RENDER, title="t")
    second = sign_file(video, work / "twice-2.mp4", identity, assertion=RENDER, title="t")
    assert first.read_bytes() != second.read_bytes()
    assert verify_credentials(first, identity.trust_anchor_pem).ok
    assert verify_credentials(second, identity.trust_anchor_pem).ok


def test_sign_in_place_is_atomic_and_replaces_credentials(video, identity, work):
    target = work / "in-place.mp4"
    target.write_bytes(video.read_bytes())
    target.chmod(0o640)
    sign_file(target, target, identity, assertion={"take": 1}, title="in place")
    sign_file(target, target, identity, assertion={"take": 2}, title="in place")  # re-sign: replaces
    result = verify_credentials(target, identity.trust_anchor_pem)
    assert result.ok and result.summary["reelforge"] == {"take": 2} and result.summary["manifest_count"] == 1
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert not list(work.glob(".in-place.mp4.tmp-*"))


def test_extra_assertions_and_ingredients(video, identity, work):
    png = make_png(work / "frame.png")
    soft = {"label": "c2pa.soft-binding",
            "data": {"alg": "org.reelforge.mark.v1", "blocks": [{"scope": {}, "value": "AAECAw=="}]}}
    custom = {"label": "org.example.note", "data": {"ids": [3, 4, 5]}}
    signed = sign_file(png, work / "frame-signed.png", identity, assertion={"k": 1}, title="frame",
                       extra_assertions=[soft, custom], ingredients=[video])
    result = verify_credentials(signed, identity.trust_anchor_pem)
    assert result.ok, result.failures
    assert {"c2pa.soft-binding", "org.example.note"} <= set(result.summary["assertions"])
    assert result.summary["ingredients"] == ["plain.mp4"]
    store = read_credentials(signed)
    manifest = store["manifests"][store["active_manifest"]]
    assert [a["data"] for a in manifest["assertions"] if a["label"] == "org.example.note"] == [{"ids": [3, 4, 5]}]


def test_bad_assertions_are_refused(video, identity, work):
    out = work / "refused.mp4"
    with pytest.raises(CredentialsError, match="does not fit in 64 bits"):
        sign_file(video, out, identity, assertion={"seed": 2 ** 64}, title="x")
    with pytest.raises(CredentialsError, match=r"org.reelforge.render.path: PosixPath is not JSON"):
        sign_file(video, out, identity, assertion={"path": Path("/x")}, title="x")
    with pytest.raises(CredentialsError, match="reserved or repeated"):
        sign_file(video, out, identity, assertion={}, title="x", extra_assertions=[{"label": RENDER_LABEL, "data": {}}])
    assert not out.exists()


def test_renewed_leaf_keeps_the_anchor(video, tmp_path):
    first = create_identity(tmp_path / "id", "Renewing")
    before = sign_file(video, tmp_path / "before.mp4", first, assertion={}, title="before")
    renewed = renew_leaf(tmp_path / "id")
    assert renewed.chain_pem != first.chain_pem and renewed.trust_anchor_pem == first.trust_anchor_pem
    after = sign_file(video, tmp_path / "after.mp4", renewed, assertion={}, title="after")
    assert verify_credentials(before, renewed.trust_anchor_pem).ok
    assert verify_credentials(after, renewed.trust_anchor_pem).ok


def test_nothing_touches_the_network(video, identity, work):
    """A manifest kept at a (local) URL: reading it must not fetch, and says so."""
    import c2pa

    hits: list[str] = []
    manifest_bytes = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = manifest_bytes.get("m", b"")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        remote = work / "remote.mp4"
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", identity.chain_pem, identity.key_pem, None))
        definition = {"title": "remote", "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}]}}]}
        with c2pa.Builder(definition) as builder, video.open("rb") as src, remote.open("w+b") as dst:
            builder.set_no_embed()
            builder.set_remote_url(f"http://127.0.0.1:{server.server_address[1]}/m.c2pa")
            manifest_bytes["m"] = builder.sign(signer, "video/mp4", src, dst)
        signer.close()
        result = verify_credentials(remote, identity.trust_anchor_pem)
        assert (result.ok, result.state) == (False, "unverified")
        assert failure_codes(result) == ["manifest.remote"]
        assert hits == []
    finally:
        server.shutdown()
        server.server_close()


# --- bytes the C2PA hash does not cover -----------------------------------------------------------

def free_box(size: int = 4096, kind: bytes = b"free") -> bytes:
    return struct.pack(">I4s", 8 + size, kind) + bytes(range(256)) * (size // 256)


@pytest.mark.parametrize("change", ["append free", "append skip", "append c2pa uuid", "insert before moov",
                                    "ftyp brand"])
def test_unhashed_boxes_changed_after_signing_are_a_modification(change, signed_video, identity, work):
    """c2pa's BMFF hash leaves ftyp/free/skip out, so these alone would read Trusted; reelforge must not."""
    data = signed_video.read_bytes()
    top = boxes(data)
    if change == "append c2pa uuid":  # a second manifest-store box: c2pa excludes every one from its hash
        extra = struct.pack(">I4s", 8 + 16 + 4096, b"uuid") + C2PA_UUID + bytes(range(256)) * 16
        changed, offset, code = data + extra, len(data), "reelforge.box.added"
    elif change.startswith("append"):
        changed, offset, code = data + free_box(kind=change.split()[1].encode()), len(data), "reelforge.box.added"
    elif change == "insert before moov":  # after mdat: the media still plays, nothing inside moov moves
        offset, code = top["moov"][0], "reelforge.box.added"
        changed = data[:offset] + free_box() + data[offset:]
    else:
        offset, code = 0, "reelforge.box.changed"
        changed = data[:8] + b"XXXX" + data[12:]  # another major brand, same size
    path = work / f"unhashed-{change.replace(' ', '-')}.mp4"
    path.write_bytes(changed)
    result = verify_credentials(path, identity.trust_anchor_pem)
    assert not result.ok and result.state == "Invalid"
    assert (code, offset) in [(c, int(text.split("at offset ")[1].split()[0])) for c, text in result.failures
                              if c.startswith("reelforge.box")], result.failures
    assert read_credentials(path)["validation_state"] == "Invalid"  # `credentials show` does not say intact


def test_files_signed_without_the_box_record_are_held_to_what_encoders_write(video, identity, work, monkeypatch):
    """Files signed before the record existed (or by another tool): ftyp and empty free placeholders only."""
    from reelforge.trust import unhashed_boxes

    monkeypatch.setattr(unhashed_boxes, "record", lambda path, mime: None)
    legacy = sign_file(video, work / "legacy.mp4", identity, assertion={}, title="legacy")
    assert unhashed_boxes.UNHASHED_LABEL not in verify_credentials(legacy, identity.trust_anchor_pem).summary[
        "assertions"]
    assert verify_credentials(legacy, identity.trust_anchor_pem).ok  # its 8-byte free placeholder is fine
    appended = work / "legacy-appended.mp4"
    appended.write_bytes(legacy.read_bytes() + free_box())
    result = verify_credentials(appended, identity.trust_anchor_pem)
    assert not result.ok and "reelforge.box.added" in failure_codes(result)


def test_png_chunks_added_after_signing_break_the_hash(identity, work):
    """c2pa's PNG data hash leaves out only its own chunk: an added chunk or trailing bytes are caught."""
    signed = sign_file(make_png(work / "chunks.png"), work / "chunks-signed.png", identity, assertion={}, title="c")
    data = signed.read_bytes()
    iend = data.rindex(b"IEND") - 4
    text = b"tEXt" + b"Comment\x00added after signing"
    chunk = struct.pack(">I", len(text) - 4) + text + struct.pack(">I", zlib.crc32(text))
    for name, changed in (("inserted", data[:iend] + chunk + data[iend:]), ("trailing", data + free_box(256))):
        path = work / f"chunks-{name}.png"
        path.write_bytes(changed)
        result = verify_credentials(path, identity.trust_anchor_pem)
        assert not result.ok and "assertion.dataHash.mismatch" in failure_codes(result), name


def test_a_delivery_with_a_box_appended_is_not_trusted_anywhere(small_production):
    """The render's delivery, a free box appended: `credentials verify`, `verify` and the studio's page all say so."""
    run_cli("render", str(small_production))
    mp4 = small_production.parent / "renders" / "s01e01.mp4"
    size = mp4.stat().st_size
    with mp4.open("ab") as handle:
        handle.write(free_box())
    checked = run_cli("credentials", "verify", str(mp4), check=False)
    assert checked.returncode == 1 and f"`free` box at offset {size}" in checked.stdout, checked.stdout
    verified = run_cli("verify", str(mp4), check=False)
    assert verified.returncode == 1 and "reelforge.box.added" in verified.stdout and "NOT VERIFIED" in verified.stdout
    (delivery,) = delivery_credentials(ProductionPaths.for_spec(small_production), VerifyCache())
    assert delivery.status.state == "invalid" and not delivery.status.ok
    assert any(code == "reelforge.box.added" and f"offset {size}" in text for code, text in delivery.status.failures)


# --- CLI bodies -----------------------------------------------------------------------------------

def exit_code(call) -> int:
    with pytest.raises(typer.Exit) as caught:
        call()
    return caught.value.exit_code


def test_cli_show_and_verify(signed_video, video, identity, other_identity, work, capsys):
    assert exit_code(lambda: credentials_show(signed_video, False)) == 0
    assert "trainedAlgorithmicMedia" in capsys.readouterr().out
    assert exit_code(lambda: credentials_show(signed_video, True)) == 0
    assert json.loads(capsys.readouterr().out)["active_manifest"]
    assert exit_code(lambda: credentials_show(video, False)) == 1
    assert "no Content Credentials" in capsys.readouterr().out
    assert exit_code(lambda: credentials_show(work / "absent.mp4", False)) == 2
    assert "absent.mp4: file not found" in capsys.readouterr().err

    anchor = identity.trust_anchor_path
    assert exit_code(lambda: credentials_verify(signed_video, anchor, None)) == 0
    assert exit_code(lambda: credentials_verify(signed_video, None, work / "prod-a")) == 0
    capsys.readouterr()
    assert exit_code(lambda: credentials_verify(signed_video, other_identity.trust_anchor_path, None)) == 1
    assert "signingCredential.untrusted" in capsys.readouterr().out
    tampered = flipped(signed_video, boxes(signed_video.read_bytes())["mdat"][0] + 100, work / "cli-tampered.mp4")
    assert exit_code(lambda: credentials_verify(tampered, anchor, None)) == 1
    out = capsys.readouterr().out
    assert "assertion.bmffHash.mismatch" in out and "Traceback" not in out
    appended = work / "cli-appended.mp4"
    appended.write_bytes(signed_video.read_bytes() + free_box())
    assert exit_code(lambda: credentials_verify(appended, anchor, None)) == 1
    out = capsys.readouterr().out
    assert f"reelforge.box.added: top-level `free` box at offset {signed_video.stat().st_size} (4104 bytes)" in out
    assert exit_code(lambda: credentials_verify(video, anchor, None)) == 1
    assert exit_code(lambda: credentials_verify(work / "absent.mp4", anchor, None)) == 2
    assert exit_code(lambda: credentials_verify(signed_video, work / "absent.pem", None)) == 2
    assert exit_code(lambda: credentials_verify(signed_video, None, None)) == 2  # no anchor found
    assert "no trust anchor" in capsys.readouterr().err


def test_cli_verify_finds_the_files_production(identity, video, work):
    """A file inside a production folder verifies against that production's identity by default."""
    production = work / "prod-a"
    (production / "renders").mkdir(exist_ok=True)
    delivered = sign_file(video, production / "renders" / "ep.mp4", identity, assertion={}, title="ep")
    assert exit_code(lambda: credentials_verify(delivered, None, None)) == 0
