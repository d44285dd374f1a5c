"""Incremental re-render: a 12-shot episode, then one shot's prompt edited and rendered again.

Prints the second render's wall time over the first (target ≤ 0.15) and checks that
the 11 untouched shots' frames are byte-identical (same frame hashes) across both.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import episode_of_shots, render_spec

MOVES = ["push-in", "lock-off", "pull-back"]


def shots() -> list[dict]:
    cast = [["mara"], ["theo"], ["mara", "theo"]]
    return [{"id": f"sh{i + 1:02d}", "prompt": f"beat {i + 1} of the scene", "seconds": 2, "cast": cast[i % 3],
             "camera": {"move": MOVES[i % 3]}} for i in range(12)]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "show"
        spec = episode_of_shots(shots())
        first, first_seconds = render_spec(folder, spec)
        spec["episodes"][0]["scenes"][1]["shots"][2]["prompt"] = "beat 9, rewritten by the director"
        second, second_seconds = render_spec(folder, spec)
    edited = "s01e01/sc02/sh09"
    before = {s.job.shot_path: s for s in first.shots}
    after = {s.job.shot_path: s for s in second.shots}
    untouched = [p for p in before if p != edited]
    identical = sum(1 for p in untouched if before[p].frame_hashes == after[p].frame_hashes and after[p].reused)
    print(f"first render:  {first_seconds:.2f} s, {len(first.shots)} shots, {first.frames} frames")
    print(f"second render: {second_seconds:.2f} s, {len(second.shots) - second.shots_reused} shot re-rendered "
          f"({edited}: new job key {before[edited].job.key != after[edited].job.key}), {second.shots_reused} reused")
    print(f"untouched shots reused with byte-identical frames: {identical}/{len(untouched)}")
    print(f"incremental ratio: {second_seconds / first_seconds:.3f}  (target <= 0.15)")


if __name__ == "__main__":
    main()
