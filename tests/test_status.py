"""Each shot's status (never rendered / up to date / changed), thumbnail, cast and length; `reelforge status`."""

from __future__ import annotations

import io
import json
from contextlib import contextmanager

import numpy as np
import pytest
from conftest import cli_width, small_spec, write_spec
from conftest import shorten as conftest_shorten
from PIL import Image
from typer.testing import CliRunner

from reelforge.app.render_request import RenderRefused, RenderRequest, render_production
from reelforge.app.status import CHANGED, NEVER_RENDERED, UP_TO_DATE, production_status, shot_thumbnail, thumbnail_png
from reelforge.cli import app
from reelforge.store.catalog import Catalog
from reelforge.store.frames import FrameStore
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import RenderShot

SHOTS = ["s01e01/sc01/sh01", "s01e01/sc01/sh02", "s01e01/sc02/sh01"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The small production, rendered once (one episode of three 8-frame shots)."""
    spec = write_spec(tmp_path_factory.mktemp("status") / "show", small_spec())
    render_production(RenderRequest(spec, actor="ana"))
    return spec


@contextmanager
def edited(spec, change):
    """The spec with `change(raw)` applied, put back afterwards."""
    before = spec.read_bytes()
    raw = json.loads(before)
    change(raw)
    spec.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    try:
        yield
    finally:
        spec.write_bytes(before)


def recorded_shots(spec) -> dict[str, RenderShot]:
    catalog = Catalog(ProductionPaths.for_spec(spec).catalog)
    with catalog.session() as session:
        return {row.shot_path: row for row in session.query(RenderShot).order_by(RenderShot.render_id)}


def test_a_production_never_rendered_has_every_shot_never_rendered_and_creates_nothing(tmp_path):
    spec = write_spec(tmp_path / "fresh", small_spec())
    status = production_status(spec)
    assert [shot.path for shot in status.shots()] == SHOTS
    assert {shot.state for shot in status.shots()} == {NEVER_RENDERED}
    assert all(shot.thumbnail is None and shot.last_render is None for shot in status.shots())
    assert status.counts == {NEVER_RENDERED: 3, UP_TO_DATE: 0, CHANGED: 0}
    assert not (tmp_path / "fresh" / ".reelforge").exists()  # reading a status writes no state
    assert shot_thumbnail(spec, SHOTS[0]) is None


def test_the_tree_carries_titles_cast_names_and_lengths(tmp_path):
    raw = small_spec()
    raw["characters"][0]["name"] = {"en": "Mara", "fr": "Mara la gardienne"}
    raw["episodes"][0]["scenes"][1]["shots"][0].pop("frames")
    raw["episodes"][0]["scenes"][1]["shots"][0]["seconds"] = 0.5
    status = production_status(write_spec(tmp_path / "show", raw))
    assert status.title == "Harbor Lights"
    episode = status.episodes[0]
    assert (episode.id, episode.title) == ("s01e01", "The Lamp")
    assert [(scene.id, scene.title) for scene in episode.scenes] == [("sc01", "Dusk on the quay"), ("sc02", "The alley")]
    two = status.shot("s01e01/sc01/sh02")
    assert [(c.id, c.name) for c in two.cast] == [("mara", "Mara"), ("theo", "Theo")]
    alley = status.shot("s01e01/sc02/sh01")
    assert alley.frames == 12 and alley.seconds == 0.5  # 0.5 s at 24 fps
    assert status.shot("s01e01/sc09/sh01") is None


def test_after_a_render_every_shot_is_up_to_date_with_its_middle_frame_as_thumbnail(rendered):
    status = production_status(rendered)
    recorded = recorded_shots(rendered)
    store = FrameStore(ProductionPaths.for_spec(rendered).frames)
    for shot in status.shots():
        assert shot.state == UP_TO_DATE and shot.label == "up to date"
        row = recorded[shot.path]
        assert shot.job_key == row.job_key == shot.last_render.job_key
        assert shot.thumbnail == row.frame_hashes[len(row.frame_hashes) // 2]
        assert store.has(shot.thumbnail)
        assert shot_thumbnail(rendered, shot.path) == shot.thumbnail
    assert status.counts == {NEVER_RENDERED: 0, UP_TO_DATE: 3, CHANGED: 0}


def test_a_spec_change_marks_only_that_shot_changed_and_names_what_moved(rendered):
    def relight(raw):
        raw["episodes"][0]["scenes"][0]["shots"][1]["lighting"] = {"preset": "neon-night"}

    with edited(rendered, relight):
        status = production_status(rendered)
        states = {shot.path: shot.state for shot in status.shots()}
        assert states == {SHOTS[0]: UP_TO_DATE, SHOTS[1]: CHANGED, SHOTS[2]: UP_TO_DATE}
        changed = status.shot(SHOTS[1])
        assert changed.label == "spec changed"
        assert changed.changed_fields == ("lighting",)  # what was edited, not the prompt it rewrites
        assert set(changed.changed_job_fields) == {"lighting", "prompt"}  # the derived job fields, for details
        assert changed.job_key != changed.last_render.job_key
        assert changed.thumbnail == changed.last_render.thumbnail  # the last render's picture until re-rendered
    assert production_status(rendered).shot(SHOTS[1]).state == UP_TO_DATE  # the same spec again: up to date


def test_a_later_shot_render_is_the_one_that_counts(rendered):
    def shorten(raw):
        conftest_shorten(raw["episodes"][0]["scenes"][1]["shots"][0], 6)

    with edited(rendered, shorten):
        render_production(RenderRequest(rendered, shot=SHOTS[2], actor="ana"))
        shot = production_status(rendered).shot(SHOTS[2])
        assert shot.state == UP_TO_DATE and shot.last_render.kind == "shot"
        assert len(shot.last_render.frame_hashes) == 6
        assert shot.thumbnail == shot.last_render.frame_hashes[3]
    # back to 8 frames: the latest render (6 frames) no longer matches, until the shot renders again
    assert production_status(rendered).shot(SHOTS[2]).state == CHANGED
    render_production(RenderRequest(rendered, shot=SHOTS[2], actor="ana"))
    assert production_status(rendered).shot(SHOTS[2]).state == UP_TO_DATE


def test_the_thumbnail_is_the_stored_frame_scaled_to_320_pixels_wide(rendered):
    digest = shot_thumbnail(rendered, SHOTS[0])
    png = thumbnail_png(rendered, digest)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (320, 180)
    frame = FrameStore(ProductionPaths.for_spec(rendered).frames).get(digest)
    expected = np.asarray(Image.fromarray(frame).resize((320, 180), Image.Resampling.LANCZOS))
    assert np.array_equal(np.asarray(image.convert("RGB")), expected)
    assert thumbnail_png(rendered, "0" * 64) is None  # not in the store


def test_a_spec_that_does_not_load_is_refused_with_its_problems(tmp_path):
    broken = write_spec(tmp_path / "broken", {"format": "reelforge/1"})
    with pytest.raises(RenderRefused) as refused:
        production_status(broken)
    assert "$.series" in str(refused.value)


def test_reelforge_status_prints_each_shot_and_exits_2_on_a_bad_spec(rendered, tmp_path):
    runner = CliRunner()
    with cli_width(200):  # in-process: the CLI's console was sized at import
        result = runner.invoke(app, ["status", str(rendered)], env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert result.exit_code == 0, result.output
        for path in SHOTS:
            line = next(line for line in result.output.splitlines() if path in line)
            assert "up to date" in line
        assert "Mara, Theo" in result.output
        fresh = write_spec(tmp_path / "fresh", small_spec())
        result = runner.invoke(app, ["status", str(fresh)], env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert result.exit_code == 0 and "3 never rendered" in result.output
        broken = write_spec(tmp_path / "broken", {"format": "reelforge/1"})
        result = runner.invoke(app, ["status", str(broken)], env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert result.exit_code == 2 and "$.series" in result.output
        assert runner.invoke(app, ["status", str(tmp_path / "nowhere.json")]).exit_code == 2


def test_a_change_outside_the_shot_a_style_file_or_a_character_marks_it_changed(tmp_path):
    """The job key covers what the shot uses, wherever it is written: a style family's file beside the
    spec, a character's description. Either edit makes the shot 'spec changed'."""
    from importlib import resources

    family = json.loads((resources.files("reelforge") / "styles" / "watercolor.json").read_text(encoding="utf-8"))
    family["id"] = "harbor-wash"
    raw = small_spec()
    raw["episodes"][0]["scenes"][0]["shots"][0]["style"] = {"preset": "harbor-wash"}
    spec = write_spec(tmp_path / "show", raw)
    style_file = spec.parent / "styles" / "harbor-wash.json"
    style_file.parent.mkdir()
    style_file.write_text(json.dumps(family), encoding="utf-8")
    render_production(RenderRequest(spec, shot=SHOTS[0], actor="ana"))
    assert production_status(spec).shot(SHOTS[0]).state == UP_TO_DATE

    style_file.write_text(json.dumps({**family, "prompt": family["prompt"] + ", wet paper"}), encoding="utf-8")
    shot = production_status(spec).shot(SHOTS[0])
    assert shot.state == CHANGED and shot.changed_fields == ("style family harbor-wash",)
    style_file.write_text(json.dumps(family), encoding="utf-8")
    assert production_status(spec).shot(SHOTS[0]).state == UP_TO_DATE

    def scarf(raw):
        raw["characters"][0]["description"] += " with a red scarf"  # mara is in sh01's cast

    with edited(spec, scarf):
        shot = production_status(spec).shot(SHOTS[0])
        assert shot.state == CHANGED and shot.changed_fields == ("character mara",)
        assert "cast" in shot.changed_job_fields  # the job's identity tokens: kept for the details
        assert production_status(spec).shot(SHOTS[1]).state == NEVER_RENDERED  # its episode never rendered


def test_a_shot_added_after_its_episode_was_rendered_is_never_rendered(rendered):
    def add_shot(raw):
        raw["episodes"][0]["scenes"][1]["shots"].append(
            {"id": "sh09", "prompt": "The alley, empty", "frames": 8, "cast": []})

    with edited(rendered, add_shot):
        status = production_status(rendered)
        added = status.shot("s01e01/sc02/sh09")
        assert added.state == NEVER_RENDERED and added.last_render is None and added.thumbnail is None
        assert shot_thumbnail(rendered, added.path) is None
        assert status.shot(SHOTS[0]).state == UP_TO_DATE  # its rendered neighbours keep their status
        assert status.counts[NEVER_RENDERED] == 1


def test_a_frame_range_of_part_of_a_shot_does_not_make_it_up_to_date(rendered):
    def relight(raw):
        raw["episodes"][0]["scenes"][0]["shots"][0]["lighting"] = {"preset": "blue-hour"}

    with edited(rendered, relight):
        render_production(RenderRequest(rendered, shot=SHOTS[0], frames=(2, 5), actor="ana"))
        shot = production_status(rendered).shot(SHOTS[0])
        assert shot.state == CHANGED  # frames 2–4 are new; the whole shot was last rendered with the old lighting
        assert shot.last_render.first_frame == 0 and len(shot.last_render.frame_hashes) == 8
        render_production(RenderRequest(rendered, shot=SHOTS[0], actor="ana"))  # the whole shot: now it is
        assert production_status(rendered).shot(SHOTS[0]).state == UP_TO_DATE
    render_production(RenderRequest(rendered, shot=SHOTS[0], actor="ana"))  # leave the module's production as found


def test_a_shot_only_ever_rendered_in_part_is_never_rendered(tmp_path):
    spec = write_spec(tmp_path / "show", small_spec())
    render_production(RenderRequest(spec, shot=SHOTS[1], frames=(0, 3), actor="ana"))
    assert production_status(spec).shot(SHOTS[1]).state == NEVER_RENDERED


def test_what_changed_names_inherited_edits_as_such_and_hides_those_a_shot_overrides(rendered):
    def relight_scene(raw):
        scene = raw["episodes"][0]["scenes"][0]
        scene["lighting"] = {"preset": "neon-night"}
        scene["shots"][1]["lighting"] = {"preset": "overcast"}  # sh02 sets its own: the scene's is not its edit

    with edited(rendered, relight_scene):
        status = production_status(rendered)
        assert status.shot(SHOTS[0]).changed_fields == ("lighting (scene sc01)",)
        assert status.shot(SHOTS[1]).changed_fields == ("lighting",)
        assert status.shot(SHOTS[2]).state == UP_TO_DATE


def test_reelforge_status_says_only_the_field_edited(rendered):
    def relight(raw):
        raw["episodes"][0]["scenes"][0]["shots"][1]["lighting"] = {"preset": "neon-night"}

    with edited(rendered, relight), cli_width(200):
        result = CliRunner().invoke(app, ["status", str(rendered)], env={"COLUMNS": "200", "NO_COLOR": "1"})
    line = next(line for line in result.output.splitlines() if SHOTS[1] in line)
    assert "lighting" in line and "prompt" not in line
