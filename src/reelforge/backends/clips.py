"""Clip backends: AnimateDiff (SD 1.5 motion adapter), AnimateDiff-SDXL and Wan 2.1 render a shot as video.

A shot is cut into windows of `model.clip_frames` frames (the model's native clip
length: 16 for AnimateDiff, 81 for Wan); each window is one pipeline call whose
noise comes from `frame_seed(shot seed, first frame of the window)`. A frame range
therefore re-renders by re-rendering the windows that hold it, with the same bytes
as in a full pass. Windows are independent: motion does not carry across a window
boundary (long takes want a longer `clip_frames` where the model allows it).

Conditioning:
* `previz` (default for animatediff and wan): video-to-video from the previz frames of
  the window drawn at the native size (`AnimateDiffVideoToVideoPipeline`,
  `WanVideoToVideoPipeline`), with `model.strength`.
* `text`: text-to-video (`AnimateDiffPipeline`, `AnimateDiffSDXLPipeline`, `WanPipeline`).
  diffusers has no AnimateDiff-SDXL video-to-video pipeline, so that backend is always text.

Wan's VAE compresses time by 4, so Wan renders 4k+1 frames: a window's input is
padded by repeating its last previz frame, and the extra output frames are dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from reelforge.backends.adapters import Adapters, load_ip_adapter
from reelforge.backends.defaults import PIPELINE_CLASSES
from reelforge.backends.diffusion import (
    PipelineCache,
    cache_key,
    call_pipeline,
    fit_to_delivery,
    load_pipeline,
    native_job,
    pil_to_array,
)
from reelforge.backends.runtime import Runtime, deterministic_torch, generator
from reelforge.plan.seeds import frame_seed
from reelforge.previz.raster import check_index, render_frame

if TYPE_CHECKING:
    from reelforge.plan.jobs import ShotJob

# torch, diffusers, transformers and peft are imported inside the functions that use them: they take
# seconds to import, and planning, file checks and previz renders never need them.

ANIMATEDIFF_CLASSES = PIPELINE_CLASSES["animatediff"]
ANIMATEDIFF_SDXL_CLASSES = PIPELINE_CLASSES["animatediff-sdxl"]
WAN_CLASSES = PIPELINE_CLASSES["wan"]


def windows(job: ShotJob) -> list[tuple[int, int]]:
    """[start, stop) of each window of the shot."""
    size = job.model.clip_frames or job.frames
    return [(start, min(start + size, job.frames)) for start in range(0, job.frames, size)]


def wan_length(frames: int) -> int:
    """The smallest 4k+1 frame count that holds `frames` (Wan's VAE works in groups of 4 after the first)."""
    return frames if frames % 4 == 1 else frames + (4 - (frames - 1) % 4)


class ClipBackend:
    """Shared windowing, seeding and scaling; subclasses name their pipelines."""

    name = ""
    frame_independent = False
    parallel_frames = False
    text_class = ""
    video_class = ""
    accepted: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._pipelines = PipelineCache()
        self._lock = threading.Lock()
        self.adapters = Adapters()  # LoRAs and IP-Adapter embeddings, set per shot

    def pipeline_class(self, job: ShotJob):
        import diffusers

        return getattr(diffusers, self.video_class if job.model.conditioning == "previz" else self.text_class)

    def pipeline(self, job: ShotJob):
        cls = self.pipeline_class(job)
        return self._pipelines.get(cache_key(job, cls.__name__), lambda: self.load(cls, job))

    def load(self, cls, job: ShotJob):
        pipeline = load_pipeline(cls, job, self.accepted, f"the {self.name} backend")
        return load_ip_adapter(pipeline, job) if job.files.ip_adapter is not None else pipeline

    def frames_to_render(self, length: int) -> int:
        return length

    def pipeline_inputs(self, job: ShotJob, start: int, stop: int) -> dict:
        """Everything passed to the diffusers pipeline for one window (also what tests give a bare pipeline)."""
        model = job.model
        count = self.frames_to_render(stop - start)
        inputs = dict(prompt=job.prompt, negative_prompt=job.negative_prompt or None,
                      num_inference_steps=model.steps, guidance_scale=model.guidance_scale,
                      height=model.height, width=model.width, generator=generator(frame_seed(job.seed, start)),
                      output_type="pil")
        if model.conditioning == "previz":
            native = native_job(job)
            video = [Image.fromarray(render_frame(native, i)) for i in range(start, stop)]
            video += [video[-1]] * (count - len(video))
            inputs.update(video=video, strength=model.strength)
        else:
            inputs["num_frames"] = count
        return inputs

    def native_window(self, job: ShotJob, start: int, stop: int) -> list[np.ndarray]:
        """Frames [start, stop) at the model's native size, exactly as the pipeline returned them."""
        runtime = Runtime(job.model.device, job.model.threads)
        with self._lock:
            pipeline = self.pipeline(job)
            with deterministic_torch(runtime):
                rendered = list(range(start, stop))  # the frames the call outputs: Wan pads with the last
                rendered += [stop - 1] * (self.frames_to_render(stop - start) - len(rendered))
                inputs = {**self.pipeline_inputs(job, start, stop), **self.adapters.prepare(pipeline, job, rendered)}
                frames = call_pipeline(pipeline, job, inputs).frames[0]
        return [pil_to_array(image) for image in frames[:stop - start]]

    def render(self, job: ShotJob, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield the asked frames in the order given, rendering each window that holds one once."""
        indices = [check_index(job, i) for i in indices]
        return self._render(job, indices)

    def _render(self, job: ShotJob, indices: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Frames in ascending order stream out window by window (memory holds one window);
        any other order is served once every window it needs is rendered."""
        wanted = set(indices)
        streaming = indices == sorted(indices)
        done: dict[int, np.ndarray] = {}
        for start, stop in windows(job):
            if not wanted.intersection(range(start, stop)):
                continue
            for offset, frame in enumerate(self.native_window(job, start, stop)):
                if start + offset in wanted:
                    done[start + offset] = fit_to_delivery(frame, job.width, job.height)
            if streaming:
                for index in sorted(done):
                    yield index, done.pop(index)
        for index in indices if not streaming else []:
            yield index, done[index]


class AnimateDiffBackend(ClipBackend):
    name = "animatediff"
    text_class = "AnimateDiffPipeline"
    video_class = "AnimateDiffVideoToVideoPipeline"
    accepted = ANIMATEDIFF_CLASSES


class AnimateDiffSdxlBackend(ClipBackend):
    name = "animatediff-sdxl"
    text_class = video_class = "AnimateDiffSDXLPipeline"  # planning records conditioning "text"
    accepted = ANIMATEDIFF_SDXL_CLASSES


class WanBackend(ClipBackend):
    name = "wan"
    text_class = "WanPipeline"
    video_class = "WanVideoToVideoPipeline"
    accepted = WAN_CLASSES

    def frames_to_render(self, length: int) -> int:
        return wan_length(length)
