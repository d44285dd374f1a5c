"""A render's catalog rows, and what its change-log entry records of them.

`verify`, `trace`, `status`, `show render:N` and the studio answer from a render's rows (renders,
render_shots, render_shot_nodes, deliveries, render_energy, localized_deliveries). Its "render"
entry (records/render_log.py) records every value they trust: small ones as they are, JSON columns
and lists by their SHA-256, all computed here by `render_record` from the rows themselves, so
records/audit.py computes them again to check the rows. Not importing the log, so the log's own
check (changelog.verify_log → audit) can use it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelforge.records.leaves import canonical_json
from reelforge.store.catalog import in_chunks
from reelforge.store.schema import (
    DeliveryMarkKey,
    DeliveryRecord,
    LocalizedDelivery,
    RenderEnergy,
    RenderRecord,
    RenderShot,
    RenderShotNode,
)

# Where each value of a render entry comes from: entry key → (table, column). A render entry
# without "rendered_by" was written before the log covered deliveries (see NOT_COVERED).
RENDER_COLUMNS = {
    "kind": ("renders", "kind"), "episode_id": ("renders", "episode_id"), "output_path": ("renders", "output_path"),
    "output_sha256": ("renders", "output_sha256"), "started_at": ("renders", "started_at"),
    "finished_at": ("renders", "finished_at"), "seconds": ("renders", "seconds"), "frames": ("renders", "frames"),
    "shots_rendered": ("renders", "shots_rendered"), "shots_reused": ("renders", "shots_reused"),
    "encode_sha256": ("renders", "encode_json"), "environment_sha256": ("renders", "environment_json"),
    "unsigned_sha256": ("deliveries", "unsigned_sha256"), "signed": ("deliveries", "signed"),
    "mark_id": ("deliveries", "mark_id"), "mark_key_id": ("delivery_mark_keys", "key_id"),
    "rendered_by": ("deliveries", "rendered_by"),
    "watermark_sha256": ("deliveries", "watermark_json"), "credentials_sha256": ("deliveries", "credentials_json"),
    "energy_sha256": ("render_energy", "reading_json"), "localized": ("localized_deliveries", "*"),
}
SHOT_COLUMNS = {
    "shot": "shot_path", "job_key": "job_key", "first_frame": "first_frame", "frames": "frame_count",
    "reused": "reused", "frame_hashes_sha256": "frame_hashes_json", "segment_sha256": "segment_sha256",
    "nodes_sha256": "render_shot_nodes",
}
LOCALIZED_COLUMNS = {"picture_render_id": "picture_render_id", "language": "language",
                     "burned_titles": "burned_titles", "text_sha256": "text_json",
                     "webvtt_sha256": "webvtt_sha256", "srt_sha256": "srt_sha256"}
NOT_COVERED = "recorded before the log covered deliveries: not checkable"


def covers_rows(entry_state: dict) -> bool:
    """Whether a render entry records the render's rows (entries written before this did not)."""
    return "rendered_by" in entry_state


def _sha(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class RenderRows:
    """Every catalog row of one render (None / empty where it has none)."""

    render: RenderRecord | None
    delivery: DeliveryRecord | None = None
    mark_key: DeliveryMarkKey | None = None  # the key fingerprint of a keyed mark (none: unmarked, or public v1)
    energy: RenderEnergy | None = None
    localized: LocalizedDelivery | None = None
    shots: list[RenderShot] = field(default_factory=list)
    nodes: dict[int, list[RenderShotNode]] = field(default_factory=dict)  # position → farm nodes


def load_render_rows(session: Session, render_ids: list[int] | None = None) -> dict[int, RenderRows]:
    """The rows of these renders (None: every render), a handful of queries whatever their number.

    A render whose `renders` row is gone but whose other rows remain is included, with `render` None.
    """
    def rows_of(model, key=None):
        column = model.render_id if key is None else key
        if render_ids is None:
            yield from session.scalars(select(model))
            return
        for chunk in in_chunks(render_ids):
            yield from session.scalars(select(model).where(column.in_(chunk)))

    found: dict[int, RenderRows] = {}

    def of(render_id: int) -> RenderRows:
        return found.setdefault(render_id, RenderRows(None))

    for record in rows_of(RenderRecord, RenderRecord.id):
        of(record.id).render = record
    for delivery in rows_of(DeliveryRecord):
        of(delivery.render_id).delivery = delivery
    for mark_key in rows_of(DeliveryMarkKey):
        of(mark_key.render_id).mark_key = mark_key
    for energy in rows_of(RenderEnergy):
        of(energy.render_id).energy = energy
    for localized in rows_of(LocalizedDelivery):
        of(localized.render_id).localized = localized
    for shot in rows_of(RenderShot):
        of(shot.render_id).shots.append(shot)
    for node in rows_of(RenderShotNode):
        of(node.render_id).nodes.setdefault(node.position, []).append(node)
    for rows in found.values():
        rows.shots.sort(key=lambda shot: shot.position)
    return found


def _nodes_sha256(nodes: list[RenderShotNode]) -> str:
    return hashlib.sha256(canonical_json(sorted(
        [node.node_id, node.host, node.address, _sha(node.environment_json)] for node in nodes))).hexdigest()


def render_record(rows: RenderRows) -> dict:
    """What a render entry records of the render's rows (keys: RENDER_COLUMNS; shots: SHOT_COLUMNS)."""
    render, delivery, localized = rows.render, rows.delivery, rows.localized
    return {
        "kind": render.kind, "episode_id": render.episode_id, "output_path": render.output_path,
        "output_sha256": render.output_sha256, "started_at": render.started_at, "finished_at": render.finished_at,
        "seconds": render.seconds, "frames": render.frames, "shots_rendered": render.shots_rendered,
        "shots_reused": render.shots_reused, "encode_sha256": _sha(render.encode_json),
        "environment_sha256": _sha(render.environment_json),
        "unsigned_sha256": delivery.unsigned_sha256 if delivery else None,
        "signed": delivery.signed if delivery else None, "mark_id": delivery.mark_id if delivery else None,
        "mark_key_id": rows.mark_key.key_id if rows.mark_key else None,
        "rendered_by": delivery.rendered_by if delivery else None,
        "watermark_sha256": _sha(delivery.watermark_json) if delivery else None,
        "credentials_sha256": _sha(delivery.credentials_json) if delivery else None,
        "energy_sha256": _sha(rows.energy.reading_json) if rows.energy else None,
        "localized": None if localized is None else {
            "picture_render_id": localized.picture_render_id, "language": localized.language,
            "burned_titles": localized.burned_titles, "text_sha256": _sha(localized.text_json),
            "webvtt_sha256": localized.webvtt_sha256, "srt_sha256": localized.srt_sha256},
        "shots": [{"shot": shot.shot_path, "job_key": shot.job_key, "first_frame": shot.first_frame,
                   "frames": shot.frame_count, "reused": shot.reused,
                   "frame_hashes_sha256": _sha(shot.frame_hashes_json), "segment_sha256": shot.segment_sha256,
                   "nodes_sha256": _nodes_sha256(rows.nodes.get(shot.position, []))} for shot in rows.shots],
    }
