"""A shot seen from above: the set's footprints, the marks, each cast member's path and the camera's.

A director reads blocking on a plan: who starts where, where they walk, when they sit or wave,
and where the camera is while they do. This is that plan as plain data, drawn from exactly what
previz plays (the job's props, `BlockingTimeline` poses and `camera_path`, sampled at every frame),
so the diagram and the frames never disagree. Drawing it (SVG for the studio, PNG for the contact
sheet) is media/plan_view.py.

Ground plan: x right, z away from the camera's starting side, metres. Headings are radians as in
`FigurePose` (0 faces -z, +π/2 faces +x).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reelforge.plan.framing import framing_span
from reelforge.previz.blocking import BlockingTimeline
from reelforge.previz.camera import camera_path
from reelforge.previz.raster import GATE_MM  # focal in pixels = focal_mm / 36 * the canvas's long side
from reelforge.spec.ground import Ground

if TYPE_CHECKING:
    from reelforge.plan.cast import Figure
    from reelforge.plan.jobs import ShotJob


MARGIN_M = 1.0  # around everything the plan shows
CONTEXT_M = 4.0  # how far beyond the action the plan reaches to show the set around it
WEDGE_MIN_M, WEDGE_MAX_M = 2.0, 12.0  # how far the field-of-view wedge reaches (clamped aim distance)
CAMERA_STILL_M = 0.05  # a camera whose ground position moves less than this (and whose aim turns
CAMERA_STILL_RAD = math.radians(1.0)  # less than this) does not move, on the plan: a lock-off, a slight shake
SAME_SPOT_M = 0.25  # a cast member's actions starting this close together happen at one spot: one label


@dataclass(frozen=True)
class Footprint:
    """A prop on the ground: a box's rectangle or a cylinder's ellipse, centred on (x, z), size width × depth."""

    shape: str  # "box" or "cylinder"
    x: float
    z: float
    width: float
    depth: float
    color: str
    prop_id: str | None = None


@dataclass(frozen=True)
class Mark:
    name: str
    x: float
    z: float


@dataclass(frozen=True)
class Event:
    """One action of a cast member: when it runs, what it is, and where they stand when it starts."""

    start_s: float
    end_s: float
    action: str  # walk, run, turn, look-at, sit, stand, gesture, hold
    label: str  # what a director reads: "walk 1.6 m", "wave", "sit"
    x: float
    z: float


@dataclass(frozen=True)
class EventSpot:
    """Where a cast member does several things without walking (a turn then a wave, a sit, a look,
    a stand): one place on the plan, one label, the actions in the order they start."""

    x: float
    z: float
    events: tuple[Event, ...]


@dataclass(frozen=True)
class FigureTrack:
    """A cast member over the shot: their ground position at every frame and their actions."""

    character_id: str
    color: str  # wardrobe top: the colour the frames show them in
    points: tuple[Ground, ...]  # one per frame
    start_heading: float
    end_heading: float
    events: tuple[Event, ...]
    blocked: bool  # False: stands on their spot facing the camera all shot

    @property
    def start(self) -> Ground:
        return self.points[0]

    @property
    def end(self) -> Ground:
        return self.points[-1]

    @property
    def moves(self) -> bool:
        return any(p != self.points[0] for p in self.points)

    @property
    def spots(self) -> tuple[EventSpot, ...]:
        """The actions done in place (walks and runs are the path), grouped by where they start: an
        action within `SAME_SPOT_M` of a spot's first action joins that spot."""
        grouped: list[tuple[float, float, list[Event]]] = []
        for event in sorted(self.events, key=lambda e: e.start_s):
            if event.action in ("walk", "run"):
                continue
            spot = next((g for g in grouped if math.hypot(event.x - g[0], event.z - g[1]) <= SAME_SPOT_M), None)
            if spot is None:
                grouped.append((event.x, event.z, [event]))
            else:
                spot[2].append(event)
        return tuple(EventSpot(x, z, tuple(events)) for x, z, events in grouped)


@dataclass(frozen=True)
class CameraTrack:
    """The camera over the shot: its ground position at every frame, its aim at start and end, its lens."""

    points: tuple[Ground, ...]  # one per frame
    start_aim: Ground  # unit horizontal viewing direction (x, z)
    end_aim: Ground
    half_fov: float  # half the horizontal field of view at the start, radians
    reach_m: float  # how far the wedge is drawn: the horizontal distance to what it looks at, clamped

    @property
    def moves(self) -> bool:
        (x0, z0), (ax, az), (bx, bz) = self.points[0], self.start_aim, self.end_aim
        travelled = max(math.hypot(x - x0, z - z0) for x, z in self.points)
        turned = abs(math.atan2(ax * bz - az * bx, ax * bx + az * bz))
        return travelled >= CAMERA_STILL_M or turned >= CAMERA_STILL_RAD

    def wedge(self) -> tuple[Ground, Ground, Ground]:
        """The field of view at the start as a triangle: camera, left edge, right edge (at `reach_m`)."""
        (x, z), (ax, az) = self.points[0], self.start_aim
        edges = []
        for side in (-1.0, 1.0):
            angle = side * self.half_fov  # turning the aim toward the camera's right (+x for an aim of +z)
            c, s = math.cos(angle), math.sin(angle)
            dx, dz = ax * c + az * s, az * c - ax * s
            length = self.reach_m / max(c, 1e-6)
            edges.append((x + dx * length, z + dz * length))
        return (x, z), edges[0], edges[1]


