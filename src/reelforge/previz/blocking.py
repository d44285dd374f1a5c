"""Blocking in time: where each blocked cast member is, which way they face and how they hold
themselves at any instant of a shot.

A pose is a pure function of (job, seconds): previz draws frame i at i / fps, so any frame
range re-renders alone. Nothing is carried from frame to frame; what a later action starts
from (the heading a walk sets off on, whether the figure is seated) is worked out once per
shot from the actions before it.

Body actions (walk, run, turn, sit, stand, hold) follow one another; gestures and look-ats are
layered on top (a gesture's arm overrides the walk's arm swing, a look-at turns the head only).

* walk / run: a gait driven by the distance travelled along the path, not by time, so feet do
  not slide at any speed or easing. Steps are planned from the path's length: feet together at
  the start, then footfalls every `step` metres (the step length adjusted so that a whole number
  of steps ends with the feet together at the destination). A planted foot's position is stored,
  not integrated, so it stays exactly still (to the bit) until it lifts; the swing foot moves on
  a lifted arc. The legs are solved from the feet (previz/figure.py), the hips ride an inverted
  pendulum over the stance foot (the bob) and never higher than the legs reach. Arms swing
  opposite to the legs. A run has a longer step, a flight phase, higher lift, more arm swing and a
  forward lean. The body turns into the walking direction over HEADING_EASE_S at the start and
  at each corner of the path, and keeps the last direction after the walk.
* turn: to a heading, a point, or a cast member wherever they are when the turn ends; the
  shortest way, eased, stepping round (each foot lifts and turns in its half of the turn).
* look-at: the head (only) turns toward a point or a cast member, following them as they move,
  clamped to HEAD_LIMIT_RAD either side of the body's heading. It turns in over the action's
  duration and then holds on the target for the rest of the shot, or until the next look-at
  (turning the body toward the same target brings the head back to centre).
* sit / stand: the hips go down and back to the seat (thighs forward, shins down, feet where
  they stood) with a little forward lean on the way; previz draws a stool under the sit
  (`BlockingTimeline.seats`), part of the set from the moment the sit starts. A sit on a prop
  (the job's seat_edge: the prop's top is the seat) has no stool: the figure turns its back to
  the prop (the shortest way, in the first PROP_TURN_SPAN of the sit) and then sits back onto
  its edge, PROP_SEAT_INSET in; a seat too high for the feet to reach the ground leaves them
  hanging, knees bent. The 40 % cap on a stool's height does not apply there: the prop is as
  high as it is.
* gesture: wave (arm raised, forearm waving), point (arm straight at the target, the arm on
  the target's side), reach (arm forward and down); each blends in and out over GESTURE_BLEND_S.
* hold: nothing moves.

Headings are radians, 0 faces -z, +π/2 faces +x, and are not wrapped: a figure's heading is
continuous in time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from reelforge.previz.easing import ease
from reelforge.previz.solids import Proportions
from reelforge.spec.ground import SEAT_HEIGHT_M, Ground, Polyline

if TYPE_CHECKING:
    from reelforge.plan.blocking import ActionJob
    from reelforge.plan.cast import Figure
    from reelforge.plan.jobs import ShotJob


# Gait, in multiples of the figure's leg (hip to ankle) and of its step.
WALK_STEP = 0.75  # step (one foot's footfall to the other's) per leg length
RUN_STEP = 1.4
WALK_SWING = 0.8  # how far the hips travel while one foot swings, per step (< 1: double support)
RUN_SWING = 1.5  # (> 1: a flight phase, both feet off the ground)
WALK_LIFT = 0.05  # swing foot's highest lift, per height
RUN_LIFT = 0.12
TURN_LIFT = 0.03
WALK_PENDULUM = 0.94  # the hips swing over the stance foot on a circle of this radius, per leg
RUN_HIP_LOW, RUN_HIP_HIGH = 0.90, 0.94  # per leg: hips at mid-stance and in flight
WALK_ARM, RUN_ARM = 0.4, 0.8  # arm swing amplitude (radians at the shoulder)
WALK_ELBOW, RUN_ELBOW = 0.2, 1.4
WALK_LEAN, RUN_LEAN = 0.04, 0.18  # forward lean (radians)
ARM_OUT = 0.05  # arms held a little away from the body while walking (radians)

HEADING_EASE_S = 0.3  # turning into a walk, and at each corner (longer for a turn of more than 90°)
GESTURE_BLEND_S = 0.25
HEAD_LIMIT_RAD = math.radians(80.0)
SIT_BACK = 0.8  # a seated pelvis is this many thigh lengths behind the spot
SIT_LEAN = 0.25  # forward lean (radians) halfway down or up
MAX_SEAT = 0.4  # stools higher than this fraction of the height are lowered to it
PROP_SEAT_INSET = 0.12  # metres: a prop seat's hip joints this far in from its edge
PROP_TURN_SPAN = 0.6  # sitting on a prop: the turn away from it takes this first part of the sit…
PROP_SIT_FROM = 0.3  # … and the sit back onto it the part from here to the end
DANGLE_REACH = 0.95  # hanging feet: hip to ankle this fraction of the straight leg (knees a little bent)
WAVE_HZ = 2.0
POINT_TARGET_Y = 0.5  # metres: a point on the ground is pointed at this high; a cast member at their chest
STOOL_SIZE = (0.4, 0.36)  # width, depth (metres)
STOOL_COLOR = "#6f6257"

BODY_ACTIONS = ("walk", "run", "turn", "sit", "stand", "hold")


@dataclass(frozen=True)
class FootPose:
    """Where an ankle is (world metres) and which way its foot points (radians, as a heading)."""

    x: float
    y: float
    z: float
    yaw: float


@dataclass(frozen=True)
class ArmPose:
    """One arm's joint angles (radians; 0 everywhere: hanging at the side)."""

    flex: float = 0.0  # raised forward at the shoulder (π/2: pointing ahead)
    abduct: float = 0.0  # raised outward, away from the body
    twist: float = 0.0  # the upper arm turned about its own axis (outward negative)
    elbow: float = 0.0  # forearm bent forward from the upper arm


