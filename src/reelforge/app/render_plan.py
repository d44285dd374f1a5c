"""What a render would do, rendering nothing: which shots the store already has, which would render, and where.

`reelforge render … --dry-run` (with `--farm`, also the farm's nodes and how each shot would go
out: a CPU task, a GPU worker, or split into frame spans over several).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reelforge.app.render_request import (
    RenderRefused,
    RenderRequest,
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


def plan_render(request: RenderRequest) -> RenderPlan:
    """The request's shots and what a render would do with each (RenderRefused for bad input, as a render)."""
    spec = request.spec
    production = with_model_override(load_spec(spec), spec, request.backend, request.checkpoint)
    runner = shot_runner(request.farm)
    episodes, job = chosen_work(request, plan_episodes(production, spec, request.device, request.threads,
                                                       runner.has_gpu() if runner is not None else None))
    store = ShotStore.of(ProductionPaths.for_spec(spec))
    jobs = [job] if job is not None else [j for e in episodes for j in e.jobs]
    farm = request.farm.address if request.farm else None
    plan = _plan(request, runner, store, jobs, job, farm)
    plan.budget_warning = budget_warning(spec, production.store, jobs, request.frames)
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
    return RenderPlan(shots, _summary(shots) + f", in {len(work.units)} unit(s) of work", farm, runner.nodes())


def _resume(job, store: ShotStore) -> str:
    journaled = len(store.job(job.key).read_journal())
    return f"render (resumes: {journaled} of {job.frames} frames stored)" if journaled else "render"


def _summary(shots: list[PlannedShot]) -> str:
    reused = sum(1 for s in shots if s.action == REUSED)
    return f"{len(shots) - reused} shot(s) to render, {reused} reused from the store"
