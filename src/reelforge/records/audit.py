"""The version tables checked against the change log, entry by entry.

`history`, `show` and `show render:N` print the version tables; `reelforge log verify` checks
them against the signed log (records/changelog.py), so it never vouches for a log while the
records beside it say something else.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelforge.records.entities import ENTITY_KINDS
from reelforge.store.schema import CommitRecord, EntityVersion, LogEntry, LogState, RenderCommit


def check_records(session: Session) -> list[str]:
    """The version tables against the change log: what `history`, `show` and `show render:N` print must be
    what the log recorded, or `reelforge log verify` would vouch for a log while the records beside it lie.

    Commits (actor, time, reason, spec hash), entity versions (content and the commit that wrote them) and
    render → commit links are compared with their log entries; a row without one was forged (or its entry
    removed, which the tree shows). Renders logged before the render entry named its commit are not linked.
    """
    problems: list[str] = []
    logged = list(session.scalars(select(LogEntry).where(LogEntry.kind.in_(("commit", "asset", "render")))))
    wanted = {row.after_sha256 for row in logged if row.after_sha256 and (row.kind == "render" or
                                                                          row.entity.startswith("commit:"))}
    blobs: dict[str, bytes] = {}
    wanted_list = sorted(wanted)
    for start in range(0, len(wanted_list), 500):  # SQLite caps the parameters of one statement
        blobs.update((digest, data) for digest, data in session.execute(
            select(LogState.sha256, LogState.data).where(LogState.sha256.in_(wanted_list[start:start + 500]))))

    def after(row) -> dict:
        try:
            value = json.loads(blobs.get(row.after_sha256) or b"null")
        except ValueError:
            value = None
        return value if isinstance(value, dict) else {}

    versions = {(row.entity, row.version): row for row in logged if row.kind in ("commit", "asset")
                and row.entity.partition(":")[0] in ENTITY_KINDS}
    commits = {row.entity: (row, after(row)) for row in logged if row.entity.startswith("commit:")}
    renders = {after(row).get("render_id"): after(row) for row in logged if row.kind == "render"}
    for commit in session.scalars(select(CommitRecord).order_by(CommitRecord.id)):
        found = commits.get(f"commit:{commit.id}")
        if found is None:
            problems.append(f"commit #{commit.id} has no entry in the change log (forged, or its entry removed)")
            continue
        entry, state = found
        recorded = (entry.actor, entry.at, entry.reason, state.get("spec_sha256"), state.get("auto"))
        if recorded != (commit.actor, commit.at, commit.reason, commit.spec_sha256, commit.auto):
            problems.append(f"commit #{commit.id} was altered: its actor, time, reason or spec hash differ from its "
                            f"change-log entry {entry.seq}")
    for row in session.scalars(select(EntityVersion).order_by(EntityVersion.commit_id, EntityVersion.entity)):
        name = f"{row.entity}@{row.version}"
        entry = versions.get((row.entity, row.version))
        digest = None if row.content_json is None else hashlib.sha256(row.content_json.encode("utf-8")).hexdigest()
        listed = commits.get(f"commit:{row.commit_id}", (None, {}))[1].get("versions", {})
        if entry is None:
            problems.append(f"{name} has no entry in the change log (forged, or its entry removed)")
        elif digest != row.content_sha256 or digest != entry.after_sha256 or listed.get(row.entity) != row.version:
            problems.append(f"{name} was altered: its content or commit differs from its change-log entry {entry.seq}")
    for link in session.scalars(select(RenderCommit).order_by(RenderCommit.render_id)):
        state = renders.get(link.render_id)
        if state is not None and "commit" in state and state["commit"] != link.commit_id:
            problems.append(f"render #{link.render_id} was relinked: it points at commit #{link.commit_id}, its "
                            f"change-log entry at commit #{state['commit']}")
    linked = set(session.scalars(select(RenderCommit.render_id)))
    problems += [f"render #{render_id}'s link to commit #{state['commit']} was removed"
                 for render_id, state in sorted(renders.items(), key=lambda item: str(item[0]))
                 if state.get("commit") is not None and render_id not in linked]
    return problems
