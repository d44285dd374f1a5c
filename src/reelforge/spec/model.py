"""The production model: series → episodes → scenes → shots, with cast, locations and looks.

A production spec is plain JSON validated by these pydantic models. Fields that
describe *how* a shot is filmed (camera, lighting, style) are given by preset
name plus optional parameters; the names are checked against the registries in
`reelforge.spec.presets` so a typo is an error, not a silent default.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from reelforge.spec.base import ID_PATTERN, Color, Id, LocalizedText, Strict, text_in  # noqa: F401 (re-exported)
from reelforge.spec.blocking import Blocking, Point
from reelforge.spec.blocking_checks import blocking_problems
from reelforge.spec.camera import Camera, check_cameras, raise_at
from reelforge.spec.character import Character, Wardrobe  # noqa: F401 (re-exported)
from reelforge.spec.delivery import (  # noqa: F401 (re-exported)
    MAIN_DELIVERY,
    OUTPUT_FOLDERS,
    Delivery,
    NamedDelivery,
    VisibleWatermark,
    named_delivery,
)
from reelforge.spec.dialogue import DialogueLine, dialogue_time_problems
from reelforge.spec.lighting import Lighting
from reelforge.spec.look import Look
from reelforge.spec.store import StoreSettings
from reelforge.spec.styles import Style

SPEC_FORMAT = "reelforge/1"

# A shot longer than an hour is a mistake in a spec, not a shot.
MAX_SHOT_SECONDS = 3600
MAX_SHOT_FRAMES = MAX_SHOT_SECONDS * 30
# Takes of a shot are numbered 1 to this (plan/takes.py draws each its seed; `render --takes N` asks N at once).
MAX_TAKES = 16
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class Prop(Strict):
    """A gray-box stand-in for part of a location (a building, a crate, a tree)."""

    id: Id | None = Field(None, description="a name blocking can walk to or sit by (\"to\": \"crates\")")
    shape: Literal["box", "cylinder"] = "box"
    position_m: tuple[float, float] = Field(description="x (right) and z (away from camera) on the ground")
    size_m: tuple[float, float, float] = Field((1.0, 1.0, 1.0), description="width, height, depth")
    color: Color = "#8a8a8a"

    @field_validator("size_m")
    @classmethod
    def _positive_size(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(v) <= 0:
            raise ValueError("every size must be greater than 0")
        return v


class Location(Strict):
    id: Id
    name: LocalizedText
    description: LocalizedText = ""
    ground_color: Color = "#6b6b63"
    backdrop_color: Color = "#9aa0a8"
    props: list[Prop] = []
    marks: dict[Id, Point] = Field({}, description="named spots on the ground plan ([x, z] metres) that blocking "
                                                   "can name (\"mark\": \"quay-end\")")
    area_m: tuple[float, float, float, float] = Field(
        (-24.0, -24.0, 24.0, 24.0), description="the set's floor on the plan: x_min, z_min, x_max, z_max in metres; "
                                                "blocking must stay inside it")

    @field_validator("area_m")
    @classmethod
    def _area_not_empty(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        if v[0] >= v[2] or v[1] >= v[3]:
            raise ValueError(f"area_m is [x_min, z_min, x_max, z_max]: x_min must be less than x_max and z_min less "
                             f"than z_max, got [{', '.join(f'{n:g}' for n in v)}]")
        return v


class Shot(Strict):
    id: Id
    prompt: LocalizedText = Field(description="what happens in the shot")
    frames: int | None = Field(None, le=MAX_SHOT_FRAMES, description="length in frames (give this or seconds)")
    seconds: float | None = Field(None, le=MAX_SHOT_SECONDS, description="length in seconds (give this or frames)")
    cast: list[str] = Field([], description="character ids, left to right")
    camera: Camera | None = None
    lighting: Lighting | None = None
    style: Style | None = None
    look: Look | None = None
    blocking: Blocking = Field({}, description="what each cast member does: start mark, facing and timed actions "
                                               "(walk, run, turn, look-at, sit, stand, gesture, hold); a character "
                                               "not named here takes the scene's (episode's, production's) entry")
    dialogue: list[DialogueLine] = Field([], description="lines spoken in the shot, delivered as subtitles "
                                                         "(never part of the picture or the job key)")
    take: int | None = Field(None, ge=1, le=MAX_TAKES,
                             description="which take the shot renders: take k derives its own seed "
                                         "(docs/determinism.md); absent or 1: the shot's own seed")

    @model_validator(mode="after")
    def _one_length(self) -> Shot:
        if (self.frames is None) == (self.seconds is None):
            raise ValueError("give the shot's length as exactly one of 'frames' or 'seconds'")
        if self.frames is not None and self.frames <= 0:
            raise ValueError(f"frame count must be greater than 0, got {self.frames}")
        if self.seconds is not None and not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise ValueError(f"length in seconds must be greater than 0, got {self.seconds}")
        return self

    def frame_count(self, fps: int) -> int:
        """Length in frames; seconds are rounded to the nearest frame, halves up (at least one)."""
        if self.frames is not None:
            return self.frames
        return max(1, math.floor(self.seconds * fps + 0.5))


class Scene(Strict):
    id: Id
    title: LocalizedText = ""
    brief: LocalizedText = Field("", description="what the scene is for, for the crew (never part of a prompt)")
    location: str
    camera: Camera | None = None
    lighting: Lighting | None = None
    style: Style | None = None
    look: Look | None = None
    blocking: Blocking = Field({}, description="blocking every shot of the scene inherits, per character")
    shots: list[Shot] = Field(min_length=1)


class Episode(Strict):
    id: Id
    title: LocalizedText = ""
    camera: Camera | None = None
    lighting: Lighting | None = None
    style: Style | None = None
    look: Look | None = None
    blocking: Blocking = Field({}, description="blocking every shot of the episode inherits, per character")
    scenes: list[Scene] = Field(min_length=1)


class Series(Strict):
    id: Id
    title: LocalizedText


class Signing(Strict):
    """A studio's own C2PA certificate chain (PEM files, relative to the spec) instead of the production's."""

    chain: str = Field(description="PEM: the signing certificate first, then its intermediates")
    key: str = Field(description="PEM private key of the signing certificate")
    trust_anchor: str = Field(description="PEM root certificate that verification trusts")
    tsa_url: str | None = Field(None, description="a timestamp authority; none by default (signing stays offline)")


BACKENDS = ("previz", "sdxl", "animatediff", "animatediff-sdxl", "wan")
GENERATIVE_BACKENDS = BACKENDS[1:]
SCHEDULERS = ("checkpoint", "euler", "euler-ancestral", "ddim", "dpm++-2m", "unipc", "flow-match-euler")


class Model(Strict):
    """A generative model the studio brings: local checkpoint files and how to sample them.

    Paths are relative to the spec's folder (or absolute). Unset sampling fields take
    the backend's defaults (`reelforge.backends.defaults`); every resolved value is part
    of each shot's job key.
    """

    checkpoint: str = Field(description="a local diffusers folder (SDXL: or a single .safetensors file)")
    config: str | None = Field(None, description="SDXL single file only: a local diffusers folder of the same "
                                                 "architecture that supplies configs and tokenizers")
    motion_adapter: str | None = Field(None, description="AnimateDiff: a local MotionAdapter folder, when the "
                                                         "checkpoint is a plain Stable Diffusion folder")
    controlnet: str | None = Field(None, description="SDXL: a local depth ControlNet folder, conditioned on previz depth")
    controlnet_scale: float = Field(0.5, ge=0, le=2)
    ip_adapter: str | None = Field(None, description="SDXL / AnimateDiff: a local IP-Adapter folder (weights and "
                                                     "image encoder) that conditions cast characters on their "
                                                     "ip_adapter_image")
    ip_adapter_scale: float = Field(0.6, ge=0, le=2)
    conditioning: Literal["previz", "text"] = Field(
        "previz", description="previz: img2img / video-to-video from the previz render; text: from the prompt alone")
    steps: int | None = Field(None, ge=1, le=200, description="denoising steps")
    guidance_scale: float | None = Field(None, ge=0, le=30)
    strength: float | None = Field(None, gt=0, le=1, description="how far from the previz the model may go (img2img)")
    scheduler: Literal[SCHEDULERS] = "checkpoint"  # type: ignore[valid-type]
    width: int | None = Field(None, ge=64, le=4096, multiple_of=16, description="the model's native width in pixels")
    height: int | None = Field(None, ge=64, le=4096, multiple_of=16, description="the model's native height in pixels")
    clip_frames: int | None = Field(None, ge=1, le=257, description="clip backends: frames rendered per window")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: float32 on CPU, bfloat16 on CUDA")


class Production(Strict):
    format: Literal["reelforge/1"] = Field(SPEC_FORMAT, description="spec format version")
    series: Series
    seed: int = Field(ge=0, le=2**63 - 1, description="master seed; every other seed derives from it")
    language: str = Field("en", description="source language (BCP 47); prompts are resolved in it")
    languages: list[str] = Field([], description="languages delivered (BCP 47 tags), the source language among "
                                                 "them; default: the source language only")
    backend: Literal[BACKENDS] = Field("previz", description="previz (built in) or a diffusers model: "  # type: ignore[valid-type]
                                                            "give its checkpoint in 'model'")
    model: Model | None = None
    delivery: Delivery = Delivery()
    deliveries: dict[Id, NamedDelivery] = Field(
        {}, description="extra deliveries by name (e.g. a 9:16 cut, a ProRes master), each written to its own "
                        "folder of renders/; every field left out is the main delivery's")
    signing: Signing | None = Field(None, description="sign with the studio's own chain instead of the "
                                                     "production's identity (made by `reelforge init`)")
    style: Style = Field(Style(preset="gray-box"), description="the series' style family, inherited by every "
                                                                "episode, scene and shot that sets none")
    lighting: Lighting = Lighting(preset="overcast")
    camera: Camera = Camera()
    look: Look = Look()
    blocking: Blocking = Field({}, description="blocking every shot inherits, per character")
    characters: list[Character] = []
    locations: list[Location] = Field(min_length=1)
    episodes: list[Episode] = Field(min_length=1)
    store: StoreSettings = Field(StoreSettings(), description="how much of the frame store the production keeps "
                                                              "(a size budget; how long superseded frames stay)")

    @field_validator("language")
    @classmethod
    def _language_tag(cls, v: str) -> str:
        if not LANGUAGE_TAG.match(v):
            raise ValueError(f"'{v}' is not a BCP 47 language tag (e.g. 'en', 'fr-CA')")
        return v

    @model_validator(mode="after")
    def _camera_keyframes_fit_shots(self) -> Production:
        check_cameras(self)  # needs fps, cast and inheritance: errors name each field's own path
        return self

    @model_validator(mode="after")
    def _named_deliveries_can_be_made(self) -> Production:
        """Each named delivery, merged over the main one, can be delivered; a problem is reported at the named
        delivery's own field when it set the value at fault ($.deliveries.vertical.chroma), else at the named
        delivery ($.deliveries.vertical: the value came from $.delivery)."""
        problems = []
        for name, named in self.deliveries.items():
            if name == MAIN_DELIVERY:
                problems.append((("deliveries", name), named.model_dump(exclude_none=True),
                                 f"'{MAIN_DELIVERY}' names the main delivery (`reelforge render --delivery "
                                 f"{MAIN_DELIVERY}`): give this one another name, e.g. 'master' or 'vertical'"))
                continue
            if name in OUTPUT_FOLDERS:
                problems.append((("deliveries", name), named.model_dump(exclude_none=True),
                                 f"'{name}' is the folder of renders/ that {OUTPUT_FOLDERS[name]} go to: give this "
                                 "delivery another name, e.g. 'master' or 'vertical'"))
                continue
            try:
                named_delivery(self.delivery, named)
            except ValueError as exc:  # pydantic's ValidationError is one: its first message says why
                errors = getattr(exc, "errors", None)
                first = errors()[0] if errors else {"msg": str(exc), "loc": ()}
                reason = first["msg"].removeprefix("Value error, ")
                field = first["loc"][0] if first["loc"] else None
                own = field in named.model_fields_set and getattr(named, field) is not None
                loc = ("deliveries", name, field) if own else ("deliveries", name)
                problems.append((loc, getattr(named, field) if own else named.model_dump(exclude_none=True), reason))
        raise_at(problems, "Production")
        return self

    @model_validator(mode="after")
    def _blocking_fits(self) -> Production:
        raise_at(blocking_problems(self), "Production")  # needs cast, locations and fps: each at its own field
        return self

    @field_validator("languages")
    @classmethod
    def _language_tags(cls, v: list[str]) -> list[str]:
        for tag in v:
            if not LANGUAGE_TAG.match(tag):
                raise ValueError(f"'{tag}' is not a BCP 47 language tag (e.g. 'en', 'fr-CA')")
        repeated = sorted({tag for tag in v if v.count(tag) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} given more than once")
        return v

    @model_validator(mode="after")
    def _languages_and_dialogue_times(self) -> Production:
        problems = []
        if self.languages and self.language not in self.languages:
            problems.append((("languages",), self.languages, f"the source language '{self.language}' (from "
                             f"$.language) must be among the languages delivered: {', '.join(self.languages)}"))
        problems += dialogue_time_problems(self)  # needs fps: each names the line's own start_s / end_s
        raise_at(problems, "Production")
        return self

    def delivery_languages(self) -> list[str]:
        """The languages this production delivers, source first when none are declared."""
        return list(self.languages) or [self.language]

    def character(self, character_id: str) -> Character:
        return next(c for c in self.characters if c.id == character_id)

    def location(self, location_id: str) -> Location:
        return next(loc for loc in self.locations if loc.id == location_id)

    def episode(self, episode_id: str) -> Episode:
        return next(e for e in self.episodes if e.id == episode_id)
