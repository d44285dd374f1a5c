"""Spec loading: every kind of problem is reported at the right JSON path, in plain words."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from conftest import unblocked

from reelforge.errors import Problem, SpecError
from reelforge.spec.json_problems import json_path
from reelforge.spec.load import load_production, production_schema, validate_file
from reelforge.spec.model import Production

EXAMPLE = Path(__file__).parents[1] / "examples/harbor-lights/production.json"
SHOT = "$.episodes[0].scenes[0].shots[0]"


@pytest.fixture(scope="module")
def example() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture
def spec(example: dict) -> dict:
    """A fresh, mutable copy of the bundled example."""
    return copy.deepcopy(example)


def shot(spec: dict, episode: int = 0, scene: int = 0, index: int = 0) -> dict:
    return spec["episodes"][episode]["scenes"][scene]["shots"][index]


def problems_in(tmp_path: Path, spec: dict | str) -> list[Problem]:
    """Write a spec (a dict, or raw text) to a file and validate it."""
    path = tmp_path / "production.json"
    path.write_text(spec if isinstance(spec, str) else json.dumps(spec, indent=2), encoding="utf-8")
    return validate_file(path)


def only_problem(tmp_path: Path, spec: dict | str) -> Problem:
    problems = problems_in(tmp_path, spec)
    assert len(problems) == 1, problems
    return problems[0]


def assert_words(message: str, *words: str) -> None:
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


# --------------------------------------------------------------------------- valid specs


def test_bundled_example_is_valid() -> None:
    assert validate_file(EXAMPLE) == []
    production = load_production(EXAMPLE)
    assert isinstance(production, Production)
    assert production.series.id == "harbor-lights"


def test_load_accepts_str_path() -> None:
    assert load_production(str(EXAMPLE)).seed == 20261124


def test_utf8_bom_is_tolerated(tmp_path: Path, spec: dict) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(spec).encode())
    assert validate_file(path) == []


# --------------------------------------------------------------------------- shot length


@pytest.mark.parametrize("frames", [0, -5])
def test_frame_count_not_positive(tmp_path: Path, spec: dict, frames: int) -> None:
    del shot(spec)["seconds"]
    shot(spec)["frames"] = frames
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.frames"
    assert_words(problem.message, "frame count", "greater than 0", f"got {frames}")


@pytest.mark.parametrize("seconds", [0, -1.5])
def test_seconds_not_positive(tmp_path: Path, spec: dict, seconds: float) -> None:
    shot(spec)["seconds"] = seconds
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.seconds"
    assert_words(problem.message, "seconds", "greater than 0")


def test_both_frames_and_seconds(tmp_path: Path, spec: dict) -> None:
    shot(spec)["frames"] = 24
    problem = only_problem(tmp_path, spec)
    assert problem.path == SHOT
    assert_words(problem.message, "exactly one of", "'frames'", "'seconds'")


def test_neither_frames_nor_seconds(tmp_path: Path, spec: dict) -> None:
    del shot(spec)["seconds"]
    problem = only_problem(tmp_path, spec)
    assert problem.path == SHOT
    assert_words(problem.message, "exactly one of", "'frames'", "'seconds'")


def test_fractional_frames(tmp_path: Path, spec: dict) -> None:
    del shot(spec)["seconds"]
    shot(spec)["frames"] = 24.5
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.frames"
    assert_words(problem.message, "expected a whole number of frames", "24.5")


def test_frames_written_with_decimal_point(tmp_path: Path, spec: dict) -> None:
    del shot(spec)["seconds"]
    shot(spec)["frames"] = 24.0
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.frames"
    assert_words(problem.message, "whole number of frames", "24.0", "without a decimal point")


def test_bool_is_not_a_frame_count(tmp_path: Path, spec: dict) -> None:
    """pydantic's lax mode would read true as 1 frame; the loader is strict."""
    del shot(spec)["seconds"]
    shot(spec)["frames"] = True
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.frames"
    assert_words(problem.message, "whole number of frames", "got true")


def test_bool_is_not_a_number(tmp_path: Path, spec: dict) -> None:
    shot(spec)["seconds"] = True
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.seconds"
    assert_words(problem.message, "expected a number", "got true")


# --------------------------------------------------------------------------- delivery and presets


def test_fps_not_allowed(tmp_path: Path, spec: dict) -> None:
    spec["delivery"]["fps"] = 23
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.delivery.fps"
    assert_words(problem.message, "24, 25, 30", "got 23")


