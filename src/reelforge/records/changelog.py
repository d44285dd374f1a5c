"""The append-only change log (placeholder interface; the change-log helper replaces the body).

Every change — spec commits, asset uploads, renders, approvals, key changes — appends one entry.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

KINDS = ("commit", "asset", "render", "approval", "key-change")


def append_entry(session: Session, *, actor: str, kind: str, entity: str, version: int | None,
                 before: object | None, after: object | None, reason: str, at: str | None = None) -> int:
    """Append one entry in the caller's transaction; returns its sequence number (0-based).

    `before` / `after` are JSON-able states (or None); they are stored by content hash.
    """
    raise NotImplementedError("the change log is being built")
