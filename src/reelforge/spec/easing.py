"""Easing as the spec writes it: a named curve or CSS cubic-bezier control points.

The vocabulary (`linear`, `ease-in`, `ease-out`, `ease-in-out`, `"cubic-bezier(x1, y1, x2, y2)"`
or a list of four numbers), its validation in plain sentences, and the one spelling of an
easing that goes into a job, and the curve evaluated (`ease`): previz plays actions and camera
moves with it, and validate samples walks with the same bits.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from typing import overload

import numpy as np

from reelforge.spec.base import short_text

# Easing curves as CSS cubic-bezier control points (x1, y1, x2, y2), the same
# numbers as CSS `ease-in` etc. None means the identity (linear) curve.
EASINGS: dict[str, tuple[float, float, float, float] | None] = {
    "linear": None,
    "ease-in": (0.42, 0.0, 1.0, 1.0),
    "ease-out": (0.0, 0.0, 0.58, 1.0),
    "ease-in-out": (0.42, 0.0, 0.58, 1.0),
}
# y control points may overshoot [0, 1] as in CSS (a move that goes past and settles
# back), within this range; x must lie in [0, 1] so that time runs forward.
BEZIER_Y_RANGE = (-1.0, 2.0)

_NUMBER = r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*"
_CUBIC_BEZIER = re.compile(rf"cubic-bezier\({_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}\)")


def easing_points(easing: str) -> tuple[float, float, float, float] | None:
    """Control points of a named easing or a "cubic-bezier(x1, y1, x2, y2)" string (None: linear)."""
    if easing in EASINGS:
        return EASINGS[easing]
    match = _CUBIC_BEZIER.fullmatch(easing.strip())
    if match is None:
        names = ", ".join(f"'{name}'" for name in EASINGS)
        message = (f"unknown easing: must be one of {names} or CSS control points written "
                   f"\"cubic-bezier(x1, y1, x2, y2)\" or [x1, y1, x2, y2], got '{short_text(easing)}'")
        close = difflib.get_close_matches(easing, list(EASINGS), n=1, cutoff=0.6)
        raise ValueError(message + (f"; did you mean '{close[0]}'?" if close else ""))
    return check_bezier([float(g) for g in match.groups()])


def check_bezier(points: Sequence[float]) -> tuple[float, float, float, float]:
    """Validate CSS cubic-bezier control points; ValueError says what is wrong in a sentence."""
    if len(points) != 4:
        raise ValueError(f"cubic-bezier control points are 4 numbers (x1, y1, x2, y2), got {len(points)}")
    x1, y1, x2, y2 = (float(p) for p in points)
    if not all(math.isfinite(p) for p in (x1, y1, x2, y2)):
        raise ValueError("cubic-bezier control points must be finite numbers")
    for name, x in (("x1", x1), ("x2", x2)):
        if not 0.0 <= x <= 1.0:
            raise ValueError(f"cubic-bezier {name} (a time) must lie between 0 and 1, got {x:g}; "
                             "only y1 and y2 may overshoot")
    low, high = BEZIER_Y_RANGE
    for name, y in (("y1", y1), ("y2", y2)):
        if not low <= y <= high:
            raise ValueError(f"cubic-bezier {name} must lie between {low:g} and {high:g}, got {y:g}")
    return (x1, y1, x2, y2)


def canonical_easing(value: str | Sequence[float]) -> str:
    """The one spelling of an easing that goes into a job: a name, or "cubic-bezier(x1, y1, x2, y2)".

    Accepts a name, a CSS cubic-bezier string or a list of four numbers; raises
    ValueError with a readable message for anything else.
    """
    if isinstance(value, str):
        if value in EASINGS:
            return value
        points = easing_points(value)
    else:
        points = check_bezier(list(value))
    return "cubic-bezier(" + ", ".join(repr(float(p)) for p in points) + ")"


_BISECTION_STEPS = 48  # fixed count: same work, same bits, for every input


def cubic_bezier(x1: float, y1: float, x2: float, y2: float, t: np.ndarray) -> np.ndarray:
    """CSS cubic-bezier(x1, y1, x2, y2) evaluated at progress t in [0, 1].

    Solves x(s) = t for the curve parameter s by bisection with a fixed number of
    steps (x(s) is monotonic when 0 <= x1, x2 <= 1, as CSS requires), then
    returns y(s). Fixed steps rather than a tolerance keep the result bit-stable;
    the arithmetic is elementwise, so a scalar gives the same bits as an array.
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
    """Map linear progress t in [0, 1] through an easing (a name or "cubic-bezier(...)").

    ease(0) == 0 and ease(1) == 1; monotonic when the y control points lie in
    [0, 1]; t outside [0, 1] is clamped. Returns a float for a float, an array for an array.
    """
    points = easing_points(name)
    scalar = np.ndim(t) == 0
    values = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
    out = values if points is None else cubic_bezier(*points, values)
    return float(out) if scalar else out
