"""Entity names in the records: `kind:id` (`shot:s01e01/sc01/sh01`, `character:mara`, `asset:<sha256>`)."""

from __future__ import annotations

from collections.abc import Iterable

ENTITY_KINDS = ("series", "episode", "scene", "shot", "character", "location", "style", "asset")


class RecordsError(Exception):
    """Something the user asked of the records cannot be done; the message says what to do (exit 2)."""


class UnknownEntity(RecordsError):
    pass


class UnknownVersion(RecordsError):
    pass


def parse_entity(name: str, kinds: Iterable[str] = ENTITY_KINDS) -> tuple[str, str]:
    """'shot:s01e01/sc01/sh01' → ('shot', 's01e01/sc01/sh01'); a clear error for anything else."""
    kinds = tuple(kinds)
    kind, sep, rest = name.partition(":")
    if not sep or not rest or kind not in kinds:
        raise UnknownEntity(f"'{name}' is not an entity name: use KIND:ID with KIND one of {', '.join(kinds)} "
                            f"(e.g. shot:s01e01/sc01/sh01, character:mara)")
    expected_parts = {"scene": 2, "shot": 3}.get(kind, 1)
    if kind != "asset" and len(rest.split("/")) != expected_parts:
        example = {"scene": "scene:s01e01/sc01", "shot": "shot:s01e01/sc01/sh01"}.get(kind, f"{kind}:ID")
        raise UnknownEntity(f"'{name}': a {kind} is named like {example}")
    return kind, rest
