"""Takes: a shot rendered again with a seed of its own, each take re-rendering byte for byte; picking one."""

from __future__ import annotations

import difflib
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import cli, run_cli, small_spec, stream_sha, write_spec

from reelforge.app.shot_edit import EditInvalid, load_shot_form
from reelforge.app.status import CHANGED, UP_TO_DATE, production_status, shot_thumbnail
from reelforge.app.takes import TakeRefused, pick_take, shot_takes, take_count
from reelforge.errors import SpecError
from reelforge.plan.jobs import plan, with_take
from reelforge.plan.seeds import shot_seed
from reelforge.plan.takes import MAX_TAKES, take_seed
from reelforge.spec.load import load_production
from reelforge.spec.model import Production
from reelforge.studio.queue import InvalidTarget, parse_target

SHOT = "s01e01/sc01/sh01"


def takes_spec(frames: int = 3) -> dict:
    """The small spec with film grain: on previz grain is drawn from the shot's seed, so takes differ."""
    spec = small_spec(frames)
    spec["look"] = {"grain": 0.5}
    return spec


def jobs_of(spec: dict) -> dict:
    return {job.shot_path: job for episode in plan(Production.model_validate(spec)) for job in episode.jobs}


def set_take(spec: dict, take) -> dict:
    spec["episodes"][0]["scenes"][0]["shots"][0]["take"] = take
    return spec


def frames_of(spec: Path) -> dict[tuple[str, int], list[str]]:
    """(shot path, take) → frame hashes, from every job the catalog recorded with a whole-shot render."""
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as db:
        rows = db.execute("SELECT j.job_json, s.frame_hashes_json FROM render_shots s JOIN jobs j ON j.key = s.job_key")
        return {(json.loads(job)["shot_path"], json.loads(job)["take"] or 1): json.loads(hashes)
                for job, hashes in rows}


# ---------------------------------------------------------------- seeds and keys


def test_take_one_is_the_shots_own_seed_and_other_takes_derive_the_documented_seed():
    assert take_seed(7, SHOT, None) == take_seed(7, SHOT, 1) == shot_seed(7, SHOT)
    digest = hashlib.sha256(f"reelforge/take-seed/v1|7|{SHOT}|3".encode()).digest()
    assert take_seed(7, SHOT, 3) == int.from_bytes(digest[:8], "big") >> 1
    seeds = {take_seed(7, SHOT, k) for k in range(1, MAX_TAKES + 1)}
    assert len(seeds) == MAX_TAKES  # every take its own seed
    assert take_seed(7, "s01e01/sc01/sh02", 3) != take_seed(7, SHOT, 3)  # and per shot


def test_a_shot_without_a_take_or_with_take_one_keeps_its_job_key_and_other_takes_change_it():
    plain = jobs_of(small_spec())[SHOT]
    assert plain.take is None and plain.seed == shot_seed(small_spec()["seed"], SHOT)
    assert jobs_of(set_take(small_spec(), 1))[SHOT].key == plain.key
    third = jobs_of(set_take(small_spec(), 3))[SHOT]
    assert third.key != plain.key and third.take == 3
    assert third.seed == take_seed(small_spec()["seed"], SHOT, 3)
    # a take planned from the spec and a take derived from the plain job are the same job
    assert with_take(plain, small_spec()["seed"], 3) == third
    assert with_take(third, small_spec()["seed"], 1).key == plain.key
    # nothing but the seed (and the recorded take) differs
    differ = {name for name in plain.model_dump() if plain.model_dump()[name] != third.model_dump()[name]}
    assert differ == {"seed", "take"}
    # other shots keep their keys
    assert jobs_of(set_take(small_spec(), 3))["s01e01/sc01/sh02"].key == jobs_of(small_spec())["s01e01/sc01/sh02"].key


@pytest.mark.parametrize("take", [0, -1, 2.5, "two", True])
def test_a_take_must_be_a_whole_number_from_one(tmp_path: Path, take):
    spec = write_spec(tmp_path / "show", set_take(small_spec(), take))
    with pytest.raises(SpecError) as refused:
        load_production(spec)
    assert "$.episodes[0].scenes[0].shots[0].take" in str(refused.value)


