"""A blocked cast member's mannequin in one pose: its parts, each a solid in its own coordinates
placed by an affine matrix.

Each part (a shin, a forearm, the head) is a gray-box solid built once in the part's own
coordinates and placed per frame by a 3×4 affine matrix (world = M[:, :3] · local + M[:, 3]).
A part's own coordinates are the standing mannequin's (`solids.figure_solids` at the origin,
facing -z), so the rest pose is the identity and a blocked figure standing on its mark facing
the camera is the unblocked mannequin. A figure has the same parts, in the same order, in every
frame of a shot, so a surface point's coordinates in its part never change: the motion field
(previz/passes.py) maps a pixel from one frame to another through the two frames' matrices,
exactly. Every matrix is rigid (a rotation and a move): normals turn with the rotation.

Joints: the legs hang from the hips, solved from where each ankle is (two-bone IK, the knee
bending toward the foot's toe), so a planted foot stays exactly where the pose puts it; the
arms turn at the shoulder (flex forward, abduct outward, twist) and bend at the elbow; the head
and neck turn about the vertical. Pose math is plain Python floats (no BLAS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from reelforge.previz.solids import Proportions, Solid, box, closed_box, prism

if TYPE_CHECKING:
    from reelforge.plan.cast import Figure
    from reelforge.previz.blocking import ArmPose, FigurePose

Mat3 = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
Vec3 = tuple[float, float, float]

# Part names, in drawing order: per side (-1: the character's right, at -x facing the camera;
# +1: their left), then the trunk and head. The same list for every figure and frame.
SIDE_PARTS = ("shoe", "shin", "thigh", "upper_arm", "forearm", "hand")
PART_NAMES = tuple(f"{name}_{side}" for side in ("right", "left") for name in SIDE_PARTS) + (
    "torso", "neck", "head", "hair")


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


# ----------------------------------------------------------------------------- small rotations (plain floats)


def rot_x(a: float) -> Mat3:
    c, s = math.cos(a), math.sin(a)
    return ((1.0, 0.0, 0.0), (0.0, c, -s), (0.0, s, c))


def rot_y(a: float) -> Mat3:
    """About the vertical, as yaw_matrix: a positive angle turns -z (facing) toward +x."""
    c, s = math.cos(a), math.sin(a)
    return ((c, 0.0, -s), (0.0, 1.0, 0.0), (s, 0.0, c))


def rot_z(a: float) -> Mat3:
    c, s = math.cos(a), math.sin(a)
    return ((c, -s, 0.0), (s, c, 0.0), (0.0, 0.0, 1.0))


def mul(a: Mat3, b: Mat3) -> Mat3:
    return tuple(tuple(a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j] for j in range(3))
                 for i in range(3))  # type: ignore[return-value]


def apply(a: Mat3, v: Vec3) -> Vec3:
    return (a[0][0] * v[0] + a[0][1] * v[1] + a[0][2] * v[2],
            a[1][0] * v[0] + a[1][1] * v[1] + a[1][2] * v[2],
            a[2][0] * v[0] + a[2][1] * v[1] + a[2][2] * v[2])


def _unit(v: Vec3) -> Vec3:
    n = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    return (v[0] / n, v[1] / n, v[2] / n)


def _cross(a: Vec3, b: Vec3) -> Vec3:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def segment_rotation(up: Vec3, forward: Vec3) -> Mat3:
    """The rotation taking a hanging segment's rest axes to a segment whose local +y points along
    `up` (unit) and whose front (local -z) leans toward `forward` (any vector not along `up`)."""
    d = forward[0] * up[0] + forward[1] * up[1] + forward[2] * up[2]
    back = _unit((-(forward[0] - d * up[0]), -(forward[1] - d * up[1]), -(forward[2] - d * up[2])))
    side = _cross(up, back)
    return ((side[0], up[0], back[0]), (side[1], up[1], back[1]), (side[2], up[2], back[2]))


def joint(rotation: Mat3, pivot: Vec3, to: Vec3) -> tuple[Mat3, Vec3]:
    """An affine (rotation, shift) turning about the rest point `pivot` and moving it to `to`."""
    r = apply(rotation, pivot)
    return rotation, (to[0] - r[0], to[1] - r[1], to[2] - r[2])


def compose(a: tuple[Mat3, Vec3], b: tuple[Mat3, Vec3]) -> tuple[Mat3, Vec3]:
    """a after b."""
    r = apply(a[0], b[1])
    return mul(a[0], b[0]), (r[0] + a[1][0], r[1] + a[1][1], r[2] + a[1][2])


def arm_rotation(arm: ArmPose, side: float) -> tuple[Mat3, Mat3]:
    """Upper arm and forearm rotations (rest: hanging) for an arm pose on one side."""
    upper = mul(rot_z(side * arm.abduct), mul(rot_x(arm.flex), _twist(side * arm.twist)))
    return upper, mul(upper, rot_x(arm.elbow))


def _twist(a: float) -> Mat3:
    c, s = math.cos(a), math.sin(a)
    return ((c, 0.0, s), (0.0, 1.0, 0.0), (-s, 0.0, c))


# ----------------------------------------------------------------------------- the mannequin


class Mannequin:
    """A figure's parts in rest coordinates, built once, and the matrices that pose them."""

    def __init__(self, figure: Figure) -> None:
        self.proportions = p = Proportions.of(figure)
        h, k, b = figure.height_m, figure.head, figure.build
        solids: list[Solid] = []
        for side in (-1.0, 1.0):
            lx, ax = side * p.leg_x, side * p.arm_x
            solids += [
                closed_box(lx, -0.025 * h, 0.065 * b * h, 0.045 * h, 0.15 * h, figure.shoes),
                closed_box(lx, 0.0, 0.075 * b * h, p.knee_y - p.ankle_y, 0.085 * b * h, figure.bottom, y0=p.ankle_y),
                closed_box(lx, 0.0, 0.075 * b * h, p.hip_y - p.knee_y, 0.085 * b * h, figure.bottom, y0=p.knee_y),
                closed_box(ax, 0.0, 0.06 * b * h, p.shoulder_y - p.elbow_y, 0.07 * b * h, figure.top, y0=p.elbow_y),
                closed_box(ax, 0.0, 0.06 * b * h, p.elbow_y - 0.465 * h, 0.07 * b * h, figure.top, y0=0.465 * h),
                closed_box(ax, 0.0, 0.05 * b * h, 0.06 * h, 0.055 * b * h, figure.skin, y0=0.405 * h),
            ]
        head_top = (1.0 - 0.02 * k) * h
        head_bottom = head_top - 0.13 * k * h
        solids += [
            box(0.0, 0.0, 0.25 * figure.shoulders * h, 0.36 * h, 0.13 * b * h, figure.top, y0=0.46 * h),
            prism(0.0, 0.0, 0.028 * b * h, 0.028 * b * h, 0.815 * h, head_bottom + 0.005 * h, figure.skin, sides=8),
            prism(0.0, 0.0, 0.047 * k * h, 0.055 * k * h, head_bottom, head_top, figure.skin, sides=12),
            prism(0.0, 0.006 * k * h, 0.051 * k * h, 0.059 * k * h, (1.0 - 0.065 * k) * h, h, figure.hair, sides=12),
        ]
        self.solids = solids
        # Flat arrays for placing every part at once (ShotScene.at).
        faces = [face for solid in solids for face in solid.faces]
        self.vertices = np.concatenate(faces)
        self.face_counts = np.array([len(f) for f in faces], dtype=np.int64)
        self.face_starts = np.concatenate([[0], np.cumsum(self.face_counts)]).astype(np.int64)
        self.normals = np.array([n for solid in solids for n in solid.normals], dtype=np.float64)
        self.face_part = np.array([i for i, solid in enumerate(solids) for _ in solid.faces], dtype=np.int64)
        self.vertex_part = np.repeat(self.face_part, self.face_counts)
        self.colors = [solid.color for solid in solids]
        self.part_vertex_starts = np.concatenate(
            [[0], np.cumsum([sum(len(f) for f in solid.faces) for solid in solids])]).astype(np.int64)

    def transforms(self, pose: FigurePose) -> list[tuple[Mat3, Vec3]]:
        """(rotation, shift) of every part, in PART_NAMES order."""
        p = self.proportions
        heading = pose.heading
        yaw = rot_y(heading)
        c, s = math.cos(heading), math.sin(heading)
        hip_y = p.hip_y if pose.hip_y is None else pose.hip_y
        back = pose.pelvis_back
        pelvis = (pose.x - s * back, hip_y, pose.z + c * back)  # local +z (back) is world (-sin h, 0, cos h)
        body = joint(mul(yaw, rot_x(-pose.lean)), (0.0, p.hip_y, 0.0), pelvis)
        forward = (s, 0.0, -c)
        feet = pose.feet
        out: list[tuple[Mat3, Vec3]] = []
        upper_body = []
        leg = p.leg
        half = 0.5 * leg
        for index, side in enumerate((-1.0, 1.0)):
            hip = (pelvis[0] + side * p.leg_x * c, hip_y, pelvis[2] + side * p.leg_x * s)
            if feet is None:
                ankle, foot_yaw = (pose.x + side * p.leg_x * c, p.ankle_y, pose.z + side * p.leg_x * s), heading
            else:
                foot = feet[index]
                ankle, foot_yaw = (foot.x, foot.y, foot.z), foot.yaw
            toe = (math.sin(foot_yaw), 0.0, -math.cos(foot_yaw))
            dx, dy, dz = ankle[0] - hip[0], ankle[1] - hip[1], ankle[2] - hip[2]
            reach = math.sqrt(dx * dx + dy * dy + dz * dz)
            along = (dx / reach, dy / reach, dz / reach)
            # The knee: midway down the hip-ankle line, pushed out toward the toe.
            d = toe[0] * along[0] + toe[1] * along[1] + toe[2] * along[2]
            bend = (toe[0] - d * along[0], toe[1] - d * along[1], toe[2] - d * along[2])
            bend_len = math.sqrt(bend[0] ** 2 + bend[1] ** 2 + bend[2] ** 2)
            if bend_len < 1e-9:  # the leg points along the toe: bend toward the body's front
                bend = forward
                bend_len = 1.0
            out_by = math.sqrt(max(half * half - 0.25 * reach * reach, 0.0)) / bend_len
            knee = (0.5 * (hip[0] + ankle[0]) + bend[0] * out_by, 0.5 * (hip[1] + ankle[1]) + bend[1] * out_by,
                    0.5 * (hip[2] + ankle[2]) + bend[2] * out_by)
            lx = side * p.leg_x
            thigh_up = _unit((hip[0] - knee[0], hip[1] - knee[1], hip[2] - knee[2]))
            shin_up = _unit((knee[0] - ankle[0], knee[1] - ankle[1], knee[2] - ankle[2]))
            shoe = joint(rot_y(foot_yaw), (lx, p.ankle_y, 0.0), ankle)
            shin = joint(segment_rotation(shin_up, toe), (lx, p.knee_y, 0.0), knee)
            thigh = joint(segment_rotation(thigh_up, toe), (lx, p.hip_y, 0.0), hip)
            upper_rot, fore_rot = arm_rotation(pose.arms[index], side)
            shoulder = (side * p.arm_x, p.shoulder_y, 0.0)
            upper = joint(upper_rot, shoulder, shoulder)
            elbow = apply(upper_rot, (0.0, p.elbow_y - p.shoulder_y, 0.0))
            fore = joint(fore_rot, (side * p.arm_x, p.elbow_y, 0.0),
                         (shoulder[0] + elbow[0], shoulder[1] + elbow[1], shoulder[2] + elbow[2]))
            out += [shoe, shin, thigh, compose(body, upper), compose(body, fore), compose(body, fore)]
        head = joint(rot_y(pose.head_yaw), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
        upper_body = [body, compose(body, head), compose(body, head), compose(body, head)]
        return out + upper_body

    def matrices(self, pose: FigurePose) -> np.ndarray:
        """(parts, 3, 4) placement matrices for this pose."""
        rows = []
        for rotation, shift in self.transforms(pose):
            rows.append([[rotation[i][0], rotation[i][1], rotation[i][2], shift[i]] for i in range(3)])
        return np.array(rows, dtype=np.float64)

    def place(self, matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every face vertex (N, 3) and face normal (F, 3) in world coordinates, all parts at once.

        Elementwise only; the matrices are rigid, so a normal turns with the rotation.
        """
        m = matrices[self.vertex_part]
        v = self.vertices
        x, y, z = v[:, 0], v[:, 1], v[:, 2]
        world = np.stack([m[:, 0, 0] * x + m[:, 0, 1] * y + m[:, 0, 2] * z + m[:, 0, 3],
                          m[:, 1, 0] * x + m[:, 1, 1] * y + m[:, 1, 2] * z + m[:, 1, 3],
                          m[:, 2, 0] * x + m[:, 2, 1] * y + m[:, 2, 2] * z + m[:, 2, 3]], axis=1)
        r = matrices[self.face_part]
        n = self.normals
        nx, ny, nz = n[:, 0], n[:, 1], n[:, 2]
        normals = np.stack([r[:, 0, 0] * nx + r[:, 0, 1] * ny + r[:, 0, 2] * nz,
                            r[:, 1, 0] * nx + r[:, 1, 1] * ny + r[:, 1, 2] * nz,
                            r[:, 2, 0] * nx + r[:, 2, 1] * ny + r[:, 2, 2] * nz], axis=1)
        return world, normals


@lru_cache(maxsize=64)
def mannequin(figure: Figure) -> Mannequin:
    """The figure's mannequin (built once per figure: its parts never change shape)."""
    return Mannequin(figure)
