"""The backends by name, and what the engine may assume of one.

`frame_independent` backends (previz, and SDXL per-frame img2img) render any frame alone with
the same bytes as in a full pass, so the engine may resume or re-render any frame range;
`parallel_frames` ones (previz) may also render several frames at once. Clip backends
(AnimateDiff, Wan) render a shot in windows of frames; a range re-renders the windows that
hold it. The names are the spec's (`spec.model.BACKENDS`); where each backend's render code
starts is `plan.code_hash.BACKEND_ENTRIES`, which a test holds to the classes built here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from reelforge.spec.model import BACKENDS

if TYPE_CHECKING:
    from reelforge.plan.jobs import ShotJob


class Backend(Protocol):
    name: str
    frame_independent: bool
    parallel_frames: bool

    def render(self, job: ShotJob, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (frame index, RGB uint8 frame of job.height × job.width × 3) in the given order."""
        ...


def get_backend(name: str) -> Backend:
    """A new backend object by name."""
    # Deferred: the generative backends import torch and diffusers (seconds); previz needs neither.
    if name == "previz":
        from reelforge.backends.previz import PrevizBackend

        return PrevizBackend()
    if name == "sdxl":
        from reelforge.backends.sdxl import SdxlBackend

        return SdxlBackend()
    if name in ("animatediff", "animatediff-sdxl", "wan"):
        from reelforge.backends import clips

        return {"animatediff": clips.AnimateDiffBackend, "animatediff-sdxl": clips.AnimateDiffSdxlBackend,
                "wan": clips.WanBackend}[name]()
    raise ValueError(f"unknown backend '{name}'; known: {', '.join(BACKENDS)}")
