"""SDXL: each frame rendered by img2img from its previz frame (optionally with a depth ControlNet).

Per-frame: frame i's noise comes from `frame_seed(shot seed, i)`, and its input is
previz frame i drawn at the model's native size, so any frame or frame range
re-renders alone with the bytes it has in a full pass. With
`model.conditioning = "text"` a frame is text-to-image from the same seed.

The checkpoint is a local diffusers folder, or a single `.safetensors` file in the
original SDXL layout plus a local `config` folder (configs and tokenizers).
With `model.controlnet`, a depth ControlNet is conditioned on the previz depth map
(`previz.raster.render_depth`) of the same frame.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from reelforge.backends.adapters import Adapters, load_ip_adapter
from reelforge.backends.checkpoints import CheckpointError, check_model_folder, check_tokenizers
from reelforge.backends.defaults import PIPELINE_CLASSES
from reelforge.backends.diffusion import (
    PipelineCache,
    cache_key,
    call_pipeline,
    finish_loading,
    fit_to_delivery,
    load_model,
    load_pipeline,
    native_job,
    pil_to_array,
    quiet_diffusers,
)
from reelforge.backends.runtime import (
    Runtime,
    deterministic_torch,
    generator,
    torch_dtype,
)
from reelforge.backends.single_file import load_sdxl_single_file
from reelforge.plan.seeds import frame_seed
from reelforge.previz.raster import check_index, render_depth, render_frame

if TYPE_CHECKING:
    from reelforge.plan.jobs import ShotJob

# torch, diffusers, transformers and peft are imported inside the functions that use them: they take
# seconds to import, and planning, file checks and previz renders never need them.

SDXL_PIPELINES = PIPELINE_CLASSES["sdxl"]


def pipeline_class(job: ShotJob):
    import diffusers

    if job.model.conditioning == "text":
        name = "StableDiffusionXLControlNetPipeline" if job.files.controlnet else "StableDiffusionXLPipeline"
    else:
        name = "StableDiffusionXLControlNetImg2ImgPipeline" if job.files.controlnet else "StableDiffusionXLImg2ImgPipeline"
    return getattr(diffusers, name)


def load_sdxl(job: ShotJob):
    """The SDXL pipeline the job needs, from a folder or a single file, with its ControlNet if any."""
    cls = pipeline_class(job)
    extra = {"add_watermarker": False}  # else the invisible-watermark package, if installed, alters pixels
    if job.files.controlnet is not None:
        from diffusers import ControlNetModel

        quiet_diffusers()
        check_model_folder(Path(job.files.controlnet), "ControlNet")
        extra["controlnet"] = load_model(ControlNetModel, Path(job.files.controlnet), "ControlNet", job.model.dtype)
    checkpoint = Path(job.files.checkpoint)
    if checkpoint.is_file():
        quiet_diffusers()
        config = job.files.config
        if config is None:
            raise CheckpointError(f"$.model.config: {checkpoint} is a single file; give \"config\": a local "
                                  "diffusers SDXL folder that supplies its configs and tokenizers")
        extra.pop("add_watermarker")
        pipeline = load_sdxl_single_file(cls, checkpoint, Path(config), torch_dtype=torch_dtype(job.model.dtype),
                                         **extra)

        check_tokenizers(pipeline, Path(config))
        pipeline = finish_loading(pipeline, job)
    else:
        pipeline = load_pipeline(cls, job, SDXL_PIPELINES, "the sdxl backend", **extra)
    return load_ip_adapter(pipeline, job) if job.files.ip_adapter is not None else pipeline


def pipeline_inputs(job: ShotJob, index: int) -> dict:
    """Everything passed to the diffusers pipeline for one frame (also what tests pass to a bare pipeline)."""
    model = job.model
    native = native_job(job)
    inputs = dict(prompt=job.prompt, negative_prompt=job.negative_prompt or None,
                  num_inference_steps=model.steps, guidance_scale=model.guidance_scale,
                  height=model.height, width=model.width, generator=generator(frame_seed(job.seed, index)),
                  output_type="pil")
    if model.conditioning == "previz":
        inputs["image"] = Image.fromarray(render_frame(native, index))
        inputs["strength"] = model.strength
    if job.files.controlnet is not None:
        depth = Image.fromarray(render_depth(native, index))
        inputs["control_image" if model.conditioning == "previz" else "image"] = depth
        inputs["controlnet_conditioning_scale"] = model.controlnet_scale
    return inputs


class SdxlBackend:
    name = "sdxl"
    pipeline_class = staticmethod(pipeline_class)
    frame_independent = True
    parallel_frames = False  # one pipeline, its own torch threads: frames go one at a time

    def __init__(self) -> None:
        self._pipelines = PipelineCache()
        self._lock = threading.Lock()
        self.adapters = Adapters()  # LoRAs and IP-Adapter embeddings, set per shot

    def pipeline(self, job: ShotJob):
        return self._pipelines.get(cache_key(job, self.name), lambda: load_sdxl(job))

    def native_frame(self, job: ShotJob, index: int) -> np.ndarray:
        """Frame `index` at the model's native size, exactly as the pipeline returned it."""
        runtime = Runtime(job.model.device, job.model.threads)
        with self._lock:
            pipeline = self.pipeline(job)
            with deterministic_torch(runtime):
                inputs = {**pipeline_inputs(job, index), **self.adapters.prepare(pipeline, job, [index])}
                image = call_pipeline(pipeline, job, inputs).images[0]
        return pil_to_array(image)

    def render(self, job: ShotJob, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        indices = [check_index(job, i) for i in indices]
        return self._render(job, indices)

    def _render(self, job: ShotJob, indices: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        for index in indices:
            yield index, fit_to_delivery(self.native_frame(job, index), job.width, job.height)
