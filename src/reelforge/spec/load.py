"""Load a production spec file, reporting every problem in it at once.

A spec is written by hand, so a failed load should read like a review, not a
traceback: each problem names the JSON path of the offending value and says in
a plain sentence what is wrong. Problems come from three places, merged and
sorted into the order they appear in the file:

* the JSON text itself (duplicate keys, NaN/Infinity, which `json` accepts),
* the pydantic models in `reelforge.spec.model` (types, ranges, preset names),
* cross-references the models cannot see (duplicate ids, cast and locations
  that name nothing). These run on the raw parsed JSON and skip whatever has
  the wrong shape, so a type error and a broken reference in the same file are
  both reported.

Validation is strict: in a hand-written spec, `true` or `"24"` where a number
belongs is a mistake, not something to coerce.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from reelforge.errors import Problem, SpecError
from reelforge.spec import presets
from reelforge.spec.model import ID_PATTERN, Production
from reelforge.spec.styles import FAMILIES_CONTEXT, Families, builtin_names, load_families

# A location inside the spec: object keys and list indexes, root first.
Loc = tuple[str | int, ...]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_TITLE = "reelforge production spec"


# --------------------------------------------------------------------------- public API


def load_production(path: str | Path) -> Production:
    """Read and validate a spec file; raise SpecError listing every problem found."""
    production, problems = _check_file(Path(path))
    if problems:
        raise SpecError(path, problems)
    assert production is not None
    return production


def validate_file(path: str | Path) -> list[Problem]:
    """Every problem in a spec file, in document order; [] when the file is valid."""
    return _check_file(Path(path))[1]


def translation_warnings(production: Production) -> list[Problem]:
    """Delivered text without a translation into a declared language (or in a language not declared).

    Titles, scene briefs and dialogue lines are what a language delivery shows; a missing
    translation falls back to the source text, so it is a warning (`validate --strict`: an
    error). A production that declares no `languages` delivers only its source: no warnings.
    """
    declared = list(production.languages)
    if not declared:
        return []
    source = production.language
    texts: list[tuple[Loc, Any]] = [(("series", "title"), production.series.title)]
    for e, episode in enumerate(production.episodes):
        texts.append((("episodes", e, "title"), episode.title))
        for s, scene in enumerate(episode.scenes):
            scene_loc: Loc = ("episodes", e, "scenes", s)
            texts += [(scene_loc + ("title",), scene.title), (scene_loc + ("brief",), scene.brief)]
            for t, shot in enumerate(scene.shots):
                texts += [(scene_loc + ("shots", t, "dialogue", d, "text"), line.text)
                          for d, line in enumerate(shot.dialogue)]
    warnings = []
    for loc, text in texts:
        given = {source: text} if isinstance(text, str) else text
        if not given.get(source):
            continue  # nothing to translate (or no source text: validation reports that)
        missing = [tag for tag in declared if not given.get(tag)]
        if missing:
            warnings.append(Problem(json_path(loc), f"no {_tags(missing)} translation; the "
                                                    f"{source} text is delivered in its place"))
        unknown = [tag for tag in given if tag not in declared]
        if unknown:
            warnings.append(Problem(json_path(loc), f"text in {_tags(unknown, 'and')}, which $.languages does not "
                                                    f"declare (declared: {', '.join(declared)})"))
    return warnings


def _tags(tags: list[str], conjunction: str = "or") -> str:
    quoted = [f"'{tag}'" for tag in tags]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} {conjunction} {quoted[-1]}"


def production_schema() -> dict[str, Any]:
    """JSON Schema for spec files, for `reelforge schema` and editors.

    Preset names and frame rates are checked by validators the schema cannot
    express, so they are added here as enums: an editor can then complete them.
    """
    schema = Production.model_json_schema()
    defs = schema.get("$defs", {})
    _add_enum(defs, "Camera", "move", sorted(presets.CAMERA_MOVES))
    _add_enum(defs, "CameraKeyframe", "move", sorted(presets.CAMERA_MOVES))
    _add_enum(defs, "Lighting", "preset", sorted(presets.LIGHTING))
    # Style families: the built-ins as suggestions, not an enum (a production adds its own in styles/).
    defs.get("Style", {}).get("properties", {}).get("preset", {})["examples"] = list(builtin_names())
    _add_enum(defs, "Delivery", "fps", [24, 25, 30])
    schema.pop("title", None)
    return {"$schema": SCHEMA_DIALECT, "title": SCHEMA_TITLE, **schema}


def json_path(loc: Loc) -> str:
    """Render a location as a JSON path: ('episodes', 0, 'id') -> $.episodes[0].id."""
    parts = ["$"]
    for segment in loc:
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", segment):
            parts.append(f".{segment}")
        else:
            quoted = segment.replace("\\", "\\\\").replace("'", "\\'")
            parts.append(f"['{quoted}']")
    return "".join(parts)


# --------------------------------------------------------------------------- reading the file


class _JsonObject(dict):
    """A parsed JSON object that remembers keys given more than once (json keeps the last)."""

    duplicate_keys: list[str]


class _NonStandardNumber:
    """Stands in for NaN / Infinity / -Infinity, which Python's json accepts but JSON does not."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _object_with_duplicates(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject(pairs)
    seen: set[str] = set()
    obj.duplicate_keys = []
    for key, _ in pairs:
        if key in seen and key not in obj.duplicate_keys:
            obj.duplicate_keys.append(key)
        seen.add(key)
    return obj


