"""What the change log records for a render: a "render" entry, and a "key-change" entry per shot whose job key moved.

Called by engine/record.py in the render's own transaction, so a delivery, its log entries and the
checkpoint that signs them are committed together or not at all. The render entry records every
value of the render's catalog rows that a command trusts (records/render_rows.py), so
records/audit.py can check the rows against it.
"""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reelforge.records.changelog import append_entry, write_checkpoint
from reelforge.records.render_rows import load_render_rows, render_record
from reelforge.store.schema import EntityVersion, JobRecord, RenderCommit, RenderShot


def last_job_keys(session: Session, shot_paths: list[str], takes: dict[str, int | None] | None = None
                  ) -> dict[str, str]:
    """The job key each shot was last rendered with (call before this render's rows are added).

    With `takes` (shot path → the take this render makes, None for take 1): the key that take was
    last rendered with. Takes are variants side by side (plan/takes.py): a take's first render is
    not the shot's key changing.
    """
    keys: dict[str, str] = {}
    for path in dict.fromkeys(shot_paths):
        query = select(RenderShot.job_key).where(RenderShot.shot_path == path)
        if takes is not None and path in takes:
            take = func.json_extract(JobRecord.job_json, "$.take")
            query = query.join(JobRecord, JobRecord.key == RenderShot.job_key).where(
                take.is_(None) if takes[path] is None else take == takes[path])
        key = session.scalars(query.order_by(RenderShot.render_id.desc())).first()
        if key is not None:
            keys[path] = key
    return keys


def current_version(session: Session, entity: str) -> int | None:
    """The entity's latest committed version (what a render or an approval is of), None if never committed."""
    return session.scalar(select(func.max(EntityVersion.version)).where(EntityVersion.entity == entity))


def changed_fields(session: Session, old_key: str, new_job: dict) -> list[str]:
    """The job's top-level fields that differ from the job recorded under `old_key` (what moved the key)."""
    old = session.get(JobRecord, old_key)
    if old is None:
        return []
    before = json.loads(old.job_json)
    return sorted(name for name in set(before) | set(new_job)
                  if name != "files" and before.get(name) != new_job.get(name))


def log_render(session: Session, result, render_id: int, actor: str, identity, previous_keys: dict[str, str]) -> None:
    """Append the key-change entries, then the render entry; sign a checkpoint when the render is signed."""
    for shot in result.shots:
        old = previous_keys.get(shot.job.shot_path)
        if old is None or old == shot.job.key:
            continue
        fields = changed_fields(session, old, shot.job.model_dump(mode="json"))
        entity = f"shot:{shot.job.shot_path}"
        append_entry(session, actor=actor, kind="key-change", entity=entity, version=current_version(session, entity),
                     before={"job_key": old}, after={"job_key": shot.job.key, "changed": fields},
                     reason=f"job key changed ({', '.join(fields) or 'engine or environment'}): the shot renders anew")
    entity = f"episode:{result.episode_id}" if result.kind == "episode" else f"shot:{result.shots[0].job.shot_path}"

    link = session.get(RenderCommit, render_id)  # the commit it was made from: its versions, in the log
    rows = load_render_rows(session, [render_id])[render_id]  # this transaction's rows (autoflushed)
    after = {"render_id": render_id, "commit": link.commit_id if link is not None else None,
             "output": result.output.name, **render_record(rows)}
    append_entry(session, actor=actor, kind="render", entity=entity, version=current_version(session, entity),
                 before=None, after=after,
                 reason=f"rendered {result.output.name} (render #{render_id})")
    if identity is not None:  # an unsigned library render leaves its entries to the next signed checkpoint
        write_checkpoint(session, identity)
