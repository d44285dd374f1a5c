"""Blocking laid out on a location's ground plan and in time: names become metres, actions time spans.

`reelforge validate` (spec/blocking_checks.py) and planning (plan/blocking.py) both read blocking
through `stage_character`, so what validate accepts is exactly what previz plays: where a prop's
spot is, how long a walk takes, whether the character is seated when they set off.

Every number is rounded to 6 decimals here (as the cast line-up is), once, so the checks and the
job see the same values.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reelforge.spec.base import seconds_text, short_text
from reelforge.spec.blocking import (
    DEFAULT_DURATION_S,
    PROP_CLEARANCE_M,
    RUN_SPEED_MPS,
    SEAT_HEIGHT_M,
    SEAT_RANGE_M,
    WALK_SPEED_MPS,
    Blocking,
    BlockingAction,
    CharacterBlocking,
)
from reelforge.spec.easing import ease
from reelforge.spec.ground import Ground, Polyline

Loc = tuple[str | int, ...]

LINEUP_SPACING_M = 1.1  # an unblocked cast stands in a row, left to right, this far apart, centred on x = 0
CAMERA = "camera"  # the target word for where the camera starts


def lineup(count: int) -> list[Ground]:
    """Where a cast of `count` stands without marks: left to right in cast order, centred on x = 0."""
    return [(round((i - (count - 1) / 2) * LINEUP_SPACING_M, 6), 0.0) for i in range(count)]


def heading_toward(origin: Ground, point: Ground) -> float:
    """Degrees to face `point` from `origin` (0 faces -z, 90 faces +x); 0 when they coincide."""
    dx, dz = point[0] - origin[0], point[1] - origin[1]
    if math.hypot(dx, dz) < 1e-9:
        return 0.0
    return round(math.degrees(math.atan2(dx, -dz)), 6) + 0.0  # + 0.0: never -0.0 (it would key apart)


# ----------------------------------------------------------------------------- the ground plan


def inside_footprint(prop: Any, point: Ground) -> bool:
    """Whether a ground point lies strictly inside a prop's footprint (a rectangle or an ellipse)."""
    (x, z), (width, _, depth) = prop.position_m, prop.size_m
    dx, dz = point[0] - x, point[1] - z
    if prop.shape == "cylinder":
        return (dx / (width / 2)) ** 2 + (dz / (depth / 2)) ** 2 < 1.0 - 1e-9
    return abs(dx) < width / 2 - 1e-9 and abs(dz) < depth / 2 - 1e-9


def crosses_footprint(prop: Any, a: Ground, b: Ground) -> bool:
    """Whether the straight line from `a` to `b` passes strictly inside a prop's footprint (as `inside_footprint`
    draws it: a rectangle or an ellipse, less the same 1e-9), anywhere along it, not just at its ends."""
    (x, z), (width, _, depth) = prop.position_m, prop.size_m
    ax, az, dx, dz = a[0] - x, a[1] - z, b[0] - a[0], b[1] - a[1]
    if prop.shape == "cylinder":  # in units of the half-axes the ellipse is the unit circle
        u, v, du, dv = ax / (width / 2), az / (depth / 2), dx / (width / 2), dz / (depth / 2)
        step = du * du + dv * dv
        t = min(max(-(u * du + v * dv) / step, 0.0), 1.0) if step > 0.0 else 0.0
        return (u + t * du) ** 2 + (v + t * dv) ** 2 < 1.0 - 1e-9
    low, high = 0.0, 1.0  # the part of the segment strictly inside the rectangle, clipped axis by axis
    for start, delta, half in ((ax, dx, width / 2 - 1e-9), (az, dz, depth / 2 - 1e-9)):
        if delta == 0.0:
            if abs(start) >= half:
                return False
            continue
        t0, t1 = sorted(((-half - start) / delta, (half - start) / delta))
        low, high = max(low, t0), min(high, t1)
    return low < high


