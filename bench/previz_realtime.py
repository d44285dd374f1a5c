"""Previz render + encode of a 10-second 1080p24 clip: speed vs real time and vs a bare encode.

Prints three ratios measured in this one run (machines here are noisy):
  real-time factor = clip seconds / wall seconds of reelforge render+encode   (target ≥ 1.0)
  blocked real-time factor: the same for a blocked clip, two characters walking in every shot
                     (push-in, lock-off, pull-back), each frame posing both mannequins (target ≥ 1.0)
  encode ratio     = wall seconds of a bare PyAV encode of the same frames at
                     the same settings / wall seconds of reelforge             (target ≥ 0.5)
The bare encode is PyAV's own path (rgb24 frames → encoder), frames already in memory.
The blocked clip's walks are spec blocking (`walks`), planned and rendered as `reelforge render` does.
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


def walks(cast: list[str], seconds: float) -> dict:
    """Blocking for a shot: every cast member walks 2.5 m across the frame from their place in the line-up
    (alternately left and right) with a corner back toward the camera, so both mannequins pose every frame."""
    blocking = {}
    for n, character in enumerate(cast):
        x = (n - (len(cast) - 1) / 2) * 1.1  # the line-up (spec/staging.py)
        way = 1.0 if n % 2 else -1.0
        path = [[round(x + way * 1.8, 3), 0.8], [round(x + way * 1.8, 3), -0.8]]
        blocking[character] = {"actions": [{"action": "walk", "at_s": 0.1, "path": path, "arrive_s": seconds - 0.1,
                                            "easing": "linear"}]}
    return blocking


BLOCKED_SHOTS = [
    {"id": "sh01", "prompt": "Mara and Theo walk the quay", "seconds": 4, "cast": ["mara", "theo"],
     "camera": {"move": "push-in"}, "blocking": walks(["mara", "theo"], 4)},
    {"id": "sh02", "prompt": "Mara and Theo cross", "seconds": 3, "cast": ["mara", "theo"],
     "blocking": walks(["mara", "theo"], 3)},
    {"id": "sh03", "prompt": "Theo follows Mara", "seconds": 3, "cast": ["theo", "mara"], "camera": {"move": "pull-back"},
     "blocking": walks(["theo", "mara"], 3)},
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
        blocked, blocked_seconds = render_spec(Path(tmp) / "blocked", episode_of_shots(BLOCKED_SHOTS))
        blocked_frames = blocked.frames
    print(f"clip: {result.frames} frames 1920x1080 @24 fps = {clip_seconds:.1f} s; preset {settings.preset}, "
          f"crf {settings.crf}, {settings.threads} encoder threads")
    print(f"reelforge render+encode: {seconds:.2f} s  ({result.frames / seconds:.1f} fps)")
    print(f"bare PyAV encode:        {bare:.2f} s  ({result.frames / bare:.1f} fps)")
    print(f"real-time factor: {clip_seconds / seconds:.2f}  (target >= 1.0)")
    print(f"encode ratio:     {bare / seconds:.2f}  (target >= 0.5)")
    print(f"blocked clip: {blocked_frames} frames, two characters walking in every shot; render+encode "
          f"{blocked_seconds:.2f} s ({blocked_frames / blocked_seconds:.1f} fps)")
    print(f"blocked real-time factor: {blocked_frames / 24 / blocked_seconds:.2f}  (target >= 1.0)")


if __name__ == "__main__":
    main()
