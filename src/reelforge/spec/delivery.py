"""How finished episodes are delivered: the frame's shape and size, the codec, its bit depth and chroma, the
fonts titles are drawn in; and the named extra deliveries one production can declare beside its main one.

    "delivery": {"aspect_ratio": "16:9", "resolution": "4k", "format": "prores-422-hq"},
    "deliveries": {"vertical": {"aspect_ratio": "9:16", "format": "h264"}}

A named delivery takes every field it does not set from `delivery`. One that keeps the main frame (shape,
size, fps) renders nothing new: its shots have the main delivery's job keys, so it re-encodes their stored
frames. Another shape is framed anew from each shot's camera (a vertical delivery is the camera turned on
its side, never a crop of the 16:9 frame), so its shots are jobs of their own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from reelforge.spec.base import Strict
from reelforge.spec.camera import raise_at
from reelforge.spec.formats import FORMATS, DeliveryFormat  # noqa: F401 (re-exported)

FORMAT_NAMES = tuple(FORMATS)
DELIVERY_ASPECTS = ("16:9", "9:16", "1:1")
RESOLUTIONS = ("1080p", "4k", "8k")
CHROMAS = ("4:2:0", "4:2:2", "4:4:4")
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")
FPS_VALUES = (24, 25, 30)
# A named delivery goes to renders/<name>/: these names are folders of renders/ already (shot ranges, takes).
OUTPUT_FOLDERS = {"shots": "shot renders (--shot)", "takes": "takes (--takes)"}
MAIN_DELIVERY = "main"  # `reelforge render --delivery main`: the production's own `delivery`, never a named one

# What people call a choice, for `validate`'s "did you mean": a resolution by its lines, a codec by its
# family or encoder name (a value that only differs in case is suggested without this table).
SPOKEN_NAMES = {"2160p": "4k", "uhd": "4k", "4320p": "8k", "fhd": "1080p", "hd": "1080p",
                "prores": "prores-422-hq", "prores 422 hq": "prores-422-hq", "prores422hq": "prores-422-hq",
                "prores_ks": "prores-422-hq", "prores 4444": "prores-4444", "dnxhr": "dnxhr-hqx",
                "dnxhd": "dnxhr-hqx", "avid dnxhr hqx": "dnxhr-hqx", "h265": "hevc", "h.265": "hevc",
                "x265": "hevc", "libx265": "hevc", "h.264": "h264", "x264": "h264", "libx264": "h264",
                "avc": "h264", "9x16": "9:16", "16x9": "16:9", "1x1": "1:1", "vertical": "9:16", "square": "1:1"}

# The delivered frame, (width, height), by shape and resolution: the short side is 1080, 2160 or 4320.
SIZES: dict[tuple[str, str], tuple[int, int]] = {
    ("16:9", "1080p"): (1920, 1080), ("16:9", "4k"): (3840, 2160), ("16:9", "8k"): (7680, 4320),
    ("9:16", "1080p"): (1080, 1920), ("9:16", "4k"): (2160, 3840), ("9:16", "8k"): (4320, 7680),
    ("1:1", "1080p"): (1080, 1080), ("1:1", "4k"): (2160, 2160), ("1:1", "8k"): (4320, 4320),
}


class VisibleWatermark(Strict):
    """A visible mark burned into delivered files (text, optionally a logo), by a documented ffmpeg recipe."""

    text: str = Field(min_length=1, max_length=200)
    logo: str | None = Field(None, description="PNG path, relative to the spec")
    position: Literal["top-left", "top-right", "bottom-left", "bottom-right", "center"] = "bottom-right"
    opacity: float = Field(0.6, ge=0, le=1)


def format_problem(format_name: str, bit_depth: int | None, chroma: str | None) -> str | None:
    """Why a format cannot be delivered at that bit depth or chroma (None when it can)."""
    return (problem := _format_problem_at(format_name, bit_depth, chroma)) and problem[1]


def _format_problem_at(format_name: str, bit_depth: int | None, chroma: str | None) -> tuple[str, str] | None:
    """(the field at fault, why) when a format cannot be delivered at that bit depth or chroma."""
    known = FORMATS[format_name]
    if bit_depth is not None and bit_depth not in known.bit_depths:
        allowed = " or ".join(map(str, known.bit_depths))
        return "bit_depth", (f"{format_name} ({known.label}) is delivered at {allowed} bits, not {bit_depth}: "
                             f"set bit_depth to {allowed} or leave it out")
    if chroma is not None and chroma not in known.chromas:
        allowed = " or ".join(known.chromas)
        return "chroma", (f"{format_name} ({known.label}) carries {allowed} chroma, not {chroma}: set chroma to "
                          f"{allowed} or leave it out"
                          + ("; for 4:4:4 use prores-4444" if format_name in ("prores-422-hq", "dnxhr-hqx") else ""))
    return None


class Delivery(Strict):
    """How finished episodes are encoded. Every field here is part of the encode key (except `mark`,
    `watermark` and `fonts`, which act after the episode is assembled and are recorded with it)."""

    fps: int = Field(24, description="frames per second: 24, 25 or 30")
    aspect_ratio: Literal[DELIVERY_ASPECTS] = Field(  # type: ignore[valid-type]
        "16:9", description="the delivered frame's shape: 16:9, vertical 9:16 or square 1:1, each framed from the "
                            "shot's camera (the 36 mm gate spans the frame's long side, so 9:16 sees more above and "
                            "below than 16:9); a look without its own aspect_ratio fills it, one with an "
                            "aspect_ratio is letterboxed or pillarboxed inside it")
    resolution: Literal[RESOLUTIONS] = Field(  # type: ignore[valid-type]
        "1080p", description="the frame's short side: 1080p 1080, 4k 2160, 8k 4320 pixels (16:9 8k: 7680×4320)")
    format: Literal[FORMAT_NAMES] = Field(  # type: ignore[valid-type]
        "h264", description="h264 or hevc (MP4); prores-422-hq, prores-4444 or dnxhr-hqx masters (MOV)")
    bit_depth: Literal[8, 10] | None = Field(
        None, description="bits per sample: 8 or 10 for h264 and hevc (default 8); masters are 10")
    chroma: Literal[CHROMAS] | None = Field(  # type: ignore[valid-type]
        None, description="chroma subsampling: 4:2:0, 4:2:2 or 4:4:4 for h264 and hevc (default 4:2:0); "
                          "prores-422-hq and dnxhr-hqx are 4:2:2, prores-4444 is 4:4:4")
    crf: int = Field(18, ge=0, le=51, description="h264 and hevc quality (lower is better); masters ignore it")
    preset: Literal[PRESETS] = Field(  # type: ignore[valid-type]
        "faster", description="h264 and hevc speed/size trade-off; masters ignore it")
    encoder_threads: int = Field(2, ge=1, le=16, description="encoder threads; the bitstream depends on it")
    mark: bool = Field(False, description="give every delivery an invisible mark that `reelforge trace` reads back")
    watermark: VisibleWatermark | None = None
    fonts: dict[str, str] = Field(
        {}, description="the font file burned titles are drawn with, per language (BCP 47 tag, or \"*\" for every "
                        "language not named), relative to the spec; default: the bundled DejaVu Sans Bold "
                        "(Latin, Greek, Cyrillic). Kept by content hash, like a LUT")

    @field_validator("fps")
    @classmethod
    def _known_fps(cls, v: int) -> int:
        if v not in FPS_VALUES:
            raise ValueError(f"fps must be one of 24, 25, 30, got {v}")
        return v

    @model_validator(mode="after")
    def _format_allows(self) -> Delivery:
        problem = _format_problem_at(self.format, self.bit_depth, self.chroma)
        if problem is not None:  # at the field at fault: `validate` names $.delivery.bit_depth, not $.delivery
            field, why = problem
            raise_at([((field,), getattr(self, field), why)], "Delivery")
        return self

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the delivered frame."""
        return SIZES[(self.aspect_ratio, self.resolution)]

    @property
    def depth(self) -> int:
        """The bit depth delivered: the one set, or the format's."""
        return self.bit_depth if self.bit_depth is not None else FORMATS[self.format].default_bit_depth

    @property
    def sampling(self) -> str:
        """The chroma subsampling delivered: the one set, or the format's."""
        return self.chroma if self.chroma is not None else FORMATS[self.format].default_chroma

    @property
    def suffix(self) -> str:
        """The delivered file's extension: .mp4 or .mov, as the codec expects."""
        return "." + FORMATS[self.format].container


