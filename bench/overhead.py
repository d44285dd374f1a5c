"""reelforge's SDXL backend against the bare diffusers pipeline: time ratio and byte equality.

Both run the same tiny SDXL checkpoint (weights saved and loaded by reelforge vs the
in-memory model they were saved from) on the same inputs: prompt, negative prompt,
steps, guidance, strength, CPU generator seeded with the frame seed, and the previz
frame as the img2img input. reelforge's time includes everything its backend adds
per frame — drawing the previz frame, the determinism settings, the lock, the PIL →
array conversion; the bare pipeline gets its input image ready-made. Calls alternate
(bare, reelforge, bare, …) and medians are compared, since these machines are noisy.

    python bench/overhead.py [--frames 12] [--size 256] [--steps 4]

Target: ratio ≤ 1.05, frames byte-identical.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "harbor-lights" / "production.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--size", type=int, default=256, help="native width and height")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import torch

    from reelforge.backends import sdxl
    from reelforge.backends.diffusion import pil_to_array
    from reelforge.backends.models import resolve_model
    from reelforge.backends.runtime import Runtime
    from reelforge.backends.tiny import build_tiny, make_tiny
    from reelforge.plan.jobs import plan
    from reelforge.spec.model import Production

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = make_tiny(Path(tmp) / "sdxl", "sdxl")
        spec = copy.deepcopy(json.loads(EXAMPLE.read_text()))
        shot = spec["episodes"][0]["scenes"][0]["shots"][0]
        shot.pop("seconds", None)
        shot["frames"] = args.frames
        spec["backend"] = "sdxl"
        spec["model"] = {"checkpoint": str(checkpoint), "steps": args.steps, "width": args.size, "height": args.size}
        production = Production.model_validate(spec)
        model = resolve_model(production, Runtime("cpu", args.threads), Path(tmp))
        job = plan(production, Path(tmp), model)[0].jobs[0]

        backend = sdxl.SdxlBackend()
        in_memory = build_tiny("sdxl")
        cls = sdxl.pipeline_class(job)
        accepted = inspect.signature(cls.__init__).parameters
        bare = cls(**{k: v for k, v in in_memory.components.items() if k in accepted})
        bare.set_progress_bar_config(disable=True)

        def run_bare(index: int):
            inputs = sdxl.pipeline_inputs(job, index)  # prepared outside the timed call
            torch.set_num_threads(args.threads)
            started = time.perf_counter()
            with torch.inference_mode():
                image = bare(**inputs).images[0]
            return time.perf_counter() - started, pil_to_array(image)

        def run_ours(index: int):
            started = time.perf_counter()
            frame = backend.native_frame(job, index)
            return time.perf_counter() - started, frame

        run_ours(0), run_bare(0)  # load and warm up both
        bare_times, our_times, identical = [], [], 0
        for index in range(args.frames):
            t_bare, a = run_bare(index)
            t_ours, b = run_ours(index)
            bare_times.append(t_bare)
            our_times.append(t_ours)
            identical += int(np.array_equal(a, b))
    ratio = statistics.median(our_times) / statistics.median(bare_times)
    print(f"tiny SDXL img2img, {args.size}×{args.size}, {args.steps} steps, {args.threads} threads, "
          f"{args.frames} frames")
    print(f"bare diffusers pipeline: median {statistics.median(bare_times) * 1000:.1f} ms/frame")
    print(f"reelforge sdxl backend : median {statistics.median(our_times) * 1000:.1f} ms/frame")
    print(f"time ratio (reelforge / bare): {ratio:.3f}   (target ≤ 1.05)")
    print(f"byte-identical frames: {identical}/{args.frames}")
    return 0 if identical == args.frames else 1


if __name__ == "__main__":
    sys.exit(main())
