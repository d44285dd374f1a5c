"""Gray-box solids: convex faces with outward normals, the props of a set and the standing mannequin.

A solid is a list of convex polygons (world metres: x right, y up, z away from the camera's
starting side) with one outward normal each and one colour. The rasterizer lights, sorts and
draws faces; the depth image and the per-pixel passes (previz/passes.py) draw the same faces.
Arithmetic here is plain float (no BLAS), so every machine builds the same vertices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from reelforge.plan.cast import Figure

CYLINDER_SIDES = 20

def dot3(a: np.ndarray | tuple, b: np.ndarray | tuple) -> float:
    """Dot product of two 3-vectors in plain float arithmetic (no BLAS, same bits everywhere)."""
    return float(a[0]) * float(b[0]) + float(a[1]) * float(b[1]) + float(a[2]) * float(b[2])


def unit3(v: np.ndarray | tuple) -> np.ndarray:
    length = math.sqrt(dot3(v, v))
    return np.array([float(v[0]) / length, float(v[1]) / length, float(v[2]) / length])


def cross3(a: np.ndarray | tuple, b: np.ndarray | tuple) -> np.ndarray:
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]], dtype=np.float64)


@dataclass
class Solid:
    """A convex gray-box solid: its faces (convex polygons with outward normals) and colour."""

    faces: list[np.ndarray]
    normals: list[np.ndarray]
    color: str

    @property
    def vertices(self) -> np.ndarray:
        return np.concatenate(self.faces)


def box(x: float, z: float, width: float, height: float, depth: float, color: str, y0: float = 0.0) -> Solid:
    """An axis-aligned box standing at y0, centred on (x, z) in plan."""
    x0, x1 = x - width / 2, x + width / 2
    z0, z1 = z - depth / 2, z + depth / 2
    y1 = y0 + height
    faces = [
        ([(x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0)], (0, 0, -1)),  # facing the camera
        ([(x0, y0, z1), (x0, y1, z1), (x1, y1, z1), (x1, y0, z1)], (0, 0, 1)),
        ([(x0, y0, z0), (x0, y1, z0), (x0, y1, z1), (x0, y0, z1)], (-1, 0, 0)),
        ([(x1, y0, z0), (x1, y0, z1), (x1, y1, z1), (x1, y1, z0)], (1, 0, 0)),
        ([(x0, y1, z0), (x1, y1, z0), (x1, y1, z1), (x0, y1, z1)], (0, 1, 0)),
    ]
    if y0 > 0.0:  # a bottom face on the ground can never be seen
        faces.append(([(x0, y0, z0), (x0, y0, z1), (x1, y0, z1), (x1, y0, z0)], (0, -1, 0)))
    return Solid([np.array(f, dtype=np.float64) for f, _ in faces],
                 [np.array(n, dtype=np.float64) for _, n in faces], color)


def prism(x: float, z: float, radius_x: float, radius_z: float, y0: float, y1: float, color: str,
          sides: int = CYLINDER_SIDES) -> Solid:
    """An upright elliptic prism (a faceted cylinder) from y0 to y1, centred on (x, z)."""
    angles = (np.arange(sides) + 0.5) * (2.0 * math.pi / sides)
    ring_x = x + radius_x * np.cos(angles)
    ring_z = z + radius_z * np.sin(angles)
    faces, normals = [], []
    for i in range(sides):
        j = (i + 1) % sides
        faces.append(np.array([(ring_x[i], y0, ring_z[i]), (ring_x[j], y0, ring_z[j]),
                               (ring_x[j], y1, ring_z[j]), (ring_x[i], y1, ring_z[i])]))
        mid = (angles[i] + angles[j] + (2.0 * math.pi if j == 0 else 0.0)) / 2.0
        normals.append(unit3((math.cos(mid) / radius_x, 0.0, math.sin(mid) / radius_z)))
    faces.append(np.stack([ring_x, np.full(sides, y1), ring_z], axis=1))
    normals.append(np.array([0.0, 1.0, 0.0]))
    if y0 > 0.0:
        faces.append(np.stack([ring_x, np.full(sides, y0), ring_z], axis=1)[::-1])
        normals.append(np.array([0.0, -1.0, 0.0]))
    return Solid(faces, normals, color)


def prop_solid(prop: dict) -> Solid:
    """A set prop (a spec Prop as a dict): a box or a cylinder standing on the ground."""
    x, z = (float(v) for v in prop["position_m"])
    width, height, depth = (float(v) for v in prop.get("size_m", (1.0, 1.0, 1.0)))
    color = prop.get("color", "#8a8a8a")
    shape = prop.get("shape", "box")
    if shape == "box":
        return box(x, z, width, height, depth, color)
    if shape == "cylinder":
        return prism(x, z, width / 2, depth / 2, 0.0, height, color)
    raise ValueError(f"previz cannot draw a prop of shape '{shape}'; known: box, cylinder")


def figure_solids(figure: Figure) -> list[Solid]:
    """A cast member as a mannequin facing the camera (-z), proportioned to their height.

    The figure's identity proportions (from its identity seed, `plan.cast.figure_proportions`)
    widen the shoulders, scale the head and thicken the build, so a character has the same
    silhouette in every shot and two characters of one height read apart. At 1.0 each, this is
    the neutral mannequin; the height stays the character's height whatever the head size.
    """
    h, x, z = figure.height_m, figure.x_m, figure.z_m
    s, k, b = figure.shoulders, figure.head, figure.build
    leg_x = 0.06 * b * h
    arm_x = (0.125 * s + 0.03 * b + 0.005) * h  # the arm hangs just outside the torso
    solids = []
    for side in (-1.0, 1.0):
        solids += [
            box(x + side * leg_x, z - 0.025 * h, 0.065 * b * h, 0.045 * h, 0.15 * h, figure.shoes),
            box(x + side * leg_x, z, 0.075 * b * h, 0.44 * h, 0.085 * b * h, figure.bottom, y0=0.045 * h),
            box(x + side * arm_x, z, 0.06 * b * h, 0.34 * h, 0.07 * b * h, figure.top, y0=0.465 * h),
            box(x + side * arm_x, z, 0.05 * b * h, 0.06 * h, 0.055 * b * h, figure.skin, y0=0.405 * h),
        ]
    head_top = (1.0 - 0.02 * k) * h  # the head hangs from the top of the hair, which is the height
    head_bottom = head_top - 0.13 * k * h
    solids += [
        box(x, z, 0.25 * s * h, 0.36 * h, 0.13 * b * h, figure.top, y0=0.46 * h),
        prism(x, z, 0.028 * b * h, 0.028 * b * h, 0.815 * h, head_bottom + 0.005 * h, figure.skin, sides=8),
        prism(x, z, 0.047 * k * h, 0.055 * k * h, head_bottom, head_top, figure.skin, sides=12),
        # The hair cap sits a little behind the head so the face shows below the fringe.
        prism(x, z + 0.006 * k * h, 0.051 * k * h, 0.059 * k * h, (1.0 - 0.065 * k) * h, h, figure.hair, sides=12),
    ]
    return solids


def closed_box(x: float, z: float, width: float, height: float, depth: float, color: str, y0: float = 0.0) -> Solid:
    """A box with all six faces, for a part that turns (a limb, a shoe lifted off the ground):
    its bottom can come into view wherever it stands."""
    solid = box(x, z, width, height, depth, color, y0=1.0)  # y0 > 0: box() adds the bottom face
    shift = np.array([0.0, y0 - 1.0, 0.0])
    return Solid([face + shift for face in solid.faces], solid.normals, color)


@dataclass(frozen=True)
class Proportions:
    """Where the joints of `figure_solids`' mannequin are, standing at the origin facing -z (metres):
    the pivots the posed mannequin (previz/figure.py) turns its parts about."""

    height: float
    leg_x: float  # hip and ankle, sideways from the centre line
    arm_x: float  # shoulder, sideways
    ankle_y: float
    knee_y: float
    hip_y: float  # the hip joint: top of the thigh
    elbow_y: float
    shoulder_y: float
    thigh_half_depth: float  # a sitting thigh rests this far below the hip joint

    @property
    def leg(self) -> float:
        """Hip to ankle, the leg straight."""
        return self.hip_y - self.ankle_y

    @staticmethod
    def of(figure: Figure) -> Proportions:
        h, b, s = figure.height_m, figure.build, figure.shoulders
        return Proportions(height=h, leg_x=0.06 * b * h, arm_x=(0.125 * s + 0.03 * b + 0.005) * h,
                           ankle_y=0.045 * h, knee_y=0.265 * h, hip_y=0.485 * h, elbow_y=0.635 * h,
                           shoulder_y=0.805 * h, thigh_half_depth=0.0425 * b * h)
