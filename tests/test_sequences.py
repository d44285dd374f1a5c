"""Frame sequences (`reelforge render --frames-out png|exr`): numbered 16-bit PNG / half EXR files per shot, a signed
manifest, and `reelforge verify FOLDER` catching every kind of tampering."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zlib
from pathlib import Path

import av
import cv2
import numpy as np
import OpenEXR
import pytest
from conftest import cli, run_cli, small_spec, write_spec

from reelforge.app.faults import fault_message
from reelforge.deliver.sequence import MANIFEST, SIGNATURE, sign_manifest
from reelforge.store.paths import ProductionPaths
from reelforge.store.shots import ShotStore
from reelforge.trust.identity import create_identity, load_identity

FRAMES = 3  # per shot: three shots, nine 1080p frames


@pytest.fixture(scope="module")
def shows(tmp_path_factory) -> dict[str, Path]:
    """Two productions of the same spec, each rendered in its own processes with --frames-out png, then exr."""
    made = {}
    for name in ("a", "b"):
        spec = write_spec(tmp_path_factory.mktemp(name) / "show", small_spec(FRAMES))
        run_cli("render", str(spec), "--frames-out", "png", "--actor", "tester")
        second = run_cli("render", str(spec), "--frames-out", "exr", "--actor", "tester")
        made[name] = spec
        made[f"{name}-second"] = second.stdout
    return made


def renders(spec: Path) -> Path:
    return spec.parent / "renders"


def manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def frames(folder: Path):
    """(entry, shot record) of every frame the manifest lists, in order."""
    return [(entry, shot) for shot in manifest(folder)["shots"] for entry in shot["frames"]]


def stored(spec: Path, digest: str) -> np.ndarray:
    return ShotStore.of(ProductionPaths.for_spec(spec)).frames.get(digest)


def test_png_sequence_is_numbered_per_shot_and_decodes_to_the_stored_frames_times_257(shows):
    spec = shows["a"]
    folder = renders(spec) / "s01e01.png-sequence"
    listed = frames(folder)
    assert len(listed) == 3 * FRAMES
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, SIGNATURE, "sc01.sh01", "sc01.sh02", "sc02.sh01"]
    assert sorted(p.name for p in (folder / "sc01.sh02").iterdir()) == [
        f"s01e01.sc01.sh02.{1001 + i}.png" for i in range(FRAMES)]
    jobs = ShotStore.of(ProductionPaths.for_spec(spec))
    for entry, shot in listed:
        assert entry["number"] == 1001 + entry["shot_frame"]
        # the frame hashes the render recorded for the shot's job: the sequence re-rendered nothing
        assert jobs.job(shot["job_key"]).read_manifest()[entry["shot_frame"]] == entry["frame_hash"]
        path = folder / entry["file"]
        wide = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert wide.dtype == np.uint16 and wide.shape == (1080, 1920, 3)
        assert np.array_equal(wide[..., ::-1], stored(spec, entry["frame_hash"]).astype(np.uint16) * 257)
    first = folder / listed[0][0]["file"]
    with av.open(str(first)) as container:  # PyAV (ffmpeg's PNG decoder) reads the same 16-bit RGB
        decoded = next(container.decode(video=0))
        assert decoded.format.name == "rgb48be"
        assert decoded.color_primaries == 1  # cICP: BT.709
        assert np.array_equal(decoded.to_ndarray(), stored(spec, listed[0][0]["frame_hash"]).astype(np.uint16) * 257)
    data = first.read_bytes()
    assert b"cICP\x01\x01\x00\x01" in data and b"tIME" not in data
    colour = manifest(folder)["image"]["colour"]
    assert colour["primaries"] == "BT.709" and colour["png_cicp"] == [1, 1, 0, 1]
    assert manifest(folder)["image"]["zlib"] == zlib.ZLIB_RUNTIME_VERSION  # the PNG bytes depend on it


def test_exr_sequence_reads_back_as_half_float_rec709_linear_with_chromaticities(shows):
    spec = shows["a"]
    folder = renders(spec) / "s01e01.exr-sequence"
    listed = frames(folder)
    assert len(listed) == 3 * FRAMES
    for entry, _ in listed:
        with OpenEXR.File(str(folder / entry["file"])) as exr:
            header = dict(exr.header())  # the File empties its own dict when closed
            pixels = exr.channels()["RGB"].pixels
        assert pixels.dtype == np.float16 and pixels.shape == (1080, 1920, 3)
        assert np.allclose(header["chromaticities"], (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290), atol=1e-6)
        assert header["colorInteropID"] == "lin_rec709_scene"
        assert header["compression"] == OpenEXR.ZIP_COMPRESSION
        assert not any("date" in name.lower() for name in header)
        expected = ((stored(spec, entry["frame_hash"]) / 255.0) ** 2.4).astype(np.float16)
        assert np.array_equal(pixels, expected)
    assert manifest(folder)["image"]["pixel_type"] == "half"
    assert manifest(folder)["image"]["openexr"] == OpenEXR.__version__


def test_writing_a_sequence_renders_no_shot_again(shows):
    """The second render (--frames-out exr after png) took every shot from the store."""
    assert re.search(r"s01e01\s*│\s*0\s*│\s*3\s*│", shows["a-second"])
    assert re.search(r"wrote \S*renders/s01e01\.exr-sequence/ \(9 frames of 3 shots, signed manifest\)", shows["a-second"])


@pytest.mark.parametrize("kind", ["png", "exr"])
def test_two_renders_in_separate_processes_write_identical_sequences(shows, kind):
    one, two = renders(shows["a"]) / f"s01e01.{kind}-sequence", renders(shows["b"]) / f"s01e01.{kind}-sequence"
    names = sorted(p.relative_to(one).as_posix() for p in one.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(two).as_posix() for p in two.rglob("*") if p.is_file())
    for name in names:
        if name != SIGNATURE:  # a signature is made afresh (a new time; ES256 a new nonce)
            assert (one / name).read_bytes() == (two / name).read_bytes(), name


@pytest.mark.parametrize("kind", ["png", "exr"])
def test_verify_passes_an_untouched_sequence(shows, kind):
    result = run_cli("verify", str(renders(shows["a"]) / f"s01e01.{kind}-sequence"))
    assert "VERIFIED" in result.stdout and "NOT VERIFIED" not in result.stdout
    assert f"pixels: {3 * FRAMES} frame(s) decode to exactly their stored frame" in result.stdout
    # the signature and files alone, with the anchor given, as someone outside the production checks it
    anchor = shows["a"].parent / ".reelforge" / "identity" / "root.pem"
    code, out = cli("credentials", "verify", str(renders(shows["a"]) / f"s01e01.{kind}-sequence"), "--trust", str(anchor))
    assert code == 0 and "VERIFIED" in out


def _flip_a_byte(folder: Path) -> None:
    path = folder / frames(folder)[4][0]["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _delete_a_frame(folder: Path) -> None:
    (folder / frames(folder)[-1][0]["file"]).unlink()


def _add_a_file(folder: Path) -> None:
    (folder / "sc01.sh01" / "s01e01.sc01.sh01.1099.png").write_bytes(b"extra")


def _change_the_manifest(folder: Path) -> None:
    text = (folder / MANIFEST).read_text(encoding="utf-8")
    (folder / MANIFEST).write_text(text.replace('"fps": 24', '"fps": 25'), encoding="utf-8")


def _sign_with_another_key(folder: Path) -> None:
    mallory = create_identity(folder.parent / "mallory", "mallory")
    _change_the_manifest(folder)
    record = sign_manifest((folder / MANIFEST).read_bytes(), mallory)
    (folder / SIGNATURE).write_text(json.dumps(record), encoding="utf-8")
    shutil.rmtree(folder.parent / "mallory")


def _remove_the_signature(folder: Path) -> None:
    (folder / SIGNATURE).unlink()


@pytest.mark.parametrize(("tamper", "said"), [
    (_flip_a_byte, "sc01.sh02/s01e01.sc01.sh02.1002.png: its SHA-256 is not the signed one (altered)"),
    (_delete_a_frame, "sc02.sh01/s01e01.sc02.sh01.1003.png: missing (the signed manifest lists it)"),
    (_add_a_file, "sc01.sh01/s01e01.sc01.sh01.1099.png: not in the signed manifest (added)"),
    (_change_the_manifest, "manifest.json was changed after it was signed"),
    (_sign_with_another_key, "does not chain to the trust anchor"),
    (_remove_the_signature, "manifest.signature.json is missing"),
])
def test_verify_catches_each_tampering_in_one_line(shows, tamper, said):
    copy = renders(shows["a"]) / f"tampered-{tamper.__name__}"
    shutil.copytree(renders(shows["a"]) / "s01e01.png-sequence", copy)
    try:
        tamper(copy)
        code, out = cli("verify", str(copy))
    finally:
        shutil.rmtree(copy)
    assert code == 1, out
    failed = [line for line in out.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and said in failed[0], out
    assert "NOT VERIFIED" in out and "Traceback" not in out


def test_verify_compares_pixels_with_the_store_even_when_the_manifest_is_re_signed(shows):
    """Someone holding the production's key re-signs a sequence with other pixels: the store still says so."""
    spec = shows["a"]
    copy = renders(spec) / "resigned.png-sequence"
    shutil.copytree(renders(spec) / "s01e01.png-sequence", copy)
    try:
        entry = frames(copy)[0][0]
        path = copy / entry["file"]
        wide = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        wide[:8, :8] = 257 * 7  # a valid 16-bit expansion, of other pixels
        cv2.imwrite(str(path), wide)
        data = manifest(copy)
        data["shots"][0]["frames"][0]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        (copy / MANIFEST).write_text(json.dumps(data), encoding="utf-8")
        identity = load_identity(spec.parent / ".reelforge" / "identity")
        (copy / SIGNATURE).write_text(json.dumps(sign_manifest((copy / MANIFEST).read_bytes(), identity)))
        code, out = cli("verify", str(copy))
    finally:
        shutil.rmtree(copy)
    assert code == 1
    assert f"{entry['file']}: its pixels are not the stored frame {entry['frame_hash'][:12]}" in out


