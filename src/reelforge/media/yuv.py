"""RGB24 → YUV 4:2:0 (BT.709, limited range) in explicit integer arithmetic.

Why not swscale: its x86 SIMD paths are not guaranteed bit-exact with its C
path and PyAV cannot pass SWS_BITEXACT, so the same frame could become other
YUV bytes on another CPU. This conversion is plain integer numpy: the same
bytes on every machine, within rounding of the exact matrix, at about the cost
of swscale.

The BT.709 matrix is scaled to limited range (Y 16–235, Cb/Cr 16–240) in
16-bit fixed point; each chroma row is adjusted to sum to exactly zero so grey
stays neutral. Chroma is computed from the sum of each 2×2 block of RGB
(centre-sited), the division by four folded into the final shift.
"""

from __future__ import annotations

import numpy as np

KR, KB = 0.2126, 0.0722
KG = 1.0 - KR - KB
FIXED = 16  # fractional bits


def _row(values: tuple[float, float, float], scale: float, zero_sum: bool) -> tuple[int, int, int]:
    row = [round(v * scale * (1 << FIXED)) for v in values]
    if zero_sum:  # put the rounding residue on the largest negative term
        worst = min(range(3), key=lambda i: row[i])
        row[worst] -= sum(row)
    return tuple(row)  # type: ignore[return-value]


Y_ROW = _row((KR, KG, KB), 219 / 255, zero_sum=False)
CB_ROW = _row((-KR / (2 * (1 - KB)), -KG / (2 * (1 - KB)), 0.5), 224 / 255, zero_sum=True)
CR_ROW = _row((0.5, -KG / (2 * (1 - KR)), -KB / (2 * (1 - KR))), 224 / 255, zero_sum=True)


def _weighted_sum(channels: list[np.ndarray], row: tuple[int, int, int], dtype) -> np.ndarray:
    """row · channels in integers, written into one accumulator (no float anywhere)."""
    acc = np.empty(channels[0].shape, dtype=dtype)
    tmp = np.empty_like(acc)
    np.multiply(channels[0], row[0], out=acc, dtype=dtype)
    for channel, weight in zip(channels[1:], row[1:]):
        np.multiply(channel, weight, out=tmp, dtype=dtype)
        acc += tmp
    return acc


def rgb_to_yuv420(rgb: np.ndarray) -> np.ndarray:
    """Convert (H, W, 3) uint8 RGB to a (H*3/2, W) uint8 I420 array (Y plane, then U, then V)."""
    height, width = rgb.shape[:2]
    if height % 2 or width % 2:
        raise ValueError(f"4:2:0 needs an even frame size, got {width}×{height}")
    pixels = rgb.reshape(-1, 3)
    # Y: all terms are non-negative, max 255 * 56284 + offsets < 2**32.
    y = _weighted_sum([pixels[:, 0], pixels[:, 1], pixels[:, 2]], Y_ROW, np.uint32)
    y += (16 << FIXED) + (1 << (FIXED - 1))
    y >>= FIXED

    # Chroma: sums of 2×2 blocks (≤ 1020), signed; |sum · weight| < 2**31.
    row_pairs = np.add(rgb[0::2], rgb[1::2], dtype=np.uint16).reshape(height // 2, width // 2, 2, 3)
    quads = np.add(row_pairs[:, :, 0], row_pairs[:, :, 1]).reshape(-1, 3)
    sums = [quads[:, 0], quads[:, 1], quads[:, 2]]
    shift = FIXED + 2  # + 2: the block sum is four pixels
    u = _weighted_sum(sums, CB_ROW, np.int32)
    v = _weighted_sum(sums, CR_ROW, np.int32)
    for plane in (u, v):
        plane += (128 << shift) + (1 << (shift - 1))
        plane >>= shift  # arithmetic shift: floor, after the +0.5 offset this rounds

    out = np.empty((height * 3 // 2, width), dtype=np.uint8)
    flat = out.reshape(-1)
    flat[: height * width] = y
    flat[height * width: height * width + u.size] = u
    flat[height * width + u.size:] = v
    return out
