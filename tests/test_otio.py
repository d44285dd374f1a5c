"""`reelforge export otio`: the latest render of an episode as an OpenTimelineIO timeline.

The timeline is read back with opentimelineio and checked against the catalog.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import opentimelineio as otio
import pytest
from conftest import copy_production, run_cli, small_spec, write_spec


def otio_spec() -> dict:
    spec = small_spec()
    spec["languages"] = ["en", "fr"]
    first, second = spec["episodes"][0]["scenes"]
    first["title"] = {"en": "Dusk on the quay", "fr": "Crépuscule sur le quai"}
    first["brief"] = {"en": "They meet", "fr": "Ils se retrouvent"}
    second["title"] = {"en": "The alley", "fr": "La ruelle"}
    return spec


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> Path:
    spec = write_spec(tmp_path_factory.mktemp("otio") / "show", otio_spec())
    run_cli("render", str(spec), "--languages", "fr")
    return spec


def catalog(spec: Path, query: str, *args) -> list[sqlite3.Row]:
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as db:
        db.row_factory = sqlite3.Row
        return db.execute(query, args).fetchall()


def picture_render(spec: Path) -> sqlite3.Row:
    return catalog(spec, "SELECT * FROM renders WHERE output_path LIKE '%s01e01.mp4' ORDER BY id DESC LIMIT 1")[0]


def export(spec: Path, *args: str) -> otio.schema.Timeline:
    target = spec.parent / f"cut{len(args)}.otio"
    run_cli("export", "otio", "s01e01", "--production", str(spec), "-o", str(target), *args)
    return otio.adapters.read_from_file(str(target))


def test_timeline_has_a_clip_per_shot_matching_the_catalog(production):
    timeline = export(production)
    render = picture_render(production)
    shots = catalog(production, "SELECT * FROM render_shots WHERE render_id = ? ORDER BY position", render["id"])
    (track,) = timeline.video_tracks()
    clips = list(track.find_clips())
    assert [c.name for c in clips] == [s["shot_path"] for s in shots]
    assert timeline.duration() == otio.opentime.RationalTime(render["frames"], 24)
    start = 0
    for clip, shot in zip(clips, shots, strict=True):
        assert clip.source_range == otio.opentime.TimeRange(otio.opentime.RationalTime(start, 24),
                                                            otio.opentime.RationalTime(shot["frame_count"], 24))
        assert clip.media_reference.target_url == Path(render["output_path"]).as_uri()
        assert clip.media_reference.available_range.duration.value == render["frames"]
        job = json.loads(catalog(production, "SELECT job_json FROM jobs WHERE key = ?", shot["job_key"])[0][0])
        meta = clip.metadata["reelforge"]
        assert (meta["job_key"], meta["seed"], meta["backend"], meta["frames"], meta["render_id"]) == (
            shot["job_key"], str(job["seed"]), "previz", shot["frame_count"], render["id"])
        assert meta["checkpoint_sha256"] is None  # previz has no checkpoint
        assert f"shot:{shot['shot_path']}@1" in meta["versions"]  # the entity versions the render used
        start += shot["frame_count"]
    commit = catalog(production, "SELECT commit_id FROM render_commits WHERE render_id = ?", render["id"])[0][0]
    assert timeline.metadata["reelforge"]["commit"]["commit"] == commit
    assert timeline.metadata["reelforge"]["unsigned_sha256"] == catalog(
        production, "SELECT unsigned_sha256 FROM deliveries WHERE render_id = ?", render["id"])[0][0]


def test_scene_starts_are_markers_named_by_the_scene_title(production):
    (track,) = export(production).video_tracks()
    assert [(m.name, m.marked_range.start_time.value) for m in track.markers] == [
        ("Dusk on the quay", 0), ("The alley", 16)]
    assert track.markers[0].metadata["reelforge"]["brief"] == "They meet"
    assert track.markers[0].metadata["reelforge"]["version"] == "scene:s01e01/sc01@1"


def test_language_delivery_timeline_points_at_it_and_names_scenes_in_it(production):
    timeline = export(production, "--language", "fr")
    (track,) = timeline.video_tracks()
    assert {c.media_reference.target_url for c in track.find_clips()} == {
        (production.parent / "renders" / "s01e01.fr.mp4").resolve().as_uri()}
    assert [m.name for m in track.markers] == ["Crépuscule sur le quai", "La ruelle"]
    assert timeline.metadata["reelforge"]["picture_render_id"] == picture_render(production)["id"]


def test_export_follows_the_latest_render(production, tmp_path):
    show = tmp_path / "show"
    copy_production(production.parent, show)
    spec = show / "production.json"
    data = json.loads(spec.read_text(encoding="utf-8"))
    data["episodes"][0]["scenes"][1]["shots"][0]["prompt"] = "Theo waits in the alley"
    spec.write_text(json.dumps(data), encoding="utf-8")
    run_cli("render", str(spec))
    clips = list(export(spec).find_clips())
    latest = picture_render(spec)
    assert {c.metadata["reelforge"]["render_id"] for c in clips} == {latest["id"]}
    keys = [r["job_key"] for r in catalog(spec, "SELECT job_key FROM render_shots WHERE render_id = ? "
                                                "ORDER BY position", latest["id"])]
    assert [c.metadata["reelforge"]["job_key"] for c in clips] == keys
    assert clips[2].metadata["reelforge"]["reused"] is False and clips[0].metadata["reelforge"]["reused"] is True


def test_unknown_episode_or_language_is_a_clear_error(production):
    missing = run_cli("export", "otio", "s09e09", "--production", str(production), check=False)
    assert missing.returncode == 2 and "no render of episode 's09e09'" in missing.stderr
    undelivered = run_cli("export", "otio", "s01e01", "--language", "ja", "--production", str(production), check=False)
    assert undelivered.returncode == 2 and "has no 'ja' delivery" in undelivered.stderr
    assert "Traceback" not in missing.stderr + undelivered.stderr


def test_language_delivery_made_with_an_earlier_render_of_the_same_picture_is_exported(production, tmp_path):
    """Languages are delivered one at a time: a later render (same picture) must not hide the earlier 'fr'."""

    show = tmp_path / "show"
    copy_production(production.parent, show)
    spec = show / "production.json"
    run_cli("render", str(spec), "--languages", "en")  # a newer picture render, same frames, no 'fr'
    timeline = export(spec, "--language", "fr")
    (track,) = timeline.video_tracks()
    fr = catalog(spec, "SELECT render_id, picture_render_id FROM localized_deliveries WHERE language = 'fr'")
    assert len(fr) == 1
    assert {c.media_reference.target_url for c in track.find_clips()} == {(show / "renders" / "s01e01.fr.mp4").as_uri()}
    assert {c.metadata["reelforge"]["render_id"] for c in track.find_clips()} == {fr[0]["render_id"]}
    assert timeline.metadata["reelforge"]["picture_render_id"] == fr[0]["picture_render_id"]
    assert [m.name for m in track.markers] == ["Crépuscule sur le quai", "La ruelle"]
    # once the picture changes, the old 'fr' file no longer carries the latest cut: refused
    data = json.loads(spec.read_text(encoding="utf-8"))
    data["episodes"][0]["scenes"][1]["shots"][0]["prompt"] = "Theo waits in the alley"
    spec.write_text(json.dumps(data), encoding="utf-8")
    run_cli("render", str(spec))
    stale = run_cli("export", "otio", "s01e01", "--language", "fr", "--production", str(spec), check=False)
    assert stale.returncode == 2 and "has no 'fr' delivery" in stale.stderr
