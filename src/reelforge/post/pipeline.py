"""The finishing chain every backend's picture goes through, in one fixed order.

    picture (job.width × job.height, from the backend)
      → motion blur over the look's shutter, from the previz's exact motion            post/motion_blur.py
      → lighting grade (white balance from the colour temperature, contrast, saturation)  post/grade.py
      → camera look: 3D LUT, vignette, seeded film grain                                 post/look.py
      → frame (centred in canvas_width × canvas_height, black bars around)

Each step is a pure function of (job, frame index, picture), so a finished frame is
too and any frame range re-renders alone. Steps a job leaves neutral are skipped.
Previz-only steps (depth of field, style recipes) run inside the previz backend, where
the depth image is at hand. Motion blur comes with the exposure, so before the grade (and
before grain, which must not blur); it runs here for every backend, since the generative
ones follow the previz geometry they are conditioned on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reelforge.plan.lut import LutError
from reelforge.post.grade import grade
from reelforge.post.look import apply_grain, apply_lut, apply_vignette
from reelforge.post.motion_blur import motion_blur

if TYPE_CHECKING:
    from reelforge.plan.jobs import ShotJob


def place_in_canvas(job: ShotJob, picture: np.ndarray) -> np.ndarray:
    """The picture centred in the delivered frame, with black bars (letterbox or pillarbox)."""
    if (job.width, job.height) == (job.canvas_width, job.canvas_height):
        return picture
    frame = np.zeros((job.canvas_height, job.canvas_width, 3), dtype=np.uint8)
    top = (job.canvas_height - job.height) // 2
    left = (job.canvas_width - job.width) // 2
    frame[top:top + job.height, left:left + job.width] = picture
    return frame


def finish_picture(job: ShotJob, index: int, picture: np.ndarray) -> np.ndarray:
    """Motion blur, grade, then LUT, vignette and grain: the picture as it will sit in the frame."""
    look = job.look
    if look.shutter_deg > 0.0:
        picture = motion_blur(job, index, picture)
    picture = grade(job.lighting, picture)
    if look.lut is not None:
        path = job.assets.get(look.lut.sha256)
        if path is None:
            raise LutError(f"look.lut: job {job.shot_path} names LUT {look.lut.sha256[:12]}… but not its file "
                           "(its 'assets' lost the path); plan the production again")
        picture = apply_lut(look.lut, path, picture)
    if look.vignette > 0.0:
        picture = apply_vignette(look.vignette, picture)
    if look.grain > 0.0:
        picture = apply_grain(look.grain, job.seed, index, min(job.canvas_width, job.canvas_height), picture)
    return picture


def finish_frame(job: ShotJob, index: int, picture: np.ndarray) -> np.ndarray:
    """A backend's picture for frame `index` as the delivered frame (C-contiguous uint8 RGB)."""
    if picture.shape != (job.height, job.width, 3):
        raise RuntimeError(f"{job.backend} drew a {picture.shape[1]}×{picture.shape[0]} picture for "
                           f"{job.shot_path} frame {index}; the job asks for {job.width}×{job.height}")
    return np.ascontiguousarray(place_in_canvas(job, finish_picture(job, index, picture)))