def test_a_folder_that_is_no_sequence_is_bad_input(shows, tmp_path):
    (tmp_path / "stills").mkdir()
    code, out = cli("verify", str(tmp_path / "stills"), "--production", str(shows["a"]))
    assert code == 2 and "no manifest.json here: not a frame sequence folder" in out and "Traceback" not in out


def test_an_unknown_frames_out_is_refused_before_anything_renders(tmp_path):
    spec = write_spec(tmp_path / "show", small_spec(FRAMES))
    code, out = cli("render", str(spec), "--frames-out", "tiff")
    assert code == 2 and "--frames-out must be png, exr, exr-float; got 'tiff'" in out
    assert not (spec.parent / "renders").exists()
    # a dry run refuses it as the render would; and it is said before any delivery is planned
    code, out = cli("render", str(spec), "--frames-out", "tiff", "--dry-run")
    assert code == 2 and "--frames-out must be png, exr, exr-float; got 'tiff'" in out
    code, out = cli("render", str(spec), "--frames-out", "tiff", "--delivery", "nowhere")
    assert code == 2 and "--frames-out must be" in out and "nowhere" not in out


def test_a_failed_write_leaves_the_previous_sequence_whole(shows, monkeypatch):
    """The folder is replaced as one: a write that fails half-way leaves the old folder and no partial one."""
    import reelforge.deliver.sequence as sequence

    folder = renders(shows["b"]) / "s01e01.png-sequence"
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    calls = []

    def failing(fmt, frame, path):
        calls.append(path)
        if len(calls) == 5:
            raise OSError(28, "No space left on device", str(path))
        return original(fmt, frame, path)

    original = sequence.write_frame
    monkeypatch.setattr(sequence, "write_frame", failing)
    monkeypatch.setattr(sequence, "WRITERS", 1)
    with pytest.raises(OSError) as failure:  # in this process; `reelforge` says it in one line (exit 3)
        cli("render", str(shows["b"]), "--frames-out", "png", "--actor", "tester")
    assert failure.value.filename == str(folder) and failure.value.errno == 28
    assert {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".s01e01.png-sequence.")]


