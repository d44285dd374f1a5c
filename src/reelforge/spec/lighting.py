"""Lighting presets with the key-light direction, colour temperature and grade a director may override.

    "lighting": {"preset": "magic-hour", "azimuth_deg": -40, "kelvin": 2900, "saturation": 1.3}

A preset lights the previz (key direction, levels, sky), grades every backend's frames
(white balance from the colour temperature, contrast, saturation) and adds its phrase
to the prompt. Any parameter not given comes from the preset (`spec/presets.py`).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from reelforge.spec import presets
from reelforge.spec.base import Strict


class Lighting(Strict):
    """A lighting preset with optional key-light direction, colour temperature and grade."""

    preset: str
    azimuth_deg: float | None = Field(None, ge=-360, le=360, description="key light around the subject: "
                                      "0 = from behind the camera, 90 = from the right")
    elevation_deg: float | None = Field(None, ge=-10, le=90, description="key light above the horizon")
    kelvin: float | None = Field(None, ge=1000, le=20000, description="key-light colour temperature; the grade's "
                                 "white balance shifts frames warmer below 6500 K and cooler above")
    white_balance: float | None = Field(None, ge=0, le=1, description="how much of that colour shift the grade "
                                        "applies (0 = none, 1 = a camera balanced for 6500 K)")
    contrast: float | None = Field(None, ge=0.5, le=2, description="grade contrast: slope at mid-grey (1 = unchanged)")
    saturation: float | None = Field(None, ge=0, le=2, description="grade saturation (0 = grey, 1 = unchanged)")

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str) -> str:
        return presets.check_name("lighting preset", v, presets.LIGHTING)
