"""Camera looks: the picture's aspect ratio and what the lens and film add to it.

A look is inherited field by field: production → episode → scene → shot, each
level overriding only the fields it sets. `false` switches an inherited depth of
field or LUT off; a strength of 0 does the same for grain and vignette, and a
shutter of 0 for motion blur.

    "look": {"aspect_ratio": "2.39:1", "depth_of_field": {"f_stop": 1.8}, "shutter_deg": 180,
             "grain": 0.3, "vignette": 0.4, "lut": "luts/teal-orange.cube", "lut_strength": 0.8}

The focal length stays on the camera (`camera.focal_length_mm`): it is part of the
move, which may change it over the shot.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from reelforge.spec.base import Strict

ASPECT_RATIOS = ("16:9", "1.85:1", "2.39:1", "4:3", "1:1", "9:16")


class DepthOfField(Strict):
    """A thin lens (a 36 mm gate along the frame's long side): the blur of what is off the focus plane (previz only)."""

    f_stop: float = Field(2.8, ge=0.7, le=64, description="aperture as an f-number: smaller is shallower focus")
    focus_m: float | None = Field(None, gt=0, le=10000,
                                  description="focus distance in metres (default: the subject, frame by frame)")


class Look(Strict):
    aspect_ratio: Literal[ASPECT_RATIOS] | None = Field(  # type: ignore[valid-type]
        None, description="picture aspect ratio, letterboxed or pillarboxed in the delivered frame (default: the "
                          "delivery's own shape, 16:9, 9:16 or 1:1, filling it)")
    depth_of_field: DepthOfField | Literal[False] | None = Field(
        None, description="lens blur off the focus plane on previz; false switches an inherited one off")
    shutter_deg: float | None = Field(
        None, ge=0, le=360,
        description="the shutter angle (0 = no motion blur; 180 is the film look): each frame blurs along its "
                    "motion over shutter/360 of a frame interval, from the previz's exact motion")
    grain: float | None = Field(None, ge=0, le=1, description="film grain strength, seeded per frame (0 = none)")
    vignette: float | None = Field(None, ge=0, le=1, description="darkening toward the corners (0 = none)")
    lut: str | Literal[False] | None = Field(
        None, description="a .cube 3D (or 1D) LUT file, relative to the spec; false switches an inherited one off")
    lut_strength: float | None = Field(None, ge=0, le=1, description="mix of the LUT's result (default 1)")

    @field_validator("depth_of_field", mode="before")
    @classmethod
    def _object_or_false(cls, v: object) -> object:
        if v is not None and v is not False and not isinstance(v, dict | DepthOfField):
            raise ValueError(f"expected an object like {{\"f_stop\": 2.8}}, or false to switch an inherited "
                             f"depth of field off, got {_describe(v)}")
        return v

    @field_validator("lut", mode="before")
    @classmethod
    def _cube_file(cls, v: object) -> object:
        if v is not None and v is not False and not isinstance(v, str):
            raise ValueError(f"expected the path of a .cube file, or false to switch an inherited LUT off, "
                             f"got {_describe(v)}")
        if isinstance(v, str) and not v.lower().endswith(".cube"):
            raise ValueError(f"a LUT must be a .cube file, got '{v}'")
        return v


def _describe(value: object) -> str:
    if value is True:
        return "true"
    if isinstance(value, str):
        return f"the string \"{value}\""
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"the {type(value).__name__} {value!r}"
