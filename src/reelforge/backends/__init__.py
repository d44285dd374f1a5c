"""Render backends. A backend turns a resolved ShotJob into RGB frames.

`frame_independent` backends (previz, and SDXL per-frame img2img) render any
frame alone with the same bytes as in a full pass, so the engine may render
frames in parallel and resume or re-render any frame range. Clip backends
render a shot as a whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

from reelforge.plan.jobs import ShotJob


class Backend(Protocol):
    name: str
    frame_independent: bool

    def render(self, job: ShotJob, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (frame index, RGB uint8 frame of job.height × job.width × 3) in the given order."""
        ...


def get_backend(name: str) -> Backend:
    if name == "previz":
        from reelforge.backends.previz import PrevizBackend

        return PrevizBackend()
    raise ValueError(f"unknown backend '{name}'; known: previz")
