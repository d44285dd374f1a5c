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
from typing import ClassVar

from pydantic import Field

from reelforge.plan.base import Frozen
from reelforge.plan.blocking import resolve_blocking
from reelforge.plan.camera import CameraPath, camera_phrase, resolve_camera
from reelforge.plan.cast import CastMember, Figure, resolve_cast
from reelforge.plan.code_hash import render_code_hash
from reelforge.plan.framing import model_size, picture_size
from reelforge.plan.lighting import Light, lighting_phrase, resolve_lighting
from reelforge.plan.look import LookJob, merge_looks, resolve_look
from reelforge.plan.style import StyleJob, resolve_style
from reelforge.plan.takes import take_seed
from reelforge.spec.model import (
    Episode,
    Production,
    Scene,
    Shot,
    text_in,
)


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
    width: int  # the size the model samples at (see `for_picture`); frames are scaled to the job's size afterwards
    height: int
    clip_frames: int | None
    dtype: str
    device: str
    threads: int
    # Planning only, never dumped nor keyed (the size it gives is): the multiple a square picture's model
    # size is rounded to, while width × height is still the backend's landscape default. None: the spec
    # set the size, which is used as set.
    size_step: int | None = Field(None, exclude=True)

    def for_picture(self, picture: tuple[int, int]) -> ModelJob:
        """The model job for one shot's picture: a default size turned to the picture's orientation
        (plan/framing.py: `model_size`), a size the spec set kept as it is."""
        if self.size_step is None:
            return self
        width, height = model_size((self.width, self.height), picture, self.size_step)
        return self.model_copy(update={"width": width, "height": height, "size_step": None})


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
    # Which take of the shot this is (plan/takes.py): None for take 1. Recorded, not keyed: the seed it
    # derives is, so takes have keys of their own while a shot without takes keeps its key.
    take: int | None = None
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

    IDENTITY_FIELDS: ClassVar[tuple[str, ...]] = ("shot_path", "episode_id", "scene_id", "shot_id", "take", "files",
                                                  "assets")

    @property
    def key(self) -> str:
        """SHA-256 of the canonical JSON of every pixel-affecting field."""
        return key_of_job(self.model_dump(mode="json"))


def key_of_job(job_json: dict) -> str:
    """The key of a job as JSON (ShotJob.model_dump(mode="json"), or a recorded `jobs.job_json`): the
    SHA-256 of its canonical JSON without the identity fields. From the JSON alone, so a recorded job
    is checked against its key without today's model filling in anything it did not record."""
    payload = {name: value for name, value in job_json.items() if name not in ShotJob.IDENTITY_FIELDS}
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
    location = production.location(scene.location)
    blocking = resolve_blocking(location, shot.cast, (shot.blocking, scene.blocking, episode.blocking,
                                                      production.blocking), camera,
                                [c.id for c in production.characters])
    cast, figures, cast_assets = resolve_cast(production, episode, scene, shot.cast, base_dir, blocking)
    prompt, negative = compose_prompt(production, scene, shot, style, cast, camera, light)
    width, height = picture_size(look.aspect_ratio, canvas)
    model_job, files = model if model else (None, None)
    if model_job is not None:
        model_job = style_model_hints(production, model_job.for_picture((width, height)), style)
    return ShotJob(
        shot_path=path, episode_id=episode.id, scene_id=scene.id, shot_id=shot.id, take=_recorded_take(shot.take),
        backend=production.backend, engine=render_code_hash(production.backend),
        seed=take_seed(production.seed, path, shot.take),
        language=production.language, prompt=prompt, negative_prompt=negative,
        width=width, height=height, canvas_width=canvas[0], canvas_height=canvas[1], fps=fps, frames=frames,
        camera=camera, lighting=light, look=look, style=style,
        set=Set(location_id=location.id, ground_color=location.ground_color, backdrop_color=location.backdrop_color,
                props=tuple(p.model_dump(mode="json") for p in location.props)),
        cast=cast, figures=figures, model=model_job, files=files,
        assets={**style_assets, **look_assets, **cast_assets},
    )


def _recorded_take(take: int | None) -> int | None:
    """Take 1 is recorded as none, as every job rendered before takes existed was."""
    return None if take is None or take == 1 else take


def with_take(job: ShotJob, master_seed: int, take: int) -> ShotJob:
    """Take `take` of a planned shot: the same job with the take's seed (nothing else a take changes)."""
    return job.model_copy(update={"take": _recorded_take(take), "seed": take_seed(master_seed, job.shot_path, take)})


def style_model_hints(production: Production, model_job: ModelJob, style: StyleJob) -> ModelJob:
    """A style family's steps/guidance hints apply where the spec's model leaves them unset."""
    spec_model = production.model
    update = {}
    for name in ("steps", "guidance_scale"):
        hint = getattr(style, name, None)
        if hint is not None and spec_model is not None and getattr(spec_model, name) is None:
            update[name] = hint
    return model_job.model_copy(update=update) if update else model_job


def plan(production: Production, base_dir: Path | None = None,
         model: tuple[ModelJob, ModelFiles] | None = None) -> list[EpisodePlan]:
    """Every episode of the production as an ordered list of shot jobs.

    `base_dir` is the folder the spec's file paths are relative to. A generative backend needs
    its model resolved for this machine first (backends/models.py: `resolve_model`, which keys
    the device and thread count too); previz needs none.
    """
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
