"""The previz rasterizer: a flat-shaded gray-box picture of one frame of a shot.

What is drawn, back to front:
  1. sky and ground as one per-row colour column (with no camera roll, every pixel
     of a row sees the ground at the same depth, so ground fog is per row too);
  2. a faint 1 m grid on the ground, fading with distance, so camera moves show parallax;
  3. hard shadows of props and figures, darkening the ground;
  4. props and figures as flat-shaded convex faces, painter-sorted far to near.

Lighting is Lambert with one key light plus ambient, done in linear light and
encoded with a 2.2 gamma. Everything that is static in world space (geometry,
face colours, shadow outlines on the ground) is built once per shot in
`ShotScene`; a frame only transforms, projects and draws.

`draw_depth` draws the same frame's depth image for a depth ControlNet: MiDaS-style
inverse depth on a fixed scale (near bright, sky black), through the same face
culling, clipping and painter's order (`VisibleFaces`), so its edges are the RGB edges.

Determinism: a frame is a pure function of (job, index). No randomness, no clock;
numpy work is elementwise (no BLAS), projected points are rounded explicitly to
cv2's fixed-point grid and cv2 is only used to draw and for elementwise per-pixel
blends and conversions, whose output does not depend on thread count.
"""

from __future__ import annotations

import bisect
import copy
import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from reelforge.plan.framing import framing_span
from reelforge.previz.blocking import STOOL_COLOR, STOOL_SIZE, BlockingTimeline
from reelforge.previz.camera import CameraPose, camera_path, subject
from reelforge.previz.figure import Part, mannequin, placed, yaw_matrix
from reelforge.previz.solids import Solid, closed_box, cross3, dot3, figure_solids, prop_solid, unit3

if TYPE_CHECKING:
    from reelforge.plan.cast import Figure
    from reelforge.plan.jobs import ShotJob

GATE_MM = 36.0  # a full-frame gate along the frame's long side: focal in pixels = focal_mm / 36 * long side
NEAR_M = 0.05  # near plane: geometry closer than this to the camera is clipped away
SHIFT = 4  # cv2 fixed-point bits: vertices are placed at 1/16 pixel
ONE = 1 << SHIFT
GUARD_PX = 8192.0  # polygons reaching further than this off-screen are clipped in 2D first
GAMMA = 2.2

FOG_MAX = 0.6  # fraction of the horizon colour mixed in at infinite distance
FOG_DISTANCE_M = 90.0  # e-folding distance of the fog
SKY_BACKDROP_TINT = 0.15  # how much of the set's backdrop colour tints the sky
SKY_GRADIENT_RAD = 0.7  # elevation where the sky reaches its top colour

GRID_STEP_M = 1.0
GRID_RADIUS_M = 24.0  # grid lines cover this far around the subject
GRID_LINE_ALBEDO = 0.72  # grid lines are the ground colour times this (linear)
GRID_FADE_M = 40.0  # grid contrast falls to zero at this depth, avoiding moiré at the horizon
GRID_LEVELS = np.geomspace(0.5, GRID_FADE_M, 17)  # depth bins that each get one line colour

# Depth image (draw_depth): grey level = 255 * near_m / z for camera-space depth z, i.e.
# inverse depth on a fixed scale. At the default 2 m a subject 4-7 m away (the camera
# presets' range) reads ~70-130 with the ground under it brighter, the far set ~20-40,
# and only what is nearer than 2 m saturates at 255.
DEPTH_NEAR_M = 2.0
DEPTH_FLAT_SPAN = 1  # faces spanning at most this many grey levels are filled flat (error <= 1 level)
DEPTH_STRIP_ROWS = 64  # per-pixel depth of big faces works in horizontal strips of this many rows
DEPTH_STRIP_MIN_PIXELS = 65536  # faces whose bounding box is smaller are done in one go

SHADOW_MIN_ELEVATION_DEG = 2.0  # keeps shadows of a grazing light finite
SHADOW_STRIP_ROWS = 32  # shadow darkening works in horizontal strips of this many rows


# ----------------------------------------------------------------------------- colour


def hex_to_linear(color: str) -> np.ndarray:
    """'#rrggbb' (sRGB) to linear RGB in [0, 1]."""
    value = color.lstrip("#")
    srgb = np.array([int(value[i:i + 2], 16) for i in (0, 2, 4)], dtype=np.float64) / 255.0
    return srgb ** GAMMA


def linear_to_u8(linear: np.ndarray) -> np.ndarray:
    """Linear RGB (any shape, last axis 3) to gamma-encoded uint8."""
    encoded = np.clip(linear, 0.0, 1.0) ** (1.0 / GAMMA)
    return np.round(encoded * 255.0).astype(np.uint8)


def fog_amount(depth: np.ndarray) -> np.ndarray:
    """How much of the horizon colour replaces a surface at a camera-space depth."""
    return FOG_MAX * (1.0 - np.exp(-np.maximum(depth, 0.0) / FOG_DISTANCE_M))


# ----------------------------------------------------------------------------- per-shot scene


def light_direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Unit vector toward the key light: azimuth 0 = from behind the camera (-z), 90 = from the right (+x)."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    return np.array([math.sin(az) * math.cos(el), math.sin(el), -math.cos(az) * math.cos(el)])


