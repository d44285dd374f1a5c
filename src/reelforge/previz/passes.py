"""Per-pixel passes of a previz frame from the exact 3D scene: which cast member each pixel shows
(per-character masks), how far away it is (exact depth) and where its surface point is in any
other frame of the shot (the motion field, with a visibility mask).

Nothing is estimated. Each pass starts from an id buffer: the frame's faces filled without
antialiasing, in the painter's order `draw` uses (`raster.VisibleFaces`), so a pixel belongs to
the face whose polygon covers its centre and is drawn last, the face the RGB frame shows there.
Pixels no face covers are ground (the plane y = 0, below the horizon) or sky (a point at
infinity). Every surface is a plane, and across a plane 1/z (z: camera-space depth along the
optical axis) is affine in pixel coordinates, so each pixel's depth is exact at its centre.

Motion: a pixel centre is unprojected with its frame's camera to a world point, carried to the
other frame (the set and the ground stay put; a blocked figure's part moves by M_to · M_from⁻¹,
the two frames' part matrices, previz/figure.py) and projected with the other frame's camera.
Sky points are directions, so only the camera's rotation (pan, tilt, shake) moves them. Camera
moves, handheld shake and zoom are all in the poses. Flow is in pixels, (dx, dy) with pixel
centres at integer coordinates (cv2's convention): frame `to` shows at (x + dx, y + dy) what
frame `index` shows at (x, y), so `cv2.remap(frame_to, x + dx, y + dy)` rebuilds frame `index`
where the point is visible. `visible` says whether it is: inside frame `to`, in front of its
camera, and not hidden there: frame `to`'s own surface at that spot (the face at the nearest
pixel, its plane evaluated at the exact sub-pixel point) is within DEPTH_TOLERANCE of the
carried point's depth. Where the point is behind the other camera the flow is 0 (and not
visible). Between identical poses a static surface moves exactly 0.

Use `PrevizPasses(job)` to answer many frames of one shot: it builds the scene and camera path
once and keeps the last few frames' geometry (a motion field needs both frames):

    passes = PrevizPasses(native_job(job))
    masks = passes.masks(i)               # {character_id: (h, w) bool}
    depth = passes.depth(i)               # (h, w) float32 metres, inf for sky
    motion = passes.motion(i, i + 1)      # .flow (h, w, 2) float32, .visible (h, w) bool
    points, seen = passes.carry(i, j, xy) # any sub-pixel points (n, 2) of frame i, in frame j

The module functions (`character_masks`, `exact_depth`, `motion_field`) do the same for one
frame, building everything from scratch. Every pass is a pure function of (job, frames): the same
bits alone or in sequence, in any order, with elementwise numpy only (no BLAS).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from reelforge.previz.camera import CameraPose, camera_path
from reelforge.previz.figure import invert_affine
from reelforge.previz.raster import NEAR_M, SHIFT, ShotScene, View, VisibleFaces, check_index

if TYPE_CHECKING:
    from reelforge.plan.jobs import ShotJob

NO_FACE = -1
# Two depths closer than this fraction of the larger are the same surface. Surfaces are exact
# (float rounding only), except within a pixel of a face edge, where the neighbouring face's
# plane is evaluated a fraction of a pixel beyond it: far below 0.5 % on a gray-box figure.
# An occluder must stand at least this far in front (2.5 cm at 5 m) to hide a point.
DEPTH_TOLERANCE = 0.005
SKY, GROUND, FIRST_FACE = 0, 1, 2  # surface classes: a pixel shows sky, ground or face (class - FIRST_FACE)


def face_ids(scene: ShotScene, pose: CameraPose) -> np.ndarray:
    """(height, width) int32: the index of the face each pixel shows, NO_FACE for sky and ground.

    `scene` is a frame's scene (`ShotScene.at(index)`)."""
    return _face_ids(scene, VisibleFaces(scene, View(pose, scene.width, scene.height, scene.framing_span)))


def _face_ids(scene: ShotScene, faces: VisibleFaces) -> np.ndarray:
    ids = np.full((scene.height, scene.width), NO_FACE, dtype=np.int32)
    for f in faces.order:
        poly = faces.screen(f)
        if poly is not None:
            cv2.fillConvexPoly(ids, poly, int(f), cv2.LINE_8, SHIFT)
    return ids


