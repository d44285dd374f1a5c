"""Review statuses of shot versions and notes pinned to frames (issue 17): the rules, the change log, the CLI,
the exports, and what store retention keeps.

One production (three 2-frame shots) is rendered per module; every test that changes it works on a copy.
"""

from __future__ import annotations

import base64
import errno
import io
import json
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, copy_production, small_spec, write_spec
from PIL import Image

from reelforge.app.review import load_frame, shot_versions
from reelforge.app.review_notes import NoteRefused, add_note, drawing_from_text, notes, parse_drawing
from reelforge.app.review_sheet import INK, annotated_still
from reelforge.app.review_status import (
    APPROVED,
    CHANGED,
    RETAKE,
    WAITING,
    ReviewRefused,
    VersionStatus,
    review_of,
    set_status,
    shot_reviews,
)
from reelforge.records import changelog
from reelforge.spec.load import load_production
from reelforge.store.catalog import Catalog
from reelforge.store.frames import FrameStore
from reelforge.store.paths import ProductionPaths

SHOT = "s01e01/sc01/sh01"
OTHER = "s01e01/sc01/sh02"
BOX = {"tool": "box", "points": [[0.25, 0.25], [0.75, 0.75]]}
ARROW = {"tool": "arrow", "points": [[0.9, 0.1], [0.6, 0.4]]}
FREEHAND = {"tool": "freehand", "points": [[0.1, 0.9], [0.2, 0.8], [0.3, 0.9]]}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    spec = write_spec(tmp_path_factory.mktemp("review-room") / "show", small_spec(frames=2))
    code, output = cli("render", str(spec))
    assert code == 0, output
    return spec


@pytest.fixture
def show(rendered, tmp_path) -> Path:
    return copy_production(rendered.parent, tmp_path / "show") / "production.json"


def _reviews(spec: Path) -> dict:
    return shot_reviews(ProductionPaths.for_spec(spec), load_production(spec))


def _set(spec: Path, status: str, note: str = "", shot: str = SHOT, **kw):
    return set_status(ProductionPaths.for_spec(spec), load_production(spec), shot, status, note, "cy", **kw)


def _edit_camera(spec: Path) -> None:
    data = json.loads(spec.read_text())
    data["episodes"][0]["scenes"][0]["shots"][0]["camera"] = {"move": "orbit"}
    spec.write_text(json.dumps(data, indent=2))


def _entries(spec: Path, kind: str) -> list[dict]:
    with Catalog(ProductionPaths.for_spec(spec).catalog) as catalog, catalog.session() as session:
        return [{"entity": e.entity, "actor": e.actor, "reason": e.reason,
                 "after": changelog.state(session, e.after_sha256)} for e in changelog.entries(session, kind=kind)]


# --------------------------------------------------------------------------- the state rules (no render needed)


def _status(key: str, status: str, note: str | None = None) -> VersionStatus:
    return VersionStatus(SHOT, key, status, note, "cy", "2026-01-01T00:00:00+00:00", 1)


def test_a_version_nobody_reviewed_is_waiting_and_a_shot_never_rendered_has_no_version():
    assert review_of(SHOT, [], {}, {}, "k1").state == WAITING and review_of(SHOT, [], {}, {}, "k1").job_key is None
    review = review_of(SHOT, ["k2", "k1"], {"k1": 1, "k2": 2}, {}, "k2")
    assert (review.state, review.job_key, review.version, review.label) == (WAITING, "k2", 2, "waiting for review")


def test_the_state_is_the_latest_versions_own_status():
    approved_v1 = {(SHOT, "k1"): _status("k1", APPROVED)}
    assert review_of(SHOT, ["k1"], {"k1": 1}, approved_v1, "k1").state == APPROVED
    # a new version waits for review
    assert review_of(SHOT, ["k2", "k1"], {"k1": 1, "k2": 2}, approved_v1, "k2").state == WAITING
    retake = review_of(SHOT, ["k1"], {"k1": 1}, {(SHOT, "k1"): _status("k1", RETAKE, "darker")}, "k1")
    assert (retake.state, retake.note) == (RETAKE, "darker")


