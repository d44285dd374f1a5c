"""No spec and no shot-edit form can crash reelforge: property tests with hypothesis.

Whatever a file holds (any JSON value, a mutated example spec, random bytes, JSON nested a
thousand levels deep), the loader either returns a production or raises SpecError (the CLI's
exit 2, one line a problem), never another exception. Whatever a form posts, the Open Studio
answers 2xx, 3xx or 4xx, never a 500. The `deadline` on each property is a per-input budget
(an input that takes longer is a finding), not a timing assertion on this machine. Examples are
derandomized and no example database is written, so CI runs the same inputs every time.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import EXAMPLE, run_cli, small_spec
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from studio_support import login, small_production, studio_app

from reelforge.app.shot_edit import CAMERA_FIELDS, LIGHTING_FIELDS, PROMPT, STYLE_FIELDS
from reelforge.errors import SpecError
from reelforge.spec.json_problems import MAX_DEPTH, MAX_FILE_BYTES, json_path
from reelforge.spec.load import load_production

FUZZ = settings(derandomize=True, database=None, deadline=timedelta(seconds=2), max_examples=60,
                suppress_health_check=[HealthCheck.too_slow])
EXAMPLE_TEXT = EXAMPLE.read_text(encoding="utf-8")
EXAMPLE_RAW = json.loads(EXAMPLE_TEXT)

# Any JSON value json.dumps can write (NaN and Infinity included: a hand-written file may hold them);
# text often with line breaks and control characters, which a problem's line must not break on.
TEXT = st.text(alphabet=st.characters() | st.sampled_from("\n\r\t\x00\x1b\u2028'\"\\[]{}"), max_size=10)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=24,
)


def _locations(node, loc=()):
    """Every location in a JSON document, root first."""
    yield loc
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in children:
        yield from _locations(value, loc + (key,))


EXAMPLE_LOCATIONS = list(_locations(EXAMPLE_RAW))
LINE_BREAKING = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")  # what would split or garble a problem's line


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    """One file each example overwrites (hypothesis runs many examples in one test call)."""
    return tmp_path_factory.mktemp("fuzz") / "production.json"


def loads_or_refuses(path: Path) -> list[str]:
    """Load `path`: a production, or SpecError whose problems are one line each; [] or those lines."""
    try:
        load_production(path)
    except SpecError as exc:
        assert exc.problems, "a SpecError names at least one problem"
        lines = [str(problem) for problem in exc.problems]
        assert all(problem.path.startswith(("$", "styles/")) for problem in exc.problems), lines
        assert not any(LINE_BREAKING.search(line) for line in lines), lines
        return lines
    return []


# --------------------------------------------------------------------------- the spec loader


@FUZZ
@given(value=JSON_VALUES)
def test_any_json_value_loads_or_is_refused_with_problems(spec_file, value):
    spec_file.write_text(json.dumps(value), encoding="utf-8")
    assert loads_or_refuses(spec_file)  # nothing random is a production


@FUZZ
@given(data=st.data())
def test_a_mutated_example_spec_loads_or_is_refused_with_problems(spec_file, data):
    spec = copy.deepcopy(EXAMPLE_RAW)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        loc = data.draw(st.sampled_from(EXAMPLE_LOCATIONS[1:]), label="where")
        parent = spec
        for part in loc[:-1]:
            gone = not isinstance(parent, (dict, list)) or (part not in parent if isinstance(parent, dict)
                                                            else not isinstance(part, int) or part >= len(parent))
            if gone:  # an earlier mutation removed or replaced it
                break
            parent = parent[part]
        else:
            key = loc[-1]
            action = data.draw(st.sampled_from(["replace", "remove", "add a field"]), label="action")
            if isinstance(parent, dict) and action == "add a field":
                parent[data.draw(TEXT, label="field")] = data.draw(JSON_VALUES, label="value")
            elif isinstance(parent, dict) and key in parent:
                if action == "remove":
                    del parent[key]
                else:
                    parent[key] = data.draw(JSON_VALUES, label="value")
            elif isinstance(parent, list) and isinstance(key, int) and key < len(parent):
                if action == "remove":
                    parent.pop(key)
                else:
                    parent[key] = data.draw(JSON_VALUES, label="value")
    spec_file.write_text(json.dumps(spec, indent=data.draw(st.sampled_from([None, 2]))), encoding="utf-8")
    loads_or_refuses(spec_file)


@FUZZ
@given(at=st.integers(0, len(EXAMPLE_TEXT)), cut=st.integers(0, 12),
       typed=st.text(alphabet=st.sampled_from('{}[]",:\\ 0123456789.-+eEnulltrfasNIy\n') | st.characters(),
                     max_size=12))
def test_the_example_spec_with_its_text_damaged_loads_or_is_refused(spec_file, at, cut, typed):
    spec_file.write_text(EXAMPLE_TEXT[:at] + typed + EXAMPLE_TEXT[at + cut:], encoding="utf-8")
    loads_or_refuses(spec_file)


@FUZZ
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_any_bytes_load_or_are_refused(spec_file, data):
    spec_file.write_bytes(data)
    assert loads_or_refuses(spec_file)


@FUZZ
@example(where=("episodes", 0, "scenes", 0, "shots", 0, "camera"), openers="[", depth=1000, key="")
@given(where=st.sampled_from(EXAMPLE_LOCATIONS[1:]), openers=st.text(alphabet="[{", min_size=1, max_size=6),
       depth=st.integers(MAX_DEPTH - 12, 1500),
       key=TEXT)
def test_json_nested_past_the_limit_is_refused_at_the_path_where_it_goes_too_deep(spec_file, where, openers, depth,
                                                                                  key):
    """Values nested `depth` levels inside each other (lists and objects, keys with quotes, brackets and
    escapes), put anywhere in the example: past MAX_DEPTH levels the one problem names the path of the
    first object or list too deep; up to it, nesting is no problem of its own."""
    spec = copy.deepcopy(EXAMPLE_RAW)
    parent = spec
    for part in where[:-1]:
        parent = parent[part]
    parent[where[-1]] = "__deep__"
    kinds = [openers[level % len(openers)] for level in range(depth)]
    opened = "".join("[" if kind == "[" else "{" + json.dumps(key) + ":" for kind in kinds)
    closed = "".join("]" if kind == "[" else "}" for kind in reversed(kinds))
    spec_file.write_text(json.dumps(spec).replace('"__deep__"', opened + "0" + closed), encoding="utf-8")
    problems = loads_or_refuses(spec_file)
    levels_above = len(where)  # the top-level object is level 1; the nested value opens level len(where) + 1
    if levels_above + depth > MAX_DEPTH:
        inside = tuple(0 if kind == "[" else key for kind in kinds)[:MAX_DEPTH - levels_above]
        assert problems == [f"{json_path(where + inside)}: nested more than {MAX_DEPTH} levels deep here (objects and "
                            f"lists inside each other; a production spec nests about 8): remove or flatten what is "
                            f"nested here"]
    else:
        assert not any("levels deep" in line for line in problems)


def test_a_1000_deep_spec_is_one_problem_through_the_cli_exit_2_no_traceback(tmp_path):
    """The fuzzer's finding: RecursionError, exit 1 and a traceback from validate and render."""
    spec = tmp_path / "production.json"
    spec.write_text(EXAMPLE_TEXT.rstrip()[:-1] + ', "x": ' + "[" * 1000 + "]" * 1000 + "}", encoding="utf-8")
    for command in ("validate", "render"):
        result = run_cli(command, str(spec), check=False)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        problems = [line for line in result.stderr.splitlines() if line.startswith("  $")]
        assert problems == [f"  {json_path(('x',) + (0,) * (MAX_DEPTH - 1))}: nested more than {MAX_DEPTH} levels "
                            f"deep here (objects and lists inside each other; a production spec nests about 8): "
                            f"remove or flatten what is nested here"], result.stderr


