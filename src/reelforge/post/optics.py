"""Previz lens effects that need the scene's depth: depth of field.

A thin lens on a 36 mm-wide sensor. A point at depth z, with the lens focused at s,
makes a circle of confusion of diameter

    c = f² / (N · (s − f)) · |1 − s / z|        (mm on the sensor; f focal length, N f-number)

which is c · framing_width / 36 pixels in the picture (framing_width: the canvas framing
the focal length is based on, `plan.look.framing_width`). The picture is blurred at a few
levels (Gaussians for circles of 2, 4, 8, … px) and each pixel mixes the two levels either
side of its own circle (linear in log2 of the diameter). A circle of one pixel or less is
in focus: the pixel is the picture's own, byte for byte. Everything is elementwise or an
OpenCV 8-bit Gaussian (fixed-point, the same bytes whatever the thread count), so a frame
stays a pure function of (job, index).

Previz only: the generative backends draw their own picture without a depth at hand.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from reelforge.plan.look import framing_width
from reelforge.previz.camera import subject
from reelforge.previz.raster import SENSOR_WIDTH_MM, draw_depth

IN_FOCUS_PX = 1.0  # a circle of confusion this small is sharp (the acceptable circle: one pixel)
MAX_BLUR_FRACTION = 1 / 30  # the largest circle drawn, as a fraction of the framing width (64 px at 1080p)
DEPTH_RESOLUTION = 4.0  # the depth image is scaled so the focus plane reads 255 / 4 ≈ 64 grey levels


def focus_distance(job, pose) -> float:
    """Focus distance in metres along the optical axis: the look's focus_m, else the subject's depth."""
    dof = job.look.depth_of_field
    if dof.focus_m is not None:
        return float(dof.focus_m)
    position = np.asarray(pose.position, dtype=np.float64)
    forward = np.asarray(pose.target, dtype=np.float64) - position
    forward /= math.sqrt(float(forward @ forward)) or 1.0
    return max(float((np.asarray(subject(job), dtype=np.float64) - position) @ forward), 0.1)


def inverse_depth(scene, pose, near_m: float) -> np.ndarray:
    """1 / depth in 1/metres for every pixel of the frame (float32; 0 for the sky), from the
    previz depth image (`raster.draw_depth`, grey = 255 · near_m / z). Depths nearer than near_m
    read as near_m; the 8-bit image resolves depth to about 1/(grey level) of itself."""
    levels = draw_depth(scene, pose, near_m=near_m)[:, :, 0]
    return levels.astype(np.float32) * np.float32(1.0 / (255.0 * near_m))


def circle_of_confusion(job, pose, inverse_z: np.ndarray, framing_px: float) -> np.ndarray:
    """Circle-of-confusion diameter in picture pixels for each pixel (float32)."""
    focal = float(pose.focal_length_mm)
    focus_mm = max(focus_distance(job, pose) * 1000.0, 1.5 * focal)  # a lens cannot focus nearer than f
    scale = focal * focal / (job.look.depth_of_field.f_stop * (focus_mm - focal))  # mm on the sensor at z = ∞
    scale *= framing_px / SENSOR_WIDTH_MM
    return np.float32(scale) * np.abs(np.float32(1.0) - np.float32(focus_mm / 1000.0) * inverse_z)


def frame_circles(job, scene, pose) -> np.ndarray:
    """The circle of confusion (picture pixels) of every pixel of this frame, as depth_of_field uses it.

    The depth image is scaled to the focus distance (DEPTH_RESOLUTION), so the focus plane
    is resolved to about 1.5 % of its distance whatever it is.
    """
    near_m = focus_distance(job, pose) / DEPTH_RESOLUTION
    return circle_of_confusion(job, pose, inverse_depth(scene, pose, near_m), framing_width(job))


def depth_of_field(job, scene, pose, picture: np.ndarray) -> np.ndarray:
    """The picture with the look's depth of field (unchanged when the look has none)."""
    if job.look.depth_of_field is None:
        return picture
    framing_px = framing_width(job)
    coc = frame_circles(job, scene, pose)
    largest = min(float(coc.max()), MAX_BLUR_FRACTION * framing_px)
    if largest <= IN_FOCUS_PX:
        return picture
    # Blur level k has circles of 2^k px (level 0: the sharp picture); a pixel's position on
    # that scale is log2 of its circle, clipped to the levels drawn.
    top = math.ceil(math.log2(largest))
    position = np.log2(np.clip(coc, IN_FOCUS_PX, 2.0 ** top))
    out = np.zeros(picture.shape, dtype=np.float32)
    for k in range(top + 1):
        weight = np.maximum(np.float32(1.0) - np.abs(position - np.float32(k)), np.float32(0.0))
        if not weight.any():
            continue
        level = picture if k == 0 else cv2.GaussianBlur(picture, (0, 0), sigmaX=2.0 ** k / 4.0)
        out += level.astype(np.float32) * weight[:, :, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