def test_unknown_style_preset(tmp_path: Path, spec: dict) -> None:
    spec["style"] = {"preset": "anime"}
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.style.preset"
    assert_words(problem.message, "unknown style preset 'anime'", "gray-box", "photorealistic")


def test_unknown_lighting_preset(tmp_path: Path, spec: dict) -> None:
    spec["episodes"][0]["scenes"][0]["lighting"] = {"preset": "sunset"}
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.episodes[0].scenes[0].lighting.preset"
    assert_words(problem.message, "unknown lighting preset 'sunset'", "magic-hour")


def test_unknown_camera_move(tmp_path: Path, spec: dict) -> None:
    shot(spec)["camera"] = {"move": "dolly-zoom"}
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.camera.move"
    assert_words(problem.message, "unknown camera move 'dolly-zoom'", "push-in")


def test_literal_choice(tmp_path: Path, spec: dict) -> None:
    shot(spec)["camera"]["easing"] = "ease"
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.camera.easing"
    assert_words(problem.message, "must be one of", "'linear'", "'ease-in-out'", "got 'ease'")


def test_number_out_of_range(tmp_path: Path, spec: dict) -> None:
    spec["characters"][0]["height_m"] = 10
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.characters[0].height_m"
    assert problem.message == "must be at most 3, got 10"


def test_bad_id_and_colour(tmp_path: Path, spec: dict) -> None:
    spec["series"]["id"] = "Harbor Lights"
    spec["characters"][0]["hair_color"] = "black"
    problems = problems_in(tmp_path, spec)
    assert [p.path for p in problems] == ["$.series.id", "$.characters[0].hair_color"]
    assert_words(problems[0].message, "lower-case", '"Harbor Lights"')
    assert_words(problems[1].message, "#rrggbb", '"black"')


# --------------------------------------------------------------------------- duplicate ids


def test_duplicate_character_id(tmp_path: Path, spec: dict) -> None:
    unblocked(spec)  # blocking that faces theo would report him as an unknown target too
    spec["characters"][1]["id"] = "mara"
    problems = problems_in(tmp_path, spec)
    # theo is now undefined too, so the shots casting him are reported after the duplicate.
    assert problems[0].path == "$.characters[1].id"
    assert_words(problems[0].message, "duplicate character id 'mara'", "$.characters[0].id")
    assert all("unknown character 'theo'" in p.message for p in problems[1:])


def test_duplicate_location_id(tmp_path: Path, spec: dict) -> None:
    spec["locations"][1]["id"] = "harbor"
    problems = problems_in(tmp_path, spec)
    assert problems[0].path == "$.locations[1].id"
    assert_words(problems[0].message, "duplicate location id 'harbor'", "$.locations[0].id")


def test_duplicate_episode_id(tmp_path: Path, spec: dict) -> None:
    spec["episodes"][1]["id"] = "s01e01"
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.episodes[1].id"
    assert problem.message == "duplicate episode id 's01e01' (first used at $.episodes[0].id)"


def test_duplicate_scene_id_within_episode(tmp_path: Path, spec: dict) -> None:
    spec["episodes"][0]["scenes"][1]["id"] = "sc01"
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.episodes[0].scenes[1].id"
    assert_words(problem.message, "duplicate scene id 'sc01'", "s01e01", "$.episodes[0].scenes[0].id")


def test_same_scene_id_in_different_episodes_is_fine(tmp_path: Path, spec: dict) -> None:
    assert spec["episodes"][0]["scenes"][0]["id"] == spec["episodes"][1]["scenes"][0]["id"]
    assert problems_in(tmp_path, spec) == []


def test_duplicate_shot_id_within_scene(tmp_path: Path, spec: dict) -> None:
    shot(spec, index=2)["id"] = "sh01"
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.episodes[0].scenes[0].shots[2].id"
    assert_words(problem.message, "duplicate shot id 'sh01'", "s01e01/sc01", "$.episodes[0].scenes[0].shots[0].id")


# --------------------------------------------------------------------------- references


def test_unknown_character_in_shot(tmp_path: Path, spec: dict) -> None:
    shot(spec, index=2)["cast"] = ["theo", "nina"]
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.episodes[0].scenes[0].shots[2].cast[1]"
    assert_words(problem.message, "s01e01/sc01/sh03", "unknown character 'nina'", "mara, theo")


def test_unknown_character_suggests_close_name(tmp_path: Path, spec: dict) -> None:
    unblocked(spec)  # a camera that looks at mara would report her as not cast too
    shot(spec)["cast"] = ["marra"]
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.cast[0]"
    assert_words(problem.message, "did you mean 'mara'?")


