"""Camera moves for previz: one camera pose per frame (easing curves: previz/easing.py).

World coordinates are metres: x to the right, y up, z forward (away from the side
the camera starts on). A shot's camera starts distance_m behind the subject (the
cast centre) on -z, at height_m, looking at it. Then it plays its moves in order:
the shot's own move from 0 s, and each keyframe's move from its `at_s`. A move
runs over its span (to the next keyframe, or to the shot's last frame), starts
from wherever the previous one left the camera and finishes exactly at the end of
its span, so position, height, orbit angle and focal length never jump.

The camera never rolls: a pose is a position and a look-at target, and the
rasterizer levels the horizon from them. Moves change the two:

* lock-off, handheld: hold.
* push-in / pull-back / drone-aerial: move horizontally toward / away from the
  target, which stays put (drone-aerial also climbs, so it looks down more and more);
  never closer than MIN_DISTANCE_M, horizontally.
* dolly: camera and target move together (the viewing direction is constant), so
  the set slides past with real parallax.
* orbit: the camera circles the target at a constant horizontal radius and height,
  looking at it.
* zoom_to_mm (any move): the focal length eases to that value over the move.

A camera may also work with the blocking (previz/blocking.py), after its moves:

* follow: the whole rig (camera and aim) is carried by the followed character's ground
  displacement since the shot's start (x and z only: the gait's bob and a sit move
  nothing), so a walking character stays where the framing put them. The moves play in
  the follower's frame: an orbit circles the followed character (its `around_m`, if
  given, is a point that travels with them) and stays centred on them as they walk.
* look_at: the aim is that character's chest at every frame, wherever they walk; the
  moves (and follow) still place the camera. The lens focuses on the character looked
  at (else the one followed; CameraPose.focus), so depth of field pulls focus with them.

The handheld shake (a layer on any move, after follow and look_at) is a sum of
sinusoids at seeded frequencies below the cutoff with seeded phases: band-limited,
bounded by its amplitude, and a pure function of time. Every pose is a pure function of
(job, frame index): frame i is the same whether rendered alone or in a full pass.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reelforge.plan.seeds import handheld_draws
from reelforge.previz.blocking import BlockingTimeline
from reelforge.previz.easing import ease
from reelforge.previz.solids import Proportions

if TYPE_CHECKING:
    from reelforge.plan.camera import CameraPath, HandheldJob, MoveJob
    from reelforge.plan.jobs import ShotJob

# Closest the camera may get to its target, horizontally, moving toward it.
MIN_DISTANCE_M = 0.5
# Subject height as a fraction of the cast's mean height (about chest height:
# ~1.1 m for an adult), and the height used when the shot has no cast.
SUBJECT_HEIGHT_FRACTION = 0.62
EMPTY_SUBJECT_HEIGHT_M = 1.1

# Handheld shake: each of the five channels (x, y, z offsets; pan, tilt) is a sum of
# HANDHELD_PARTIALS sinusoids with frequencies in [HANDHELD_LOWEST, 1] × the cutoff,
# weighted 1/f (slow sway dominates, as with a real operator). A shake that starts at
# a keyframe fades in over HANDHELD_FADE_S so the camera does not jump.
HANDHELD_CHANNELS = ("x", "y", "z", "pan", "tilt")
HANDHELD_PARTIALS = 6
HANDHELD_LOWEST = 0.2
HANDHELD_FADE_S = 0.5
MAX_TILT_RAD = math.radians(89.0)

# ----------------------------------------------------------------------------- poses


@dataclass(frozen=True)
class CameraPose:
    """Where the camera is, what it looks at, and its lens, for one frame.

    `focus` is the point the lens focuses on when the camera follows or looks at a cast
    member (their chest, this frame); None: the shot's subject (`subject`), as always.
    """

    position: tuple[float, float, float]
    target: tuple[float, float, float]
    focal_length_mm: float
    focus: tuple[float, float, float] | None = None


def subject(job: ShotJob) -> tuple[float, float, float]:
    """The point the camera starts looking at: the cast centre at about chest height."""
    if not job.figures:
        return (0.0, EMPTY_SUBJECT_HEIGHT_M, 0.0)
    n = len(job.figures)
    x = sum(f.x_m for f in job.figures) / n
    z = sum(f.z_m for f in job.figures) / n
    height = sum(f.height_m for f in job.figures) / n
    return (x, SUBJECT_HEIGHT_FRACTION * height, z)


def _move_toward(pose: CameraPose, amount: float, rise: float = 0.0) -> CameraPose:
    """Move horizontally toward the target by `amount` (away if negative), never closer than
    MIN_DISTANCE_M (a camera that starts closer holds its distance), and climb by `rise`."""
    (px, py, pz), (tx, _, tz) = pose.position, pose.target
    ox, oz = px - tx, pz - tz
    distance = math.hypot(ox, oz)
    new = max(distance - amount, min(distance, MIN_DISTANCE_M))
    scale = new / distance if distance > 0.0 else 1.0
    return CameraPose((tx + ox * scale, py + rise, tz + oz * scale), pose.target, pose.focal_length_mm)


def _heading(pose: CameraPose) -> tuple[float, float]:
    """Unit horizontal viewing direction (x, z); +z when the camera looks straight down."""
    dx, dz = pose.target[0] - pose.position[0], pose.target[2] - pose.position[2]
    length = math.hypot(dx, dz)
    return (dx / length, dz / length) if length > 0.0 else (0.0, 1.0)


def _dolly(pose: CameraPose, direction: str, amount: float) -> CameraPose:
    """Translate camera and target together along the camera's own left/right/forward/backward."""
    fx, fz = _heading(pose)
    rx, rz = fz, -fx  # the camera's right: up × forward, horizontal
    dx, dz = {"forward": (fx, fz), "backward": (-fx, -fz), "right": (rx, rz), "left": (-rx, -rz)}[direction]
    (px, py, pz), (tx, ty, tz) = pose.position, pose.target
    return CameraPose((px + dx * amount, py, pz + dz * amount), (tx + dx * amount, ty, tz + dz * amount),
                      pose.focal_length_mm)


