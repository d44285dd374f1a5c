"""Blocking in time: where each blocked cast member is, which way they face and how they hold
themselves at any instant of a shot.

A pose is a pure function of (job, seconds): previz draws frame i at i / fps, so any frame
range re-renders alone. (First cut: position along walk paths and heading only; the gait,
sitting, gestures and head turns fill in `FigurePose`.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reelforge.previz.easing import ease

if TYPE_CHECKING:
    from reelforge.plan.blocking import ActionJob
    from reelforge.plan.cast import Figure
    from reelforge.plan.jobs import ShotJob


@dataclass(frozen=True)
class FigurePose:
    """One figure at one instant: where it stands and which way it faces (radians, 0 faces -z, +π/2 faces +x)."""

    x: float
    z: float
    heading: float


def path_point(path: tuple[tuple[float, float], ...], fraction: float) -> tuple[float, float]:
    """The point `fraction` (0..1) of the way along a polyline, by length."""
    lengths = [math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(path, path[1:])]
    total = sum(lengths)
    if total <= 0.0:
        return path[-1]
    along = fraction * total
    for (a, b), length in zip(zip(path, path[1:]), lengths):
        if along <= length and length > 0.0:
            s = along / length
            return (a[0] + (b[0] - a[0]) * s, a[1] + (b[1] - a[1]) * s)
        along -= length
    return path[-1]


class BlockingTimeline:
    """Every cast member's pose at any time of one shot."""

    def __init__(self, job: ShotJob) -> None:
        self.figures: dict[str, Figure] = {f.character_id: f for f in job.figures}

    def pose(self, character_id: str, seconds: float) -> FigurePose:
        figure = self.figures[character_id]
        blocking = figure.blocking
        x, z = figure.x_m, figure.z_m
        heading = math.radians(blocking.heading_deg) if blocking is not None else 0.0
        for action in blocking.actions if blocking is not None else ():
            if action.start_s > seconds:
                break
            progress = _progress(action, seconds)
            if action.action in ("walk", "run"):
                x, z = path_point(action.path, progress)
                (ax, az), (bx, bz) = action.path[0], action.path[-1]
                if (bx, bz) != (ax, az):
                    heading = math.atan2(bx - ax, -(bz - az))
            elif action.action == "turn" and action.heading_deg is not None:
                start = heading
                turn = (math.radians(action.heading_deg) - start + math.pi) % (2.0 * math.pi) - math.pi
                heading = start + turn * progress
        return FigurePose(x, z, heading)

    def ground_position(self, character_id: str, seconds: float) -> tuple[float, float]:
        pose = self.pose(character_id, seconds)
        return pose.x, pose.z


def _progress(action: ActionJob, seconds: float) -> float:
    if action.end_s <= action.start_s:
        return 1.0
    return ease(action.easing, (seconds - action.start_s) / (action.end_s - action.start_s))
