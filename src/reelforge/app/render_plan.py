"""What a render would do, rendering nothing: which shots the store already has, which would render, and where.

`reelforge render … --dry-run` (with `--farm`, also the farm's nodes and how each shot would go
out: a CPU task, a GPU worker, or split into frame spans over several).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reelforge.app.render_request import (
    RenderRefused,
    RenderRequest,
    check_frames_out,
    chosen_deliveries,
    chosen_work,
    load_spec,
    plan_episodes,
    shot_runner,
    with_model_override,
)
from reelforge.app.store_budget import budget_warning
from reelforge.engine.shot import Backends, stored_frames
from reelforge.farm.errors import FarmError
from reelforge.plan.jobs import ShotJob
from reelforge.store.paths import ProductionPaths
from reelforge.store.shots import ShotStore

if TYPE_CHECKING:
    from reelforge.farm.runner import FarmShots  # imports Ray: only when a farm is named

REUSED = "reused from the store"
SAME_FRAMES = "the frames planned above, encoded in this delivery's format"


@dataclass
class PlannedShot:
    shot_path: str
    frames: int
    action: str  # what would happen to it, in words


@dataclass
class RenderPlan:
    shots: list[PlannedShot]
    summary: str
    farm: str | None = None
    nodes: list = field(default_factory=list)  # farm/cluster.py: FarmNode, when a farm is named
    budget_warning: str | None = None  # what the render would say of the store's budget ($.store.budget)
    units: int = 0  # units of work a farm would run


def plan_render(request: RenderRequest) -> RenderPlan:
    """The request's shots and what a render would do with each (RenderRefused for bad input, as a render).

    Every delivery the render would make is planned: a named delivery's shots are listed as
    `s01e01/sc01/sh01 (vertical)`, and one with the main delivery's frame only re-encodes its frames."""
    spec = request.spec
    check_frames_out(request)
    production = with_model_override(load_spec(spec), spec, request.backend, request.checkpoint)
    runner = shot_runner(request.farm)
    paths = ProductionPaths.for_spec(spec)
    store = ShotStore.of(paths)
    farm = request.farm.address if request.farm else None
    plan, planned_keys, every_job = None, set(), []
    for delivery in chosen_deliveries(production, spec, request, request.out or paths.renders):
        episodes, job = chosen_work(request, plan_episodes(delivery.production, spec, request.device, request.threads,
                                                           runner.has_gpu() if runner is not None else None))
        jobs = [job] if job is not None else [j for e in episodes for j in e.jobs]
        new_jobs = [j for j in jobs if j.key not in planned_keys]
        part = _plan(request, runner, store, new_jobs, job, farm) if new_jobs else RenderPlan([], "")
        actions = {j.key: s.action for j, s in zip(new_jobs, part.shots, strict=True)}
        label = f" ({delivery.name})" if delivery.name else ""
        shots = [PlannedShot(j.shot_path + label, j.frames, actions.get(j.key, SAME_FRAMES)) for j in jobs]
        planned_keys.update(j.key for j in jobs)
        every_job += new_jobs
        if plan is None:
            plan = dataclasses.replace(part, shots=shots)
        else:
            plan.shots += shots
            plan.units += part.units
    if request.frames is None:  # (a range's summary says it all)
        plan.summary = _summary(plan.shots) + (f", in {plan.units} unit(s) of work" if farm else "")
    plan.budget_warning = budget_warning(spec, production.store, every_job, request.frames)
    return plan


def _plan(request: RenderRequest, runner: FarmShots | None, store: ShotStore, jobs: list[ShotJob], job: ShotJob | None,
          farm: str | None) -> RenderPlan:
    """What would happen to each shot: reused, rendered (resumed), or sent to the farm, and how."""
    if job is not None and request.frames is not None:
        start, stop = request.frames
        where = "on the farm" if runner else "here"
        return RenderPlan([PlannedShot(job.shot_path, stop - start, f"frames {start}–{stop - 1} rendered anew {where} "
                                                                    "(a range is never taken from the store)")],
                          "1 range to render", farm)
    if runner is None:
        actions = {j.key: REUSED if stored_frames(j, store, repair=False) is not None else _resume(j, store)
                   for j in jobs}
        shots = [PlannedShot(j.shot_path, j.frames, actions[j.key]) for j in jobs]
        return RenderPlan(shots, _summary(shots))
    try:
        work = runner.plan(jobs, store, Backends(), repair=False)
    except FarmError as exc:
        raise RenderRefused(str(exc), code=exc.code) from None
    actions = {j.key: REUSED for j in work.reused}
    for key in dict.fromkeys(u.job.key for u in work.units):
        units = [u for u in work.units if u.job.key == key]
        worker = runner.worker_kind(units[0])
        if len(units) == 1 and units[0].span is None:
            actions[key] = f"whole shot on {worker}"
        else:
            spans = ", ".join(f"{u.span[0]}–{u.span[1] - 1}" for u in units)
            actions[key] = f"{len(units)} frame spans, each on {worker} (frames {spans}); segment encoded here"
    shots = [PlannedShot(j.shot_path, j.frames, actions.get(j.key, REUSED)) for j in jobs]
    return RenderPlan(shots, _summary(shots) + f", in {len(work.units)} unit(s) of work", farm, runner.nodes(),
                      units=len(work.units))


def _resume(job, store: ShotStore) -> str:
    journaled = len(store.job(job.key).read_journal())
    return f"render (resumes: {journaled} of {job.frames} frames stored)" if journaled else "render"


def _summary(shots: list[PlannedShot]) -> str:
    reused = sum(1 for s in shots if s.action == REUSED)
    again = sum(1 for s in shots if s.action == SAME_FRAMES)
    encoded = f", {again} encoded again from frames planned above" if again else ""
    return f"{len(shots) - reused - again} shot(s) to render, {reused} reused from the store{encoded}"