def test_character_cast_twice(tmp_path: Path, spec: dict) -> None:
    shot(spec, index=1)["cast"] = ["mara", "theo", "mara"]
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.episodes[0].scenes[0].shots[1].cast[2]"
    assert_words(problem.message, "s01e01/sc01/sh02", "'mara' more than once", "cast[0]")


def test_unknown_location(tmp_path: Path, spec: dict) -> None:
    spec["episodes"][1]["scenes"][0]["location"] = "lighthouse"
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.episodes[1].scenes[0].location"
    assert_words(problem.message, "s01e02/sc01", "unknown location 'lighthouse'", "alley, harbor")


# --------------------------------------------------------------------------- shapes and fields


def test_string_where_integer(tmp_path: Path, spec: dict) -> None:
    spec["seed"] = "abc"
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.seed"
    assert problem.message == 'expected an integer, got the string "abc"'


def test_numeric_string_is_not_an_integer(tmp_path: Path, spec: dict) -> None:
    spec["delivery"]["crf"] = "18"
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.delivery.crf"
    assert_words(problem.message, "expected an integer", '"18"')


def test_list_where_object(tmp_path: Path, spec: dict) -> None:
    shot(spec)["camera"] = ["push-in"]
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.camera"
    assert_words(problem.message, "expected an object", "list")


def test_string_where_list(tmp_path: Path, spec: dict) -> None:
    shot(spec)["cast"] = "mara"
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.cast"
    assert_words(problem.message, "expected a list", '"mara"')


def test_number_where_text(tmp_path: Path, spec: dict) -> None:
    shot(spec)["prompt"] = 42
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.prompt"
    assert problem.message == "expected text or an object of language → text, got the number 42"


def test_wrong_value_inside_localized_text(tmp_path: Path, spec: dict) -> None:
    spec["series"]["title"]["fr"] = ["Les feux"]
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.series.title.fr"
    assert_words(problem.message, "expected text", "list")


def test_number_where_text_in_cast(tmp_path: Path, spec: dict) -> None:
    shot(spec)["cast"] = [7]
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.cast[0]"
    assert problem.message == "expected text, got the number 7"


def test_unknown_field_suggests_name(tmp_path: Path, spec: dict) -> None:
    shot(spec)["camera"]["mvoe"] = shot(spec)["camera"].pop("move")
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.camera.mvoe"
    assert problem.message == "unknown field 'mvoe'; did you mean 'move'?"


def test_unknown_field_lists_known_fields(tmp_path: Path, spec: dict) -> None:
    shot(spec)["mood"] = "tense"
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.mood"
    assert_words(problem.message, "unknown field 'mood'", "prompt", "frames", "seconds")


def test_field_one_level_too_high(tmp_path: Path, spec: dict) -> None:
    spec["fps"] = 24
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.fps"
    assert_words(problem.message, "unknown field 'fps'", "'delivery'")


def test_missing_required_field(tmp_path: Path, spec: dict) -> None:
    del shot(spec)["prompt"]
    problem = only_problem(tmp_path, spec)
    assert problem.path == f"{SHOT}.prompt"
    assert problem.message == "required field 'prompt' is missing"


def test_missing_top_level_field(tmp_path: Path, spec: dict) -> None:
    del spec["seed"]
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.seed"
    assert problem.message == "required field 'seed' is missing"


def test_empty_list_where_items_required(tmp_path: Path, spec: dict) -> None:
    spec["episodes"][0]["scenes"][1]["shots"] = []
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.episodes[0].scenes[1].shots"
    assert_words(problem.message, "at least 1 item", "got 0")


def test_too_few_numbers(tmp_path: Path, spec: dict) -> None:
    spec["locations"][0]["props"][0]["size_m"] = [1.0]
    problem = only_problem(tmp_path, spec)
    assert problem.path == "$.locations[0].props[0].size_m"
    assert_words(problem.message, "expected 3 items", "got 1")


# --------------------------------------------------------------------------- the file itself


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    assert validate_file(missing) == [Problem("$", "file not found")]
    with pytest.raises(SpecError) as caught:
        load_production(missing)
    assert caught.value.file == missing
    assert str(caught.value) == f"{missing}: 1 problem\n  $: file not found"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    problem = validate_file(tmp_path)[0]
    assert problem.path == "$"
    assert_words(problem.message, "directory")


def test_invalid_json_gives_line_and_column(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, '{\n  "seed": 1\n  "language": "en"\n}\n')
    assert problem.path == "$"
    assert_words(problem.message, "invalid JSON", "line 3, column 3", "delimiter")


