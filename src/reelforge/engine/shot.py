"""A shot as a pure unit of work: a job and a frame range in, stored frame hashes and an encoded segment out.

`render_shot` touches only what it is given — the shot store (frames by hash, the job's journal
and manifest, encoded segments), the encode settings and the backends this worker has loaded —
and returns what it made. It writes no catalog row, no change-log entry, no delivery and no
signature, and reads no global state, so the same call can run in this process or on a farm
worker; the orchestrator (engine/pipeline.py) decides what becomes of its result.

A whole shot is first looked for in the store (manifest, every frame re-hashed, the encoded
segment); otherwise what is missing is rendered, resuming from the job's journal if an earlier
render was killed. Frames flow through a small thread pool (render, finish, hash, store,
RGB→YUV) while the encoder (x264, x265, ProRes, DNxHR) encodes on its own pinned threads; results
are consumed strictly in frame order, so parallelism never changes a byte.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from reelforge.backends.registry import Backend, get_backend
from reelforge.media.encode import EncodeSettings, SegmentEncoder
from reelforge.media.yuv import rgb_to_yuv
from reelforge.plan.code_hash import encode_code_hash
from reelforge.plan.jobs import ShotJob
from reelforge.post.pipeline import finish_frame
from reelforge.store.frames import CorruptFrame, FrameStore, frame_hash
from reelforge.store.hashing import file_sha256
from reelforge.store.journal import JobFiles
from reelforge.store.shots import ShotStore

WORKERS = 2  # frame workers; results never depend on this (each frame is computed alone)
# Frames queued ahead of the encoder, bounded by their bytes (RGB plus the encoder's planes), so memory stays
# bounded at 8K: 6 frames at 1080p and 4K, 4 of 8K 4:2:0, 2 of 8K 10-bit 4:4:4.
MAX_IN_FLIGHT = 6
IN_FLIGHT_BYTES = 600 * 2**20

# progress(job, frames_done_now): called as frames are finished or checked.
ProgressFn = Callable[[ShotJob, int], None]


@dataclass(frozen=True)
class RenderedOn:
    """A farm node that rendered (part of) a shot: Ray's node id, where to find the machine, its fingerprint."""

    node_id: str
    host: str
    address: str
    environment: dict

    @property
    def label(self) -> str:
        """How a user finds it: host, address and node id (two nodes may share one machine)."""
        return f"{self.host} ({self.address}, node {self.node_id[:8]})"


@dataclass(frozen=True)
class FrameRepair:
    """Stored frames of a shot found damaged and rendered again: the engine reports it, the CLI says it.

    `mismatched`: frames whose file no longer hashes to what was written (flipped bytes, a bad
    header); `missing`: frames whose file is gone.
    """

    shot_path: str
    mismatched: int
    missing: int

    @property
    def frames(self) -> int:
        return self.mismatched + self.missing


@dataclass
class ShotOutput:
    """What one shot's unit of work made: its frames (by hash) and their encoded segment."""

    job: ShotJob
    first_frame: int
    frame_hashes: list[str]
    segment: Path
    segment_sha256: str
    rendered_frames: int  # frames computed by the backend in this run
    reused: bool  # the whole shot came from the store
    nodes: tuple[RenderedOn, ...] = ()  # the farm nodes that rendered it; (): this process
    repaired: FrameRepair | None = None  # stored frames that were damaged and rendered again in this run


class Backends:
    """The backends one worker has loaded, by name: a model stays loaded across the shots that use it."""

    def __init__(self) -> None:
        self._loaded: dict[str, Backend] = {}

    def get(self, name: str) -> Backend:
        if name not in self._loaded:
            self._loaded[name] = get_backend(name)
        return self._loaded[name]


class ShotRunner(Protocol):
    """Who runs a render's shots: this process (`LocalShots`) or a farm (farm/runner.py: `FarmShots`).

    Either way the outputs are the same bytes in the same store, so the pipeline that delivers
    and records them does not know which one ran.
    """

    def render_shots(self, jobs: Sequence[ShotJob], store: ShotStore, settings: EncodeSettings,
                     backends: Backends, progress: ProgressFn) -> list[ShotOutput]: ...

    def render_range(self, job: ShotJob, frames: tuple[int, int], store: ShotStore, settings: EncodeSettings,
                     backends: Backends, progress: ProgressFn) -> ShotOutput: ...

    def close(self) -> None:
        """Let go of what the runner holds between shots (a farm's model workers)."""


class LocalShots:
    """Shots one after another in this process: the default engine."""

    def render_shots(self, jobs: Sequence[ShotJob], store: ShotStore, settings: EncodeSettings,
                     backends: Backends, progress: ProgressFn) -> list[ShotOutput]:
        return [render_shot(job, store, settings, backends, progress=progress) for job in jobs]

    def render_range(self, job: ShotJob, frames: tuple[int, int], store: ShotStore, settings: EncodeSettings,
                     backends: Backends, progress: ProgressFn) -> ShotOutput:
        return render_shot(job, store, settings, backends, frames=frames, progress=progress)

    def close(self) -> None:
        """Nothing to let go: the pipeline's `Backends` hold this process's models."""


