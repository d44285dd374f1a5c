"""An entity's change in words: "lighting: overcast → neon night", "prompt: 'old' → 'new'", "cast: + theo".

The change log and `reelforge diff` know a change as JSON paths (records/versions.py `diff_contents`):
exact, and what a tool needs. A director reads a field and its two values. This module says each
top-level field of a content that changed once, in the spec's own terms: a preset by its name (the
settings beside it in brackets), a list of ids by who came and went, a text quoted, an unset camera,
lighting or style as "inherited". The JSON paths stay available behind a details toggle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from reelforge.records.versions import ABSENT, diff_contents

INHERITED = ("camera", "lighting", "style")  # unset: the level above's applies
FILES = "file_sha256"
TEXT_WIDTH = 60  # characters of a quoted text before it is cut with '…'


@dataclass(frozen=True)
class HumanChange:
    """One field's change: `old → new`, or only `new` for a list's additions and removals ('+ theo, − mara')."""

    field: str
    old: str | None
    new: str

    @property
    def text(self) -> str:
        return f"{self.field}: {self.new}" if self.old is None else f"{self.field}: {self.old} → {self.new}"


def _quoted(text: str) -> str:
    return "'" + (text if len(text) <= TEXT_WIDTH else text[:TEXT_WIDTH - 1] + "…") + "'"


def _name(value: str) -> str:
    """A preset or family id as words: 'neon-night' → 'neon night'."""
    return value.replace("-", " ")


def _scalar(value: object) -> str:
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if isinstance(value, int | float) else json.dumps(value, ensure_ascii=False, sort_keys=True)


MAIN = ("preset", "move")  # what names a lighting or style (its preset) or a camera (its move)


def _setting(value: dict) -> str:
    """A camera, lighting or style object: its preset's (move's) name, with what it sets besides in brackets."""
    main = next((key for key in MAIN if isinstance(value.get(key), str)), None)
    rest = ", ".join(f"{key.replace('_', ' ')} {_name(v) if isinstance(v, str) else _scalar(v)}"
                     for key, v in value.items() if key != main)
    if main is None:
        return rest or "empty"
    return _name(value[main]) + (f" ({rest})" if rest else "")


def _value(field: str, value: object) -> str:
    if value is ABSENT:
        return "inherited" if field in INHERITED else "not set"
    if isinstance(value, dict) and field in INHERITED:
        return _setting(value)
    return _scalar(value)


def _is_ids(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _ids_change(field: str, old: list[str], new: list[str]) -> HumanChange:
    """Who came and went ('+ theo, − mara'); the same people in another order: the two orders."""
    came = [f"+ {who}" for who in new if who not in old]
    went = [f"− {who}" for who in old if who not in new]
    if came or went:
        return HumanChange(field, None, ", ".join(came + went))
    return HumanChange(field, ", ".join(old) or "nobody", ", ".join(new) or "nobody")


def field_changes(field: str, old: object, new: object) -> list[HumanChange]:
    """The change of one top-level field, in words (a text per language: one line each)."""
    if _is_ids(old if old is not ABSENT else []) and _is_ids(new if new is not ABSENT else []) and (
            isinstance(old, list) or isinstance(new, list)):
        return [_ids_change(field, old if old is not ABSENT else [], new if new is not ABSENT else [])]
    if isinstance(old, str) and isinstance(new, dict) and new:  # one text became several languages
        old = {next(iter(new)): old}
    if isinstance(new, str) and isinstance(old, dict) and old:
        new = {next(iter(old)): new}
    texts = [v for v in (old, new) if v is not ABSENT]
    if texts and all(isinstance(v, dict) and all(isinstance(t, str) for t in v.values()) for v in texts) \
            and field not in INHERITED:  # a text in several languages: {"en": …, "fr": …}
        old_d = old if isinstance(old, dict) else {}
        new_d = new if isinstance(new, dict) else {}
        return [HumanChange(f"{field} ({tag})", _value(field, old_d.get(tag, ABSENT)), _value(field, new_d.get(tag, ABSENT)))
                for tag in dict.fromkeys([*old_d, *new_d]) if old_d.get(tag) != new_d.get(tag)]
    if isinstance(old, dict) and isinstance(new, dict) and field not in INHERITED:  # e.g. look: each setting
        return [HumanChange(f"{field}{change.path[1:]}", _value("", change.old), _value("", change.new))
                for change in diff_contents(old, new)]
    return [HumanChange(field, _value(field, old), _value(field, new))]


def human_changes(entity: str, before: object | None, after: object | None) -> list[HumanChange]:
    """What changed in one entity's content between two versions, one line per field, in the content's order."""
    if not isinstance(after, dict) and not isinstance(before, dict):
        return []
    if before is None:
        if entity.startswith("asset:") and isinstance(after, dict):
            return [HumanChange("file", None, f"{after.get('name', '?')} kept ({after.get('kind', 'file')})")]
        return [HumanChange("version", None, "created")]
    if after is None:
        return [HumanChange("version", None, "removed")]
    lines: list[HumanChange] = []
    for field in dict.fromkeys([*before, *after]):
        if field == FILES:
            continue
        old, new = before.get(field, ABSENT), after.get(field, ABSENT)
        if old != new:
            lines += field_changes(field, old, new)
    old_files, new_files = before.get(FILES, {}), after.get(FILES, {})
    for name in dict.fromkeys([*old_files, *new_files]):
        if old_files.get(name) != new_files.get(name):
            lines.append(HumanChange(name, None, "its file's content changed"))
    return lines
