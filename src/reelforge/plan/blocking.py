"""A shot's blocking, resolved: every mark turned into metres, every action into a time span.

What the spec names (a location mark, a prop, "camera", an arrival time or a speed) is settled
here, once, so previz (previz/blocking.py) plays numbers only and the job key covers exactly
what moves a figure. Per character, the nearest level that names them wins: shot, then scene,
then episode, then production.

Walks are resolved in order, each from where the character stands when it starts (the end of
the walk before it), so a destination given as a prop is the spot beside the prop on the
walker's side. Facing a cast member is kept by id: that character may move, and previz turns
toward wherever they are when the turn ends (a look-at follows them throughout).
"""

from __future__ import annotations

from reelforge.plan.base import Frozen

Ground = tuple[float, float]  # (x, z) metres on the ground plan

# Defaults the spec documents (spec/blocking.py).
WALK_SPEED_MPS = 1.3
RUN_SPEED_MPS = 3.5
DEFAULT_DURATION_S = {"turn": 0.6, "look-at": 0.4, "sit": 1.0, "stand": 1.0, "gesture": 1.5, "hold": 1.0}
SEAT_HEIGHT_M = 0.45
PROP_CLEARANCE_M = 0.45  # a walk "to" a prop ends this far outside the prop's footprint, on the walker's side


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


class FigureBlocking(Frozen):
    """A cast member's blocking in one shot: the heading they start on and their actions in time order.

    The start position is the figure's own x_m, z_m (the mark, or the cast line-up).
    """

    heading_deg: float = 0.0
    actions: tuple[ActionJob, ...] = ()