@pytest.mark.parametrize("name", ["png", "exr", "exr-float"])
def test_each_frame_format_round_trips_exactly_and_an_edited_value_is_refused(tmp_path, name):
    """Every one of the 256 levels survives each format (half holds 256 distinct linear values); a value that is no
    level's image (an edit made in a paint tool) does not read back as a frame."""
    from reelforge.media.sequence import FRAME_FORMATS, read_8bit, write_frame

    fmt = FRAME_FORMATS[name]
    frame = np.arange(256 * 3, dtype=np.uint16).reshape(16, 16, 3).astype(np.uint8)
    frame[0, 0] = (0, 128, 255)
    first, second = tmp_path / f"a{fmt.suffix}", tmp_path / f"b{fmt.suffix}"
    write_frame(fmt, frame, first)
    write_frame(fmt, frame, second)
    assert first.read_bytes() == second.read_bytes()
    assert np.array_equal(read_8bit(fmt, first), frame)
    if fmt.suffix == ".png":
        wide = cv2.imread(str(first), cv2.IMREAD_UNCHANGED)
        wide[3, 3, 0] += 1
        cv2.imwrite(str(first), wide)
    else:
        with OpenEXR.File(str(first)) as exr:
            header, pixels = dict(exr.header()), exr.channels()["RGB"].pixels.copy()
        assert pixels.dtype == (np.float16 if name == "exr" else np.float32)
        pixels[3, 3, 0] = pixels.dtype.type(0.5)
        with OpenEXR.File(header, {"RGB": pixels}) as exr:
            exr.write(str(first))
    with pytest.raises(ValueError, match="edited"):
        read_8bit(fmt, first)


