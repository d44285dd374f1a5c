"""Cost of each style family's previz recipe at 1080p, on one core, against plain gray-box.

Renders the same moving 1080p shot (push-in, two cast) with every built-in family through the
previz backend (draw → depth of field → style recipe) with OpenCV pinned to one thread, and prints
per family: the first frame (which also builds the shot's textures / cells / hatching, cached for
the rest of the shot), the mean of the following frames, the recipe's own cost per frame (mean
minus gray-box) and the ratio to gray-box — all measured in this one run (machines here are noisy).

    python bench/styles.py [--frames 24]
"""

from __future__ import annotations

import argparse
import time

import cv2
from _common import episode_of_shots

from reelforge.backends.previz import PrevizBackend
from reelforge.plan.jobs import plan
from reelforge.plan.style import resolve_style
from reelforge.post.styles import clear_caches
from reelforge.spec.model import Production
from reelforge.spec.styles import Style, builtin_names

SHOT = {"id": "sh01", "prompt": "Mara and Theo cross the quay", "seconds": 2, "cast": ["mara", "theo"],
        "camera": {"move": "push-in"}}


def frame_times(job, frames: int) -> tuple[float, float]:
    """Seconds for frame 0 and the mean seconds of frames 1..frames-1 (a fresh backend: nothing cached from before)."""
    clear_caches()
    backend = PrevizBackend()
    times = []
    for index in range(frames):
        started = time.perf_counter()
        next(iter(backend.render(job, [index])))
        times.append(time.perf_counter() - started)
    return times[0], sum(times[1:]) / (len(times) - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one core: the figure a render farm multiplies by its cores
    production = Production.model_validate(episode_of_shots([SHOT]))
    job = plan(production)[0].jobs[0]
    names = ["gray-box"] + [name for name in builtin_names() if name != "gray-box"]
    results = {}
    for name in names:
        style, _ = resolve_style(Style(preset=name), ".")
        results[name] = frame_times(job.model_copy(update={"style": style}), args.frames)
    base = results["gray-box"][1]
    print(f"{job.width}x{job.height}, {args.frames} frames of a push-in, OpenCV threads 1, "
          f"cv2 {cv2.__version__}")
    print(f"{'family':16} {'first frame':>12} {'ms/frame':>9} {'recipe ms':>10} {'× gray-box':>11}")
    for name in names:
        first, mean = results[name]
        print(f"{name:16} {first * 1000:10.0f}ms {mean * 1000:9.1f} {(mean - base) * 1000:10.1f} {mean / base:11.2f}")


if __name__ == "__main__":
    main()
