"""Reliability soak: renders SIGKILLed at random moments, and commands racing on a new production.

`python bench/soak.py kill [-n 20] [--seed 16]`: N times, a new tiny production's `reelforge render`
is SIGKILLed after a delay drawn from a seeded RNG over [0, the time an uninterrupted render takes],
then rendered again to completion. Each finished output must be the uninterrupted render's, byte for
byte (unsigned stream, every frame and segment hash), and the identity, catalog (integrity_check) and
change log (`log verify`) must be whole.

`python bench/soak.py race [-n 20]`: N new productions, each given two renders and two commits that
begin at the same moment. Each command must succeed or say on one line that the production is busy
(exit 1), never a traceback; then the records must be whole and a render after it give the
uninterrupted output.

Prints one line an attempt and a summary; exits 1 if any attempt failed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

import _common  # noqa: F401 - puts tests/ on the path
from race_support import (
    Finished,
    kill_and_resume,
    kill_span,
    new_production,
    production_problems,
    rendered_output,
    run_together,
    timed_render,
)


def race_then_render(spec: Path, commands: list[list[str]], barrier: Path,
                     output: dict) -> tuple[list[Finished], list[str]]:
    """Run `commands` on `spec` at the same moment, then render it to completion: how each command ended,
    and what is wrong (a traceback, broken records, an output unlike `output`; [] when nothing)."""
    finished = run_together(commands, barrier)
    problems = [p for p in (f.problem() for f in finished) if p is not None]
    problems += production_problems(spec)
    timed_render(spec)
    if rendered_output(spec) != output:
        problems.append("a render after the race differs from the uninterrupted render")
    return finished, problems


def soak_kills(work: Path, attempts: int, seed: int, output: dict, span: tuple[float, float]) -> list[str]:
    """Kill and resume `attempts` new productions, each after a delay drawn from `span`; the failures, described."""
    rng = random.Random(seed)
    phases: Counter = Counter()
    failures = []
    for attempt in range(attempts):
        spec = new_production(work / f"kill{attempt}")
        delay = rng.uniform(*span)
        try:
            phase, problems = kill_and_resume(spec, delay, output)
        except AssertionError as exc:  # the render after the kill failed: what it printed is the finding
            phase, problems = "?", [str(exc)]
        phases[phase] += 1
        print(f"kill {attempt + 1}/{attempts}: after {delay:.2f} s ({phase}): "
              f"{'; '.join(problems) if problems else 'resumed to identical output'}", flush=True)
        failures += [f"kill {attempt + 1}: {p}" for p in problems]
    print(f"kills by phase: {dict(sorted(phases.items()))}")
    return failures


def soak_races(work: Path, attempts: int, output: dict) -> list[str]:
    """Two renders and two commits at once on `attempts` new productions; the failures, described."""
    outcomes: Counter = Counter()
    failures = []
    for attempt in range(attempts):
        spec = new_production(work / f"race{attempt}")
        commands = [["render", str(spec)]] * 2 + [["commit", str(spec), "-m", "first"]] * 2
        try:
            finished, problems = race_then_render(spec, commands, work / f"barrier{attempt}", output)
        except AssertionError as exc:  # the render after the race failed
            finished, problems = [], [str(exc)]
        said = ", ".join(f"{f.args[0]} {'ok' if f.code == 0 else 'busy' if f.code == 1 else f.code}"
                         for f in finished)
        outcomes.update(f"{f.args[0]} {'ok' if f.code == 0 else 'busy'}" for f in finished if f.code in (0, 1))
        print(f"race {attempt + 1}/{attempts}: {said}: {'; '.join(problems) if problems else 'records whole'}",
              flush=True)
        failures += [f"race {attempt + 1}: {p}" for p in problems]
    print(f"outcomes: {dict(sorted(outcomes.items()))}")
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["kill", "race", "both"])
    parser.add_argument("-n", type=int, default=20, help="attempts (default 20)")
    parser.add_argument("--seed", type=int, default=16, help="seed of the kill delays (default 16)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        reference = new_production(work / "uninterrupted")
        timing = timed_render(reference)
        output = rendered_output(reference)
        span = kill_span(timing)
        print(f"uninterrupted render: {timing[1]:.2f} s, its first write at {timing[0]:.2f} s; kill delays drawn "
              f"from [{span[0]:.2f}, {span[1]:.2f}] s, seed {args.seed}")
        failures = []
        if args.mode in ("kill", "both"):
            failures += soak_kills(work, args.n, args.seed, output, span)
        if args.mode in ("race", "both"):
            failures += soak_races(work, args.n, output)
    print(f"{len(failures)} failure(s)" + "".join(f"\n  {f}" for f in failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
