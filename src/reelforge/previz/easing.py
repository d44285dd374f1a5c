"""Easing curves evaluated: linear progress through a named curve or CSS cubic-bezier.

The spec's vocabulary lives in spec/easing.py; this is the arithmetic previz plays it with,
shared by camera moves (previz/camera.py) and blocking (previz/blocking.py).
"""

from __future__ import annotations

from typing import overload

import numpy as np

from reelforge.spec.easing import easing_points

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
