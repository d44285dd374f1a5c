"""Camera moves as a director names them: a move preset plus the parameters it overrides."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from reelforge.spec import presets
from reelforge.spec.base import Strict


class Camera(Strict):
    """A camera move by preset name; the preset gives defaults for every parameter."""

    move: str = "lock-off"
    distance_m: float | None = Field(None, gt=0, description="camera distance from the subject at the start")
    travel_m: float | None = Field(None, ge=0, description="how far the camera travels over the shot")
    height_m: float | None = Field(None, gt=0, le=200)
    focal_length_mm: float | None = Field(None, ge=8, le=300)
    easing: Literal["linear", "ease-in", "ease-out", "ease-in-out"] = "ease-in-out"

    @field_validator("move")
    @classmethod
    def _known_move(cls, v: str) -> str:
        return presets.check_name("camera move", v, presets.CAMERA_MOVES)