def shadow_direction(toward_light: np.ndarray) -> np.ndarray:
    """The light direction used to cast shadows: the key, raised to at least
    SHADOW_MIN_ELEVATION_DEG so a grazing sun gives long but finite shadows."""
    min_elevation = math.radians(SHADOW_MIN_ELEVATION_DEG)
    if not 0.0 < toward_light[1] < math.sin(min_elevation):
        return toward_light
    horizontal = math.hypot(toward_light[0], toward_light[2])
    scale = math.cos(min_elevation) / horizontal
    return np.array([toward_light[0] * scale, math.sin(min_elevation), toward_light[2] * scale])


def ground_shadows(vertices: np.ndarray, starts: Sequence[int], toward_light: np.ndarray) -> list[np.ndarray]:
    """Outlines on the ground (y = 0) of convex solids' shadows, solid k being vertices[starts[k]:starts[k + 1]]:
    every vertex slid down along the light ray at once, then each solid's convex hull. No outlines when the light
    is below the horizon."""
    if toward_light[1] <= 0.0:
        return []
    plan = vertices[:, [0, 2]] - (vertices[:, 1:2] / toward_light[1]) * toward_light[[0, 2]]
    plan32 = plan.astype(np.float32)
    outlines = []
    for a, b in itertools.pairwise(starts):
        outline = plan[a:b][cv2.convexHull(plan32[a:b], returnPoints=False).ravel()]
        outlines.append(np.stack([outline[:, 0], np.zeros(len(outline)), outline[:, 1]], axis=1))
    return outlines