def _orbit(pose: CameraPose, direction: str, degrees: float,
           around: tuple[float, float] | None = None) -> CameraPose:
    """Circle a pivot at constant horizontal radius and height; 'right' sets off to the camera's right.

    The pivot is the point the camera looks at unless `around` (x, z) names another; the whole
    rig turns about it, so the aim turns with the camera and nothing jumps when the move starts.
    """
    angle = math.radians(degrees) * (1.0 if direction == "right" else -1.0)
    (px, py, pz), (tx, ty, tz) = pose.position, pose.target
    cx, cz = around if around is not None else (tx, tz)
    cos_a, sin_a = math.cos(angle), math.sin(angle)

    def turn(x: float, z: float) -> tuple[float, float]:
        # Rotating the offset (ox, oz) from the pivot toward the camera's right, (-oz, ox)/|o|, keeps its length.
        ox, oz = x - cx, z - cz
        return cx + ox * cos_a - oz * sin_a, cz + oz * cos_a + ox * sin_a

    (nx, nz), (ax, az) = turn(px, pz), turn(tx, tz)
    return CameraPose((nx, py, nz), (ax, ty, az), pose.focal_length_mm)


@dataclass(frozen=True)
class _Span:
    """One move of the shot with its time span, the pose it starts from and its resolved amounts."""

    move: MoveJob
    start_s: float
    end_s: float
    start: CameraPose
    amount: float  # metres (travel) or degrees (orbit) over the whole span
    pivot: tuple[float, float] | None = None  # an orbit's default pivot (x, z); None: the point looked at

    def progress(self, seconds: float) -> float:
        """Eased progress of the move at `seconds` into the shot (0 before, 1 after the span)."""
        if self.end_s <= self.start_s:
            return 0.0
        return ease(self.move.easing, (seconds - self.start_s) / (self.end_s - self.start_s))

    def pose(self, progress: float) -> CameraPose:
        """The camera `progress` of the way through this move (progress already eased)."""
        move, pose = self.move, self.start
        if move.zoom_to_mm is not None:
            focal = pose.focal_length_mm + (move.zoom_to_mm - pose.focal_length_mm) * progress
            pose = CameraPose(pose.position, pose.target, focal)
        if move.move in ("lock-off", "handheld"):
            return pose
        if move.move == "push-in":
            return _move_toward(pose, self.amount * progress)
        if move.move == "pull-back":
            return _move_toward(pose, -self.amount * progress)
        if move.move == "drone-aerial":
            return _move_toward(pose, self.amount * progress, (move.rise_m or 0.0) * progress)
        if move.move == "dolly":
            return _dolly(pose, move.direction or "right", self.amount * progress)
        if move.move == "orbit":
            return _orbit(pose, move.direction or "right", self.amount * progress,
                          move.around_m if move.around_m is not None else self.pivot)
        raise ValueError(f"previz does not know the camera move '{move.move}'; known: "
                         "dolly, drone-aerial, handheld, lock-off, orbit, pull-back, push-in")


