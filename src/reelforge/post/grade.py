"""The lighting grade: white balance from the colour temperature, saturation, contrast.

Applied to every backend's picture (post/pipeline.py), with the numbers the plan put
in the job's Light (`plan/lighting.py`). Two cheap passes over the picture:

  1. white balance and saturation together as one 3×3 colour matrix (cv2.transform):
     per-channel gains on the encoded values, then a mix of each pixel with its luma;
  2. contrast as one 8-bit table for every byte of the picture (cv2.LUT): an S-curve
     through mid-grey, the same for each channel.

Both are elementwise, so their output does not depend on OpenCV's thread count; the
matrix pass rounds once. A neutral grade (gains 1, contrast 1, saturation 1) returns
the picture untouched, and a grade that leaves one pass neutral skips it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import cv2
import numpy as np

from reelforge.plan.colour import LUMA

if TYPE_CHECKING:
    from reelforge.plan.lighting import Light


def contrast_curve(x: np.ndarray, contrast: float) -> np.ndarray:
    """An S-curve through mid-grey with slope `contrast` there, fixing black and white.

    Below 0.5: 0.5 * (2x)^c; above: 1 - 0.5 * (2(1 - x))^c. Monotonic, identity at c = 1;
    c > 1 deepens shadows and brightens highlights, c < 1 flattens toward grey. Working
    on gamma-encoded values puts the pivot at perceptual mid-grey.
    """
    x = np.clip(x, 0.0, 1.0)
    low = 0.5 * (2.0 * x) ** contrast
    high = 1.0 - 0.5 * (2.0 * (1.0 - x)) ** contrast
    return np.where(x < 0.5, low, high)


@lru_cache(maxsize=32)
def contrast_table(contrast: float) -> np.ndarray | None:
    """The (256,) uint8 table of the contrast curve; None at contrast 1."""
    if contrast == 1.0:
        return None
    table = np.round(contrast_curve(np.arange(256, dtype=np.float64) / 255.0, contrast) * 255.0).astype(np.uint8)
    table.flags.writeable = False  # cached: shared by every frame of every thread
    return table


@lru_cache(maxsize=32)
def colour_matrix(gains: tuple[float, float, float], saturation: float) -> np.ndarray | None:
    """3×3 float32 matrix: saturation · white balance; None when both are neutral.

    White balance is diag(gains). Saturation is s·I + (1 - s)·(luma weights in every row):
    each row sums to 1, so grey stays grey; s = 0 gives the luma, s > 1 pushes away from it.
    """
    if saturation == 1.0 and gains == (1.0, 1.0, 1.0):
        return None
    luma = np.tile(np.asarray(LUMA, dtype=np.float64), (3, 1))
    saturate = saturation * np.eye(3) + (1.0 - saturation) * luma
    matrix = (saturate * np.asarray(gains, dtype=np.float64)[None, :]).astype(np.float32)  # · diag(gains), no BLAS
    matrix.flags.writeable = False
    return matrix


def grade(light: Light, picture: np.ndarray) -> np.ndarray:
    """The picture (uint8 RGB) graded by the lighting: white balance and saturation, then contrast.

    Never writes into `picture`; returns it as is when the grade is neutral.
    """
    matrix = colour_matrix(tuple(light.wb_gains), float(light.saturation))
    table = contrast_table(float(light.contrast))
    if matrix is not None:
        picture = cv2.transform(picture, matrix)
    if table is not None:
        height = picture.shape[0]
        flat = picture.reshape(height, -1)  # every byte through one table: a single-channel LUT is fastest
        if matrix is not None:
            cv2.LUT(flat, table, dst=flat)  # our own buffer from cv2.transform
        else:
            picture = cv2.LUT(flat, table).reshape(picture.shape)
    return picture
