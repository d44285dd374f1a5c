"""The ground-plan geometry and numbers that validation, planning and previz share: how a walk's path is
measured, and the default seat height.

Kept apart from the spec's models and messages (spec/blocking.py, spec/staging.py): the previz reads
this module, so it is part of every render-code hash, and rewording a problem must not re-render a
season.
"""

from __future__ import annotations

import math

Ground = tuple[float, float]  # (x, z) metres on the ground plan

SEAT_HEIGHT_M = 0.45  # a chair's seat: where a sit without a prop or a height puts the hips


class Polyline:
    """A walk's path on the ground plan, measured by length: where a walk is, for validation
    (spec/staging.py `ground_track`) and for previz (previz/blocking.py), so both place a walker on the same bits."""

    def __init__(self, path: tuple[Ground, ...]) -> None:
        self.points = [(float(x), float(z)) for x, z in path]
        self.lengths = [math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(self.points, self.points[1:])]
        self.starts = [0.0]
        for length in self.lengths:
            self.starts.append(self.starts[-1] + length)
        self.total = self.starts[-1]

    def segment(self, distance: float) -> int:
        """The segment a distance along falls on (at a corner: the one leaving it), skipping empty ones."""
        last = None
        for i, length in enumerate(self.lengths):
            if length <= 0.0:
                continue
            last = i
            if distance < self.starts[i + 1]:
                return i
        return -1 if last is None else last

    def at(self, distance: float) -> Ground:
        if distance >= self.total:
            return self.points[-1]
        if distance <= 0.0:
            return self.points[0]
        i = self.segment(distance)
        a, b = self.points[i], self.points[i + 1]
        s = (distance - self.starts[i]) / self.lengths[i]
        return (a[0] + (b[0] - a[0]) * s, a[1] + (b[1] - a[1]) * s)