@dataclass(frozen=True)
class Motion:
    """A motion field from frame `index` to frame `to_index`, per pixel of frame `index`."""

    flow: np.ndarray  # (height, width, 2) float32: (dx, dy) in pixels
    visible: np.ndarray  # (height, width) bool: the point is in frame `to_index` and not hidden there


class FrameGeometry:
    """One frame's surfaces per pixel: the face id buffer, each surface's inverse-depth plane,
    and what moves each surface (its part, for the motion field)."""

    def __init__(self, scene: ShotScene, pose: CameraPose) -> None:
        self.scene, self.pose = scene, pose
        self.view = view = View(pose, scene.width, scene.height, scene.framing_span)
        faces = VisibleFaces(scene, view)
        self.ids = _face_ids(scene, faces)
        height, width = self.ids.shape
        f, cy = view.focal_px, view.cy

        # Per surface class: 1/z = k0 + ku (u - cx) + kv (v - cy), clamped to [lo, hi].
        n_faces = len(scene.face_starts) - 1
        k0, ku, kv = np.zeros(n_faces + 2), np.zeros(n_faces + 2), np.zeros(n_faces + 2)
        lo, hi = np.zeros(n_faces + 2), np.zeros(n_faces + 2)  # sky: 1/z = 0
        # Ground: the ray through (u, v) is (.., (cy - v) / f, 1) in camera space; with no roll
        # (view.right has no y) its world height per unit depth is up_y (cy - v) / f + forward_y,
        # and it meets y = 0 at 1/z = -(that) / camera height.
        camera_y = float(view.position[1])
        if camera_y > 0.0:
            k0[GROUND] = -float(view.forward[1]) / camera_y
            kv[GROUND] = float(view.up[1]) / (f * camera_y)
            hi[GROUND] = np.inf
        if n_faces:
            # A face's plane n · X = d in camera space (draw_depth_plane): 1/z = (n_x (u - cx) / f
            # - n_y (v - cy) / f + n_z) / d. A pixel whose centre lies a little outside the polygon
            # (edge pixels of the fill) extrapolates the plane; only on a face seen nearly edge-on
            # could that run away, so 1/z is clamped to twice the face's own range either way.
            normals, cam = scene.face_normals, faces.cam[scene.face_starts[:-1]]
            r, u, w = view.right, view.up, view.forward
            nx = normals[:, 0] * r[0] + normals[:, 1] * r[1] + normals[:, 2] * r[2]
            ny = normals[:, 0] * u[0] + normals[:, 1] * u[1] + normals[:, 2] * u[2]
            nz = normals[:, 0] * w[0] + normals[:, 1] * w[1] + normals[:, 2] * w[2]
            d = nx * cam[:, 0] + ny * cam[:, 1] + nz * cam[:, 2]
            far = 1.0 / np.maximum(faces.z_max, NEAR_M)
            near = 1.0 / np.maximum(faces.z_min, NEAR_M)
            edge_on = np.abs(d) < 1e-12
            safe = np.where(edge_on, 1.0, d)
            k0[FIRST_FACE:] = np.where(edge_on, 0.5 * (far + near), nz / safe)
            ku[FIRST_FACE:] = np.where(edge_on, 0.0, nx / (f * safe))
            kv[FIRST_FACE:] = np.where(edge_on, 0.0, -ny / (f * safe))
            lo[FIRST_FACE:], hi[FIRST_FACE:] = 0.5 * far, 2.0 * near
        self.k0, self.ku, self.kv, self.lo, self.hi = k0, ku, kv, lo, hi

        # Which surface each pixel shows: a face, else ground or sky by the row's centre.
        rows = np.arange(height, dtype=np.float64)
        self.row_class = np.where(plane(k0[GROUND], 0.0, kv[GROUND], 0.0, rows - cy) > 0.0, GROUND, SKY)
        self.surface = np.where(self.ids >= 0, self.ids + FIRST_FACE, self.row_class[:, None].astype(np.int32))
        # What carries each surface to another frame: 0 the world (static), p + 1 part p.
        self.group = np.concatenate([[0, 0], scene.face_part.astype(np.int64) + 1])
        self._inverse_depth: np.ndarray | None = None

    def inverse_depth(self) -> np.ndarray:
        """(height, width) float64: 1/z at each pixel centre (0 for sky)."""
        if self._inverse_depth is None:
            height, width = self.ids.shape
            dv = np.arange(height, dtype=np.float64) - self.view.cy
            # Ground and sky per row (the same arithmetic as a face's plane, with ku = 0), faces per pixel.
            ground = plane(self.k0[GROUND], 0.0, self.kv[GROUND], 0.0, dv, self.lo[GROUND], self.hi[GROUND])
            column = np.where(self.row_class == GROUND, ground, 0.0)
            w = np.empty((height, width))
            w[:] = column[:, None]
            on_face = np.flatnonzero(self.ids >= 0)
            rows, cols = np.divmod(on_face, width)
            cls = self.surface.ravel()[on_face]
            np.put(w, on_face, self.inverse_depth_at(cls, cols.astype(np.float64), rows.astype(np.float64)))
            self._inverse_depth = w
        return self._inverse_depth

    def inverse_depth_at(self, cls: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """1/z of surfaces `cls` at sub-pixel points (u, v)."""
        return plane(self.k0[cls], self.ku[cls], self.kv[cls], u - self.view.cx, v - self.view.cy,
                     self.lo[cls], self.hi[cls])

    def masks(self, job: ShotJob) -> dict[str, np.ndarray]:
        owner = np.concatenate([[NO_FACE], self.scene.face_owner]).astype(np.int32)  # NO_FACE → NO_FACE
        pixel_owner = owner[self.ids + 1]
        return {figure.character_id: pixel_owner == n for n, figure in enumerate(job.figures)}


def plane(k0, ku, kv, du, dv, lo=None, hi=None) -> np.ndarray:
    """k0 + ku du + kv dv, clamped to [lo, hi]: the same arithmetic for a grid and for points."""
    value = k0 + ku * du + kv * dv
    if lo is not None:
        value = np.minimum(np.maximum(value, lo), hi)
    return value


# ----------------------------------------------------------------------------- motion


def _mat_vec(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(..., 3, 3) times (..., 3), elementwise (no BLAS)."""
    return m[..., 0] * v[..., 0, None] + m[..., 1] * v[..., 1, None] + m[..., 2] * v[..., 2, None]


def _carriers(a: FrameGeometry, b: FrameGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Per group, the 12 numbers that take a point of frame a to frame b's camera, and whether
    the group stays exactly where it was (same pose, same part matrix).

    A point seen at (u, v) with 1/z = w in frame a is P = pos_a + ray / w, ray = xn right_a +
    yn up_a + forward_a (xn = (u - cx) / f, yn = (cy - v) / f). Carried by P' = L P + t and seen
    by frame b: w · cam_b = xn A + yn B + C + w E, A = R_b L right_a, B = R_b L up_a,
    C = R_b L forward_a, E = R_b (L pos_a + t - pos_b), R_b the rows right_b, up_b, forward_b.
    """
    parts_a, parts_b = a.scene.part_matrices, b.scene.part_matrices
    if parts_a.shape != parts_b.shape:
        raise ValueError("a blocked figure changed its parts between frames: the motion field needs the same "
                         "parts in every frame")
    n = len(parts_a)
    linear = np.zeros((n + 1, 3, 3))
    shift = np.zeros((n + 1, 3))
    linear[0] = np.eye(3)
    if n:
        inverse = np.stack([invert_affine(m) for m in parts_a])
        to_lin, to_t = parts_b[:, :, :3], parts_b[:, :, 3]
        for col in range(3):  # L = M_to · M_from⁻¹ (linear part), column by column
            linear[1:, :, col] = _mat_vec(to_lin, inverse[:, :, col])
        shift[1:] = _mat_vec(to_lin, inverse[:, :, 3]) + to_t
    rows_b = np.stack([b.view.right, b.view.up, b.view.forward])  # R_b

    def seen_by_b(world_vectors: np.ndarray) -> np.ndarray:  # (G, 3) world → (G, 3) in b's axes
        return _mat_vec(np.broadcast_to(rows_b, (n + 1, 3, 3)), world_vectors)

    columns = []
    for axis in (a.view.right, a.view.up, a.view.forward):
        columns.append(seen_by_b(_mat_vec(linear, np.broadcast_to(axis, (n + 1, 3)))))
    moved_origin = _mat_vec(linear, np.broadcast_to(a.view.position, (n + 1, 3))) + shift - b.view.position
    columns.append(seen_by_b(moved_origin))
    coefficients = np.stack(columns, axis=1)  # (G, 4: A B C E, 3: x y z)
    same_view = a.pose == b.pose  # the same job, so the same size and framing
    still = np.zeros(n + 1, dtype=bool)
    still[0] = same_view
    if n and same_view:
        still[1:] = (parts_a == parts_b).reshape(n, 12).all(axis=1)
    return coefficients, still


def _project(coefficients, xn, yn, w, b: FrameGeometry):
    """Sub-pixel position in frame b, 1/z there, and whether the point is in front of b's camera.

    `coefficients` is (4, 3) for one group (broadcast over a grid) or (N, 4, 3) per point."""
    c = coefficients
    xyz = [xn * c[..., 0, k] + (yn * c[..., 1, k] + c[..., 2, k]) + w * c[..., 3, k] for k in range(3)]
    depth_ratio = xyz[2]  # z_b · w
    w_b = w / np.where(depth_ratio > 0.0, depth_ratio, 1.0)
    front = (depth_ratio > 0.0) & (w_b < 1.0 / NEAR_M)
    safe = np.where(front, depth_ratio, 1.0)
    f = b.view.focal_px
    return b.view.cx + f * (xyz[0] / safe), b.view.cy - f * (xyz[1] / safe), w_b, front


def _visible(b: FrameGeometry, u: np.ndarray, v: np.ndarray, w: np.ndarray, front: np.ndarray,
             group: np.ndarray | int) -> np.ndarray:
    """Whether points of `group` at sub-pixel (u, v) with 1/z = w are what frame b shows there:
    the same rigid body (the world, or the same part) at the nearest pixel, at the same depth."""
    height, width = b.ids.shape
    col = np.floor(u + 0.5)
    row = np.floor(v + 0.5)
    inside = front & (col >= 0) & (col < width) & (row >= 0) & (row < height)
    pixel = np.clip(row, 0, height - 1).astype(np.intp) * width + np.clip(col, 0, width - 1).astype(np.intp)
    cls = b.surface.ravel()[pixel]
    there = b.inverse_depth_at(cls, u, v)
    return inside & (b.group[cls] == group) & (np.abs(there - w) <= DEPTH_TOLERANCE * np.maximum(there, w))


def _carry_points(a: FrameGeometry, b: FrameGeometry, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel points (N, 2) of frame a to frame b: the surface at the nearest pixel, exact at the point."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    u, v = points[:, 0], points[:, 1]
    height, width = a.ids.shape
    col = np.clip(np.floor(u + 0.5), 0, width - 1).astype(np.intp)
    row = np.clip(np.floor(v + 0.5), 0, height - 1).astype(np.intp)
    cls = a.surface[row, col]
    w = a.inverse_depth_at(cls, u, v)
    coefficients, still = _carriers(a, b)
    group = a.group[cls]
    f = a.view.focal_px
    u_b, v_b, w_b, front = _project(coefficients[group], (u - a.view.cx) / f, (a.view.cy - v) / f, w, b)
    fixed = still[group]
    u_b, v_b, w_b = np.where(fixed, u, u_b), np.where(fixed, v, v_b), np.where(fixed, w, w_b)
    front = front | fixed
    u_b, v_b = np.where(front, u_b, u), np.where(front, v_b, v)
    return np.stack([u_b, v_b], axis=1), _visible(b, u_b, v_b, w_b, front, group)


def _motion(a: FrameGeometry, b: FrameGeometry) -> Motion:
    height, width = a.ids.shape
    f = a.view.focal_px
    us = np.arange(width, dtype=np.float64)
    vs = np.arange(height, dtype=np.float64)
    xn = ((us - a.view.cx) / f)[None, :]
    yn = ((a.view.cy - vs) / f)[:, None]
    w = a.inverse_depth()
    coefficients, still = _carriers(a, b)
    group = a.group[a.surface]
    u_grid, v_grid = np.broadcast_to(us[None, :], (height, width)), np.broadcast_to(vs[:, None], (height, width))
    # The world (group 0) over the whole grid, broadcast row and column terms; parts on their pixels.
    if still[0]:
        u_b, v_b, w_b = u_grid.copy(), v_grid.copy(), w.copy()
        front = np.ones((height, width), dtype=bool)
    else:
        u_b, v_b, w_b, front = _project(coefficients[0], xn, yn, w, b)  # fresh full-size arrays
    moving = np.flatnonzero(group)
    if len(moving):
        g = group.ravel()[moving]
        rows, cols = np.divmod(moving, width)
        pu, pv, pw, pf = _project(coefficients[g], xn[0, cols], yn[rows, 0], w.ravel()[moving], b)
        fixed = still[g]
        np.put(u_b, moving, np.where(fixed, cols, pu))
        np.put(v_b, moving, np.where(fixed, rows, pv))
        np.put(w_b, moving, np.where(fixed, w.ravel()[moving], pw))
        np.put(front, moving, pf | fixed)
    u_b = np.where(front, u_b, u_grid)
    v_b = np.where(front, v_b, v_grid)
    flow = np.empty((height, width, 2), dtype=np.float32)
    flow[:, :, 0] = u_b - u_grid
    flow[:, :, 1] = v_b - v_grid
    return Motion(flow, _visible(b, u_b, v_b, w_b, front, group))


# ----------------------------------------------------------------------------- API


class PrevizPasses:
    """The passes of one shot, for many frames: scene and camera path built once, the last
    CACHED_FRAMES frames' geometry kept. Safe to share between threads."""

    CACHED_FRAMES = 4

    def __init__(self, job: ShotJob) -> None:
        self.job = job
        self.scene = ShotScene(job)
        self.path = camera_path(job)
        self._frames: OrderedDict[int, FrameGeometry] = OrderedDict()
        self._lock = threading.Lock()

    def frame(self, index: int) -> FrameGeometry:
        index = check_index(self.job, index)
        with self._lock:
            if index in self._frames:
                self._frames.move_to_end(index)
                return self._frames[index]
        geometry = FrameGeometry(self.scene.at(index), self.path[index])
        with self._lock:
            self._frames[index] = geometry
            while len(self._frames) > self.CACHED_FRAMES:
                self._frames.popitem(last=False)
        return geometry

    def face_ids(self, index: int) -> np.ndarray:
        """(height, width) int32 face index per pixel, NO_FACE for ground and sky."""
        return self.frame(index).ids.copy()

    def masks(self, index: int) -> dict[str, np.ndarray]:
        """Cast member id → (height, width) bool: the pixels that show them (never overlapping)."""
        return self.frame(index).masks(self.job)

    def depth(self, index: int) -> np.ndarray:
        """(height, width) float32: metres along the optical axis at each pixel centre, inf for sky."""
        w = self.frame(index).inverse_depth()
        with np.errstate(divide="ignore"):
            return (1.0 / w).astype(np.float32)

    def motion(self, index: int, to_index: int) -> Motion:
        """Where each pixel's surface point of frame `index` is in frame `to_index`, and whether it is seen there."""
        return _motion(self.frame(index), self.frame(to_index))

    def carry(self, index: int, to_index: int, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sub-pixel points (N, 2) of frame `index` to frame `to_index`: (N, 2) float64 positions and
        (N,) visibility. Each point lies on the surface shown at its nearest pixel."""
        return _carry_points(self.frame(index), self.frame(to_index), points)


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
    return FrameGeometry(scene, pose).masks(job)


def exact_depth(job: ShotJob, index: int) -> np.ndarray:
    """Frame `index`'s depth: (height, width) float32 metres along the optical axis, inf for sky."""
    return PrevizPasses(job).depth(index)


def motion_field(job: ShotJob, index: int, to_index: int) -> np.ndarray:
    """(height, width, 2) float32: per pixel of frame `index`, the (dx, dy) to where its surface
    point is in frame `to_index`. For visibility too, use `PrevizPasses(job).motion`."""
    return PrevizPasses(job).motion(index, to_index).flow
