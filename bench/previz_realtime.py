"""Previz render + encode of a 10-second 1080p24 clip: speed vs real time and vs a bare encode.

Prints three ratios measured in this one run (machines here are noisy):
  real-time factor = clip seconds / wall seconds of reelforge render+encode   (target ≥ 1.0)
  blocked real-time factor: the same for a blocked clip, two characters walking in every shot
                     (push-in, lock-off, pull-back), each frame posing both mannequins (target ≥ 1.0)
  encode ratio     = wall seconds of a bare PyAV encode of the same frames at
                     the same settings / wall seconds of reelforge             (target ≥ 0.5)
The bare encode is PyAV's own path (rgb24 frames → encoder), frames already in memory.
The blocked clip's walks are written as plan jobs (plan/blocking.py) on the planned shots.
"""

from __future__ import annotations

import json
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
from _common import episode_of_shots, render_spec

from reelforge.engine.pipeline import RenderPipeline
from reelforge.media.encode import encode_settings
from reelforge.plan.blocking import ActionJob, FigureBlocking
from reelforge.plan.jobs import plan
from reelforge.spec.load import load_production
from reelforge.store.frames import FrameStore
from reelforge.store.paths import ProductionPaths

SHOTS = [
    {"id": "sh01", "prompt": "Mara walks the quay", "seconds": 4, "cast": ["mara"], "camera": {"move": "push-in"}},
    {"id": "sh02", "prompt": "Mara and Theo meet", "seconds": 3, "cast": ["mara", "theo"]},
    {"id": "sh03", "prompt": "Theo follows Mara", "seconds": 3, "cast": ["theo", "mara"], "camera": {"move": "pull-back"}},
]


BLOCKED_SHOTS = [
    {"id": "sh01", "prompt": "Mara and Theo walk the quay", "seconds": 4, "cast": ["mara", "theo"],
     "camera": {"move": "push-in"}},
    {"id": "sh02", "prompt": "Mara and Theo cross", "seconds": 3, "cast": ["mara", "theo"]},
    {"id": "sh03", "prompt": "Theo follows Mara", "seconds": 3, "cast": ["theo", "mara"], "camera": {"move": "pull-back"}},
]


def walking(job):
    """The shot with every cast member walking 2.5 m across the frame (alternately left and right) and back toward
    the camera at a corner: two mannequins posed every frame."""
    seconds = job.frames / job.fps
    figures = []
    for n, figure in enumerate(job.figures):
        way = 1.0 if n % 2 else -1.0
        x, z = figure.x_m, figure.z_m
        path = ((x, z), (x + way * 1.8, z + 0.8), (x + way * 1.8, z - 0.8))
        walk = ActionJob(action="walk", start_s=0.1, end_s=seconds - 0.1, easing="linear", path=path)
        figures.append(figure.model_copy(update={"blocking": FigureBlocking(heading_deg=0.0, actions=(walk,))}))
    return job.model_copy(update={"figures": tuple(figures)})


def render_blocked(folder: Path) -> tuple[int, float]:
    """Plan BLOCKED_SHOTS, give every figure a walk, render and encode; return frames and wall seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "production.json"
    path.write_text(json.dumps(episode_of_shots(BLOCKED_SHOTS)), encoding="utf-8")
    started = time.perf_counter()
    production = load_production(path)
    episode = plan(production)[0]
    episode = episode.model_copy(update={"jobs": tuple(walking(job) for job in episode.jobs)})
    pipeline = RenderPipeline(ProductionPaths.for_spec(path), encode_settings(production.delivery))
    result = pipeline.render_episode(episode, folder / "renders" / f"{episode.episode_id}.mp4")
    return result.frames, time.perf_counter() - started


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
        blocked_frames, blocked_seconds = render_blocked(Path(tmp) / "blocked")
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
