"""Delivery: every file signed with Content Credentials, a per-production visible watermark, invisible marks
that trace a leaked copy back to its render — and verify still proving every byte before the signature."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import run_cli, small_spec, stream_sha, write_spec


def deliveries(spec: Path) -> list[dict]:
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM deliveries ORDER BY render_id")]


def first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def test_init_creates_a_signing_identity_with_private_keys(tmp_path):
    run_cli("init", str(tmp_path / "show"))
    identity = tmp_path / "show" / ".reelforge" / "identity"
    for name in ("root.pem", "intermediate.pem", "chain.pem"):
        assert (identity / name).is_file()
    for key in identity.glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_every_delivery_is_signed_and_the_credentials_say_what_made_it(small_production):
    run_cli("render", str(small_production))
    mp4 = small_production.parent / "renders" / "s01e01.mp4"
    assert run_cli("credentials", "verify", str(mp4)).returncode == 0
    shown = run_cli("credentials", "show", str(mp4), "--json").stdout
    assert "trainedAlgorithmicMedia" in shown
    with sqlite3.connect(small_production.parent / ".reelforge" / "catalog.sqlite") as db:
        keys = [row[0] for row in db.execute("SELECT job_key FROM render_shots")]
    assert keys and all(key in shown for key in keys)
    (delivery,) = deliveries(small_production)
    assert delivery["signed"] == 1 and delivery["unsigned_sha256"] in shown
    assert "Content Credentials: Trusted" in run_cli("verify", str(mp4)).stdout


def test_unsigned_stream_renders_byte_for_byte_though_signatures_differ(tmp_path):
    a = write_spec(tmp_path / "a", small_spec())
    b = write_spec(tmp_path / "b", small_spec())
    run_cli("render", str(a))
    run_cli("render", str(b))
    assert deliveries(a)[0]["unsigned_sha256"] == deliveries(b)[0]["unsigned_sha256"]
    assert (a.parent / "renders" / "s01e01.mp4").read_bytes() != (b.parent / "renders" / "s01e01.mp4").read_bytes()


def test_tampered_delivery_fails_its_credentials_and_verify(small_production):
    run_cli("render", str(small_production))
    mp4 = small_production.parent / "renders" / "s01e01.mp4"
    data = bytearray(mp4.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the video data
    mp4.write_bytes(bytes(data))
    result = run_cli("credentials", "verify", str(mp4), check=False)
    assert result.returncode == 1 and "mismatch" in (result.stdout + result.stderr)
    assert run_cli("verify", str(mp4), check=False).returncode == 1


def test_production_watermark_marks_every_delivery_and_verifies(tmp_path):
    spec = small_spec()
    spec["delivery"]["watermark"] = {"text": "HARBOR LIGHTS — PREVIEW", "position": "top-left", "opacity": 1.0}
    marked = write_spec(tmp_path / "marked", spec)
    plain = write_spec(tmp_path / "plain", small_spec())
    run_cli("render", str(marked))
    run_cli("render", str(plain))
    a, b = first_frame(marked.parent / "renders" / "s01e01.mp4"), first_frame(plain.parent / "renders" / "s01e01.mp4")
    corner = np.abs(a[:200, :700].astype(int) - b[:200, :700].astype(int)).mean()
    opposite = np.abs(a[-200:, -700:].astype(int) - b[-200:, -700:].astype(int)).mean()
    assert corner > 5 * max(opposite, 0.1)
    assert "VERIFIED" in run_cli("verify", str(marked.parent / "renders" / "s01e01.mp4")).stdout
    assert json.loads(deliveries(marked)[0]["watermark_json"])["spec"]["text"] == "HARBOR LIGHTS — PREVIEW"


def test_missing_watermark_logo_is_a_clear_error(tmp_path):
    spec = small_spec()
    spec["delivery"]["watermark"] = {"text": "x", "logo": "no-such-logo.png"}
    result = run_cli("render", str(write_spec(tmp_path / "show", spec)), check=False)
    assert result.returncode == 2 and "no-such-logo.png" in result.stderr and "Traceback" not in result.stderr


def test_watermark_command_is_deterministic_and_can_sign(small_production, tmp_path):
    run_cli("render", str(small_production))
    mp4 = small_production.parent / "renders" / "s01e01.mp4"
    one, two = tmp_path / "one.mp4", tmp_path / "two.mp4"
    run_cli("watermark", str(mp4), str(one), "--text", "SCREENER")
    run_cli("watermark", str(mp4), str(two), "--text", "SCREENER")
    assert one.read_bytes() == two.read_bytes()
    signed = tmp_path / "signed.mp4"
    run_cli("watermark", str(mp4), str(signed), "--text", "SCREENER", "--production", str(small_production))
    assert run_cli("credentials", "verify", str(signed), "--production-identity",
                   str(small_production.parent / ".reelforge" / "identity")).returncode == 0


def test_studio_signing_chain_that_does_not_exist_is_a_clear_error(tmp_path):
    spec = small_spec()
    spec["signing"] = {"chain": "certs/chain.pem", "key": "certs/leaf.key", "trust_anchor": "certs/root.pem"}
    result = run_cli("render", str(write_spec(tmp_path / "show", spec)), check=False)
    assert result.returncode == 2 and "chain.pem" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def marked_render(small_production):
    run_cli("render", str(small_production), "--mark", "--actor", "dana")
    return small_production


def test_marked_delivery_differs_only_by_its_mark_and_verifies(marked_render, tmp_path):
    mp4 = marked_render.parent / "renders" / "s01e01.mp4"
    (delivery,) = deliveries(marked_render)
    assert delivery["mark_id"] and delivery["rendered_by"] == "dana"
    unmarked_out = tmp_path / "unmarked"
    run_cli("render", str(marked_render), "--out", str(unmarked_out))  # same shots, reused, no mark
    marked_frame, plain_frame = first_frame(mp4), first_frame(unmarked_out / "s01e01.mp4")
    assert stream_sha(mp4) != stream_sha(unmarked_out / "s01e01.mp4")
    psnr = 10 * np.log10(255 ** 2 / np.mean((marked_frame.astype(float) - plain_frame.astype(float)) ** 2))
    assert psnr > 38  # invisible: the pictures are the same to the eye
    report = run_cli("verify", str(mp4)).stdout
    assert "VERIFIED" in report and f"invisible mark {delivery['mark_id']} re-embedded" in report
    assert "c2pa.soft-binding" in run_cli("credentials", "show", str(mp4), "--json").stdout


def test_trace_names_the_render_of_a_leaked_copy(marked_render, tmp_path):
    mp4 = marked_render.parent / "renders" / "s01e01.mp4"
    leaked = tmp_path / "leaked.mp4"
    with av.open(str(mp4)) as source, av.open(str(leaked), "w") as out:  # re-encoded at 720p, as a leak would be
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.options = {"crf": "23"}
        for frame in source.decode(video=0):
            for packet in stream.encode(frame.reformat(width=1280, height=720, format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    (delivery,) = deliveries(marked_render)
    result = run_cli("trace", str(leaked), "--production", str(marked_render))
    assert delivery["mark_id"] in result.stdout and "dana" in result.stdout and "s01e01" in result.stdout


def test_trace_finds_no_mark_in_an_unmarked_delivery(small_production):
    run_cli("render", str(small_production))
    result = run_cli("trace", str(small_production.parent / "renders" / "s01e01.mp4"), check=False)
    assert result.returncode == 1 and "no mark found" in result.stdout


def test_each_episode_of_one_marked_render_gets_its_own_mark(tmp_path):
    spec = small_spec()
    second = json.loads(json.dumps(spec["episodes"][0]))
    second["id"] = "s01e02"
    second["scenes"] = second["scenes"][1:]
    spec["episodes"].append(second)
    path = write_spec(tmp_path / "show", spec)
    run_cli("render", str(path), "--mark", "--actor", "alice")
    marks = [d["mark_id"] for d in deliveries(path)]
    assert len(marks) == 2 and len(set(marks)) == 2
    result = run_cli("trace", str(path.parent / "renders" / "s01e02.mp4"), "--production", str(path))
    assert marks[1] in result.stdout and "s01e02" in result.stdout and "alice" in result.stdout


def test_a_studio_signing_chain_signs_and_verifies(tmp_path):
    from reelforge.trust.identity import create_identity

    create_identity(tmp_path / "studio-keys", "Studio North")
    spec = small_spec()
    keys = tmp_path / "studio-keys"
    spec["signing"] = {"chain": str(keys / "chain.pem"), "key": str(keys / "leaf.key"),
                       "trust_anchor": str(keys / "root.pem")}
    path = write_spec(tmp_path / "show", spec)
    run_cli("render", str(path))
    mp4 = path.parent / "renders" / "s01e01.mp4"
    assert "Content Credentials: Trusted" in run_cli("verify", str(mp4)).stdout
    assert run_cli("credentials", "verify", str(mp4), "--trust", str(keys / "root.pem")).returncode == 0
    assert run_cli("credentials", "verify", str(mp4)).returncode == 0  # the recorded anchor is found


def test_partial_verify_does_not_claim_the_whole_delivery(small_production):
    run_cli("render", str(small_production), "--mark")
    result = run_cli("verify", str(small_production.parent / "renders" / "s01e01.mp4"), "--frames", "0:2")
    assert "not re-created" in result.stdout and "re-embedded" not in result.stdout


def test_watermark_logo_is_kept_with_the_production_so_verify_survives_a_moved_logo(tmp_path):
    from PIL import Image

    logo = tmp_path / "incoming" / "studio-logo.png"
    logo.parent.mkdir()
    Image.new("RGBA", (64, 32), (255, 200, 0, 255)).save(logo)
    spec = small_spec()
    spec["delivery"]["watermark"] = {"text": "DRAFT", "logo": str(logo)}
    path = write_spec(tmp_path / "show", spec)
    run_cli("render", str(path))
    logo.unlink()  # the studio tidies its downloads folder
    mp4 = path.parent / "renders" / "s01e01.mp4"
    assert "VERIFIED" in run_cli("verify", str(mp4)).stdout
    recorded = json.loads(deliveries(path)[0]["watermark_json"])["spec"]["logo"]
    assert recorded.startswith(".reelforge/assets/") and "incoming" not in run_cli("credentials", "show", str(mp4)).stdout
