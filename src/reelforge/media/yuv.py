"""RGB24 → planar YCbCr (BT.709, limited range) in explicit integer arithmetic, at 4:2:0, 4:2:2 or 4:4:4 and 8 or 10 bits.

Why not swscale: its x86 SIMD paths are not guaranteed bit-exact with its C
path and PyAV cannot pass SWS_BITEXACT, so the same frame could become other
YUV bytes on another CPU. This conversion is plain integer numpy: the same
bytes on every machine, within rounding of the exact matrix, at about the cost
of swscale.

The BT.709 matrix is scaled to limited range (8 bits: Y 16–235, Cb/Cr 16–240;
10 bits: Y 64–940, Cb/Cr 64–960) in 16-bit fixed point; each chroma row is
adjusted to sum to exactly zero so grey stays neutral. A 10-bit sample is the
same fixed-point sum with two fewer bits shifted out: the exact higher-precision
conversion of the 8-bit RGB frame (it adds no source precision the frame lacks).

Chroma siting: 4:2:0 takes the sum of each 2×2 block (centre-sited, as
reelforge's H.264 always has); 4:2:2 is co-sited with the even luma samples, as
ProRes, DNxHR and SDI expect, with a [1 2 1] horizontal filter (the picture's
edge repeated); 4:4:4 takes every pixel. The division by the filter's weight (4)
is folded into the final shift.
"""

from __future__ import annotations

import numpy as np

KR, KB = 0.2126, 0.0722
KG = 1.0 - KR - KB
FIXED = 16  # fractional bits
CHROMAS = ("4:2:0", "4:2:2", "4:4:4")
# Rows converted at once (even, so 4:2:0 row pairs never straddle two bands): 64 rows of 8K are 0.5 Mpixel,
# whose uint32 temporaries (≈ 2 MiB each) stay in cache.
BAND_ROWS = 64


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


def _quantize(acc: np.ndarray, base: int, weight_bits: int, bit_depth: int) -> np.ndarray:
    """acc / 2**(FIXED + weight_bits) + base, rounded, as a `bit_depth` code (in place: acc is reused).

    `base` is the 8-bit offset (16 for Y, 128 for Cb/Cr); 10-bit codes are four times the scale, so the
    shift is two bits shorter. The arithmetic shift floors, after the +0.5 offset this rounds.
    """
    shift = FIXED + weight_bits - (bit_depth - 8)
    acc += (base << (FIXED + weight_bits)) + (1 << (shift - 1))
    acc >>= shift
    return acc


def _luma(rgb: np.ndarray, bit_depth: int) -> np.ndarray:
    pixels = rgb.reshape(-1, 3)
    # All terms are non-negative, max 255 * 56284 + offsets < 2**32.
    y = _weighted_sum([pixels[:, 0], pixels[:, 1], pixels[:, 2]], Y_ROW, np.uint32)
    return _quantize(y, 16, 0, bit_depth).reshape(rgb.shape[:2])