def beside_prop(prop: Any, toward: Ground | None) -> Ground:
    """The spot PROP_CLEARANCE_M outside a prop's footprint on the side facing `toward`.

    A box: the nearest point of its edge, pushed straight out (diagonally past a corner); a
    cylinder: along the line from its centre. `toward` None (or the prop's centre): the side
    facing the camera's starting side (-z).
    """
    (x, z), (width, _, depth) = prop.position_m, prop.size_m
    half_w, half_d = width / 2, depth / 2
    dx, dz = (toward[0] - x, toward[1] - z) if toward is not None else (0.0, -1.0)
    if math.hypot(dx, dz) < 1e-9:
        dx, dz = 0.0, -1.0
    if prop.shape == "cylinder":
        length = math.hypot(dx, dz)
        ux, uz = dx / length, dz / length
        radius = 1.0 / math.sqrt((ux / half_w) ** 2 + (uz / half_d) ** 2)
        reach = radius + PROP_CLEARANCE_M
        return (round(x + ux * reach, 6), round(z + uz * reach, 6))
    if abs(dx) <= half_w and abs(dz) <= half_d:  # inside (or on) the box: out through the nearest edge
        gaps = [(half_w - dx, (1.0, 0.0)), (half_w + dx, (-1.0, 0.0)), (half_d - dz, (0.0, 1.0)),
                (half_d + dz, (0.0, -1.0))]
        _, (nx, nz) = min(gaps, key=lambda gap: gap[0])
        ex = half_w * nx if nx else dx
        ez = half_d * nz if nz else dz
    else:
        ex, ez = min(max(dx, -half_w), half_w), min(max(dz, -half_d), half_d)
        gap = math.hypot(dx - ex, dz - ez)
        nx, nz = (dx - ex) / gap, (dz - ez) / gap
    return (round(x + ex + nx * PROP_CLEARANCE_M, 6), round(z + ez + nz * PROP_CLEARANCE_M, 6))


class GroundPlan:
    """A location's named places: its marks and its props with ids (the first of an id)."""

    def __init__(self, location: Any) -> None:
        self.location = location
        self.marks: dict[str, Ground] = {name: (float(p[0]), float(p[1])) for name, p in location.marks.items()}
        self.props: dict[str, Any] = {}
        for prop in location.props:
            if prop.id is not None:
                self.props.setdefault(prop.id, prop)

    def names(self) -> str:
        """The names blocking can use here, for messages."""
        marks = ", ".join(sorted(self.marks)) or "none"
        props = ", ".join(sorted(self.props)) or "none"
        return f"marks: {marks}; prop ids: {props}"


# ----------------------------------------------------------------------------- inheritance


@dataclass(frozen=True)
class Entry:
    """One character's blocking as the shot uses it, and where it is written."""

    blocking: CharacterBlocking
    level: str  # shot, scene, episode or production
    loc: Loc  # the entry's own location: (..., "blocking", character id)


def character_entries(cast: Sequence[str], levels: Sequence[tuple[str, Loc, Blocking]]) -> dict[str, Entry]:
    """Per cast member, the nearest level's entry (levels from the shot outward); none: unblocked."""
    entries = {}
    for character_id in cast:
        for level, loc, blocking in levels:
            if character_id in blocking:
                entries[character_id] = Entry(blocking[character_id], level, loc + ("blocking", character_id))
                break
    return entries


# ----------------------------------------------------------------------------- staging


@dataclass(frozen=True)
class StagedAction:
    """One action with its time span and places settled."""

    index: int  # in the character's actions
    spec: BlockingAction
    start_s: float
    end_s: float
    path: tuple[Ground, ...] = ()  # walk/run: from where the character is when it starts to where it ends
    heading_deg: float | None = None  # turn: the heading given in the spec
    face: Ground | str | None = None  # turn/look-at/gesture: a ground point, "camera" or a cast member's id
    seat_height_m: float | None = None  # sit
    seat_edge: Ground | None = None  # sit on a prop: the point of its outline nearest the character (no stool)
    prop_id: str | None = None  # walk/run "to" a prop: which one (the spot beside it is the path's end)


@dataclass
class Staged:
    """A cast member's blocking in one shot, staged; `problems` and `spots` are for validate."""

    start: Ground
    facing: float | Ground | str | None  # degrees, a ground point, "camera", a cast member's id; None: 0
    actions: list[StagedAction] = field(default_factory=list)
    # Positions the character takes that the spec writes as numbers or as a prop (a location mark is
    # checked where the location defines it): (location inside the entry, point, prop it stands beside).
    spots: list[tuple[Loc, Ground, Any]] = field(default_factory=list)
    problems: list[tuple[Loc, Any, str]] = field(default_factory=list)  # (location inside the entry, value, message)


