"""Farm overhead: the 12-shot episode of bench/incremental.py on the local engine and on a local Ray farm.

On this 2-core machine the farm has 2 CPU workers, so the point is overhead, not speed-up:
prints the farm's wall time over the local engine's (target ≤ 1.15 with the farm already
running; its start-up is printed apart) and checks that frames, segments and the unsigned
episode stream are byte-identical. Each render goes to a fresh folder, so nothing is reused.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import episode_of_shots, render_spec
from incremental import shots

from reelforge.farm.options import FarmOptions
from reelforge.farm.runner import FarmShots


def unsigned(result) -> str:
    return result.unsigned_sha256


def main() -> None:
    spec = episode_of_shots(shots())
    with tempfile.TemporaryDirectory() as tmp:
        local, local_seconds = render_spec(Path(tmp) / "local", spec)
        started = time.perf_counter()
        runner = FarmShots(FarmOptions(cpus=2))  # a Ray instance on this machine, 2 CPU workers
        start_seconds = time.perf_counter() - started
        cold, cold_seconds = render_spec(Path(tmp) / "farm-cold", spec, runner)  # workers start and import
        warm, warm_seconds = render_spec(Path(tmp) / "farm-warm", spec, runner)  # a farm that is running
        local_again, local_again_seconds = render_spec(Path(tmp) / "local-again", spec)
    local_mean = (local_seconds + local_again_seconds) / 2
    for name, result in (("cold", cold), ("warm", warm)):
        same = ([s.frame_hashes for s in result.shots] == [s.frame_hashes for s in local.shots]
                and [s.segment_sha256 for s in result.shots] == [s.segment_sha256 for s in local.shots]
                and unsigned(result) == unsigned(local))
        print(f"farm ({name}) byte-identical to local: {same}")
    print(f"episode: {len(local.shots)} shots, {local.frames} frames")
    print(f"local engine:           {local_seconds:.2f} s, again {local_again_seconds:.2f} s")
    print(f"farm start (ray.init):  {start_seconds:.2f} s")
    print(f"farm, workers starting: {cold_seconds:.2f} s  ratio {cold_seconds / local_mean:.3f}")
    print(f"farm, running:          {warm_seconds:.2f} s  ratio {warm_seconds / local_mean:.3f}  (target <= 1.15)")


if __name__ == "__main__":
    main()
