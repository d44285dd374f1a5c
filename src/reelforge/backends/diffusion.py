"""What every diffusers backend shares: loading a studio's checkpoint, schedulers, previz inputs, sizes.

Loading goes through diffusers' own `from_pretrained` on the local folder (never a
hub id, `local_files_only=True`), after `checkpoints.check_pipeline_folder` has
named any missing file. Each loaded module is put in eval mode with its weights
copied out of the file's memory map (`runtime.settle_loaded_module`), so a loaded
checkpoint computes exactly what the in-memory model it was saved from computes.

Frames leave a pipeline as PIL images (diffusers' own float → uint8 rounding) at
the model's native size and are then scaled to the delivery size by
`fit_to_delivery`: cover-scale with OpenCV's Lanczos filter and centre-crop, a
pure function of the pixels whatever the thread count.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from reelforge.backends.checkpoints import (
    CheckpointError,
    check_model_folder,
    check_pipeline_folder,
    check_tokenizers,
    model_index,
)
from reelforge.backends.errors import ModelRenderError
from reelforge.backends.runtime import settle_loaded_module, torch_dtype

if TYPE_CHECKING:
    from reelforge.plan.jobs import ShotJob

# torch, diffusers, transformers and peft are imported inside the functions that use them: they take
# seconds to import, and planning, file checks and previz renders never need them.

SCHEDULER_CLASSES = {
    "euler": "EulerDiscreteScheduler",
    "euler-ancestral": "EulerAncestralDiscreteScheduler",
    "ddim": "DDIMScheduler",
    "dpm++-2m": "DPMSolverMultistepScheduler",
    "unipc": "UniPCMultistepScheduler",
    "flow-match-euler": "FlowMatchEulerDiscreteScheduler",
}


SIZE_OR_MEMORY_HINTS = ("shape", "size", "divisible", "out of memory", "dimension")


def call_pipeline(pipeline, job: ShotJob, inputs: dict):
    """Run a pipeline; a refusal (a size it cannot take, memory) becomes one clear ModelRenderError."""
    try:
        return pipeline(**inputs)
    except (RuntimeError, ValueError) as exc:
        model = job.model
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        hint = ""
        if any(word in reason.lower() for word in SIZE_OR_MEMORY_HINTS):
            hint = " — check that $.model.width/height suit this checkpoint (and, on a GPU, that it has the memory)"
        raise ModelRenderError(
            f"{job.shot_path}: the {job.backend} model ({job.files.checkpoint}) failed at "
            f"{model.width}×{model.height}, {model.steps} steps on {model.device}: {reason}{hint}") from None


def quiet_diffusers() -> None:
    """diffusers and transformers print progress bars and advice per call; a render has its own progress."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", module="diffusers")
    warnings.filterwarnings("ignore", module="transformers")


def set_scheduler(pipeline, name: str) -> None:
    """Swap the checkpoint's scheduler for a named one, built from the checkpoint's scheduler config."""
    if name == "checkpoint":
        return
    import diffusers

    cls = getattr(diffusers, SCHEDULER_CLASSES[name])
    pipeline.scheduler = cls.from_config(pipeline.scheduler.config)


def settle(pipeline) -> None:
    import torch

    for component in pipeline.components.values():
        if isinstance(component, torch.nn.Module):
            settle_loaded_module(component)
    pipeline.set_progress_bar_config(disable=True)


def load_model(cls, folder: Path, what: str, dtype: str):
    """One model (a transformers text encoder or a diffusers UNet, VAE, ControlNet …), every weight accounted for.

    transformers fills weights missing from a file with random values drawn from the global
    RNG, and diffusers leaves them on the meta device: either way a render would "work" and
    differ from run to run. Loading info is checked, and a gap is an error naming the folder.
    """
    import torch

    try:
        model, info = cls.from_pretrained(str(folder), local_files_only=True, torch_dtype=torch_dtype(dtype),
                                          output_loading_info=True)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{what} {folder} could not be loaded as {cls.__name__}: {reason}") from None
    for problem in ("missing_keys", "mismatched_keys", "unexpected_keys"):
        found = sorted(map(str, info.get(problem) or []))
        if found:
            label = problem.replace("_keys", "").replace("mismatched", "of the wrong shape")
            raise CheckpointError(f"{what} {folder}: {len(found)} weight(s) {label} in its files, e.g. "
                                  f"{found[0]} — the files are incomplete or of another architecture")
    meta = [name for name, tensor in [*model.named_parameters(), *model.named_buffers()] if tensor.device.type == "meta"]
    if meta or any(isinstance(t, torch.Tensor) and t.is_meta for t in model.state_dict().values()):
        raise CheckpointError(f"{what} {folder}: no weights for {meta[0] if meta else 'some tensors'} in its files")
    return model