def stage_character(character_id: str, entry: CharacterBlocking, default_start: Ground, ground: GroundPlan,
                    cast: Sequence[str], characters: Sequence[str] = ()) -> Staged:
    """Lay out one character's blocking: start mark, facing, then each action from where they are.

    `cast` is the shot's cast (who can be faced); `characters` every defined character (to tell
    "not cast here" from "unknown"). Actions are staged in the order written; names that cannot
    be resolved are reported in `problems` and leave the character where they are.
    """
    staged = Staged(start=default_start, facing=None)
    place = _Places(character_id, ground, cast, characters, staged.problems)
    beside = None  # the prop the character stands beside (their start or last walk went to it)
    if entry.mark is not None:
        found = place.place(entry.mark, None, ("mark",), "a start mark")
        if found is not None:
            staged.start, beside = found
            if not isinstance(entry.mark, str) or beside is not None:
                staged.spots.append((("mark",), staged.start, beside))
    if entry.facing is not None:
        if isinstance(entry.facing, int | float):
            staged.facing = float(entry.facing)
        else:
            staged.facing = place.target(entry.facing, ("facing",), "face")
    position, seated_at = staged.start, None
    for k, action in enumerate(entry.actions):
        at: Loc = ("actions", k)
        kind = action.action
        start = float(action.at_s)
        end = round(start + (action.duration_s or DEFAULT_DURATION_S.get(kind, 0.0)), 6)
        extra: dict[str, Any] = {}
        if kind in ("walk", "run"):
            if seated_at is not None:
                staged.problems.append((at + ("action",), kind, (
                    f"{character_id} is seated here (sat down at {seconds_text(seated_at[1])} s, actions[{seated_at[0]}]): "
                    f"add a stand before the {kind}")))
            points = [position]
            for j, point in enumerate(action.path or ()):
                points.append((float(point[0]), float(point[1])))
                staged.spots.append((at + ("path", j), points[-1], None))
            prop = None
            if action.to is not None:
                found = place.place(action.to, points[-1], at + ("to",), f"a {kind}'s destination")
                if found is not None:
                    points.append(found[0])
                    prop = found[1]
                    if not isinstance(action.to, str) or prop is not None:
                        staged.spots.append((at + ("to",), found[0], prop))
            length = sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(points, points[1:]))
            if action.arrive_s is not None:
                end = float(action.arrive_s)
            else:
                speed = action.speed_mps or (RUN_SPEED_MPS if kind == "run" else WALK_SPEED_MPS)
                end = round(start + length / speed, 6)
            extra["path"] = tuple(points)
            extra["prop_id"] = prop.id if prop is not None else None
            position, beside = points[-1], prop
        elif kind in ("turn", "look-at", "gesture"):
            if action.to is not None:
                extra["face"] = place.target(action.to, at + ("to",), "face" if kind == "turn" else
                                             "look at" if kind == "look-at" else "point at")
            if action.heading_deg is not None:
                extra["heading_deg"] = float(action.heading_deg)
        elif kind == "sit":
            if seated_at is not None:
                staged.problems.append((at + ("action",), kind, (
                    f"{character_id} is already seated (sat down at {seconds_text(seated_at[1])} s, actions[{seated_at[0]}]): "
                    "add a stand before sitting again")))
            seated_at = (k, start)
            extra["seat_height_m"] = _seat_height(action, beside)
            if action.height_m is None and beside is not None and SEAT_RANGE_M[0] < beside.size_m[1] <= SEAT_RANGE_M[1]:
                extra["seat_edge"] = _seat_edge(beside, position)  # the seat is the prop's top: sit on it
        elif kind == "stand":
            if seated_at is None:
                staged.problems.append((at + ("action",), kind, (
                    f"{character_id} is already standing here: a stand follows a sit")))
            seated_at = None
        staged.actions.append(StagedAction(index=k, spec=action, start_s=start, end_s=end, **extra))
    return staged


def _seat_height(action: BlockingAction, beside: Any) -> float:
    """The spec's height_m; else the top of the prop the character sits by, if it is seat height; else the default."""
    if action.height_m is not None:
        return float(action.height_m)
    if beside is not None and SEAT_RANGE_M[0] < beside.size_m[1] <= SEAT_RANGE_M[1]:
        return float(beside.size_m[1])
    return SEAT_HEIGHT_M


def _seat_edge(prop: Any, position: Ground) -> Ground:
    """Where on a prop's outline a character standing beside it sits: the point nearest them
    (the one beside_prop stood them PROP_CLEARANCE_M out from)."""
    (x, z), (width, _, depth) = prop.position_m, prop.size_m
    dx, dz = position[0] - x, position[1] - z
    if prop.shape == "cylinder":
        length = math.hypot(dx, dz)
        ux, uz = (dx / length, dz / length) if length > 1e-9 else (0.0, -1.0)
        radius = 1.0 / math.sqrt((ux / (width / 2)) ** 2 + (uz / (depth / 2)) ** 2)
        return (round(x + ux * radius, 6), round(z + uz * radius, 6))
    return (round(x + min(max(dx, -width / 2), width / 2), 6), round(z + min(max(dz, -depth / 2), depth / 2), 6))


