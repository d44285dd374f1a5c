"""Reading a hand-written JSON file, and saying what is wrong with it in plain sentences.

A spec or a style family file is written by hand, so a problem reads like a review, not a
traceback: it names the JSON path of the offending value (`$.episodes[0].scenes[1]`) and says
what is wrong. This module holds what both files share: decoding and parsing (duplicate keys,
NaN and Infinity, which Python's `json` quietly accepts), pydantic's errors turned into
sentences (union branches merged, the fields a model knows suggested), and the order of
problems in the file.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import json
import math
import re
import sys
import types
import typing
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from reelforge.spec.base import ID_PATTERN, short_text
from reelforge.spec.delivery import SPOKEN_NAMES

# A location inside a JSON document: object keys and list indexes, root first.
Loc = tuple[str | int, ...]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Limits on a file a person writes (a spec, a style family), checked before it is parsed: past them
# a file is not a production but a mistake (a pasted data dump, a generated loop), and parsing it
# would cost minutes and gigabytes, or overflow Python's stack. A season of 500 shots with 1 KB
# prompts in three languages is 3.4 MiB and 8 levels deep. README "The spec in brief" states both.
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64  # objects and lists inside each other; the top-level object is level 1
# The model's errors turned into sentences, at most (each may cost a fuzzy match against the known
# names); past them the rest are only counted: a file of 700,000 unknown fields is reported in seconds.
MAX_MODEL_ERRORS = 1000


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
            parts.append(f"['{one_line(quoted)}']")
    return "".join(parts)


# Characters that would break a problem's line (or hide part of it) in a terminal, written as escapes.
_LINE_BREAKING = {code: f"\\u{code:04x}" for code in [*range(0x20), 0x7F, 0x85, 0x2028, 0x2029]}
_LINE_BREAKING.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})


def one_line(text: str) -> str:
    """`text` with line breaks and other control characters escaped: a problem is one line, whatever a file holds."""
    return text.translate(_LINE_BREAKING)


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


class FileProblem(Exception):
    """A problem with the file as a whole; there is nothing to validate after it.

    `path` is the JSON path the problem is at: the root (`$`), or where the file nests too deep.
    """

    def __init__(self, message: str, path: str = "$") -> None:
        super().__init__(message)
        self.path = path


def indexed_objects(items: Any) -> list[tuple[int, dict]]:
    """(index, item) for the items of a list that are objects; nothing for a non-list (raw JSON has any shape)."""
    if not isinstance(items, list):
        return []
    return [(index, item) for index, item in enumerate(items) if isinstance(item, dict)]


def check_size(size: int) -> None:
    """Refuse a file over MAX_FILE_BYTES, before it is read: FileProblem saying its size and the limit."""
    if size > MAX_FILE_BYTES:
        raise FileProblem(f"the file is {size / 2**20:.1f} MiB ({size} bytes), over the {MAX_FILE_BYTES // 2**20} MiB "
                          f"limit; a production is far smaller (a season of 500 shots is about 3.5 MiB): remove "
                          f"the data that does not belong in it")


def read_text(path: Path) -> str:
    try:
        check_size(path.stat().st_size)
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileProblem("file not found") from None
    except IsADirectoryError:
        raise FileProblem("this is a directory, not a spec file") from None
    except OSError as exc:
        raise FileProblem(f"cannot read the file: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")  # tolerate the BOM some editors write
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        raise FileProblem(
            f"the file is not UTF-8 text (byte 0x{byte:02x} on line {line} cannot be decoded); save it as UTF-8"
        ) from None


def parse_json(text: str) -> Any:
    """The JSON value of a file's text; FileProblem for empty, invalid or too deeply nested text.

    Objects remember keys given twice, and NaN, Infinity and whole numbers too long for Python
    are kept as `_NonStandardNumber`: `json_problems` reports each at its JSON path.
    """
    if not text.strip():
        raise FileProblem("the file is empty; a spec is a JSON object")
    check_depth(text)
    try:
        return json.loads(text, object_pairs_hook=_object_with_duplicates, parse_constant=_NonStandardNumber,
                          parse_int=_whole_number)
    except json.JSONDecodeError as exc:
        reason = exc.msg[:1].lower() + exc.msg[1:]
        hint = ""
        if text[: exc.pos].rstrip().endswith(",") and exc.msg.startswith(("Expecting property name", "Expecting value")):
            hint = " (JSON allows no comma after the last item)"
        raise FileProblem(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {reason}{hint}") from None


def _whole_number(literal: str) -> int | _NonStandardNumber:
    """An integer, or a stand-in for one with more digits than Python converts (json would raise ValueError)."""
    limit = sys.get_int_max_str_digits()
    return _NonStandardNumber(literal) if limit and len(literal.lstrip("-")) > limit else int(literal)


# A JSON string (escapes included) or one of the characters that structure a JSON text.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_TOKEN = re.compile(_STRING.pattern + r"|[\[\]{},]")
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_NESTING = {"[": 1, "{": 1, "]": -1, "}": -1}


def check_depth(text: str) -> None:
    """Refuse JSON text nested deeper than MAX_DEPTH, before it is parsed: FileProblem at the JSON path.

    Every walk over a parsed document (json itself, pydantic, the checks here) recurses once a
    level, so a text a thousand levels deep would end in RecursionError. Counting brackets outside
    strings costs a few milliseconds; only a text found too deep is walked again to name the path.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if max(itertools.accumulate(map(_NESTING.__getitem__, brackets)), default=0) <= MAX_DEPTH:
        return
    loc = _too_deep_at(text)
    if loc is not None:
        raise FileProblem(f"nested more than {MAX_DEPTH} levels deep here (objects and lists inside each other; "
                          f"a production spec nests about 8): remove or flatten what is nested here", json_path(loc))