def test_an_approved_version_whose_spec_now_plans_another_key_is_changed_since_approval():
    approved = {(SHOT, "k1"): _status("k1", APPROVED)}
    review = review_of(SHOT, ["k1"], {"k1": 1}, approved, "k2")
    assert (review.state, review.label) == (CHANGED, "changed since approval")
    assert review_of(SHOT, ["k1"], {"k1": 1}, approved, None).state == APPROVED  # a spec that does not plan says nothing
    assert review_of(SHOT, ["k1"], {"k1": 1}, {(SHOT, "k1"): _status("k1", RETAKE, "x")}, "k2").state == RETAKE


# --------------------------------------------------------------------------- statuses in the change log


def test_every_shot_starts_waiting_for_review(show):
    reviews = _reviews(show)
    assert {r.state for r in reviews.values()} == {WAITING} and len(reviews) == 3
    assert all(r.version == 1 and r.job_key for r in reviews.values())


def test_a_retake_needs_a_note_and_is_recorded_with_actor_reason_and_version(show):
    with pytest.raises(ReviewRefused, match="a retake needs a note"):
        _set(show, RETAKE, "  ")
    done = _set(show, RETAKE, "the lamp is too dim")
    review = _reviews(show)[SHOT]
    assert (review.state, review.note, review.actor) == (RETAKE, "the lamp is too dim", "cy")
    (entry,) = _entries(show, "review")
    version = shot_versions(Catalog(ProductionPaths.for_spec(show).catalog), SHOT)[0]
    assert entry["entity"] == f"shot:{SHOT}" and entry["actor"] == "cy" and entry["reason"] == "the lamp is too dim"
    assert entry["after"] == {"status": RETAKE, "job_key": version.job_key, "version": 1,
                              "render_id": version.render_id, "note": "the lamp is too dim"}
    assert done.checkpoint_id is not None
    code, output = cli("log", "verify", str(show))
    assert code == 0 and output.startswith("OK") and "not yet covered" not in output, output


def test_statuses_belong_to_versions_and_a_spec_edit_after_approval_shows_changed(show):
    _set(show, APPROVED, "picture lock")
    assert _reviews(show)[SHOT].state == APPROVED
    original = show.read_text()
    _edit_camera(show)
    assert _reviews(show)[SHOT].state == CHANGED  # nobody rendered or reviewed the edit yet
    assert _reviews(show)[OTHER].state == WAITING
    code, output = cli("render", str(show), "--shot", SHOT)
    assert code == 0, output
    review = _reviews(show)[SHOT]
    assert (review.state, review.version) == (WAITING, 2)  # the new version waits for review
    with pytest.raises(ReviewRefused, match="has no version 3"):
        _set(show, RETAKE, "x", version=3)
    _set(show, RETAKE, "the orbit is too fast", version=1)  # an older version, named
    assert _reviews(show)[SHOT].state == WAITING  # the latest (v2) is still waiting
    show.write_text(original)
    code, output = cli("render", str(show), "--shot", SHOT)  # back to v1's spec: the same key, re-rendered
    assert code == 0, output
    assert _reviews(show)[SHOT].state == RETAKE  # v1's own latest status came back with it


def test_an_old_approval_counts_as_approved_for_the_version_it_names(show):
    code, output = cli("approve", f"shot:{SHOT}", str(show), "-m", "picture lock")
    assert code == 0, output
    code, output = cli("approve", "episode:s01e01", str(show), "-m", "cut approved")
    assert code == 0, output
    assert {r.state for r in _reviews(show).values()} == {APPROVED}
    assert _reviews(show)[OTHER].note == "cut approved"  # the latest entry about a version is its status


