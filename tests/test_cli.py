"""The command line as a user meets it: validate, schema, and bad input without tracebacks (init: test_first_hour.py)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli, small_spec, write_spec


def test_validate_lists_problems_with_paths_and_exit_2(tmp_path: Path):
    spec = small_spec()
    spec["delivery"]["fps"] = 23
    spec["episodes"][0]["scenes"][0]["shots"][0]["cast"] = ["nobody"]
    path = write_spec(tmp_path / "bad", spec)
    result = run_cli("validate", str(path), check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert str(path) in result.stderr
    assert "$.delivery.fps" in result.stderr and "24, 25, 30" in result.stderr
    assert "$.episodes[0].scenes[0].shots[0].cast[0]" in result.stderr and "nobody" in result.stderr


def test_render_refuses_an_invalid_spec_without_traceback(tmp_path: Path):
    path = tmp_path / "production.json"
    path.write_text("{ not json", encoding="utf-8")
    result = run_cli("render", str(path), check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and str(path) in result.stderr


def test_unknown_shot_and_bad_range_are_clear_errors(small_production: Path):
    result = run_cli("render", str(small_production), "--shot", "s01e01/sc09/sh01", check=False)
    assert result.returncode == 2 and "no shot 's01e01/sc09/sh01'" in result.stderr
    result = run_cli("render", str(small_production), "--shot", "s01e01/sc01/sh01", "--frames", "5:2", check=False)
    assert result.returncode == 2 and "START < END" in result.stderr
    result = run_cli("render", str(small_production), "--shot", "s01e01/sc01/sh01", "--frames", "0:99", check=False)
    assert result.returncode == 2 and "past the end" in result.stderr


def test_schema_is_json_schema_for_the_spec():
    schema = json.loads(run_cli("schema").stdout)
    assert "episodes" in schema["properties"]
    assert schema["$schema"].startswith("https://json-schema.org/")


def test_render_names_a_missing_character_reference_with_exit_2(tmp_path: Path):
    spec = small_spec()
    spec["characters"][0]["references"] = ["refs/missing.png"]
    path = write_spec(tmp_path / "show", spec)
    result = run_cli("render", str(path), check=False)
    assert result.returncode == 2
    assert "$.characters[0].references[0]" in result.stderr and "Traceback" not in result.stderr