def test_a_sequence_never_takes_a_named_deliverys_folder(tmp_path):
    """A delivery may be named like a sequence folder once was (`s01e01_png`): its signed video stays, and the
    sequence goes to `s01e01.png-sequence/` ('.' occurs in no id)."""
    spec_data = small_spec(1)
    spec_data["deliveries"] = {"s01e01_png": {"crf": 30}, "s01e01_exr": {"crf": 31}}
    spec = write_spec(tmp_path / "show", spec_data)
    code, out = cli("render", str(spec), "--frames-out", "png", "--actor", "tester")
    assert code == 0, out
    for name in ("s01e01_png", "s01e01_exr"):
        assert (renders(spec) / name / "s01e01.mp4").is_file(), name
    assert (renders(spec) / "s01e01.png-sequence" / MANIFEST).is_file()


def test_something_in_the_sequences_place_that_is_no_sequence_is_said_and_left_alone(shows):
    blocking = renders(shows["b"]) / "s01e01.exr-float-sequence"
    blocking.mkdir()
    (blocking / "notes.txt").write_text("mine", encoding="utf-8")
    try:
        code, out = cli("render", str(shows["b"]), "--frames-out", "exr-float", "--actor", "tester")
        assert code == 2 and "Traceback" not in out, out
        assert "s01e01.exr-float-sequence is in the way and is not a frame sequence (no manifest.json)" in out
        assert (blocking / "notes.txt").read_text(encoding="utf-8") == "mine"
        assert not [p for p in blocking.parent.iterdir() if p.name.startswith(".s01e01.exr-float-sequence.")]
    finally:
        shutil.rmtree(blocking)