def concat_polygons(polygons: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Polygons as one vertex array plus start offsets (len(polygons) + 1 of them)."""
    if not polygons:
        return np.zeros((0, 3)), np.zeros(1, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum([len(p) for p in polygons])]).astype(np.int64)
    return np.concatenate(polygons).astype(np.float64), starts


class ShotScene:
    """Everything about a shot that does not change from frame to frame, and `at(index)` for what does.

    Props and figures without blocking are built once. A blocked figure (plan/blocking.py) is
    posed per frame (`at`): its parts (previz/figure.py) are placed, lit and shadowed for that
    instant and drawn after the static faces, sorted with them. A shot without blocking draws
    exactly what it drew before blocking existed: `at` returns the scene itself.

    Per face, `face_owner` is the index in job.figures of the figure it belongs to (-1: the
    set) and `face_part` the index of its part in the frame's `part_matrices` (-1: static),
    for the per-pixel passes (previz/passes.py).
    """

    def __init__(self, job: ShotJob) -> None:
        self.width, self.height = int(job.width), int(job.height)
        self.fps = int(job.fps)
        self.framing_span = framing_span(job)  # the lens frames the whole canvas; the picture is its middle
        light = job.lighting
        self.toward_light = light_direction(light.azimuth_deg, light.elevation_deg)
        # The key's colour temperature is applied by the grade every backend shares
        # (post/grade.py), so previz lights with a white key: the kelvin tints a frame once,
        # not twice. The ambient is skylight, tinted a third of the way toward the sky's hue
        # (cool under a blue sky, magenta under neon) at the preset's luminance.
        self.key_rgb = np.ones(3) * float(light.key)
        sky = hex_to_linear(light.sky_top)
        sky_luma = max(dot3(sky, (0.2126, 0.7152, 0.0722)), 1e-6)
        tinted = 2.0 / 3.0 + (1.0 / 3.0) * sky / sky_luma
        self.ambient = ambient = float(light.ambient) * tinted / dot3(tinted, (0.2126, 0.7152, 0.0722))
        shade = self.shade

        # Sky, fog and ground colours (linear).
        backdrop = hex_to_linear(job.set.backdrop_color)
        tint = SKY_BACKDROP_TINT
        self.sky_top = (1 - tint) * hex_to_linear(light.sky_top) + tint * backdrop
        self.sky_horizon = (1 - tint) * hex_to_linear(light.sky_horizon) + tint * backdrop
        self.fog_color = self.sky_horizon
        ground = hex_to_linear(job.set.ground_color)
        up = np.array([0.0, 1.0, 0.0])
        self.ground_lit = shade(ground, up)
        self.grid_lit = shade(ground * GRID_LINE_ALBEDO, up)
        # A shadow removes the key light; with a pure power-law gamma that is an exact
        # per-channel multiply of the encoded pixel, so shadows darken whatever is drawn.
        ground_shadowed = ground * ambient
        self.shadow_ratio = (np.maximum(ground_shadowed, 1e-9) / np.maximum(self.ground_lit, 1e-9)) ** (1 / GAMMA)

        # Static solids (the set, and figures without blocking): faces with their lit colours, and
        # their shadows on the ground. Blocked figures are posed per frame in `at`.
        self.casts_shadows = light.key > 0
        self.shadow_light = shadow_direction(self.toward_light)
        solids = [(prop_solid(p), -1) for p in job.set.props]
        self.moving: list[tuple[int, Figure]] = []
        for owner, figure in enumerate(job.figures):
            if figure.blocking is None:
                solids += [(solid, owner) for solid in figure_solids(figure)]
            else:
                self.moving.append((owner, figure))
        self.timeline = BlockingTimeline(job) if self.moving else None
        # Per blocked figure: its mannequin and the linear albedo of each of its faces.
        self.rigs = []
        for owner, figure in self.moving:
            rig = mannequin(figure)
            colors = [hex_to_linear(c) for c in rig.colors]
            self.rigs.append((owner, figure, rig, np.array([colors[i] for i in rig.face_part]).reshape(-1, 3)))
        # A stool under each sit (not one on a prop) joins the set when the sit starts, so it is not
        # there before the character comes to it. The set is built once per number of stools in
        # (in the order they appear); a frame takes the one for its time (`at`).
        stools = []
        for _, figure in self.moving:
            for seat in self.timeline.seats(figure.character_id):
                stool = closed_box(0.0, 0.0, STOOL_SIZE[0], seat.height, STOOL_SIZE[1], STOOL_COLOR)
                stools.append((seat.start_s, placed(Part(stool, yaw_matrix(seat.heading, seat.x, 0.0, seat.z)))))
        stools.sort(key=lambda stool: stool[0])
        self.stool_starts = [start for start, _ in stools]
        set_solids, set_owners = [solid for solid, _ in solids], [owner for _, owner in solids]
        set_shadows, stool_shadows = self._shadows(set_solids), self._shadows([stool for _, stool in stools])
        self._sets = []
        for k in range(len(stools) + 1):
            with_stools = set_solids + [stool for _, stool in stools[:k]]
            self._sets.append((self._faces(with_stools, set_owners + [-1] * k, [-1] * len(with_stools)),
                               set_shadows + stool_shadows[:k]))
        self._static_faces, self._static_shadows = self._sets[self._stools_in(0.0)]
        self._use(self._static_faces)
        self.part_matrices = np.zeros((0, 3, 4))
        self.shadow_vertices, self.shadow_starts = concat_polygons(self._static_shadows)

        # Grid: 1 m pieces of lines on the ground around the subject, ordered along each line.
        centre_x, _, centre_z = subject(job)
        self.grid_from, self.grid_to, self.grid_line = grid_pieces(centre_x, centre_z)
        self.grid_colors = grid_colors(self.ground_lit, self.grid_lit, self.fog_color)

    def _stools_in(self, seconds: float) -> int:
        """How many stools stand at a time: those whose sit has started."""
        return bisect.bisect_right(self.stool_starts, seconds)

    def shade(self, albedo: np.ndarray, normal: np.ndarray) -> np.ndarray:
        """Lambert key plus ambient; the ambient is biased toward the sky (up-facing
        faces see more of it) so that faces turned away from the key still read apart."""
        direct = max(dot3(normal, self.toward_light), 0.0)
        return albedo * (self.key_rgb * direct + self.ambient * (0.75 + 0.25 * normal[1]))

    def _faces(self, solids: list[Solid], owners: list[int], parts: list[int]) -> dict[str, np.ndarray]:
        """Face arrays of solids: vertices with polygon starts, normals, centroids, lit colours, owner and part."""
        faces, normals, colors, face_owner, face_part = [], [], [], [], []
        for solid, owner, part in zip(solids, owners, parts):
            albedo = hex_to_linear(solid.color)
            for face, normal in zip(solid.faces, solid.normals):
                faces.append(face)
                normals.append(normal)
                colors.append(self.shade(albedo, normal))
                face_owner.append(owner)
                face_part.append(part)
        vertices, starts = concat_polygons(faces)
        return {"face_vertices": vertices, "face_starts": starts, "face_normals": np.array(normals).reshape(-1, 3),
                "face_centroids": np.array([f.mean(axis=0) for f in faces]).reshape(-1, 3),
                "face_colors": np.array(colors).reshape(-1, 3), "face_owner": np.array(face_owner, dtype=np.int32),
                "face_part": np.array(face_part, dtype=np.int32)}

    def _use(self, arrays: dict[str, np.ndarray]) -> None:
        for name, value in arrays.items():
            setattr(self, name, value)

    def _shadows(self, solids: list[Solid]) -> list[np.ndarray]:
        if not self.casts_shadows or not solids:
            return []
        vertices = [s.vertices for s in solids]
        starts = np.concatenate([[0], np.cumsum([len(v) for v in vertices])]).tolist()
        return ground_shadows(np.concatenate(vertices), starts, self.shadow_light)

    def at(self, index: int) -> ShotScene:
        """The scene at frame `index`: blocked figures posed for that instant (the scene itself when none are).

        All of a figure's parts are placed, lit and outlined at once (elementwise numpy over the
        mannequin's flat arrays, previz/figure.py), so posing costs little per frame.
        """
        if not self.moving:
            return self
        seconds = index / self.fps
        vertices, starts, normals, albedo, owners, part_of_face, matrices, shadows = [], [], [], [], [], [], [], []
        offset, first_part = 0, 0
        for owner, figure, rig, face_albedo in self.rigs:
            placing = rig.matrices(self.timeline.pose(figure.character_id, seconds))
            world, world_normals = rig.place(placing)
            vertices.append(world)
            starts.append(rig.face_starts[:-1] + offset)
            normals.append(world_normals)
            albedo.append(face_albedo)
            owners.append(np.full(len(rig.face_part), owner, dtype=np.int32))
            part_of_face.append((rig.face_part + first_part).astype(np.int32))
            matrices.append(placing)
            if self.casts_shadows:
                shadows += ground_shadows(world, rig.part_vertex_starts.tolist(), self.shadow_light)
            offset += len(world)
            first_part += len(placing)
        world = np.concatenate(vertices)
        n = np.concatenate(normals)
        face_starts = np.concatenate(starts + [np.array([offset], dtype=np.int64)])
        counts = np.diff(face_starts).astype(np.float64)
        centroids = np.add.reduceat(world, face_starts[:-1], axis=0) / counts[:, None]
        direct = np.maximum(n[:, 0] * self.toward_light[0] + n[:, 1] * self.toward_light[1]
                            + n[:, 2] * self.toward_light[2], 0.0)
        light = self.key_rgb[None, :] * direct[:, None] + self.ambient[None, :] * (0.75 + 0.25 * n[:, 1:2])
        moving = {"face_vertices": world, "face_normals": n, "face_centroids": centroids,
                  "face_colors": np.concatenate(albedo) * light, "face_owner": np.concatenate(owners),
                  "face_part": np.concatenate(part_of_face)}
        static, static_shadows = self._sets[self._stools_in(seconds)]
        frame = copy.copy(self)
        frame._use({name: np.concatenate([static[name], moving[name]]) for name in moving})
        frame.face_starts = np.concatenate([static["face_starts"][:-1], face_starts + len(static["face_vertices"])])
        frame.part_matrices = np.concatenate(matrices)
        frame._static_faces, frame._static_shadows = static, static_shadows
        frame.shadow_vertices, frame.shadow_starts = concat_polygons(static_shadows + shadows)
        return frame


def grid_pieces(centre_x: float, centre_z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid lines at whole multiples of GRID_STEP_M, cut into one-step pieces.

    Returns piece start points, end points (both (P, 3) on y = 0) and the id of the
    line each piece belongs to; pieces of a line are consecutive and in order.
    """
    steps = int(GRID_RADIUS_M / GRID_STEP_M)
    xs = (round(centre_x / GRID_STEP_M) + np.arange(-steps, steps + 1)) * GRID_STEP_M
    zs = (round(centre_z / GRID_STEP_M) + np.arange(-steps, steps + 1)) * GRID_STEP_M
    starts, ends, line_ids = [], [], []
    # Lines of constant x run along z; lines of constant z run along x.
    for line, (fixed, along, axis) in enumerate([(x, zs, 0) for x in xs] + [(z, xs, 2) for z in zs]):
        a, b = along[:-1], along[1:]
        p0 = np.zeros((len(a), 3))
        p1 = np.zeros((len(a), 3))
        p0[:, axis] = p1[:, axis] = fixed
        p0[:, 2 - axis] = a
        p1[:, 2 - axis] = b
        starts.append(p0)
        ends.append(p1)
        line_ids.append(np.full(len(a), line))
    return np.concatenate(starts), np.concatenate(ends), np.concatenate(line_ids)


def grid_colors(ground_lit: np.ndarray, grid_lit: np.ndarray, fog_color: np.ndarray) -> list[tuple[int, ...]]:
    """Line colour for each depth bin of GRID_LEVELS: grid contrast fades and fog grows with depth."""
    depth = np.sqrt(GRID_LEVELS[:-1] * GRID_LEVELS[1:])
    fog = fog_amount(depth)[:, None]
    contrast = np.clip(1.0 - depth / GRID_FADE_M, 0.0, 1.0)[:, None]
    ground = ground_lit + (fog_color - ground_lit) * fog
    line = grid_lit + (fog_color - grid_lit) * fog
    return [tuple(c) for c in linear_to_u8(ground + (line - ground) * contrast).tolist()]


# ----------------------------------------------------------------------------- per-frame camera


class View:
    """A pinhole camera for one frame: world → camera space → pixels (cv2 pixel-centre coordinates)."""

    def __init__(self, pose: CameraPose, width: int, height: int, framing_span: float | None = None) -> None:
        self.position = np.asarray(pose.position, dtype=np.float64)
        forward = np.asarray(pose.target, dtype=np.float64) - self.position
        forward = unit3(forward) if dot3(forward, forward) > 1e-18 else np.array([0.0, 0.0, 1.0])
        right = cross3((0.0, 1.0, 0.0), forward)
        # Looking straight up or down leaves no horizon to level on: keep +x to the right.
        right = unit3(right) if dot3(right, right) > 1e-18 else np.array([1.0, 0.0, 0.0])
        self.right, self.up, self.forward = right, cross3(forward, right), forward
        self.focal_px = pose.focal_length_mm / GATE_MM * (framing_span or max(width, height))
        self.cx, self.cy = (width - 1) / 2.0, (height - 1) / 2.0
        self.width, self.height = width, height

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) to camera space (x right, y up, z depth); elementwise, no BLAS."""
        d = points - self.position
        return np.stack([d[:, 0] * self.right[0] + d[:, 1] * self.right[1] + d[:, 2] * self.right[2],
                         d[:, 0] * self.up[0] + d[:, 1] * self.up[1] + d[:, 2] * self.up[2],
                         d[:, 0] * self.forward[0] + d[:, 1] * self.forward[1] + d[:, 2] * self.forward[2]],
                        axis=1)

    def project(self, cam: np.ndarray) -> np.ndarray:
        """Camera-space points with z > 0 to float pixel coordinates (N, 2)."""
        z = np.maximum(cam[:, 2], NEAR_M)
        return np.stack([self.cx + self.focal_px * cam[:, 0] / z, self.cy - self.focal_px * cam[:, 1] / z], axis=1)


def clip_polygon(poly: np.ndarray, axis: int, limit: float, keep_above: bool) -> np.ndarray:
    """Sutherland–Hodgman: the part of a convex polygon with coordinate `axis` above
    (or below) `limit`. Works for camera-space (3D) and pixel (2D) polygons."""
    out = []
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        da, db = a[axis] - limit, b[axis] - limit
        if not keep_above:
            da, db = -da, -db
        if da >= 0:
            out.append(a)
        if (da >= 0) != (db >= 0):
            out.append(a + (b - a) * (da / (da - db)))
    return np.array(out).reshape(-1, poly.shape[1])


def to_fixed(pixels: np.ndarray) -> np.ndarray:
    """Float pixel coordinates to cv2's fixed-point grid, rounded explicitly."""
    return np.round(pixels * ONE).astype(np.int32)


