"""The camera look's finishing steps on every backend's picture: 3D LUT, vignette, film grain.

All three are pure functions of (job, frame index, picture) and exact integer results:

* LUT: the .cube file (colour-science's reader, `plan.look.read_lut`) is baked once per
  process into a table over every 8-bit RGB input (2^24 entries, trilinear interpolation
  in float64, rounded to the nearest level), so applying it is one table look-up per pixel.
  A 1D LUT becomes a per-channel cv2.LUT table.
* Vignette: a per-size mask multiplied in (cv2.multiply, like the previz shadows).
* Grain: monochrome Gaussian grain from the frame's grain seed (`plan.seeds.grain_seed`),
  strongest in the midtones, added with saturation.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING

import cv2
import numpy as np

from reelforge.plan.lut import LutError, read_lut
from reelforge.plan.seeds import grain_seed
from reelforge.store.hashing import file_sha256

if TYPE_CHECKING:
    from reelforge.plan.look import LutJob

# ----------------------------------------------------------------------------- LUT

CACHED_LUTS = 2  # baked 3D tables are 64 MiB each


class _LutCache:
    def __init__(self) -> None:
        self._tables: OrderedDict[tuple[str, float], tuple[str, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, lut: LutJob, path: str) -> tuple[str, np.ndarray]:
        key = (lut.sha256, lut.strength)
        with self._lock:  # one thread bakes; the frame pool's others wait for it
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
            baked = bake_lut(Path(path), lut.sha256, lut.strength)
            self._tables[key] = baked
            while len(self._tables) > CACHED_LUTS:
                self._tables.popitem(last=False)
            return baked


_LUTS = _LutCache()


def _axis_samples(domain_min: float, domain_max: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """For each 8-bit level: the LUT lattice index below it and the weight of the one above."""
    u = (np.arange(256, dtype=np.float64) / 255.0 - domain_min) / (domain_max - domain_min)
    u = np.clip(u, 0.0, 1.0) * (size - 1)
    below = np.minimum(np.floor(u).astype(np.int64), size - 2)
    return below, u - below


def bake_lut(path: Path, sha256: str, strength: float) -> tuple[str, np.ndarray]:
    """A LUT file as ("1d", (256, 1, 3) uint8 cv2.LUT table) or ("3d", 2^24 little-endian
    uint32 table of packed RGB output, indexed by r + 256 g + 65536 b).

    Output = round(255 · clip((1 - s) · x + s · LUT(x))) for every 8-bit input x, where
    LUT(x) is trilinear (3D) or linear (1D) interpolation and s the strength; s = 1 uses
    LUT(x) itself. An identity .cube therefore maps every byte to itself (its lattice
    values are exact to far better than half a level).
    """
    if file_sha256(path) != sha256:
        raise LutError(f"look.lut: {path} changed since this job was planned (its SHA-256 is not "
                       f"{sha256[:12]}…); plan the production again")
    table, domain = read_lut(path)
    size = table.shape[0]
    levels = np.arange(256, dtype=np.float64) / 255.0

    def mix(value: np.ndarray, x: np.ndarray) -> np.ndarray:
        if strength != 1.0:
            value = (1.0 - strength) * x + strength * value
        return np.round(np.clip(value, 0.0, 1.0) * 255.0).astype(np.uint8)

    if table.ndim == 2:  # 1D: per channel
        columns = []
        for c in range(3):
            below, t = _axis_samples(domain[0, c], domain[1, c], size)
            columns.append(mix(table[below, c] * (1.0 - t) + table[below + 1, c] * t, levels))
        table = np.ascontiguousarray(np.stack(columns, axis=1).reshape(256, 1, 3))
        table.flags.writeable = False
        return "1d", table

    # 3D: trilinear interpolation is separable, so interpolate one axis at a time,
    # one blue level at a time (memory stays small; the table is built in [b][g][r] order).
    rb, rt = _axis_samples(domain[0, 0], domain[1, 0], size)
    gb, gt = _axis_samples(domain[0, 1], domain[1, 1], size)
    bb, bt = _axis_samples(domain[0, 2], domain[1, 2], size)
    packed = np.empty((256, 256, 256), dtype="<u4")
    grid_r = np.broadcast_to(levels[None, :], (256, 256))
    grid_g = np.broadcast_to(levels[:, None], (256, 256))
    for b in range(256):
        slab = table[:, :, bb[b]] * (1.0 - bt[b]) + table[:, :, bb[b] + 1] * bt[b]  # (r, g, 3)
        slab = slab[:, gb] * (1.0 - gt)[None, :, None] + slab[:, gb + 1] * gt[None, :, None]  # (r, g256, 3)
        slab = slab[rb] * (1.0 - rt)[:, None, None] + slab[rb + 1] * rt[:, None, None]  # (r256, g256, 3)
        slab = slab.transpose(1, 0, 2)  # (g, r, 3)
        red = mix(slab[..., 0], grid_r).astype("<u4")
        green = mix(slab[..., 1], grid_g).astype("<u4")
        blue = mix(slab[..., 2], np.full((256, 256), b / 255.0)).astype("<u4")
        packed[b] = red | (green << 8) | (blue << 16)
    packed = packed.reshape(-1)
    packed.flags.writeable = False
    return "3d", packed


def apply_lut(lut: LutJob, path: str, picture: np.ndarray) -> np.ndarray:
    """The picture through the baked LUT: one look-up per pixel (3D) or per channel (1D)."""
    kind, table = _LUTS.get(lut, path)
    if kind == "1d":
        return cv2.LUT(picture, table)
    height, width = picture.shape[:2]
    # RGBA bytes read as one little-endian uint32 are r + 256 g + 65536 b + 2^24 a: the
    # alpha byte is masked off, leaving the table index.
    rgba = cv2.cvtColor(picture, cv2.COLOR_RGB2RGBA).view("<u4").reshape(height, width)
    np.bitwise_and(rgba, 0xFFFFFF, out=rgba)
    out = np.take(table, rgba).view(np.uint8).reshape(height, width, 4)  # np.take: faster than fancy indexing
    return cv2.cvtColor(out, cv2.COLOR_RGBA2RGB)


# ----------------------------------------------------------------------------- vignette

VIGNETTE_DEPTH = 0.8  # at strength 1 the corners keep 20 % of their brightness
VIGNETTE_START = 0.45  # no darkening within this fraction of the half-diagonal from the centre


VIGNETTE_BAND = 256  # mask rows computed at a time: float64 temporaries of a band, not of the frame


@lru_cache(maxsize=8)
def vignette_mask(width: int, height: int, strength: float) -> np.ndarray:
    """(height, width, 3) uint8 factors (255 = unchanged): a circular falloff over the picture,
    smoothstep from VIGNETTE_START of the half-diagonal to the corners.

    Built a band of rows at a time (each factor is its own pixel's, so the bytes are the same): whole-frame
    float64 temporaries would be over a gigabyte at 8K (7680×4320).
    """
    x = (np.arange(width, dtype=np.float64) - (width - 1) / 2.0)[None, :]
    mask = np.empty((height, width, 3), dtype=np.uint8)
    for top in range(0, height, VIGNETTE_BAND):
        rows = np.arange(top, min(top + VIGNETTE_BAND, height), dtype=np.float64)
        y = (rows - (height - 1) / 2.0)[:, None]
        r = np.sqrt(x * x + y * y) / (0.5 * np.hypot(width, height))
        s = np.clip((r - VIGNETTE_START) / (1.0 - VIGNETTE_START), 0.0, 1.0)
        factor = 1.0 - VIGNETTE_DEPTH * strength * s * s * (3.0 - 2.0 * s)
        mask[top:top + len(rows)] = np.round(factor * 255.0).astype(np.uint8)[:, :, None]
    mask.flags.writeable = False  # shared by every frame of every thread
    return mask


def apply_vignette(strength: float, picture: np.ndarray) -> np.ndarray:
    height, width = picture.shape[:2]
    return cv2.multiply(picture, vignette_mask(width, height, strength), scale=1.0 / 255.0)


# ----------------------------------------------------------------------------- grain

GRAIN_SIGMA = 14.0  # standard deviation in 8-bit levels at strength 1, in the midtones
GRAIN_FLOOR = 0.25  # fraction of that left in pure black and pure white
GRAIN_LINES = 1080  # grain is one sample per pixel when the canvas's short side is 1080; larger frames scale it up
# 256 equally likely Gaussian values (quantiles at (i + 0.5) / 256): one random byte → one sample.
GAUSSIAN_BYTES = np.array([NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)], dtype=np.float32)
assert GRAIN_SIGMA * float(GAUSSIAN_BYTES.max()) < 127  # grain fits in int8


@lru_cache(maxsize=16)
def grain_amplitude(strength: float) -> np.ndarray:
    """Grain standard deviation (levels) for each luma level: most in the midtones, like film."""
    x = np.arange(256, dtype=np.float64) / 255.0
    midtones = 4.0 * x * (1.0 - x)
    amplitude = (strength * GRAIN_SIGMA * (GRAIN_FLOOR + (1.0 - GRAIN_FLOOR) * midtones)).astype(np.float32)
    amplitude.flags.writeable = False
    return amplitude


def grain_noise(seed: int, width: int, height: int, canvas_lines: int) -> np.ndarray:
    """Unit Gaussian noise (float32, height × width) from the seed's PCG64 bytes; on frames over
    GRAIN_LINES lines (the canvas's short side: a 1080×1920 vertical frame has 1080) it is drawn at
    1080-line density and scaled up (bilinear)."""
    scale = min(1.0, GRAIN_LINES / canvas_lines)
    gw, gh = max(1, round(width * scale)), max(1, round(height * scale))
    raw = np.random.PCG64(seed).random_raw((gw * gh + 7) // 8).astype("<u8", copy=False).view(np.uint8)
    noise = cv2.LUT(raw[:gw * gh].reshape(gh, gw), GAUSSIAN_BYTES)  # byte → Gaussian value, a table look-up
    if (gw, gh) != (width, height):
        noise = cv2.resize(noise, (width, height), interpolation=cv2.INTER_LINEAR)
    return noise


def apply_grain(strength: float, seed_of_shot: int, index: int, canvas_lines: int,
                picture: np.ndarray) -> np.ndarray:
    """The picture with frame `index`'s grain: the same on every channel, scaled by the luma,
    rounded to whole levels (half to even) and added with saturation."""
    height, width = picture.shape[:2]
    noise = grain_noise(grain_seed(seed_of_shot, index), width, height, canvas_lines)
    amplitude = cv2.LUT(cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY), grain_amplitude(strength))
    cv2.multiply(noise, amplitude, dst=noise)
    np.rint(noise, out=noise)
    grain = noise.astype(np.int8)  # |grain| <= GRAIN_SIGMA · 2.89 < 128 (the largest Gaussian byte value)
    return cv2.add(picture, cv2.merge([grain, grain, grain]), dtype=cv2.CV_8U)