def _check_file(path: Path) -> tuple[Production | None, list[Problem]]:
    """Run every check on one file; file-level failures stop early with a single problem."""
    try:
        text = _read_text(path)
        raw = _parse_json(text)
    except _FileProblem as problem:
        return None, [Problem("$", str(problem))]
    if not isinstance(raw, dict):
        return None, [Problem("$", f"a spec must be a JSON object ({{...}}) at the top level, got {_describe(raw)}")]

    # The production's style families (built-ins + styles/*.json beside the spec): the Style
    # validator checks names against them; a bad family file is reported with its own path.
    families = load_families(path.parent)
    production, found = _model_problems(text, raw, {FAMILIES_CONTEXT: families.names})
    json_found = _json_problems(raw)
    # "NaN is not a JSON number" says it all; drop the model's comment on the same value.
    bad_numbers = {loc for loc, message in json_found if "JSON number" in message}
    found = [(loc, message) for loc, message in found if loc not in bad_numbers] + json_found
    found += _reference_problems(raw)
    found += _translation_problems(raw)
    found = list(dict.fromkeys(found))  # union branches can repeat a message
    found.sort(key=lambda item: _document_order(raw, item[0]))  # stable: ties keep check order
    problems = _style_file_problems(families, path.parent)
    problems += [Problem(json_path(loc), message) for loc, message in found]
    return (None if problems else production), problems


def _style_file_problems(families: Families, spec_dir: Path) -> list[Problem]:
    """Problems inside the production's style files, each path prefixed with its file: 'styles/x.json: $.id'."""
    problems = []
    for problem in families.problems:
        try:
            shown = problem.file.relative_to(spec_dir).as_posix()
        except ValueError:
            shown = str(problem.file)
        problems.append(Problem(f"{shown}: {problem.path}", problem.message))
    return problems


class _FileProblem(Exception):
    """A problem with the file as a whole; there is nothing to validate after it."""


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _FileProblem("file not found") from None
    except IsADirectoryError:
        raise _FileProblem("this is a directory, not a spec file") from None
    except OSError as exc:
        raise _FileProblem(f"cannot read the file: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")  # tolerate the BOM some editors write
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        raise _FileProblem(
            f"the file is not UTF-8 text (byte 0x{byte:02x} on line {line} cannot be decoded); save it as UTF-8"
        ) from None