def screen_polygon(view: View, cam_poly: np.ndarray) -> np.ndarray | None:
    """A camera-space convex polygon clipped to the near plane (and a 2D guard band), as fixed-point pixels."""
    if cam_poly[:, 2].min() <= NEAR_M:
        cam_poly = clip_polygon(cam_poly, 2, NEAR_M, keep_above=True)
        if len(cam_poly) < 3:
            return None
    pixels = view.project(cam_poly)
    if np.abs(pixels).max() > GUARD_PX:
        for axis in (0, 1):
            pixels = clip_polygon(pixels, axis, -GUARD_PX, keep_above=True)
            if len(pixels) >= 3:
                pixels = clip_polygon(pixels, axis, GUARD_PX, keep_above=False)
            if len(pixels) < 3:
                return None
    return to_fixed(pixels)


# ----------------------------------------------------------------------------- drawing


def fill_rows(image: np.ndarray, column: np.ndarray) -> None:
    """Fill every row of an (H, W, 3) image with that row's colour from an (H, 3) column.

    numpy broadcasts 3-byte pixels one pixel at a time, which is slow; filling a
    small block and doubling it across with wide contiguous byte copies is ~50x faster.
    """
    height, width = image.shape[:2]
    flat = image.reshape(height, width * 3)  # a view: rows of bytes
    filled = min(16, width)
    image[:, :filled] = column[:, None, :]
    while filled < width:
        n = min(filled, width - filled)
        flat[:, filled * 3:(filled + n) * 3] = flat[:, :n * 3]
        filled += n


