"""Previz lens effects that need the scene's depth: depth of field.

A thin lens behind a 36 mm gate along the frame's long side. A point at depth z, with the lens focused at s,
makes a circle of confusion of diameter

    c = f² / (N · (s − f)) · |1 − s / z|        (mm on the sensor; f focal length, N f-number)

which is c · span / 36 pixels in the picture (span: the canvas's long side the gate and so the
focal length are based on, `plan.framing.framing_span`). The picture is blurred at a few
levels (Gaussians for circles of 3, 9, 27, … px) and each pixel mixes the two levels either
side of its own circle (linear in the log of the diameter). A circle of one pixel or less is
in focus: the pixel is the picture's own, byte for byte. Everything is elementwise, an
OpenCV 8-bit Gaussian or resize (fixed-point, the same bytes whatever the thread count), so
a frame stays a pure function of (job, index).

Previz only: the generative backends draw their own picture without a depth at hand.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from reelforge.plan.framing import framing_span
from reelforge.previz.camera import subject
from reelforge.previz.raster import GATE_MM, dot3, draw_depth

IN_FOCUS_PX = 1.0  # a circle of confusion this small is sharp (the acceptable circle: one pixel)
BLUR_STEP = 3.0  # each blur level's circle is three times the last: 1 (sharp), 3, 9, 27, … px
BLUR_SIGMA_SMALL = 2.0  # wider Gaussians run on a copy scaled down until their sigma is about this
MAX_BLUR_FRACTION = 1 / 30  # the largest circle drawn, as a fraction of the framing span (64 px at 1080p)
DEPTH_RESOLUTION = 4.0  # the depth image is scaled so the focus plane reads 255 / 4 ≈ 64 grey levels


def focus_distance(job, pose) -> float:
    """Focus distance in metres along the optical axis: the look's focus_m, else the depth of the
    character the camera follows or looks at this frame (pose.focus), else the shot's subject."""
    dof = job.look.depth_of_field
    if dof.focus_m is not None:
        return float(dof.focus_m)
    position = np.asarray(pose.position, dtype=np.float64)
    forward = np.asarray(pose.target, dtype=np.float64) - position
    forward /= math.sqrt(dot3(forward, forward)) or 1.0
    point = pose.focus if pose.focus is not None else subject(job)
    return max(dot3(np.asarray(point, dtype=np.float64) - position, forward), 0.1)


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
    scale *= framing_px / GATE_MM
    return np.float32(scale) * np.abs(np.float32(1.0) - np.float32(focus_mm / 1000.0) * inverse_z)


def frame_circles(job, scene, pose) -> np.ndarray:
    """The circle of confusion (picture pixels) of every pixel of this frame, as depth_of_field uses it.

    The depth image is scaled to the focus distance (DEPTH_RESOLUTION), so the focus plane
    is resolved to about 1.5 % of its distance whatever it is.
    """
    near_m = focus_distance(job, pose) / DEPTH_RESOLUTION
    return circle_of_confusion(job, pose, inverse_depth(scene, pose, near_m), framing_span(job))


def blurred(picture: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of the picture; wide ones are done on a smaller copy (area-averaged down,
    bilinear back up) where a sigma of a few pixels is enough, so every level costs about the same."""
    factor = 1
    while sigma / (factor * 2) >= BLUR_SIGMA_SMALL:
        factor *= 2
    if factor == 1:
        return cv2.GaussianBlur(picture, (0, 0), sigmaX=sigma)
    height, width = picture.shape[:2]
    small = cv2.resize(picture, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=sigma / factor)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def depth_of_field(job, scene, pose, picture: np.ndarray) -> np.ndarray:
    """The picture with the look's depth of field (unchanged when the look has none).

    Blur level k shows circles of BLUR_STEP^k pixels (level 0 is the sharp picture, for
    circles of IN_FOCUS_PX or less). A pixel at position p = log(circle) / log(BLUR_STEP)
    between levels k and k + 1 mixes them linearly; this is built from the widest level
    down, R_k = blend(level k, R_k+1, weight clip(p − k, 0, 1)), so a pixel at p = 0 is
    level 0 exactly.
    """
    if job.look.depth_of_field is None:
        return picture
    framing_px = framing_span(job)
    coc = frame_circles(job, scene, pose)
    largest = min(float(coc.max()), MAX_BLUR_FRACTION * framing_px)
    if largest <= IN_FOCUS_PX * 1.01:
        return picture
    top = math.ceil(math.log(largest / IN_FOCUS_PX) / math.log(BLUR_STEP) - 1e-9)
    position = np.log(np.clip(coc, IN_FOCUS_PX, largest) / np.float32(IN_FOCUS_PX)) * np.float32(1 / math.log(BLUR_STEP))
    result = blurred(picture, IN_FOCUS_PX * BLUR_STEP ** top / 4.0)  # a disc of diameter D has sigma D/4
    for k in range(top - 1, -1, -1):
        level = picture if k == 0 else blurred(picture, IN_FOCUS_PX * BLUR_STEP ** k / 4.0)
        outer = np.clip(position - np.float32(k), np.float32(0.0), np.float32(1.0))
        result = cv2.blendLinear(level, result, np.float32(1.0) - outer, outer)
    return result
