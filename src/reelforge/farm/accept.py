"""The driver's side of a unit: check what a worker sent back and write it into the production's store.

Nothing a worker sends is trusted: every frame is decoded and re-hashed before it is stored
(store/frames.py: `put_encoded`; frames are proved on several driver threads at once, since
decoding a generative 1080p frame takes ≈ 60 ms of a core and the codecs and hashlib release the GIL), the segment's bytes must hash to what the worker says, and
the segment is filed under the key the driver computes from the checked frame hashes and its own
encode settings. Files are written atomically and a shot's manifest last, so a driver killed
mid-way leaves a store the next render resumes from. Jobs are content-addressed, so a unit that
ran twice (at-least-once execution) can never store two results for one key: a result that
disagrees with what the store already holds for the job is rejected (`ResultRejected`).
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from reelforge.engine.shot import RenderedOn, segment_key
from reelforge.farm.units import Unit
from reelforge.farm.worker import UnitResult
from reelforge.media.encode import EncodeSettings
from reelforge.store.atomic import write_bytes
from reelforge.store.frames import CorruptFrame
from reelforge.store.shots import ShotStore

CHECK_THREADS = min(8, os.cpu_count() or 1)  # driver threads proving a result's frames; never changes a byte


class ResultRejected(Exception):
    """A worker's result that does not match its job or what the store holds for it: never stored."""


class DamagedResult(Exception):
    """A result damaged on its way (a frame or segment that does not hash to its name): the unit runs again."""


@dataclass
class Accepted:
    unit: Unit
    frame_hashes: list[str]
    rendered_frames: int
    node: RenderedOn
    clip: Path | None = None  # a range render's clip, in the store's incoming segments
    clip_sha256: str | None = None


def accept(result: UnitResult, unit: Unit, store: ShotStore, settings: EncodeSettings) -> Accepted:
    """Check a unit's result and keep it in the store; ResultRejected or DamagedResult if it cannot be kept."""
    job, node = unit.job, result.node.label
    first, stop = unit.span or (0, job.frames)
    # 1. The result is for this unit's job and frames.
    if result.key != job.key or result.first_frame != first or len(result.frame_hashes) != stop - first:
        raise ResultRejected(f"node {node} answered {unit.describe()} with another job's result "
                             f"({len(result.frame_hashes)} frames from {result.first_frame}, key {result.key[:12]}…)")
    if (unit.span is None or unit.clip) and result.segment is None:
        raise ResultRejected(f"node {node} answered {unit.describe()} without its encoded segment")
    files = store.job(job.key)
    if unit.span is None:
        held = files.read_manifest()
        if held is not None and held != result.frame_hashes:
            raise ResultRejected(f"node {node} rendered {job.shot_path} with other frames than the store holds for "
                                 "the same job: kept the stored ones (the node's environment differs; compare "
                                 "`reelforge show render:N` fingerprints)")
    elif not unit.clip:
        journal = files.read_journal()
        differ = [first + i for i, h in enumerate(result.frame_hashes) if journal.get(first + i, h) != h]
        if differ:
            raise ResultRejected(f"node {node} rendered frames {differ} of {job.shot_path} other than the ones "
                                 "already journaled for the same job: kept the journaled ones")
    # 2. Every frame decodes to pixels with its hash; only then is it stored.
    def prove(digest: str) -> str:
        return store.frames.put_encoded(result.frames[digest], digest, (job.canvas_height, job.canvas_width))

    try:
        with ThreadPoolExecutor(max_workers=CHECK_THREADS, thread_name_prefix="accept") as pool:
            list(pool.map(prove, dict.fromkeys(result.frame_hashes)))
    except (CorruptFrame, KeyError) as exc:
        raise DamagedResult(f"a frame of {unit.describe()} from node {node} arrived damaged ({exc})") from None
    if result.segment is not None and hashlib.sha256(result.segment).hexdigest() != result.segment_sha256:
        raise DamagedResult(f"the segment of {unit.describe()} from node {node} arrived damaged")
    accepted = Accepted(unit, result.frame_hashes, result.rendered_frames, result.node)
    # 3. File the result: a span's frames on the job's journal; a whole shot's segment, then its manifest;
    #    a range's clip where the local engine leaves one.
    if unit.clip:
        accepted.clip = store.segments.incoming(f"range-{job.key}.mp4")
        write_bytes(accepted.clip, result.segment)
        accepted.clip_sha256 = result.segment_sha256
    elif unit.span is not None:
        for i, digest in enumerate(result.frame_hashes):
            files.append_journal(first + i, digest)
    else:
        # The worker proved its encoder is the driver's (farm/worker.py), so its segment is the one
        # this key names; a segment already stored under the key (the same frames) is kept as it is.
        key = segment_key(result.frame_hashes, settings)
        if store.segments.stored(key) is None:
            incoming = store.segments.incoming(f"farm-{job.key}.mp4")
            write_bytes(incoming, result.segment)
            store.segments.keep(incoming, key)
        files.write_manifest(job.key, job.model_dump(mode="json"), result.frame_hashes)
    return accepted
