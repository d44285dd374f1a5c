"""A spec's generative model resolved for this machine: defaults filled in, files checked and hashed.

The planner keys every job on what the model can change in a pixel (plan/jobs.py: `ModelJob`):
the content hashes of the checkpoint and of each file beside it, the sampling settings with
this backend's defaults filled in, the dtype, the device and the thread count. Working that out
needs what only the backends know (which pipelines a checkpoint folder may hold, which files
make it complete, what each backend takes), so it is done here and handed to `plan.jobs.plan`.
"""

from __future__ import annotations

from pathlib import Path

from reelforge.backends.adapters import IP_ADAPTER_BACKENDS, check_ip_adapter_folder
from reelforge.backends.checkpoints import (
    CheckpointError,
    check_model_folder,
    check_pipeline_folder,
    checkpoint_sha256,
)
from reelforge.backends.defaults import DEFAULTS, PIPELINE_CLASSES, PREVIZ_CONDITIONED, SIZE_STEPS
from reelforge.backends.runtime import Runtime, resolve_dtype
from reelforge.plan.jobs import ModelFiles, ModelJob
from reelforge.spec.model import Production

MODEL_FILE_FIELDS = ("checkpoint", "config", "motion_adapter", "controlnet", "ip_adapter")  # ModelFiles' fields


def _resolve_path(value: str | None, base_dir: Path) -> Path | None:
    """A spec's file path: `~` expanded, relative to the spec's folder."""
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


def _check_files(backend: str, files: dict[str, Path | None]) -> None:
    """Every file the model needs is there, checked before any render starts (errors name the spec field)."""
    checks = [("checkpoint", lambda path: None if path.is_file() else
               check_pipeline_folder(path, PIPELINE_CLASSES[backend], f"the {backend} backend")),
              ("config", lambda path: check_pipeline_folder(path, PIPELINE_CLASSES["sdxl"], "an SDXL config folder")),
              ("motion_adapter", lambda path: check_model_folder(path, "motion adapter")),
              ("controlnet", lambda path: check_model_folder(path, "ControlNet")),
              ("ip_adapter", check_ip_adapter_folder)]
    for name, check in checks:
        if files[name] is not None:
            try:
                check(files[name])
            except CheckpointError as exc:
                raise CheckpointError(f"$.model.{name}: {exc}") from None


def resolve_model(production: Production, runtime: Runtime | None, base_dir: Path) -> tuple[ModelJob, ModelFiles] | None:
    """The production's model with defaults filled in and its files hashed (None for previz).

    A size the spec leaves out is the backend's landscape default here; planning turns it to each
    shot's picture (`ModelJob.for_picture`: portrait for a 9:16 picture, a square for 1:1).

    `base_dir` is the folder the spec's model paths are relative to. Raises CheckpointError
    naming the spec field and the file when a path is wrong.
    """
    if production.backend == "previz":
        return None
    if runtime is None:
        raise ValueError("a generative backend needs a runtime (device and threads) to plan")
    model = production.model
    if model is None:
        raise CheckpointError(f"$.backend: backend '{production.backend}' needs \"model\": {{\"checkpoint\": ...}}")
    defaults = DEFAULTS[production.backend]
    files = {name: _resolve_path(getattr(model, name), base_dir)
             for name in MODEL_FILE_FIELDS}
    hashes = {}
    for name, path in files.items():
        if path is None:
            hashes[name] = None
            continue
        try:
            hashes[name] = checkpoint_sha256(path)
        except CheckpointError as exc:
            raise CheckpointError(f"$.model.{name}: {exc}") from None
    if files["checkpoint"].is_file():
        if production.backend != "sdxl":
            raise CheckpointError(f"$.model.checkpoint: {files['checkpoint']} is a single file; the "
                                  f"{production.backend} backend needs a diffusers folder")
        if files["config"] is None:
            raise CheckpointError(f"$.model.config: {files['checkpoint']} is a single file; give \"config\": a "
                                  "local diffusers SDXL folder that supplies its configs and tokenizers")
    irrelevant = []
    if model.motion_adapter is not None and production.backend != "animatediff":
        irrelevant.append(("motion_adapter", "only the animatediff backend takes a motion adapter"))
    if model.config is not None and not files["checkpoint"].is_file():
        irrelevant.append(("config", "only an SDXL single-file checkpoint takes a config folder"))
    if model.ip_adapter is not None and production.backend not in IP_ADAPTER_BACKENDS:
        irrelevant.append(("ip_adapter", ("only the sdxl, animatediff and animatediff-sdxl backends take an "
                                          "IP-Adapter (diffusers' Wan pipelines have none)")))
    if model.clip_frames is not None and production.backend == "sdxl":
        irrelevant.append(("clip_frames", "sdxl renders each frame alone; clip_frames is for animatediff and wan"))
    for name, why in irrelevant:  # silently ignored inputs would still change the key
        raise CheckpointError(f"$.model.{name}: {why}, not '{production.backend}'; remove it")
    _check_files(production.backend, files)
    if model.controlnet is not None and production.backend != "sdxl":
        raise CheckpointError(f"$.model.controlnet: only the sdxl backend takes a ControlNet, not '{production.backend}'")
    conditioning = model.conditioning
    if conditioning == "previz" and production.backend not in PREVIZ_CONDITIONED:
        conditioning = "text"  # recorded as what actually happens
    pick = lambda name: defaults[name] if getattr(model, name) is None else getattr(model, name)  # noqa: E731
    uses_strength = conditioning == "previz"
    return ModelJob(
        checkpoint_sha256=hashes["checkpoint"], config_sha256=hashes["config"],
        motion_adapter_sha256=hashes["motion_adapter"], controlnet_sha256=hashes["controlnet"],
        controlnet_scale=model.controlnet_scale if model.controlnet is not None else None,
        ip_adapter_sha256=hashes["ip_adapter"],
        ip_adapter_scale=model.ip_adapter_scale if model.ip_adapter is not None else None,
        conditioning=conditioning, steps=pick("steps"), guidance_scale=float(pick("guidance_scale")),
        strength=float(pick("strength")) if uses_strength else None, scheduler=model.scheduler,
        width=pick("width"), height=pick("height"), clip_frames=pick("clip_frames"),
        dtype=resolve_dtype(model.dtype, runtime.device), device=runtime.device, threads=runtime.threads,
        size_step=SIZE_STEPS[production.backend] if model.width is None and model.height is None else None,
    ), ModelFiles(**{name: str(path) if path is not None else None for name, path in files.items()})


def check_model_files(job) -> None:
    """The model files a job names are on this machine, with the content the job was planned with.

    A farm worker runs this before it renders (plan/jobs.py: a `ShotJob`'s `files` are paths on
    the planning machine, its `model` holds their hashes): a missing or different checkpoint on
    one node is a CheckpointError naming the file, never a render with other weights.
    """
    if job.model is None or job.files is None:
        return
    for name in MODEL_FILE_FIELDS:
        path, expected = getattr(job.files, name), getattr(job.model, f"{name}_sha256")
        if path is None:
            continue
        if not Path(path).exists():
            raise CheckpointError(f"the {name.replace('_', ' ')} {path} is not on this machine: copy the same "
                                  "files to the same path on every node")
        actual = checkpoint_sha256(path)
        if actual != expected:
            raise CheckpointError(f"the {name.replace('_', ' ')} {path} on this machine is not the one the job "
                                  f"was planned with (sha256 {actual[:12]}…, planned {expected[:12]}…): copy the "
                                  "same files to the same path on every node")
