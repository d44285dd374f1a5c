"""A blocked cast member's mannequin in one pose: its parts, each a solid in its own coordinates
placed by an affine matrix.

Each part (a shin, a forearm, the head) is a gray-box solid built once in the part's own
coordinates and placed per frame by a 3×4 affine matrix (world = M[:, :3] · local + M[:, 3]).
A figure has the same parts, in the same order, in every frame of a shot, so a surface point's
coordinates in its part never change: the motion field (previz/passes.py) maps a pixel from one
frame to another through the two frames' matrices, exactly.
(First cut: the standing mannequin turned to its heading; the gait, sitting and gestures pose
the limbs.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reelforge.previz.solids import Solid, figure_solids

if TYPE_CHECKING:
    from reelforge.plan.cast import Figure
    from reelforge.previz.blocking import FigurePose


@dataclass(frozen=True)
class Part:
    """One rigid (affine) piece of a figure: its solid in part coordinates and where it is this frame."""

    solid: Solid
    matrix: np.ndarray  # (3, 4): world = matrix[:, :3] · local + matrix[:, 3]


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 3) through a 3×4 affine matrix, elementwise (no BLAS: the same bits everywhere)."""
    m = matrix
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    return np.stack([m[0, 0] * x + m[0, 1] * y + m[0, 2] * z + m[0, 3],
                     m[1, 0] * x + m[1, 1] * y + m[1, 2] * z + m[1, 3],
                     m[2, 0] * x + m[2, 1] * y + m[2, 2] * z + m[2, 3]], axis=1)


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 3×4 affine matrix (its 3×3 part by cofactors; plain float arithmetic)."""
    a = matrix[:, :3]
    cof = np.array([[a[1, 1] * a[2, 2] - a[1, 2] * a[2, 1], a[0, 2] * a[2, 1] - a[0, 1] * a[2, 2],
                     a[0, 1] * a[1, 2] - a[0, 2] * a[1, 1]],
                    [a[1, 2] * a[2, 0] - a[1, 0] * a[2, 2], a[0, 0] * a[2, 2] - a[0, 2] * a[2, 0],
                     a[0, 2] * a[1, 0] - a[0, 0] * a[1, 2]],
                    [a[1, 0] * a[2, 1] - a[1, 1] * a[2, 0], a[0, 1] * a[2, 0] - a[0, 0] * a[2, 1],
                     a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]]])
    det = a[0, 0] * cof[0, 0] + a[0, 1] * cof[1, 0] + a[0, 2] * cof[2, 0]
    inverse = cof / det
    t = matrix[:, 3]
    shift = -(inverse[:, 0] * t[0] + inverse[:, 1] * t[1] + inverse[:, 2] * t[2])
    return np.concatenate([inverse, shift[:, None]], axis=1)


def placed(part: Part) -> Solid:
    """A part's solid in world coordinates: vertices through the matrix, normals through its inverse transpose."""
    inverse = invert_affine(part.matrix)[:, :3]
    faces = [apply_affine(part.matrix, face) for face in part.solid.faces]
    normals = []
    for n in part.solid.normals:
        w = (inverse[0] * n[0] + inverse[1] * n[1] + inverse[2] * n[2])  # (M^-1)^T n
        length = math.sqrt(float(w[0]) ** 2 + float(w[1]) ** 2 + float(w[2]) ** 2)
        normals.append(w / length)
    return Solid(faces, normals, part.solid.color)


def yaw_matrix(heading: float, x: float, y: float, z: float) -> np.ndarray:
    """Turn by `heading` about the vertical axis (0 faces -z, +π/2 faces +x), then move to (x, y, z)."""
    c, s = math.cos(heading), math.sin(heading)
    return np.array([[c, 0.0, -s, x], [0.0, 1.0, 0.0, y], [s, 0.0, c, z]])


def posed_parts(figure: Figure, pose: FigurePose) -> list[Part]:
    """The figure's parts in this pose, always the same parts in the same order."""
    at_origin = figure.model_copy(update={"x_m": 0.0, "z_m": 0.0})
    matrix = yaw_matrix(pose.heading, pose.x, 0.0, pose.z)
    return [Part(solid, matrix) for solid in figure_solids(at_origin)]