def _too_deep_at(text: str) -> Loc | None:
    """The location of the first object or list that opens level MAX_DEPTH + 1, by scanning the tokens."""
    stack: list[list] = []  # per open object/list: [is_object, current key or index, expecting a key]
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            if len(stack) == MAX_DEPTH:
                return tuple(frame[1] for frame in stack)
            stack.append([token == "{", 0 if token == "[" else "", token == "{"])
        elif token in "]}":
            if stack:
                stack.pop()
        elif not stack:
            continue
        elif token == ",":
            top = stack[-1]
            if top[0]:
                top[2] = True
            else:
                top[1] += 1
        elif token.startswith('"') and stack[-1][0] and stack[-1][2]:
            try:
                stack[-1][1] = json.loads(token)
            except ValueError:  # a bad escape: the parser reports it; name the key as written
                stack[-1][1] = token[1:-1]
            stack[-1][2] = False
    return None


def json_problems(node: Any, loc: Loc = ()) -> list[tuple[Loc, str]]:
    """Things `json` quietly accepts that would make the spec mean something else."""
    found: list[tuple[Loc, str]] = []
    if isinstance(node, _NonStandardNumber) and node.literal.lstrip("-")[:1].isdigit():
        digits = len(node.literal.lstrip("-"))
        found.append((loc, f"a whole number of {digits} digits is too long to be a JSON number here; "
                           f"give at most {sys.get_int_max_str_digits()} digits"))
    elif isinstance(node, _NonStandardNumber):
        found.append((loc, f"{node.literal} is not a JSON number; give a finite number"))
    elif isinstance(node, float) and not math.isfinite(node):  # 1e999 parses as infinity
        found.append((loc, "this number is too large to be a JSON number; give a finite number"))
    elif isinstance(node, dict):
        for key in getattr(node, "duplicate_keys", []):
            found.append((loc + (key,), f"field '{key}' is given more than once in this object; keep only one"))
        for key, value in node.items():
            found += json_problems(value, loc + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += json_problems(value, loc + (index,))
    return found


def with_json_problems(model_found: list[tuple[Loc, str]], raw: Any) -> list[tuple[Loc, str]]:
    """The model's problems plus `json_problems(raw)`, less the model's comments those make redundant.

    "NaN is not a JSON number" says it all: the model's sentence on the same value goes (and its
    "invalid JSON" on the whole text, where its parser gave up on a number `json` read).
    """
    json_found = json_problems(raw)
    bad_numbers = {loc for loc, message in json_found if "JSON number" in message}
    if bad_numbers:
        bad_numbers.add(())
    return [(loc, message) for loc, message in model_found if loc not in bad_numbers] + json_found


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


def first_errors(exc: ValidationError) -> tuple[list[dict], list[tuple[Loc, str]]]:
    """The first MAX_MODEL_ERRORS of pydantic's errors, and a problem saying how many more there are (if any)."""
    errors = exc.errors()
    if len(errors) <= MAX_MODEL_ERRORS:
        return errors, []
    more = len(errors) - MAX_MODEL_ERRORS
    return errors[:MAX_MODEL_ERRORS], [((), f"{more} more problems are not listed (only the first "
                                             f"{MAX_MODEL_ERRORS} are): fix these and validate again")]


def convert_errors(errors: list[dict], raw: dict, root: type[BaseModel]) -> list[tuple[Loc, str]]:
    """Convert pydantic errors, merging the branches of a union into one problem.

    For `str | dict[str, str]` pydantic reports one error per branch, with the
    branch name ('str', 'dict[str,str]') inside `loc`. When the value got inside
    a branch (an object whose values are wrong) only that branch's errors are
    relevant; otherwise one "expected A or B" problem replaces them all. `root` is the model of
    the whole document (the production, a style family): it names the fields an object may have.
    """
    found: list[tuple[Loc, str]] = []
    too_few: dict[Loc, int] = {}  # fixed-length list -> highest missing index
    unions: dict[Loc, list[tuple[str, Loc, dict]]] = {}  # union value -> (branch, loc, error)

    points: dict[Loc, Any] = {}  # a point ([x, z]) given with too few or too many numbers → its value

    for error in errors:
        if error["loc"] and error["loc"][-1] == "[key]":  # an object key that is not an id
            loc = _split_loc(error["loc"][:-1], raw, error["type"])[0]
            found.append((loc, _key_message(str(error.get("input", loc[-1] if loc else "")))))
            continue
        loc, branch, branch_at = _split_loc(error["loc"], raw, error["type"])
        point = _bad_point_at(loc, raw, root)
        if point is not None:
            points.setdefault(point, value_at(raw, point))
        elif branch is not None:
            unions.setdefault(loc[:branch_at], []).append((branch, loc, error))
        elif error["type"] == "missing" and loc and isinstance(loc[-1], int):
            too_few[loc[:-1]] = max(too_few.get(loc[:-1], -1), loc[-1])
        else:
            found.append(_convert_one(error, loc, root))

    for parent, highest in too_few.items():
        found.append((parent, _too_few_message(parent, highest + 1, value_at(raw, parent), root)))

    for point, value in points.items():
        count = len(value)
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        got = "an empty list" if not count else f"{count} number{'s' if count > 1 else ''}" if numbers else \
            f"a list of {_items(count)}"
        found.append((point, f"a point is [x, z] (two numbers), got {got}"))

    for union_loc, branches in unions.items():
        inside = [(loc, error) for _, loc, error in branches if len(loc) > len(union_loc)]
        if inside:
            found += [_convert_one(error, loc, root) for loc, error in inside]
        else:
            wanted = " or ".join(dict.fromkeys(_describe_branch(name) for name, _, _ in branches))
            found.append((union_loc, f"expected {wanted}, got {describe(branches[0][2]['input'])}"))
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


def _key_message(key: str) -> str:
    """An object key that must be an id (a cast member's, a mark's name) and is not: say so, and what it may mean."""
    close = _as_id(key)
    hint = f": did you mean '{close}'?" if close is not None and close != key else ""
    return (f"'{one_line(short_text(key))}' is not a valid id (lower-case letters, digits, '-' and '_', starting "
            f"with a letter or digit, at most 64){hint}")


def _as_id(text: str) -> str | None:
    """The id a name most likely means: accents dropped, lower case, spaces and other marks made '-'."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()
    name = re.sub(r"[^a-z0-9_-]+", "-", plain).strip("-_")[:64].rstrip("-_")
    return name if re.fullmatch(ID_PATTERN, name) else None


def _bad_point_at(loc: Loc, raw: Any, root: type[BaseModel]) -> Loc | None:
    """Where `loc` lies in (or is) a point, [x, z], written as a list of other than two items; None if it does not.

    pydantic reports such a list once per missing number, or as a union's failed branches (a point or
    text): one line at the point says what a point is instead.
    """
    for end in range(1, len(loc) + 1):
        value = value_at(raw, loc[:end])
        if isinstance(value, list) and len(value) != 2 and _is_point(_annotation_at(loc[:end], root)):
            return loc[:end]
    return None


@functools.lru_cache(maxsize=4096)
def _annotation_at(loc: Loc, root: type[BaseModel]) -> Any:
    """The type annotation of the value at `loc` in a `root` document (through lists and id-keyed objects)."""
    annotation: Any = root
    for part in loc:
        if annotation is None:
            return None
        if isinstance(part, int):
            annotation = _item_type(annotation)
            continue
        model = _as_model(annotation)
        if model is not None:
            info = model.model_fields.get(part)
            annotation = info.annotation if info is not None else None
        else:
            annotation = next((typing.get_args(arg)[1] for arg in _union_args(annotation)
                               if typing.get_origin(arg) is dict), None)
    return annotation


def _union_args(annotation: Any) -> tuple:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _is_point(annotation: Any) -> bool:
    """Whether a value of this type may be a point: two numbers, a tuple[float, float] (maybe one of a union)."""
    for arg in _union_args(annotation):
        args = typing.get_args(arg)
        if typing.get_origin(arg) is tuple and len(args) == 2 and all(_bare(a) is float for a in args):
            return True
    return False


def _bare(annotation: Any) -> Any:
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation


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


def _convert_one(error: dict, loc: Loc, root: type[BaseModel]) -> tuple[Loc, str]:
    """One pydantic error as (location, plain sentence)."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    field = next((part for part in reversed(loc) if isinstance(part, str)), "")
    got = describe(value)

    if kind == "missing":
        return loc, f"required field '{loc[-1]}' is missing"
    if kind == "extra_forbidden":
        return loc, _unknown_field_message(loc, root)
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
        model = _model_at(loc, root)
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


