"""What a change-log entry's leaf hashes: the entry's canonical JSON, its states by their content hashes.

Its own module, below both the log (changelog.py) and the record checks (audit.py) that recompute
leaves, so neither imports the other to hash an entry.
"""

from __future__ import annotations

import json

from reelforge.records import merkle


def canonical_json(value: object) -> bytes:
    """Sorted keys, no spaces, UTF-8: one byte string per JSON value, so its hash is stable."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def entry_bytes(content: dict) -> bytes:
    """The bytes a leaf hashes: the entry's canonical JSON (states by their content hashes)."""
    return canonical_json({k: content[k] for k in ("seq", "at", "actor", "kind", "entity", "version",
                                                    "before_sha256", "after_sha256", "reason")})


def entry_leaf(content: dict) -> bytes:
    return merkle.leaf_hash(entry_bytes(content))
