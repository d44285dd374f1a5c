"""The driver's loop: a production's shots rendered on a Ray farm, kept in its store as a local render keeps them.

`FarmShots` is the engine's `ShotRunner` for a farm (engine/shot.py; `LocalShots` is the other):

1. plan units for the shots the store lacks (farm/units.py);
2. send each out — previz as CPU tasks, generative shots to actors that keep pipelines loaded
   (farm/actors.py) — with the asset files it needs put in the object store once, by content hash;
3. as results come back, check and keep them (farm/accept.py); a unit whose worker or node
   was lost runs again (at most MAX_ATTEMPTS times), one that failed for a reason a retry
   cannot fix stops the render at once with the node named;
4. make sure the store now holds every shot, and hand each to the engine's own `render_shot`,
   which finds it there (and encodes a split shot's segment from its stored frames): the
   outputs, segments and deliveries are the local engine's, byte for byte.

Only this process writes the production's store and catalog.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ray
import ray.exceptions
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from reelforge.engine.shot import Backends, ProgressFn, RenderedOn, ShotOutput, encode_record, render_shot
from reelforge.farm.accept import Accepted, DamagedResult, ResultRejected, accept
from reelforge.farm.actors import NO_WORKER_S, Actors, Slot
from reelforge.farm.cluster import FarmNode, alive_nodes, join
from reelforge.farm.errors import FarmError
from reelforge.farm.options import FarmOptions
from reelforge.farm.units import FarmWork, Unit, plan_units
from reelforge.farm.worker import BUG, INPUT, ProgressBoard, UnitFailed, render_unit_task
from reelforge.media.encode import EncodeSettings
from reelforge.plan.jobs import ShotJob
from reelforge.store.shots import ShotStore

MAX_ATTEMPTS = 4  # per unit: a shot that loses its worker this often stops the render rather than loop
POLL_S = 0.25  # how often the progress board is read


@dataclass
class NodeActivity:
    running: int = 0
    units_done: int = 0
    frames: int = 0
    pids: list[int] = field(default_factory=list)  # the worker processes rendering on it now


@dataclass
class FarmStatus:
    """What the farm is doing, for a progress display: per-node activity, retries and rejected results."""

    nodes: dict[str, NodeActivity] = field(default_factory=dict)
    retries: int = 0
    notes: list[str] = field(default_factory=list)  # each retry and each rejected result, in order


FarmWatch = Callable[[FarmStatus], None]


@dataclass
class _Running:
    unit: Unit
    attempt: int
    slot: Slot | None = None  # the actor it runs on (None: a task)


@contextlib.contextmanager
def _farm_errors() -> Iterator[None]:
    """Whatever Ray raises that the loop does not handle is said in one line, never as a traceback."""
    try:
        yield
    except ray.exceptions.RayError as exc:
        raise FarmError(f"the farm failed: {_why(exc)}; finished shots are kept: render again once the farm is "
                        "healthy (`ray status`)") from None


class FarmShots:
    """Render shots on the farm at `options.address`; the engine's `ShotRunner` for `--farm`."""

    def __init__(self, options: FarmOptions, watch: FarmWatch | None = None):
        join(options)
        self.watch = watch or (lambda status: None)
        self.status = FarmStatus()
        self.actors: Actors | None = None  # made when a generative shot first goes out; kept across episodes

    def close(self) -> None:
        """Let the model workers go (and the GPU memory their loaded pipelines hold)."""
        if self.actors is not None:
            self.actors.stop()
            self.actors = None

    # -- ShotRunner --------------------------------------------------------------------------------

    def render_shots(self, jobs: Sequence[ShotJob], store: ShotStore, settings: EncodeSettings,
                     backends: Backends, progress: ProgressFn) -> list[ShotOutput]:
        with _farm_errors():
            work = self.plan(jobs, store, backends)
            planned = {unit.job.key for unit in work.units}
            for job in work.reused:
                progress(job, job.frames)
            for key in planned:  # frames a killed render already journaled: done before the farm starts
                job = next(u.job for u in work.units if u.job.key == key)
                progress(job, job.frames - sum(u.frames for u in work.units if u.job.key == key))
            rendered: dict[str, list[Accepted]] = defaultdict(list)
            for part in self._run(work.units, store, settings, progress):
                rendered[part.unit.job.key].append(part)
        _check_stored(jobs, store)
        # Every shot is in the store now: the engine's own unit of work finds it there (and encodes a
        # split shot's segment from its stored frames), so the outputs are a local render's.
        outputs, counted = [], {job.key for job in work.reused} | planned
        for job in jobs:
            output = render_shot(job, store, settings, backends)
            parts = rendered.pop(job.key, None)
            if parts is not None:
                output = dataclasses.replace(output, reused=False, nodes=_nodes(parts),
                                             rendered_frames=sum(p.rendered_frames for p in parts),
                                             repaired=next((r for r in work.repairs
                                                            if r.shot_path == job.shot_path), None))
            if job.key in counted:
                counted.discard(job.key)
            else:  # a second shot with the same job: reused, as locally
                progress(job, job.frames)
            outputs.append(output)
        return outputs

    def render_range(self, job: ShotJob, frames: tuple[int, int], store: ShotStore, settings: EncodeSettings,
                     backends: Backends, progress: ProgressFn) -> ShotOutput:
        with _farm_errors():
            self._check_devices([job])
            part, = self._run([Unit(0, job, frames, clip=True)], store, settings, progress)
        return ShotOutput(job, frames[0], part.frame_hashes, part.clip, part.clip_sha256,
                          rendered_frames=part.rendered_frames, reused=False, nodes=(part.node,))

    # -- planning ----------------------------------------------------------------------------------

    def plan(self, jobs: Sequence[ShotJob], store: ShotStore, backends: Backends, repair: bool = True) -> FarmWork:
        """The units this farm would run for `jobs` (also what `render --farm --dry-run` prints)."""
        self._check_devices(jobs)
        return plan_units(jobs, store, self.slots(jobs), lambda name: backends.get(name).frame_independent, repair)

    def has_gpu(self) -> bool:
        return bool(ray.cluster_resources().get("GPU"))

    def nodes(self) -> list[FarmNode]:
        return alive_nodes()

    def slots(self, jobs: Sequence[ShotJob]) -> int:
        """How many units can run at once: the model workers for generative shots, the CPUs for previz."""
        if any(job.model is not None for job in jobs):
            return self._actors_wanted(jobs)[0]
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def worker_kind(self, unit: Unit) -> str:
        """Where a unit would run, in words: a CPU task, or a model worker (one per GPU, or per few CPUs)."""
        if not unit.on_actor:
            return "a CPU task"
        return "a GPU worker" if self.has_gpu() else "a CPU model worker"

    def _actors_wanted(self, jobs: Sequence[ShotJob]) -> tuple[int, dict]:
        """(how many model workers, their Ray resources): one per GPU; without GPUs, one per job's thread count.

        A CPU model worker runs torch on the job's pinned thread count, so it asks for that many
        CPUs (at most what one node has); fewer workers than CPUs keeps the farm from running
        threads × CPUs threads, and a model copy per CPU.
        """
        resources = ray.cluster_resources()
        if resources.get("GPU"):
            return int(resources["GPU"]), {"num_gpus": 1, "num_cpus": 0}
        threads = max((job.model.threads for job in jobs if job.model is not None), default=1)
        per_node = max((node.cpus for node in alive_nodes()), default=1.0)
        cpus = max(1, min(threads, int(per_node)))
        return max(1, int(resources.get("CPU", 1)) // cpus), {"num_cpus": cpus}

    def _check_devices(self, jobs: Sequence[ShotJob]) -> None:
        if not self.has_gpu() and any(j.model and j.model.device != "cpu" for j in jobs):
            raise FarmError("the shots are planned for a GPU (--device cuda) but no node of the farm has one: "
                            "add a GPU node, or render with --device cpu", code=2)

    # -- the loop ----------------------------------------------------------------------------------

    def _run(self, units: list[Unit], store: ShotStore, settings: EncodeSettings,
             progress: ProgressFn) -> list[Accepted]:
        if not units:
            return []
        assets, encode = _put_assets(units), encode_record(settings)
        board = ProgressBoard.options(scheduling_strategy=NodeAffinitySchedulingStrategy(  # dies only with the driver
            ray.get_runtime_context().get_node_id(), soft=False)).remote()
        if self.actors is None and any(u.on_actor for u in units):
            count, options = self._actors_wanted([u.job for u in units])
            self.actors = Actors(count, options)
        actors = self.actors
        if actors is not None:
            actors.since_none = time.monotonic()
        task_slots = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))  # queued ahead: no CPU waits
        queue, running = deque(units), {}
        attempts: dict[int, int] = defaultdict(int)
        credited: dict[int, int] = defaultdict(int)
        accepted: list[Accepted] = []
        no_cpu_since = time.monotonic()
        try:
            while queue or running:
                # 1. Send out what can start: tasks up to a bound, actor units to idle actors.
                for unit in list(queue):
                    if unit.on_actor:
                        slot = actors.take()
                        if slot is None:
                            continue
                        ref = slot.actor.render.remote(unit, settings, encode, assets, board, attempts[unit.id])
                    elif sum(1 for r in running.values() if r.slot is None) < task_slots:
                        slot = None
                        ref = render_unit_task.options(num_cpus=1, max_retries=0).remote(
                            unit, settings, encode, assets, board, attempts[unit.id])
                    else:
                        continue
                    queue.remove(unit)
                    running[ref] = _Running(unit, attempts[unit.id], slot)
                # 2. Wait a little for a result (or a new actor), then take in what finished.
                waiting = list(running) + (list(actors.starting) if actors else [])
                done, _ = ray.wait(waiting, num_returns=1, timeout=POLL_S)
                snapshot = self._snapshot(board)
                for ref in done:
                    if actors is not None and ref in actors.starting:
                        actors.started(ref)
                        continue
                    self._finished(ref, running.pop(ref), snapshot, queue, attempts, credited, accepted, store,
                                   settings, progress)
                # 3. Show what every node is doing; stop rather than wait for workers that cannot come.
                self._show(snapshot, running, credited, progress)
                if actors is not None:
                    actors.check_alive(waiting=any(u.on_actor for u in queue))
                if any(not u.on_actor for u in queue) or any(r.slot is None for r in running.values()):
                    no_cpu_since = _check_cpus(no_cpu_since)
        finally:
            abandoned = list(running)  # only on a render that stops: units still out are cancelled
            if abandoned:
                not_done = ray.wait(abandoned, num_returns=len(abandoned), timeout=0)[1]
                for ref in not_done:  # never a finished task: cancelling one can abort the driver
                    if running[ref].slot is None:
                        ray.cancel(ref)
                if actors is not None:
                    self.close()
            ray.kill(board)
        return accepted

    def _snapshot(self, board) -> dict:
        """The board's frames per unit attempt (empty if it cannot be read now: progress waits a moment)."""
        try:
            return ray.get(board.snapshot.remote(), timeout=5)
        except ray.exceptions.RayError:
            return {}

    def _finished(self, ref, run: _Running, snapshot: dict, queue: deque, attempts: dict, credited: dict,
                  accepted: list, store: ShotStore, settings: EncodeSettings, progress: ProgressFn) -> None:
        """Take in one unit's outcome: keep it, run it again, or stop the render."""
        unit, actors = run.unit, self.actors
        try:
            result = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            failed = exc.cause if isinstance(exc.cause, UnitFailed) else None
            if failed is None or failed.kind == BUG:
                if run.slot is not None:
                    actors.give_back(run.slot)
                raise FarmError(f"{unit.describe()} failed {failed or _why(exc)}") from None
            if failed.kind == INPUT:  # the message a local render gives, with the node named; exit 2
                raise FarmError(str(failed), code=2) from None
            if run.slot is not None:
                actors.give_back(run.slot)
            return self._again(unit, str(failed), queue, attempts)  # this node's disk or memory
        except ray.exceptions.RayError as exc:  # the worker, its node or the result was lost
            if run.slot is not None:
                actors.lost(run.slot)
            # A unit handed to an actor that was already dead never started: that costs no attempt.
            started = (unit.id, run.attempt) in snapshot or run.slot is None
            return self._again(unit, f"worker lost ({_why(exc)})", queue, attempts, counted=started)
        if run.slot is not None:
            actors.give_back(run.slot)
        try:
            part = accept(result, unit, store, settings)
        except DamagedResult as exc:
            return self._again(unit, str(exc), queue, attempts)
        except ResultRejected as exc:
            self._note(f"rejected: {exc}")
            if unit.span is None and not unit.clip and store.job(unit.job.key).read_manifest() is not None:
                return  # the store's own result for the job stands
            return self._again(unit, str(exc), queue, attempts)
        activity = self.status.nodes.setdefault(result.node.label, NodeActivity())
        activity.units_done += 1
        activity.frames += part.rendered_frames
        if unit.frames > credited[unit.id]:
            progress(unit.job, unit.frames - credited[unit.id])
            credited[unit.id] = unit.frames
        accepted.append(part)

    def _again(self, unit: Unit, why: str, queue: deque, attempts: dict, counted: bool = True) -> None:
        if counted:
            attempts[unit.id] += 1
            if attempts[unit.id] >= MAX_ATTEMPTS:
                raise FarmError(f"{unit.describe()} failed {MAX_ATTEMPTS} times on the farm, last: {why}; "
                                "finished shots are kept: render again once the farm is healthy")
        self.status.retries += 1
        self._note(f"retry {unit.describe()}: {why}")
        queue.appendleft(unit)

    def _note(self, text: str) -> None:
        self.status.notes.append(text)
        self.watch(self.status)

    def _show(self, snapshot: dict, running: dict, credited: dict, progress: ProgressFn) -> None:
        """Frames done so far on every running unit (never counted twice when a unit runs again)."""
        for activity in self.status.nodes.values():
            activity.running, activity.pids = 0, []
        for run in running.values():
            entry = snapshot.get((run.unit.id, run.attempt))
            if entry is None:
                continue
            activity = self.status.nodes.setdefault(entry["node"], NodeActivity())
            activity.running += 1
            activity.pids.append(entry["pid"])
            done = min(entry["frames"], run.unit.frames)
            if done > credited[run.unit.id]:
                progress(run.unit.job, done - credited[run.unit.id])
                credited[run.unit.id] = done
        self.watch(self.status)


