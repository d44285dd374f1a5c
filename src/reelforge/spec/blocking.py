"""Blocking as a director writes it: where each cast member starts, and what they do when.

    "blocking": {
      "mara": {"mark": "quay-end", "facing": "camera",
               "actions": [{"action": "walk", "at_s": 0.5, "to": "crates", "speed_mps": 1.2},
                           {"action": "turn", "at_s": 2.6, "to": "theo"},
                           {"action": "gesture", "at_s": 3.0, "gesture": "wave"}]},
      "theo": {"mark": [1.5, 2.0], "actions": [{"action": "sit", "at_s": 1.0}]}
    }

Positions are metres on the ground plan, `[x, z]` (x to the right, z away from the camera's
starting side), or a name: a mark of the scene's location (`location.marks`) or a prop id
(the spot beside the prop, on the walker's side). Headings are degrees: 0 faces the camera's
starting side (-z), 90 faces right (+x), 180 faces away, -90 (or 270) faces left.

A shot inherits blocking per character: the shot's entry for a character beats the scene's,
the scene's the episode's, the episode's the production's. Which fields an action takes is
checked here (a `speed_mps` on a turn is an error, as a camera parameter a move does not take
is); what needs the whole production (marks, cast, shot length, overlaps) is checked by
`blocking_problems` (spec/blocking_checks.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from reelforge.spec.base import Id, Strict
from reelforge.spec.camera import raise_at
from reelforge.spec.easing import canonical_easing
from reelforge.spec.ground import SEAT_HEIGHT_M  # noqa: F401 (the spec's defaults, in one place)

ACTIONS = ("walk", "run", "turn", "look-at", "sit", "stand", "gesture", "hold")
GESTURES = ("wave", "point", "reach")
# Defaults the field descriptions below state; planning (plan/blocking.py) and validate use these.
WALK_SPEED_MPS = 1.3
RUN_SPEED_MPS = 3.5
MAX_WALK_SPEED_MPS = 2.5  # a brisk walk; faster is a run (validate warns)
MAX_SPEED_MPS = 12.0  # a sprinter's top speed: speed_mps stops here, and validate warns past it
DEFAULT_DURATION_S = {"turn": 0.6, "look-at": 0.4, "sit": 1.0, "stand": 1.0, "gesture": 1.5, "hold": 1.0}
SEAT_RANGE_M = (0.1, 1.5)  # a sit's height_m; a prop whose top lies outside it is no seat
PROP_CLEARANCE_M = 0.45  # a walk "to" a prop ends this far outside the prop's footprint, on the walker's side
# Which optional fields each action takes (at_s and easing: every action).
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "walk": ("to", "path", "speed_mps", "arrive_s"),
    "run": ("to", "path", "speed_mps", "arrive_s"),
    "turn": ("to", "heading_deg", "duration_s"),
    "look-at": ("to", "duration_s"),
    "sit": ("duration_s", "height_m"),
    "stand": ("duration_s",),
    "gesture": ("gesture", "to", "duration_s"),
    "hold": ("duration_s",),
}
OPTIONAL_FIELDS = ("to", "path", "speed_mps", "arrive_s", "heading_deg", "duration_s", "gesture", "height_m")

Metres = Annotated[float, Field(ge=-10000, le=10000)]
Point = tuple[Metres, Metres]
# A place: [x, z] in metres, or the name of a location mark or a prop (names are checked against the
# location's by spec/blocking_checks.py, which lists them: a better message than a pattern's).
Place = Point | str
# Something to face: a place, a cast member's id, or "camera" (where the camera starts).
Target = Point | str


class BlockingAction(Strict):
    """One timed action of one cast member."""

    action: Literal[ACTIONS] = Field(description="walk, run, turn, look-at, sit, stand, gesture or hold")  # type: ignore[valid-type]
    at_s: float = Field(ge=0, le=3600, description="when the action starts: seconds from the start of the shot")
    easing: str | list[float] = Field("ease-in-out", description="how the action speeds up and slows down: the "
                                                                 "camera's easing vocabulary (default ease-in-out)")
    to: Target | None = Field(None, description="walk/run: where to (a mark, [x, z], or a prop: the spot beside it "
                                                "on the walker's side); turn, look-at, "
                                                "gesture: what to face or point at (a mark, prop, [x, z], a cast "
                                                "member's id, or \"camera\")")
    path: list[Point] | None = Field(None, min_length=1, max_length=64,
                                     description="walk/run: [x, z] points passed on the way, in order (the last is "
                                                 "the destination unless 'to' is given)")
    speed_mps: float | None = Field(None, gt=0, le=MAX_SPEED_MPS, description="walk/run: metres per second (default: walk "
                                                                   "1.3, run 3.5)")
    arrive_s: float | None = Field(None, gt=0, le=3600, description="walk/run: instead of speed, when the character "
                                                                    "arrives (seconds from the start of the shot)")
    heading_deg: float | None = Field(None, ge=-360, le=360, description="turn: the heading to end on in degrees (0 "
                                                                         "faces the camera's side, 90 right, 180 away, "
                                                                         "-90 left)")
    duration_s: float | None = Field(None, gt=0, le=3600, description="how long the action takes (defaults: turn "
                                                                      "0.6, look-at 0.4, sit and stand 1.0, "
                                                                      "gesture 1.5, hold 1.0; a walk or run lasts its "
                                                                      "length over its speed, or until arrive_s)")
    gesture: Literal[GESTURES] | None = Field(None, description="gesture: wave, point or reach")  # type: ignore[valid-type]
    height_m: float | None = Field(None, gt=0.1, le=1.5, description="sit: seat height (default: the top of the "
                                                                     "prop the last walk went to when it is 0.1 to "
                                                                     "1.5 m high, else 0.45 m)")

    @field_validator("easing")
    @classmethod
    def _easing(cls, v: str | list[float]) -> str:
        return canonical_easing(v)

    @field_validator(*OPTIONAL_FIELDS)
    @classmethod
    def _taken_by_action(cls, v: Any, info: ValidationInfo) -> Any:
        action, name = info.data.get("action"), info.field_name
        if action is None or v is None:
            return v
        if name not in ACTION_FIELDS[action]:
            takers = sorted(a for a, names in ACTION_FIELDS.items() if name in names)
            raise ValueError(f"'{name}' does not apply to a {action}; it applies to: {', '.join(takers)}")
        if name == "arrive_s" and info.data.get("speed_mps") is not None:
            raise ValueError("give either 'speed_mps' or 'arrive_s', not both")
        return v

    @model_validator(mode="after")
    def _complete(self) -> BlockingAction:
        if self.action in ("walk", "run") and self.to is None and not self.path:
            raise ValueError(f"a {self.action} needs a destination: 'to' (a mark, prop or [x, z]) or a 'path'")
        if self.action in ("turn", "look-at") and self.to is None and self.heading_deg is None:
            what = "'to' (what to face) or 'heading_deg'" if self.action == "turn" else "'to' (what to look at)"
            raise ValueError(f"a {self.action} needs {what}")
        if self.action == "turn" and self.to is not None and self.heading_deg is not None:
            raise ValueError("give a turn either 'to' (what to face) or 'heading_deg', not both")
        if self.action == "gesture" and self.gesture is None:
            raise ValueError(f"a gesture needs 'gesture': one of {', '.join(GESTURES)}")
        if self.arrive_s is not None and self.arrive_s <= self.at_s:
            raise_at([(("arrive_s",), self.arrive_s, f"arrive_s ({self.arrive_s:g} s) must come after at_s "
                                                     f"({self.at_s:g} s)")], "BlockingAction")
        return self


class CharacterBlocking(Strict):
    """Where one cast member starts, which way they face, and their actions in time order."""

    mark: Place | None = Field(None, description="where the character stands at the start: [x, z], a location "
                                                 "mark or a prop (the spot beside it on the camera's side); "
                                                 "default: their place in the cast's line-up, left to right")
    facing: float | Point | str | None = Field(
        None, description="heading at the start in degrees (0 faces the camera's side, 90 right, 180 away), or what "
                          "to face: a mark, a prop, [x, z], a cast member or \"camera\" (toward where the camera "
                          "starts); default: 0, square to the camera's side as an unblocked cast stands")
    actions: list[BlockingAction] = Field(
        [], max_length=256, description="timed actions, in time order: one body action (walk, run, turn, sit, stand, "
                                        "hold) at a time; a look-at and a gesture may run beside one")

    @field_validator("facing")
    @classmethod
    def _heading_range(cls, v: float | Point | str | None) -> float | Point | str | None:
        if isinstance(v, float | int) and not -360 <= v <= 360:
            raise ValueError(f"a heading lies between -360 and 360 degrees, got {v:g}")
        return v


# Per shot (and scene, episode, production): cast member id → their blocking.
Blocking = dict[Id, CharacterBlocking]