def _amount(move: MoveJob, span_s: float) -> float:
    """The move's travel (metres) or sweep (degrees) over its span: given, or speed × span."""
    if move.move == "orbit":
        return move.angle_deg if move.angle_deg is not None else (move.speed_deg_s or 0.0) * span_s
    return move.travel_m if move.travel_m is not None else (move.speed_mps or 0.0) * span_s


def last_frame_s(job: ShotJob) -> float:
    """Time of the shot's last frame: moves finish on it."""
    return (max(int(job.frames), 1) - 1) / job.fps


def _spans(job: ShotJob, pivot: tuple[float, float] | None = None) -> list[_Span]:
    """The shot's moves in order, each starting from where the previous one finished.

    `pivot`: where an orbit without `around_m` turns (the followed character); None: its target.
    """
    camera: CameraPath = job.camera
    end_s = last_frame_s(job)
    starts = [0.0] + [k.at_s for k in camera.keyframes]
    for before, after in itertools.pairwise(starts):
        if not before < after < end_s:
            raise ValueError(f"camera keyframe at {after} s must come after {before} s and before the "
                             f"shot's last frame at {end_s:.3f} s")
    tx, ty, tz = subject(job)
    pose = CameraPose((tx, float(camera.height_m), tz - float(camera.distance_m)), (tx, ty, tz),
                      float(camera.focal_length_mm))
    spans = []
    for move, start_s, stop_s in zip([camera, *camera.keyframes], starts, starts[1:] + [end_s]):
        span = _Span(move, start_s, stop_s, pose, _amount(move, stop_s - start_s), pivot)
        spans.append(span)
        pose = span.pose(1.0)
    return spans


# ----------------------------------------------------------------------------- handheld shake


@dataclass(frozen=True)
class Shake:
    """A handheld shake: per channel, (amplitude, frequency Hz, phase rad) of each partial."""

    partials: dict[str, tuple[tuple[float, float, float], ...]]
    from_s: float

    @classmethod
    def seeded(cls, handheld: HandheldJob, seed_of_shot: int) -> Shake:
        """Frequencies and phases from the shot's documented handheld draws (plan/seeds.py).

        Draws are used in order: for each channel in HANDHELD_CHANNELS, for each partial,
        one for the frequency then one for the phase.
        """
        u = handheld_draws(seed_of_shot, 2 * HANDHELD_PARTIALS * len(HANDHELD_CHANNELS))
        partials = {}
        for c, channel in enumerate(HANDHELD_CHANNELS):
            bound = handheld.amplitude_m if channel in ("x", "y", "z") else math.radians(handheld.rotation_deg)
            pairs = [(u[2 * (c * HANDHELD_PARTIALS + k)], u[2 * (c * HANDHELD_PARTIALS + k) + 1])
                     for k in range(HANDHELD_PARTIALS)]
            freqs = [handheld.frequency_hz * (HANDHELD_LOWEST + (1.0 - HANDHELD_LOWEST) * uf) for uf, _ in pairs]
            weights = [1.0 / f for f in freqs]
            total = sum(weights)
            # Amplitudes sum to the bound, so the channel never exceeds it.
            partials[channel] = tuple((bound * w / total, f, 2.0 * math.pi * up)
                                      for w, f, (_, up) in zip(weights, freqs, pairs))
        return cls(partials, handheld.from_s)

    def envelope(self, seconds: float) -> float:
        """0 before the shake starts, a smoothstep fade-in, then 1 (1 throughout when it starts at 0)."""
        if self.from_s <= 0.0:
            return 1.0
        x = (seconds - self.from_s) / HANDHELD_FADE_S
        return 0.0 if x <= 0.0 else 1.0 if x >= 1.0 else x * x * (3.0 - 2.0 * x)

    def channel(self, name: str, seconds: float) -> float:
        return sum(a * math.sin(2.0 * math.pi * f * seconds + phase) for a, f, phase in self.partials[name])

    def apply(self, pose: CameraPose, seconds: float) -> CameraPose:
        """Offset the camera (and its aim, so the offset is a translation) and pan/tilt the aim. No roll."""
        gain = self.envelope(seconds)
        if gain == 0.0:
            return pose
        ox, oy, oz = (gain * self.channel(c, seconds) for c in ("x", "y", "z"))
        pan, tilt = (gain * self.channel(c, seconds) for c in ("pan", "tilt"))
        px, py, pz = pose.position[0] + ox, pose.position[1] + oy, pose.position[2] + oz
        dx, dy, dz = (pose.target[i] - pose.position[i] for i in range(3))
        reach = math.sqrt(dx * dx + dy * dy + dz * dz)
        yaw = math.atan2(dx, dz) + pan
        pitch = min(max(math.atan2(dy, math.hypot(dx, dz)) + tilt, -MAX_TILT_RAD), MAX_TILT_RAD)
        target = (px + reach * math.cos(pitch) * math.sin(yaw), py + reach * math.sin(pitch),
                  pz + reach * math.cos(pitch) * math.cos(yaw))
        return CameraPose((px, py, pz), target, pose.focal_length_mm, pose.focus)


