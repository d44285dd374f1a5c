"""Edge cases a studio hits in practice: odd folder names, symlinks, ranges, limits, code changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli, small_spec, write_spec

from reelforge.media.encode import EncodeSettings
from reelforge.plan.code_hash import ENCODE_ENTRIES, CodeGraph
from reelforge.spec.load import validate_file
from reelforge.spec.model import Shot


def test_folder_names_with_url_characters_keep_the_catalog_inside(tmp_path: Path):
    spec = write_spec(tmp_path / "take?2 %41", small_spec())
    run_cli("render", str(spec))
    assert (spec.parent / ".reelforge" / "catalog.sqlite").exists()
    assert "VERIFIED" in run_cli("verify", str(spec.parent / "renders" / "s01e01.mp4")).stdout


def test_symlinked_spec_renders_beside_the_link(tmp_path: Path):
    real = write_spec(tmp_path / "real", small_spec())
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "production.json").symlink_to(real)
    run_cli("render", str(tmp_path / "link" / "production.json"), "--episode", "s01e01")
    assert (tmp_path / "link" / "renders" / "s01e01.mp4").exists()
    assert not (tmp_path / "real" / "renders").exists()


def test_verify_frames_outside_the_shot_is_bad_input(small_production: Path):
    run_cli("render", str(small_production))
    result = run_cli("verify", str(small_production.parent / "renders" / "s01e01.mp4"), "--frames", "100:200",
                     check=False)
    assert result.returncode == 2 and "outside" in result.stderr


def test_range_that_differs_from_the_full_render_exits_1(small_production: Path):
    run_cli("render", str(small_production))
    manifest = next(m for m in (small_production.parent / ".reelforge" / "jobs").rglob("manifest.json")
                    if json.loads(m.read_text())["job"]["shot_path"] == "s01e01/sc01/sh01")
    data = json.loads(manifest.read_text())
    data["frames"][1] = "f" * 64  # as if the full render had been made in another environment
    manifest.write_text(json.dumps(data))
    result = run_cli("render", str(small_production), "--shot", "s01e01/sc01/sh01", "--frames", "0:3", check=False)
    assert result.returncode == 1 and "differ from the full render" in result.stdout


def test_out_pointing_at_a_file_is_refused_before_rendering(small_production: Path, tmp_path: Path):
    (tmp_path / "afile").write_text("x")
    result = run_cli("render", str(small_production), "--out", str(tmp_path / "afile"), check=False)
    assert result.returncode == 2 and "is a file" in result.stderr
    assert not (small_production.parent / ".reelforge" / "jobs").exists()


def test_shot_filtered_out_by_episode_is_named_as_such(small_production: Path):
    spec = small_spec()
    spec["episodes"].append({**spec["episodes"][0], "id": "s01e02"})
    path = write_spec(small_production.parent, spec)
    result = run_cli("render", str(path), "--episode", "s01e01", "--shot", "s01e02/sc01/sh01", check=False)
    assert result.returncode == 2 and "not in the episodes chosen" in result.stderr


@pytest.mark.parametrize("field, value", [("frames", 10**15), ("seconds", 1e300)])
def test_absurd_shot_lengths_are_validation_errors(tmp_path: Path, field: str, value):
    spec = small_spec()
    shot = spec["episodes"][0]["scenes"][0]["shots"][0]
    shot.pop("frames")
    shot[field] = value
    problems = validate_file(write_spec(tmp_path, spec))
    assert [p.path for p in problems] == [f"$.episodes[0].scenes[0].shots[0].{field}"]


def test_seconds_round_to_the_nearest_frame_halves_up():
    assert Shot(id="a", prompt="p", seconds=0.1).frame_count(25) == 3  # 2.5 → 3
    assert Shot(id="a", prompt="p", seconds=0.3).frame_count(25) == 8  # 7.5 → 8
    assert Shot(id="a", prompt="p", seconds=1.02).frame_count(24) == 24  # 24.48 → 24


def test_text_missing_in_the_source_language_is_an_error(tmp_path: Path):
    spec = small_spec()
    spec["episodes"][0]["scenes"][0]["shots"][0]["prompt"] = {"fr": "Mara marche"}
    problems = validate_file(write_spec(tmp_path, spec))
    assert [(p.path, "source language 'en'" in p.message) for p in problems] == [
        ("$.episodes[0].scenes[0].shots[0].prompt", True)]


def test_encode_code_is_part_of_the_segment_key(monkeypatch):
    """Changing RGB→YUV or encoder code must re-encode segments, not reuse stale ones."""
    from reelforge.engine import shot

    # RGB→YUV, the encoder and what they need; never the watermark, subtitles or contact sheets (also in media/),
    # which act on deliveries (verify re-creates those) and must not re-encode every segment.
    assert set(CodeGraph().closure(ENCODE_ENTRIES)) == {"reelforge", "reelforge.media", "reelforge.media.encode",
                                                        "reelforge.media.yuv", "reelforge.spec", "reelforge.spec.formats", "reelforge.store",
                                                        "reelforge.store.atomic"}
    settings = EncodeSettings(1920, 1080, 24, 18, "faster", 2)
    before = shot.segment_key(["0" * 64], settings)
    monkeypatch.setattr(shot, "encode_code_hash", lambda: "other encode code")
    assert shot.segment_key(["0" * 64], settings) != before
