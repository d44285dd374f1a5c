"""Camera looks: the picture's aspect ratio and what the lens and film add to it.

A look is inherited field by field: production → episode → scene → shot, each
level overriding only the fields it sets.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from reelforge.spec.base import Strict

ASPECT_RATIOS = ("16:9", "1.85:1", "2.39:1", "4:3", "1:1", "9:16")


class Look(Strict):
    aspect_ratio: Literal[ASPECT_RATIOS] | None = Field(  # type: ignore[valid-type]
        None, description="picture aspect ratio, letterboxed or pillarboxed in the delivered frame")