def draw_background(image: np.ndarray, scene: ShotScene, view: View) -> None:
    """Sky gradient above the horizon, fogged ground below it, one colour per row."""
    rows = np.arange(view.height, dtype=np.float64)
    ray_y = (view.cy - rows) / view.focal_px  # camera-space ray (0, ray_y, 1) through each row centre
    world_y = view.up[1] * ray_y + view.forward[1]
    world_h = np.hypot(view.up[0] * ray_y + view.forward[0], view.up[2] * ray_y + view.forward[2])
    elevation = np.arctan2(np.maximum(world_y, 0.0), world_h)
    sky_t = np.clip(elevation / SKY_GRADIENT_RAD, 0.0, 1.0) ** 0.8
    sky = scene.sky_horizon + (scene.sky_top - scene.sky_horizon) * sky_t[:, None]

    depth = np.where(world_y < 0.0, view.position[1] / np.maximum(-world_y, 1e-12), np.inf)
    fog = np.where(np.isfinite(depth), fog_amount(np.where(np.isfinite(depth), depth, 0.0)), FOG_MAX)
    ground = scene.ground_lit + (scene.fog_color - scene.ground_lit) * fog[:, None]

    # Row coverage by sky, so the horizon is antialiased like every other edge.
    if view.up[1] > 1e-9:
        horizon = view.cy + view.focal_px * view.forward[1] / view.up[1]
        sky_cover = np.clip(horizon - (rows - 0.5), 0.0, 1.0)
    else:  # looking straight down: no horizon in view
        sky_cover = np.zeros_like(rows)
    column = sky * sky_cover[:, None] + ground * (1.0 - sky_cover[:, None])
    fill_rows(image, linear_to_u8(column))


def draw_grid(image: np.ndarray, scene: ShotScene, view: View) -> None:
    """The ground grid: pieces clipped to the near plane, joined into runs of one colour, drawn as AA lines."""
    colors = scene.grid_colors
    a = view.to_camera(scene.grid_from)
    b = view.to_camera(scene.grid_to)
    keep = (a[:, 2] > NEAR_M) | (b[:, 2] > NEAR_M)
    # Move the end behind the near plane onto it.
    for p, q in ((a, b), (b, a)):
        behind = keep & (p[:, 2] <= NEAR_M)
        s = ((NEAR_M - p[behind, 2]) / (q[behind, 2] - p[behind, 2]))[:, None]
        p[behind] = p[behind] + (q[behind] - p[behind]) * s
    depth = 0.5 * (a[:, 2] + b[:, 2])
    level = np.searchsorted(GRID_LEVELS, depth) - 1
    keep &= level < len(colors)
    level = np.clip(level, 0, len(colors) - 1)
    pa, pb = view.project(a), view.project(b)
    keep &= np.maximum(np.abs(pa).max(axis=1), np.abs(pb).max(axis=1)) < GUARD_PX
    if not keep.any():
        return
    # Consecutive kept pieces of the same line and colour form one straight run.
    index = np.flatnonzero(keep)
    key = scene.grid_line[index] * len(colors) + level[index]
    new_run = np.ones(len(index), dtype=bool)
    new_run[1:] = (key[1:] != key[:-1]) | (index[1:] != index[:-1] + 1)
    first = index[new_run]
    last = index[np.append(np.flatnonzero(new_run)[1:] - 1, len(index) - 1)]
    segments = to_fixed(np.stack([pa[first], pb[last]], axis=1))
    run_level = level[first]
    for lv in np.unique(run_level).tolist():
        cv2.polylines(image, segments[run_level == lv], False, colors[lv], 1, cv2.LINE_AA, SHIFT)


