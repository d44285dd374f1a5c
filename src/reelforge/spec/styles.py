"""Style families: which one a series, episode, scene or shot uses."""

from __future__ import annotations

from pydantic import field_validator

from reelforge.spec import presets
from reelforge.spec.base import Strict


class Style(Strict):
    preset: str

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str) -> str:
        return presets.check_name("style preset", v, presets.STYLES)