def _unknown_field_message(loc: Loc, root: type[BaseModel]) -> str:
    name = str(loc[-1])
    model = _model_at(loc[:-1], root)
    if model is None:
        return f"unknown field '{name}'"
    return _unknown_field_in(model, name)


# Cached: a file may hold thousands of unknown fields, often the same mistake in every shot.
@functools.lru_cache(maxsize=4096)
def _unknown_field_in(model: type[BaseModel], name: str) -> str:
    return unknown_field_text(name, list(model.model_fields), homes=_homes(model).get(name))


@functools.cache
def _homes(model: type[BaseModel]) -> dict[str, list[str]]:
    """Field name → the fields of `model` whose object has it: where a field put one level too high belongs.

    Like "fps" beside "delivery" instead of inside it.
    """
    homes: dict[str, list[str]] = {}
    for field, info in model.model_fields.items():
        child = _as_model(info.annotation) or _as_model(_item_type(info.annotation))
        for name in child.model_fields if child is not None else ():
            homes.setdefault(name, []).append(f"'{field}'")
    return homes


def unknown_field_text(name: str, known: list[str], cutoff: float = 0.6, homes: list[str] | None = None) -> str:
    """'unknown field' with the known name it most likely meant, else where it belongs (`homes`), else every name.

    One wording for every object a user writes (the spec here, style family files in styles.py).
    """
    close = difflib.get_close_matches(name, known, n=1, cutoff=cutoff)
    if close:
        return f"unknown field '{name}'; did you mean '{close[0]}'?"
    if homes:
        where = homes[0] if len(homes) == 1 else f"{', '.join(homes[:-1])} or {homes[-1]}"
        return f"unknown field '{name}' here; it belongs inside {where}"
    return f"unknown field '{name}'; known fields: {', '.join(known)}"


