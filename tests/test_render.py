"""End-to-end rendering: determinism across processes, reuse, frame ranges, corruption, resume."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from conftest import cli, run_cli, shorten, small_spec, stream_sha, write_spec

from reelforge.media.yuv import rgb_to_yuv420
from reelforge.store.frames import FrameStore
from reelforge.store.paths import ProductionPaths


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifests(spec: Path) -> dict[str, list[str]]:
    """shot path → frame hashes, from the production's finished manifests."""
    found = {}
    for manifest in (spec.parent / ".reelforge" / "jobs").rglob("manifest.json"):
        data = json.loads(manifest.read_text())
        found[data["job"]["shot_path"]] = data["frames"]
    return found


def renders(spec: Path) -> list[dict]:
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM renders ORDER BY id")]


def test_two_processes_give_identical_mp4_and_frames(tmp_path: Path):
    a = write_spec(tmp_path / "a", small_spec())
    b = write_spec(tmp_path / "b", small_spec())
    run_cli("render", str(a))
    run_cli("render", str(b))
    mp4_a, mp4_b = a.parent / "renders" / "s01e01.mp4", b.parent / "renders" / "s01e01.mp4"
    assert stream_sha(mp4_a) == stream_sha(mp4_b)
    assert manifests(a) == manifests(b)
    assert len(manifests(a)) == 3


