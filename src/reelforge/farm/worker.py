"""What a farm node runs: one unit of work in a scratch store, sent back as bytes the driver can check.

A worker first proves it can render the job as the driver would: the same render code (the
job's `engine` hash) and, for a generative shot, model files with the job's content hashes on
its own disk. It then writes the unit's asset files (LUTs, reference images, LoRAs) from the
object store into a scratch folder by content hash, renders into a scratch `ShotStore` with the
engine's own `render_shot` / `produce_frames` (so threads, seeds and encoding are pinned
exactly as locally), and returns the stored frame files, their hashes and the encoded segment.
It writes nothing of the production's: the driver checks every hash and keeps what it accepts.

GPU shots run on `ShotWorker` actors, one per GPU, whose `Backends` keep each pipeline loaded
across the shots that use it; previz runs as `render_unit_task` tasks.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import ray
import ray.exceptions

from reelforge.backends.checkpoints import CheckpointError
from reelforge.backends.errors import ModelRenderError
from reelforge.backends.models import check_model_files
from reelforge.backends.runtime import RuntimeUnavailable, resolve_runtime
from reelforge.engine.environment import environment_fingerprint
from reelforge.engine.shot import Backends, RenderedOn, encode_record, produce_frames, render_shot
from reelforge.farm.units import Unit
from reelforge.media.encode import EncodeSettings
from reelforge.plan.cast import CastFileError
from reelforge.plan.code_hash import render_code_hash
from reelforge.plan.jobs import ShotJob
from reelforge.plan.lut import LutError
from reelforge.store.frames import FrameStore
from reelforge.store.hashing import file_sha256
from reelforge.store.segments import SegmentStore
from reelforge.store.shots import ShotStore

# Errors in what the user gave, as a local render reports them: said once, with the node named, never retried.
INPUT_ERRORS = (CheckpointError, ModelRenderError, RuntimeUnavailable, CastFileError, LutError)

REPORT_S = 0.25  # how often a worker reports frames done
SCRATCH = Path(tempfile.gettempdir()) / "reelforge-farm"  # <pid>-<random>/ per unit being rendered

# Asset files of a unit by content hash: (file name suffix, object ref of the bytes).
Assets = dict[str, tuple[str, "ray.ObjectRef"]]


class NodeMismatch(Exception):
    """This node cannot render the job as the driver planned it (another reelforge, an asset that arrived damaged)."""


# What a failure on a node means for the render.
INPUT, NODE, BUG = "input", "node", "bug"  # the user's files (exit 2) | this node (run it elsewhere) | a bug


class UnitFailed(Exception):
    """A unit that failed on a node: the node, the error as the node saw it, and what kind of failure it is."""

    def __init__(self, node: str, message: str, kind: str):
        super().__init__(node, message, kind)
        self.node, self.message, self.kind = node, message, kind

    def __str__(self) -> str:
        return f"on farm node {self.node}: {self.message}"


@dataclass
class UnitResult:
    unit_id: int
    key: str
    first_frame: int
    frame_hashes: list[str]
    frames: dict[str, bytes]  # each rendered frame's stored file (store/frames.py: `read_encoded`), by hash
    segment: bytes | None  # a whole shot's segment or a range's clip; None for a span
    segment_sha256: str | None
    rendered_frames: int
    node: RenderedOn  # this node, with its environment fingerprint


def this_node(environment: dict | None = None) -> RenderedOn:
    """Which node this is: Ray's node id, the host name and its address (what a user finds the machine by)."""
    return RenderedOn(ray.get_runtime_context().get_node_id(), socket.gethostname(), ray.util.get_node_ip_address(),
                      environment or {})