def test_trailing_comma_is_explained(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, '{\n  "seed": 1,\n}\n')
    assert_words(problem.message, "line 3, column 1", "comma")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{\n"series": "Marée"}'.encode("latin-1"))
    problem = validate_file(path)[0]
    assert problem.path == "$"
    assert_words(problem.message, "not UTF-8", "line 2")


def test_empty_file(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "  \n")
    assert (problem.path, problem.message) == ("$", "the file is empty; a spec is a JSON object")


def test_top_level_not_an_object(tmp_path: Path, spec: dict) -> None:
    problem = only_problem(tmp_path, json.dumps([spec]))
    assert problem.path == "$"
    assert_words(problem.message, "JSON object", "got the list")


def test_duplicate_json_key(tmp_path: Path, spec: dict) -> None:
    text = json.dumps(spec).replace('"seed": 20261124', '"seed": 20261124, "seed": 7', 1)
    problem = only_problem(tmp_path, text)
    assert problem.path == "$.seed"
    assert_words(problem.message, "'seed'", "more than once")


def test_nan_is_not_json(tmp_path: Path, spec: dict) -> None:
    text = json.dumps(spec).replace('"height_m": 1.68', '"height_m": NaN', 1)
    problem = only_problem(tmp_path, text)
    assert problem.path == "$.characters[0].height_m"
    assert_words(problem.message, "NaN is not a JSON number")


def test_overflowing_number(tmp_path: Path, spec: dict) -> None:
    """json reads 1e999 as infinity, which the model would accept for an unbounded distance."""
    text = json.dumps(spec).replace('"travel_m": 2.0', '"travel_m": 1e999', 1)
    problem = only_problem(tmp_path, text)
    assert problem.path == "$.episodes[0].scenes[1].shots[0].camera.travel_m"
    assert_words(problem.message, "too large", "finite number")


# --------------------------------------------------------------------------- many problems at once


def test_all_problems_reported_together_in_document_order(tmp_path: Path, spec: dict) -> None:
    """A type error, a model rule and a broken reference: all three, in file order."""
    spec["delivery"]["fps"] = 23                          # model validator
    shot(spec, index=1)["cast"] = ["mara", "nobody"]      # cross-reference
    spec["characters"][0]["height_m"] = "tall"            # type error
    problems = problems_in(tmp_path, spec)
    assert [p.path for p in problems] == [
        "$.delivery.fps",
        "$.characters[0].height_m",
        "$.episodes[0].scenes[0].shots[1].cast[1]",
    ]


def test_reference_checks_survive_wrong_shapes(tmp_path: Path, spec: dict) -> None:
    """Cross-references still run where other parts of the file have the wrong shape."""
    spec["episodes"][0]["scenes"][0]["shots"] = "oops"
    spec["episodes"][1]["scenes"][0]["location"] = "moon"
    spec["characters"].append(42)
    problems = problems_in(tmp_path, spec)
    assert [p.path for p in problems] == [
        "$.characters[2]",
        "$.episodes[0].scenes[0].shots",
        "$.episodes[1].scenes[0].location",
    ]


def test_spec_error_lists_every_problem(tmp_path: Path, spec: dict) -> None:
    spec["seed"] = -1
    spec["delivery"]["fps"] = 60
    shot(spec)["cast"] = ["ghost"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_production(path)
    error = caught.value
    assert len(error.problems) == 3
    lines = str(error).splitlines()
    assert lines[0] == f"{path}: 3 problems"
    assert lines[1:] == [f"  {p.path}: {p.message}" for p in error.problems]
    assert "$.seed: must be at least 0, got -1" in str(error)


# --------------------------------------------------------------------------- paths and schema


def test_json_path_rendering() -> None:
    assert json_path(()) == "$"
    assert json_path(("episodes", 0, "scenes", 1, "shots", 2, "cast", 0)) == "$.episodes[0].scenes[1].shots[2].cast[0]"
    assert json_path(("series", "title", "fr-CA")) == "$.series.title['fr-CA']"


def test_schema_shape() -> None:
    schema = production_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["title"]
    assert "episodes" in schema["properties"]
    jsonschema.validators.validator_for(schema).check_schema(schema)


def test_schema_accepts_the_example(example: dict) -> None:
    schema = production_schema()
    jsonschema.validate(example, schema, cls=jsonschema.validators.validator_for(schema))


def test_schema_knows_preset_names(spec: dict) -> None:
    schema = production_schema()
    shot(spec)["camera"]["move"] = "dolly-zoom"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(spec, schema, cls=jsonschema.validators.validator_for(schema))
