"""A shot's camera look, merged field by field from production → episode → scene → shot."""

from __future__ import annotations

from reelforge.plan.base import Frozen
from reelforge.spec.look import Look

# Picture aspect ratio as width / height.
ASPECT_VALUES = {"16:9": 16 / 9, "1.85:1": 1.85, "2.39:1": 2.39, "4:3": 4 / 3, "1:1": 1.0, "9:16": 9 / 16}


class LookJob(Frozen):
    aspect_ratio: str


def merge_looks(*looks: Look | None) -> Look:
    """Outermost first: each later look overrides the fields it sets."""
    merged: dict = {}
    for look in looks:
        if look is not None:
            merged.update(look.model_dump(exclude_none=True, exclude_unset=True))
    return Look(**merged)


def picture_size(aspect_ratio: str, canvas: tuple[int, int]) -> tuple[int, int]:
    """The largest even-sized picture of that aspect ratio that fits the canvas (letterbox or pillarbox)."""
    width, height = canvas
    ratio = ASPECT_VALUES[aspect_ratio]
    if ratio >= width / height:
        pic_w, pic_h = width, int(round(width / ratio / 2)) * 2
    else:
        pic_w, pic_h = int(round(height * ratio / 2)) * 2, height
    return pic_w, pic_h


def resolve_look(look: Look, base_dir, canvas: tuple[int, int]) -> tuple[LookJob, dict[str, str]]:
    """The resolved look and the asset files it needs (sha256 → path)."""
    return LookJob(aspect_ratio=look.aspect_ratio or "16:9"), {}