def load_components(folder: Path, dtype: str) -> dict:
    """Every model the pipeline folder's model_index.json names, each loaded and checked by `load_model`."""
    import diffusers
    import transformers

    loaded = {}
    for name, spec in model_index(folder).items():
        if name.startswith("_") or not isinstance(spec, list) or spec[0] not in ("diffusers", "transformers"):
            continue
        library = diffusers if spec[0] == "diffusers" else transformers
        cls = getattr(library, spec[1], None)
        if cls is None or "Tokenizer" in spec[1] or "Scheduler" in spec[1] or not hasattr(cls, "from_pretrained") \
                or not hasattr(cls, "state_dict"):
            continue
        loaded[name] = load_model(cls, folder / name, f"checkpoint component {name}:", dtype)
    return loaded


def load_pipeline(cls, job: ShotJob, expected: tuple[str, ...], what: str, **extra):
    """Load a pipeline class from the job's local checkpoint folder, on its device and dtype."""
    from diffusers import MotionAdapter

    quiet_diffusers()
    model, files = job.model, job.files
    folder = Path(files.checkpoint)
    check_pipeline_folder(folder, expected, what)
    kwargs = dict(local_files_only=True, torch_dtype=torch_dtype(model.dtype), **extra)
    kwargs.update(load_components(folder, model.dtype))
    if files.motion_adapter is not None:
        check_model_folder(Path(files.motion_adapter), "motion adapter")
        kwargs["motion_adapter"] = load_model(MotionAdapter, Path(files.motion_adapter), "motion adapter", model.dtype)
    try:
        pipeline = cls.from_pretrained(str(folder), **kwargs)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {folder} could not be loaded as {cls.__name__}: {exc}") from None
    check_tokenizers(pipeline, folder)
    return finish_loading(pipeline, job)


def finish_loading(pipeline, job: ShotJob):
    """The steps every loaded pipeline gets: settled weights, scheduler choice, device."""
    settle(pipeline)
    set_scheduler(pipeline, job.model.scheduler)
    return pipeline.to(job.model.device)


class PipelineCache:
    """Loaded pipelines by everything that determines them; a render of many shots loads once."""

    SIZE = 2  # real checkpoints are gigabytes: keep at most two loaded

    def __init__(self) -> None:
        self._loaded: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, load):
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key]
            while len(self._loaded) >= self.SIZE:
                self._loaded.popitem(last=False)
            pipeline = load()
            self._loaded[key] = pipeline
            return pipeline


def cache_key(job: ShotJob, variant: str) -> tuple:
    """Everything that decides which weights and classes a loaded pipeline holds (hashes, not only paths)."""
    m, f = job.model, job.files
    return (job.backend, variant, m.conditioning, f.checkpoint, m.checkpoint_sha256, f.config, m.config_sha256,
            f.motion_adapter, m.motion_adapter_sha256, f.controlnet, m.controlnet_sha256, f.ip_adapter,
            m.ip_adapter_sha256, m.scheduler, m.dtype, m.device)  # LoRAs are set per shot (backends/adapters.py)


def native_job(job: ShotJob) -> ShotJob:
    """The same shot at the model's native size: previz conditioning is drawn there directly."""
    return job.model_copy(update={"width": job.model.width, "height": job.model.height})


def pil_to_array(image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def fit_to_delivery(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale a native-size frame to cover width × height (Lanczos), then centre-crop the overflow."""
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    scale = max(width / w, height / h)
    scaled_w, scaled_h = max(width, round(w * scale)), max(height, round(h * scale))
    interpolation = cv2.INTER_LANCZOS4 if scale >= 1 else cv2.INTER_AREA
    scaled = cv2.resize(frame, (scaled_w, scaled_h), interpolation=interpolation)
    x, y = (scaled_w - width) // 2, (scaled_h - height) // 2
    return np.ascontiguousarray(scaled[y:y + height, x:x + width])
