"""The production's mark key held against the keys its catalog says deliveries were marked with.

A lost `mark.key` must not be replaced by a new one without a word (render) or read as "no mark"
(trace): the deliveries marked with the old key would silently become untraceable. Both ask
`key_problem` first and say it in one line: restore the key from the backup.
"""

from __future__ import annotations

from pathlib import Path

from reelforge.store.catalog import existing_catalog
from reelforge.trust.mark import MarkKey


def recorded_key_ids(catalog_path: Path) -> set[str]:
    """The fingerprints of the keys the production's marked deliveries were made with (none recorded: empty)."""
    with existing_catalog(catalog_path) as catalog:
        return catalog.mark_key_ids() if catalog is not None else set()


def key_problem(key_path: Path, secret: bytes | None, catalog_path: Path) -> str | None:
    """Why the key at `key_path` (None: no file) cannot read the production's marked deliveries; None if it can."""
    recorded = recorded_key_ids(catalog_path)
    if not recorded:
        return None
    marked_with = ", ".join(sorted(recorded))
    if secret is None:
        return (f"{key_path}: the mark key is missing, but this production's deliveries were marked with key "
                f"{marked_with}: restore mark.key from your backup (a new key would leave them untraceable)")
    if MarkKey(secret).key_id not in recorded:
        return (f"{key_path}: this is mark key {MarkKey(secret).key_id}, but this production's deliveries were "
                f"marked with key {marked_with}: restore that mark.key from your backup")
    return None