def test_delivered_file_is_1080p_h264_bt709_with_every_frame(small_production: Path):
    run_cli("render", str(small_production))
    with av.open(str(small_production.parent / "renders" / "s01e01.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 1920, 1080)
        assert stream.average_rate == 24
        assert stream.codec_context.color_primaries == 1 and stream.codec_context.colorspace == 1
        decoded = list(container.decode(stream))
    assert len(decoded) == 24


def test_decoded_video_is_close_to_the_stored_frames(small_production: Path):
    """The MP4 shows the rendered frames (lossy, so compared in YUV with a PSNR floor)."""
    run_cli("render", str(small_production))
    first_shot = manifests(small_production)["s01e01/sc01/sh01"]
    stored = FrameStore(ProductionPaths.for_spec(small_production).frames).get(first_shot[0])
    with av.open(str(small_production.parent / "renders" / "s01e01.mp4")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="yuv420p")
    error = frame.astype(np.float64) - rgb_to_yuv420(stored).astype(np.float64)
    psnr = 10 * np.log10(255**2 / np.mean(error**2))
    assert psnr > 35


def test_same_production_rerender_reuses_every_shot_with_same_bytes(small_production: Path, tmp_path: Path):
    run_cli("render", str(small_production))
    first = stream_sha(small_production.parent / "renders" / "s01e01.mp4")
    out = tmp_path / "fresh-out"
    result = run_cli("render", str(small_production), "--out", str(out))
    assert stream_sha(out / "s01e01.mp4") == first
    last = renders(small_production)[-1]
    assert (last["shots_rendered"], last["shots_reused"]) == (0, 3)
    assert "s01e01.mp4" in result.stdout


def test_editing_one_shot_rerenders_only_that_shot(small_production: Path):
    run_cli("render", str(small_production))
    before = manifests(small_production)
    spec = json.loads(small_production.read_text())
    spec["episodes"][0]["scenes"][0]["shots"][1]["prompt"] = "Mara and Theo argue by the crates"
    small_production.write_text(json.dumps(spec))
    run_cli("render", str(small_production))
    last = renders(small_production)[-1]
    assert (last["shots_rendered"], last["shots_reused"]) == (1, 2)
    after = manifests(small_production)
    assert after["s01e01/sc01/sh01"] == before["s01e01/sc01/sh01"]
    assert after["s01e01/sc02/sh01"] == before["s01e01/sc02/sh01"]


def test_frame_range_rerender_matches_full_render(small_production: Path):
    run_cli("render", str(small_production))
    result = run_cli("render", str(small_production), "--shot", "s01e01/sc01/sh01", "--frames", "2:6")
    assert "match the full render" in result.stdout
    full = manifests(small_production)["s01e01/sc01/sh01"]
    last = renders(small_production)[-1]
    with sqlite3.connect(small_production.parent / ".reelforge" / "catalog.sqlite") as db:
        hashes, first = db.execute("SELECT frame_hashes_json, first_frame FROM render_shots WHERE render_id=?",
                                   (last["id"],)).fetchone()
    assert first == 2
    assert json.loads(hashes) == full[2:6]


def test_frame_range_before_full_render_renders_the_same_frames(tmp_path: Path):
    """A range rendered first, in its own production, equals those frames of a later full render."""
    a = write_spec(tmp_path / "a", small_spec())
    run_cli("render", str(a), "--shot", "s01e01/sc01/sh01", "--frames", "5:8")
    run_cli("render", str(a))
    with sqlite3.connect(a.parent / ".reelforge" / "catalog.sqlite") as db:
        hashes = json.loads(db.execute("SELECT frame_hashes_json FROM render_shots ORDER BY render_id LIMIT 1").fetchone()[0])
    assert hashes == manifests(a)["s01e01/sc01/sh01"][5:8]


def test_verify_proves_an_untouched_render(small_production: Path):
    run_cli("render", str(small_production))
    result = run_cli("verify", str(small_production.parent / "renders" / "s01e01.mp4"))
    assert "VERIFIED" in result.stdout
    assert "8/8 identical" in result.stdout


def test_verify_a_single_shot(small_production: Path):
    run_cli("render", str(small_production))
    result = run_cli("verify", "s01e01/sc02/sh01", "--production", str(small_production))
    assert "s01e01/sc02/sh01" in result.stdout and "VERIFIED" in result.stdout
    assert "s01e01/sc01/sh01" not in result.stdout


def test_verify_names_differing_frames_and_environment_fields(small_production: Path, monkeypatch):
    """Verified on a machine that renders otherwise (other frame bytes, other numpy): reported field by field.

    The machine is simulated in this process: frame 3 of a shot re-renders to other bytes, and the
    fingerprint reports another numpy (editing the recorded rows instead would be tampering, which
    verify refuses to answer from)."""
    from reelforge.app import verify as verify_module

    run_cli("render", str(small_production))
    real_frames, real_fingerprint = verify_module.produce_frames, verify_module.environment_fingerprint

    def other_frames(job, indices, backends, store=None, **kwargs):
        for index, digest, yuv in real_frames(job, indices, backends, store, **kwargs):
            yield index, ("0" * 64 if index == 3 and job.shot_path == "s01e01/sc01/sh02" else digest), yuv

    def other_fingerprint(*args, **kwargs):
        env = real_fingerprint(*args, **kwargs)
        return {**env, "packages": {**env["packages"], "numpy": "1.26.4"}}

    monkeypatch.setattr(verify_module, "produce_frames", other_frames)
    monkeypatch.setattr(verify_module, "environment_fingerprint", other_fingerprint)
    code, out = cli("verify", str(small_production.parent / "renders" / "s01e01.mp4"))
    assert code == 1, out
    assert "frame 3: recorded" in out and "re-rendered 0000000000000000" in out
    assert "packages.numpy: recorded" in out and "now '1.26.4'" in out
    assert "NOT VERIFIED" in out


def test_verify_detects_an_altered_file(small_production: Path):
    run_cli("render", str(small_production))
    mp4 = small_production.parent / "renders" / "s01e01.mp4"
    data = bytearray(mp4.read_bytes())
    data[len(data) // 2] ^= 0xFF
    mp4.write_bytes(bytes(data))
    result = run_cli("verify", str(mp4), check=False)
    assert result.returncode == 1
    assert "differ from the recorded render" in result.stdout


def test_corrupt_stored_frame_is_caught_by_verify_and_rerendered(small_production: Path):
    run_cli("render", str(small_production))
    mp4 = small_production.parent / "renders" / "s01e01.mp4"
    original = stream_sha(mp4)
    store = FrameStore(ProductionPaths.for_spec(small_production).frames)
    victim = manifests(small_production)["s01e01/sc01/sh01"][4]  # a push-in: every frame is unique
    data = bytearray(store.path(victim).read_bytes())
    data[-10] ^= 0x01
    store.path(victim).write_bytes(bytes(data))

    report = run_cli("verify", str(mp4), check=False)
    assert report.returncode == 1
    assert "stored copies of frames [4] are corrupt" in report.stdout
    assert "STORE DAMAGED" in report.stdout

    run_cli("render", str(small_production))
    last = renders(small_production)[-1]
    assert (last["shots_rendered"], last["shots_reused"]) == (1, 2)
    assert stream_sha(mp4) == original
    assert store.check(victim) and store.get(victim) is not None


def test_killed_render_resumes_to_the_same_bytes(tmp_path: Path):
    spec = small_spec()
    spec["episodes"][0]["scenes"] = spec["episodes"][0]["scenes"][:1]
    spec["episodes"][0]["scenes"][0]["shots"] = spec["episodes"][0]["scenes"][0]["shots"][:1]
    spec["episodes"][0]["scenes"][0]["shots"][0]["frames"] = 60
    killed = write_spec(tmp_path / "killed", spec)
    clean = write_spec(tmp_path / "clean", spec)

    process = subprocess.Popen([sys.executable, "-m", "reelforge.cli", "render", str(killed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    jobs = killed.parent / ".reelforge" / "jobs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        journals = list(jobs.rglob("journal")) if jobs.exists() else []
        if journals and journals[0].read_text().count("\n") >= 10:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed.parent / "renders" / "s01e01.mp4").exists()
    assert not list(jobs.rglob("manifest.json"))
    stale = killed.parent / ".reelforge" / "segments" / ".incoming-left-by-a-kill.mp4.tmp-abc"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half a segment")

    run_cli("render", str(killed))
    assert not stale.exists()
    run_cli("render", str(clean))
    assert stream_sha(killed.parent / "renders" / "s01e01.mp4") == stream_sha(clean.parent / "renders" / "s01e01.mp4")
    assert manifests(killed) == manifests(clean)


def test_torn_journal_line_is_ignored(small_production: Path):
    from reelforge.store.journal import JobFiles

    files = JobFiles(small_production.parent / "jobs", "ab" * 32)
    files.append_journal(0, "a" * 64)
    files.append_journal(1, "b" * 64)
    with open(files.journal_path, "a") as handle:
        handle.write("2 cccc")  # killed mid-write
    assert files.read_journal() == {0: "a" * 64, 1: "b" * 64}


def test_segments_join_seamlessly_at_25_and_30_fps(tmp_path: Path):
    """Episodes are shot segments joined by stream copy: timestamps stay continuous at every seam."""
    for fps in (25, 30):
        spec = small_spec()
        spec["delivery"]["fps"] = fps
        shots = spec["episodes"][0]["scenes"][0]["shots"]
        shorten(shots[0], 5), shorten(shots[1], 7)
        path = write_spec(tmp_path / f"fps{fps}", spec)
        run_cli("render", str(path))
        with av.open(str(path.parent / "renders" / "s01e01.mp4")) as container:
            stream = container.streams.video[0]
            times = [frame.pts * stream.time_base for frame in container.decode(stream)]
            assert stream.average_rate == fps
        assert len(times) == 20
        assert all(b - a == Fraction(1, fps) for a, b in zip(times, times[1:]))


def test_a_moved_production_with_kept_assets_still_verifies(tmp_path: Path):
    """LUTs and reference images are kept by content hash in .reelforge/assets: moving the folder breaks nothing."""
    import shutil

    showcase = Path(__file__).resolve().parents[1] / "examples" / "lantern-street"
    spec = small_spec()
    spec["look"] = {"lut": "warm.cube"}
    spec["characters"][0]["references"] = ["ines.png"]
    path = write_spec(tmp_path / "before", spec)
    shutil.copy(showcase / "luts" / "warm-fade.cube", path.parent / "warm.cube")
    shutil.copy(showcase / "refs" / "ines-front.png", path.parent / "ines.png")
    run_cli("render", str(path))
    moved = tmp_path / "after"
    path.parent.rename(moved)
    result = run_cli("verify", str(moved / "renders" / "s01e01.mp4"), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIED" in result.stdout and "Trusted" in result.stdout
