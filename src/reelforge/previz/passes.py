"""Per-pixel passes of a previz frame from the exact 3D scene: which cast member each pixel
shows (per-character masks) and, for each pixel, where its surface point is in another frame
(the motion field).

Both come from an id buffer: the frame's faces filled without antialiasing, in the painter's
order `draw` uses (`raster.VisibleFaces`), so a pixel belongs to the face whose polygon covers
its centre and that is drawn last — the face the RGB frame shows there.
(First cut: masks only; the motion field follows.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from reelforge.previz.camera import CameraPose, camera_path
from reelforge.previz.raster import SHIFT, ShotScene, View, VisibleFaces, check_index

if TYPE_CHECKING:
    from reelforge.plan.jobs import ShotJob

NO_FACE = -1


def face_ids(scene: ShotScene, pose: CameraPose) -> np.ndarray:
    """(height, width) int32: the index of the face each pixel shows, NO_FACE for sky and ground.

    `scene` is a frame's scene (`ShotScene.at(index)`)."""
    ids = np.full((scene.height, scene.width), NO_FACE, dtype=np.int32)
    view = View(pose, scene.width, scene.height, scene.framing_width)
    faces = VisibleFaces(scene, view)
    for f in faces.order:
        poly = faces.screen(f)
        if poly is not None:
            cv2.fillConvexPoly(ids, poly, int(f), cv2.LINE_8, SHIFT)
    return ids


def character_masks(job: ShotJob, index: int, scene: ShotScene | None = None,
                    pose: CameraPose | None = None) -> dict[str, np.ndarray]:
    """Cast member id → (height, width) bool mask of the pixels that show them in frame `index`.

    Exact to the pixel centre: a pixel is in a character's mask when the face the frame shows
    there is one of theirs. Masks of different characters never overlap. Pass the shot's
    `ShotScene` and the frame's pose to save rebuilding them.
    """
    check_index(job, index)
    scene = (scene or ShotScene(job)).at(index)
    pose = pose or camera_path(job)[index]
    ids = face_ids(scene, pose)
    owner = np.concatenate([[NO_FACE], scene.face_owner]).astype(np.int32)  # id NO_FACE → owner NO_FACE
    pixel_owner = owner[ids + 1]
    return {figure.character_id: pixel_owner == n for n, figure in enumerate(job.figures)}