def test_statuses_and_notes_go_on_beside_a_render_and_two_at_once_both_land(show):
    """A render holds the production's lock for minutes: reviewing dailies meanwhile must not be refused."""
    paths = ProductionPaths.for_spec(show)
    with paths.lock("a render"):
        assert _set(show, RETAKE, "the lamp flickers").status == RETAKE
        code, output = cli("review", str(show), SHOT, "--status", "approved", "-m", "fixed")
        assert code == 0, output
        code, output = cli("review", "note", str(show), SHOT, "--frame", "0", "-m", "nice light")
        assert code == 0, output
        # two people at once: SQLite's write lock orders them, neither is refused or lost
        with ThreadPoolExecutor(2) as pool:
            done = list(pool.map(lambda status: _set(show, status, "two at once", shot=OTHER), [RETAKE, APPROVED]))
    assert len({d.seq for d in done}) == 2
    code, output = cli("log", "verify", str(show))
    assert code == 0, output
    assert _reviews(show)[SHOT].state == APPROVED
    assert [n.text for n in notes(paths, SHOT)] == ["nice light"]


# --------------------------------------------------------------------------- store retention


def _kept_for(spec: Path, shot: str) -> dict[str, str]:
    code, output = cli("store", "du", str(spec), "--json")
    assert code == 0, output
    return {v["job_key"]: v["status"] for v in json.loads(output)["versions"] if v["shot"] == shot}


def test_retention_keeps_a_version_only_while_its_latest_status_is_approved(show):
    _set(show, APPROVED, "lock")
    _edit_camera(show)
    code, output = cli("render", str(show), "--shot", SHOT)
    assert code == 0, output
    v1 = shot_versions(Catalog(ProductionPaths.for_spec(show).catalog), SHOT)[1].job_key
    assert "approved" in _kept_for(show, SHOT)[v1]
    _set(show, RETAKE, "not after all", version=1)
    assert "approved" not in _kept_for(show, SHOT)[v1]


# --------------------------------------------------------------------------- notes


def test_a_drawing_is_checked_stroke_by_stroke_naming_the_json_path():
    assert parse_drawing([BOX, ARROW, FREEHAND]) == [BOX, ARROW, FREEHAND]
    for drawing, where in (([{"tool": "circle", "points": []}], r"drawing\[0\]\.tool"),
                           ([BOX, {"tool": "box", "points": [[0, 0]]}], r"drawing\[1\]\.points: a box needs 2"),
                           ([{"tool": "arrow", "points": [[0, 0], [1.5, 0]]}], r"drawing\[0\]\.points\[1\]"),
                           ([{"tool": "freehand", "points": [[0, 0], [True, 0]]}], r"drawing\[0\]\.points\[1\]"),
                           ({"not": "a list"}, r"drawing: must be a list")):
        with pytest.raises(NoteRefused, match=where):
            parse_drawing(drawing)


# A box corner of 400 digits (more than a float holds) and of 5000 (more than Python reads as an int).
HUGE_POINT = '[{"tool": "box", "points": [[0, 0], [1%s, 0]]}]' % ("0" * 400)
ENDLESS_POINT = '[{"tool": "box", "points": [[0, 0], [0.5, %s]]}]' % ("9" * 5000)


def test_numbers_too_large_for_a_float_or_an_int_are_refused_naming_the_json_path():
    for text in (HUGE_POINT, ENDLESS_POINT):
        with pytest.raises(NoteRefused) as refused:
            drawing_from_text(text, "drawing")
        message = str(refused.value)
        assert message.startswith("drawing[0].points[1]: x and y must lie between 0 and 1") and len(message) < 200


def test_a_note_is_pinned_to_a_rendered_frame_of_a_version_and_is_a_change_log_entry(show):
    paths, production = ProductionPaths.for_spec(show), load_production(show)
    with pytest.raises(NoteRefused, match="has no rendered frame 2"):
        add_note(paths, production, SHOT, 2, "too far", "cy")
    with pytest.raises(NoteRefused, match="needs text"):
        add_note(paths, production, SHOT, 0, " ", "cy")
    note = add_note(paths, production, SHOT, 1, "the lamp flickers", "cy", drawing=[BOX, ARROW])
    version = shot_versions(Catalog(paths.catalog), SHOT)[0]
    assert (note.frame, note.frame_sha256, note.job_key) == (1, version.digest_at(1), version.job_key)
    assert notes(paths, shot=SHOT) == [note] and notes(paths, job_key="0" * 64) == []
    assert notes(paths, episode="s01e01") == [note] and notes(paths, shot=OTHER) == []
    (entry,) = _entries(show, "note")
    assert entry["reason"] == "the lamp flickers" and entry["after"]["drawing"] == [BOX, ARROW]