def test_a_spec_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    """A 50 MB array under an unknown key took minutes and gigabytes; now: one line with the size and the limit."""
    spec = tmp_path / "production.json"
    with spec.open("wb") as out:  # sparse: a file of the size, not the bytes; it would not parse anyway
        out.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(SpecError) as refused:
        load_production(spec)
    assert [str(p) for p in refused.value.problems] == [
        f"$: the file is 16.0 MiB ({MAX_FILE_BYTES + 1} bytes), over the 16 MiB limit; a production is far smaller "
        f"(a season of 500 shots is about 3.5 MiB): remove the data that does not belong in it"]


def test_a_style_family_file_gets_the_same_limits(tmp_path):
    spec = tmp_path / "production.json"
    raw = small_spec()
    raw["style"] = {"preset": "deep"}
    spec.write_text(json.dumps(raw), encoding="utf-8")
    (tmp_path / "styles").mkdir()
    (tmp_path / "styles" / "deep.json").write_text('{"format": "reelforge-style/1", "id": "deep", "name": "x", '
                                                   '"palette": ' + "[" * 5000 + "]" * 5000 + "}", encoding="utf-8")
    with (tmp_path / "styles" / "huge.json").open("wb") as out:
        out.truncate(MAX_FILE_BYTES + 1)
    problems = loads_or_refuses(spec)
    assert problems[0].startswith(f"styles/deep.json: {json_path(('palette',) + (0,) * (MAX_DEPTH - 1))}: nested "
                                  f"more than {MAX_DEPTH} levels deep here")
    assert problems[1].startswith("styles/huge.json: $: the file is 16.0 MiB")
    assert len(problems) == 2


