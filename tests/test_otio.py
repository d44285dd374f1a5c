"""`reelforge export otio`: the latest render of an episode as an OpenTimelineIO timeline.

The timeline is read back with opentimelineio and checked against the catalog; its media links are
resolved as an NLE does (against the .otio file's folder) and the files opened with PyAV.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from fractions import Fraction
from pathlib import Path

import av
import opentimelineio as otio
import pytest
from conftest import copy_production, run_cli, small_spec, write_spec

from reelforge.store.hashing import file_sha256


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


def linked(otio_file: Path, url: str) -> Path:
    """A clip's media as an NLE finds it: a relative link resolved against the .otio file's folder."""
    path = Path(otio.url_utils.filepath_from_url(url))
    assert not path.is_absolute() and "://" not in url, f"{url} is not a relative link"
    return (otio_file.parent / path).resolve()


def deliver_master(spec: Path, name: str | None = "master", width: int | None = None) -> int:
    """Record a ProRes 422 HQ master of the latest H.264 picture render, as a render of the `name`d delivery
    (None: the main delivery's own .mov): the file is the picture's frames re-encoded with PyAV's prores_ks,
    the render row the picture's with the master's encode settings and the same shots. The id of the
    master's render."""
    picture = picture_render(spec)
    renders = spec.parent / "renders"
    target = renders / name / "s01e01.mov" if name else renders / "s01e01.mov"
    target.parent.mkdir(parents=True, exist_ok=True)
    with av.open(picture["output_path"]) as source, av.open(str(target), "w", format="mov") as out:
        stream = out.add_stream("prores_ks", rate=24)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv422p10le"
        stream.options = {"profile": "3"}  # HQ
        for index, frame in enumerate(source.decode(video=0)):
            frame = frame.reformat(format="yuv422p10le")
            frame.pts, frame.time_base = index, Fraction(1, 24)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    encode = {**json.loads(picture["encode_json"]), "format": "prores-422-hq", "bit_depth": 10, "chroma": "4:2:2",
              "codec": "prores_ks", "pix_fmt": "yuv422p10le"}
    if width is not None:
        encode["width"] = width
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as db:
        row = {**dict(zip(picture.keys(), picture)), "output_path": str(target.resolve()),
               "output_sha256": file_sha256(target), "encode_json": json.dumps(encode, sort_keys=True)}
        del row["id"]
        render_id = db.execute(f"INSERT INTO renders ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                               list(row.values())).lastrowid
        db.execute("INSERT INTO render_shots SELECT ?, position, shot_path, job_key, first_frame, frame_count, "
                   "frame_hashes_json, segment_sha256, reused FROM render_shots WHERE render_id = ?",
                   (render_id, picture["id"]))
        if name:
            name_render(db, render_id, name)
    return render_id


def name_render(db: sqlite3.Connection, render_id: int, name: str) -> None:
    """File a render under a named delivery, as `render` does for the spec's `deliveries` (the table is made
    here for catalogs from before named deliveries; reelforge's own schema creates it on open)."""
    db.execute("CREATE TABLE IF NOT EXISTS named_deliveries (render_id INTEGER PRIMARY KEY, name VARCHAR)")
    db.execute("INSERT INTO named_deliveries (render_id, name) VALUES (?, ?)", (render_id, name))


@pytest.fixture()
def mastered(production, tmp_path) -> tuple[Path, int]:
    """A copy of the production with a ProRes master delivered as `renders/master/s01e01.mov`, and its render id."""
    show = copy_production(production.parent, tmp_path / "show")
    spec = show / "production.json"
    return spec, deliver_master(spec)


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
        assert linked(production.parent / "cut0.otio", clip.media_reference.target_url) == Path(render["output_path"])
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
    assert {c.media_reference.target_url for c in track.find_clips()} == {"renders/s01e01.fr.mp4"}
    assert [m.name for m in track.markers] == ["Crépuscule sur le quai", "La ruelle"]
    assert timeline.metadata["reelforge"]["picture_render_id"] == picture_render(production)["id"]
    assert track.find_clips()[0].metadata["reelforge"]["media"]["codec"] == "libx264"


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
    assert {c.media_reference.target_url for c in track.find_clips()} == {"renders/s01e01.fr.mp4"}
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


def test_clips_link_to_the_delivered_master_relative_to_the_otio_file(mastered):
    spec, master = mastered
    show = spec.parent
    run_cli("export", "otio", "s01e01", "--production", str(spec))  # beside the main delivery: renders/s01e01.otio
    default = otio.adapters.read_from_file(str(show / "renders" / "s01e01.otio"))
    elsewhere = export(spec)  # show/cut0.otio
    frames = picture_render(spec)["frames"]
    for timeline, url in ((default, "master/s01e01.mov"), (elsewhere, "renders/master/s01e01.mov")):
        (track,) = timeline.video_tracks()
        clips = list(track.find_clips())
        assert {c.media_reference.target_url for c in clips} == {url}
        assert {c.media_reference.available_range.duration.value for c in clips} == {frames}
        for clip in clips:
            media = clip.metadata["reelforge"]["media"]
            assert (media["render_id"], media["delivery"], media["format"], media["codec"], media["bit_depth"],
                    media["chroma"], media["master"]) == (master, "master", "prores-422-hq", "prores_ks", 10,
                                                          "4:2:2", True)
        assert timeline.metadata["reelforge"]["media"]["target_url"] == url
        # the cut, scenes and jobs are still the main delivery's render
        assert timeline.metadata["reelforge"]["render_id"] == picture_render(spec)["id"]


def test_timeline_survives_moving_the_production(mastered, tmp_path):
    spec, _ = mastered
    show = spec.parent
    run_cli("export", "otio", "s01e01", "--production", str(spec))
    (show / "edit").mkdir()
    run_cli("export", "otio", "s01e01", "--production", str(spec), "-o", str(show / "edit" / "cut.otio"))
    run_cli("export", "otio", "s01e01", "--language", "fr", "--production", str(spec))
    moved = tmp_path / "elsewhere" / "moved-show"
    moved.parent.mkdir()
    shutil.move(show, moved)
    for name, codec in (("renders/s01e01.otio", "prores"), ("edit/cut.otio", "prores"),
                        ("renders/s01e01.fr.otio", "h264")):
        timeline = otio.adapters.read_from_file(str(moved / name))
        for clip in timeline.find_clips():
            media = linked(moved / name, clip.media_reference.target_url)
            assert media.is_relative_to(moved) and media.is_file()
            with av.open(str(media)) as container:
                stream = container.streams.video[0]
                assert stream.codec_context.name == codec
                assert sum(1 for _ in container.decode(stream)) >= clip.source_range.end_time_exclusive().value


def test_a_master_counts_only_while_it_holds_the_cut(mastered):
    spec, _ = mastered
    show = spec.parent

    def target() -> str:
        (track,) = export(spec).video_tracks()
        return track.find_clips()[0].media_reference.target_url

    assert target() == "renders/master/s01e01.mov"
    # a newer render of the same file with other frames: the file no longer holds the cut, so the older
    # record of it does not count either
    other = deliver_master(spec)
    with sqlite3.connect(show / ".reelforge" / "catalog.sqlite") as db:
        db.execute("UPDATE render_shots SET job_key = (SELECT job_key FROM render_shots WHERE render_id = ? "
                   "AND position = 0) WHERE render_id = ? AND position = 1", (other, other))
    assert target() == "renders/s01e01.mp4"
    deliver_master(spec, width=3840)  # a master of another canvas is another cut
    assert target() == "renders/s01e01.mp4"
    deliver_master(spec)
    assert target() == "renders/master/s01e01.mov"
    # a named delivery's render (a vertical cut) never becomes the timeline's picture or media
    vertical = deliver_master(spec, name="vertical")
    with sqlite3.connect(show / ".reelforge" / "catalog.sqlite") as db:
        db.execute("UPDATE renders SET encode_json = replace(encode_json, '\"prores-422-hq\"', '\"h264\"') "
                   "WHERE id = ?", (vertical,))
    timeline = export(spec)
    assert timeline.metadata["reelforge"]["render_id"] == picture_render(spec)["id"] != vertical
    assert timeline.find_clips()[0].media_reference.target_url == "renders/master/s01e01.mov"
    # the main delivery itself can be the master (its format a master format)
    deliver_master(spec, name=None)
    assert target() == "renders/s01e01.mov"
    (show / "renders" / "s01e01.mov").unlink()  # gone from disk: the newest other master that is there
    assert target() == "renders/master/s01e01.mov"
    # the picture changes (a new cut): the old master is not of it
    data = json.loads(spec.read_text(encoding="utf-8"))
    data["episodes"][0]["scenes"][1]["shots"][0]["prompt"] = "Theo waits in the alley"
    spec.write_text(json.dumps(data), encoding="utf-8")
    run_cli("render", str(spec))
    assert target() == "renders/s01e01.mp4"
