"""Spec → shot jobs: everything a backend needs to render a shot, fully resolved.

A ShotJob carries no references back into the spec: presets are expanded,
inheritance (series → episode → scene → shot) is applied and text is resolved in
the render language. The job key hashes exactly the fields that can change a
pixel, so an edit to one shot changes that shot's key and nothing else's.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

from reelforge.plan.engine import render_code_hash
from reelforge.plan.seeds import shot_seed
from reelforge.spec import presets
from reelforge.spec.model import (
    Camera,
    Episode,
    Lighting,
    Production,
    Scene,
    Shot,
    Style,
    text_in,
)

if TYPE_CHECKING:
    from reelforge.backends.runtime import Runtime

FIGURE_SPACING_M = 1.1


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CameraPath(Frozen):
    """A camera move with every parameter resolved from its preset."""

    move: str
    distance_m: float
    travel_m: float
    height_m: float
    focal_length_mm: float
    easing: str


class Light(Frozen):
    preset: str
    azimuth_deg: float
    elevation_deg: float
    kelvin: float
    key_rgb: tuple[float, float, float]  # linear RGB of the key light, max channel 1
    key: float
    ambient: float
    sky_top: str
    sky_horizon: str


class Figure(Frozen):
    """A cast character's gray-box stand-in: where it stands and what it wears."""

    character_id: str
    x_m: float
    z_m: float
    height_m: float
    top: str
    bottom: str
    shoes: str
    skin: str
    hair: str


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
    width: int
    height: int
    fps: int
    frames: int
    camera: CameraPath
    lighting: Light
    style: str
    set: Set
    figures: tuple[Figure, ...]
    model: ModelJob | None = None  # None for previz
    files: ModelFiles | None = None  # not in the key: moving a checkpoint folder re-renders nothing

    IDENTITY_FIELDS: ClassVar[tuple[str, ...]] = ("shot_path", "episode_id", "scene_id", "shot_id", "files")

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


def _import_colour():
    """Import colour-science without leaving its matplotlib stand-ins behind.

    Without matplotlib, colour-science puts `unittest.mock.MagicMock` objects into
    `sys.modules` under matplotlib's module names; `importlib.util.find_spec` then
    raises on them, which breaks any later import that probes for matplotlib
    (diffusers does, at import). The stand-ins are removed once colour is loaded.
    """
    import sys
    from unittest.mock import MagicMock

    import colour

    for name in [n for n, m in sys.modules.items() if isinstance(m, MagicMock)]:
        del sys.modules[name]
    return colour


