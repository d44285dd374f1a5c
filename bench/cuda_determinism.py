"""Byte equality on a GPU: each generative backend renders the same job in two separate processes.

CI has no GPU, so the CUDA half of the determinism contract is checked here, on a
lent GPU: tiny random-weight checkpoints of every backend (built offline), one
shot planned with `device=cuda` (bfloat16, the engine's deterministic settings),
rendered in two fresh Python processes; the frame hashes must be equal. It also
renders once with `--dtype float32` and prints per-backend seconds.

    python bench/cuda_determinism.py            # needs a CUDA GPU
    python bench/cuda_determinism.py --device cpu --frames 2   # the same check on the CPU

Prints one line per backend and exits 1 if any pair differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "harbor-lights" / "production.json"
BACKENDS = ("sdxl", "animatediff", "animatediff-sdxl", "wan")


def one_shot_spec(backend: str, checkpoint: Path, frames: int, dtype: str) -> dict:
    spec = json.loads(EXAMPLE.read_text())
    episode = spec["episodes"][0]
    episode["scenes"] = episode["scenes"][:1]
    shot = episode["scenes"][0]["shots"][0]
    shot.pop("seconds", None)
    shot["frames"] = frames
    episode["scenes"][0]["shots"] = [shot]
    spec["episodes"] = [episode]
    spec["backend"] = backend
    spec["model"] = {"checkpoint": str(checkpoint), "steps": 4, "width": 128, "height": 128, "clip_frames": 4,
                     "dtype": dtype}
    return spec


def render_hashes(spec: dict, device: str) -> dict:
    """In this process: plan the spec and render every frame of its shot; frame hashes and seconds."""
    from reelforge.backends.models import resolve_model
    from reelforge.backends.registry import get_backend
    from reelforge.backends.runtime import resolve_runtime
    from reelforge.plan.jobs import plan
    from reelforge.spec.model import Production
    from reelforge.store.frames import frame_hash

    production = Production.model_validate(spec)
    job = plan(production, ROOT, resolve_model(production, resolve_runtime(device, None), ROOT))[0].jobs[0]
    backend = get_backend(job.backend)
    started = time.perf_counter()
    hashes = [frame_hash(frame) for _, frame in backend.render(job, list(range(job.frames)))]
    seconds = time.perf_counter() - started
    import torch

    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu"
    return {"hashes": hashes, "seconds": seconds, "key": job.key, "gpu": gpu}


def child(args) -> None:
    spec = json.loads(Path(args.spec).read_text())
    print(json.dumps(render_hashes(spec, args.device)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--only", choices=BACKENDS)
    parser.add_argument("--child-spec", dest="spec", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.spec:
        child(args)
        return 0
    from reelforge.backends.tiny import make_tiny

    results, failed = {}, False
    with tempfile.TemporaryDirectory() as tmp:
        for backend in [args.only] if args.only else BACKENDS:
            checkpoint = make_tiny(Path(tmp) / backend, backend)
            for dtype in ("auto", "float32"):
                spec_path = Path(tmp) / f"{backend}-{dtype}.json"
                spec_path.write_text(json.dumps(one_shot_spec(backend, checkpoint, args.frames, dtype)))
                runs = []
                for _ in range(2 if dtype == "auto" else 1):
                    out = subprocess.run([sys.executable, __file__, "--device", args.device, "--child-spec",
                                          str(spec_path)], capture_output=True, text=True)
                    if out.returncode != 0:
                        print(f"{backend} {dtype}: FAILED\n{out.stderr[-3000:]}")
                        failed = True
                        break
                    runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                if not runs:
                    continue
                same = len(runs) == 1 or runs[0]["hashes"] == runs[1]["hashes"]
                failed |= not same
                results[f"{backend}/{dtype}"] = {"identical_across_processes": same if len(runs) == 2 else None,
                                                 "seconds": [round(r["seconds"], 3) for r in runs],
                                                 "distinct_frames": len(set(runs[0]["hashes"])),
                                                 "gpu": runs[0]["gpu"], "first_hash": runs[0]["hashes"][0][:16]}
                verdict = "n/a (one run)" if len(runs) == 1 else ("IDENTICAL" if same else "DIFFER")
                print(f"{backend:17s} {dtype:8s} {args.frames} frames: {verdict:14s} "
                      f"seconds {[round(r['seconds'], 2) for r in runs]} on {runs[0]['gpu']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