def _literal_message(expected: str, value: Any) -> str:
    """pydantic gives the choices as "'a', 'b' or 'c'"; say "must be one of 'a', 'b', 'c'"."""
    choices = re.findall(r"'((?:[^'\\]|\\.)*)'|(-?\d+(?:\.\d+)?)", expected)
    names = [text or number for text, number in choices]
    got = f"'{one_line(short_text(value))}'" if isinstance(value, str) else describe(value)
    if len(names) == 1:
        return f"must be {expected}, got {got}"
    message = f"must be one of {', '.join(repr(n) if not _is_number(n) else n for n in names)}, got {got}"
    if isinstance(value, str):
        spoken = value.strip().lower()
        by_case = {name.lower(): name for name in names}
        close = [by_case[spoken]] if spoken in by_case else (
            [SPOKEN_NAMES[spoken]] if SPOKEN_NAMES.get(spoken) in names else
            difflib.get_close_matches(value, names, n=1, cutoff=0.6))
        if close:
            message += f"; did you mean '{close[0]}'?"
    return message


def _too_few_message(parent: Loc, needed: int, value: Any, root: type[BaseModel]) -> str:
    """A fixed-length list (a tuple in the model) that is too short; name its parts if documented."""
    got = len(value) if isinstance(value, list) else 0
    model = _model_at(parent[:-1], root) if parent and isinstance(parent[-1], str) else None
    info = model.model_fields.get(parent[-1]) if model is not None else None
    parts = f" ({info.description})" if info is not None and info.description else ""
    return f"expected {needed} items{parts}, got {got}"


