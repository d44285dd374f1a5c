"""A shot's blocking, resolved: every mark turned into metres, every action into a time span.

What the spec names (a location mark, a prop, "camera", an arrival time or a speed) is settled
here, once, so previz (previz/blocking.py) plays numbers only and the job key covers exactly
what moves a figure. Per character, the nearest level that names them wins: shot, then scene,
then episode, then production.

Walks are resolved in order, each from where the character stands when it starts (the end of
the walk before it), so a destination given as a prop is the spot beside the prop on the
walker's side. Facing a cast member is kept by id: that character may move, and previz turns
toward wherever they are when the turn ends (a look-at follows them throughout). A turn toward
a fixed point (a mark, a prop, [x, z], the camera) is resolved to the heading it ends on.
The geometry and timing are spec/staging.py's, which validate uses too.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import model_serializer

from reelforge.plan.base import Frozen
from reelforge.plan.camera import CameraPath
from reelforge.spec.blocking import (  # noqa: F401 (the defaults, re-exported for previz)
    DEFAULT_DURATION_S,
    PROP_CLEARANCE_M,
    RUN_SPEED_MPS,
    SEAT_HEIGHT_M,
    WALK_SPEED_MPS,
    Blocking,
)
from reelforge.spec.ground import Ground
from reelforge.spec.staging import (
    CAMERA,
    GroundPlan,
    Staged,
    character_entries,
    heading_toward,
    lineup,
    stage_character,
)


class ActionJob(Frozen):
    """One action with numbers only: when it runs and what it does."""

    action: str  # walk, run, turn, look-at, sit, stand, gesture, hold
    start_s: float
    end_s: float
    easing: str
    path: tuple[Ground, ...] = ()  # walk/run: ground points from where the action starts (first) to its end (last)
    heading_deg: float | None = None  # turn: the heading it ends on (0 faces -z, 90 faces +x)
    face_point: Ground | None = None  # turn / look-at / gesture: a ground point to face, look or point at
    face_character: str | None = None  # … or a cast member, wherever they are at the time
    gesture: str | None = None  # wave, point, reach
    seat_height_m: float | None = None  # sit
    # sit on a prop (its top is the seat): the point of its edge the hips go to; she turns her back
    # to it and no stool is drawn. Left out of the JSON when None, so other jobs keep their keys.
    seat_edge: Ground | None = None

    @model_serializer(mode="wrap")
    def _without_unset_seat_edge(self, handler):
        data = handler(self)
        if isinstance(data, dict) and data.get("seat_edge") is None:
            data.pop("seat_edge", None)
        return data


class FigureBlocking(Frozen):
    """A cast member's blocking in one shot: the heading they start on and their actions in time order.

    The start position is the figure's own x_m, z_m (the mark, or the cast line-up).
    """

    heading_deg: float = 0.0
    actions: tuple[ActionJob, ...] = ()


class FigureStart(Frozen):
    """Where a cast member starts, and their blocking (None: they stand there facing the camera's side)."""

    x_m: float
    z_m: float
    blocking: FigureBlocking | None = None


def resolve_blocking(location, cast: Sequence[str], levels: Sequence[Blocking], camera: CameraPath,
                     characters: Sequence[str] = ()) -> dict[str, FigureStart]:
    """Per cast member, their start and resolved blocking in one shot.

    `levels` are the shot's, scene's, episode's and production's blocking (nearest first); the
    first that names a character gives all of that character's blocking. Without a mark a
    character keeps their place in the cast line-up. A character with no entry, or with only a
    mark (and no facing), gets `blocking=None`: their figure is the unblocked one, moved.
    "camera" is where the camera starts: distance_m in front of the cast's starting centre.
    """
    cast = list(cast)
    ground = GroundPlan(location)
    entries = character_entries(cast, [("", (), blocking) for blocking in levels])
    staged: dict[str, Staged] = {}
    starts = dict(zip(cast, lineup(len(cast))))
    for character_id, entry in entries.items():
        staged[character_id] = stage_character(character_id, entry.blocking, starts[character_id], ground, cast,
                                                characters)
        starts[character_id] = staged[character_id].start
    count = len(cast)
    centre = (sum(starts[c][0] for c in cast) / count, sum(starts[c][1] for c in cast) / count) if count else (0, 0)
    camera_at = (round(centre[0], 6), round(centre[1] - float(camera.distance_m), 6))
    out = {}
    for character_id in cast:
        x, z = starts[character_id]
        stage = staged.get(character_id)
        blocking = None if stage is None else _figure_blocking(stage, starts, camera_at)
        out[character_id] = FigureStart(x_m=x, z_m=z, blocking=blocking)
    return out


def _figure_blocking(stage: Staged, starts: dict[str, Ground], camera_at: Ground) -> FigureBlocking | None:
    """The numbers previz plays; None when nothing but the start position differs from an unblocked figure."""
    facing = stage.facing
    if facing is None:
        heading = 0.0
    elif isinstance(facing, float):
        heading = facing
    else:
        heading = heading_toward(stage.start, _point_of(facing, starts, camera_at))
    if not stage.actions and heading == 0.0:
        return None
    actions = []
    position = stage.start
    for staged in stage.actions:
        kind = staged.spec.action
        job: dict = {"action": kind, "start_s": round(staged.start_s, 6), "end_s": round(staged.end_s, 6),
                     "easing": staged.spec.easing}
        if kind in ("walk", "run"):
            job["path"] = tuple((round(x, 6), round(z, 6)) for x, z in staged.path)
            position = staged.path[-1]
        elif kind == "turn":
            if staged.heading_deg is not None:
                job["heading_deg"] = staged.heading_deg
            elif staged.face in starts and staged.face != CAMERA:
                job["face_character"] = staged.face
            elif staged.face is not None:
                job["heading_deg"] = heading_toward(position, _point_of(staged.face, starts, camera_at))
        elif kind in ("look-at", "gesture"):
            if isinstance(staged.face, str) and staged.face != CAMERA:
                job["face_character"] = staged.face
            elif staged.face is not None:
                point = _point_of(staged.face, starts, camera_at)
                job["face_point"] = (round(point[0], 6), round(point[1], 6))
            if kind == "gesture":
                job["gesture"] = staged.spec.gesture
        elif kind == "sit":
            job["seat_height_m"] = staged.seat_height_m
            if staged.seat_edge is not None:
                job["seat_edge"] = staged.seat_edge
        actions.append(ActionJob(**job))
    return FigureBlocking(heading_deg=heading, actions=tuple(actions))


def _point_of(face, starts: dict[str, Ground], camera_at: Ground) -> Ground:
    """A target's ground point: a point as is, the camera's start, or where a cast member starts."""
    if face == CAMERA:
        return camera_at
    if isinstance(face, str):
        return starts[face]
    return face