# ----------------------------------------------------------------------------- the path


class _Subjects:
    """The cast members a camera follows and looks at, read from the blocking at any time."""

    def __init__(self, job: ShotJob) -> None:
        camera = job.camera
        self.follow, self.look_at = camera.follow, camera.look_at
        self.timeline = BlockingTimeline(job)
        heights = {f.character_id: f.height_m for f in job.figures}
        for role, who in (("follow", self.follow), ("look_at", self.look_at)):
            if who is not None and who not in heights:
                raise ValueError(f"the camera's {role} names '{who}', who is not cast in shot {job.shot_path}")
        self.heights = heights
        self.origin = self.ground(self.follow, 0.0) if self.follow is not None else (0.0, 0.0)

    def ground(self, who: str, seconds: float) -> tuple[float, float]:
        pose = self.timeline.pose(who, seconds)
        return pose.x, pose.z

    def chest(self, who: str, seconds: float) -> tuple[float, float, float]:
        """Where the camera aims at a character: chest height (as `subject`) over their feet, lowered by as much
        as their hips are while they sit (not by a walk's bob, which would nod the camera with every step)."""
        pose = self.timeline.pose(who, seconds)
        height = SUBJECT_HEIGHT_FRACTION * self.heights[who]
        if pose.sit > 0.0 and pose.hip_y is not None:
            height -= Proportions.of(self.timeline.figures[who]).hip_y - pose.hip_y
        return (pose.x, height, pose.z)

    def apply(self, pose: CameraPose, seconds: float) -> CameraPose:
        """Carry the rig with the followed character, then aim at the one looked at."""
        position, target = pose.position, pose.target
        if self.follow is not None:
            x, z = self.ground(self.follow, seconds)
            dx, dz = x - self.origin[0], z - self.origin[1]
            position = (position[0] + dx, position[1], position[2] + dz)
            target = (target[0] + dx, target[1], target[2] + dz)
        if self.look_at is not None:
            target = self.chest(self.look_at, seconds)
        focus = self.chest(self.look_at or self.follow, seconds)
        return CameraPose(position, target, pose.focal_length_mm, focus)


class _Path:
    """A shot's moves, blocking subjects and shake, prepared once; pose(t) is a pure function of time."""

    def __init__(self, job: ShotJob) -> None:
        camera = job.camera
        tracking = camera.follow is not None or camera.look_at is not None
        self.subjects = _Subjects(job) if tracking else None
        self.spans = _spans(job, self.subjects.origin if camera.follow is not None else None)
        handheld = camera.handheld
        self.shake = Shake.seeded(handheld, job.seed) if handheld is not None else None

    def pose(self, seconds: float) -> CameraPose:
        span = next(s for s in reversed(self.spans) if s.start_s <= seconds or s is self.spans[0])
        pose = span.pose(span.progress(seconds))
        if self.subjects is not None:
            pose = self.subjects.apply(pose, seconds)
        return self.shake.apply(pose, seconds) if self.shake is not None else pose


def pose_at(job: ShotJob, seconds: float) -> CameraPose:
    """The camera at any time into the shot (frame i is at i / fps)."""
    return _Path(job).pose(seconds)


def camera_pose(job: ShotJob, index: int) -> CameraPose:
    """The camera for one frame: the same bits as camera_path(job)[index]."""
    return _Path(job).pose(index / job.fps)


def camera_path(job: ShotJob) -> list[CameraPose]:
    """One pose per frame of the shot."""
    path = _Path(job)
    return [path.pose(index / job.fps) for index in range(max(int(job.frames), 1))]