def _as_main(name: str, **limits):
    """A named delivery's field: unset by default (the main delivery's), documented as `delivery`'s own."""
    return Field(None, description=f"{Delivery.model_fields[name].description} (left out: the main delivery's)",
                 **limits)


class NamedDelivery(Strict):
    """An extra delivery beside the main one (a vertical cut, a ProRes master): what it changes.

    Every field left out is the main `delivery`'s. A changed `format` brings that format's own default bit
    depth and chroma unless they are set here too. The visible watermark is the main delivery's unless set
    here (`false`: none, e.g. for a clean master beside watermarked previews); the invisible mark and the
    fonts are always the main delivery's.
    """

    fps: Literal[FPS_VALUES] | None = _as_main("fps")  # type: ignore[valid-type]
    aspect_ratio: Literal[DELIVERY_ASPECTS] | None = _as_main("aspect_ratio")  # type: ignore[valid-type]
    resolution: Literal[RESOLUTIONS] | None = _as_main("resolution")  # type: ignore[valid-type]
    format: Literal[FORMAT_NAMES] | None = _as_main("format")  # type: ignore[valid-type]
    bit_depth: Literal[8, 10] | None = _as_main("bit_depth")
    chroma: Literal[CHROMAS] | None = _as_main("chroma")  # type: ignore[valid-type]
    crf: int | None = _as_main("crf", ge=0, le=51)
    preset: Literal[PRESETS] | None = _as_main("preset")  # type: ignore[valid-type]
    watermark: VisibleWatermark | Literal[False] | None = Field(
        None, description="this delivery's visible watermark: false for none (a clean master), an object for its "
                          "own; default: the main delivery's")


def named_delivery(main: Delivery, named: NamedDelivery) -> Delivery:
    """The full delivery a named one stands for: its own fields over the main delivery's (ValueError if that
    combination cannot be delivered, e.g. a 10-bit ProRes main with an 8-bit-only change)."""
    changes = named.model_dump(exclude_none=True)
    if changes.get("watermark") is False:
        changes["watermark"] = None
    if "format" in changes and changes["format"] != main.format:
        changes.setdefault("bit_depth", None)  # the new format's own defaults, unless set here
        changes.setdefault("chroma", None)
    return Delivery.model_validate({**main.model_dump(), **changes})
