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
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from reelforge.plan.engine import render_code_hash
from reelforge.plan.seeds import shot_seed
from reelforge.spec import presets
from reelforge.spec.model import Camera, Episode, Lighting, Production, Scene, Shot, Style, text_in

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

    IDENTITY_FIELDS: ClassVar[tuple[str, ...]] = ("shot_path", "episode_id", "scene_id", "shot_id")

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


@cache
def kelvin_to_linear_rgb(kelvin: float) -> tuple[float, float, float]:
    """Colour of a light at a colour temperature, as linear sRGB normalised to max 1.

    Uses colour-science (Kang 2002 CCT → xy, then xy → XYZ → linear sRGB);
    rounded so the job key does not depend on the last float bits of the library.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import colour

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


def plan_shot(production: Production, episode: Episode, scene: Scene, shot: Shot) -> ShotJob:
    path = f"{episode.id}/{scene.id}/{shot.id}"
    style = shot.style or scene.style or episode.style or production.style
    camera = resolve_camera(shot.camera or production.camera)
    light = resolve_lighting(shot.lighting or scene.lighting or episode.lighting or production.lighting)
    prompt, negative = compose_prompt(production, scene, shot, style, camera, light)
    location = production.location(scene.location)
    width, height = production.delivery.size
    return ShotJob(
        shot_path=path, episode_id=episode.id, scene_id=scene.id, shot_id=shot.id,
        backend=production.backend, engine=render_code_hash(), seed=shot_seed(production.seed, path),
        language=production.language, prompt=prompt, negative_prompt=negative,
        width=width, height=height, fps=production.delivery.fps, frames=shot.frame_count(production.delivery.fps),
        camera=camera, lighting=light, style=style.preset,
        set=Set(location_id=location.id, ground_color=location.ground_color, backdrop_color=location.backdrop_color,
                props=tuple(p.model_dump(mode="json") for p in location.props)),
        figures=place_figures(production, shot.cast),
    )


def plan(production: Production) -> list[EpisodePlan]:
    """Every episode of the production as an ordered list of shot jobs."""
    episodes = []
    for episode in production.episodes:
        jobs = tuple(plan_shot(production, episode, scene, shot) for scene in episode.scenes for shot in scene.shots)
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