REST_ARM = ArmPose()


@dataclass(frozen=True)
class FigurePose:
    """One figure at one instant.

    (x, z): the spot the figure stands on (its mark; during a walk, the point under the hips);
    heading: radians, 0 faces -z, +π/2 faces +x, continuous (not wrapped). The rest has
    defaults meaning "standing at rest": hip_y None is the standing hip height, feet None the
    feet side by side under the hips.
    """

    x: float
    z: float
    heading: float
    hip_y: float | None = None  # hip joint height (metres): the walk's bob, sitting
    pelvis_back: float = 0.0  # hips behind the spot (metres): sitting
    lean: float = 0.0  # upper body leaning forward (radians)
    feet: tuple[FootPose, FootPose] | None = None  # right (-x facing the camera), left
    arms: tuple[ArmPose, ArmPose] = (REST_ARM, REST_ARM)  # right, left
    head_yaw: float = 0.0  # the head turned from the body's heading (radians, + toward +x facing -z)
    sit: float = 0.0  # 0 standing, 1 seated


@dataclass(frozen=True)
class Seat:
    """A stool previz draws for a sit: its centre, heading and height."""

    x: float
    z: float
    heading: float
    height: float
    start_s: float = 0.0  # drawn from when the sit starts


@dataclass(frozen=True)
class _State:
    """What a body action starts from."""

    heading: float
    sit: float = 0.0
    seat: float = SEAT_HEIGHT_M
    back: float | None = None  # seated on a prop: pelvis_back when fully seated (None: on a stool)


@dataclass(frozen=True)
class _Body:
    """The legs and trunk at one instant, before gestures and look-ats."""

    heading: float
    feet: tuple[FootPose, FootPose]
    hip_y: float
    pelvis_back: float = 0.0
    lean: float = 0.0
    swing: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.0, 0.0))  # (flex, elbow) per arm
    arm_out: float = 0.0
    sit: float = 0.0