def test_a_take_past_the_last_is_refused_by_validate_with_its_json_path(tmp_path: Path):
    spec = write_spec(tmp_path / "show", set_take(small_spec(), MAX_TAKES + 1))
    code, output = cli("validate", str(spec))
    assert code == 2 and "Traceback" not in output, output
    assert "$.episodes[0].scenes[0].shots[0].take" in output and f"at most {MAX_TAKES}" in output, output
    huge = write_spec(tmp_path / "huge", set_take(small_spec(), 99999999999999999999))  # no seed, no crash
    code, output = cli("validate", str(huge))
    assert code == 2 and "$.episodes[0].scenes[0].shots[0].take" in output, output


def test_the_schema_documents_take_and_its_bounds():
    code, output = cli("schema")
    assert code == 0
    assert "which take the shot renders" in output
    (take,) = {json.dumps(found) for found in _properties_named(json.loads(output), "take")}
    assert '"maximum": 16' in take and '"minimum": 1' in take


def _properties_named(schema, name: str):
    """Every property `name` anywhere in a JSON schema."""
    if isinstance(schema, dict):
        if name in schema.get("properties", {}):
            yield schema["properties"][name]
        for value in schema.values():
            yield from _properties_named(value, name)
    elif isinstance(schema, list):
        for value in schema:
            yield from _properties_named(value, name)


def test_take_counts_and_queue_targets_are_bounded():
    assert take_count("") == 4 and take_count("16") == 16
    for wrong in ("0", "17", "x", "-2"):
        with pytest.raises(TakeRefused, match="1 to 16"):
            take_count(wrong)
    target = parse_target(f"take:{SHOT}#3")
    assert (target.kind, target.path, target.take, target.text) == ("take", SHOT, 3, f"take:{SHOT}#3")
    assert target.request(Path("p.json"), "ana").takes == (3,)
    for wrong in (f"take:{SHOT}", f"take:{SHOT}#0", f"take:{SHOT}#17", f"take:{SHOT}#x", "take:s01e01#2"):
        with pytest.raises(InvalidTarget):
            parse_target(wrong)


# ---------------------------------------------------------------- the command line


def test_render_takes_without_a_shot_or_out_of_bounds_is_one_line_and_exit_2(small_production: Path):
    for args, said in ((["--takes", "3"], "--takes needs --shot"),
                       (["--shot", SHOT, "--takes", "0"], "--takes must be 1 to 16, got 0"),
                       (["--shot", SHOT, "--takes", "17"], "--takes must be 1 to 16, got 17"),
                       (["--shot", SHOT, "--takes", "2", "--frames", "0:2"], "--takes renders whole shots")):
        code, output = cli("render", str(small_production), *args)
        assert code == 2, output
        assert said in output and len(output.strip().splitlines()) == 1, output
    assert not (small_production.parent / ".reelforge").exists()  # nothing made, nothing recorded


def test_takes_render_to_their_own_files_differ_and_re_render_byte_for_byte(tmp_path: Path):
    a = write_spec(tmp_path / "a", takes_spec())
    run_cli("render", str(a))  # the shot's normal render: take 1 reuses it
    before = a.read_bytes()
    out = run_cli("render", str(a), "--shot", SHOT, "--takes", "3").stdout
    assert a.read_bytes() == before  # the spec is not touched
    files = [a.parent / "renders" / "takes" / "s01e01" / "sc01" / "sh01" / f"take-{k}.mp4" for k in (1, 2, 3)]
    assert all(f.is_file() for f in files)
    # the table: each take with its seed and file, take 1 from the store (the shot's normal render), the spec's marked
    seed = takes_spec()["seed"]
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows if row.split("│")[1].strip()] == ["1 (the spec’s)", "2", "3"]
    for k in (1, 2, 3):
        assert str(take_seed(seed, SHOT, k)) in out
    assert "3 from the store" in rows[0] and "3 rendered" in rows[1]
    frames = frames_of(a)
    assert frames[(SHOT, 1)] != frames[(SHOT, 2)] != frames[(SHOT, 3)] != frames[(SHOT, 1)]
    assert len({stream_sha(f) for f in files}) == 3
    # another process, another production folder, no store: take 2 again, the same frames and stream
    b = write_spec(tmp_path / "b", takes_spec())
    run_cli("render", str(b), "--shot", SHOT, "--takes", "2")
    again = b.parent / "renders" / "takes" / "s01e01" / "sc01" / "sh01" / "take-2.mp4"
    assert stream_sha(again) == stream_sha(files[1])
    assert frames_of(b)[(SHOT, 2)] == frames[(SHOT, 2)]
    # and rendering the takes again in the first folder reuses the store: the same bytes
    out = run_cli("render", str(a), "--shot", SHOT, "--takes", "2").stdout
    assert out.count("from the store") == 2
    assert stream_sha(files[1]) == stream_sha(again)


