"""Recording a delivery: its catalog rows and change-log entries, in one transaction.

A render is recorded before its file appears at the output path, so there is never an
unrecorded delivery: the render row with every shot's frame hashes and segment hash, the
job of each shot (and, on a farm, the nodes that rendered it), the link to the commit the spec
was recorded as, the energy used, the delivery (unsigned hash, mark and its key's fingerprint, watermark,
credentials, who rendered it), which named delivery it was (none: the main one) and the change-log entries ("key-change" per shot whose job key moved, then
"render"), signed by a checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from reelforge.deliver.options import DeliveryOptions
from reelforge.engine.environment import environment_fingerprint
from reelforge.engine.shot import encode_record
from reelforge.media.encode import EncodeSettings
from reelforge.records.render_log import last_job_keys, log_render
from reelforge.records.versions import link_render
from reelforge.spec.delivery import Delivery
from reelforge.store.catalog import MAIN, Catalog, utc_now
from reelforge.store.schema import (
    DeliveryMarkKey,
    DeliveryRecord,
    NamedDeliveryRecord,
    RenderRecord,
    RenderShot,
    RenderShotNode,
)

# also(session, render_id): rows of a delivery's own (a language delivery's text) added in its transaction.
AlsoFn = Callable[[Session, int], None]


def delivery_record(settings: EncodeSettings, name: str | None) -> dict:
    """What a delivered file is, for its manifest and its render record: the delivery's name (main or a
    named one), format, codec, container, bit depth, chroma and size. Not part of any segment key: two
    deliveries with the same encode settings share their segments."""
    return {"name": name or MAIN, "format": settings.format, "codec": settings.codec, "container": settings.container,
            "bit_depth": settings.bit_depth, "chroma": settings.chroma, "size": [settings.width, settings.height]}


def recorded_encode_settings(encode_json: str) -> EncodeSettings:
    """The encode settings a render recorded (its encode_json, as `record_render` writes it). A render recorded
    before formats existed has no format, bit depth or chroma: it was H.264 8-bit 4:2:0, the defaults. A master
    (ProRes, DNxHR) records no crf or preset, which it ignores: the spec's defaults stand in."""
    recorded = json.loads(encode_json)
    unrecorded = {name: Delivery.model_fields[name].default for name in ("crf", "preset") if name not in recorded}
    return EncodeSettings(**unrecorded, **{name: value for name, value in recorded.items()
                                           if name in EncodeSettings.__dataclass_fields__})


def record_render(catalog: Catalog, result, options: DeliveryOptions, started_at: str, settings: EncodeSettings,
                  root: Path, commit_id: int | None = None, also: AlsoFn | None = None,
                  delivery_name: str | None = None) -> int:
    """Record a delivered file (an engine.pipeline.RenderResult) in one transaction; its render id.

    `delivery_name`: the named delivery of the spec it was (None: the main delivery)."""
    with catalog.session() as session:
        previous_keys = last_job_keys(session, [s.job.shot_path for s in result.shots],  # as before this render
                                      takes={s.job.shot_path: s.job.take for s in result.shots})
        for shot in result.shots:
            catalog.record_job(session, shot.job.key, shot.job.model_dump(mode="json"))
        record = RenderRecord(
            kind=result.kind, episode_id=result.episode_id, output_path=str(result.output.resolve()),
            output_sha256=result.sha256, started_at=started_at, finished_at=utc_now(),
            seconds=round(result.seconds, 3), frames=result.frames,
            shots_rendered=len(result.shots) - result.shots_reused, shots_reused=result.shots_reused,
            encode_json=json.dumps({**encode_record(settings), "delivery": delivery_record(settings, delivery_name)},
                                   sort_keys=True),
            environment_json=json.dumps(result.environment or environment_fingerprint(settings.threads),
                                        sort_keys=True),
        )
        record.shots = [
            RenderShot(position=i, shot_path=s.job.shot_path, job_key=s.job.key, first_frame=s.first_frame,
                       frame_count=len(s.frame_hashes), frame_hashes_json=json.dumps(s.frame_hashes),
                       segment_sha256=s.segment_sha256, reused=s.reused)
            for i, s in enumerate(result.shots)
        ]
        session.add(record)
        session.flush()  # assigns record.id
        session.add_all(RenderShotNode(render_id=record.id, position=i, node_id=node.node_id, host=node.host,
                                       address=node.address,
                                       environment_json=json.dumps(node.environment, sort_keys=True))
                        for i, s in enumerate(result.shots) for node in s.nodes)
        if delivery_name is not None:
            session.add(NamedDeliveryRecord(render_id=record.id, name=delivery_name))
        if commit_id is not None:
            link_render(session, record.id, commit_id)
        if result.energy is not None:
            catalog.record_energy(session, record.id, result.energy)
        watermark = options.watermark_record(settings, root.resolve())
        anchor_path = getattr(options.identity, "trust_anchor_path", None)
        anchor = str(Path(anchor_path).resolve()) if anchor_path else None  # verify checks against it
        catalog.record_delivery(session, DeliveryRecord(
            render_id=record.id, unsigned_sha256=result.unsigned_sha256, signed=options.identity is not None,
            mark_id=f"{options.mark_id:016x}" if options.mark_id is not None else None,
            rendered_by=options.actor, watermark_json=json.dumps(watermark, sort_keys=True) if watermark else None,
            credentials_json=json.dumps({"summary": result.credentials, "trust_anchor": anchor}, sort_keys=True,
                                        default=str) if result.credentials else None))
        if options.mark_id is not None:  # which key made the mark: verify and trace need the same one
            session.flush()  # the delivery row first (no relationship orders the two inserts)
            session.add(DeliveryMarkKey(render_id=record.id, key_id=options.mark_key.key_id))
        if also is not None:
            also(session, record.id)
        log_render(session, result, record.id, options.actor, options.identity, previous_keys)  # change log
        session.commit()
        return record.id
