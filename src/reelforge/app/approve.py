"""Approvals: a person's sign-off on a shot's or an episode's latest render, kept in the change log.

An approval is permanent (the log is append-only), so one of a misspelt name is refused, not
kept: the entity must be in the spec (a style family the production can use, an asset it
committed). The entry records what was approved — the latest render of that shot or episode —
and a checkpoint signed with the production's identity covers it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from reelforge.app.log_write import signed_write
from reelforge.records import changelog
from reelforge.records.entities import ENTITY_KINDS
from reelforge.records.render_log import current_version
from reelforge.spec.model import Production
from reelforge.spec.styles import load_families
from reelforge.store.catalog import Catalog, main_delivery
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import EntityVersion, RenderRecord, RenderShot


class ApprovalRefused(Exception):
    """The entity names nothing in the production: the message says why (exit 2)."""


@dataclass(frozen=True)
class Approval:
    entity: str
    actor: str
    seq: int  # its change-log entry
    checkpoint_id: int  # the signed checkpoint that covers it
    render: dict | None  # what was approved: the entity's latest render, if it has one


def approve(paths: ProductionPaths, production: Production, entity: str, reason: str, actor: str,
            announce: Callable[[str], None] | None = None) -> Approval:
    """Record an approval of `entity` in the change log, beside any render (app/log_write.py).

    Raises ApprovalRefused, DeliveryError (an unusable signing identity) or ProductionBusy.
    """
    problem = unknown_entity(production, entity, paths)
    if problem is not None:
        raise ApprovalRefused(problem)
    with signed_write(paths, production, "an approval", announce) as write:
        session = write.session
        previous = changelog.last_entry(session, entity=entity, kind="approval")
        before = changelog.state(session, previous.after_sha256) if previous is not None else None
        after = {"status": "approved", "render": latest_render(session, entity)}
        seq = changelog.append_entry(session, actor=actor, kind="approval", entity=entity,
                                     version=current_version(session, entity), before=before, after=after,
                                     reason=reason)
    return Approval(entity, actor, seq, write.checkpoint_id, after["render"])


def unknown_entity(production: Production, entity: str, paths: ProductionPaths | None = None) -> str | None:
    """None when `entity` names something in the spec (a style family it can use, an asset it committed); else why not.

    An approval is permanent (the log is append-only), so one of a misspelt name must be refused, not kept.
    """
    prefix, _, name = entity.partition(":")
    if prefix not in ENTITY_KINDS or not name:
        return f"{entity!r} is not an entity id: use {', '.join(f'{k}:…' for k in ENTITY_KINDS)}"
    if prefix == "style" and paths is not None:
        names = load_families(paths.root).names
        if name not in names:
            return f"no style family {name!r}: the production has {', '.join(names)}"
    if prefix == "asset" and paths is not None:
        known = False
        if paths.catalog.exists():
            with Catalog(paths.catalog).session() as session:
                known = session.get(EntityVersion, (entity, 1)) is not None
        if not known:
            return f"no asset {name!r} is committed (an asset is named by its full SHA-256: see `reelforge commit`)"
    ids = {"series": {production.series.id}, "character": {c.id for c in production.characters},
           "location": {loc.id for loc in production.locations},
           "episode": {e.id for e in production.episodes},
           "scene": {f"{e.id}/{s.id}" for e in production.episodes for s in e.scenes},
           "shot": {f"{e.id}/{s.id}/{sh.id}" for e in production.episodes for s in e.scenes for sh in s.shots}}
    if prefix in ids and name not in ids[prefix]:
        return f"no {prefix} {name!r} in the spec"
    return None


def latest_render(session, entity: str) -> dict | None:
    """What an approval of a shot or an episode approves: its latest render, if it has one."""
    prefix, _, name = entity.partition(":")
    if prefix == "shot":
        row = session.execute(select(RenderShot, RenderRecord).join(RenderRecord, RenderRecord.id == RenderShot.render_id)
                              .where(RenderShot.shot_path == name, main_delivery())
                              .order_by(RenderRecord.id.desc())).first()
        if row is not None:
            shot, render = row
            return {"render_id": render.id, "output_sha256": render.output_sha256, "job_key": shot.job_key,
                    "first_frame": shot.first_frame, "frames": shot.frame_count}
    elif prefix == "episode":
        render = session.scalars(select(RenderRecord).where(RenderRecord.episode_id == name,
                                                            RenderRecord.kind == "episode", main_delivery())
                                 .order_by(RenderRecord.id.desc())).first()
        if render is not None:
            return {"render_id": render.id, "output_sha256": render.output_sha256}
    return None