def _parse_json(text: str) -> Any:
    if not text.strip():
        raise _FileProblem("the file is empty; a spec is a JSON object")
    try:
        return json.loads(text, object_pairs_hook=_object_with_duplicates, parse_constant=_NonStandardNumber)
    except json.JSONDecodeError as exc:
        reason = exc.msg[:1].lower() + exc.msg[1:]
        hint = ""
        if text[: exc.pos].rstrip().endswith(",") and exc.msg.startswith(("Expecting property name", "Expecting value")):
            hint = " (JSON allows no comma after the last item)"
        raise _FileProblem(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {reason}{hint}") from None


def _json_problems(node: Any, loc: Loc = ()) -> list[tuple[Loc, str]]:
    """Things `json` quietly accepts that would make the spec mean something else."""
    found: list[tuple[Loc, str]] = []
    if isinstance(node, _NonStandardNumber):
        found.append((loc, f"{node.literal} is not a JSON number; give a finite number"))
    elif isinstance(node, float) and not math.isfinite(node):  # 1e999 parses as infinity
        found.append((loc, "this number is too large to be a JSON number; give a finite number"))
    elif isinstance(node, dict):
        for key in getattr(node, "duplicate_keys", []):
            found.append((loc + (key,), f"field '{key}' is given more than once in this object; keep only one"))
        for key, value in node.items():
            found += _json_problems(value, loc + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _json_problems(value, loc + (index,))
    return found


def duplicate_keys(text: str) -> list[tuple[str, str]]:
    """(JSON path, key) for every key given twice in one object of a JSON text, in file order.

    `json` keeps only the last of each: a tool that parses a spec and writes it back (the Open
    Studio's shot editor) must refuse such a file, or the other values would be lost silently.
    """
    found: list[tuple[str, str]] = []

    def walk(node: Any, loc: Loc) -> None:
        if isinstance(node, dict):
            found.extend((json_path(loc + (key,)), key) for key in getattr(node, "duplicate_keys", []))
            for key, value in node.items():
                walk(value, loc + (key,))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, loc + (index,))

    walk(json.loads(text, object_pairs_hook=_object_with_duplicates), ())
    return found


# --------------------------------------------------------------------------- model validation


def _model_problems(text: str, raw: dict,
                    context: dict | None = None) -> tuple[Production | None, list[tuple[Loc, str]]]:
    """Validate with pydantic (strict JSON mode) and turn its errors into plain sentences."""
    try:
        return Production.model_validate_json(text, strict=True, context=context), []
    except ValidationError as exc:
        return None, _convert_errors(exc.errors(), raw)


def _convert_errors(errors: list[dict], raw: dict) -> list[tuple[Loc, str]]:
    """Convert pydantic errors, merging the branches of a union into one problem.

    For `str | dict[str, str]` pydantic reports one error per branch, with the
    branch name ('str', 'dict[str,str]') inside `loc`. When the value got inside
    a branch (an object whose values are wrong) only that branch's errors are
    relevant; otherwise one "expected A or B" problem replaces them all.
    """
    found: list[tuple[Loc, str]] = []
    too_few: dict[Loc, int] = {}  # fixed-length list -> highest missing index
    unions: dict[Loc, list[tuple[str, Loc, dict]]] = {}  # union value -> (branch, loc, error)

    for error in errors:
        loc, branch, branch_at = _split_loc(error["loc"], raw, error["type"])
        if branch is not None:
            unions.setdefault(loc[:branch_at], []).append((branch, loc, error))
        elif error["type"] == "missing" and loc and isinstance(loc[-1], int):
            too_few[loc[:-1]] = max(too_few.get(loc[:-1], -1), loc[-1])
        else:
            found.append(_convert_one(error, loc))

    for parent, highest in too_few.items():
        found.append((parent, _too_few_message(parent, highest + 1, _value_at(raw, parent))))

    for union_loc, branches in unions.items():
        inside = [(loc, error) for _, loc, error in branches if len(loc) > len(union_loc)]
        if inside:
            found += [_convert_one(error, loc) for loc, error in inside]
        else:
            wanted = " or ".join(dict.fromkeys(_describe_branch(name) for name, _, _ in branches))
            found.append((union_loc, f"expected {wanted}, got {_describe(branches[0][2]['input'])}"))
    return found


def _split_loc(loc: tuple, raw: Any, error_type: str) -> tuple[Loc, str | None, int]:
    """Separate the real keys/indexes in a pydantic `loc` from union branch names.

    A string in `loc` is a real key when the JSON object at that point has it
    (or, for a missing field, as the last part); anything else is a name
    pydantic gave a union branch, like 'str' or 'dict[str,str]'. Returns the
    real location, the branch name if any, and where in the location it was.
    """
    real: list[str | int] = []
    branch, branch_at = None, 0
    node: Any = raw
    for position, part in enumerate(loc):
        is_last = position == len(loc) - 1
        if isinstance(part, int):
            real.append(part)
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else _ABSENT
        elif isinstance(node, dict) and part in node:
            real.append(part)
            node = node[part]
        elif node is _ABSENT or (is_last and error_type == "missing"):
            real.append(part)
            node = _ABSENT
        elif branch is None:
            branch, branch_at = part, len(real)
    return tuple(real), branch, branch_at


_ABSENT = object()

# How to name what a union branch wanted, by pydantic's name for the branch.
_BRANCH_WORDS = {
    "str": "text",
    "dict[str,str]": "an object of language → text",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "none": "null",
}


def _describe_branch(name: str) -> str:
    inner = re.fullmatch(r"function-\w+\[.*, (.+)\]", name)  # validator around a type: name the type
    if inner:
        name = inner.group(1)
    if name in _BRANCH_WORDS:
        return _BRANCH_WORDS[name]
    if name.startswith(("dict[", "tagged-union")) or name[:1].isupper():
        return "an object"
    if name.startswith(("list[", "tuple[")):
        return "a list"
    return name


# Validators on a whole object (Shot._one_length) report at the object; these
# messages are about one field, so point at it. Keyed by the message's start.
_MESSAGE_FIELDS = {
    "frame count": "frames",
    "length in seconds": "seconds",
}

# Friendly descriptions of the string patterns used in the model.
_PATTERN_WORDS = {
    ID_PATTERN: "an id of lower-case letters, digits, '-' and '_' (starting with a letter or digit, at most 64)",
    r"^#[0-9a-fA-F]{6}$": "a colour written #rrggbb, like #7a7a7a",
}

_LIMIT_WORDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def _convert_one(error: dict, loc: Loc) -> tuple[Loc, str]:
    """One pydantic error as (location, plain sentence)."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    field = next((part for part in reversed(loc) if isinstance(part, str)), "")
    got = _describe(value)

    if kind == "missing":
        return loc, f"required field '{loc[-1]}' is missing"
    if kind == "extra_forbidden":
        return loc, _unknown_field_message(loc)
    if kind.startswith("int_"):
        if field == "frames":
            return loc, f"expected a whole number of frames, got {got}{_decimal_hint(value)}"
        return loc, f"expected an integer, got {got}{_decimal_hint(value)}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return loc, f"expected a number, got {got}"
    if kind in ("string_type", "string_unicode"):
        return loc, f"expected text, got {got}"
    if kind in ("list_type", "tuple_type", "iterable_type"):
        return loc, f"expected a list, got {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return loc, f"expected an object, got {got}"
    if kind.startswith("bool_"):
        return loc, f"expected true or false, got {got}"
    if kind == "literal_error":
        return loc, _literal_message(ctx.get("expected", ""), value)
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        wanted = _PATTERN_WORDS.get(pattern, f"text matching the pattern {pattern}")
        return loc, f"expected {wanted}, got {got}"
    if kind in _LIMIT_WORDS:
        key, words = _LIMIT_WORDS[kind]
        return loc, f"must be {words} {_number(ctx[key])}, got {_number(value)}"
    if kind == "too_short":
        return loc, f"must have at least {_items(ctx['min_length'])}, got {ctx['actual_length']}"
    if kind == "too_long":
        return loc, f"must have at most {_items(ctx['max_length'])}, got {ctx['actual_length']}"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        message = str(ctx["error"])
        model = _model_at(loc)
        for start, name in _MESSAGE_FIELDS.items():
            if message.startswith(start) and model is not None and name in model.model_fields:
                return loc + (name,), message
        return loc, message
    if kind == "json_invalid":
        return loc, f"invalid JSON: {ctx.get('error', error['msg'])}"
    # Anything else: pydantic's own sentence, minus its capital letter.
    message = error["msg"].removeprefix("Value error, ")
    return loc, message[:1].lower() + message[1:]


def _decimal_hint(value: Any) -> str:
    """Point out 24.0: a whole number, but written as a fraction."""
    if isinstance(value, float) and value.is_integer():
        return " (write it without a decimal point)"
    return ""


def _unknown_field_message(loc: Loc) -> str:
    name = str(loc[-1])
    model = _model_at(loc[:-1])
    if model is None:
        return f"unknown field '{name}'"
    known = list(model.model_fields)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"unknown field '{name}'; did you mean '{close[0]}'?"
    # A field put one level too high, like "fps" beside "delivery" instead of inside it.
    homes = []
    for field, info in model.model_fields.items():
        child = _as_model(info.annotation) or _as_model(_item_type(info.annotation))
        if child is not None and name in child.model_fields:
            homes.append(f"'{field}'")
    if homes:
        where = homes[0] if len(homes) == 1 else f"{', '.join(homes[:-1])} or {homes[-1]}"
        return f"unknown field '{name}' here; it belongs inside {where}"
    return f"unknown field '{name}'; known fields: {', '.join(known)}"


def _literal_message(expected: str, value: Any) -> str:
    """pydantic gives the choices as "'a', 'b' or 'c'"; say "must be one of 'a', 'b', 'c'"."""
    choices = re.findall(r"'((?:[^'\\]|\\.)*)'|(-?\d+(?:\.\d+)?)", expected)
    names = [text or number for text, number in choices]
    got = f"'{value}'" if isinstance(value, str) else _describe(value)
    if len(names) == 1:
        return f"must be {expected}, got {got}"
    message = f"must be one of {', '.join(repr(n) if not _is_number(n) else n for n in names)}, got {got}"
    if isinstance(value, str):
        close = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean '{close[0]}'?"
    return message


def _too_few_message(parent: Loc, needed: int, value: Any) -> str:
    """A fixed-length list (a tuple in the model) that is too short; name its parts if documented."""
    got = len(value) if isinstance(value, list) else 0
    model = _model_at(parent[:-1]) if parent and isinstance(parent[-1], str) else None
    info = model.model_fields.get(parent[-1]) if model is not None else None
    parts = f" ({info.description})" if info is not None and info.description else ""
    return f"expected {needed} items{parts}, got {got}"


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class describing the object at `loc`, found by walking the field annotations."""
    annotation: Any = Production
    for part in loc:
        if isinstance(part, int):
            annotation = _item_type(annotation)
        else:
            model = _as_model(annotation)
            if model is None or part not in model.model_fields:
                return None
            annotation = model.model_fields[part].annotation
    return _as_model(annotation)


def _as_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [m for m in map(_as_model, typing.get_args(annotation)) if m is not None]
        return models[0] if len(models) == 1 else None
    return None


def _item_type(annotation: Any) -> Any:
    """The element type of list[X] / tuple[X, ...], looking through `| None`."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if typing.get_origin(arg) in (list, tuple):
                return _item_type(arg)
        return None
    if origin in (list, tuple) and typing.get_args(annotation):
        return typing.get_args(annotation)[0]
    return None


# --------------------------------------------------------------------------- cross-references


def _reference_problems(raw: dict) -> list[tuple[Loc, str]]:
    """Duplicate ids and references to characters/locations that do not exist.

    Works on the raw JSON and skips anything of the wrong shape: the model
    check reports those, and this one still finds the rest.
    """
    found: list[tuple[Loc, str]] = []
    characters = raw.get("characters", [])  # optional in the model: absent means none
    locations = raw.get("locations")
    character_ids = _unique_ids(found, "character", ("characters",), characters, where="")
    location_ids = _unique_ids(found, "location", ("locations",), locations, where="")
    _unique_ids(found, "episode", ("episodes",), raw.get("episodes"), where="")
    backend = raw.get("backend", "previz")
    if isinstance(backend, str) and backend != "previz" and "model" not in raw:
        found.append((("backend",), f"backend '{backend}' renders with a model you bring: add "
                                    f"\"model\": {{\"checkpoint\": \"path/to/checkpoint\"}}"))

    for e, episode in _dicts(raw.get("episodes")):
        episode_name = _label(episode, e)
        scenes_loc = ("episodes", e, "scenes")
        _unique_ids(found, "scene", scenes_loc, episode.get("scenes"), where=f" in episode {episode_name}")
        for s, scene in _dicts(episode.get("scenes")):
            scene_name = f"{episode_name}/{_label(scene, s)}"
            scene_loc = scenes_loc + (s,)
            location = scene.get("location")
            if isinstance(location, str) and isinstance(locations, list) and location not in location_ids:
                found.append((scene_loc + ("location",), _unknown_reference(
                    f"scene {scene_name} is set in", "location", location, location_ids)))
            shots_loc = scene_loc + ("shots",)
            _unique_ids(found, "shot", shots_loc, scene.get("shots"), where=f" in scene {scene_name}")
            for t, shot in _dicts(scene.get("shots")):
                shot_name = f"{scene_name}/{_label(shot, t)}"
                found += _cast_problems(shot, shots_loc + (t,), shot_name, characters, character_ids)
                found += _speaker_problems(shot, shots_loc + (t,), shot_name, characters, character_ids)
    found += _wardrobe_change_problems(raw)
    return found


TEXT_FIELDS = ("title", "name", "prompt", "description", "hair", "face", "brief", "text")


def _translation_problems(raw: dict) -> list[tuple[Loc, str]]:
    """Per-language text must include the source language: prompts are resolved in it."""
    source = raw.get("language", "en")
    if not isinstance(source, str):
        return []
    found: list[tuple[Loc, str]] = []

    def walk(node: Any, loc: Loc) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in TEXT_FIELDS and isinstance(value, dict) and value and source not in value:
                    given = ", ".join(sorted(map(str, value)))
                    found.append((loc + (key,), f"no text in the source language '{source}' (given: {given})"))
                else:
                    walk(value, loc + (key,))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, loc + (index,))

    walk(raw, ())
    return found


def _speaker_problems(shot: dict, shot_loc: Loc, shot_name: str, characters: Any,
                      character_ids: dict[str, Loc]) -> list[tuple[Loc, str]]:
    """Each dialogue line's speaker names a defined character (it need not be cast: a voice off-screen)."""
    found: list[tuple[Loc, str]] = []
    if not isinstance(characters, list):
        return found
    for d, line in _dicts(shot.get("dialogue")):
        speaker = line.get("speaker")
        if isinstance(speaker, str) and speaker not in character_ids:
            found.append((shot_loc + ("dialogue", d, "speaker"), _unknown_reference(
                f"a line in shot {shot_name} is spoken by", "character", speaker, character_ids)))
    return found


def _cast_problems(shot: dict, shot_loc: Loc, shot_name: str, characters: Any,
                   character_ids: dict[str, Loc]) -> list[tuple[Loc, str]]:
    """Each cast entry must name a defined character, once."""
    found: list[tuple[Loc, str]] = []
    cast = shot.get("cast")
    if not isinstance(cast, list):
        return found
    first_seen: dict[str, int] = {}
    for n, who in enumerate(cast):
        if not isinstance(who, str):
            continue
        loc = shot_loc + ("cast", n)
        if who in first_seen:
            first = json_path(shot_loc + ("cast", first_seen[who]))
            found.append((loc, f"shot {shot_name} casts '{who}' more than once (first at {first})"))
            continue
        first_seen[who] = n
        if isinstance(characters, list) and who not in character_ids:
            found.append((loc, _unknown_reference(f"shot {shot_name} casts", "character", who, character_ids)))
    return found


def _wardrobe_change_problems(raw: dict) -> list[tuple[Loc, str]]:
    """Each character's wardrobe change names an episode (and a scene of it) that exists, at most once."""
    found: list[tuple[Loc, str]] = []
    episodes = raw.get("episodes")
    if not isinstance(episodes, list):
        return found
    episode_ids: dict[str, Loc] = {}
    scene_ids: dict[str, dict[str, Loc]] = {}  # episode id → its scenes' ids (the first episode of an id)
    for e, episode in _dicts(episodes):
        episode_id = episode.get("id")
        if isinstance(episode_id, str) and episode_id not in episode_ids:
            episode_ids[episode_id] = ("episodes", e, "id")
            scene_ids[episode_id] = {scene["id"]: ("episodes", e, "scenes", s, "id")
                                     for s, scene in reversed(_dicts(episode.get("scenes")))
                                     if isinstance(scene.get("id"), str)}
    for c, character in _dicts(raw.get("characters")):
        name = _label(character, c)
        changes_loc = ("characters", c, "wardrobe_changes")
        first: dict[tuple[str, str | None], Loc] = {}
        for j, change in _dicts(character.get("wardrobe_changes")):
            episode_id, scene_id = change.get("episode"), change.get("scene")
            if not isinstance(episode_id, str) or not (scene_id is None or isinstance(scene_id, str)):
                continue  # the model check reports the wrong types
            if episode_id not in episode_ids:
                found.append((changes_loc + (j, "episode"), _unknown_reference(
                    f"character {name}'s wardrobe change names", "episode", episode_id, episode_ids)))
                continue
            if scene_id is not None and scene_id not in scene_ids[episode_id]:
                found.append((changes_loc + (j, "scene"), _unknown_reference(
                    f"character {name}'s wardrobe change for episode {episode_id} names", "scene", scene_id,
                    scene_ids[episode_id])))
                continue
            where = f"episode {episode_id}" + (f" scene {scene_id}" if scene_id is not None else "")
            if (episode_id, scene_id) in first:
                found.append((changes_loc + (j,), f"character {name} changes wardrobe for {where} more than once "
                                                  f"(first at {json_path(first[(episode_id, scene_id)])})"))
            else:
                first[(episode_id, scene_id)] = changes_loc + (j,)
    return found


def _unique_ids(found: list, kind: str, list_loc: Loc, items: Any, where: str) -> dict[str, Loc]:
    """Record duplicate ids among a list of objects; return each id's first location."""
    first: dict[str, Loc] = {}
    for index, item in _dicts(items):
        item_id = item.get("id")
        if not isinstance(item_id, str):
            continue
        loc = list_loc + (index, "id")
        if item_id in first:
            found.append((loc, f"duplicate {kind} id '{item_id}'{where} (first used at {json_path(first[item_id])})"))
        else:
            first[item_id] = loc
    return first


def _unknown_reference(subject: str, kind: str, name: str, known: dict[str, Loc]) -> str:
    message = f"{subject} unknown {kind} '{name}'"
    if not known:
        return f"{message}; no {kind}s are defined (add them under '{kind}s')"
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean '{close[0]}'? Known {kind}s: {', '.join(sorted(known))}"
    return f"{message}; known {kind}s: {', '.join(sorted(known))}"


def _dicts(items: Any) -> list[tuple[int, dict]]:
    """(index, item) for the items of a list that are objects; nothing for a non-list."""
    if not isinstance(items, list):
        return []
    return [(index, item) for index, item in enumerate(items) if isinstance(item, dict)]


def _label(item: dict, index: int) -> str:
    """An object's id for messages, or its position when the id is unusable."""
    item_id = item.get("id")
    return item_id if isinstance(item_id, str) and item_id else f"[{index}]"


# --------------------------------------------------------------------------- small helpers


def _document_order(raw: Any, loc: Loc) -> tuple[int, ...]:
    """Sort key: where `loc` sits in the file. A missing key sorts after its object's other keys."""
    key: list[int] = []
    node = raw
    for part in loc:
        if isinstance(node, dict):
            keys = list(node)
            if part in node:
                key.append(keys.index(part))
                node = node[part]
                continue
            key.append(len(keys))
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            key.append(part)
            node = node[part]
            continue
        else:
            key.append(len(node) if isinstance(node, list) else 0)
        node = None
    return tuple(key)


def _value_at(raw: Any, loc: Loc) -> Any:
    node = raw
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def _describe(value: Any) -> str:
    """Name a JSON value for a message: 'the string "abc"', 'the number 24.5', 'null', 'a list ...'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {_short(json.dumps(value, ensure_ascii=False))}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"the number {value}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, _NonStandardNumber):
        return value.literal
    if isinstance(value, (list, tuple)):
        return "an empty list" if not value else f"the list {_short(_json(value))}"
    if isinstance(value, dict):
        return "an empty object" if not value else f"the object {_short(_json(value))}"
    return _short(repr(value))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=lambda v: getattr(v, "literal", repr(v)))


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: Any) -> str:
    """1.0 -> '1', 2.5 -> '2.5': limits read better without a stray '.0'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_number(text: str) -> bool:
    return re.fullmatch(r"-?\d+(\.\d+)?", text) is not None


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def _add_enum(defs: dict, model: str, field: str, values: list) -> None:
    prop = defs.get(model, {}).get("properties", {}).get(field)
    if prop is not None:
        prop["enum"] = values
