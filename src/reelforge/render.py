"""The render engine: shot jobs → stored frames → shot segments → episode MP4s.

For each shot the engine first looks for a finished, intact result in the
store (manifest + every frame re-hashed + encoded segment); otherwise it renders
what is missing, resuming from the job's journal if an earlier render was
killed. Frames flow through a small thread pool (render, hash, store, RGB→YUV)
while x264 encodes on its own pinned threads; results are consumed strictly in
frame order, so parallelism never changes a byte.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reelforge.backends import Backend, get_backend
from reelforge.deliver import (
    DeliveryOptions,
    assemble,
    current_actor,
    frame_manifest_sha256,
    sign,
)
from reelforge.energy.meters import EnergyMeter, EnergyReading
from reelforge.fingerprint import environment_fingerprint
from reelforge.media.encode import EncodeSettings, SegmentEncoder
from reelforge.media.yuv import rgb_to_yuv420
from reelforge.plan.engine import ENGINE_VERSION, encode_code_hash
from reelforge.plan.jobs import EpisodePlan, ShotJob
from reelforge.post.pipeline import finish_frame
from reelforge.project import ProductionPaths
from reelforge.spec.model import Delivery
from reelforge.store.atomic import atomic_path, write_text
from reelforge.store.catalog import (
    Catalog,
    DeliveryRecord,
    RenderRecord,
    RenderShot,
    utc_now,
)
from reelforge.store.frames import CorruptFrame, FrameStore, frame_hash
from reelforge.store.hashing import file_sha256  # noqa: F401 (also imported from here by cli and verify)
from reelforge.store.journal import JobFiles

WORKERS = 2  # frame workers; results never depend on this (each frame is computed alone)
IN_FLIGHT = 6  # frames queued ahead of the encoder: bounds memory at ~6 × 9 MB

# progress(job, frames_done_now): called as frames are finished or checked.
ProgressFn = Callable[[ShotJob, int], None]


def encode_settings(delivery: Delivery) -> EncodeSettings:
    width, height = delivery.size
    return EncodeSettings(width=width, height=height, fps=delivery.fps, crf=delivery.crf,
                          preset=delivery.preset, threads=delivery.encoder_threads)


def render_device(jobs) -> str:
    """The device a render's energy is metered on: the model's device, or the CPU for previz."""
    for job in jobs:
        if job.model is not None:
            return job.model.device
    return "cpu"


def segment_key(frame_hashes: list[str], settings: EncodeSettings) -> str:
    """A segment is fixed by its frames and the encode settings (incl. library versions)."""
    payload = json.dumps({"frames": frame_hashes, "encode": settings.record()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class ShotResult:
    job: ShotJob
    first_frame: int
    frame_hashes: list[str]
    segment: Path
    segment_sha256: str
    rendered_frames: int  # frames computed by the backend in this run
    reused: bool  # the whole shot came from the store


@dataclass
class RenderResult:
    kind: str  # "episode" | "shot"
    episode_id: str
    output: Path
    sha256: str
    seconds: float
    shots: list[ShotResult] = field(default_factory=list)
    render_id: int | None = None
    energy: EnergyReading | None = None
    unsigned_sha256: str = ""  # the delivery before signing: what re-renders byte for byte
    environment: dict | None = None
    credentials: dict | None = None  # summary of the C2PA manifest, when signed
    languages: list[RenderResult] = field(default_factory=list)  # language deliveries of this picture (localize.py)

    @property
    def frames(self) -> int:
        return sum(len(s.frame_hashes) for s in self.shots)

    @property
    def shots_reused(self) -> int:
        return sum(1 for s in self.shots if s.reused)


class Engine:
    """Renders jobs of one production into its store and output folder."""

    def __init__(self, paths: ProductionPaths, settings: EncodeSettings, progress: ProgressFn | None = None,
                 delivery: DeliveryOptions | None = None):
        self.paths = paths
        self.settings = settings
        self.delivery = delivery or DeliveryOptions(actor=current_actor())  # library default: unsigned, unmarked
        self.store = FrameStore(paths.frames)
        self.catalog = Catalog(paths.catalog)
        self.progress = progress or (lambda job, n: None)
        self._backends: dict[str, Backend] = {}
        # The commit the spec was recorded as (records.versions; the CLI commits before rendering):
        # each render record then points at the exact entity versions it was made from.
        self.commit_id: int | None = None

    def backend(self, name: str) -> Backend:
        if name not in self._backends:
            self._backends[name] = get_backend(name)
        return self._backends[name]

    # -- frames ----------------------------------------------------------------------
    def _frame_from_store(self, digest: str) -> np.ndarray | None:
        try:
            return self.store.get(digest)
        except (CorruptFrame, FileNotFoundError):
            return None

    def produce_frames(self, job: ShotJob, indices: list[int], known: dict[int, str] | None = None,
                       files: JobFiles | None = None, keep: bool = True) -> Iterable[tuple[int, str, np.ndarray]]:
        """Yield (index, hash, YUV 4:2:0 frame) in order, from the store where `known` says and intact.

        Rendered frames are stored and journaled when `keep` (verify renders with keep=False so it
        never trusts or touches the store).
        """
        backend = self.backend(job.backend)
        known = known or {}

        def finish(index: int, frame: np.ndarray) -> tuple[int, str, np.ndarray, bool]:
            digest = frame_hash(frame)
            if keep:
                self.store.put(frame, digest)
                if files is not None:
                    files.append_journal(index, digest)
            return index, digest, rgb_to_yuv420(frame), True

        def one(index: int) -> tuple[int, str, np.ndarray, bool]:
            if index in known:
                frame = self._frame_from_store(known[index])
                if frame is not None:
                    return index, known[index], rgb_to_yuv420(frame), False
            (_, picture), = backend.render(job, [index])
            return finish(index, finish_frame(job, index, picture))

        if backend.frame_independent:
            workers = WORKERS if backend.parallel_frames else 1
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="frame") as pool:
                pending: deque = deque()
                queue = iter(indices)
                for index in queue:
                    pending.append(pool.submit(one, index))
                    if len(pending) >= IN_FLIGHT:
                        break
                while pending:
                    index, digest, yuv, _ = pending.popleft().result()
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending.append(pool.submit(one, nxt))
                    yield index, digest, yuv
        else:  # clip backends render the missing frames window by window, in frame order
            missing = [i for i in indices if i not in known or not self.store.has(known[i])]
            stream = iter(backend.render(job, missing)) if missing else iter(())
            pending = set(missing)
            for index in indices:
                if index in pending:
                    rendered_index, frame = next(stream, (None, None))
                    if rendered_index != index:  # a backend bug, never a user error: say exactly what broke
                        raise RuntimeError(f"{job.backend} yielded frame {rendered_index} where {index} was due")
                    # stored and journaled as each window lands
                    _, digest, yuv, _ = finish(index, finish_frame(job, index, frame))
                else:
                    _, digest, yuv, _ = one(index)
                yield index, digest, yuv

    # -- shots -----------------------------------------------------------------------
    def _stored_segment(self, seg_key: str) -> tuple[Path, str] | None:
        segment = self.paths.segments / f"{seg_key}.mp4"
        record = self.paths.segments / f"{seg_key}.json"
        if not (segment.exists() and record.exists()):
            return None
        try:
            expected = json.loads(record.read_text())["sha256"]
        except (ValueError, KeyError):
            return None
        return (segment, expected) if file_sha256(segment) == expected else None

    def _damaged(self, frames: list[str]) -> list[int]:
        """Indices of stored frames that are missing or no longer exactly as written."""
        return [index for index, digest in enumerate(frames) if not self.store.check(digest)]

    def render_shot(self, job: ShotJob) -> ShotResult:
        """A whole shot: reused from the store when intact, else rendered (resuming if it was cut off)."""
        files = JobFiles(self.paths.jobs, job.key)
        job_json = job.model_dump(mode="json")
        frames = files.read_manifest()
        if frames is not None and len(frames) == job.frames:
            damaged = self._damaged(frames)
            if not damaged:
                seg_key = segment_key(frames, self.settings)
                stored = self._stored_segment(seg_key)
                if stored is None:
                    stored = self._encode_from_store(job, frames, seg_key)
                self.progress(job, job.frames)
                return ShotResult(job, 0, frames, stored[0], stored[1], rendered_frames=0, reused=True)
            # Damaged frames are never trusted: the shot goes back to "in progress" with only the
            # verified frames known, and the missing ones are rendered again.
            files.forget_manifest()
            for index, digest in enumerate(frames):
                if index not in damaged:
                    files.append_journal(index, digest)

        known = files.read_journal()
        hashes, rendered = [], 0
        seg_tmp = self.paths.segments / f"incoming-{job.key}.mp4"
        encoder = SegmentEncoder(seg_tmp, self.settings)
        try:
            for index, digest, yuv in self.produce_frames(job, list(range(job.frames)), known, files):
                encoder.add_yuv(yuv)
                hashes.append(digest)
                rendered += int(known.get(index) != digest)
                self.progress(job, 1)
        except BaseException:
            encoder.abort()
            raise
        encoder.close()
        files.write_manifest(job.key, job_json, hashes)
        segment, sha = self._keep_segment(seg_tmp, segment_key(hashes, self.settings))
        return ShotResult(job, 0, hashes, segment, sha, rendered_frames=rendered, reused=False)

    def _keep_segment(self, encoded: Path, seg_key: str) -> tuple[Path, str]:
        segment = self.paths.segments / f"{seg_key}.mp4"
        sha = file_sha256(encoded)
        encoded.replace(segment)
        write_text(self.paths.segments / f"{seg_key}.json", json.dumps({"sha256": sha}) + "\n")
        return segment, sha

    def _encode_from_store(self, job: ShotJob, frames: list[str], seg_key: str) -> tuple[Path, str]:
        tmp = self.paths.segments / f"incoming-{job.key}.mp4"
        encoder = SegmentEncoder(tmp, self.settings)
        for _, _, yuv in self.produce_frames(job, list(range(len(frames))), dict(enumerate(frames))):
            encoder.add_yuv(yuv)
        encoder.close()
        return self._keep_segment(tmp, seg_key)

    def render_range(self, job: ShotJob, start: int, stop: int, output: Path) -> RenderResult:
        """Re-render frames [start, stop) of one shot afresh and deliver them as a clip."""
        started = time.perf_counter()
        started_at = utc_now()
        hashes = []
        meter = EnergyMeter(render_device([job]))
        meter.start()
        clip = self.paths.segments / f"incoming-range-{job.key}.mp4"
        encoder = SegmentEncoder(clip, self.settings)
        try:
            for _, digest, yuv in self.produce_frames(job, list(range(start, stop))):  # no `known`: anew
                encoder.add_yuv(yuv)
                hashes.append(digest)
                self.progress(job, 1)
        except BaseException:
            encoder.abort()
            raise
        encoder.close()
        shot = ShotResult(job, start, hashes, clip, file_sha256(clip), rendered_frames=len(hashes), reused=False)
        try:
            return self._deliver("shot", job.episode_id, [shot], output, started, started_at, meter)
        finally:
            clip.unlink(missing_ok=True)

    # -- episodes --------------------------------------------------------------------
    def render_episode(self, episode: EpisodePlan, output: Path, localization=None) -> RenderResult:
        """The episode's picture delivery, and with a localize.Localization one delivery per language."""
        started = time.perf_counter()
        started_at = utc_now()
        meter = EnergyMeter(render_device(episode.jobs))
        meter.start()
        shots = [self.render_shot(job) for job in episode.jobs]
        return self._deliver("episode", episode.episode_id, shots, output, started, started_at, meter, localization)

    # -- contact sheet ---------------------------------------------------------------
    def deliver_contact_sheet(self, results: list[RenderResult], output: Path) -> Path:
        """One labelled still per rendered shot (its middle frame, from the store) on a signed PNG grid."""
        from reelforge.media.contact_sheet import Still, contact_sheet, shot_lines, write_png

        stills, picked = [], []
        for result in results:
            for shot in result.shots:
                middle = len(shot.frame_hashes) // 2
                digest = shot.frame_hashes[middle]
                stills.append(Still(self.store.get(digest), shot_lines(shot.job)))
                picked.append({"shot": shot.job.shot_path, "job_key": shot.job.key,
                               "frame": shot.first_frame + middle, "frame_sha256": digest})
        unsigned = self.paths.segments / f"incoming-contact-sheet-{picked[0]['job_key']}.png"
        write_png(contact_sheet(stills), unsigned)
        options = self.delivery
        assertion = {"generator": f"reelforge {ENGINE_VERSION}", "kind": "contact-sheet",
                     "rendered_by": options.actor, "unsigned_sha256": file_sha256(unsigned), "stills": picked}
        with atomic_path(output) as tmp:
            try:
                sign(unsigned, tmp, dataclasses.replace(options, mark_id=None), assertion, output.name)
            finally:
                unsigned.unlink(missing_ok=True)
        return output

    # -- delivery --------------------------------------------------------------------
    def _deliver(self, kind: str, episode_id: str, shots: list[ShotResult], output: Path, started: float,
                 started_at: str, meter: EnergyMeter, localization=None) -> RenderResult:
        """Assemble, watermark and sign the file (deliver.py); record it before it appears at `output`.

        Language deliveries copy the unsigned picture's packets, so they are muxed before it is signed.
        """
        options = self.delivery
        if options.mark:  # each delivery its own id: a leaked copy names exactly one render
            from reelforge.trust.mark import new_mark_id

            options = dataclasses.replace(options, mark_id=new_mark_id())
        output.parent.mkdir(parents=True, exist_ok=True)
        frame_hashes = [digest for shot in shots for digest in shot.frame_hashes]
        with atomic_path(output) as tmp:
            unsigned = self.paths.segments / f"incoming-delivery-{shots[0].job.key}.mp4"
            try:
                assemble(unsigned, [s.segment for s in shots], frame_hashes, self.store, self.settings, options,
                         self.paths.segments)
                result = RenderResult(kind, episode_id, output, "", time.perf_counter() - started, shots,
                                      energy=meter.stop(), unsigned_sha256=file_sha256(unsigned),
                                      environment=environment_fingerprint(self.settings.threads))
                if localization is not None:
                    localization.prepare(self, unsigned)
                result.credentials = sign(unsigned, tmp, options, self._assertion(result, options, started_at),
                                          output.name)
            finally:
                unsigned.unlink(missing_ok=True)
            result.sha256 = file_sha256(tmp)
            result.seconds = time.perf_counter() - started
            self._record(result, options, started_at)  # recorded before the file appears: no unrecorded delivery
        if localization is not None:
            result.languages = localization.deliver(self, result, options, started_at)
        return result

    def _assertion(self, result: RenderResult, options: DeliveryOptions, started_at: str) -> dict:
        """The `org.reelforge.render` assertion: what made this file, enough to render it again."""
        return {
            "generator": f"reelforge {ENGINE_VERSION}",
            "kind": result.kind, "episode": result.episode_id, "rendered_at": started_at,
            "rendered_by": options.actor, "unsigned_sha256": result.unsigned_sha256,
            "frame_manifest_sha256": frame_manifest_sha256(
                [(s.job.shot_path, s.first_frame, s.frame_hashes) for s in result.shots]),
            "pipeline": {"engine_version": ENGINE_VERSION, "encode_code": encode_code_hash(),
                         "render_code": sorted({s.job.engine for s in result.shots})},
            "encode": self.settings.record(),
            "shots": [{"shot": s.job.shot_path, "job_key": s.job.key, "backend": s.job.backend,
                       "seed": str(s.job.seed), "prompt": s.job.prompt, "negative_prompt": s.job.negative_prompt,
                       "checkpoint_sha256": s.job.model.checkpoint_sha256 if s.job.model else None,
                       "first_frame": s.first_frame, "frames": len(s.frame_hashes)} for s in result.shots],
            "invisible_mark": options.mark_id is not None,
            "visible_watermark": options.watermark_record(self.settings, self.paths.root.resolve()),
            "environment": result.environment,
        }

    def _record(self, result: RenderResult, options: DeliveryOptions, started_at: str, also=None) -> None:
        """Record a delivery in one transaction; `also(session, render_id)` adds rows of its own to it."""
        from reelforge.records.render_log import last_job_keys, log_render

        with self.catalog.session() as session:
            previous_keys = last_job_keys(session, [s.job.shot_path for s in result.shots])  # as before this render
            for shot in result.shots:
                self.catalog.record_job(session, shot.job.key, shot.job.model_dump(mode="json"))
            record = RenderRecord(
                kind=result.kind, episode_id=result.episode_id, output_path=str(result.output.resolve()),
                output_sha256=result.sha256, started_at=started_at, finished_at=utc_now(),
                seconds=round(result.seconds, 3), frames=result.frames,
                shots_rendered=len(result.shots) - result.shots_reused, shots_reused=result.shots_reused,
                encode_json=json.dumps(self.settings.record(), sort_keys=True),
                environment_json=json.dumps(result.environment or environment_fingerprint(self.settings.threads),
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
            if self.commit_id is not None:
                from reelforge.records.versions import link_render

                link_render(session, record.id, self.commit_id)
            if result.energy is not None:
                self.catalog.record_energy(session, record.id, result.energy)
            watermark = options.watermark_record(self.settings, self.paths.root.resolve())
            anchor_path = getattr(options.identity, "trust_anchor_path", None)
            anchor = str(Path(anchor_path).resolve()) if anchor_path else None  # verify checks against it
            self.catalog.record_delivery(session, DeliveryRecord(
                render_id=record.id, unsigned_sha256=result.unsigned_sha256, signed=options.identity is not None,
                mark_id=f"{options.mark_id:016x}" if options.mark_id is not None else None,
                rendered_by=options.actor, watermark_json=json.dumps(watermark, sort_keys=True) if watermark else None,
                credentials_json=json.dumps({"summary": result.credentials, "trust_anchor": anchor}, sort_keys=True,
                                            default=str) if result.credentials else None))
            if also is not None:
                also(session, record.id)
            log_render(session, result, record.id, options.actor, options.identity, previous_keys)  # change log
            session.commit()
            result.render_id = record.id
