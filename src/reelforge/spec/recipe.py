"""The steps of a style family's previz recipe, as a family file writes them (docs/styles.md).

Each step is one post-process on the gray-box picture (post/styles.py runs them in order);
`OPS` names each step's model by its `op`. Kept apart from the family file's loading
(spec/styles.py), so the render code that applies a recipe imports only these models.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from reelforge.spec.base import Colour, Strict

# Sizes in a recipe are in pixels of a 1080p picture; a renderer scales them with the picture.
Px = Annotated[float, Field(description="pixels at 1080p (scaled with the picture)")]


class Smooth(Strict):
    """Edge-preserving smoothing: flat washes of colour that keep the edges between them."""

    op: Literal["smooth"]
    method: Literal["bilateral", "recursive"] = Field(
        "bilateral", description="bilateral: OpenCV's bilateral filter; recursive: its edge-preserving "
                                 "recursive filter")
    radius_px: Px = Field(6.0, ge=1, le=32, description="how far colours blend")
    strength: float = Field(0.2, gt=0, le=1, description="colour tolerance: colours closer than this (0–1 of the "
                                                         "full range) blend, edges between more different ones stay")
    work_scale: float = Field(0.5, ge=0.25, le=1, description="filter at this fraction of the picture size "
                                                              "(faster and softer), then scale back")


class Bleed(Strict):
    """Pigment bleeding: edges wander by a seeded, smooth displacement, fixed for the whole shot."""

    op: Literal["bleed"]
    amount_px: Px = Field(3.0, ge=0, le=32, description="largest displacement")
    scale_px: Px = Field(48.0, ge=4, le=512, description="size of the wobbles")


class DarkenEdges(Strict):
    """Pigment pooling: darker rims where tones change, as where a watercolour wash dries."""

    op: Literal["darken-edges"]
    strength: float = Field(0.35, ge=0, le=1, description="darkening at a full black-to-white edge")
    width_px: Px = Field(3.0, ge=0.5, le=32, description="width of the rim")


class Texture(Strict):
    """A paper or canvas texture multiplied into the picture, seeded per shot and fixed in screen space."""

    op: Literal["texture"]
    kind: Literal["paper", "canvas"] = Field("paper", description="paper: grainy fibres; canvas: a woven grid")
    strength: float = Field(0.1, ge=0, le=1, description="brightness variation (0.1 = ±10 %)")
    scale_px: Px = Field(6.0, ge=1, le=128, description="grain size (paper) or thread spacing (canvas)")


class Voronoi(Strict):
    """Stained glass: Voronoi cells, each filled with one colour, with dark leading between them.

    The cells are seeded per shot and fixed in screen space, so they never boil.
    """

    op: Literal["voronoi"]
    cell_px: Px = Field(36.0, ge=6, le=400, description="average cell width")
    jitter: float = Field(0.9, ge=0, le=1, description="0: a regular grid of square cells; 1: irregular cells")
    palette_mix: float = Field(0.0, ge=0, le=1, description="0: each cell's mean colour; 1: the nearest palette "
                                                            "colour (needs a palette)")
    shade: float = Field(0.1, ge=0, le=0.5, description="seeded brightness variation between panes (±)")
    leading_px: Px = Field(3.0, ge=0, le=24, description="width of the dark lines between cells")
    leading_color: Colour = "#151310"


class PaperLayers(Strict):
    """Paper cut-outs: the picture's tones as stacked layers of paper (palette colours), darker ones on top,
    each casting a soft drop shadow on the layers below."""

    op: Literal["paper-layers"]
    split: Literal["tone", "colour"] = Field("tone", description="tone: `layers` bands of brightness; colour: one "
                                                                 "sheet per palette colour, by nearest colour")
    layers: int = Field(5, ge=2, le=12, description="number of sheets when split by tone")
    smooth_px: Px = Field(4.0, ge=0, le=32, description="rounds the cut edges")
    shadow_px: Px = Field(6.0, ge=0, le=48, description="drop-shadow offset")
    shadow_angle_deg: float = Field(45.0, ge=-360, le=360, description="direction the shadow falls "
                                                                      "(0 = right, 90 = down)")
    shadow_blur_px: Px = Field(4.0, ge=0, le=48, description="softness of the shadow")
    shadow_opacity: float = Field(0.45, ge=0, le=1)


class Kuwahara(Strict):
    """Oil-paint strokes: a Kuwahara filter (each pixel takes the mean of its calmest neighbouring square)."""

    op: Literal["kuwahara"]
    radius_px: Px = Field(6.0, ge=1, le=32, description="stroke size")


class InkEdges(Strict):
    """Inked outlines where the picture has edges (OpenCV's Canny detector)."""

    op: Literal["ink-edges"]
    low: float = Field(0.08, gt=0, le=1, description="weakest edge that continues a line (1 = a black-to-white step)")
    high: float = Field(0.2, gt=0, le=1, description="weakest edge that starts a line")
    blur_px: Px = Field(1.5, ge=0, le=16, description="smoothing before edges are found (ignores fine noise)")
    width_px: Px = Field(2.0, ge=0.5, le=16, description="line width")
    color: Colour = "#15120e"
    opacity: float = Field(1.0, ge=0, le=1)

    @field_validator("high")
    @classmethod
    def _high_above_low(cls, v: float, info: ValidationInfo) -> float:
        low = info.data.get("low")
        if low is not None and v < low:
            raise ValueError(f"must be at least 'low' ({low:g}), got {v:g}")
        return v


class Hatching(Strict):
    """Pen hatching by tone on paper: darker tones get more line directions; the darkest is solid ink.

    The tones between `solid_below` and `lightest` are split into one band per angle.
    The lines are fixed in screen space (with a per-shot seeded wobble), so they never boil.
    """

    op: Literal["hatching"]
    angles_deg: tuple[float, ...] = Field((45.0, -45.0, 0.0), min_length=1, max_length=4,
                                          description="one line direction per tone band, lightest band first")
    spacing_px: Px = Field(7.0, ge=2, le=64, description="distance between lines")
    line_px: Px = Field(1.2, ge=0.5, le=16, description="line width")
    lightest: float = Field(0.6, ge=0, le=1, description="tones lighter than this stay bare paper")
    solid_below: float = Field(0.08, ge=0, le=1, description="tones darker than this are solid ink")
    wobble_px: Px = Field(0.8, ge=0, le=8, description="hand-drawn waviness of the lines")
    ink: Colour = "#15120e"
    paper: Colour = "#f4eee0"


class PaletteMap(Strict):
    """Pull every colour toward the nearest palette colour (nearest in CIELAB)."""

    op: Literal["palette-map"]
    mix: float = Field(0.5, ge=0, le=1, description="0: unchanged; 1: palette colours only")


class Adjust(Strict):
    """Saturation, contrast and brightness."""

    op: Literal["adjust"]
    saturation: float = Field(1.0, ge=0, le=4, description="1: unchanged; 0: grey")
    contrast: float = Field(1.0, ge=0, le=4, description="1: unchanged; around mid-grey")
    brightness: float = Field(0.0, ge=-1, le=1, description="added, as a fraction of white")


Step = Annotated[Smooth | Bleed | DarkenEdges | Texture | Voronoi | PaperLayers | Kuwahara | InkEdges | Hatching
                 | PaletteMap | Adjust, Field(discriminator="op")]
OPS: dict[str, type[Strict]] = {model.model_fields["op"].annotation.__args__[0]: model for model in
                                (Smooth, Bleed, DarkenEdges, Texture, Voronoi, PaperLayers, Kuwahara, InkEdges,
                                 Hatching, PaletteMap, Adjust)}