@cache
def kelvin_to_linear_rgb(kelvin: float) -> tuple[float, float, float]:
    """Colour of a light at a colour temperature, as linear sRGB normalised to max 1.

    Uses colour-science (Kang 2002 CCT → xy, then xy → XYZ → linear sRGB);
    rounded so the job key does not depend on the last float bits of the library.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        colour = _import_colour()

        xy = colour.temperature.CCT_to_xy(kelvin, method="Kang 2002")
        rgb = colour.XYZ_to_sRGB(colour.xy_to_XYZ(xy), apply_cctf_encoding=False)
    rgb = [max(float(c), 0.0) for c in rgb]
    peak = max(rgb)
    return tuple(round(c / peak, 4) for c in rgb)  # type: ignore[return-value]


def resolve_camera(camera: Camera) -> CameraPath:
    base = presets.CAMERA_MOVES[camera.move]
    given = camera.model_dump(exclude_none=True)
    return CameraPath(
        move=camera.move,
        easing=camera.easing,
        **{name: float(given.get(name, base[name])) for name in ("distance_m", "travel_m", "height_m", "focal_length_mm")},
    )


def resolve_lighting(lighting: Lighting) -> Light:
    base = presets.LIGHTING[lighting.preset]
    given = lighting.model_dump(exclude_none=True)
    kelvin = float(given.get("kelvin", base["kelvin"]))
    return Light(
        preset=lighting.preset,
        azimuth_deg=float(given.get("azimuth_deg", base["azimuth_deg"])),
        elevation_deg=float(given.get("elevation_deg", base["elevation_deg"])),
        kelvin=kelvin,
        key_rgb=kelvin_to_linear_rgb(kelvin),
        key=base["key"],
        ambient=base["ambient"],
        sky_top=base["sky_top"],
        sky_horizon=base["sky_horizon"],
    )


def compose_prompt(production: Production, scene: Scene, shot: Shot, style: Style,
                   camera: CameraPath, light: Light) -> tuple[str, str]:
    """The prompt a generative backend sees, in a fixed order; previz records it for the key."""
    lang = production.language
    location = production.location(scene.location)
    parts = [presets.STYLES[style.preset]["prompt"], text_in(shot.prompt, lang, lang)]
    for character_id in shot.cast:
        character = production.character(character_id)
        looks = [text_in(character.description, lang, lang), text_in(character.hair, lang, lang),
                 text_in(character.wardrobe.description, lang, lang)]
        parts.append(", ".join([text_in(character.name, lang, lang)] + [x for x in looks if x]))
    parts += [text_in(location.description, lang, lang) or text_in(location.name, lang, lang),
              presets.LIGHTING[light.preset]["phrase"], presets.CAMERA_MOVES[camera.move]["phrase"]]
    prompt = ". ".join(p.strip() for p in parts if p and p.strip())
    return prompt, presets.STYLES[style.preset]["negative"]


def place_figures(production: Production, cast: list[str]) -> tuple[Figure, ...]:
    """Cast stands left to right in spec order, centred on the subject."""
    figures = []
    for i, character_id in enumerate(cast):
        c = production.character(character_id)
        figures.append(Figure(
            character_id=c.id, x_m=round((i - (len(cast) - 1) / 2) * FIGURE_SPACING_M, 6), z_m=0.0,
            height_m=c.height_m, top=c.wardrobe.top, bottom=c.wardrobe.bottom, shoes=c.wardrobe.shoes,
            skin=c.skin_color, hair=c.hair_color,
        ))
    return tuple(figures)


def _resolve_path(value: str | None, base_dir: Path) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


def _check_files(backend: str, files: dict[str, Path | None]) -> None:
    """Every file the model needs is there, checked before any render starts (errors name the spec field)."""
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
              ("controlnet", lambda path: check_model_folder(path, "ControlNet"))]
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
             for name in ("checkpoint", "config", "motion_adapter", "controlnet")}
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
        conditioning=conditioning, steps=pick("steps"), guidance_scale=float(pick("guidance_scale")),
        strength=float(pick("strength")) if uses_strength else None, scheduler=model.scheduler,
        width=pick("width"), height=pick("height"), clip_frames=pick("clip_frames"),
        dtype=resolve_dtype(model.dtype, runtime.device), device=runtime.device, threads=runtime.threads,
    ), ModelFiles(**{name: str(path) if path is not None else None for name, path in files.items()})


def plan_shot(production: Production, episode: Episode, scene: Scene, shot: Shot,
              model: tuple[ModelJob, ModelFiles] | None = None) -> ShotJob:
    path = f"{episode.id}/{scene.id}/{shot.id}"
    style = shot.style or scene.style or episode.style or production.style
    camera = resolve_camera(shot.camera or production.camera)
    light = resolve_lighting(shot.lighting or scene.lighting or episode.lighting or production.lighting)
    prompt, negative = compose_prompt(production, scene, shot, style, camera, light)
    location = production.location(scene.location)
    width, height = production.delivery.size
    return ShotJob(
        shot_path=path, episode_id=episode.id, scene_id=scene.id, shot_id=shot.id,
        backend=production.backend, engine=render_code_hash(production.backend), seed=shot_seed(production.seed, path),
        language=production.language, prompt=prompt, negative_prompt=negative,
        width=width, height=height, fps=production.delivery.fps, frames=shot.frame_count(production.delivery.fps),
        camera=camera, lighting=light, style=style.preset,
        set=Set(location_id=location.id, ground_color=location.ground_color, backdrop_color=location.backdrop_color,
                props=tuple(p.model_dump(mode="json") for p in location.props)),
        figures=place_figures(production, shot.cast),
        model=model[0] if model else None, files=model[1] if model else None,
    )


def plan(production: Production, runtime: Runtime | None = None, base_dir: Path | None = None) -> list[EpisodePlan]:
    """Every episode of the production as an ordered list of shot jobs.

    Generative backends need the runtime (device, threads: part of every key) and the
    folder the spec's model paths are relative to.
    """
    model = resolve_model(production, runtime, base_dir or Path.cwd())
    episodes = []
    for episode in production.episodes:
        jobs = tuple(plan_shot(production, episode, scene, shot, model)
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
