"""Edit one shot of a production.json as a form would: field by field, validated like the CLI, committed.

A person editing a shot in the Open Studio changes a handful of values — the prompt in each
language, the camera move and easing (and its travel or angle), the lighting preset, its
direction and colour temperature, the style family, the cast, the length, and the shot's own blocking
(who starts where and does what when, as the JSON object the spec holds). This module turns
such a form (field name → text) into a change of the raw JSON, so everything else in the file
stays as written (keys in their order, fields the form does not show untouched), then:

* validates the new text exactly as `reelforge validate` / `render` would (it is written to a
  temporary file beside the spec, loaded by `spec.load.load_production`, and the LUTs and
  character files it names are read), and maps every problem's JSON path back to the form
  field it belongs to, so it can be shown beside it;
* refuses a file that would not survive being read and written back (a key given twice in one
  object, text that is not valid Unicode): `reelforge validate` refuses it too;
* refuses a save made from a stale form: the form carries the spec's SHA-256 when it was
  loaded (`base`), and a save whose base is no longer the file's is refused, so nobody
  silently overwrites somebody else's edit;
* records the new state as a commit (actor, reason) with `records.versions.commit_spec`,
  as `reelforge commit` does, and only then puts the file in place (atomically): a file
  state that is on disk is always a committed one, with the editor's reason.

An empty form value means "not set here": the key is removed and the shot inherits the
scene's (episode's, production's) camera, lighting or style. A field missing from the
submitted values is left as it is. `take` (not on the form: the Takes panel's Pick sends it alone)
sets which take of the shot renders.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import json_source_map

from reelforge.app.commit import commit_file
from reelforge.deliver.options import DeliveryError
from reelforge.errors import Problem, SpecError
from reelforge.plan.cast import cast_file_problems
from reelforge.plan.look import lut_problems
from reelforge.records.entities import RecordsError
from reelforge.records.versions import CommitResult
from reelforge.spec import presets
from reelforge.spec.easing import EASINGS
from reelforge.spec.json_problems import (
    MAX_FILE_BYTES,
    FileProblem,
    check_depth,
    check_size,
    duplicate_keys,
    indexed_objects,
    json_path,
    short_text,
)
from reelforge.spec.load import load_production
from reelforge.spec.styles import load_families
from reelforge.store.atomic import atomic_path
from reelforge.store.paths import ProductionPaths

GENERAL = "form"  # problems that belong to no one field (another part of the file, a style file, the records)
BLOCKING = "blocking"  # the shot's own blocking object as JSON text; empty: the shot inherits the scene's
PROMPT = "prompt."  # prompt fields are named prompt.<language tag>
LENGTH_UNITS = ("seconds", "frames")

# Form field → key inside the shot's camera / lighting / style object.
CAMERA_FIELDS = {"camera_move": "move", "camera_easing": "easing", "camera_travel_m": "travel_m",
                 "camera_angle_deg": "angle_deg"}
LIGHTING_FIELDS = {"lighting_preset": "preset", "lighting_azimuth_deg": "azimuth_deg",
                   "lighting_elevation_deg": "elevation_deg", "lighting_kelvin": "kelvin"}
STYLE_FIELDS = {"style_preset": "preset"}
OBJECT_FIELDS = {"camera": CAMERA_FIELDS, "lighting": LIGHTING_FIELDS, "style": STYLE_FIELDS}
NUMBER_FIELDS = {"camera_travel_m", "camera_angle_deg", "lighting_azimuth_deg", "lighting_elevation_deg",
                 "lighting_kelvin", "length"}
# Camera keys the form does not show, reported beside the field they go with.
CAMERA_NEIGHBOURS = {"speed_mps": "camera_travel_m", "speed_deg_s": "camera_angle_deg"}
# What an unset value falls back to at the top of the production (spec.model.Production defaults).
PRODUCTION_DEFAULTS = {"camera": {"move": "lock-off"}, "lighting": {"preset": "overcast"},
                       "style": {"preset": "gray-box"}}

_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]|\['((?:[^'\\]|\\.)*)'\]")


# --------------------------------------------------------------------------- results and refusals


@dataclass(frozen=True)
class FieldProblem:
    """A problem shown beside a form field: the field, the JSON path in the spec (if any), a sentence."""

    field: str
    path: str
    message: str


class EditError(Exception):
    """A shot edit that cannot be saved."""


class UnknownShot(EditError):
    """The shot path names no shot of the spec."""


class StaleEdit(EditError):
    """The spec changed since the form was loaded (someone else saved): reload, then edit again."""


class EditInvalid(EditError):
    """The edited spec would not validate (or the form lacks a reason): every problem, by field."""

    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


@dataclass(frozen=True)
class EditResult:
    changed: bool  # False: the form changed nothing; nothing was written or committed
    base: str  # the spec's SHA-256 now: the base of the next edit
    shot_path: str = ""
    commit_id: int | None = None
    created: bool = False  # a new commit was recorded (False when the change moved no entity's content)
    versions: dict[str, int] = field(default_factory=dict)  # entity → its new version

    @property
    def message(self) -> str:
        if not self.changed:
            return "nothing changed: the spec is as it was, no commit recorded"
        if not self.created:
            return f"saved; its content was already recorded (commit #{self.commit_id})"
        shot = f"shot:{self.shot_path}"
        said = f"{shot} is now version {self.versions[shot]}" if shot in self.versions else "no shot changed"
        others = len(self.versions) - (shot in self.versions)
        more = f"; {others} other new version{'' if others == 1 else 's'}" if others else ""
        return f"saved as commit #{self.commit_id}: {said}{more}"


@dataclass(frozen=True)
class ShotForm:
    """What a shot's edit form shows: its current values (field → text) and the choices for each field."""

    shot_path: str
    base: str  # the spec's SHA-256: sent back with the save
    values: dict[str, str]
    language: str  # the source language: its prompt is required
    languages: list[str]  # one prompt field each, source first
    moves: list[str]
    easings: list[str]
    lighting_presets: list[str]
    styles: list[str]
    characters: list[tuple[str, str]]  # (id, name in the source language)
    inherited: dict[str, str]  # "camera" / "lighting" / "style" → what an empty value falls back to
    backend: str = "previz"  # what renders the production ($.backend; previz draws no prompt)