def smooth(t: float) -> float:
    """Smoothstep on [0, 1], exactly 0 and 1 at the ends."""
    if t <= 0.0:
        return 0.0
    if t >= 1.0:
        return 1.0
    return t * t * (3.0 - 2.0 * t)


def wrap(angle: float) -> float:
    """An angle in [-π, π): the shortest way round."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


def heading_to(dx: float, dz: float) -> float:
    """The heading that faces along (dx, dz) on the ground plan."""
    return math.atan2(dx, -dz)


def stance_foot(p: Proportions, x: float, z: float, heading: float, side: float) -> FootPose:
    """A foot standing at rest beside the spot: under its hip, pointing along the heading."""
    return FootPose(x + side * p.leg_x * math.cos(heading), p.ankle_y, z + side * p.leg_x * math.sin(heading), heading)


def still(p: Proportions, spot: Ground, state: _State) -> _Body:
    """Standing (or seated) still on the spot."""
    x, z = spot
    hip, back, lean = _seated(p, state.sit, state.seat, state.back)
    if state.back is None or state.sit <= 0.0:
        feet = (stance_foot(p, x, z, state.heading, -1.0), stance_foot(p, x, z, state.heading, 1.0))
    else:
        feet = _prop_seat_feet(p, spot, state, back)
    return _Body(state.heading, feet, hip, back, lean, sit=state.sit)


def _seated(p: Proportions, amount: float, seat: float, back: float | None = None) -> tuple[float, float, float]:
    """hip_y, pelvis_back and lean at `amount` of the way into a seat of height `seat` (`back`: a prop seat's)."""
    if amount <= 0.0:
        return p.hip_y, 0.0, 0.0
    hip = p.hip_y + (seat + p.thigh_half_depth - p.hip_y) * amount
    full = SIT_BACK * 0.5 * p.leg if back is None else back
    return hip, full * amount, SIT_LEAN * math.sin(math.pi * amount)


def _prop_seat_feet(p: Proportions, spot: Ground, state: _State, back: float) -> tuple[FootPose, FootPose]:
    """Sitting onto a prop: the feet follow the hips back (ending as far ahead of them as on a stool)
    and, where the seat is too high for them to reach the ground, rise to hang below the knees."""
    plain = SIT_BACK * 0.5 * p.leg
    h, amount = state.heading, state.sit
    shift = back - plain * amount  # the feet's way back from the spot, toward the seat
    x, z = spot[0] - math.sin(h) * shift, spot[1] + math.cos(h) * shift
    reach = DANGLE_REACH * p.leg
    lift = max(0.0, state.seat + p.thigh_half_depth - p.ankle_y - math.sqrt(reach * reach - plain * plain))
    y = p.ankle_y + lift * amount
    return (replace(stance_foot(p, x, z, h, -1.0), y=y), replace(stance_foot(p, x, z, h, 1.0), y=y))


def _progress(action: ActionJob, seconds: float) -> float:
    if action.end_s <= action.start_s:
        return 1.0 if seconds >= action.start_s else 0.0
    return ease(action.easing, (seconds - action.start_s) / (action.end_s - action.start_s))


# ----------------------------------------------------------------------------- body actions


class _Hold:
    def __init__(self, action: ActionJob, state: _State, p: Proportions) -> None:
        self.start, self.state, self.p = action.start_s, state, p

    def state_at(self, seconds: float) -> _State:
        return self.state

    def body(self, seconds: float, spot: Ground) -> _Body:
        return still(self.p, spot, self.state)


class _Sit(_Hold):
    """sit (to 1) or stand (to 0): the hips go down and back to the seat, or up again.

    A sit on a prop turns away from it first (overlapping the sit back onto it)."""

    def __init__(self, action: ActionJob, state: _State, p: Proportions, spot: Ground) -> None:
        super().__init__(action, state, p)
        self.action = action
        self.to = 1.0 if action.action == "sit" else 0.0
        self.delta, self.back = 0.0, state.back
        self.sit_from, self.turn_span = 0.0, 1.0
        if action.action == "stand":
            self.seat = state.seat
        elif action.seat_edge is not None:
            dx, dz = spot[0] - action.seat_edge[0], spot[1] - action.seat_edge[1]
            if dx * dx + dz * dz > 1e-12:
                self.delta = wrap(heading_to(dx, dz) - state.heading)
            self.seat = action.seat_height_m or state.seat
            self.back = math.hypot(dx, dz) + PROP_SEAT_INSET
            self.sit_from, self.turn_span = PROP_SIT_FROM, PROP_TURN_SPAN
        else:
            self.seat = min(action.seat_height_m or state.seat, MAX_SEAT * p.height)
            self.back = None

    def _window(self, seconds: float, a: float, b: float) -> float:
        """Eased progress through the part [a, b] of the action's time."""
        if seconds >= self.action.end_s:
            return 1.0
        if a == 0.0 and b == 1.0:
            return _progress(self.action, seconds)
        span = self.action.end_s - self.action.start_s
        if span <= 0.0:
            return 1.0
        return ease(self.action.easing, ((seconds - self.action.start_s) / span - a) / (b - a))

    def amount(self, seconds: float) -> float:
        if seconds >= self.action.end_s:
            return self.to
        return self.state.sit + (self.to - self.state.sit) * self._window(seconds, self.sit_from, 1.0)

    def heading(self, seconds: float) -> float:
        if self.delta == 0.0:
            return self.state.heading
        return self.state.heading + self.delta * self._window(seconds, 0.0, self.turn_span)

    def state_at(self, seconds: float) -> _State:
        return _State(self.heading(seconds), self.amount(seconds), self.seat, self.back)

    def body(self, seconds: float, spot: Ground) -> _Body:
        return still(self.p, spot, self.state_at(seconds))


class _Turn(_Hold):
    """Turn on the spot the shortest way, stepping round: the lead foot turns in the first half."""

    def __init__(self, action: ActionJob, state: _State, p: Proportions, target: float) -> None:
        super().__init__(action, state, p)
        self.action = action
        self.delta = wrap(target - state.heading)
        self.final = state.heading + self.delta
        self.lead = 1.0 if self.delta > 0.0 else -1.0  # turning toward +x (facing -z) is turning left
        self.lift = TURN_LIFT * p.height * min(1.0, abs(self.delta) / (math.pi / 6.0))

    def heading(self, seconds: float) -> float:
        if seconds >= self.action.end_s:
            return self.final
        return self.state.heading + self.delta * _progress(self.action, seconds)

    def state_at(self, seconds: float) -> _State:
        return replace(self.state, heading=self.heading(seconds))

    def body(self, seconds: float, spot: Ground) -> _Body:
        if self.state.back is not None and self.state.sit > 0.0:  # seated on a prop: swivel there
            return still(self.p, spot, self.state_at(seconds))
        p, h0 = self.p, self.state.heading
        done = 1.0 if seconds >= self.action.end_s else _progress(self.action, seconds)
        feet = []
        for side in (-1.0, 1.0):
            q = done / 0.5 if side == self.lead else (done - 0.5) / 0.5
            if q <= 0.0:
                feet.append(stance_foot(p, spot[0], spot[1], h0, side))
            elif q >= 1.0:
                feet.append(stance_foot(p, spot[0], spot[1], self.final, side))
            else:
                foot = stance_foot(p, spot[0], spot[1], h0 + self.delta * smooth(q), side)
                feet.append(replace(foot, y=foot.y + self.lift * 4.0 * q * (1.0 - q)))
        hip, back, lean = _seated(p, self.state.sit, self.state.seat, self.state.back)
        return _Body(self.heading(seconds), (feet[0], feet[1]), hip, back, lean, sit=self.state.sit)


@dataclass(frozen=True)
class _Swing:
    """One foot's step: it lifts when the hips are `lift_at` metres along and lands at `land_at`."""

    lift_at: float
    land_at: float
    start: FootPose
    end: FootPose


class _Walk:
    """A walk or run along a path, its gait driven by the distance the hips have travelled."""

    def __init__(self, action: ActionJob, state: _State, p: Proportions, line: Polyline) -> None:
        self.start, self.action, self.state, self.p, self.line = action.start_s, action, state, p, line
        run = action.action == "run"
        self.lift = (RUN_LIFT if run else WALK_LIFT) * p.height
        self.arm, self.elbow = (RUN_ARM, RUN_ELBOW) if run else (WALK_ARM, WALK_ELBOW)
        self.lean_max = RUN_LEAN if run else WALK_LEAN
        self.run = run
        total = line.total
        h0 = state.heading
        # Headings of the path's segments, unwrapped from the heading the walk starts on.
        self.segment_heading: dict[int, float] = {}
        previous = h0
        for i, length in enumerate(line.lengths):
            if length > 0.0:
                a, b = line.points[i], line.points[i + 1]
                previous = previous + wrap(heading_to(b[0] - a[0], b[1] - a[1]) - previous)
                self.segment_heading[i] = previous
        self.final = previous
        # Heading transitions in time: into the first segment, then at each corner (not overlapping).
        self.turns: list[tuple[float, float, float, float]] = []
        t_prev_end, h_prev = action.start_s, h0
        for i, h in self.segment_heading.items():
            if h == h_prev:
                continue
            span = HEADING_EASE_S * max(1.0, abs(h - h_prev) / (math.pi / 2.0))
            centre = action.start_s + 0.5 * span if i == line.segment(0.0) else self.time_at(line.starts[i])
            t0 = max(centre - 0.5 * span, t_prev_end, action.start_s)
            t1 = max(min(t0 + span, action.end_s), t0)
            self.turns.append((t0, t1, h_prev, h))
            t_prev_end, h_prev = t1, h
        # Footfalls: feet together at 0, a whole number of equal steps, feet together at the end.
        n = max(1, round(total / ((RUN_STEP if run else WALK_STEP) * p.leg))) if total > 0.0 else 0
        self.step = step = total / n if n else 0.0
        x0, z0 = line.points[0]
        self.swings: dict[float, list[_Swing]] = {-1.0: [], 1.0: []}
        if n == 0:
            return
        first = line.segment(0.0)
        d0 = self.segment_heading[first]
        to_left = math.sin(d0) * math.cos(h0) - math.cos(d0) * math.sin(h0)  # walking direction · body +x
        lead = 1.0 if to_left > 0.2 else -1.0
        other = -lead
        planted = {side: stance_foot(p, x0, z0, h0, side) for side in (-1.0, 1.0)}
        width = (RUN_SWING if run else WALK_SWING) * step

        def plant(j: int, side: float) -> FootPose:
            distance = total if j >= n else j * step
            x, z = line.at(distance)
            return stance_foot(p, x, z, self.segment_heading[line.segment(distance)], side)

        def swing(side: float, lift_at: float, land_at: float, j: int) -> None:
            end = plant(j, side)
            self.swings[side].append(_Swing(lift_at, land_at, planted[side], end))
            planted[side] = end

        # A foot swings while the hips pass over the other (planted) foot: the swing that lands
        # at footfall j is centred on footfall j - 1. The first and last are half swings.
        swing(lead, 0.0, 0.5 * width, 1)
        for j in range(2, n + 1):
            centre = (j - 1) * step
            swing(lead if j % 2 else other, centre - 0.5 * width, min(centre + 0.5 * width, total), j)
        last = other if n % 2 else lead
        swing(last, max(total - 0.5 * width, 0.0), total, n)

    def time_at(self, distance: float) -> float:
        """When the hips are `distance` along the path (bisection on the easing; fixed steps)."""
        a = self.action
        lo, hi = 0.0, 1.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if self.line.total * ease(a.easing, mid) < distance:
                lo = mid
            else:
                hi = mid
        return a.start_s + 0.5 * (lo + hi) * (a.end_s - a.start_s)

    def distance(self, seconds: float) -> float:
        if seconds >= self.action.end_s:
            return self.line.total
        return self.line.total * _progress(self.action, seconds)

    def heading(self, seconds: float) -> float:
        h = self.state.heading
        for t0, t1, h_from, h_to in self.turns:
            if seconds >= t1:
                h = h_to
            elif seconds > t0:
                return h_from + (h_to - h_from) * smooth((seconds - t0) / (t1 - t0))
            else:
                break
        return h

    def state_at(self, seconds: float) -> _State:
        return _State(self.heading(seconds), 0.0, self.state.seat)

    def foot(self, side: float, u: float) -> FootPose:
        swings = self.swings[side]
        if not swings:
            x, z = self.line.points[0]
            return stance_foot(self.p, x, z, self.state.heading, side)
        for s in swings:
            if u <= s.lift_at:
                return s.start
            if u < s.land_at:
                q = (u - s.lift_at) / (s.land_at - s.lift_at)
                f = smooth(q)
                a, b = s.start, s.end
                return FootPose(a.x + (b.x - a.x) * f, a.y + self.lift * 4.0 * q * (1.0 - q), a.z + (b.z - a.z) * f,
                                a.yaw + (b.yaw - a.yaw) * f)
        return swings[-1].end

    def body(self, seconds: float, spot: Ground) -> _Body:
        p, step, total = self.p, self.step, self.line.total
        u = self.distance(seconds)
        heading = self.heading(seconds)
        feet = (self.foot(-1.0, u), self.foot(1.0, u))
        if step <= 0.0:
            return _Body(heading, feet, p.hip_y)
        ramp = smooth(min(u, total - u) / (0.5 * step))
        e = abs(u - step * round(u / step))  # hips' distance past the nearest footfall
        if self.run:
            gait = (RUN_HIP_LOW + (RUN_HIP_HIGH - RUN_HIP_LOW) * (2.0 * e / step) ** 2) * p.leg
        else:
            gait = math.sqrt(max((WALK_PENDULUM * p.leg) ** 2 - e * e, 0.0))
        hip = p.hip_y + ramp * (p.ankle_y + gait - p.hip_y)
        fx, fz = math.sin(heading), -math.cos(heading)
        swing = []
        for index in (1, 0):  # each arm swings with the opposite leg
            ahead = (feet[index].x - spot[0]) * fx + (feet[index].z - spot[1]) * fz
            flex = self.arm * max(-1.0, min(1.0, ahead / (0.6 * step)))
            swing.append((flex, self.elbow * ramp + 0.5 * max(flex, 0.0)))
        return _Body(heading, feet, hip, 0.0, self.lean_max * ramp, (swing[0], swing[1]), ARM_OUT * ramp)


# ----------------------------------------------------------------------------- the timeline


class _Track:
    """One blocked figure's actions, prepared once per shot."""

    def __init__(self, figure: Figure) -> None:
        assert figure.blocking is not None
        self.figure = figure
        self.p = Proportions.of(figure)
        self.actions = figure.blocking.actions
        self.lines = {i: Polyline(a.path) for i, a in enumerate(self.actions)
                      if a.action in ("walk", "run") and len(a.path) >= 1}
        self.initial = _State(math.radians(figure.blocking.heading_deg))
        self.body_actions: list[_Hold] = []
        self.seats: list[Seat] = []

    def spot(self, seconds: float) -> Ground:
        """Where the figure stands: its mark, then along each walk (the hips' ground point)."""
        x, z = self.figure.x_m, self.figure.z_m
        for i, line in self.lines.items():
            action = self.actions[i]
            if action.start_s > seconds:
                break
            if seconds >= action.end_s:
                x, z = line.points[-1]
            else:
                x, z = line.at(line.total * _progress(action, seconds))
        return (x, z)

    def prepare(self, timeline: BlockingTimeline) -> None:
        """Each body action's evaluator, from the state the one before leaves (needs every spot)."""
        state = self.initial
        for i, action in enumerate(self.actions):
            if action.action not in BODY_ACTIONS:
                continue
            if self.body_actions:
                state = self.body_actions[-1].state_at(action.start_s)
            kind = action.action
            if kind in ("walk", "run") and i in self.lines:
                self.body_actions.append(_Walk(action, state, self.p, self.lines[i]))
            elif kind == "turn":
                target = timeline.target_heading(self.figure.character_id, action, action.end_s, state.heading)
                self.body_actions.append(_Turn(action, state, self.p, target))
            elif kind in ("sit", "stand"):
                x, z = self.spot(action.start_s)
                sit = _Sit(action, state, self.p, (x, z))
                self.body_actions.append(sit)
                if kind == "sit" and action.seat_edge is None:  # on a prop: the prop is the seat
                    h = state.heading
                    back = SIT_BACK * 0.5 * self.p.leg - 0.05
                    self.seats.append(Seat(x - math.sin(h) * back, z + math.cos(h) * back, h, sit.seat,
                                           action.start_s))
            else:
                self.body_actions.append(_Hold(action, state, self.p))

    def body(self, seconds: float, spot: Ground) -> _Body:
        current = None
        for evaluator in self.body_actions:
            if evaluator.start > seconds:
                break
            current = evaluator
        if current is None:
            return still(self.p, spot, self.initial)
        return current.body(seconds, spot)


class BlockingTimeline:
    """Every cast member's pose at any time of one shot."""

    def __init__(self, job: ShotJob) -> None:
        self.figures: dict[str, Figure] = {f.character_id: f for f in job.figures}
        self.tracks = {f.character_id: _Track(f) for f in job.figures if f.blocking is not None}
        for track in self.tracks.values():
            track.prepare(self)

    def ground_position(self, character_id: str, seconds: float) -> Ground:
        """Where a cast member stands at a time (their mark if they are not blocked)."""
        track = self.tracks.get(character_id)
        if track is None:
            figure = self.figures[character_id]
            return (figure.x_m, figure.z_m)
        return track.spot(seconds)

    def seats(self, character_id: str) -> list[Seat]:
        """The stools a cast member sits on in this shot (each drawn from its sit's start on)."""
        track = self.tracks.get(character_id)
        return list(track.seats) if track is not None else []

    def target_point(self, action: ActionJob, seconds: float) -> tuple[float, float, float] | None:
        """What an action faces, looks or points at, at a time: (x, y, z), y a height to point at."""
        if action.face_character is not None and action.face_character in self.figures:
            x, z = self.ground_position(action.face_character, seconds)
            return (x, 0.75 * self.figures[action.face_character].height_m, z)
        if action.face_point is not None:
            return (float(action.face_point[0]), POINT_TARGET_Y, float(action.face_point[1]))
        return None

    def target_heading(self, character_id: str, action: ActionJob, seconds: float, otherwise: float) -> float:
        """The heading from a cast member's spot toward what an action names (`otherwise` if nothing)."""
        if action.heading_deg is not None:
            return math.radians(action.heading_deg)
        target = self.target_point(action, seconds)
        if target is None:
            return otherwise
        x, z = self.ground_position(character_id, seconds)
        dx, dz = target[0] - x, target[2] - z
        if dx * dx + dz * dz < 1e-12:
            return otherwise
        return heading_to(dx, dz)

    def pose(self, character_id: str, seconds: float) -> FigurePose:
        track = self.tracks.get(character_id)
        if track is None:
            x, z = self.ground_position(character_id, seconds)
            return FigurePose(x, z, 0.0)
        p = track.p
        spot = track.spot(seconds)
        body = track.body(seconds, spot)
        heading = body.heading
        c, s = math.cos(heading), math.sin(heading)
        # The hips never go higher than both legs reach (so a planted foot never has to move).
        px, pz = spot[0] - s * body.pelvis_back, spot[1] + c * body.pelvis_back
        hip_y = body.hip_y
        for index, side in enumerate((-1.0, 1.0)):
            foot = body.feet[index]
            dx = foot.x - (px + side * p.leg_x * c)
            dz = foot.z - (pz + side * p.leg_x * s)
            reach = p.leg * p.leg - dx * dx - dz * dz
            hip_y = min(hip_y, foot.y + math.sqrt(max(reach, 0.0)))
        arms = [ArmPose(flex, body.arm_out, 0.0, elbow) for flex, elbow in body.swing]
        for action in track.actions:
            if action.start_s > seconds:
                break
            if action.action == "gesture" and seconds <= action.end_s:
                self._gesture(character_id, action, seconds, spot, heading, p, arms)
        return FigurePose(spot[0], spot[1], heading, hip_y, body.pelvis_back, body.lean, body.feet,
                          (arms[0], arms[1]), self._head(character_id, track, seconds, spot, heading), body.sit)

    def _gesture(self, character_id: str, action: ActionJob, seconds: float, spot: Ground, heading: float,
                 p: Proportions, arms: list[ArmPose]) -> None:
        ramp = min(GESTURE_BLEND_S, 0.5 * (action.end_s - action.start_s))
        weight = 1.0 if ramp <= 0.0 else (smooth((seconds - action.start_s) / ramp)
                                          * smooth((action.end_s - seconds) / ramp))
        side = -1.0  # the right arm, unless pointing or reaching at something on the left
        c, s = math.cos(heading), math.sin(heading)
        target = self.target_point(action, seconds)
        local = None
        if target is not None:
            sx = spot[0] + side * p.arm_x * c
            dx, dy, dz = target[0] - spot[0], target[1] - p.shoulder_y, target[2] - spot[1]
            lx, lz = c * dx + s * dz, -s * dx + c * dz  # in the body's frame: +x its left, -z ahead
            if action.gesture in ("point", "reach") and lx > 0.0:
                side = 1.0
            sx = spot[0] + side * p.arm_x * c
            dx, dz = target[0] - sx, target[2] - (spot[1] + side * p.arm_x * s)
            lx, lz = c * dx + s * dz, -s * dx + c * dz
            local = (lx, dy, lz)
        if action.gesture == "wave":
            wave = math.sin(2.0 * math.pi * WAVE_HZ * (seconds - action.start_s))
            aim = ArmPose(0.35, 1.35, -0.5 * math.pi, 0.5 * math.pi + 0.45 * wave)
        elif action.gesture == "point":
            aim = _aim_arm(local, side)
        else:  # reach
            aim = ArmPose(1.0, 0.1, 0.0, 0.35)
        index = 0 if side < 0 else 1
        base = arms[index]
        arms[index] = ArmPose(*(b + (a - b) * weight for a, b in ((aim.flex, base.flex), (aim.abduct, base.abduct),
                                                                   (aim.twist, base.twist),
                                                                   (aim.elbow, base.elbow))))

    def _head(self, character_id: str, track: _Track, seconds: float, spot: Ground, heading: float) -> float:
        yaw = 0.0
        for action in track.actions:
            if action.start_s > seconds:
                break
            if action.action != "look-at":
                continue
            target = self.target_heading(character_id, action, seconds, heading)
            look = max(-HEAD_LIMIT_RAD, min(HEAD_LIMIT_RAD, wrap(target - heading)))
            yaw = yaw + (look - yaw) * (1.0 if seconds >= action.end_s else _progress(action, seconds))
        return yaw


def _aim_arm(local: tuple[float, float, float] | None, side: float) -> ArmPose:
    """A straight arm along a direction in the body's frame (+x its left, +y up, -z ahead)."""
    if local is None:
        return ArmPose(0.5 * math.pi - 0.15, 0.0, 0.0, 0.0)
    lx, ly, lz = local
    n = math.sqrt(lx * lx + ly * ly + lz * lz)
    if n < 1e-9:
        return ArmPose(0.5 * math.pi - 0.15, 0.0, 0.0, 0.0)
    lx, ly, lz = lx / n, ly / n, lz / n
    if lz > -0.15:  # an arm cannot point behind: aim at the edge of what it can reach
        lz = -0.15
        k = math.sqrt(max(1.0 - lz * lz, 0.0) / max(lx * lx + ly * ly, 1e-12))
        lx, ly = lx * k, ly * k
    flex = math.asin(max(-1.0, min(1.0, -lz)))
    theta = math.atan2(lx, -ly) if lx * lx + ly * ly > 1e-12 else 0.0
    return ArmPose(flex, theta * side, 0.0, 0.0)
