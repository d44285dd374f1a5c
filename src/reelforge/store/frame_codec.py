"""How a stored frame's pixels are compressed: losslessly, with the codec that suits the frame.

Measured here (bench/store.py, docs/performance.md) on 1080p frames, one core: no one codec wins.
JPEG XL's lossless mode at effort 1 stores a generative or photographic frame in a third to a half
of what zlib did (about 8 ms against 100 ms to encode), but decodes slower (about 55 ms) and does
worse than a general-purpose compressor on flat or hatched pictures; zstd stores a gray-box previz
frame in 1 % of its raw size in 2 ms and decodes it in under 1 ms. So each frame is stored by a
fixed, documented rule of its own pixels (`encode`), and the codec is written in the frame's header:

1. zstd (level 1) over one band of 8 rows in every 64 estimates what a general-purpose compressor does.
2. A frame that estimate finds flat (≤ 25 % of its raw size: previz, cel-like styles) is kept as zstd.
3. Any other frame is kept as lossless JPEG XL (effort 1); where the estimate already beat that
   (hatched, dithered styles), the whole frame is compressed with zstd too and the smaller is kept.

Both codecs are imagecodecs' (libjxl, libzstd), pinned in pyproject.toml. Either decodes to exactly
the pixels encoded (tests/test_frame_codec.py round-trips random and rendered frames); the store
re-hashes the pixels on every read anyway. zlib (level 1) is what stores before this release wrote:
it is still read, never written.
"""

from __future__ import annotations

import zlib

import imagecodecs
import numpy as np

ZLIB, ZSTD, JPEGXL = 0, 1, 2  # the codec byte of a frame's header
NAMES = {ZLIB: "zlib", ZSTD: "zstd", JPEGXL: "jpegxl"}

FLAT = 0.25  # a frame whose zstd estimate is at most this share of its raw size is stored as zstd
BAND, EVERY = 8, 64  # the estimate compresses rows [k·64, k·64 + 8)
ZSTD_LEVEL, ESTIMATE_LEVEL = 3, 1
JPEGXL_EFFORT = 1  # libjxl's fast lossless path; effort 2 is 20× slower for ≈ 5 % fewer bytes
THREADS = 1  # per frame: the render already works on several frames at once


def encode(frame: np.ndarray) -> tuple[int, bytes]:
    """(codec, payload) of an RGB24 frame (height × width × 3, uint8), by the rule above."""
    frame = np.ascontiguousarray(frame)  # zstd reads its buffer in place (a copy would be 100 MB at 8K)
    raw = frame.nbytes
    # 1. estimate what zstd does, on one band of rows in eight
    sample = np.concatenate([frame[top:top + BAND] for top in range(0, frame.shape[0], EVERY)])
    estimate = len(imagecodecs.zstd_encode(sample.tobytes(), level=ESTIMATE_LEVEL)) / max(sample.nbytes, 1)
    # 2. flat: zstd
    if estimate <= FLAT:
        return ZSTD, imagecodecs.zstd_encode(frame, level=ZSTD_LEVEL)
    # 3. textured: JPEG XL, unless zstd did better on the sample and does on the whole frame
    jpegxl = imagecodecs.jpegxl_encode(frame, lossless=True, effort=JPEGXL_EFFORT, numthreads=THREADS)
    if estimate < len(jpegxl) / raw:
        zstd = imagecodecs.zstd_encode(frame, level=ZSTD_LEVEL)
        if len(zstd) < len(jpegxl):
            return ZSTD, zstd
    return JPEGXL, jpegxl


def decode(codec: int, payload: bytes | memoryview, height: int, width: int) -> np.ndarray:
    """The frame a payload holds; ValueError when it cannot be read as a `height` × `width` RGB24 frame.

    Every codec decodes into (or at most) the `height` × `width` × 3 bytes the caller expects, so a
    payload that claims a larger picture fails instead of allocating it.
    """
    size = height * width * 3
    try:
        if codec == JPEGXL:
            frame = imagecodecs.jpegxl_decode(bytes(payload), numthreads=THREADS,
                                              out=np.empty((height, width, 3), np.uint8))
        elif codec == ZSTD:
            pixels = imagecodecs.zstd_decode(payload, out=size)
        elif codec == ZLIB:
            pixels = zlib.decompressobj().decompress(payload, size + 1)
        else:
            raise ValueError(f"unknown codec {codec}")
    # libjxl also answers some damaged codestreams with a RuntimeError; a payload is data, never a bug of ours
    except (imagecodecs.JpegxlError, imagecodecs.ZstdError, zlib.error, RuntimeError, MemoryError) as exc:
        raise ValueError(f"{NAMES.get(codec, codec)} payload unreadable ({type(exc).__name__}: {exc})") from exc
    if codec != JPEGXL:
        if len(pixels) != size:
            raise ValueError(f"{len(pixels)} bytes of pixels, not {size}")
        frame = np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, 3)
    if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
        raise ValueError(f"decoded to {frame.shape} {frame.dtype}, not {height}×{width} RGB24")
    return frame
