"""Delivery formats: encode time per frame at 1080p and 4K, as ratios to H.264 `faster` measured in this run.

The frames are previz frames of the bundled example (its first shots, rendered at each resolution by
the previz rasterizer), so the encoders see reelforge's own pictures: flat shading, edges, gradients.
Each format encodes the same frames with reelforge's own encoder (media/encode.py SegmentEncoder:
the delivery's settings, CRF 18, 2 encoder threads); the RGB→YCbCr conversion (media/yuv.py), which
the engine runs on its frame workers rather than the encoder's thread, is timed on its own column.
Every format is timed in each of `--rounds` rounds (all formats, baseline first, in turn), and its
best round counts: on a shared machine the best of a few is the least disturbed figure. The
baseline's rounds are printed so a busy machine shows itself.

Usage: python bench/formats.py [--frames-1080p 12] [--frames-4k 6] [--rounds 2]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import example

from reelforge.media.encode import EncodeSettings, SegmentEncoder
from reelforge.media.yuv import rgb_to_yuv
from reelforge.plan.jobs import plan
from reelforge.previz.raster import render_frames
from reelforge.spec.model import Production

# (label, format, bit depth, chroma)
BASELINE = ("H.264 8-bit 4:2:0 (faster)", "h264", 8, "4:2:0")
VARIANTS = [
    ("H.264 10-bit 4:2:0", "h264", 10, "4:2:0"),
    ("H.264 10-bit 4:2:2", "h264", 10, "4:2:2"),
    ("H.264 10-bit 4:4:4", "h264", 10, "4:4:4"),
    ("HEVC 8-bit 4:2:0", "hevc", 8, "4:2:0"),
    ("HEVC 10-bit 4:2:0", "hevc", 10, "4:2:0"),
    ("ProRes 422 HQ", "prores-422-hq", 10, "4:2:2"),
    ("ProRes 4444", "prores-4444", 10, "4:4:4"),
    ("DNxHR HQX", "dnxhr-hqx", 10, "4:2:2"),
]
THREADS = 2


def previz_frames(resolution: str, count: int) -> list[np.ndarray]:
    """`count` previz frames of the example at `resolution`: consecutive frames of its first three shots (the
    camera moving within a shot, and two cuts), as a segment's encoder would see them."""
    spec = example()
    spec["delivery"]["resolution"] = resolution
    jobs = plan(Production.model_validate(spec))[0].jobs[:3]
    frames: list[np.ndarray] = []
    per_shot = -(-count // len(jobs))
    for job in jobs:
        frames += render_frames(job, range(min(per_shot, job.frames)))
    return frames[:count]


def timed_encode(frames: list[np.ndarray], settings: EncodeSettings, folder: Path) -> tuple[float, float, int]:
    """(conversion seconds per frame, encode seconds per frame, bytes per frame)."""
    started = time.perf_counter()
    planes = [rgb_to_yuv(frame, settings.chroma, settings.bit_depth) for frame in frames]
    converted = time.perf_counter()
    target = folder / f"bench{settings.suffix}"
    encoder = SegmentEncoder(target, settings)
    for plane in planes:
        encoder.add_yuv(plane)
    encoder.close()
    done = time.perf_counter()
    size = target.stat().st_size
    target.unlink()
    return (converted - started) / len(frames), (done - converted) / len(frames), size // len(frames)


def run(resolution: str, count: int, rounds: int, folder: Path) -> list[str]:
    frames = previz_frames(resolution, count)
    height, width = frames[0].shape[:2]
    variants = [BASELINE, *VARIANTS]
    times: dict[str, list[tuple[float, float, int]]] = {label: [] for label, *_ in variants}
    for _ in range(rounds):
        for label, fmt, depth, chroma in variants:
            settings = EncodeSettings(width, height, 24, 18, "faster", THREADS, fmt, depth, chroma)
            times[label].append(timed_encode(frames, settings, folder))
    best = {label: (min(t[0] for t in runs), min(t[1] for t in runs), runs[0][2]) for label, runs in times.items()}
    base = best[BASELINE[0]][1]
    rounds_said = ", ".join(f"{t[1] * 1000:.0f}" for t in times[BASELINE[0]])
    lines = [f"### {resolution} ({width}×{height}), {len(frames)} previz frames, best of {rounds} rounds",
             "",
             f"H.264 `faster` baseline by round: {rounds_said} ms/frame.",
             "",
             "| format | encode ms/frame | × H.264 faster | RGB→YCbCr ms/frame | kB/frame |",
             "|---|---:|---:|---:|---:|"]
    for label, (convert, encode, size) in best.items():
        lines.append(f"| {label} | {encode * 1000:.0f} | {encode / base:.2f} | {convert * 1000:.0f} | "
                     f"{size / 1e3:.0f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames-1080p", type=int, default=12)
    parser.add_argument("--frames-4k", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"# {datetime.date.today()} — delivery formats (`python bench/formats.py`), {platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, encoder threads {THREADS}")
    with tempfile.TemporaryDirectory(prefix="reelforge-formats-") as folder:
        for resolution, count in (("1080p", args.frames_1080p), ("4k", args.frames_4k)):
            print()
            print("\n".join(run(resolution, count, args.rounds, Path(folder))), flush=True)


if __name__ == "__main__":
    main()