@dataclass(frozen=True)
class ShotOverview:
    """Everything the plan of one shot shows, and the box (x_min, z_min, x_max, z_max) to draw: the
    action with a margin and the set near it (props further away are cut at its edge)."""

    shot_path: str
    seconds: float
    props: tuple[Footprint, ...]
    marks: tuple[Mark, ...]
    figures: tuple[FigureTrack, ...]
    camera: CameraTrack
    bounds: tuple[float, float, float, float]

    @property
    def shows_action(self) -> bool:
        """Someone is blocked or the camera moves: there is action to see on a plan."""
        return any(f.blocked for f in self.figures) or self.camera.moves


def shot_overview(job: ShotJob, marks: Mapping[str, Ground] | None = None) -> ShotOverview:
    """The plan of a shot. `marks` are the location's named spots (the job does not carry them:
    they move nothing, so they are not in its key); without them the plan shows none."""
    frames = max(int(job.frames), 1)
    times = [index / job.fps for index in range(frames)]
    timeline = BlockingTimeline(job)
    figures = tuple(_track(figure, timeline, times) for figure in job.figures)
    camera = _camera(job)
    props = tuple(_footprint(prop) for prop in job.set.props)
    mark_list = tuple(Mark(str(name), float(x), float(z)) for name, (x, z) in sorted((marks or {}).items()))
    return ShotOverview(shot_path=job.shot_path, seconds=frames / job.fps, props=props, marks=mark_list,
                        figures=figures, camera=camera, bounds=_bounds(props, mark_list, figures, camera))


def _footprint(prop: dict) -> Footprint:
    x, z = (float(v) for v in prop["position_m"])
    width, _, depth = (float(v) for v in prop.get("size_m", (1.0, 1.0, 1.0)))
    return Footprint(prop.get("shape", "box"), x, z, width, depth, prop.get("color", "#8a8a8a"), prop.get("id"))


def _track(figure: Figure, timeline: BlockingTimeline, times: list[float]) -> FigureTrack:
    poses = [timeline.pose(figure.character_id, t) for t in times]
    events = []
    for action in figure.blocking.actions if figure.blocking is not None else ():
        at = timeline.pose(figure.character_id, action.start_s)
        events.append(Event(action.start_s, action.end_s, action.action, _label(action), at.x, at.z))
    return FigureTrack(character_id=figure.character_id, color=figure.top,
                       points=tuple((p.x, p.z) for p in poses), start_heading=poses[0].heading,
                       end_heading=poses[-1].heading, events=tuple(events), blocked=figure.blocking is not None)


def _label(action) -> str:
    if action.action in ("walk", "run"):
        length = sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(action.path, action.path[1:]))
        return f"{action.action} {length:.1f} m"
    if action.action == "gesture" and action.gesture:
        return action.gesture
    if action.action in ("turn", "look-at", "gesture") and action.face_character:
        return f"{action.action} → {action.face_character}"
    return action.action


def _camera(job: ShotJob) -> CameraTrack:
    poses = camera_path(job)
    first = poses[0]
    focal_px = first.focal_length_mm / GATE_MM * framing_span(job)
    half_fov = math.atan(job.width / 2.0 / focal_px)
    aim_distance = math.hypot(first.target[0] - first.position[0], first.target[2] - first.position[2])
    return CameraTrack(points=tuple((p.position[0], p.position[2]) for p in poses), start_aim=_aim(first),
                       end_aim=_aim(poses[-1]), half_fov=half_fov,
                       reach_m=min(max(aim_distance, WEDGE_MIN_M), WEDGE_MAX_M))


def _aim(pose) -> Ground:
    dx, dz = pose.target[0] - pose.position[0], pose.target[2] - pose.position[2]
    length = math.hypot(dx, dz)
    return (dx / length, dz / length) if length > 0.0 else (0.0, 1.0)


def _bounds(props, marks, figures, camera: CameraTrack) -> tuple[float, float, float, float]:
    """The action (paths, camera, wedge, marks) with a margin, and as much of the set as lies within
    CONTEXT_M of it: a 14 m sea wall far behind the action must not shrink the action to a few pixels."""
    points = [(m.x, m.z) for m in marks] + [p for f in figures for p in f.points] + list(camera.points)
    points += list(camera.wedge())
    x0, z0 = min(x for x, _ in points), min(z for _, z in points)
    x1, z1 = max(x for x, _ in points), max(z for _, z in points)
    for p in props:
        px0, pz0, px1, pz1 = p.x - p.width / 2, p.z - p.depth / 2, p.x + p.width / 2, p.z + p.depth / 2
        if px1 < x0 - CONTEXT_M or px0 > x1 + CONTEXT_M or pz1 < z0 - CONTEXT_M or pz0 > z1 + CONTEXT_M:
            continue  # too far from the action: drawn where it reaches into the plan, if at all
        x0, z0 = min(x0, max(px0, x0 - CONTEXT_M)), min(z0, max(pz0, z0 - CONTEXT_M))
        x1, z1 = max(x1, min(px1, x1 + CONTEXT_M)), max(z1, min(pz1, z1 + CONTEXT_M))
    return (x0 - MARGIN_M, z0 - MARGIN_M, x1 + MARGIN_M, z1 + MARGIN_M)