def run_unit(unit: Unit, settings: EncodeSettings, encode: dict, assets: Assets, board, attempt: int,
             backends: Backends) -> UnitResult:
    """Render one unit here; UnitFailed says why not (and whether another node could)."""
    node = this_node()
    board.started.remote(unit.id, attempt, node.label, os.getpid())
    scratch = None
    try:
        scratch = _scratch()
        # 1. Prove this node renders the job as planned: the same render and encode code and libraries,
        #    the same model files, a usable device.
        if render_code_hash(unit.job.backend) != unit.job.engine:
            raise NodeMismatch(f"reelforge's {unit.job.backend} render code here differs from the driver's "
                               "(another version or an edited install): install the same reelforge on every node")
        if encode_record(settings) != encode:
            raise NodeMismatch("the encoder here (reelforge's encode code, PyAV or x264) differs from the driver's: "
                               "install the same reelforge and packages on every node")
        check_model_files(unit.job)
        if unit.job.model is not None:
            resolve_runtime(unit.job.model.device, unit.job.model.threads)  # this node's torch sees the device
        # 2. The job's asset files, from the object store into the scratch folder, checked by content hash.
        job = _with_assets(unit.job, assets, scratch / "assets")
        # 3. Render into a scratch store, exactly as a local render would.
        store = ShotStore(FrameStore(scratch / "frames"), scratch / "jobs", SegmentStore(scratch / "segments"))
        store.segments.folder.mkdir(parents=True)
        report = _Reporter(board, unit.id, attempt)
        segment, segment_sha = None, None
        if unit.span is None or unit.clip:
            output = render_shot(job, store, settings, backends, frames=unit.span if unit.clip else None,
                                 progress=report)
            hashes, first, rendered = output.frame_hashes, output.first_frame, output.rendered_frames
            segment, segment_sha = output.segment.read_bytes(), output.segment_sha256
        else:
            start, stop = unit.span
            hashes, first, rendered = [], start, stop - start
            for _, digest, _ in produce_frames(job, list(range(start, stop)), backends, store.frames):
                hashes.append(digest)
                report(job, 1)
        report.flush()
        # 4. Send back the stored frame files and the segment: the driver re-hashes all of it.
        frames = {digest: store.frames.read_encoded(digest) for digest in dict.fromkeys(hashes)}
        return UnitResult(unit.id, unit.job.key, first, hashes, frames, segment, segment_sha, rendered,
                          this_node(environment_fingerprint(settings.threads)))
    except (*INPUT_ERRORS, NodeMismatch) as exc:
        raise UnitFailed(node.label, str(exc), INPUT) from None
    except (OSError, MemoryError, ray.exceptions.RayError) as exc:  # this node's disk, memory or object store
        raise UnitFailed(node.label, f"{type(exc).__name__}: {_first_line(exc)}", NODE) from None
    except Exception as exc:  # a bug: retrying the same job would fail the same way
        raise UnitFailed(node.label, f"{type(exc).__name__}: {_first_line(exc)}", BUG) from None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else ""


def _scratch() -> Path:
    """A scratch folder for one unit, after removing those of workers that were killed (their pid is gone)."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    for folder in SCRATCH.iterdir():
        pid = folder.name.split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=SCRATCH))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


class _Reporter:
    """Frames done, sent to the progress board at most every REPORT_S (a call per frame costs the workers CPU)."""

    def __init__(self, board, unit_id: int, attempt: int):
        self.board, self.unit_id, self.attempt = board, unit_id, attempt
        self.pending, self.sent_at = 0, time.monotonic()

    def __call__(self, job: ShotJob, frames: int) -> None:
        self.pending += frames
        if time.monotonic() - self.sent_at >= REPORT_S:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.board.add.remote(self.unit_id, self.attempt, self.pending)
        self.pending, self.sent_at = 0, time.monotonic()


def _with_assets(job: ShotJob, assets: Assets, folder: Path) -> ShotJob:
    """The job with its asset paths pointing at copies written here from the driver's bytes."""
    if not job.assets:
        return job
    folder.mkdir(parents=True)
    local = {}
    for sha, (suffix, ref) in assets.items():
        if sha not in job.assets:
            continue
        path = folder / f"{sha}{suffix}"
        path.write_bytes(ray.get(ref))
        if file_sha256(path) != sha:
            raise NodeMismatch(f"the asset {sha[:12]}… arrived damaged")
        local[sha] = str(path)
    return job.model_copy(update={"assets": local})


@ray.remote
def render_unit_task(unit: Unit, settings: EncodeSettings, encode: dict, assets: Assets, board,
                     attempt: int) -> UnitResult:
    """A CPU unit (previz) as a Ray task: submitted with explicit `num_cpus` (farm/runner.py)."""
    return run_unit(unit, settings, encode, assets, board, attempt, Backends())


@ray.remote
class ShotWorker:
    """One per GPU (`num_gpus=1`): keeps its loaded pipelines (keyed by checkpoint and adapter hashes) across shots."""

    def __init__(self) -> None:
        self.backends = Backends()

    def ready(self) -> RenderedOn:
        return this_node()

    def render(self, unit: Unit, settings: EncodeSettings, encode: dict, assets: Assets, board,
               attempt: int) -> UnitResult:
        return run_unit(unit, settings, encode, assets, board, attempt, self.backends)


@ray.remote(num_cpus=0)
class ProgressBoard:
    """Frames done per unit attempt, as workers report them, for the driver's progress bar (polled 4 times a second)."""

    def __init__(self) -> None:
        self.attempts: dict[tuple[int, int], dict] = {}

    def started(self, unit_id: int, attempt: int, node: str, pid: int) -> None:
        self.attempts[(unit_id, attempt)] = {"node": node, "pid": pid, "frames": 0}

    def add(self, unit_id: int, attempt: int, frames: int) -> None:
        entry = self.attempts.get((unit_id, attempt))
        if entry is not None:
            entry["frames"] += frames

    def snapshot(self) -> dict[tuple[int, int], dict]:
        return self.attempts
