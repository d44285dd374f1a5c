"""Content-addressed frame store under a production's `.reelforge/frames/`.

A frame's hash is the SHA-256 of its raw RGB24 bytes (row-major, height × width
× 3), so anyone can recompute it from a decoded PNG. On disk a frame is a small
header plus its losslessly compressed pixels; the header names the codec
(store/frame_codec.py: zstd or lossless JPEG XL, chosen per frame) and the
frame's size, and holds the SHA-256 of those and of the compressed payload, so
`check` proves a stored frame intact by hashing it instead of decoding it; `get`
proves it, decodes it into a buffer of the proven size and re-hashes the pixels
themselves. A damaged frame is reported and removed, never returned.

Frames written before the codec was chosen per frame (header `RFF1`, zlib) are
still read, checked and reused as they are: nothing needs rendering again.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np

from reelforge.store import frame_codec
from reelforge.store.atomic import write_bytes

MAGIC = b"RFF2"
HEADER = struct.Struct(">4sBII32s")  # magic, codec, height, width, SHA-256 of (codec, height, width, payload)
SIZED = struct.Struct(">BII")  # the header's codec, height and width (bytes 4–12): hashed with the payload
MAGIC_V1 = b"RFF1"
HEADER_V1 = struct.Struct(">4sII32s")  # what stores before this release wrote: always zlib, hash of the payload
MAX_SIDE = 16384  # a frame wider or taller is no frame of a delivery (8K is 7680 × 4320): a damaged header


class CorruptFrame(Exception):
    """A stored frame whose pixels no longer hash to its name."""


def frame_hash(frame: np.ndarray) -> str:
    """SHA-256 of the frame's raw RGB24 bytes."""
    return hashlib.sha256(np.ascontiguousarray(frame).data).hexdigest()


def encode_frame(frame: np.ndarray) -> bytes:
    """A frame as its stored file: header (codec, size, their hash with the payload's) and compressed pixels."""
    height, width = frame.shape[:2]
    codec, payload = frame_codec.encode(frame)
    digest = hashlib.sha256(SIZED.pack(codec, height, width) + payload).digest()
    return HEADER.pack(MAGIC, codec, height, width, digest) + payload


def _parse(data: bytes) -> tuple[int, int, int, memoryview]:
    """(codec, height, width, payload) of a stored frame's bytes, after proving them against the header's
    hash; ValueError when the header is unknown or anything it covers is not what was written."""
    try:
        magic = bytes(data[:4])
        if magic == MAGIC:
            _, codec, height, width, recorded = HEADER.unpack_from(data)
            payload = memoryview(data)[HEADER.size:]
            digest = hashlib.sha256(SIZED.pack(codec, height, width))
        elif magic == MAGIC_V1:
            _, height, width, recorded = HEADER_V1.unpack_from(data)
            codec, payload, digest = frame_codec.ZLIB, memoryview(data)[HEADER_V1.size:], hashlib.sha256()
        else:
            raise ValueError("not a stored frame (unknown header)")
    except struct.error as exc:
        raise ValueError(f"header cut short ({exc})") from exc
    digest.update(payload)
    if digest.digest() != recorded:
        raise ValueError("header or payload does not match the header's hash")
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE):
        raise ValueError(f"a {width}×{height} frame is larger than any delivery")
    return codec, height, width, payload


def decode_frame(data: bytes) -> np.ndarray:
    """The pixels a stored frame's bytes hold (`encode_frame`'s or the previous release's); ValueError when
    the header is unknown or the payload is not what was written."""
    codec, height, width, payload = _parse(data)
    return frame_codec.decode(codec, payload, height, width)


def _pixels(data: bytes, digest: str) -> np.ndarray:
    """The pixels a stored frame's bytes hold, proved to hash to `digest`; ValueError otherwise."""
    frame = decode_frame(data)
    if frame_hash(frame) != digest:
        raise ValueError("pixels do not match the frame's hash")
    return frame


class FrameStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.rff"

    def has(self, digest: str) -> bool:
        return self.path(digest).exists()

    def put(self, frame: np.ndarray, digest: str | None = None) -> str:
        """Store a frame (if not already there) and return its hash."""
        digest = digest or frame_hash(frame)
        if not self.check(digest):  # absent, or damaged: (re)write it
            write_bytes(self.path(digest), encode_frame(frame), durable=False)
        return digest

    def read_encoded(self, digest: str) -> bytes:
        """A stored frame's file as it is on disk (header and compressed pixels): what a farm worker sends back."""
        return self.path(digest).read_bytes()

    def put_encoded(self, data: bytes, digest: str, shape: tuple[int, int]) -> str:
        """Store a frame received as `read_encoded` bytes, after proving its pixels hash to `digest`.

        The bytes come from another machine: they are decoded and re-hashed, and must be a
        frame of `shape` (height, width), before they are written, so a damaged or wrong frame
        raises CorruptFrame and is never stored. A frame the store already holds intact is kept
        as it is (it was proved when it was stored).
        """
        if self.check(digest):
            return digest
        try:
            if bytes(data[:4]) != MAGIC:  # workers render into a new scratch store: never the older format
                raise ValueError("not a frame in this release's format")
            _, height, width, _ = _parse(data)
            if (height, width) != tuple(shape):
                raise ValueError(f"{width}×{height}, not the job's {shape[1]}×{shape[0]}")
            _pixels(data, digest)
        except ValueError as exc:
            raise CorruptFrame(f"frame {digest[:12]}… arrived unreadable ({exc})") from exc
        write_bytes(self.path(digest), bytes(data), durable=False)
        return digest

    def check(self, digest: str) -> bool:
        """True if the stored file is exactly as written (cheap: hashes the compressed bytes, decodes nothing)."""
        try:
            _parse(self.path(digest).read_bytes())
        except (OSError, ValueError):
            return False
        return True

    def codec(self, digest: str) -> str:
        """The name of the codec a stored frame was written with (zlib: by a store before this release)."""
        codec, _, _, _ = _parse(self.path(digest).read_bytes())
        return frame_codec.NAMES[codec]

    def get(self, digest: str) -> np.ndarray:
        """Load a frame and check its hash; raises CorruptFrame (and drops the file) if it fails."""
        target = self.path(digest)
        data = target.read_bytes()  # FileNotFoundError: not stored
        try:
            return _pixels(data, digest)
        except ValueError as exc:
            target.unlink(missing_ok=True)
            raise CorruptFrame(f"frame {digest[:12]}… is unreadable ({exc})") from exc