def test_identical_takes_are_said(tmp_path: Path):
    spec = write_spec(tmp_path / "show", small_spec(2))  # gray-box, no grain, no handheld: nothing seeded
    code, out = cli("render", str(spec), "--shot", SHOT, "--takes", "2")
    assert code == 0, out
    assert "take 2 has the same frames as take 1" in " ".join(out.split())


# ---------------------------------------------------------------- listing and picking


def test_takes_are_listed_for_the_shot_as_it_is_now_and_a_pick_is_a_committed_reused_take(tmp_path: Path):
    spec = write_spec(tmp_path / "show", takes_spec(2))
    assert cli("render", str(spec), "--shot", SHOT, "--takes", "3")[0] == 0
    listed = shot_takes(spec, SHOT)
    assert [(t.number, t.chosen, t.rendered) for t in listed.takes] == [(1, True, True), (2, False, True),
                                                                       (3, False, True)]
    assert all(t.still and t.video and t.video.path.name == f"take-{t.number}.mp4" for t in listed.takes)
    # rendering other takes does not make the shot "changed": it is judged by the take its spec uses
    status = production_status(spec).shot(SHOT)
    assert status.state == UP_TO_DATE and status.job_key == listed.takes[0].job_key
    assert shot_thumbnail(spec, SHOT) == listed.takes[0].still
    # a take's first render is a take side by side, not the shot's key changing: no key-change entry
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as db:
        assert db.execute("SELECT count(*) FROM log_entries WHERE kind = 'key-change'").fetchone() == (0,)

    base = load_shot_form(spec, SHOT).base
    with pytest.raises(EditInvalid, match="reason"):
        pick_take(spec, SHOT, 2, base=base, reason=" ", actor="ana")
    with pytest.raises(TakeRefused, match="take 5 of s01e01/sc01/sh01 is not rendered"):
        pick_take(spec, SHOT, 5, base=base, reason="x", actor="ana")
    before = spec.read_text().splitlines()
    result = pick_take(spec, SHOT, 2, base=base, reason="the calmer grain", actor="ana")
    assert result.changed and result.created
    # one line more (and a comma on the line before it): the rest of the file as it was written
    diff = [line for line in difflib.ndiff(before, spec.read_text().splitlines()) if line[:2] in ("+ ", "- ")]
    added = [line[2:].strip() for line in diff if line.startswith("+ ")]
    removed = [line[2:].strip() for line in diff if line.startswith("- ")]
    assert '"take": 2' in added and len(added) == len(removed) + 1
    assert [line for line in added if line != '"take": 2'] == [line + "," for line in removed]
    assert json.loads(spec.read_text())["episodes"][0]["scenes"][0]["shots"][0]["take"] == 2
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as db:
        actor, reason = db.execute("SELECT actor, reason FROM log_entries WHERE kind = 'commit' "
                                   "ORDER BY seq DESC LIMIT 1").fetchone()
    assert (actor, reason) == ("ana", "the calmer grain")
    # the shot is now take 2's render, with nothing rendered again
    status = production_status(spec).shot(SHOT)
    assert status.state == UP_TO_DATE and status.job_key == listed.takes[1].job_key
    assert status.last_render.render_id == listed.takes[1].render_id
    assert shot_thumbnail(spec, SHOT) == listed.takes[1].still
    assert [t.number for t in shot_takes(spec, SHOT).takes if t.chosen] == [2]
    # a later edit of the shot: the takes of the old prompt are no longer offered, the spec's take is (unrendered)
    shot = json.loads(spec.read_text())
    shot["episodes"][0]["scenes"][0]["shots"][0]["prompt"] = "Mara runs"
    spec.write_text(json.dumps(shot, indent=2))
    assert [(t.number, t.rendered) for t in shot_takes(spec, SHOT).takes] == [(2, False)]
    assert production_status(spec).shot(SHOT).state == CHANGED
