"""Spec → shot jobs: everything a backend needs to render a shot, fully resolved.

A ShotJob carries no references back into the spec: presets are expanded,
inheritance (series → episode → scene → shot) is applied and text is resolved in
the render language. The job key hashes exactly the fields that can change a
pixel, so an edit to one shot changes that shot's key and nothing else's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from reelforge.plan.base import Frozen, LoraJob  # noqa: F401 (re-exported)
from reelforge.plan.camera import CameraPath, camera_phrase, resolve_camera
from reelforge.plan.cast import CastMember, Figure, place_figures, resolve_cast  # noqa: F401 (re-exported)
from reelforge.plan.engine import render_code_hash
from reelforge.plan.lighting import Light, kelvin_to_linear_rgb, lighting_phrase, resolve_lighting  # noqa: F401
from reelforge.plan.look import LookJob, merge_looks, picture_size, resolve_look
from reelforge.plan.seeds import shot_seed
from reelforge.plan.style import StyleJob, resolve_style
from reelforge.spec.model import (
    Episode,
    Production,
    Scene,
    Shot,
    text_in,
)

if TYPE_CHECKING:
    from reelforge.backends.runtime import Runtime

class Set(Frozen):
    location_id: str
    ground_color: str
    backdrop_color: str
    props: tuple[dict, ...]


class ModelJob(Frozen):
    """A generative model's resolved settings: everything about it that can change a pixel."""

    checkpoint_sha256: str
    config_sha256: str | None = None
    motion_adapter_sha256: str | None = None
    controlnet_sha256: str | None = None
    controlnet_scale: float | None = None
    ip_adapter_sha256: str | None = None
    ip_adapter_scale: float | None = None
    conditioning: str
    steps: int
    guidance_scale: float
    strength: float | None
    scheduler: str
    width: int  # the model's native size; frames are scaled to the job's size afterwards
    height: int
    clip_frames: int | None
    dtype: str
    device: str
    threads: int


class ModelFiles(Frozen):
    """Where the model's files are on this machine: needed to load it, but not part of the key."""

    checkpoint: str
    config: str | None = None
    motion_adapter: str | None = None
    controlnet: str | None = None
    ip_adapter: str | None = None


class ShotJob(Frozen):
    # Identity: where the shot sits in the production (not part of the key).
    shot_path: str
    episode_id: str
    scene_id: str
    shot_id: str
    # Everything below can change a pixel and is hashed into the key.
    backend: str
    engine: str
    seed: int
    language: str
    prompt: str
    negative_prompt: str
    width: int  # the picture the backend renders (the look's aspect ratio inside the canvas)
    height: int
    canvas_width: int  # the delivered frame; the picture is centred in it, with black bars around
    canvas_height: int
    fps: int
    frames: int
    camera: CameraPath
    lighting: Light
    look: LookJob
    style: StyleJob
    set: Set
    cast: tuple[CastMember, ...]  # identity conditioning, in spec order
    figures: tuple[Figure, ...]  # the cast's gray-box stand-ins
    model: ModelJob | None = None  # None for previz
    files: ModelFiles | None = None  # not in the key: moving a checkpoint folder re-renders nothing
    # Asset files the job reads (LUTs, reference images, LoRAs), by content hash: the hashes are
    # in the keyed fields above, the paths are not (a moved file re-renders nothing).
    assets: dict[str, str] = {}

    IDENTITY_FIELDS: ClassVar[tuple[str, ...]] = ("shot_path", "episode_id", "scene_id", "shot_id", "files",
                                                  "assets")

    @property
    def key(self) -> str:
        """SHA-256 of the canonical JSON of every pixel-affecting field."""
        payload = self.model_dump(mode="json", exclude=set(self.IDENTITY_FIELDS))
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class EpisodePlan(Frozen):
    episode_id: str
    title: str
    jobs: tuple[ShotJob, ...]

    @property
    def frames(self) -> int:
        return sum(job.frames for job in self.jobs)


def compose_prompt(production: Production, scene: Scene, shot: Shot, style: StyleJob, cast: tuple[CastMember, ...],
                   camera: CameraPath, light: Light) -> tuple[str, str]:
    """The prompt a generative backend sees, in a fixed order; previz records it for the key.

    Style, action, each cast member's identity tokens (in cast order), location, lighting, camera.
    """
    lang = production.language
    location = production.location(scene.location)
    parts = [style.prompt, text_in(shot.prompt, lang, lang)]
    parts += [member.tokens for member in cast]
    parts += [text_in(location.description, lang, lang) or text_in(location.name, lang, lang),
              lighting_phrase(light), camera_phrase(camera)]
    prompt = ". ".join(p.strip() for p in parts if p and p.strip())
    return prompt, style.negative_prompt


def _resolve_path(value: str | None, base_dir: Path) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


