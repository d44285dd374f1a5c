"""Sampling defaults of each generative backend, used where the spec's `model` leaves a field unset.

Kept free of torch imports: the planner resolves every default into the job (and
its key) before any model is loaded. Native sizes are near 16:9 at each model's
training resolution, landscape; a portrait picture samples at the same size turned on its
side and a square one at a square of about the same pixel count, a multiple of SIZE_STEPS
(plan/framing.py: `model_size`). Frames are scaled to the delivery size after sampling.
"""

from __future__ import annotations

DEFAULTS: dict[str, dict] = {
    "sdxl": {"steps": 30, "guidance_scale": 5.0, "strength": 0.55, "width": 1344, "height": 768,
             "clip_frames": None},
    "animatediff": {"steps": 25, "guidance_scale": 7.5, "strength": 0.6, "width": 768, "height": 432,
                    "clip_frames": 16},
    "animatediff-sdxl": {"steps": 25, "guidance_scale": 5.0, "strength": None, "width": 1024, "height": 576,
                         "clip_frames": 16},
    "wan": {"steps": 30, "guidance_scale": 5.0, "strength": 0.7, "width": 832, "height": 480, "clip_frames": 81},
}

# The multiple a square default size is rounded to: SD/SDXL UNets downsample the 8×-smaller latent
# three times (64 px); Wan's VAE is 8× and its transformer patches 2×2 (16 px).
SIZE_STEPS: dict[str, int] = {"sdxl": 64, "animatediff": 64, "animatediff-sdxl": 64, "wan": 16}

# Backends whose conditioning can be the previz (img2img / video-to-video). diffusers has no
# AnimateDiff-SDXL video-to-video pipeline, so that backend renders from the prompt alone.
PREVIZ_CONDITIONED = ("sdxl", "animatediff", "wan")

# The diffusers pipeline classes (model_index.json `_class_name`) each backend can load.
PIPELINE_CLASSES: dict[str, tuple[str, ...]] = {
    "sdxl": ("StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLControlNetPipeline",
             "StableDiffusionXLControlNetImg2ImgPipeline"),
    "animatediff": ("AnimateDiffPipeline", "AnimateDiffVideoToVideoPipeline", "StableDiffusionPipeline"),
    "animatediff-sdxl": ("AnimateDiffSDXLPipeline", "StableDiffusionXLPipeline"),
    "wan": ("WanPipeline", "WanVideoToVideoPipeline"),
}
