"""A cut that is never stale: an episode file against the spec (app/cut_status.py), `reelforge assemble`, and the
timeline strip's blocks (app/timeline.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import cli, small_spec, stream_sha, write_spec

from reelforge.app.cut_status import DROPPED, IN_CUT, MISSING, NEWER, NO_FILE, OUTDATED, UNRENDERED, UP_TO_DATE
from reelforge.app.render_request import RenderRefused, RenderRequest, render_production
from reelforge.app.review_status import shot_reviews
from reelforge.app.status import UP_TO_DATE as SHOT_UP_TO_DATE
from reelforge.app.status import production_status
from reelforge.app.timeline import episode_timeline
from reelforge.spec.load import load_production
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import DeliveryRecord, RenderRecord

EPISODE = "s01e01"
SHOTS = ["s01e01/sc01/sh01", "s01e01/sc01/sh02", "s01e01/sc02/sh01"]
EDITED = SHOTS[1]


FRAMES = 2


@pytest.fixture
def show(tmp_path) -> Path:
    """The small production (three 2-frame shots), its episode rendered once.

    Rendered afresh for each test rather than copied: a catalog records its files by absolute path, and
    the episode page (and so the cut) plays only a file inside the production that holds it.
    """
    spec = write_spec(tmp_path / "show", small_spec(frames=FRAMES))
    render_production(RenderRequest(spec, actor="ana"))
    return spec



def relight(spec: Path, preset: str = "neon-night") -> None:
    data = json.loads(spec.read_text())
    data["episodes"][0]["scenes"][0]["shots"][1]["lighting"] = {"preset": preset}
    spec.write_text(json.dumps(data, indent=2))


def cut_of(spec: Path):
    (episode,) = production_status(spec).episodes
    return episode.cut


def places(cut) -> dict[str, str]:
    return {shot.path: shot.state for shot in cut.shots}


def unsigned_of(spec: Path, render_id: int) -> str:
    with Catalog(ProductionPaths.for_spec(spec).catalog) as catalog, catalog.session() as session:
        return session.get(DeliveryRecord, render_id).unsigned_sha256


def last_render(spec: Path) -> RenderRecord:
    with Catalog(ProductionPaths.for_spec(spec).catalog) as catalog, catalog.session() as session:
        record = session.query(RenderRecord).order_by(RenderRecord.id.desc()).first()
        session.expunge(record)
        return record


# --------------------------------------------------------------------------- the rules


def test_a_freshly_rendered_episode_is_up_to_date_shot_by_shot(show):
    cut = cut_of(show)
    assert cut.state == UP_TO_DATE and cut.label == "cut up to date" and cut.reason == ""
    assert places(cut) == {path: IN_CUT for path in SHOTS}
    assert not cut.can_assemble  # nothing to bring up to date
    assert cut.file == show.parent / "renders" / "s01e01.mp4"


def test_a_production_never_rendered_has_no_file_and_creates_nothing(tmp_path):
    spec = write_spec(tmp_path / "fresh", small_spec(frames=FRAMES))
    cut = cut_of(spec)
    assert cut.state == NO_FILE and cut.render_id is None and cut.label == "not assembled yet"
    assert places(cut) == {path: MISSING for path in SHOTS}
    assert not cut.can_assemble and cut.to_render == tuple(SHOTS)
    assert not (tmp_path / "fresh" / ".reelforge").exists()


def test_a_shot_re_rendered_alone_outdates_the_cut_while_the_shot_itself_is_up_to_date(show):
    """The bug this fixes: every shot said up to date while the episode file still held the old version."""
    relight(show)
    render_production(RenderRequest(show, shot=EDITED, actor="ana"))
    status = production_status(show)
    assert status.shot(EDITED).state == SHOT_UP_TO_DATE  # the shot's own latest render is current …
    cut = status.episodes[0].cut
    assert cut.state == OUTDATED and cut.label == "cut outdated"  # … the episode file is not
    assert places(cut) == {SHOTS[0]: IN_CUT, EDITED: NEWER, SHOTS[2]: IN_CUT}
    assert cut.reason == "1 shot re-rendered since the cut (sc01/sh02)"
    assert cut.can_assemble  # the whole-shot render was kept in the store: a stream copy brings it in


def test_a_spec_change_not_rendered_yet_outdates_the_cut_and_needs_a_render_first(show):
    relight(show)
    cut = cut_of(show)
    assert cut.state == OUTDATED and places(cut)[EDITED] == UNRENDERED
    assert not cut.can_assemble and cut.to_render == (EDITED,)
    with pytest.raises(RenderRefused, match=f"{EDITED} has no render of the current spec; render it first"):
        render_production(RenderRequest(show, episodes=[EPISODE], actor="ana", assemble=True))


def test_a_range_of_part_of_a_shot_does_not_make_its_version_joinable(show):
    relight(show)
    render_production(RenderRequest(show, shot=EDITED, frames=(0, 1), actor="ana"))
    assert places(cut_of(show))[EDITED] == UNRENDERED


def test_the_same_version_rendered_again_outdates_nothing(show):
    render_production(RenderRequest(show, shot=EDITED, actor="ana"))  # the same key: the same frames
    assert cut_of(show).state == UP_TO_DATE


def test_a_newer_render_of_a_version_the_spec_no_longer_plans_outdates_nothing(show):
    """Tried, then undone: re-assembling would not bring that render into the cut, so it is not offered."""
    before = show.read_bytes()
    relight(show)
    render_production(RenderRequest(show, shot=EDITED, actor="ana"))
    show.write_bytes(before)
    assert cut_of(show).state == UP_TO_DATE


def test_a_shot_cut_from_the_spec_outdates_the_file_and_assembling_leaves_it_out(show):
    data = json.loads(show.read_text())
    data["episodes"][0]["scenes"][0]["shots"].pop(1)
    show.write_text(json.dumps(data, indent=2))
    cut = cut_of(show)
    assert cut.state == OUTDATED and places(cut)[EDITED] == DROPPED and cut.can_assemble
    code, output = cli("assemble", str(show), "--episode", EPISODE)
    assert code == 0, output
    assert cut_of(show).state == UP_TO_DATE and EDITED not in places(cut_of(show))


# --------------------------------------------------------------------------- re-assembling


def test_re_assembling_equals_a_full_render_of_the_episode_byte_for_byte(show, tmp_path):
    relight(show)
    render_production(RenderRequest(show, shot=EDITED, actor="ana"))
    outdated = cut_of(show)

    code, output = cli("assemble", str(show), "--episode", EPISODE, "--actor", "bo")
    assert code == 0, output
    record = last_render(show)
    assert (record.shots_rendered, record.shots_reused) == (0, 3)  # stream copy: nothing rendered
    cut = cut_of(show)
    assert cut.state == UP_TO_DATE and cut.render_id == record.id != outdated.render_id

    fresh = write_spec(tmp_path / "fresh", json.loads(show.read_text()))  # the same spec, rendered from nothing
    full = render_production(RenderRequest(fresh, actor="cy")).results[0]
    assert unsigned_of(show, record.id) == full.unsigned_sha256
    assert stream_sha(cut.file) == stream_sha(full.output)


def test_other_encode_settings_outdate_the_cut_and_assembling_re_encodes_it_like_a_render(show, tmp_path):
    data = json.loads(show.read_text())
    data.setdefault("delivery", {})["crf"] = 23  # the file was encoded at the default crf 18
    show.write_text(json.dumps(data, indent=2))
    cut = cut_of(show)
    assert cut.state == OUTDATED and places(cut) == {path: IN_CUT for path in SHOTS}  # the same frames
    assert cut.reason == "encode settings changed (crf 18 → 23)" and cut.can_assemble
    code, output = cli("status", str(show))
    assert code == 0, output
    assert (f"s01e01: cut outdated (render #1): encode settings changed (crf 18 → 23) — `reelforge assemble {show} "
            "--episode s01e01`") in " ".join(output.split())

    code, output = cli("assemble", str(show))
    assert code == 0 and "s01e01.mp4" in output, output
    record = last_render(show)
    assert (record.shots_rendered, record.shots_reused) == (0, 3)  # re-encoded from the stored frames
    assert cut_of(show).state == UP_TO_DATE
    fresh = write_spec(tmp_path / "fresh", data)  # what `reelforge render` delivers now
    full = render_production(RenderRequest(fresh, actor="cy")).results[0]
    assert unsigned_of(show, record.id) == full.unsigned_sha256


def test_reelforge_status_says_which_cut_is_outdated_and_how_to_fix_it(show):
    code, output = cli("status", str(show))
    assert code == 0 and "s01e01: cut up to date (render #1)" in output, output
    relight(show)
    render_production(RenderRequest(show, shot=EDITED, actor="ana"))
    code, output = cli("status", str(show))
    assert code == 0, output
    assert (f"s01e01: cut outdated (render #1): 1 shot re-rendered since the cut (sc01/sh02) — `reelforge assemble {show} "
            "--episode s01e01`") in output


def test_reelforge_assemble_without_an_episode_brings_every_outdated_cut_up_to_date(show):
    code, output = cli("assemble", str(show))
    assert code == 0 and "every episode's cut is up to date; nothing to assemble" in output, output
    relight(show)
    render_production(RenderRequest(show, shot=EDITED, actor="ana"))
    code, output = cli("assemble", str(show))
    assert code == 0 and "s01e01.mp4" in output, output
    code, output = cli("assemble", str(show), "--episode", EPISODE)
    assert code == 0 and "s01e01: cut up to date (render #3); nothing to assemble" in output, output


def test_reelforge_assemble_refuses_unknown_episodes_and_unrendered_shots_in_one_line(show):
    code, output = cli("assemble", str(show), "--episode", "s09e09")
    assert code == 2 and "unknown episode s09e09; episodes: s01e01" in output, output
    relight(show)
    code, output = cli("assemble", str(show), "--episode", EPISODE)
    assert code == 2, output
    assert f"{EDITED} has no render of the current spec" in output and "Traceback" not in output
    assert f"reelforge render {show} --episode s01e01" in " ".join(output.split())
    assert last_render(show).id == 1  # nothing delivered


def test_re_assembling_delivers_the_languages_the_outdated_file_had(tmp_path):
    data = small_spec(frames=2)
    data["languages"] = ["en", "fr"]
    spec = write_spec(tmp_path / "show", data)
    render_production(RenderRequest(spec, languages="en,fr", actor="ana"))
    relight(spec)
    render_production(RenderRequest(spec, shot=EDITED, actor="ana"))
    code, output = cli("assemble", str(spec), "--episode", EPISODE)
    assert code == 0, output
    assert "s01e01.en.mp4" in output and "s01e01.fr.mp4" in output
    assert cut_of(spec).state == UP_TO_DATE


# --------------------------------------------------------------------------- the timeline strip


def test_the_timeline_has_a_block_per_shot_with_its_length_review_state_and_place_in_the_cut(show):
    relight(show)
    render_production(RenderRequest(show, shot=EDITED, actor="ana"))
    status = production_status(show)
    (episode,) = status.episodes
    reviews = shot_reviews(ProductionPaths.for_spec(show), load_production(show))
    blocks = episode_timeline(episode, episode.cut, reviews)
    assert [b.path for b in blocks] == SHOTS and [b.frames for b in blocks] == [FRAMES] * 3
    assert {b.review for b in blocks} <= {"waiting", "retake", "approved", "changed"}
    assert [b.stale for b in blocks] == [False, True, False]
    assert [b.start_seconds for b in blocks] == [0.0, FRAMES / 24, 2 * FRAMES / 24]  # where each starts in the file
    assert "re-rendered since the cut" in blocks[1].title