def test_a_whole_number_too_long_for_python_is_a_problem_at_its_path(spec_file):
    """json raised ValueError (past Python's 4300-digit limit on int conversion): a traceback."""
    raw = copy.deepcopy(EXAMPLE_RAW)
    raw["episodes"][0]["scenes"][0]["shots"][0]["frames"] = "__long__"
    spec_file.write_text(json.dumps(raw).replace('"__long__"', "9" * 5000), encoding="utf-8")
    assert loads_or_refuses(spec_file) == [
        "$.episodes[0].scenes[0].shots[0].frames: a whole number of 5000 digits is too long to be a JSON number here; "
        "give at most 4300 digits"]


def test_thousands_of_unknown_fields_are_reported_in_part_with_the_count_left(spec_file):
    """Each unknown field is one problem (sorted in file order, linear in their number); past 1000 the report
    says how many more there are instead of listing them."""
    raw = copy.deepcopy(EXAMPLE_RAW)
    shot = raw["episodes"][0]["scenes"][0]["shots"][0]
    shot.update({f"extra{n}": n for n in range(1500)})
    spec_file.write_text(json.dumps(raw), encoding="utf-8")
    problems = loads_or_refuses(spec_file)
    assert problems[0] == "$: 500 more problems are not listed (only the first 1000 are): fix these and validate again"
    assert problems[1].startswith("$.episodes[0].scenes[0].shots[0].extra0: unknown field 'extra0'")
    assert problems[-1].startswith("$.episodes[0].scenes[0].shots[0].extra999: unknown field 'extra999'")
    assert len(problems) == 1001


# --------------------------------------------------------------------------- the studio's shot-edit form

SHOT = "s01e01/sc01/sh01"
FORM_FIELDS = [PROMPT + "en", PROMPT + "fr", "cast", "length", "length_unit", *CAMERA_FIELDS, *LIGHTING_FIELDS,
               *STYLE_FIELDS]
FORM_VALUES = (st.text(max_size=20)
               | st.from_regex(r"-?[0-9]{1,30}(\.[0-9]{1,6})?([eE][+-]?[0-9]{1,4})?", fullmatch=True)
               | st.sampled_from(["", "push-in", "orbit", "ease-out", "neon-night", "gray-box", "frames", "seconds",
                                  "mara, theo", "nobody", "NaN", "1e999", "-0", "cubic-bezier(0.1, 0.2, 0.3, 1)"]))


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    spec = small_production(tmp_path_factory.mktemp("form") / "show")
    app, state = studio_app(spec)
    with TestClient(app) as client:  # raise_server_exceptions: a crash fails the test with its traceback
        yield login(client, state, "ana")


@settings(FUZZ, max_examples=25, deadline=timedelta(seconds=5))
@example(values={"length": "9" * 5000}, base=True, reason="x")
@example(values={"camera_travel_m": "1" + "0" * 400 + ".5", "lighting_kelvin": "-" + "7" * 4400}, base=True,
         reason="x")
@given(values=st.dictionaries(st.sampled_from(FORM_FIELDS) | st.text(max_size=8), FORM_VALUES, max_size=6),
       base=st.booleans(), reason=st.text(max_size=10))
def test_any_shot_form_is_answered_without_a_server_error(studio, values, base, reason):
    """Saved (200), problems beside their fields (400), stale (409) — never a 500."""
    page = studio.get(f"/shots/{SHOT}")
    assert page.status_code == 200
    current = page.text.split('name="base" value="', 1)[1][:64]
    data = {**values, "base": current if base else "0" * 64, "reason": reason}
    answer = studio.post(f"/shots/{SHOT}", data=data)
    assert answer.status_code < 500 and "Traceback" not in answer.text


def test_a_spec_nested_too_deep_on_disk_is_shown_as_broken_not_crashed(studio):
    spec = studio.state.spec
    good = spec.read_bytes()
    try:
        spec.write_text(good.decode().rstrip()[:-1] + ', "x": ' + "[" * 1000 + "]" * 1000 + "}", encoding="utf-8")
        assert studio.get("/").status_code == 409
        page = studio.get(f"/shots/{SHOT}")
        assert page.status_code == 409 and "levels deep" in page.text
        saved = studio.post(f"/shots/{SHOT}", data={"base": "0" * 64, "reason": "x", "camera_move": "push-in"})
        assert saved.status_code == 409 and "levels deep" in saved.text
    finally:
        spec.write_bytes(good)
