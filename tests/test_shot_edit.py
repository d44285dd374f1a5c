"""Editing one shot as a form does: CLI-equal validation by field, commits with actor and reason, stale forms refused."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from conftest import small_spec, unblocked, write_spec

from reelforge.app.shot_edit import GENERAL, EditInvalid, StaleEdit, UnknownShot, apply_shot_edit, load_shot_form
from reelforge.records.changelog import entries
from reelforge.records.versions import get_version, history
from reelforge.spec.load import validate_file
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths

SHOT = "s01e01/sc01/sh01"


@pytest.fixture
def spec(tmp_path) -> Path:
    return write_spec(tmp_path / "show", small_spec())


def save(spec: Path, values: dict, reason: str = "a reason", actor: str = "ana", shot: str = SHOT):
    return apply_shot_edit(spec, shot, values, base=load_shot_form(spec, shot).base, reason=reason, actor=actor)


def refused(spec: Path, values: dict, reason: str = "a reason") -> dict[str, list[str]]:
    """The problems of an edit that must not save, by field; the file and the records stay as they were."""
    before, committed = spec.read_bytes(), commits(spec)
    with pytest.raises(EditInvalid) as invalid:
        save(spec, values, reason)
    assert spec.read_bytes() == before
    assert commits(spec) == committed
    assert not list(spec.parent.glob(".production.json.tmp-*"))
    found: dict[str, list[str]] = {}
    for problem in invalid.value.problems:
        found.setdefault(problem.field, []).append(problem.message)
    return found


def commits(spec: Path) -> list[tuple[str, str]]:
    """(actor, reason) of each commit recorded in the change log, oldest first."""
    if not ProductionPaths.for_spec(spec).catalog.exists():
        return []
    with Catalog(ProductionPaths.for_spec(spec).catalog).session() as session:
        return [(e.actor, e.reason) for e in entries(session, kind="commit") if e.entity.startswith("commit:")]


def shot_json(spec: Path, shot: str = SHOT) -> dict:
    raw = json.loads(spec.read_text(encoding="utf-8"))
    episode, scene, shot_id = shot.split("/")
    return next(s for e in raw["episodes"] if e["id"] == episode for c in e["scenes"] if c["id"] == scene
                for s in c["shots"] if s["id"] == shot_id)


def cli_problems(tmp_path: Path, spec: Path, change) -> list:
    """What `reelforge validate` reports for the same change written by hand."""
    raw = json.loads(spec.read_text(encoding="utf-8"))
    change(raw["episodes"][0]["scenes"][0]["shots"][0])
    return validate_file(write_spec(tmp_path / "by-hand", raw))


def test_the_form_shows_the_shot_as_written_with_its_choices(spec):
    form = load_shot_form(spec, SHOT)
    assert form.values["prompt.en"] == "Mara walks the quay toward the lighthouse"
    assert form.values["camera_move"] == "push-in" and form.values["camera_easing"] == ""
    assert form.values["lighting_preset"] == ""  # not set on the shot: it is lit by its scene
    assert form.inherited["lighting"] == "magic-hour (from the scene)"
    assert form.values["cast"] == "mara"
    assert (form.values["length"], form.values["length_unit"]) == ("8", "frames")
    assert form.languages == ["en"]
    assert "neon-night" in form.lighting_presets and "watercolor" in form.styles
    assert ("theo", "Theo") in form.characters
    with pytest.raises(UnknownShot):
        load_shot_form(spec, "s01e01/sc01/sh99")


def test_a_valid_edit_is_written_readably_and_committed_with_actor_and_reason(spec):
    before = json.loads(spec.read_text(encoding="utf-8"))
    result = save(spec, {"lighting_preset": "neon-night", "lighting_kelvin": "8000"}, reason="neon quay", actor="bo")
    assert result.changed and result.created
    assert "shot:s01e01/sc01/sh01 is now version 1" in result.message
    text = spec.read_text(encoding="utf-8")
    assert text.startswith('{\n  "format": "reelforge/1",\n  "series": {\n')  # indent=2, key order kept
    after = json.loads(text)
    assert shot_json(spec)["lighting"] == {"preset": "neon-night", "kelvin": 8000}
    assert list(shot_json(spec)) == ["id", "prompt", "cast", "camera", "blocking", "frames", "lighting"]
    del after["episodes"][0]["scenes"][0]["shots"][0]["lighting"]
    assert after == before  # nothing else moved
    assert result.base == load_shot_form(spec, SHOT).base
    catalog = Catalog(ProductionPaths.for_spec(spec).catalog)
    _, rows = history(catalog, f"shot:{SHOT}")
    assert [(row.actor, row.reason, row.auto) for row in rows] == [("bo", "neon quay", False)]
    _, version, _ = get_version(catalog, f"shot:{SHOT}")
    assert version.content["lighting"]["preset"] == "neon-night"
    with catalog.session() as session:
        logged = entries(session, entity=f"shot:{SHOT}")
    assert [(e.actor, e.kind, e.reason) for e in logged] == [("bo", "commit", "neon quay")]


def test_unknown_values_are_reported_beside_their_field_as_the_cli_words_them(spec, tmp_path):
    problems = refused(spec, {"lighting_preset": "neon"})
    by_hand = cli_problems(tmp_path, spec, lambda shot: shot.update(lighting={"preset": "neon"}))
    assert problems == {"lighting_preset": [p.message for p in by_hand]}
    assert "did you mean" in problems["lighting_preset"][0] or "neon-night" in problems["lighting_preset"][0]
    assert "unknown style preset 'noir'" in refused(spec, {"style_preset": "noir"})["style_preset"][0]
    assert "unknown character 'bob'" in refused(spec, {"cast": "mara, bob"})["cast"][0]
    assert "easing" in refused(spec, {"camera_easing": "bounce"})["camera_easing"][0]


def test_numbers_out_of_range_or_not_numbers_are_field_errors(spec):
    assert refused(spec, {"lighting_preset": "blue-hour", "lighting_kelvin": "500"}) == {
        "lighting_kelvin": ["must be at least 1000, got 500"]}
    assert refused(spec, {"lighting_preset": "blue-hour", "lighting_kelvin": "warm"}) == {
        "lighting_kelvin": ['expected a number, got the string "warm"']}
    assert refused(spec, {"lighting_preset": "blue-hour", "lighting_azimuth_deg": "400"}) == {
        "lighting_azimuth_deg": ["must be at most 360, got 400"]}
    assert refused(spec, {"length": "2.5", "length_unit": "frames"}) == {
        "length": ["expected a whole number of frames, got the number 2.5"]}
    assert "travel_m" in refused(spec, {"camera_move": "lock-off", "camera_travel_m": "3"})["camera_travel_m"][0]
    # a direction without a preset: the lighting object needs one, said beside the preset
    assert refused(spec, {"lighting_elevation_deg": "30"}) == {"lighting_preset": ["required field 'preset' is missing"]}


def test_an_empty_value_removes_the_key_and_the_shot_inherits(tmp_path):
    spec = write_spec(tmp_path / "show", unblocked(small_spec()))  # a camera the form shows all of (no look_at)
    save(spec, {"lighting_preset": "hard-noon"})
    assert shot_json(spec)["lighting"] == {"preset": "hard-noon"}
    save(spec, {"lighting_preset": "", "camera_move": ""})
    saved = shot_json(spec)
    assert "lighting" not in saved and "camera" not in saved  # inherits the scene's (and production's) again
    assert load_shot_form(spec, SHOT).values["camera_move"] == ""
    # the prompt and the length cannot be inherited: emptying them is refused beside the field
    assert refused(spec, {"prompt.en": ""}) == {"prompt.en": ["required field 'prompt' is missing"]}
    assert list(refused(spec, {"length": ""})) == ["length"]


def test_length_switches_between_seconds_and_frames_in_place(tmp_path):
    raw = small_spec()
    shots = raw["episodes"][0]["scenes"][0]["shots"]
    frames = shots[0].pop("frames")
    shots[0] = {"id": shots[0].pop("id"), "prompt": shots[0].pop("prompt"), "frames": frames, **shots[0]}
    spec = write_spec(tmp_path / "show", raw)  # the length written third, as the bundled example writes it
    save(spec, {"length": "0.5", "length_unit": "seconds"})
    saved = shot_json(spec)
    assert saved["seconds"] == 0.5 and "frames" not in saved
    assert list(saved).index("seconds") == 2  # where frames was, not at the end
    assert (load_shot_form(spec, SHOT).values["length"], load_shot_form(spec, SHOT).values["length_unit"]) == \
        ("0.5", "seconds")


def test_prompts_are_edited_per_declared_language(tmp_path):
    raw = small_spec()
    raw["languages"] = ["en", "fr"]
    spec = write_spec(tmp_path / "show", raw)
    form = load_shot_form(spec, SHOT)
    assert form.languages == ["en", "fr"] and form.values["prompt.fr"] == ""
    save(spec, {"prompt.en": "Mara walks the quay", "prompt.fr": "Mara longe le quai"})
    assert shot_json(spec)["prompt"] == {"en": "Mara walks the quay", "fr": "Mara longe le quai"}
    # a translation without the source text is the CLI's error, shown beside the source prompt
    problems = refused(spec, {"prompt.en": "", "prompt.fr": "Mara longe le quai"})
    assert list(problems) == ["prompt.en"] and "source language 'en'" in problems["prompt.en"][0]


def test_a_style_family_of_the_productions_own_folder_can_be_chosen(spec):
    family = json.loads((resources.files("reelforge") / "styles" / "watercolor.json").read_text(encoding="utf-8"))
    family["id"] = "harbor-wash"
    (spec.parent / "styles").mkdir()
    (spec.parent / "styles" / "harbor-wash.json").write_text(json.dumps(family), encoding="utf-8")
    assert "harbor-wash" in load_shot_form(spec, SHOT).styles
    save(spec, {"style_preset": "harbor-wash"})
    assert shot_json(spec)["style"] == {"preset": "harbor-wash"}


def test_a_reason_is_required_and_reported_with_the_other_problems(spec):
    assert refused(spec, {"lighting_preset": "neon-night"}, reason="  ") == {
        "reason": ["give a reason: say what changed and why (it is recorded with the commit)"]}
    both = refused(spec, {"lighting_preset": "neon"}, reason="")
    assert set(both) == {"reason", "lighting_preset"}


def test_an_edit_that_changes_nothing_writes_and_commits_nothing(spec):
    before = spec.read_bytes()
    form = load_shot_form(spec, SHOT)
    result = apply_shot_edit(spec, SHOT, form.values, base=form.base, reason="", actor="ana")
    assert not result.changed and result.commit_id is None
    assert "nothing changed" in result.message
    assert spec.read_bytes() == before
    assert not ProductionPaths.for_spec(spec).catalog.exists()


def test_a_save_from_a_stale_form_is_refused_and_overwrites_nothing(spec):
    ana = load_shot_form(spec, SHOT)
    bo = load_shot_form(spec, SHOT)
    apply_shot_edit(spec, SHOT, {"lighting_preset": "hard-noon"}, base=bo.base, reason="bo's noon", actor="bo")
    after_bo = spec.read_bytes()
    with pytest.raises(StaleEdit) as stale:
        apply_shot_edit(spec, SHOT, {"lighting_preset": "blue-hour"}, base=ana.base, reason="dusk", actor="ana")
    assert "reload" in str(stale.value)
    assert spec.read_bytes() == after_bo
    assert commits(spec) == [("bo", "bo's noon")]
    with pytest.raises(EditInvalid) as no_base:
        apply_shot_edit(spec, SHOT, {"lighting_preset": "blue-hour"}, base="", reason="dusk", actor="ana")
    assert no_base.value.problems[0].field == "base"


def test_problems_outside_the_shots_fields_are_general(spec, tmp_path):
    raw = json.loads(spec.read_text(encoding="utf-8"))
    raw["episodes"][0]["scenes"][0]["camera"] = {"move": "lock-off", "keyframes": [{"at_s": 0.25, "move": "push-in"}]}
    raw["episodes"][0]["scenes"][0]["shots"][0].pop("camera")
    raw["episodes"][0]["scenes"][0]["shots"][1]["frames"] = 24
    spec.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    assert validate_file(spec) == []
    # shortening sh02 to 4 frames puts the scene camera's keyframe past its end: a problem at the scene's camera
    before = spec.read_bytes()
    with pytest.raises(EditInvalid) as invalid:
        save(spec, {"length": "4"}, shot="s01e01/sc01/sh02")
    assert spec.read_bytes() == before
    [problem] = invalid.value.problems
    assert problem.field == GENERAL and problem.path.startswith("$.episodes[0].scenes[0].camera.keyframes[0]")


def test_an_unknown_shot_is_refused(spec):
    with pytest.raises(UnknownShot):
        apply_shot_edit(spec, "s01e01/sc01/../sh01", {}, base=load_shot_form(spec, SHOT).base, reason="x", actor="a")


def test_a_spec_with_a_key_given_twice_is_refused_not_silently_collapsed(spec):
    """json.loads keeps the last of two equal keys: saving would drop the first without a word.
    `reelforge validate` refuses such a file; so does the form, naming where."""
    text = spec.read_text(encoding="utf-8").replace(
        '"id": "sh02",', '"id": "sh02", "lighting": {"preset": "neon-night"}, "lighting": {"preset": "hard-noon"},', 1)
    spec.write_text(text, encoding="utf-8")
    assert [p.message for p in validate_file(spec)] == [
        "field 'lighting' is given more than once in this object; keep only one"]
    problems = refused(spec, {"lighting_preset": "blue-hour"})
    assert list(problems) == [GENERAL]
    assert "'lighting' is given more than once" in problems[GENERAL][0]
    assert spec.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("text, path, words", [
    ("[" * 5000 + "]" * 5000, ".blocking" + "[0]" * 64, "nested more than 64 levels deep"),  # was a RecursionError
    ('{"mara": {"mark": [0, 1]}, "mara": {"mark": [1, 1]}}', ".blocking.mara", "'mara' is given more than once"),
    ('{"mara": {"actions": [{"action": "hold", "at_s": 0, "at_s": 1}]}}', ".blocking.mara.actions[0].at_s",
     "'at_s' is given more than once"),
    ('{"mara": {"mark": "' + "x" * (17 * 2**20) + '"}}', ".blocking", "over the spec file's 16 MiB limit"),
])
def test_the_blocking_field_refuses_what_a_spec_file_may_not_hold_in_one_line(spec, text, path, words):
    """The field is parsed with the spec file's own checks: nesting and size limits, and a key typed twice
    (json would keep the last one and drop the other without a word)."""
    before = spec.read_bytes()
    with pytest.raises(EditInvalid) as invalid:
        save(spec, {"blocking": text})
    [problem] = invalid.value.problems
    assert (problem.field, problem.path) == ("blocking", "$.episodes[0].scenes[0].shots[0]" + path)
    assert words in problem.message and len(problem.message) < 300
    assert spec.read_bytes() == before


def test_a_prompt_written_with_windows_line_ends_is_not_rewritten_by_an_edit_of_another_field(spec):
    raw = json.loads(spec.read_text(encoding="utf-8"))
    raw["episodes"][0]["scenes"][0]["shots"][0]["prompt"] = "Mara walks the quay\r\ntoward the lighthouse"
    spec.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    form = load_shot_form(spec, SHOT)
    # a browser sends a textarea's line ends as CR LF whatever the page held
    typed = {**form.values, "prompt.en": form.values["prompt.en"].replace("\r\n", "\n").replace("\n", "\r\n"),
             "lighting_preset": "blue-hour"}
    apply_shot_edit(spec, SHOT, typed, base=form.base, reason="dusk", actor="ana")
    assert shot_json(spec)["prompt"] == "Mara walks the quay\r\ntoward the lighthouse"
    catalog = Catalog(ProductionPaths.for_spec(spec).catalog)
    _, version, _ = get_version(catalog, f"shot:{SHOT}")
    assert version.content["prompt"] == "Mara walks the quay\r\ntoward the lighthouse"


def test_files_the_spec_names_are_checked_as_reelforge_validate_checks_them(spec):
    """A LUT that does not read or a reference picture that does not decode: `reelforge validate` exits 2,
    so the form does not save either; the problem is shown with its JSON path."""
    raw = json.loads(spec.read_text(encoding="utf-8"))
    raw["episodes"][0]["scenes"][1]["look"] = {"lut": "luts/bad.cube"}
    raw["characters"][0]["references"] = ["refs/mara.png"]
    spec.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    (spec.parent / "luts").mkdir()
    (spec.parent / "luts" / "bad.cube").write_text("not a lut\n", encoding="utf-8")
    (spec.parent / "refs").mkdir()
    (spec.parent / "refs" / "mara.png").write_bytes(b"not a picture")
    from conftest import run_cli

    assert run_cli("validate", str(spec), check=False).returncode == 2
    with pytest.raises(EditInvalid) as invalid:
        save(spec, {"lighting_preset": "blue-hour"})
    found = {(p.field, p.path) for p in invalid.value.problems}
    assert found == {(GENERAL, "$.episodes[0].scenes[1].look.lut"), (GENERAL, "$.characters[0].references[0]")}
    assert commits(spec) == []


def test_a_spec_holding_a_lone_surrogate_escape_is_refused_not_a_crash(spec):
    r"""Python's json reads "\ud800" (JSON's validator does not); writing it back as UTF-8 would raise."""
    raw = json.loads(spec.read_text(encoding="utf-8"))
    raw["episodes"][0]["scenes"][0]["shots"][1]["prompt"] = "Mara and Theo \ud800 meet"
    spec.write_text(json.dumps(raw, indent=2), encoding="utf-8")  # ASCII: the escape as written by hand
    assert validate_file(spec)  # `reelforge validate` refuses the file
    problems = refused(spec, {"lighting_preset": "blue-hour"})
    assert list(problems) == [GENERAL] and "not valid Unicode" in problems[GENERAL][0]


@pytest.mark.parametrize("shot, values, starts, added", [
    # written on one line: the line is the shot
    ("s01e02/sc01/sh01", {"lighting_preset": "neon-night"}, '{"id": "sh01"', ', "lighting": {"preset": "neon-night"}'),
    # wrapped by hand over several lines (its blocking): a new member goes on the shot's last line ...
    ("s01e01/sc01/sh02", {"lighting_preset": "neon-night"}, '{"action": "gesture"', ', "lighting": {"preset": "neon-night"}'),
    # ... and a changed one stays where it was written, its neighbours' lines untouched
    ("s01e01/sc01/sh01", {"camera_move": "lock-off"}, '"camera": {"move": "', ""),
])
def test_an_edit_rewrites_only_the_edited_shot_in_the_layout_it_was_written_in(tmp_path, shot, values, starts,
                                                                               added):
    """The bundled example writes each shot on one line, or wraps it by hand where it blocks: one edit is
    a one-line diff, nothing else moves."""
    import difflib
    import shutil

    from conftest import EXAMPLE

    spec = tmp_path / "production.json"
    shutil.copyfile(EXAMPLE, spec)
    before = spec.read_text(encoding="utf-8")
    form = load_shot_form(spec, shot)
    apply_shot_edit(spec, shot, values, base=form.base, reason="night", actor="ana")
    after = spec.read_text(encoding="utf-8")
    changed = [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert len(changed) == 2, changed  # one line out, one line in
    old, new = changed[0][1:], changed[1][1:]
    assert new.strip().startswith(starts)
    if added:
        assert added in new and new.replace(added, "", 1) == old
    assert load_shot_form(spec, shot).values[next(iter(values))] == next(iter(values.values()))


def test_an_indented_shot_keeps_its_indentation(tmp_path):
    import json

    from conftest import small_spec

    spec = tmp_path / "production.json"
    spec.write_text(json.dumps(small_spec(), indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
    before = spec.read_text(encoding="utf-8").splitlines()
    form = load_shot_form(spec, "s01e01/sc01/sh01")
    apply_shot_edit(spec, "s01e01/sc01/sh01", {"lighting_preset": "blue-hour"}, base=form.base,
                    reason="bluer", actor="ana")
    after = spec.read_text(encoding="utf-8").splitlines()
    assert after == json.dumps(json.loads("\n".join(after)), indent=4, ensure_ascii=False).splitlines()
    assert len(after) - len(before) == 3  # "lighting": {, "preset": …, }, all at the file's own indentation