def encode_record(settings: EncodeSettings) -> dict:
    """What fixes a segment's bytes besides its frames: the encode settings, library versions and encode code."""
    return {**settings.record(), "code": encode_code_hash()}


def segment_key(frame_hashes: list[str], settings: EncodeSettings) -> str:
    """A segment is fixed by its frames and its encode record."""
    payload = json.dumps({"frames": frame_hashes, "encode": encode_record(settings)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def render_shot(job: ShotJob, store: ShotStore, settings: EncodeSettings, backends: Backends,
                frames: tuple[int, int] | None = None, progress: ProgressFn | None = None) -> ShotOutput:
    """Render one shot into `store`: the whole shot (reused or resumed), or frames [start, stop) anew.

    A range is a clip of its own (`incoming-range-<key>.mp4`, or `.mov`, in the store's segments, for the
    caller to deliver and remove); its frames are stored but the shot's journal is left alone.
    """
    progress = progress or (lambda job, n: None)
    if frames is None:
        return _whole_shot(job, store, settings, backends, progress)
    return _frame_range(job, frames, store, settings, backends, progress)


def in_flight(job: ShotJob, settings: EncodeSettings | None = None) -> int:
    """How many frames may be in flight ahead of the encoder: as many as fit IN_FLIGHT_BYTES, 1 to 6."""
    pixels = job.canvas_width * job.canvas_height
    samples = {"4:2:0": 1.5, "4:2:2": 2, "4:4:4": 3}[settings.chroma] if settings is not None else 1.5
    depth_bytes = 2 if settings is not None and settings.bit_depth > 8 else 1
    frame_bytes = pixels * 3 + int(pixels * samples) * depth_bytes
    return max(1, min(MAX_IN_FLIGHT, IN_FLIGHT_BYTES // frame_bytes))


def produce_frames(job: ShotJob, indices: list[int], backends: Backends, store: FrameStore | None = None,
                   known: dict[int, str] | None = None, journal: JobFiles | None = None,
                   settings: EncodeSettings | None = None) -> Iterator[tuple[int, str, tuple[np.ndarray, ...]]]:
    """Yield (index, hash, YUV planes) in order: from the store where `known` says and intact, else rendered.

    The planes are what `SegmentEncoder.add_yuv` takes for `settings` (chroma and bit depth; without
    settings 8-bit 4:2:0), converted on the frame workers, off the encoder's thread.

    Rendered frames are put in `store` (and on the job's `journal`). Without a store every frame is
    rendered anew and nothing is kept: what `verify` does, which never trusts or touches the production's
    store (it passes a scratch store of its own when it must re-mark a delivery from the frames).
    """
    backend = backends.get(job.backend)
    known = known or {}
    chroma, depth = (settings.chroma, settings.bit_depth) if settings is not None else ("4:2:0", 8)

    def finish(index: int, frame: np.ndarray) -> tuple[int, str, np.ndarray]:
        digest = frame_hash(frame)
        if store is not None:
            store.put(frame, digest)
            if journal is not None:
                journal.append_journal(index, digest)
        return index, digest, rgb_to_yuv(frame, chroma, depth)

    def one(index: int) -> tuple[int, str, np.ndarray]:
        if index in known:
            frame = _from_store(store, known[index])
            if frame is not None:
                return index, known[index], rgb_to_yuv(frame, chroma, depth)
        (_, picture), = backend.render(job, [index])
        return finish(index, finish_frame(job, index, picture))

    if backend.frame_independent:
        workers = WORKERS if backend.parallel_frames else 1
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="frame") as pool:
            pending: deque = deque()
            queue = iter(indices)
            ahead = in_flight(job, settings)
            for index in queue:
                pending.append(pool.submit(one, index))
                if len(pending) >= ahead:
                    break
            while pending:
                done = pending.popleft().result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending.append(pool.submit(one, nxt))
                yield done
    else:  # clip backends render the missing frames window by window, in frame order
        missing = [i for i in indices if i not in known or store is None or not store.has(known[i])]
        stream = iter(backend.render(job, missing)) if missing else iter(())
        pending = set(missing)
        for index in indices:
            if index in pending:
                rendered_index, frame = next(stream, (None, None))
                if rendered_index != index:  # a backend bug, never a user error: say exactly what broke
                    raise RuntimeError(f"{job.backend} yielded frame {rendered_index} where {index} was due")
                yield finish(index, finish_frame(job, index, frame))  # stored and journaled as each window lands
            else:
                yield one(index)


def _from_store(store: FrameStore | None, digest: str) -> np.ndarray | None:
    if store is None:
        return None
    try:
        return store.get(digest)
    except (CorruptFrame, FileNotFoundError):
        return None


def stored_frames(job: ShotJob, store: ShotStore, repair: bool = True,
                  repairs: list[FrameRepair] | None = None) -> list[str] | None:
    """The shot's frame hashes when its manifest is complete and every stored frame intact, else None.

    Damaged frames are never trusted: the shot goes back to "in progress" with only the
    verified frames in its journal, and the missing ones are rendered again (`repair=False`:
    only look, for a plan that must write nothing); a FrameRepair saying how many and why is
    appended to `repairs`, for the render to report.
    """
    files = store.job(job.key)
    frames = files.read_manifest()
    if frames is None or len(frames) != job.frames:
        return None
    damaged = [index for index, digest in enumerate(frames) if not store.frames.check(digest)]
    if not damaged:
        return frames
    if not repair:
        return None
    if repairs is not None:
        missing = sum(1 for index in damaged if not store.frames.has(frames[index]))
        repairs.append(FrameRepair(job.shot_path, len(damaged) - missing, missing))
    files.forget_manifest()
    for index, digest in enumerate(frames):
        if index not in damaged:
            files.append_journal(index, digest)
    return None


def _whole_shot(job: ShotJob, store: ShotStore, settings: EncodeSettings, backends: Backends,
                progress: ProgressFn) -> ShotOutput:
    """A whole shot: reused from the store when intact, else rendered (resuming if it was cut off)."""
    files = store.job(job.key)
    repairs: list[FrameRepair] = []
    frames = stored_frames(job, store, repairs=repairs)
    if frames is not None:
        key = segment_key(frames, settings)
        stored = store.segments.stored(key)
        if stored is None:
            stored = _encode_from_store(job, frames, key, store, settings, backends)
        progress(job, job.frames)
        return ShotOutput(job, 0, frames, stored[0], stored[1], rendered_frames=0, reused=True)

    known = files.read_journal()
    hashes, rendered = [], 0
    encoded = store.segments.incoming(f"{job.key}{settings.suffix}")
    encoder = SegmentEncoder(encoded, settings)
    try:
        for index, digest, yuv in produce_frames(job, list(range(job.frames)), backends, store.frames, known, files,
                                                 settings):
            encoder.add_yuv(yuv)
            hashes.append(digest)
            rendered += int(known.get(index) != digest)
            progress(job, 1)
    except BaseException:
        encoder.abort()
        raise
    encoder.close()
    files.write_manifest(job.key, job.model_dump(mode="json"), hashes)
    segment, sha = store.segments.keep(encoded, segment_key(hashes, settings))
    return ShotOutput(job, 0, hashes, segment, sha, rendered_frames=rendered, reused=False,
                      repaired=repairs[0] if repairs else None)


def keep_whole_range(output: ShotOutput, store: ShotStore, settings: EncodeSettings) -> bool:
    """File a range render that covers its whole shot as the shot's stored render: manifest and segment.

    Its frames are the shot's frames (one job key, one set of pixels), and its clip was encoded from
    them with the delivery's settings, so it is the very segment a whole-shot render would have kept:
    an episode re-assembled after `render --shot` joins it by stream copy instead of rendering the shot
    again. Only when the store has no whole render of the job yet (an existing one is never replaced)
    and every frame is stored; the segment is kept before the manifest, so a kill in between leaves a
    segment no manifest names (swept like any unused one). True when the shot was filed.
    """
    job, hashes = output.job, output.frame_hashes
    files = store.job(job.key)
    if output.first_frame != 0 or len(hashes) != job.frames or files.read_manifest() is not None:
        return False
    if not all(store.frames.has(digest) for digest in hashes):
        return False
    copy = store.segments.incoming(f"kept-{job.key}{settings.suffix}")
    shutil.copyfile(output.segment, copy)
    store.segments.keep(copy, segment_key(hashes, settings))
    files.write_manifest(job.key, job.model_dump(mode="json"), hashes)
    return True


def _encode_from_store(job: ShotJob, frames: list[str], key: str, store: ShotStore, settings: EncodeSettings,
                       backends: Backends) -> tuple[Path, str]:
    """A shot whose frames are stored but whose segment is gone: encode it again from the store."""
    encoded = store.segments.incoming(f"{job.key}{settings.suffix}")
    encoder = SegmentEncoder(encoded, settings)
    for _, _, yuv in produce_frames(job, list(range(len(frames))), backends, store.frames, dict(enumerate(frames)),
                                    settings=settings):
        encoder.add_yuv(yuv)
    encoder.close()
    return store.segments.keep(encoded, key)


def _frame_range(job: ShotJob, frames: tuple[int, int], store: ShotStore, settings: EncodeSettings,
                 backends: Backends, progress: ProgressFn) -> ShotOutput:
    """Frames [start, stop) of a shot rendered afresh (never from the store) and encoded as a clip."""
    start, stop = frames
    hashes = []
    clip = store.segments.incoming(f"range-{job.key}{settings.suffix}")
    encoder = SegmentEncoder(clip, settings)
    try:
        for _, digest, yuv in produce_frames(job, list(range(start, stop)), backends, store.frames,  # no `known`: anew
                                             settings=settings):
            encoder.add_yuv(yuv)
            hashes.append(digest)
            progress(job, 1)
    except BaseException:
        encoder.abort()
        raise
    encoder.close()
    return ShotOutput(job, start, hashes, clip, file_sha256(clip), rendered_frames=len(hashes), reused=False)