def draw_shadows(image: np.ndarray, scene: ShotScene, view: View) -> None:
    """Darken the ground under every shadow outline: a coverage mask times the shadow ratio."""
    starts = scene.shadow_starts
    if len(starts) < 2:
        return
    cam = view.to_camera(scene.shadow_vertices)
    polygons = []
    for i in range(len(starts) - 1):
        poly = cam[starts[i]:starts[i + 1]]
        if poly[:, 2].max() <= NEAR_M:
            continue
        fixed = screen_polygon(view, poly)
        if fixed is not None:
            polygons.append(fixed)
    if not polygons:
        return
    everything = np.concatenate(polygons)
    x0 = max(int(everything[:, 0].min()) // ONE - 1, 0)
    y0 = max(int(everything[:, 1].min()) // ONE - 1, 0)
    x1 = min(int(everything[:, 0].max()) // ONE + 2, view.width)
    y1 = min(int(everything[:, 1].max()) // ONE + 2, view.height)
    if x0 >= x1 or y0 >= y1:
        return
    mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    origin = np.array([x0 * ONE, y0 * ONE], dtype=np.int32)
    for fixed in polygons:
        cv2.fillConvexPoly(mask, fixed - origin, 255, cv2.LINE_AA, SHIFT)
    # Each pixel is scaled by 255 - coverage * (1 - ratio), per channel (a 3-channel LUT),
    # strip by strip over only the columns a strip's shadows cover: long low-sun
    # shadows run diagonally, so their bounding box is mostly empty.
    lut = np.round(255.0 - np.arange(256)[:, None] * (1.0 - scene.shadow_ratio)[None, :])
    lut = lut.astype(np.uint8).reshape(256, 1, 3)
    roi = image[y0:y1, x0:x1]
    for r0 in range(0, y1 - y0, SHADOW_STRIP_ROWS):
        strip = mask[r0:r0 + SHADOW_STRIP_ROWS]
        columns = np.flatnonzero(strip.any(axis=0))
        if len(columns) == 0:
            continue
        c0, c1 = int(columns[0]), int(columns[-1]) + 1
        factor = cv2.LUT(cv2.cvtColor(strip[:, c0:c1], cv2.COLOR_GRAY2RGB), lut)
        target = roi[r0:r0 + SHADOW_STRIP_ROWS, c0:c1]
        cv2.multiply(target, factor, dst=target, scale=1.0 / 255.0)


class VisibleFaces:
    """The faces one frame paints, in painter's order (far to near), and where each lands on screen.

    Shared by the RGB frame (`draw_faces`) and the depth image (`draw_depth_faces`), so
    both cull, clip and order faces identically and their edges line up to the bit.
    """

    def __init__(self, scene: ShotScene, view: View) -> None:
        self.view = view
        self.starts = starts = scene.face_starts
        self.order: list[int] = []
        if len(starts) < 2:
            return
        cam = view.to_camera(scene.face_vertices)
        centroid_depth = view.to_camera(scene.face_centroids)[:, 2]
        to_camera = view.position - scene.face_centroids
        facing = (scene.face_normals * to_camera).sum(axis=1) > 1e-9
        z_min = np.minimum.reduceat(cam[:, 2], starts[:-1])
        z_max = np.maximum.reduceat(cam[:, 2], starts[:-1])
        pixels = view.project(cam)
        # Whole faces in front of the near plane: cull by screen bounds and round in one go.
        u_min = np.minimum.reduceat(pixels[:, 0], starts[:-1])
        u_max = np.maximum.reduceat(pixels[:, 0], starts[:-1])
        v_min = np.minimum.reduceat(pixels[:, 1], starts[:-1])
        v_max = np.maximum.reduceat(pixels[:, 1], starts[:-1])
        in_front = z_min > NEAR_M
        on_screen = (u_max >= -1) & (u_min <= view.width) & (v_max >= -1) & (v_min <= view.height)
        inside_guard = np.maximum(np.abs(pixels[:, 0]), np.abs(pixels[:, 1]))
        inside_guard = np.maximum.reduceat(inside_guard, starts[:-1]) < GUARD_PX
        simple = in_front & inside_guard & on_screen  # drawn from `fixed` below, no clipping needed
        surely_off_screen = in_front & inside_guard & ~on_screen
        draw = facing & (z_max > NEAR_M) & ~surely_off_screen  # the rest is clipped face by face
        self.fixed = to_fixed(np.clip(pixels, -GUARD_PX, GUARD_PX))  # only `simple` faces use these, all inside
        self.cam, self.simple = cam, simple
        self.centroid_depth, self.z_min, self.z_max = centroid_depth, z_min, z_max
        order = np.flatnonzero(draw)
        self.order = order[np.argsort(-centroid_depth[order], kind="stable")].tolist()

    def screen(self, f: int) -> np.ndarray | None:
        """Face f as a fixed-point pixel polygon, clipped where needed; None if nothing is left."""
        a, b = self.starts[f], self.starts[f + 1]
        return self.fixed[a:b] if self.simple[f] else screen_polygon(self.view, self.cam[a:b])


def draw_faces(image: np.ndarray, scene: ShotScene, view: View) -> None:
    """Props and figures: cull back faces, clip, fog, and paint far to near."""
    faces = VisibleFaces(scene, view)
    if not faces.order:
        return
    fog = fog_amount(faces.centroid_depth)[:, None]
    colors = linear_to_u8(scene.face_colors + (scene.fog_color - scene.face_colors) * fog).tolist()
    for f in faces.order:
        poly = faces.screen(f)
        if poly is not None:
            cv2.fillConvexPoly(image, poly, colors[f], cv2.LINE_AA, SHIFT)


# ----------------------------------------------------------------------------- depth


def depth_levels(depth: np.ndarray, scale: float) -> np.ndarray:
    """Camera-space depth (metres along the optical axis) to depth-image grey levels, as floats.

    scale / depth (scale = 255 * near_m), capped at 255: 255 at near_m or nearer (and for
    anything at or behind the camera), falling toward 0 at infinity.
    """
    depth = np.asarray(depth, dtype=np.float64)
    level = np.where(depth > 0.0, scale / np.where(depth > 0.0, depth, 1.0), 255.0)
    return np.minimum(level, 255.0)


def draw_depth_background(depth: np.ndarray, view: View, scale: float) -> None:
    """Ground grey level per row (exact: with no roll a whole row sees the ground at one
    depth), sky 0, with the same antialiased horizon as the RGB background."""
    rows = np.arange(view.height, dtype=np.float64)
    ray_y = (view.cy - rows) / view.focal_px  # camera-space ray (0, ray_y, 1) through each row centre
    world_y = view.up[1] * ray_y + view.forward[1]
    ground = view.position[1] / np.maximum(-world_y, 1e-12)  # camera-space depth of the ground hit
    seen = (world_y < 0.0) & (ground > 0.0)
    level = np.where(seen, depth_levels(np.where(seen, ground, 1.0), scale), 0.0)
    if view.up[1] > 1e-9:
        horizon = view.cy + view.focal_px * view.forward[1] / view.up[1]
        sky_cover = np.clip(horizon - (rows - 0.5), 0.0, 1.0)
    else:  # looking straight down: no horizon in view
        sky_cover = np.zeros_like(rows)
    column = np.round(np.clip(level * (1.0 - sky_cover), 0.0, 255.0)).astype(np.uint8)
    depth[:] = column[:, None]


def draw_depth_faces(depth: np.ndarray, scene: ShotScene, view: View, scale: float) -> None:
    """Props and figures into a one-channel depth image, with the same faces, polygons
    and painter's order as `draw_faces`, so every edge lands where the RGB edge does.

    Inverse depth is affine across a planar face, so its extremes are at the vertices.
    A face whose vertex levels round at most DEPTH_FLAT_SPAN apart (the common case:
    figures' and most props' faces) is filled flat with its middle level, within one
    grey level of exact everywhere on it; any other face (a wall or top receding from
    the camera) gets exact per-pixel levels (`draw_depth_plane`).
    """
    faces = VisibleFaces(scene, view)
    if not faces.order:
        return
    near = depth_levels(np.maximum(faces.z_min, 0.0), scale)  # z <= 0 counts as nearest: 255
    far = depth_levels(faces.z_max, scale)
    flat = np.round(near) - np.round(far) <= DEPTH_FLAT_SPAN
    middle = np.round(0.5 * (near + far)).astype(np.int64).tolist()
    for f in faces.order:
        poly = faces.screen(f)
        if poly is None:
            continue
        if flat[f] or not draw_depth_plane(depth, view, poly, faces.cam[faces.starts[f]], scene.face_normals[f],
                                           scale, float(far[f]), float(near[f])):
            cv2.fillConvexPoly(depth, poly, middle[f], cv2.LINE_AA, SHIFT)


def draw_depth_plane(depth: np.ndarray, view: View, poly: np.ndarray, cam_vertex: np.ndarray,
                     world_normal: np.ndarray, scale: float, lowest: float, highest: float) -> bool:
    """Per-pixel grey levels of one planar face, blended in by its antialiased coverage
    just as cv2 blends a flat colour. False (nothing drawn) if the face is seen edge-on.

    The face plane is n . X = d in camera space and the ray through pixel (u, v) is
    z * ((u - cx) / f, (cy - v) / f, 1), so 1/z = (n_x (u - cx) / f - n_y (v - cy) / f + n_z) / d:
    an outer sum of a row term and a column term.
    """
    nx = dot3(world_normal, view.right)
    ny = dot3(world_normal, view.up)
    nz = dot3(world_normal, view.forward)
    d = nx * float(cam_vertex[0]) + ny * float(cam_vertex[1]) + nz * float(cam_vertex[2])
    if abs(d) < 1e-12:
        return False
    height, width = depth.shape
    x0 = max(int(poly[:, 0].min()) // ONE - 1, 0)
    y0 = max(int(poly[:, 1].min()) // ONE - 1, 0)
    x1 = min(int(poly[:, 0].max()) // ONE + 2, width)
    y1 = min(int(poly[:, 1].max()) // ONE + 2, height)
    if x0 >= x1 or y0 >= y1:
        return True
    coverage = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    cv2.fillConvexPoly(coverage, poly - np.array([x0 * ONE, y0 * ONE], dtype=np.int32), 255, cv2.LINE_AA, SHIFT)
    k = scale / d
    # +0.5 so that truncating to uint8 below rounds half up; clipping to the face's own
    # range keeps antialiased rim pixels, just outside the face, from extrapolating.
    along_u = ((np.arange(x0, x1, dtype=np.float64) - view.cx) * (k * nx / view.focal_px)).astype(np.float32)
    along_v = ((np.arange(y0, y1, dtype=np.float64) - view.cy) * (-k * ny / view.focal_px)
               + (k * nz + 0.5)).astype(np.float32)
    lo, hi = np.float32(lowest + 0.5), np.float32(highest + 0.5)
    # Small faces in one go; big ones in strips over only the columns each strip covers,
    # so that a slanted face costs about its area rather than its bounding box.
    rows = y1 - y0 if coverage.size <= DEPTH_STRIP_MIN_PIXELS else DEPTH_STRIP_ROWS
    for r0 in range(0, y1 - y0, rows):
        r1 = min(r0 + rows, y1 - y0)
        strip = coverage[r0:r1]
        if rows == y1 - y0:
            c0, c1 = 0, x1 - x0
        else:
            columns = np.flatnonzero(strip.any(axis=0))
            if len(columns) == 0:
                continue
            c0, c1 = int(columns[0]), int(columns[-1]) + 1
        value = np.add.outer(along_v[r0:r1], along_u[c0:c1])
        np.maximum(value, lo, out=value)
        np.minimum(value, hi, out=value)
        weight = strip[:, c0:c1].astype(np.float32)
        target = depth[y0 + r0:y0 + r1, x0 + c0:x0 + c1]
        target[:] = cv2.blendLinear(value.astype(np.uint8), target, weight, 255.0 - weight)
    return True


# ----------------------------------------------------------------------------- public API


def draw(scene: ShotScene, pose: CameraPose) -> np.ndarray:
    """One frame of a prepared scene from one camera pose."""
    image = np.empty((scene.height, scene.width, 3), dtype=np.uint8)
    view = View(pose, scene.width, scene.height, scene.framing_span)
    draw_background(image, scene, view)
    draw_grid(image, scene, view)
    draw_shadows(image, scene, view)
    draw_faces(image, scene, view)
    return image


def draw_depth(scene: ShotScene, pose: CameraPose, *, near_m: float = DEPTH_NEAR_M) -> np.ndarray:
    """The depth image of the frame `draw(scene, pose)` draws: (height, width, 3) uint8,
    the three channels equal, C-contiguous.

    The convention depth ControlNets are trained on (MiDaS-style inverse depth): near is
    bright, far is dark, sky is black (0). Grey level = round(255 * near_m / z) for
    camera-space depth z (metres along the optical axis), capped at 255, on that fixed
    scale for every frame and shot: no per-frame min/max normalisation, so a static set
    keeps its brightness through a camera move and an approaching subject brightens.
    Ground depth is exact per row; faces are exact per pixel where they span several grey
    levels and filled flat, within one level of exact, where they span at most two (see
    `draw_depth_faces`). Shadows and the ground grid are not geometry and are not drawn.
    Everything nearer than near_m saturates at 255: pass a smaller near_m for close-ups.
    Faces are culled, clipped and painter-sorted exactly as in `draw`, so edges line up
    with the RGB frame (both antialiased: an edge pixel blends the two depths by coverage).
    """
    if not near_m > 0.0:
        raise ValueError(f"near_m must be positive, got {near_m}")
    scale = 255.0 * float(near_m)
    depth = np.empty((scene.height, scene.width), dtype=np.uint8)
    view = View(pose, scene.width, scene.height, scene.framing_span)
    draw_depth_background(depth, view, scale)
    draw_depth_faces(depth, scene, view, scale)
    return cv2.cvtColor(depth, cv2.COLOR_GRAY2RGB)


def check_index(job: ShotJob, index: int) -> int:
    if not 0 <= index < job.frames:
        raise IndexError(f"frame {index} is outside shot {job.shot_path} (frames 0..{job.frames - 1})")
    return int(index)


def render_frame(job: ShotJob, index: int, pose: CameraPose | None = None) -> np.ndarray:
    """Frame `index` of a shot as a C-contiguous (height, width, 3) uint8 RGB array.

    Builds the shot's scene from scratch; to render many frames use render_frames,
    which builds it (and the camera path) once.
    """
    check_index(job, index)
    if pose is None:
        pose = camera_path(job)[index]
    return draw(ShotScene(job).at(index), pose)


def render_frames(job: ShotJob, indices: Iterable[int]) -> Iterator[np.ndarray]:
    """Frames of a shot in the order given; frame i is identical to render_frame(job, i)."""
    indices = [check_index(job, i) for i in indices]  # fail before any work, not mid-stream
    return _frames(job, indices)


def _frames(job: ShotJob, indices: list[int]) -> Iterator[np.ndarray]:
    if not indices:
        return
    path = camera_path(job)
    scene = ShotScene(job)
    for index in indices:
        yield draw(scene.at(index), path[index])


def render_depth(job: ShotJob, index: int, pose: CameraPose | None = None, *,
                 near_m: float = DEPTH_NEAR_M) -> np.ndarray:
    """The depth image (see draw_depth) of frame `index`, aligned pixel for pixel with
    render_frame(job, index). Builds the scene from scratch, like render_frame; for many
    frames build scene = ShotScene(job) and path = camera_path(job) once and call
    draw_depth(scene.at(index), path[index]) (`at` poses blocked figures for the frame)."""
    check_index(job, index)
    if pose is None:
        pose = camera_path(job)[index]
    return draw_depth(ShotScene(job).at(index), pose, near_m=near_m)