# --------------------------------------------------------------------------- reading the form


def load_shot_form(spec: Path, shot_path: str) -> ShotForm:
    """The form for one shot, filled from the spec file as written (not as inherited)."""
    spec = Path(spec)
    data = spec.read_bytes()
    raw = _parse(data)
    (e, s, _), shot = find_shot(raw, shot_path)
    source = source_language(raw)
    languages = prompt_languages(raw, shot)
    values = {PROMPT + language: _prompt_text(shot.get("prompt"), language, source) for language in languages}
    for key, fields in OBJECT_FIELDS.items():
        obj = shot.get(key) if isinstance(shot.get(key), dict) else {}
        values.update({name: display(obj.get(sub)) for name, sub in fields.items()})
    values["cast"] = ", ".join(map(display, shot["cast"])) if isinstance(shot.get("cast"), list) else ""
    values[BLOCKING] = blocking_text(shot.get(BLOCKING))
    unit = _length_key(shot)
    values["length"], values["length_unit"] = display(shot.get(unit)) if unit else "", unit or "seconds"
    episode, scene = raw["episodes"][e], raw["episodes"][e]["scenes"][s]
    inherited = {key: _inherited(key, [(scene, "scene"), (episode, "episode"), (raw, "production")])
                 for key in OBJECT_FIELDS}
    lighting_presets = sorted(presets.LIGHTING)
    styles = load_families(spec.absolute().parent).names
    characters = [(c["id"], _text(c.get("name"), source) or c["id"]) for c in _dicts(raw.get("characters"))
                  if isinstance(c.get("id"), str)]
    return ShotForm(shot_path=shot_path, base=_sha(data), values=values, language=source, languages=languages,
                    moves=sorted(presets.CAMERA_MOVES), easings=list(EASINGS), lighting_presets=lighting_presets,
                    styles=list(styles), characters=characters, inherited=inherited,
                    backend=raw["backend"] if isinstance(raw.get("backend"), str) else "previz")