def test_the_annotated_still_draws_the_strokes_onto_the_stored_frame(show):
    paths = ProductionPaths.for_spec(show)
    digest = shot_versions(Catalog(paths.catalog), SHOT)[0].digest_at(0)
    frame = load_frame(FrameStore(paths.frames), digest)
    still = np.asarray(annotated_still(frame, [BOX]))
    assert still.shape[1] == 960  # scaled down from 1920
    height, width = still.shape[:2]
    top_left = still[round(0.25 * (height - 1)), round(0.25 * (width - 1))]
    assert tuple(top_left) == INK  # the box's corner is drawn
    assert tuple(still[height // 2, width // 2]) != INK  # its inside is the picture


# --------------------------------------------------------------------------- the CLI


def test_cli_review_sets_a_status_and_refuses_bad_input_in_one_line(show):
    code, output = cli("review", str(show), SHOT, "--status", "retake")
    assert code == 2 and output.strip() == "error: a retake needs a note saying what to fix"
    code, output = cli("review", str(show), SHOT, "--status", "great")
    assert code == 2 and "status must be one of waiting, retake, approved" in output
    code, output = cli("review", str(show), "s01e01/sc09/sh01", "--status", "approved")
    assert code == 2 and "no shot 's01e01/sc09/sh01' in the spec" in output
    code, output = cli("review", str(show), SHOT, "--status", "approved", "--version", "2")
    assert code == 2 and "has no version 2: it has v1 to v1" in output
    code, output = cli("review", str(show), SHOT, "--status", "retake", "-m", "darker")
    assert code == 0 and f"{SHOT} v1" in output and "retake" in output, output
    code, output = cli("review", "set", str(show), SHOT, "--status", "approved", "--actor", "dee")
    assert code == 0 and "approved" in output
    assert (_reviews(show)[SHOT].state, _reviews(show)[SHOT].actor) == (APPROVED, "dee")


def test_cli_review_note_pins_a_note_with_a_drawing_file(show, tmp_path):
    drawing = tmp_path / "marks.json"
    drawing.write_text(json.dumps([BOX, ARROW, FREEHAND]))
    code, output = cli("review", "note", str(show), SHOT, "--frame", "1", "-m", "watch the lamp",
                       "--drawing", str(drawing))
    assert code == 0 and "frame 1, 3 strokes" in output, output
    (note,) = notes(ProductionPaths.for_spec(show), shot=SHOT)
    assert note.text == "watch the lamp" and list(note.drawing) == [BOX, ARROW, FREEHAND]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"tool": "box", "points": [[0, 0], [2, 0]]}]))
    code, output = cli("review", "note", str(show), SHOT, "--frame", "0", "-m", "x", "--drawing", str(bad))
    assert code == 2 and f"{bad}[0].points[1]: x and y must lie between 0 and 1" in output
    bad.write_text(HUGE_POINT)
    code, output = cli("review", "note", str(show), SHOT, "--frame", "0", "-m", "x", "--drawing", str(bad))
    assert code == 2 and f"{bad}[0].points[1]: x and y must lie between 0 and 1" in output, output
    code, output = cli("review", "note", str(show), SHOT, "--frame", "0", "-m", "x", "--drawing", str(tmp_path / "no"))
    assert code == 2 and "no such file" in output
    code, output = cli("review", "note", str(show), SHOT, "--frame", "9", "-m", "x")
    assert code == 2 and "has no rendered frame 9" in output and len(output.strip().splitlines()) == 1