class _Places:
    """Resolves one character's names, recording what it cannot resolve."""

    def __init__(self, character_id: str, ground: GroundPlan, cast: Sequence[str], characters: Sequence[str],
                 problems: list) -> None:
        self.character_id, self.ground, self.cast = character_id, ground, list(cast)
        self.characters, self.problems = list(characters), problems

    def place(self, value: Any, toward: Ground | None, loc: Loc, what: str) -> tuple[Ground, Any] | None:
        """A place as (ground point, the prop it is beside or None)."""
        if not isinstance(value, str):
            return (float(value[0]), float(value[1])), None
        if value in self.ground.marks:
            return self.ground.marks[value], None
        if value in self.ground.props:
            prop = self.ground.props[value]
            return beside_prop(prop, toward), prop
        if value == CAMERA or value in self.cast or value in self.characters:
            who = "where the camera starts" if value == CAMERA else f"a character ('{value}')"
            self.problems.append((loc, value, f"{what} is a place (a mark, a prop id or [x, z]), not {who}; "
                                              f"location {self.ground.location.id} has {self.ground.names()}"))
            return None
        self.problems.append((loc, value, self._unknown(value, places_only=True)))
        return None

    def target(self, value: Any, loc: Loc, verb: str) -> Ground | str | None:
        """Something to face: a ground point, "camera", or a cast member's id."""
        if not isinstance(value, str):
            return (float(value[0]), float(value[1]))
        if value == CAMERA:
            return CAMERA
        if value == self.character_id:
            self.problems.append((loc, value, f"{self.character_id} cannot {verb} themself; name a place, "
                                              f"another cast member or \"camera\""))
            return None
        if value in self.cast:
            return value
        if value in self.ground.marks:
            return self.ground.marks[value]
        if value in self.ground.props:
            return tuple(float(v) for v in self.ground.props[value].position_m)  # type: ignore[return-value]
        if value in self.characters:
            self.problems.append((loc, value, f"'{value}' is not cast in this shot, so {self.character_id} cannot "
                                              f"{verb} them (cast: {', '.join(self.cast)})"))
            return None
        self.problems.append((loc, value, self._unknown(value, places_only=False)))
        return None

    def _unknown(self, name: str, places_only: bool) -> str:
        known = list(self.ground.marks) + list(self.ground.props)
        if not places_only:
            known += [c for c in self.cast if c != self.character_id] + [CAMERA]
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        where = f"location {self.ground.location.id} has {self.ground.names()}"
        if places_only:
            return f"unknown mark or prop '{short_text(name)}': {hint}{where} (or give [x, z] in metres)"
        others = ", ".join(c for c in self.cast if c != self.character_id) or "none"
        return (f"unknown target '{short_text(name)}': {hint}{where}; other cast members: {others}; or \"camera\", "
                f"or [x, z] in metres")


# ----------------------------------------------------------------------------- in time


def ground_track(start: Ground, actions: Sequence[StagedAction], times: Sequence[float]) -> list[Ground]:
    """Where a character stands (the ground point under their hips) at each of `times`, as previz plays it.

    The rule is previz/blocking.py's (`_Track.spot`, with `Polyline.at`), on the numbers the plan gives it
    (rounded to 6 decimals): each walk or run in the order written, from when it starts, along its
    path by length at its eased share of its time, and at its end once it is over. Validate samples
    this at every frame to find cast members walking into each other (previz, a layer up, reads the same
    `Polyline`; the easing is spec/easing.py's).
    """
    walks = [(round(a.start_s, 6), round(a.end_s, 6), a.spec.easing,
              Polyline(tuple((round(float(x), 6), round(float(z), 6)) for x, z in a.path)))
             for a in actions if a.spec.action in ("walk", "run") and a.path]
    played = []  # per walk: time → progress, eased once over every time it is under way (same bits as one by one)
    for start_s, end_s, easing, _ in walks:
        going = [t for t in times if start_s <= t < end_s]
        eased = ease(easing, np.array([(t - start_s) / (end_s - start_s) for t in going], dtype=np.float64))
        played.append(dict(zip(going, (float(e) for e in eased))))
    out = []
    for t in times:
        where = start
        for (start_s, end_s, _, line), progress in zip(walks, played):
            if start_s > t:
                break
            where = line.points[-1] if t >= end_s else line.at(line.total * progress[t])
        out.append(where)
    return out