def source_language(raw: dict) -> str:
    """The language the spec is written in ($.language; "en" when it does not say, as the model does)."""
    return raw.get("language") if isinstance(raw.get("language"), str) else "en"


def prompt_languages(raw: dict, shot: dict) -> list[str]:
    """The languages a shot's prompt is edited in: the source, those the production declares, any already given."""
    source = source_language(raw)
    declared = [tag for tag in raw.get("languages", []) if isinstance(tag, str)] \
        if isinstance(raw.get("languages"), list) else []
    given = list(shot["prompt"]) if isinstance(shot.get("prompt"), dict) else []
    return list(dict.fromkeys([source, *declared, *given]))


def blocking_text(value: Any) -> str:
    """A shot's blocking as the form shows it: JSON with a line per character and per action; "" when not set."""
    if value is None:
        return ""
    if not isinstance(value, dict) or not value:
        return json.dumps(value, ensure_ascii=False)
    lines = []
    for n, (who, entry) in enumerate(value.items()):
        comma = "," if n < len(value) - 1 else ""
        name = json.dumps(who, ensure_ascii=False)
        actions = entry.get("actions") if isinstance(entry, dict) else None
        if not (isinstance(actions, list) and actions):
            lines.append(f"  {name}: {_compact(entry)}{comma}")
            continue
        rest = _compact({key: item for key, item in entry.items() if key != "actions"})[1:-1]
        lines.append(f"  {name}: {{{rest + ', ' if rest else ''}\"actions\": [")
        lines += [f"    {_compact(action)}{',' if i < len(actions) - 1 else ''}" for i, action in enumerate(actions)]
        lines.append(f"  ]}}{comma}")
    return "{\n" + "\n".join(lines) + "\n}"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def display(value: Any) -> str:
    """A JSON value as a form shows it (the inverse of how a saved field is written)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, list) and len(value) == 4 and all(isinstance(v, (int, float)) for v in value):
        return "cubic-bezier(" + ", ".join(json.dumps(v) for v in value) + ")"  # an easing as control points
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------- saving an edit


def apply_shot_edit(spec: Path, shot_path: str, values: Mapping[str, str], *, base: str, reason: str,
                    actor: str) -> EditResult:
    """Save a shot's form: validate like the CLI, commit (actor, reason), write the file atomically.

    Raises UnknownShot, StaleEdit (the file is no longer at `base`) or EditInvalid (every problem,
    each by the form field it belongs to). An edit that changes nothing writes and commits nothing.
    """
    spec = Path(spec)
    paths = ProductionPaths.for_spec(spec)
    with _edit_lock(paths):  # one save at a time: the base check and the write belong together
        data = spec.read_bytes()
        raw = _parse(data)
        text = data.decode("utf-8-sig")  # it parsed, so it decodes
        (e, s, t), _ = find_shot(raw, shot_path)
        duplicates = duplicate_keys(text)
        if duplicates:  # the parsed file keeps only the last of each: writing it back would lose the others
            raise EditInvalid([FieldProblem(GENERAL, path, f"field '{key}' is given more than once in this object; "
                                                           f"keep only one (fix {spec.name} on disk, then reload)")
                               for path, key in duplicates])
        if not base:
            raise EditInvalid([FieldProblem("base", "", "the form has no base version of the spec: reload the page")])
        if base != _sha(data):
            raise StaleEdit(f"{spec.name} changed since this form was loaded (someone else saved, or it was edited "
                            f"on disk): reload the page to see the change, then make your edit again")
        edited = copy.deepcopy(raw)
        shot = edited["episodes"][e]["scenes"][s]["shots"][t]
        form_problems = _apply(edited, shot, values)
        if edited == raw and not form_problems:
            return EditResult(changed=False, base=base, shot_path=shot_path)
        if not reason.strip():
            form_problems.append(FieldProblem("reason", "", "give a reason: say what changed and why "
                                                            "(it is recorded with the commit)"))
        new_text = rewrite_shot(text, (e, s, t), shot, edited)
        with atomic_path(spec) as candidate:
            candidate.write_text(new_text, encoding="utf-8")
            problems = form_problems + _spec_problems(candidate, (e, s, t), raw)
            if problems:
                raise EditInvalid(problems)  # the candidate is removed; the spec is untouched
            if _sha(spec.read_bytes()) != base:  # edited on disk (not through a form) while we validated
                raise StaleEdit(f"{spec.name} changed while saving: reload the page to see the change")
            result = _commit(paths, spec, candidate, actor=actor, reason=reason.strip())
        return EditResult(changed=True, base=_sha(new_text.encode("utf-8")), shot_path=shot_path,
                          commit_id=result.commit_id, created=result.created, versions=dict(result.versions))


def rewrite_shot(text: str, at: tuple[int, int, int], shot: dict, edited: dict) -> str:
    """The spec's text with only the edited shot's object replaced, in the layout it was written in.

    A producer's spec usually lives in version control: rewriting the whole file in another layout
    would make every save a diff of the whole file. json-source-map finds where the shot's object
    starts and ends; a shot written on one line stays on one line, an indented one keeps its
    indentation, and one wrapped by hand (as the bundled examples write blocking) keeps every member
    the edit left alone exactly as written. Should the result not parse back to exactly the edited
    document, the whole file is written out instead (indent 2): never a wrong file to keep a diff small.
    """
    pointer = "/episodes/{}/scenes/{}/shots/{}".format(*at)
    try:
        source_map = json_source_map.calculate(text)
    except json_source_map.errors.InvalidInputError:  # e.g. a byte-order mark: write the whole file
        source_map = {}
    entry = source_map.get(pointer)
    if entry is not None:
        start, end = entry.value_start.position, entry.value_end.position
        original = text[start:end]
        if "\n" not in original:
            replacement = json.dumps(shot, ensure_ascii=False, separators=(", ", ": "))
        else:
            line_start = text.rfind("\n", 0, start) + 1
            base = text[line_start:start] if not text[line_start:start].strip() else ""
            second = original.split("\n", 1)[1]
            unit = len(second) - len(second.lstrip(" ")) - len(base)
            replacement = json.dumps(shot, ensure_ascii=False, indent=max(unit, 1)).replace("\n", "\n" + base)
            written = json.loads(original)
            if written and json.dumps(written, ensure_ascii=False, indent=max(unit, 1)).replace("\n", "\n" + base) \
                    != original:
                members = [(key, source_map.get(f"{pointer}/{key}")) for key in written]  # keys unescaped there
                if all(member is not None for _, member in members):
                    replacement = _rewrapped(text, start, end, members, written, shot)
        candidate = text[:start] + replacement + text[end:]
        try:
            if json.loads(candidate) == edited:
                return candidate
        except ValueError:
            pass
    return json.dumps(edited, indent=2, ensure_ascii=False) + "\n"


def _rewrapped(text: str, start: int, end: int, members: list[tuple[str, Any]], written: dict, shot: dict) -> str:
    """A shot wrapped by hand, edited: each member the edit left alone is its text as written (line breaks
    and all), changed and new members are written compactly, in the edited order; between two members
    that were neighbours, the separator (line break and all) is the one written there."""
    spans = {key: (entry.key_start.position, entry.value_end.position) for key, entry in members}
    order = [key for key, _ in members]
    out, previous = text[start:spans[order[0]][0]], None  # the opening brace and what follows it
    for n, (key, value) in enumerate(shot.items()):
        if n:
            neighbours = key in spans and previous in spans and order.index(key) == order.index(previous) + 1
            out += text[spans[previous][1]:spans[key][0]] if neighbours else ", "
        kept = key in written and written[key] == value
        out += text[slice(*spans[key])] if kept else f"{json.dumps(key, ensure_ascii=False)}: {_compact(value)}"
        previous = key
    return out + text[spans[order[-1]][1]:end]  # what precedes the closing brace, and the brace


def _apply(raw: dict, shot: dict, values: Mapping[str, str]) -> list[FieldProblem]:
    """Change `shot` (inside `raw`) by the submitted values; problems the form itself can see."""
    problems: list[FieldProblem] = []
    source = source_language(raw)
    _apply_prompt(shot, values, source, prompt_languages(raw, shot))
    for key, fields in OBJECT_FIELDS.items():
        _apply_object(shot, key, fields, values)
    if "cast" in values:
        cast = [who for who in re.split(r"[\s,]+", values["cast"].strip()) if who]
        written = shot.get("cast")
        if cast != (written if written is not None else []):
            _set(shot, "cast", cast or None)
    if BLOCKING in values:
        problems += _apply_blocking(shot, values[BLOCKING], raw)
    if "length" in values or "length_unit" in values:
        problems += _apply_length(shot, values)
    if "take" in values:  # the take a director picked (app/takes.py); empty: the shot's own seed again
        text = values["take"].strip()
        _set(shot, "take", parse_number(text) if text else None)
    return problems


def _apply_prompt(shot: dict, values: Mapping[str, str], source: str, languages: list[str]) -> None:
    """Set the prompt per language (only the form's languages); a string stays a string while it can."""
    submitted = {language: _clean_text(values[PROMPT + language]) for language in languages
                 if PROMPT + language in values}
    if not submitted:
        return
    current = shot.get("prompt")
    texts = {source: current} if isinstance(current, str) else dict(current) if isinstance(current, dict) else {}
    changed = False
    for language, text in submitted.items():
        before = texts.get(language)
        if text == (_clean_text(before) if isinstance(before, str) else display(before)):  # line ends alike
            continue
        changed = True
        if text:
            texts[language] = text
        else:
            texts.pop(language, None)
    if not changed:
        return
    if not texts:
        _set(shot, "prompt", None)  # a shot needs a prompt: validation says so beside the field
    elif set(texts) == {source} and not isinstance(current, dict):
        _set(shot, "prompt", texts[source])
    else:
        _set(shot, "prompt", texts)


def _apply_object(shot: dict, key: str, fields: dict[str, str], values: Mapping[str, str]) -> None:
    """Set or remove keys of the shot's camera / lighting / style; an object left empty is removed (inherit)."""
    given = [name for name in fields if name in values]
    if not given:
        return
    current = shot.get(key)
    obj = dict(current) if isinstance(current, dict) else {}
    changed = False
    for name in given:
        sub = fields[name]
        text = values[name].strip()
        if text == display(obj.get(sub)):
            continue
        changed = True
        if text:
            obj[sub] = parse_number(text) if name in NUMBER_FIELDS else text
        else:
            obj.pop(sub, None)
    if changed:
        _set(shot, key, obj or None)


def _apply_blocking(shot: dict, text: str, raw: dict) -> list[FieldProblem]:
    """Set the shot's own blocking from the form's JSON text (empty: none of its own, it inherits).

    Text that is not JSON changes nothing and is a problem beside the field; a JSON value that is
    not valid blocking is written to the candidate, so validation names its exact path and fault.
    """
    text = text.strip()
    if not text:
        _set(shot, BLOCKING, None)
        return []
    where = _blocking_path(raw, shot)
    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        return [FieldProblem(BLOCKING, where, f"the blocking is {size / 2**20:.1f} MiB, over the spec file's "
                                              f"{MAX_FILE_BYTES // 2**20} MiB limit (a shot's blocking is a few "
                                              f"hundred bytes): remove what does not belong in it")]
    try:  # the spec file's checks, before parsing: thousands of '[' would overflow the parser's stack
        check_depth(text)
    except FileProblem as exc:
        return [FieldProblem(BLOCKING, where + exc.path[1:], f"the blocking is {exc}")]
    try:
        value = json.loads(text)
    except ValueError as exc:
        return [FieldProblem(BLOCKING, where, f"the blocking is not JSON ({exc}); write an object like "
                                               f"{{\"mara\": {{\"mark\": [0, 2], \"actions\": [{{\"action\": "
                                               f"\"walk\", \"at_s\": 0.5, \"to\": [1, 4]}}]}}}}, or leave it "
                                               f"empty to inherit")]
    repeated = duplicate_keys(text)  # json keeps the last of each: the others would be lost without a word
    if repeated:
        return [FieldProblem(BLOCKING, where + path[1:], f"field '{short_text(key)}' is given more than once in "
                                                         f"this object; keep only one") for path, key in repeated]
    if value != shot.get(BLOCKING):
        _set(shot, BLOCKING, value)
    return []


def _blocking_path(raw: dict, shot: dict) -> str:
    for e, episode in indexed_objects(raw.get("episodes")):
        for s, scene in indexed_objects(episode.get("scenes")):
            for t, candidate in indexed_objects(scene.get("shots")):
                if candidate is shot:
                    return json_path(("episodes", e, "scenes", s, "shots", t, BLOCKING))
    return ""


def _apply_length(shot: dict, values: Mapping[str, str]) -> list[FieldProblem]:
    """Set the shot's length in seconds or frames, where its length was written (the other unit removed)."""
    old = _length_key(shot)
    current_unit = old or "seconds"
    unit = values.get("length_unit", "").strip() or current_unit
    if unit not in LENGTH_UNITS:
        return [FieldProblem("length_unit", "", f"must be 'seconds' or 'frames', got '{unit}'")]
    current_text = display(shot.get(old)) if old else ""
    text = values["length"].strip() if "length" in values else current_text
    if unit == current_unit and text == current_text:
        return []
    position = list(shot).index(old) if old else len(shot)
    items = [(name, value) for name, value in shot.items() if name not in LENGTH_UNITS]
    if text:  # no length at all: validation asks for one, beside the field
        items.insert(min(position, len(items)), (unit, parse_number(text)))
    shot.clear()
    shot.update(items)
    return []


def _length_key(shot: dict) -> str | None:
    """'seconds' or 'frames', whichever the shot's length is written in (None: neither)."""
    return next((name for name in shot if name in LENGTH_UNITS), None)


def parse_number(text: str) -> Any:
    """'3200' → 3200, '2.5' → 2.5; anything else stays text, so validation says 'expected a number, got …'."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return text
    if "." not in text and "e" not in text.lower():
        try:
            return int(text)
        except ValueError:  # more digits than Python converts (4300): not a number any field takes
            return text
    number = float(text)
    return number if math.isfinite(number) else text


def _clean_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _set(obj: dict, key: str, value: Any) -> None:
    """Set a key where it is (a new key goes last); None removes it."""
    if value is None:
        obj.pop(key, None)
    else:
        obj[key] = value


# --------------------------------------------------------------------------- validating and committing


def _spec_problems(candidate: Path, shot_at: tuple[int, int, int], raw: dict) -> list[FieldProblem]:
    """Every problem `reelforge validate` would report for the candidate file, each by form field."""
    source = source_language(raw)
    try:
        production = load_production(candidate)
    except SpecError as exc:
        return [FieldProblem(field_for(problem, shot_at, source), problem.path, problem.message)
                for problem in exc.problems]
    # the files the spec names (LUTs, character pictures and LoRAs), as `reelforge validate` reads them
    root = candidate.parent
    return [FieldProblem(field_for(Problem(where, message), shot_at, source), where, message)
            for where, message in lut_problems(production, root) + cast_file_problems(production, root)]


def field_for(problem: Problem, shot_at: tuple[int, int, int], source: str) -> str:
    """The form field a problem's JSON path belongs to; GENERAL for anything outside the shot's fields."""
    path = problem.path
    e, s, t = shot_at
    prefix = json_path(("episodes", e, "scenes", s, "shots", t))
    if not path.startswith(prefix):
        return GENERAL
    parts = _segments(path[len(prefix):])
    if parts is None:
        return GENERAL
    if not parts:  # the shot as a whole: its one-length rule is about the length field
        return "length" if "length" in problem.message else GENERAL
    head, tail = parts[0], parts[1:]
    if head == "prompt":
        return PROMPT + (str(tail[0]) if tail else source)
    if head in LENGTH_UNITS:
        return "length"
    if head in ("cast", "take", BLOCKING):
        return head
    if head in OBJECT_FIELDS:
        fields = {sub: name for name, sub in OBJECT_FIELDS[head].items()}
        sub = tail[0] if tail else None
        if head == "camera" and sub in CAMERA_NEIGHBOURS:
            return CAMERA_NEIGHBOURS[sub]
        return fields.get(sub, next(iter(OBJECT_FIELDS[head])))
    return GENERAL


def _segments(rest: str) -> list[str | int] | None:
    parts: list[str | int] = []
    at = 0
    while at < len(rest):
        match = _SEGMENT.match(rest, at)
        if match is None:
            return None
        name, index, quoted = match.groups()
        parts.append(name if name is not None else int(index) if index is not None
                     else quoted.replace("\\'", "'").replace("\\\\", "\\"))
        at = match.end()
    return parts


def _commit(paths: ProductionPaths, spec: Path, candidate: Path, *, actor: str, reason: str) -> CommitResult:
    """Record the candidate's state as `reelforge commit` does (removal check, signed log checkpoint)."""
    try:
        return commit_file(paths, candidate, actor=actor, reason=reason)
    except (RecordsError, DeliveryError) as exc:
        message = str(exc).replace(str(candidate), spec.name)
        raise EditInvalid([FieldProblem(GENERAL, "", f"cannot record the commit: {message}")]) from None
    except SpecError as exc:  # cannot happen after validation, but a style file may change meanwhile
        raise EditInvalid([FieldProblem(GENERAL, p.path, p.message) for p in exc.problems]) from None


@contextmanager
def _edit_lock(paths: ProductionPaths) -> Iterator[None]:
    """Saves of this production's spec one at a time (across processes: an flock on a file in its state folder)."""
    paths.state.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.state / "spec-edit.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- the raw spec


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _parse(data: bytes) -> dict:
    """The spec's raw JSON (key order kept); a file that is not a JSON object cannot be edited by field."""
    try:  # the loader's limits first: a file too large or nested too deep is refused before it is parsed
        check_size(len(data))
        text = data.decode("utf-8-sig")
        check_depth(text)
        raw = json.loads(text)
    except FileProblem as exc:
        why = f"the spec file cannot be edited now: {exc.path}: {exc}; fix it (`reelforge validate` says so) and reload"
        raise EditInvalid([FieldProblem(GENERAL, exc.path, why)]) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise EditInvalid([FieldProblem(GENERAL, "$", f"the spec file does not parse now ({exc}); fix it "
                                                      f"(`reelforge validate` says where) and reload")]) from None
    if not isinstance(raw, dict):
        raise EditInvalid([FieldProblem(GENERAL, "$", "the spec file is not a JSON object; fix it and reload")])
    try:  # a lone "\ud800" escape reads in Python but cannot be written back as UTF-8
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise EditInvalid([FieldProblem(GENERAL, "$", "the spec file holds text that is not valid Unicode (a lone "
                                                      "\\uD800–\\uDFFF escape); fix it (`reelforge validate` says "
                                                      "where) and reload")]) from None
    return raw


def find_shot(raw: dict, shot_path: str) -> tuple[tuple[int, int, int], dict]:
    """((episode, scene, shot) indexes, the shot's raw object) for 'ep/sc/sh'; UnknownShot if there is none."""
    parts = shot_path.split("/")
    if len(parts) == 3:
        episode_id, scene_id, shot_id = parts
        for e, episode in indexed_objects(raw.get("episodes")):
            if episode.get("id") != episode_id:
                continue
            for s, scene in indexed_objects(episode.get("scenes")):
                if scene.get("id") != scene_id:
                    continue
                for t, shot in indexed_objects(scene.get("shots")):
                    if shot.get("id") == shot_id:
                        return (e, s, t), shot
    raise UnknownShot(f"no shot {shot_path!r} in this production")


def _dicts(items: Any) -> list[dict]:
    return [item for _, item in indexed_objects(items)]


def _text(value: Any, language: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        text = value.get(language)
        return text if isinstance(text, str) else ""
    return ""


def _prompt_text(prompt: Any, language: str, source: str) -> str:
    if isinstance(prompt, str):
        return prompt if language == source else ""
    return _text(prompt, language)


def _inherited(key: str, levels: list[tuple[dict, str]]) -> str:
    """What a shot without its own camera / lighting / style gets: '<name> (from the scene)'."""
    for node, level in levels:
        value = node.get(key)
        if isinstance(value, dict):
            name = value.get("move", "lock-off") if key == "camera" else value.get("preset")
            return f"{display(name)} (from the {level})"
    default = PRODUCTION_DEFAULTS[key]
    return f"{next(iter(default.values()))} (the default)"
