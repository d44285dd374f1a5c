"""Previz render + encode of a 10-second 1080p24 clip: speed vs real time and vs a bare encode.

Prints two ratios measured in this one run (machines here are noisy):
  real-time factor = clip seconds / wall seconds of reelforge render+encode   (target ≥ 1.0)
  encode ratio     = wall seconds of a bare PyAV encode of the same frames at
                     the same settings / wall seconds of reelforge             (target ≥ 0.5)
The bare encode is PyAV's own path (rgb24 frames → encoder), frames already in memory.
"""

from __future__ import annotations

import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
from _common import episode_of_shots, render_spec

from reelforge.media.encode import encode_settings
from reelforge.spec.load import load_production
from reelforge.store.frames import FrameStore

SHOTS = [
    {"id": "sh01", "prompt": "Mara walks the quay", "seconds": 4, "cast": ["mara"], "camera": {"move": "push-in"}},
    {"id": "sh02", "prompt": "Mara and Theo meet", "seconds": 3, "cast": ["mara", "theo"]},
    {"id": "sh03", "prompt": "Theo follows Mara", "seconds": 3, "cast": ["theo", "mara"], "camera": {"move": "pull-back"}},
]


def bare_encode(frames, settings, target: Path) -> float:
    container = av.open(str(target), "w", format="mp4")
    stream = container.add_stream("libx264", rate=settings.fps)
    stream.width, stream.height, stream.pix_fmt = settings.width, settings.height, "yuv420p"
    stream.codec_context.thread_count = settings.threads
    stream.options = {"preset": settings.preset, "crf": str(settings.crf), "x264-params": settings.x264_params()}
    started = time.perf_counter()
    for i, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, settings.fps)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "show"
        result, seconds = render_spec(folder, episode_of_shots(SHOTS))
        clip_seconds = result.frames / 24
        store = FrameStore(folder / ".reelforge" / "frames")
        frames = [store.get(h) for shot in result.shots for h in shot.frame_hashes]
        settings = encode_settings(load_production(folder / "production.json").delivery)  # as the render used
        bare = bare_encode(frames, settings, Path(tmp) / "bare.mp4")
    print(f"clip: {result.frames} frames 1920x1080 @24 fps = {clip_seconds:.1f} s; preset {settings.preset}, "
          f"crf {settings.crf}, {settings.threads} encoder threads")
    print(f"reelforge render+encode: {seconds:.2f} s  ({result.frames / seconds:.1f} fps)")
    print(f"bare PyAV encode:        {bare:.2f} s  ({result.frames / bare:.1f} fps)")
    print(f"real-time factor: {clip_seconds / seconds:.2f}  (target >= 1.0)")
    print(f"encode ratio:     {bare / seconds:.2f}  (target >= 0.5)")


if __name__ == "__main__":
    main()
