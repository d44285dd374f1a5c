"""Lighting presets with the key-light direction and colour temperature a director may override."""

from __future__ import annotations

from pydantic import Field, field_validator

from reelforge.spec import presets
from reelforge.spec.base import Strict


class Lighting(Strict):
    """A lighting preset with optional key-light direction and colour temperature."""

    preset: str
    azimuth_deg: float | None = Field(None, ge=-360, le=360)
    elevation_deg: float | None = Field(None, ge=-10, le=90)
    kelvin: float | None = Field(None, ge=1000, le=20000)

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str) -> str:
        return presets.check_name("lighting preset", v, presets.LIGHTING)