def _check_files(backend: str, files: dict[str, Path | None]) -> None:
    """Every file the model needs is there, checked before any render starts (errors name the spec field)."""
    from reelforge.backends.adapters import check_ip_adapter_folder
    from reelforge.backends.checkpoints import (
        CheckpointError,
        check_model_folder,
        check_pipeline_folder,
    )
    from reelforge.backends.defaults import PIPELINE_CLASSES

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

    Raises CheckpointError naming the spec field and the file when a path is wrong.
    """
    if production.backend == "previz":
        return None
    from reelforge.backends.checkpoints import CheckpointError, checkpoint_sha256
    from reelforge.backends.defaults import DEFAULTS, PREVIZ_CONDITIONED
    from reelforge.backends.runtime import resolve_dtype

    if runtime is None:
        raise ValueError("a generative backend needs a runtime (device and threads) to plan")
    model = production.model
    if model is None:
        raise CheckpointError(f"$.backend: backend '{production.backend}' needs \"model\": {{\"checkpoint\": ...}}")
    defaults = DEFAULTS[production.backend]
    files = {name: _resolve_path(getattr(model, name), base_dir)
             for name in ("checkpoint", "config", "motion_adapter", "controlnet", "ip_adapter")}
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
    from reelforge.backends.adapters import IP_ADAPTER_BACKENDS

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
    ), ModelFiles(**{name: str(path) if path is not None else None for name, path in files.items()})


def plan_shot(production: Production, episode: Episode, scene: Scene, shot: Shot,
              model: tuple[ModelJob, ModelFiles] | None = None, base_dir: Path | None = None) -> ShotJob:
    """One shot's job: inheritance applied (series → episode → scene → shot), every preset resolved."""
    base_dir = base_dir or Path.cwd()
    path = f"{episode.id}/{scene.id}/{shot.id}"
    fps = production.delivery.fps
    frames = shot.frame_count(fps)
    canvas = production.delivery.size
    style, style_assets = resolve_style(shot.style or scene.style or episode.style or production.style, base_dir)
    camera = resolve_camera(shot.camera or scene.camera or episode.camera or production.camera)
    light = resolve_lighting(shot.lighting or scene.lighting or episode.lighting or production.lighting)
    look, look_assets = resolve_look(merge_looks(production.look, episode.look, scene.look, shot.look),
                                     base_dir, canvas)
    cast, figures, cast_assets = resolve_cast(production, episode, scene, shot.cast, base_dir)
    prompt, negative = compose_prompt(production, scene, shot, style, cast, camera, light)
    location = production.location(scene.location)
    width, height = picture_size(look.aspect_ratio, canvas)
    model_job, files = model if model else (None, None)
    if model_job is not None:
        model_job = style_model_hints(production, model_job, style)
    return ShotJob(
        shot_path=path, episode_id=episode.id, scene_id=scene.id, shot_id=shot.id,
        backend=production.backend, engine=render_code_hash(production.backend), seed=shot_seed(production.seed, path),
        language=production.language, prompt=prompt, negative_prompt=negative,
        width=width, height=height, canvas_width=canvas[0], canvas_height=canvas[1], fps=fps, frames=frames,
        camera=camera, lighting=light, look=look, style=style,
        set=Set(location_id=location.id, ground_color=location.ground_color, backdrop_color=location.backdrop_color,
                props=tuple(p.model_dump(mode="json") for p in location.props)),
        cast=cast, figures=figures, model=model_job, files=files,
        assets={**style_assets, **look_assets, **cast_assets},
    )


def style_model_hints(production: Production, model_job: ModelJob, style: StyleJob) -> ModelJob:
    """A style family's steps/guidance hints apply where the spec's model leaves them unset."""
    spec_model = production.model
    update = {}
    for name in ("steps", "guidance_scale"):
        hint = getattr(style, name, None)
        if hint is not None and spec_model is not None and getattr(spec_model, name) is None:
            update[name] = hint
    return model_job.model_copy(update=update) if update else model_job


def plan(production: Production, runtime: Runtime | None = None, base_dir: Path | None = None) -> list[EpisodePlan]:
    """Every episode of the production as an ordered list of shot jobs.

    Generative backends need the runtime (device, threads: part of every key) and the
    folder the spec's model paths are relative to.
    """
    model = resolve_model(production, runtime, base_dir or Path.cwd())
    episodes = []
    for episode in production.episodes:
        jobs = tuple(plan_shot(production, episode, scene, shot, model, base_dir)
                     for scene in episode.scenes for shot in scene.shots)
        episodes.append(EpisodePlan(episode_id=episode.id, title=text_in(episode.title, production.language, production.language),
                                    jobs=jobs))
    return episodes


def find_job(plans: list[EpisodePlan], shot_path: str) -> ShotJob:
    """The job for a shot path like 's01e01/sc01/sh03'; KeyError names the known paths."""
    for episode in plans:
        for job in episode.jobs:
            if job.shot_path == shot_path:
                return job
    known = ", ".join(job.shot_path for episode in plans for job in episode.jobs)
    raise KeyError(f"no shot '{shot_path}' in this production; shots: {known}")