def _chroma(sums: np.ndarray, weight_bits: int, bit_depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Cb and Cr of (…, 3) RGB sums of 2**weight_bits pixels each (≤ 1020): signed, |sum · weight| < 2**31."""
    channels = [sums[..., 0], sums[..., 1], sums[..., 2]]
    return tuple(_quantize(_weighted_sum(channels, row, np.int32), 128, weight_bits, bit_depth)  # type: ignore
                 for row in (CB_ROW, CR_ROW))


def _block_sums(rgb: np.ndarray) -> np.ndarray:
    """Sums of each 2×2 block: (H/2, W/2, 3), ≤ 1020."""
    height, width = rgb.shape[:2]
    row_pairs = np.add(rgb[0::2], rgb[1::2], dtype=np.uint16).reshape(height // 2, width // 2, 2, 3)
    return np.add(row_pairs[:, :, 0], row_pairs[:, :, 1])


def _cosited_sums(rgb: np.ndarray) -> np.ndarray:
    """[1 2 1] sums around each even column (the left edge repeated): (H, W/2, 3), ≤ 1020."""
    even = rgb[:, 0::2].astype(np.uint16)
    odd = rgb[:, 1::2]
    sums = even * 2
    sums += odd  # right neighbour (W is even: every even column has one)
    sums[:, 1:] += odd[:, :-1]  # left neighbour
    sums[:, 0] += rgb[:, 0]  # column 0 has none: itself again
    return sums


def _fill(rgb: np.ndarray, planes: tuple[np.ndarray, np.ndarray, np.ndarray], chroma: str, bit_depth: int) -> None:
    """Convert `rgb` into the (Y, Cb, Cr) `planes`, BAND_ROWS rows at a time.

    Every sample depends only on its own row pair (4:2:0) or row, so a band's samples are the whole
    frame's: the same bytes, with temporaries of a band's size (an 8K frame converted whole made ≈ 380 MiB
    of uint32 temporaries; a band's stay in the CPU's cache, which also makes it faster).
    """
    vertical = 2 if chroma == "4:2:0" else 1
    for top in range(0, rgb.shape[0], BAND_ROWS):
        band = rgb[top: top + BAND_ROWS]
        rows = band.shape[0]
        if chroma == "4:4:4":
            u, v = _chroma(band, 0, bit_depth)
        elif chroma == "4:2:2":
            u, v = _chroma(_cosited_sums(band), 2, bit_depth)
        else:
            u, v = _chroma(_block_sums(band), 2, bit_depth)  # + 2: the block sum is four pixels
        planes[0][top: top + rows] = _luma(band, bit_depth)
        planes[1][top // vertical: (top + rows) // vertical] = u
        planes[2][top // vertical: (top + rows) // vertical] = v


def rgb_to_yuv420(rgb: np.ndarray) -> np.ndarray:
    """Convert (H, W, 3) uint8 RGB to a (H*3/2, W) uint8 I420 array (Y plane, then U, then V)."""
    height, width = rgb.shape[:2]
    if height % 2 or width % 2:
        raise ValueError(f"4:2:0 needs an even frame size, got {width}×{height}")
    out = np.empty((height * 3 // 2, width), dtype=np.uint8)
    _fill(rgb, _i420_planes(out, height, width), "4:2:0", 8)
    return out


def _i420_planes(i420: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Y, U and V planes of an I420 array, as views."""
    flat = i420.reshape(-1)
    quarter = height * width // 4
    return (flat[: height * width].reshape(height, width),
            flat[height * width: height * width + quarter].reshape(height // 2, width // 2),
            flat[height * width + quarter:].reshape(height // 2, width // 2))


def rgb_to_yuv(rgb: np.ndarray, chroma: str = "4:2:0", bit_depth: int = 8) -> tuple[np.ndarray, ...]:
    """(H, W, 3) uint8 RGB as the encoder's planes (Y, Cb, Cr): uint8 for 8 bits, little-endian uint16 for 10.

    8-bit 4:2:0 is exactly `rgb_to_yuv420` (the planes are views of its I420 array).
    """
    if chroma not in CHROMAS or bit_depth not in (8, 10):
        raise ValueError(f"no conversion to {chroma} at {bit_depth} bits")
    height, width = rgb.shape[:2]
    if chroma == "4:2:0" and bit_depth == 8:
        return _i420_planes(rgb_to_yuv420(rgb), height, width)
    if chroma != "4:4:4" and width % 2 or chroma == "4:2:0" and height % 2:
        raise ValueError(f"{chroma} needs an even frame size, got {width}×{height}")
    dtype = np.uint8 if bit_depth == 8 else np.dtype("<u2")
    chroma_size = {"4:2:0": (height // 2, width // 2), "4:2:2": (height, width // 2), "4:4:4": (height, width)}
    planes = (np.empty((height, width), dtype), np.empty(chroma_size[chroma], dtype),
              np.empty(chroma_size[chroma], dtype))
    _fill(rgb, planes, chroma, bit_depth)
    return planes
