"""Content-addressed frame store under a production's `.reelforge/frames/`.

A frame's hash is the SHA-256 of its raw RGB24 bytes (row-major, height × width
× 3), so anyone can recompute it from a decoded PNG. On disk a frame is a small
header plus zlib-compressed pixels (level 1: PNG-level size on gray-box frames
at a quarter of the cost). The header also holds the SHA-256 of the compressed
payload, so `check` proves a stored frame intact by hashing ~30 KB instead of
decompressing 6 MB; `get` re-hashes the pixels themselves. A damaged frame is
reported and removed, never returned.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from reelforge.store.atomic import write_bytes

MAGIC = b"RFF1"
HEADER = struct.Struct(">4sII32s")  # magic, height, width, SHA-256 of the compressed payload


class CorruptFrame(Exception):
    """A stored frame whose pixels no longer hash to its name."""


def frame_hash(frame: np.ndarray) -> str:
    """SHA-256 of the frame's raw RGB24 bytes."""
    return hashlib.sha256(np.ascontiguousarray(frame).data).hexdigest()


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
        target = self.path(digest)
        if not self.check(digest):  # absent, or damaged: (re)write it
            height, width = frame.shape[:2]
            payload = zlib.compress(np.ascontiguousarray(frame).data, 1)
            header = HEADER.pack(MAGIC, height, width, hashlib.sha256(payload).digest())
            write_bytes(target, header + payload, durable=False)
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
            magic, height, width, payload_sha = HEADER.unpack_from(data)
            payload = memoryview(data)[HEADER.size:]
            if magic != MAGIC or hashlib.sha256(payload).digest() != payload_sha:
                raise ValueError("bad header or payload")
            if (height, width) != tuple(shape):
                raise ValueError(f"{width}×{height}, not the job's {shape[1]}×{shape[0]}")
            pixels = zlib.decompress(payload)
        except (ValueError, zlib.error, struct.error) as exc:
            raise CorruptFrame(f"frame {digest[:12]}… arrived unreadable ({exc})") from exc
        if len(pixels) != height * width * 3 or hashlib.sha256(pixels).hexdigest() != digest:
            raise CorruptFrame(f"frame {digest[:12]}… arrived with pixels that do not match its hash")
        write_bytes(self.path(digest), bytes(data), durable=False)
        return digest

    def check(self, digest: str) -> bool:
        """True if the stored file is exactly as written (cheap: hashes the compressed bytes)."""
        try:
            data = self.path(digest).read_bytes()
            magic, _, _, payload_sha = HEADER.unpack_from(data)
        except (OSError, struct.error):
            return False
        return magic == MAGIC and hashlib.sha256(memoryview(data)[HEADER.size:]).digest() == payload_sha

    def get(self, digest: str) -> np.ndarray:
        """Load a frame and check its hash; raises CorruptFrame (and drops the file) if it fails."""
        target = self.path(digest)
        try:
            payload = target.read_bytes()
            magic, height, width, _ = HEADER.unpack_from(payload)
            if magic != MAGIC:
                raise ValueError("bad magic")
            pixels = zlib.decompress(payload[HEADER.size:])
            frame = np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, 3)
        except FileNotFoundError:
            raise
        except (ValueError, zlib.error, struct.error) as exc:
            target.unlink(missing_ok=True)
            raise CorruptFrame(f"frame {digest[:12]}… is unreadable ({exc})") from exc
        if frame_hash(frame) != digest:
            target.unlink(missing_ok=True)
            raise CorruptFrame(f"frame {digest[:12]}… does not match its hash")
        return frame