@functools.lru_cache(maxsize=4096)  # problems cluster: many in one object ask for the same location
def _model_at(loc: Loc, root: type[BaseModel]) -> type[BaseModel] | None:
    """The model class describing the object at `loc` in a `root` document, found by walking the field annotations."""
    annotation: Any = root
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


def document_order(raw: Any) -> Callable[[Loc], tuple[int, ...]]:
    """Sort key for locations in `raw`: where each sits in the file. A missing key sorts after its object's keys.

    Each object's key positions are found once, so sorting many problems (a file of thousands of
    unknown fields) stays linear in their number.
    """
    positions: dict[int, dict[str, int]] = {}  # id of an object in `raw` → its keys' positions

    def position(node: dict, part: Any) -> int:
        if id(node) not in positions:
            positions[id(node)] = {name: index for index, name in enumerate(node)}
        return positions[id(node)].get(part, len(node))

    return functools.partial(_document_position, raw, position)


def _document_position(raw: Any, position: Callable[[dict, Any], int], loc: Loc) -> tuple[int, ...]:
    key: list[int] = []
    node = raw
    for part in loc:
        if isinstance(node, dict):
            key.append(position(node, part))
            if part in node:
                node = node[part]
                continue
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            key.append(part)
            node = node[part]
            continue
        else:
            key.append(len(node) if isinstance(node, list) else 0)
        node = None
    return tuple(key)


def value_at(raw: Any, loc: Loc) -> Any:
    node = raw
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def describe(value: Any) -> str:
    """Name a JSON value for a message: 'the string "abc"', 'the number 24.5', 'null', 'a list ...'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {short_text(json.dumps(value, ensure_ascii=False))}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"the number {value}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, _NonStandardNumber):
        return short_text(value.literal)
    if isinstance(value, (list, tuple)):
        return "an empty list" if not value else f"the list {short_text(_json_start(value))}"
    if isinstance(value, dict):
        return "an empty object" if not value else f"the object {short_text(_json_start(value))}"
    return short_text(repr(value))


# Encodes lazily (iterencode without the one-shot C encoder): a message quotes a value's start only.
_PREVIEW_ENCODER = json.JSONEncoder(ensure_ascii=False, default=lambda v: short_text(getattr(v, "literal", repr(v))))


def _json_start(value: Any, limit: int = 40) -> str:
    """The start of a value's JSON text, at least `limit` characters where it has them: a value may be megabytes."""
    text = ""
    for chunk in _PREVIEW_ENCODER.iterencode(value):
        text += chunk
        if len(text) > limit:
            break
    return text


def _number(value: Any) -> str:
    """1.0 -> '1', 2.5 -> '2.5': limits read better without a stray '.0'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_number(text: str) -> bool:
    return re.fullmatch(r"-?\d+(\.\d+)?", text) is not None


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"