def test_cli_review_notes_exports_json_and_a_self_contained_review_sheet(show, tmp_path):
    paths, production = ProductionPaths.for_spec(show), load_production(show)
    add_note(paths, production, SHOT, 0, "a box <here> & an arrow", "cy", drawing=[BOX, ARROW])
    add_note(paths, production, OTHER, 1, "fine", "dee")
    _set(show, RETAKE, "see the notes")
    code, output = cli("review", "notes", str(show))
    assert code == 2 and "give one of --json OUT or --html OUT" in output
    code, output = cli("review", "notes", str(show), "--shot", SHOT, "--json", str(tmp_path / "shot.json"))
    assert code == 0 and "1 note of shot" in output, output
    exported = json.loads((tmp_path / "shot.json").read_text())
    assert exported["format"] == "reelforge-review-notes/1" and exported["scope"] == f"shot {SHOT}"
    assert [(n["shot"], n["frame"], n["text"], n["drawing"]) for n in exported["notes"]] == [
        (SHOT, 0, "a box <here> & an arrow", [BOX, ARROW])]
    code, output = cli("review", "notes", str(show), "--episode", "s01e01", "--json", str(tmp_path / "all.json"))
    assert code == 0 and len(json.loads((tmp_path / "all.json").read_text())["notes"]) == 2
    code, output = cli("review", "notes", str(show), "--episode", "s01e01", "--html", str(tmp_path / "sheet.html"))
    assert code == 0 and "2 notes" in output, output
    sheet = (tmp_path / "sheet.html").read_text()
    assert "a box &lt;here&gt; &amp; an arrow" in sheet and "<script" not in sheet
    assert "http://" not in sheet and "https://" not in sheet  # nothing to fetch: the stills are embedded
    assert "v1: retake" in sheet and "v1: waiting for review" in sheet
    outside_details = re.sub(r"<details>.*?</details>", "", sheet, flags=re.S)
    assert "job key" in sheet and "job key" not in outside_details  # the hashes only behind "details"
    assert "+00:00" not in sheet and " UTC" in sheet  # times as people read them
    stills = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', sheet)
    assert len(stills) == 2
    first = np.asarray(Image.open(io.BytesIO(base64.b64decode(stills[0]))).convert("RGB"))
    height, width = first.shape[:2]
    assert tuple(first[round(0.25 * (height - 1)), round(0.25 * (width - 1))]) == INK  # the box, drawn server-side
    code, output = cli("review", "notes", str(show), "--shot", "s01e01/sc01/sh09", "--json", str(tmp_path / "x.json"))
    assert code == 2 and "--shot s01e01/sc01/sh09: no such shot" in output


def test_cli_review_notes_to_a_folder_or_under_a_file_is_one_line_exit_2(show, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    code, output = cli("review", "notes", str(show), "--html", str(out))
    assert code == 2 and output.strip() == (f"error: --html {out} is a folder: give the file to write, "
                                            f"e.g. {out / 'notes.html'}"), output
    a_file = out / "a-file"
    a_file.write_text("x")
    code, output = cli("review", "notes", str(show), "--json", str(a_file / "notes.json"))
    assert code == 2 and output.strip() == f"error: --json {a_file / 'notes.json'}: {a_file} is a file, not a folder"
    assert [p.name for p in out.iterdir()] == ["a-file"]  # nothing written


def test_cli_review_notes_to_a_folder_it_may_not_write_is_one_line_exit_3(show, tmp_path, monkeypatch, capsys):
    from reelforge.cli import main

    real_open = os.open

    def denied(path, flags, *args, **kwargs):  # root writes through mode bits: refuse as a read-only folder would
        if ".sheet.html.tmp-" in str(path):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    monkeypatch.setattr(sys, "argv", ["reelforge", "review", "notes", str(show), "--html", str(tmp_path / "sheet.html")])
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err.strip()
    assert exited.value.code == 3 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith(f"error: cannot write {tmp_path / 'sheet.html'} (Permission denied)")
