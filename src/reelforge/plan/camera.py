"""A shot's camera move, fully resolved from its preset and overrides (the previz computes the path from it)."""

from __future__ import annotations

from reelforge.plan.base import Frozen
from reelforge.spec import presets
from reelforge.spec.camera import Camera


class CameraPath(Frozen):
    """A camera move with every parameter resolved from its preset."""

    move: str
    distance_m: float
    travel_m: float
    height_m: float
    focal_length_mm: float
    easing: str


def resolve_camera(camera: Camera) -> CameraPath:
    base = presets.CAMERA_MOVES[camera.move]
    given = camera.model_dump(exclude_none=True)
    return CameraPath(
        move=camera.move,
        easing=camera.easing,
        **{name: float(given.get(name, base[name])) for name in ("distance_m", "travel_m", "height_m", "focal_length_mm")},
    )


def camera_phrase(camera: CameraPath) -> str:
    """The words a generative backend's prompt gets for this move."""
    return presets.CAMERA_MOVES[camera.move]["phrase"]
