"""Blocking as a director writes it: what validate reports (with paths) and what the plan resolves it to."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from conftest import EXAMPLE, example_spec, run_cli, unblocked, write_spec

from reelforge.errors import Problem
from reelforge.plan.blocking import PROP_CLEARANCE_M, WALK_SPEED_MPS
from reelforge.plan.jobs import find_job, plan
from reelforge.spec.load import blocking_warnings, load_production, validate_file

SCENE = "$.episodes[0].scenes[0]"
SHOT = f"{SCENE}.shots[1]"  # mara and theo on the harbor
PATH = "s01e01/sc01/sh02"
# The harbor's first prop (a box 1.2 m wide and deep at x -3, z 2.5, 1 m high), id "crates".
CRATES = (-3.0, 2.5)


@pytest.fixture
def spec() -> dict:
    """The bundled example without its blocking, with marks of our own on the harbor (and the example's
    prop ids), and a 4-second two-hander."""
    spec = unblocked(copy.deepcopy(example_spec()))
    harbor = spec["locations"][0]
    assert [prop.get("id") for prop in harbor["props"]] == ["crates", "crate-stack", "lighthouse", "harbor-wall"]
    harbor["marks"] = {"quay-end": [-1.0, -2.0], "steps": [2.0, 1.0]}
    spec["episodes"][0]["scenes"][0]["shots"][1]["seconds"] = 4
    return spec


def shot(spec: dict, index: int = 1) -> dict:
    return spec["episodes"][0]["scenes"][0]["shots"][index]


def problems(tmp_path: Path, spec: dict) -> list[Problem]:
    return validate_file(write_spec(tmp_path, spec))


def only_problem(tmp_path: Path, spec: dict) -> Problem:
    found = problems(tmp_path, spec)
    assert len(found) == 1, found
    return found[0]


def assert_problem(tmp_path: Path, spec: dict, path: str, *words: str) -> None:
    problem = only_problem(tmp_path, spec)
    assert problem.path == path, problem
    for word in words:
        assert word in problem.message, f"{word!r} not in {problem.message!r}"


def figures(tmp_path: Path, spec: dict, shot_path: str = PATH) -> dict:
    path = write_spec(tmp_path, spec)
    job = find_job(plan(load_production(path), base_dir=path.parent), shot_path)
    return {figure.character_id: figure for figure in job.figures}


def test_a_blocked_shot_is_valid(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {
        "mara": {"mark": "quay-end", "facing": "camera",
                 "actions": [{"action": "walk", "at_s": 0.5, "to": "crates"},
                             {"action": "gesture", "at_s": 1.0, "gesture": "wave", "to": "theo"},
                             {"action": "look-at", "at_s": 1.2, "to": "theo"},
                             {"action": "sit", "at_s": 3.4, "duration_s": 0.5}]},
        "theo": {"mark": [1.5, 2.0], "facing": 180, "actions": [{"action": "turn", "at_s": 1.0, "to": "mara"}]},
    }
    assert problems(tmp_path, spec) == []


# --------------------------------------------------------------------------- who the blocking is for


def test_shot_entry_for_an_uncast_character(tmp_path: Path, spec: dict) -> None:
    shot(spec, 0)["blocking"] = {"theo": {"mark": "steps"}}  # sh01 casts mara only
    assert_problem(tmp_path, spec, f"{SCENE}.shots[0].blocking.theo", "does not cast 'theo'", "cast: mara")


def test_scene_entry_for_a_character_a_shot_does_not_cast_is_not_used(tmp_path: Path, spec: dict) -> None:
    spec["episodes"][0]["scenes"][0]["blocking"] = {"theo": {"mark": "steps"}}  # sh01 casts mara only
    assert problems(tmp_path, spec) == []
    assert figures(tmp_path, spec, "s01e01/sc01/sh03")["theo"].x_m == 2.0  # sh03 casts theo: it applies


def test_blocking_for_an_unknown_character(tmp_path: Path, spec: dict) -> None:
    spec["blocking"] = {"marra": {"mark": "steps"}}
    assert_problem(tmp_path, spec, "$.blocking.marra", "unknown character 'marra'", "did you mean 'mara'?")


# --------------------------------------------------------------------------- names


def test_unknown_mark_lists_marks_and_props_and_suggests(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "walk", "at_s": 0.5, "to": "crate"}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[0].to", "unknown mark or prop 'crate'",
                   "did you mean 'crates'?", "marks: quay-end, steps",
                   "prop ids: crate-stack, crates, harbor-wall, lighthouse")


def test_unknown_start_mark(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"theo": {"mark": "pier"}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.theo.mark", "unknown mark or prop 'pier'", "quay-end")


def test_a_mark_name_that_is_no_id_is_an_unknown_mark(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"theo": {"mark": "Quay End"}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.theo.mark", "unknown mark or prop 'Quay End'",
                   "did you mean 'quay-end'?")


def test_an_arrival_before_the_start_is_reported_at_arrive_s(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "walk", "at_s": 1.0, "to": "steps", "arrive_s": 0.5}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[0].arrive_s", "must come after at_s")


def test_unknown_facing_target_lists_cast_and_camera(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"theo": {"facing": "mra"}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.theo.facing", "unknown target 'mra'", "did you mean 'mara'?",
                   "other cast members: mara", '"camera"')


@pytest.mark.parametrize("target", ["theo", "camera"])
def test_a_walk_goes_to_a_place_not_a_character_or_the_camera(tmp_path: Path, spec: dict, target: str) -> None:
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "walk", "at_s": 0.5, "to": target}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[0].to", "is a place", "not ")


def test_a_start_mark_is_a_place_not_a_character(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"mark": "theo"}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.mark", "a start mark is a place", "not a character")


@pytest.mark.parametrize("action", [{"action": "turn", "at_s": 1.0, "to": "theo"},
                                    {"action": "look-at", "at_s": 1.0, "to": "camera"},
                                    {"action": "gesture", "at_s": 1.0, "gesture": "point", "to": "theo"}])
def test_cast_members_and_the_camera_are_things_to_face(tmp_path: Path, spec: dict, action: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"facing": "theo", "actions": [action]}}
    assert problems(tmp_path, spec) == []


def test_facing_a_character_not_cast_in_the_shot(tmp_path: Path, spec: dict) -> None:
    shot(spec, 0)["blocking"] = {"mara": {"actions": [{"action": "turn", "at_s": 1.0, "to": "theo"}]}}
    assert_problem(tmp_path, spec, f"{SCENE}.shots[0].blocking.mara.actions[0].to", "'theo' is not cast in this shot")


def test_a_mark_named_like_a_prop(tmp_path: Path, spec: dict) -> None:
    spec["locations"][0]["marks"]["crates"] = [0.0, -3.0]
    assert_problem(tmp_path, spec, "$.locations[0].marks.crates", "names both a mark and a prop",
                   "$.locations[0].props[0].id")


def test_duplicate_prop_ids(tmp_path: Path, spec: dict) -> None:
    spec["locations"][0]["props"][1]["id"] = "crates"
    assert_problem(tmp_path, spec, "$.locations[0].props[1].id", "duplicate prop id 'crates'")


# --------------------------------------------------------------------------- on the floor, off the props


def test_a_point_outside_the_set(tmp_path: Path, spec: dict) -> None:
    spec["locations"][0]["area_m"] = [-10, -10, 10, 20]
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "walk", "at_s": 0.5, "path": [[0, 1], [12, 1]],
                                                    "arrive_s": 3.5}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[0].path[1]", "[12, 1]", "outside the set's floor",
                   "x from -10 to 10")


def test_a_start_mark_inside_a_prop(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"theo": {"mark": [-3.2, 2.4]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.theo.mark", "inside prop 'crates'")


def test_a_destination_inside_a_cylinder(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "walk", "at_s": 0.5, "to": [4.5, 8.5],
                                                    "arrive_s": 3.5}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[0].to", "inside prop 'lighthouse'")


def test_a_location_mark_off_the_floor(tmp_path: Path, spec: dict) -> None:
    spec["locations"][0]["marks"]["far"] = [30.0, 0.0]
    assert_problem(tmp_path, spec, "$.locations[0].marks.far", "mark 'far'", "outside the set's floor")


def test_an_empty_area(tmp_path: Path, spec: dict) -> None:
    spec["locations"][0]["area_m"] = [5, -10, -5, 10]
    assert_problem(tmp_path, spec, "$.locations[0].area_m", "x_min must be less than x_max")


# --------------------------------------------------------------------------- time


def test_an_action_starting_at_the_shots_end(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "hold", "at_s": 4.0}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[0].at_s", "at or after the end of the shot",
                   "4 s long (96 frames at 24 fps)")


def test_a_walk_arriving_after_the_shots_end_by_its_speed(tmp_path: Path, spec: dict) -> None:
    # mara starts at the line-up's left (-0.55, 0): 6 m to the right at 1.3 m/s takes 4.615 s
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "walk", "at_s": 0.0, "to": [5.45, 0.0]}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[0]", "ends at 4.615 s", "4 s long",
                   "6 m at 1.3 m/s")


def test_an_arrival_after_the_shots_end(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "run", "at_s": 1.0, "to": "steps", "arrive_s": 4.5}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[0].arrive_s", "ends at 4.5 s", "4 s long")


def test_implausible_speeds_are_warned_about_at_what_sets_them(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {
        "mara": {"mark": [-4.0, -1.0], "actions": [  # 8 m in half a second
            {"action": "walk", "at_s": 0.5, "to": [4.0, -1.0], "arrive_s": 1.0}]},
        "theo": {"mark": [-4.0, 1.0], "actions": [  # a walk at a run's pace
            {"action": "walk", "at_s": 0.5, "speed_mps": 3.0, "to": [2.0, 1.0]}]}}
    path = write_spec(tmp_path, spec)
    assert validate_file(path) == []  # legal: previz draws it
    warnings = {w.path: w.message for w in blocking_warnings(load_production(path))}
    assert set(warnings) == {f"{SHOT}.blocking.mara.actions[0].arrive_s", f"{SHOT}.blocking.theo.actions[0].speed_mps"}
    mara = warnings[f"{SHOT}.blocking.mara.actions[0].arrive_s"]
    assert "8 m in 0.5 s (16 m/s), faster than anyone moves (12 m/s at most)" in mara and "later arrive_s" in mara
    assert "(3 m/s), faster than a walk (2.5 m/s at most): make it a run" in warnings[
        f"{SHOT}.blocking.theo.actions[0].speed_mps"]
    result = run_cli("validate", str(path), "--strict", check=False)
    assert result.returncode == 2 and "faster than anyone moves" in result.stderr
    assert blocking_warnings(load_production(EXAMPLE)) == []  # the bundled example walks at walking pace


def test_a_mark_off_the_floor_says_what_to_do(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"mark": [30.0, 0.0]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.mark", "outside the set's floor", "widen area_m")


def test_a_default_duration_past_the_end(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "gesture", "at_s": 3.0, "gesture": "wave"}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[0]", "ends at 4.5 s", "lasts 1.5 s")


def test_a_given_duration_past_the_end(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "hold", "at_s": 3.0, "duration_s": 2}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[0].duration_s", "ends at 5 s")


def test_body_actions_overlap(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "walk", "at_s": 0.0, "to": [-0.55, 2.0]},
                                                   {"action": "turn", "at_s": 1.0, "heading_deg": 90}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[1].at_s", "starts before their walk",
                   "(actions[0], 0–1.538 s)", "one body action at a time")


def test_head_actions_overlap_but_a_gesture_during_a_walk_is_fine(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "walk", "at_s": 0.0, "to": [-0.55, 2.0]},
                                                   {"action": "gesture", "at_s": 0.5, "gesture": "wave"},
                                                   {"action": "look-at", "at_s": 0.5, "to": "theo",
                                                    "duration_s": 1.0},
                                                   {"action": "look-at", "at_s": 1.0, "to": "camera"}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[3].at_s", "starts before their look-at",
                   "one head action at a time")


def test_actions_out_of_time_order(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "hold", "at_s": 2.0},
                                                   {"action": "gesture", "at_s": 1.0, "gesture": "wave"}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[1].at_s", "in time order", "one at 2 s")


def test_an_inherited_entry_names_the_first_shot_it_fails_in(tmp_path: Path, spec: dict) -> None:
    # sh01 (3 s) and sh02 (4 s) cast mara; a 3.5 s hold fits sh02 only.
    spec["episodes"][0]["scenes"][0]["blocking"] = {"mara": {"actions": [
        {"action": "hold", "at_s": 3.5, "duration_s": 0.5}]}}
    assert_problem(tmp_path, spec, f"{SCENE}.blocking.mara.actions[0].at_s", "in shot s01e01/sc01/sh01",
                   "inherits this from the scene", "3 s long")


def test_an_inherited_problem_counts_the_other_shots(tmp_path: Path, spec: dict) -> None:
    spec["blocking"] = {"mara": {"mark": "nowhere"}}  # harbor and alley shots cast mara
    assert_problem(tmp_path, spec, "$.blocking.mara.mark", "unknown mark or prop 'nowhere'",
                   "in shot s01e01/sc01/sh01", "more shots too")


# --------------------------------------------------------------------------- where they start, sitting


def test_two_characters_starting_on_one_spot(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"mark": "steps"}, "theo": {"mark": [2.2, 1.1]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.theo.mark", "theo starts 0.224 m from mara", "0.5 m apart")


def test_walking_while_seated(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "sit", "at_s": 0.0},
                                                   {"action": "walk", "at_s": 1.5, "to": "steps"}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[1].action", "mara is seated",
                   "add a stand before the walk")


def test_sit_while_seated_and_stand_while_standing(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "stand", "at_s": 0.0},
                                                   {"action": "sit", "at_s": 1.0},
                                                   {"action": "sit", "at_s": 2.0}]}}
    found = problems(tmp_path, spec)
    assert [p.path for p in found] == [f"{SHOT}.blocking.mara.actions[0].action",
                                       f"{SHOT}.blocking.mara.actions[2].action"]
    assert "already standing" in found[0].message and "already seated" in found[1].message


def test_validate_exits_2_with_one_line_per_problem(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "walk", "at_s": 0.5, "to": "crate"}]}}
    result = run_cli("validate", str(write_spec(tmp_path, spec)), check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if "blocking" in line]
    assert len(lines) == 1 and f"{SHOT}.blocking.mara.actions[0].to" in lines[0] and "'crates'" in lines[0]


# --------------------------------------------------------------------------- the plan


def test_an_unblocked_production_plans_figures_as_before(tmp_path: Path) -> None:
    """Figures of shots without blocking: the line-up, facing the camera, blocking None."""
    spec = unblocked(example_spec())
    for episode in plan(load_production(write_spec(tmp_path, spec)), base_dir=tmp_path):
        for job in episode.jobs:
            count = len(job.figures)
            for i, figure in enumerate(job.figures):
                assert figure.blocking is None
                assert (figure.x_m, figure.z_m) == (round((i - (count - 1) / 2) * 1.1, 6), 0.0)


def test_a_mark_only_moves_the_figure(tmp_path: Path, spec: dict) -> None:
    before = figures(tmp_path / "a", spec)
    shot(spec)["blocking"] = {"theo": {"mark": "steps"}}
    after = figures(tmp_path / "b", spec)
    assert after["mara"] == before["mara"]
    assert after["theo"] == before["theo"].model_copy(update={"x_m": 2.0, "z_m": 1.0})


def test_walk_to_a_prop_ends_beside_it_on_the_walkers_side_at_walking_speed(tmp_path: Path, spec: dict) -> None:
    # From the quay end (-1, -2) the crates' nearest edge point is their front-right corner (-2.4, 1.9).
    shot(spec)["blocking"] = {"mara": {"mark": "quay-end", "actions": [
        {"action": "walk", "at_s": 0.5, "to": "crates"}, {"action": "sit", "at_s": 3.4, "duration_s": 0.5}]}}
    mara = figures(tmp_path, spec)["mara"]
    assert (mara.x_m, mara.z_m) == (-1.0, -2.0)
    walk, sit = mara.blocking.actions
    (x0, z0), (x1, z1) = walk.path
    assert (x0, z0) == (-1.0, -2.0)
    gap = math.hypot(x1 + 2.4, z1 - 1.9)
    assert gap == pytest.approx(PROP_CLEARANCE_M, abs=1e-6)
    assert (x1 + 2.4) / gap == pytest.approx(1.4 / math.hypot(1.4, 3.9), abs=1e-6)  # straight out from the corner
    assert walk.end_s == pytest.approx(0.5 + math.hypot(x1 - x0, z1 - z0) / WALK_SPEED_MPS, abs=1e-6)
    assert sit.seat_height_m == 1.0  # the crates' top


def test_walk_to_a_prop_from_straight_in_front_and_a_cylinder(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {
        "mara": {"mark": [-3.0, -1.0], "actions": [{"action": "walk", "at_s": 0.0, "to": "crates", "arrive_s": 2}]},
        "theo": {"mark": [4.5, 3.0], "actions": [{"action": "run", "at_s": 0.0, "to": "lighthouse"}]}}
    found = figures(tmp_path, spec)
    mara, theo = found["mara"].blocking.actions[0], found["theo"].blocking.actions[0]
    assert mara.path[-1] == (-3.0, round(2.5 - 0.6 - PROP_CLEARANCE_M, 6)) and mara.end_s == 2.0
    assert theo.path[-1] == (4.5, round(9.0 - 0.8 - PROP_CLEARANCE_M, 6))  # radius 0.8, toward theo
    assert theo.end_s == pytest.approx(round((9.0 - 0.8 - PROP_CLEARANCE_M - 3.0) / 3.5, 6))


def test_walks_chain_from_where_the_last_one_ended(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"mark": "quay-end", "actions": [
        {"action": "walk", "at_s": 0.0, "to": "steps", "speed_mps": 2.0},
        {"action": "walk", "at_s": 2.2, "path": [[2.0, 3.0], [0.0, 3.0]], "arrive_s": 3.5}]},
                              "theo": {"mark": [3.0, -2.0]}}  # out of her way: in the line-up she walks into him
    first, second = figures(tmp_path, spec)["mara"].blocking.actions
    assert first.path == ((-1.0, -2.0), (2.0, 1.0)) and first.end_s == round(math.hypot(3, 3) / 2, 6)
    assert second.path == ((2.0, 1.0), (2.0, 3.0), (0.0, 3.0)) and second.end_s == 3.5


def test_camera_targets_and_cast_targets(tmp_path: Path, spec: dict) -> None:
    # Cast centre (0.5, 0); the shot inherits a lock-off: 6 m in front of it, so the camera starts at (0.5, -6).
    shot(spec)["blocking"] = {
        "mara": {"mark": [-1.0, 0.0], "facing": "camera", "actions": [
            {"action": "look-at", "at_s": 0.0, "to": "theo"},
            {"action": "turn", "at_s": 1.0, "to": "camera"},
            {"action": "gesture", "at_s": 1.0, "gesture": "point", "to": "lighthouse"}]},
        "theo": {"mark": [2.0, 0.0], "facing": "mara", "actions": [{"action": "turn", "at_s": 1.0, "to": "mara"}]}}
    found = figures(tmp_path, spec)
    mara, theo = found["mara"].blocking, found["theo"].blocking
    assert mara.heading_deg == pytest.approx(math.degrees(math.atan2(1.5, 6.0)), abs=1e-6)
    look, turn, gesture = mara.actions
    assert look.face_character == "theo" and look.face_point is None and look.end_s == 0.4
    assert turn.heading_deg == pytest.approx(math.degrees(math.atan2(1.5, 6.0)), abs=1e-6)
    assert gesture.face_point == (4.5, 9.0) and gesture.gesture == "point"
    assert theo.heading_deg == -90.0
    assert theo.actions[0].face_character == "mara" and theo.actions[0].heading_deg is None


def test_inheritance_is_per_character(tmp_path: Path, spec: dict) -> None:
    spec["blocking"] = {"mara": {"mark": [-1.5, 0.0]}, "theo": {"mark": [1.0, 0.0]}}
    spec["episodes"][0]["scenes"][0]["blocking"] = {"theo": {"mark": "steps"}}
    shot(spec)["blocking"] = {"mara": {"mark": "quay-end"}}
    found = figures(tmp_path, spec)
    assert (found["mara"].x_m, found["mara"].z_m) == (-1.0, -2.0)  # the shot's own entry
    assert (found["theo"].x_m, found["theo"].z_m) == (2.0, 1.0)  # the scene's beats the production's
    alley = figures(tmp_path, spec, "s01e01/sc02/sh01")
    assert (alley["mara"].x_m, alley["theo"].x_m) == (-1.5, 1.0)  # another scene: the production's


def test_a_shot_entry_replaces_the_inherited_one_whole(tmp_path: Path, spec: dict) -> None:
    spec["episodes"][0]["scenes"][0]["blocking"] = {
        "mara": {"mark": "steps", "actions": [{"action": "hold", "at_s": 0.0}]}}
    shot(spec)["blocking"] = {"mara": {"facing": 90}}
    mara = figures(tmp_path, spec)["mara"]
    assert (mara.x_m, mara.z_m) == (-0.55, 0.0)  # no mark in the shot's entry: the line-up
    assert mara.blocking.heading_deg == 90.0 and mara.blocking.actions == ()


def test_blocking_changes_the_job_key_of_its_shot_only(tmp_path: Path, spec: dict) -> None:
    def keys(folder: Path) -> dict[str, str]:
        path = write_spec(folder, spec)
        return {job.shot_path: job.key for episode in plan(load_production(path), base_dir=path.parent)
                for job in episode.jobs}

    before = keys(tmp_path / "a")
    shot(spec)["blocking"] = {"mara": {"actions": [{"action": "gesture", "at_s": 1.0, "gesture": "wave"}]}}
    after = keys(tmp_path / "b")
    assert {p for p in before if before[p] != after[p]} == {PATH}


def test_schema_documents_blocking(tmp_path: Path) -> None:
    schema = json.loads(run_cli("schema").stdout)
    action = schema["$defs"]["BlockingAction"]["properties"]
    assert action["action"]["enum"] == ["walk", "run", "turn", "look-at", "sit", "stand", "gesture", "hold"]
    assert "walk 1.3" in action["speed_mps"]["description"]
    assert "0 faces the camera's side" in schema["$defs"]["CharacterBlocking"]["properties"]["facing"]["description"]
    assert "blocking" in schema["$defs"]["Shot"]["properties"]


# --------------------------------------------------------------------------- walking into each other, through props


def test_a_walk_through_someone_standing_is_reported_at_its_destination(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"theo": {"mark": "steps"},
                              "mara": {"mark": [-1, 1], "actions": [{"action": "walk", "at_s": 0.5, "to": [4, 1],
                                                                     "arrive_s": 3.5}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[0].to", "mara's walk (actions[0]) comes within 0",
                   "m of theo at 2.", "theo at [2, 1]", "at least 0.5 m apart", "a path point")


def test_a_walk_that_stops_beside_someone_is_fine(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"theo": {"mark": "steps"},
                              "mara": {"mark": [-1, 1], "actions": [{"action": "walk", "at_s": 0.5, "to": [1.4, 1]}]}}
    assert problems(tmp_path, spec) == []


def test_two_walks_meeting_are_reported_once_at_the_later_one(tmp_path: Path, spec: dict) -> None:
    """mara crosses left to right while theo crosses front to back: they meet at [1, 1], half way."""
    mara = {"mark": [-1, 1], "actions": [{"action": "walk", "at_s": 0.5, "to": [3, 1], "arrive_s": 2.5}]}
    theo = {"mark": [1, -1], "actions": [{"action": "walk", "at_s": 0.6, "path": [[1, 3]], "arrive_s": 2.6}]}
    shot(spec)["blocking"] = {"mara": mara, "theo": theo}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.theo.actions[0].path", "theo's walk (actions[0]) comes within",
                   "m of mara at 1.5")
    theo["actions"][0].update(at_s=2.0, arrive_s=3.9)  # the same paths, theo setting off as mara arrives
    assert problems(tmp_path, spec) == []


def test_starting_too_close_and_walking_apart_is_the_start_gaps_problem_only(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"mark": "steps"},
                              "theo": {"mark": [2.2, 1.1], "actions": [{"action": "walk", "at_s": 0, "to": [4, 3]}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.theo.mark", "theo starts 0.224 m from mara")


def test_validate_samples_walks_where_previz_plays_them(tmp_path: Path, spec: dict) -> None:
    """The positions validate checks for collisions are previz's, to the bit: the same path-by-length
    interpolation and easing (a custom curve, a corner, a repeated point, two walks in a row)."""
    from reelforge.previz.blocking import BlockingTimeline
    from reelforge.spec.staging import GroundPlan, ground_track, stage_character

    shot(spec)["blocking"] = {"mara": {"mark": [-1, -1], "actions": [
        {"action": "walk", "at_s": 0.25, "path": [[0.3, 0.7], [0.3, 0.7], [2.1, 1.9]], "speed_mps": 2.0,
         "easing": [0.3, -0.4, 0.2, 1.6]},
        {"action": "run", "at_s": 2.5, "to": "crates", "easing": "ease-out"}]}, "theo": {"mark": [3.0, -2.0]}}
    path = write_spec(tmp_path, spec)
    production = load_production(path)
    blocking = production.episodes[0].scenes[0].shots[1].blocking["mara"]
    stage = stage_character("mara", blocking, (-0.55, 0.0), GroundPlan(production.locations[0]), ["mara", "theo"])
    timeline = BlockingTimeline(find_job(plan(production, base_dir=path.parent), PATH))
    times = [index / 24 for index in range(96)]
    track = ground_track(stage.start, stage.actions, times)
    assert track == [timeline.ground_position("mara", t) for t in times]
    assert len(set(track)) > 40  # it moves


@pytest.mark.parametrize("start, end, prop", [([-5, 2.5], [-1, 2.5], "crates"), ([3, 9], [6, 9], "lighthouse")])
def test_a_walk_through_a_prop(tmp_path: Path, spec: dict, start: list, end: list, prop: str) -> None:
    shot(spec)["blocking"] = {"mara": {"mark": start, "actions": [{"action": "walk", "at_s": 0.5, "to": end,
                                                                   "arrive_s": 3.5}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[0].to",
                   f"mara walks through prop '{prop}' between [{start[0]}, {start[1]}] and [{end[0]}, {end[1]}]: "
                   f"add a path point around it")


def test_a_run_through_a_prop_is_reported_at_the_path_point_after_it(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"mark": [-5, 2.5], "actions": [{"action": "run", "at_s": 0.5,
                                                                       "path": [[-1, 2.5], [-1, 0]]}]}}
    assert_problem(tmp_path, spec, f"{SHOT}.blocking.mara.actions[0].path[0]", "mara runs through prop 'crates'")


def test_a_walk_round_a_prop_or_to_it_is_fine(tmp_path: Path, spec: dict) -> None:
    shot(spec)["blocking"] = {"mara": {"mark": [-5, 2.5], "actions": [
        {"action": "walk", "at_s": 0.0, "path": [[-3, 1.0]], "to": [-1, 2.5], "speed_mps": 2.0},
        {"action": "walk", "at_s": 3.0, "to": "crates", "arrive_s": 3.9}]}}  # back, ending beside it
    assert problems(tmp_path, spec) == []


# --------------------------------------------------------------------------- names and messages


@pytest.mark.parametrize("name, like", [("theo", "a character ($.characters[1].id)"), ("camera", "the camera")])
def test_a_mark_named_like_a_character_or_the_camera(tmp_path: Path, spec: dict, name: str, like: str) -> None:
    spec["locations"][0]["marks"][name] = [0.0, -3.0]
    assert_problem(tmp_path, spec, f"$.locations[0].marks.{name}", f"mark '{name}' is named like {like}",
                   "rename the mark")


@pytest.mark.parametrize("where, blocking, path, words", [
    ("shot", {"Mara": {"mark": "steps"}}, ".blocking.Mara", ["'Mara' is not a valid id", "lower-case letters",
                                                             "did you mean 'mara'?"]),
    ("shot", {"mára": {"mark": "steps"}}, ".blocking['mára']", ["'mára' is not a valid id", "did you mean 'mara'?"]),
    ("marks", {"Quay End": [0, 0]}, "['Quay End']", ["'Quay End' is not a valid id", "did you mean 'quay-end'?"]),
    ("shot", {"mara": {"actions": [{"action": "walk", "at_s": 0.5, "to": [1, 2, 3]}]}}, ".blocking.mara.actions[0].to",
     ["a point is [x, z] (two numbers), got 3 numbers"]),
    ("shot", {"mara": {"actions": [{"action": "walk", "at_s": 0.5, "to": [1]}]}}, ".blocking.mara.actions[0].to",
     ["a point is [x, z] (two numbers), got 1 number"]),
    ("shot", {"mara": {"mark": []}}, ".blocking.mara.mark", ["a point is [x, z] (two numbers), got an empty list"]),
    ("shot", {"mara": {"facing": [1, 2, 3]}}, ".blocking.mara.facing", ["got 3 numbers"]),
    ("shot", {"mara": {"actions": [{"action": "walk", "at_s": 0.5, "path": [[1, 2], [1, "a", 2]]}]}},
     ".blocking.mara.actions[0].path[1]", ["a point is [x, z] (two numbers), got a list of 3 items"]),
])
def test_keys_that_are_no_ids_and_points_of_the_wrong_size_read_plainly(tmp_path: Path, spec: dict, where: str,
                                                                        blocking: dict, path: str,
                                                                        words: list[str]) -> None:
    if where == "marks":
        spec["locations"][0]["marks"].update(blocking)
        path = "$.locations[0].marks" + path
    else:
        shot(spec)["blocking"] = blocking
        path = SHOT + path
    assert_problem(tmp_path, spec, path, *words)


@pytest.mark.parametrize("field", ["to", "facing"])
def test_a_long_name_is_quoted_short(tmp_path: Path, spec: dict, field: str) -> None:
    name = "x" * 5000
    entry = {"facing": name} if field == "facing" else {"actions": [{"action": "walk", "at_s": 0.5, "to": name}]}
    shot(spec)["blocking"] = {"mara": entry}
    problem = only_problem(tmp_path, spec)
    assert "'" + "x" * 39 + "…'" in problem.message and len(problem.message) < 400
