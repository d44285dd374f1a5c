"""Commands started at the same moment, and renders killed at random moments: what tests/test_races.py
and bench/soak.py share.

Both drive `reelforge` as separate processes, exactly as two terminals (or a terminal and a crash)
would, and check the production afterwards the way a user relies on it: a whole identity, a catalog
that opens, a change log that verifies, and a render whose output is byte for byte the one an
uninterrupted render gives (the unsigned stream and every frame and segment hash: signed files differ
on every signing, see DESIGN.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from conftest import small_spec, write_spec
from render_support import recorded_renders
from sqlalchemy.exc import SQLAlchemyError

from reelforge.app.log_view import log_status
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths
from reelforge.trust.identity import CredentialsError, load_identity

CLI_ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
KILL_FROM = 0.9  # of the time to a render's first write: kills before that would all land in start-up
READY_TIMEOUT_S = 120  # for every process to import the CLI (a loaded 2-core machine)

# Each process imports the CLI, says it is ready, and waits for the barrier file: the commands then begin
# within milliseconds of each other, not one import time apart.
_AT_THE_BARRIER = """\
import pathlib, sys, time
import reelforge.cli
barrier = pathlib.Path(sys.argv[1])
pathlib.Path(f"{barrier}.ready-{sys.argv[2]}").touch()
while not barrier.exists():
    time.sleep(0.002)
sys.argv = ["reelforge", *sys.argv[3:]]
reelforge.cli.main()
"""


def tiny_spec() -> dict:
    """One episode of two 3-frame shots, encoded ultrafast: the smallest production that has seams."""
    spec = small_spec(frames=3)
    spec["episodes"][0]["scenes"] = spec["episodes"][0]["scenes"][:1]
    spec["delivery"]["preset"] = "ultrafast"
    return spec


def new_production(folder: Path) -> Path:
    """A tiny production nothing has touched yet: no `.reelforge/`, no identity, no catalog."""
    return write_spec(folder, tiny_spec())


@dataclass(frozen=True)
class Finished:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def problem(self) -> str | None:
        """None if it succeeded or said, on one line, that the production is busy (exit 1); else what went wrong."""
        lines = self.stderr.strip().splitlines()
        if self.code == 0 and "Traceback" not in self.stderr:
            return None
        if self.code == 1 and len(lines) == 1 and lines[0].startswith("error: production busy: ") \
                and lines[0].endswith(", try again"):
            return None
        return f"reelforge {' '.join(self.args)} exited {self.code}:\n{self.stdout}\n{self.stderr}"


def run_together(commands: list[list[str]], barrier: Path) -> list[Finished]:
    """Run `reelforge` commands in separate processes that all begin at the same moment; wait for them."""
    processes = [subprocess.Popen([sys.executable, "-c", _AT_THE_BARRIER, str(barrier), str(i), *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CLI_ENV)
                 for i, args in enumerate(commands)]
    ready = [Path(f"{barrier}.ready-{i}") for i in range(len(commands))]
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            break  # one died before the barrier: its output says why
        time.sleep(0.01)
    barrier.touch()
    finished = []
    for args, process in zip(commands, processes, strict=True):
        stdout, stderr = process.communicate()
        finished.append(Finished(tuple(args), process.returncode, stdout, stderr))
    return finished


def production_problems(spec: Path) -> list[str]:
    """What is wrong with a production's records after a race or a kill: [] when all is well."""
    paths = ProductionPaths.for_spec(spec)
    problems = []
    try:
        if load_identity(paths.identity).trust_anchor_pem is None:
            problems.append(f"{paths.identity}: no root certificate")
    except CredentialsError as exc:
        problems.append(f"identity: {exc}")
    problems += [f"{stray}: left behind" for stray in paths.state.glob(f".{paths.identity.name}.tmp-*")]
    if not paths.catalog.exists():
        return [*problems, f"{paths.catalog}: missing"]
    try:
        with Catalog(paths.catalog) as catalog, catalog.session() as session:
            integrity = session.connection().exec_driver_sql("PRAGMA integrity_check").scalar()
        if integrity != "ok":
            problems.append(f"{paths.catalog}: integrity_check says {integrity}")
    except SQLAlchemyError as exc:
        problems.append(f"{paths.catalog}: {exc}")
    status = log_status(paths)
    if not status.ok:
        problems.append(f"log verify: {status.headline}")
    return problems


def rendered_output(spec: Path) -> dict:
    """What an uninterrupted render and a resumed one must share: per episode the unsigned stream's hash,
    and every shot's frame hashes and segment hash, as the catalog recorded them."""
    return recorded_renders(spec)["episodes"]


def render_command(spec: Path) -> list[str]:
    return [sys.executable, "-m", "reelforge.cli", "render", str(spec)]


def timed_render(spec: Path) -> tuple[float, float]:
    """Render to completion as a user would: the wall seconds until it first wrote into the production
    (its state folder appeared: start-up and planning done) and until it ended (the span kills are drawn from)."""
    paths = ProductionPaths.for_spec(spec)
    began = time.monotonic()
    process = subprocess.Popen(render_command(spec), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=CLI_ENV)
    first_write = None
    while process.poll() is None:
        if first_write is None and paths.state.exists():
            first_write = time.monotonic() - began
        time.sleep(0.01)
    stdout, stderr = process.communicate()
    ended = time.monotonic() - began
    if process.returncode != 0:
        raise AssertionError(f"reelforge render {spec} exited {process.returncode}\n{stdout}\n{stderr}")
    return (first_write if first_write is not None else ended), ended


def kill_span(timing: tuple[float, float]) -> tuple[float, float]:
    """The span kill delays are drawn from, given `timed_render`'s timing of an uninterrupted render."""
    first_write, ended = timing
    return KILL_FROM * first_write, ended


def render_killed_after(spec: Path, delay: float) -> str:
    """Start a render and SIGKILL it after `delay` seconds; where it was when killed (`phase_of`), or
    "finished" if it ended first."""
    process = subprocess.Popen(render_command(spec), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=CLI_ENV)
    try:
        _, stderr = process.communicate(timeout=delay)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        return phase_of(spec)
    if process.returncode != 0:
        raise AssertionError(f"reelforge render {spec} exited {process.returncode} before the kill\n{stderr}")
    return "finished"


def phase_of(spec: Path) -> str:
    """How far a killed render had come, read from what it left: before its state folder, while setting up
    (identity, catalog, commit), while rendering frames, or while delivering (an episode file written)."""
    paths = ProductionPaths.for_spec(spec)
    if (paths.renders / "s01e01.mp4").exists():
        return "delivering"
    if paths.frames.is_dir() and any(paths.frames.iterdir()):
        return "rendering"
    return "setting up" if paths.state.is_dir() else "starting"


def kill_and_resume(spec: Path, delay: float, output: dict) -> tuple[str, list[str]]:
    """Kill a render of `spec` after `delay` seconds, render it again to completion and check it against
    `output` (an uninterrupted render's): where the kill landed, and what is wrong ([] when nothing)."""
    phase = render_killed_after(spec, delay)
    timed_render(spec)  # to completion
    problems = production_problems(spec)
    if rendered_output(spec) != output:
        problems.append("finished output differs from the uninterrupted render")
    return phase, problems

