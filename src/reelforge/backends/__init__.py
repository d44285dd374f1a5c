"""Render backends. A backend turns a resolved ShotJob into RGB frames.

`frame_independent` backends (previz, and SDXL per-frame img2img) render any
frame alone with the same bytes as in a full pass, so the engine may resume or
re-render any frame range; `parallel_frames` ones (previz) may also render
several frames at once. Clip backends (AnimateDiff, Wan) render a shot in
windows of frames; a range re-renders the windows that hold it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

from reelforge.plan.jobs import ShotJob

# No downloads at run time, ever: a checkpoint is a local folder or file. Set here, before any
# backend module can import diffusers or transformers, which read these at import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

BACKEND_NAMES = ("previz", "sdxl", "animatediff", "animatediff-sdxl", "wan")


class Backend(Protocol):
    name: str
    frame_independent: bool
    parallel_frames: bool

    def render(self, job: ShotJob, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (frame index, RGB uint8 frame of job.height × job.width × 3) in the given order."""
        ...


def get_backend(name: str) -> Backend:
    """A new backend object by name; diffusers and torch are imported only for the generative ones."""
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
    raise ValueError(f"unknown backend '{name}'; known: {', '.join(BACKEND_NAMES)}")
