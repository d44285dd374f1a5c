"""The engine's render-code version, part of every job key.

Any edit to the code that turns a job into pixels changes this hash, so a cached
frame is never reused across a change that could alter it.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

ENGINE_VERSION = "0.1.0"

# Per backend, the source (packages or files under reelforge/) that can change its pixels.
# Planning is covered by the job's own fields; these are the code paths from a resolved
# job to frame bytes. Generative backends are conditioned on previz, so include it.
# The previz and everything after a backend's picture (finishing, looks, grade, seeds, recipes).
_PREVIZ_CODE = ("previz", "post", "backends/previz.py", "plan/seeds.py", "plan/look.py", "plan/lighting.py",
                "spec/styles.py")
_DIFFUSERS_CODE = _PREVIZ_CODE + ("backends/runtime.py", "backends/checkpoints.py", "backends/diffusion.py",
                                  "backends/adapters.py")
RENDER_CODE: dict[str, tuple[str, ...]] = {
    "previz": _PREVIZ_CODE,
    "sdxl": _DIFFUSERS_CODE + ("backends/sdxl.py", "backends/single_file.py"),
    "animatediff": _DIFFUSERS_CODE + ("backends/clips.py",),
    "animatediff-sdxl": _DIFFUSERS_CODE + ("backends/clips.py",),
    "wan": _DIFFUSERS_CODE + ("backends/clips.py",),
}


# The code from frames to video bytes (RGB→YUV, encoder settings, muxing): part of the segment key.
# Only the code a segment's bytes depend on: subtitles, watermarks and contact sheets (also in
# media/) act on deliveries, which verify re-creates, and must not re-encode every segment.
ENCODE_PACKAGES = ("media/encode.py", "media/yuv.py")


def _code_hash(packages: tuple[str, ...]) -> str:
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(f"reelforge-engine/{ENGINE_VERSION}\n".encode())
    for package in packages:
        files = [root / package] if package.endswith(".py") else sorted((root / package).rglob("*.py"))
        for path in files:
            if not path.exists():
                continue
            digest.update(path.relative_to(root).as_posix().encode() + b"\n")
            digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def render_code_hash(backend: str = "previz") -> str:
    """SHA-256 over the source files of one backend's render code, in a stable order."""
    return _code_hash(RENDER_CODE[backend])


@functools.cache
def encode_code_hash() -> str:
    """SHA-256 over the source files of the encode code (a change re-encodes every segment)."""
    return _code_hash(ENCODE_PACKAGES)