def _check_cpus(since: float) -> float:
    """When CPU units wait: FarmError once the farm has had no CPU for NO_WORKER_S; else when it last had one."""
    if ray.cluster_resources().get("CPU"):
        return time.monotonic()
    if time.monotonic() - since > NO_WORKER_S:
        raise FarmError(f"no node of the farm has offered a CPU for {NO_WORKER_S:.0f} s (nodes lost?): start a "
                        "node, then render again; finished shots are kept")
    return since


def _check_stored(jobs: Sequence[ShotJob], store: ShotStore) -> None:
    """Every shot is in the store after the farm ran (else the engine would render it here, unasked)."""
    for job in jobs:
        files = store.job(job.key)
        frames = files.read_manifest()
        if frames is None:
            journal = files.read_journal()
            frames = [journal[i] for i in range(job.frames) if i in journal]
        if len(frames) != job.frames or not all(store.frames.has(digest) for digest in frames):
            raise FarmError(f"{job.shot_path} is not complete in the store after the farm rendered it (frames "
                            "were lost on their way?): render again")


def _put_assets(units: list[Unit]) -> dict:
    """Every asset file the units read, put in the object store once: {sha256: (suffix, ref)}."""
    paths = {sha: path for unit in units for sha, path in unit.job.assets.items()}
    return {sha: (Path(path).suffix, ray.put(Path(path).read_bytes())) for sha, path in sorted(paths.items())}


def _nodes(parts: list[Accepted]) -> tuple[RenderedOn, ...]:
    """The nodes that rendered a shot's units, each once, in the order their frames come."""
    seen: dict[str, RenderedOn] = {}
    for part in sorted(parts, key=lambda p: p.unit.span or (0, 0)):
        seen.setdefault(part.node.node_id, part.node)
    return tuple(seen.values())


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__
