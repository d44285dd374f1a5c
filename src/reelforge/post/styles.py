"""Style-family post-process recipes for the previz backend (watercolor, stained glass, ...)."""

from __future__ import annotations

import numpy as np


def apply_recipe(job, index: int, picture: np.ndarray) -> np.ndarray:
    """The picture through the job's style recipe (unchanged for a family without one)."""
    return picture