def test_shots_whose_ids_joined_with_underscores_agree_get_folders_and_files_of_their_own():
    from types import SimpleNamespace

    from reelforge.deliver.sequence import frame_file, shot_folder
    from reelforge.media.sequence import FRAME_FORMATS

    one = SimpleNamespace(scene_id="x_y", shot_id="z", take=None)
    two = SimpleNamespace(scene_id="x", shot_id="y_z", take=None)
    assert shot_folder(one) != shot_folder(two)
    assert frame_file(one, "s01e01", 1001, FRAME_FORMATS["png"]) == "x_y.z/s01e01.x_y.z.1001.png"
    assert frame_file(two, "s01e01", 1001, FRAME_FORMATS["png"]) == "x.y_z/s01e01.x.y_z.1001.png"


def test_a_full_disk_during_an_exr_write_is_said_as_no_space_of_the_sequence_folder(shows, monkeypatch):
    """OpenEXR reports a failed write as RuntimeError text: it becomes ENOSPC about the folder the user knows,
    which `reelforge` says in one line (exit 3), not an internal error naming the hidden partial folder."""
    import errno

    import reelforge.media.sequence as media

    class FullDisk:
        def __init__(self, *args):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, path):
            raise RuntimeError(f"Cannot write image file \"{path}\". No space left on device")

    monkeypatch.setattr(media.OpenEXR, "File", FullDisk)
    with pytest.raises(OSError) as failure:
        media.write_exr(np.zeros((2, 2, 3), np.uint8), Path("frame.exr"))
    assert failure.value.errno == errno.ENOSPC and failure.value.filename == "frame.exr"
    with pytest.raises(OSError) as failure:  # in this process; `reelforge` says fault_message's line (exit 3)
        cli("render", str(shows["b"]), "--frames-out", "exr-float", "--actor", "tester")
    folder = renders(shows["b"]) / "s01e01.exr-float-sequence"
    assert failure.value.errno == errno.ENOSPC and failure.value.filename == str(folder)
    assert fault_message(failure.value).startswith(f"no space left on the disk writing {folder}: free some space")
    assert not folder.exists() and not [p for p in folder.parent.iterdir() if ".exr-float-sequence." in p.name]


def _production_beside(shows, root: Path, series: str | None = None, store: bool = False) -> Path:
    """A production signing under production a's chain (as several productions share a studio's), with its own
    series id (or a's) and an empty frame store (or none)."""
    data = json.loads(shows["a"].read_text(encoding="utf-8"))
    if series is not None:
        data["series"]["id"] = series
    spec = write_spec(root, data)
    shutil.copytree(shows["a"].parent / ".reelforge" / "identity", root / ".reelforge" / "identity")
    if store:
        (root / ".reelforge" / "frames").mkdir()
    return spec


def test_a_sequence_of_another_production_under_the_same_chain_is_not_verified(shows, tmp_path):
    other = _production_beside(shows, tmp_path / "other", series="another-show")
    code, out = cli("verify", str(renders(shows["a"]) / "s01e01.png-sequence"), "--production", str(other))
    assert code == 1, out
    failed = [line for line in out.splitlines() if "FAILED" in line]
    series = json.loads(shows["a"].read_text(encoding="utf-8"))["series"]["id"]
    assert len(failed) == 1 and f"manifest.json is of production '{series}', not 'another-show'" in failed[0], out


def test_verified_says_when_no_pixel_was_compared_because_the_store_no_longer_holds_the_frames(shows, tmp_path):
    emptied = _production_beside(shows, tmp_path / "emptied", store=True)
    code, out = cli("verify", str(renders(shows["a"]) / "s01e01.png-sequence"), "--production", str(emptied))
    assert code == 0, out
    (verified,) = [line for line in out.splitlines() if line.startswith("VERIFIED")]
    assert "pixels not compared: the store no longer holds these frames" in verified
