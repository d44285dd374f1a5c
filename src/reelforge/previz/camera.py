"""Camera moves for previz: easing curves and one camera pose per frame.

World coordinates are metres: x to the right, y up, z forward (away from the side
the camera starts on). The camera always looks at the subject, the centre of the
cast, and never rolls or yaws away from the +z axis, so a move is fully described
by its horizontal distance to the subject over time.

The path is a pure function of the job: frame i of a shot gets the same pose no
matter which other frames are rendered, which is what lets a backend render any
frame range on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, overload

import numpy as np

if TYPE_CHECKING:
    from reelforge.plan.jobs import ShotJob

# Easing curves as CSS cubic-bezier control points (x1, y1, x2, y2), the same
# numbers as CSS `ease-in` etc., so that a spec can later name its own curve.
# None means the identity (linear) curve, which needs no solving.
EASINGS: dict[str, tuple[float, float, float, float] | None] = {
    "linear": None,
    "ease-in": (0.42, 0.0, 1.0, 1.0),
    "ease-out": (0.0, 0.0, 0.58, 1.0),
    "ease-in-out": (0.42, 0.0, 0.58, 1.0),
}

# Closest the camera may get to the subject, horizontally, on a push-in.
MIN_DISTANCE_M = 0.5
# Subject height as a fraction of the cast's mean height (about chest height:
# ~1.1 m for an adult), and the height used when the shot has no cast.
SUBJECT_HEIGHT_FRACTION = 0.62
EMPTY_SUBJECT_HEIGHT_M = 1.1

_BISECTION_STEPS = 48  # fixed count: same work, same bits, for every input


def cubic_bezier(x1: float, y1: float, x2: float, y2: float, t: np.ndarray) -> np.ndarray:
    """CSS cubic-bezier(x1, y1, x2, y2) evaluated at progress t in [0, 1].

    Solves x(s) = t for the curve parameter s by bisection with a fixed number of
    steps (x(s) is monotonic when 0 <= x1, x2 <= 1, as CSS requires), then
    returns y(s). Fixed steps rather than a tolerance keep the result bit-stable.
    """
    if not (0.0 <= x1 <= 1.0 and 0.0 <= x2 <= 1.0):
        raise ValueError(f"cubic-bezier x control points must lie in [0, 1], got {x1}, {x2}")

    def bezier(p1: float, p2: float, s: np.ndarray) -> np.ndarray:
        u = 1.0 - s
        return 3.0 * u * u * s * p1 + 3.0 * u * s * s * p2 + s * s * s

    lo = np.zeros_like(t)
    hi = np.ones_like(t)
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        below = bezier(x1, x2, mid) < t
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    y = bezier(y1, y2, 0.5 * (lo + hi))
    # Pin the endpoints exactly: a move must start and end where the spec says.
    return np.where(t <= 0.0, 0.0, np.where(t >= 1.0, 1.0, y))


@overload
def ease(name: str, t: float) -> float: ...
@overload
def ease(name: str, t: np.ndarray) -> np.ndarray: ...
def ease(name: str, t: np.ndarray | float) -> np.ndarray | float:
    """Map linear progress t in [0, 1] through the named easing curve.

    Monotonic, with ease(0) == 0 and ease(1) == 1; t outside [0, 1] is clamped.
    Returns a float for a float and an array for an array.
    """
    if name not in EASINGS:
        known = ", ".join(sorted(EASINGS))
        raise ValueError(f"unknown easing '{name}'; known: {known}")
    scalar = np.ndim(t) == 0
    values = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
    points = EASINGS[name]
    out = values if points is None else cubic_bezier(*points, values)
    return float(out) if scalar else out


@dataclass(frozen=True)
class CameraPose:
    """Where the camera is, what it looks at, and its lens, for one frame."""

    position: tuple[float, float, float]
    target: tuple[float, float, float]
    focal_length_mm: float


def subject(job: ShotJob) -> tuple[float, float, float]:
    """The point the camera looks at: the cast centre at about chest height."""
    if not job.figures:
        return (0.0, EMPTY_SUBJECT_HEIGHT_M, 0.0)
    n = len(job.figures)
    x = sum(f.x_m for f in job.figures) / n
    z = sum(f.z_m for f in job.figures) / n
    height = sum(f.height_m for f in job.figures) / n
    return (x, SUBJECT_HEIGHT_FRACTION * height, z)


def move_distances(job: ShotJob) -> np.ndarray:
    """Horizontal camera-to-subject distance for every frame of the shot.

    lock-off holds distance_m; push-in eases from distance_m to distance_m - travel_m
    (never closer than MIN_DISTANCE_M); pull-back eases out to distance_m + travel_m.
    """
    cam = job.camera
    frames = max(int(job.frames), 1)
    t = np.arange(frames, dtype=np.float64) / (frames - 1) if frames > 1 else np.zeros(1)
    progress = ease(cam.easing, t)
    if cam.move == "lock-off":
        return np.full(frames, cam.distance_m)
    if cam.move == "push-in":
        return np.maximum(cam.distance_m - cam.travel_m * progress, MIN_DISTANCE_M)
    if cam.move == "pull-back":
        return cam.distance_m + cam.travel_m * progress
    raise ValueError(f"previz does not know the camera move '{cam.move}'; known: lock-off, pull-back, push-in")


def camera_path(job: ShotJob) -> list[CameraPose]:
    """One pose per frame: the camera at height_m, behind the subject on -z, looking at it.

    The height stays constant (a dolly move), so only the distance changes.
    """
    tx, ty, tz = subject(job)
    height = float(job.camera.height_m)
    focal = float(job.camera.focal_length_mm)
    return [
        CameraPose(position=(tx, height, tz - float(d)), target=(tx, ty, tz), focal_length_mm=focal)
        for d in move_distances(job)
    ]
