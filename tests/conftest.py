"""Shared fixtures: small productions built from the bundled example (1080p, few frames)."""

from __future__ import annotations

import copy
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "harbor-lights" / "production.json"


def example_spec() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def shorten(shot: dict, frames: int) -> dict:
    """Cut a shot of the examples to `frames`, with its camera keyframes and blocking played inside it
    (every time scaled by the same factor, so the action keeps its order and still fits)."""
    seconds = shot.pop("seconds", None) or shot["frames"] / 24
    shot["frames"] = frames
    scale = max(frames - 2, 1) / 24 / seconds  # everything ends by the last frame but one
    for keyframe in shot.get("camera", {}).get("keyframes", []):
        keyframe["at_s"] = round(keyframe["at_s"] * scale, 6)
    for entry in shot.get("blocking", {}).values():
        for action in entry.get("actions", []):
            for name in ("at_s", "arrive_s", "duration_s"):
                if name in action:
                    action[name] = round(action[name] * scale, 6)
    return shot


def unblocked(spec: dict) -> dict:
    """The spec (a dict, changed in place and returned) with nobody blocked: no `blocking` at any level,
    no location marks, and cameras (keyframes too) that follow and look at nobody. Prop ids stay (they
    change nothing). For tests that build their own blocking on top of an example that blocks most shots."""
    def free(camera: dict | None) -> None:
        for frame in [camera or {}, *(camera or {}).get("keyframes", [])]:
            frame.pop("follow", None)
            frame.pop("look_at", None)

    spec.pop("blocking", None)
    free(spec.get("camera"))
    for location in spec.get("locations", []):
        location.pop("marks", None)
    for episode in spec.get("episodes", []):
        for level in [episode, *episode.get("scenes", []),
                      *(shot for scene in episode.get("scenes", []) for shot in scene.get("shots", []))]:
            level.pop("blocking", None)
            free(level.get("camera"))
    return spec


def standing(job):
    """The job (a planned ShotJob) with nobody blocked: whatever the bundled example's blocking is, the
    cast stands in its line-up, and the camera follows and looks at nobody."""
    from reelforge.spec.staging import lineup

    places = lineup(len(job.figures))
    figures = tuple(f.model_copy(update={"blocking": None, "x_m": x, "z_m": z}) for f, (x, z) in zip(job.figures, places))
    camera = job.camera.model_copy(update={"follow": None, "look_at": None})
    return job.model_copy(update={"figures": figures, "camera": camera})


def walking(job, who: int = 0, start_x: float = -2.0, end_x: float = 2.0, z: float = -1.0):
    """The job with one cast member walking across the frame along x (linear, over the whole shot), in
    front of the others, who stand (`standing`)."""
    from reelforge.plan.blocking import ActionJob, FigureBlocking

    figure = job.figures[who]
    walk = ActionJob(action="walk", start_s=0.0, end_s=job.frames / job.fps, easing="linear",
                     path=((start_x, z), (end_x, z)))
    blocked = figure.model_copy(update={"x_m": start_x, "z_m": z,
                                        "blocking": FigureBlocking(heading_deg=90.0, actions=(walk,))})
    figures = list(standing(job).figures)
    figures[who] = blocked
    return job.model_copy(update={"figures": tuple(figures)})


def small_spec(frames: int = 8) -> dict:
    """The example cut down to one episode of three short shots (`frames` each) for fast tests."""
    spec = copy.deepcopy(example_spec())
    episode = spec["episodes"][0]
    episode["scenes"] = episode["scenes"][:2]
    episode["scenes"][0]["shots"] = episode["scenes"][0]["shots"][:2]
    for scene in episode["scenes"]:
        for shot in scene["shots"]:
            shorten(shot, frames)
    spec["episodes"] = [episode]
    return spec


def write_spec(folder: Path, spec: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "production.json"
    path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    return path


def backup_catalog(source: Path, target: Path) -> None:
    """One consistent copy of a catalog through SQLite's backup API (both connections closed after)."""
    with closing(sqlite3.connect(source)) as original, closing(sqlite3.connect(target)) as duplicate:
        original.backup(duplicate)


def copy_production(source: Path, target: Path) -> Path:
    """A copy of a production folder, its catalog taken through SQLite's backup API.

    A catalog's -wal/-shm files come and go as connections close (a reader left to the garbage
    collector checkpoints and removes them), so a file-by-file copy can fail or tear mid-way.
    """
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("catalog.sqlite*"))
    catalog = source / ".reelforge" / "catalog.sqlite"
    if catalog.exists():
        backup_catalog(catalog, target / ".reelforge" / "catalog.sqlite")
    return target


def copy_of_records(show: dict, target: Path, drop_triggers: bool = False) -> tuple[Path, sqlite3.Connection]:
    """The spec, identity and a copy of the catalog in `target`, plus a raw sqlite3 connection to the copy.

    Tamper tests edit the copy so the module's own log stays as it is; `drop_triggers` removes the
    append-only triggers first, as anyone editing the file by hand would. Recorded deliveries stay
    where they are.
    """
    source = show["spec"].parent
    (target / ".reelforge").mkdir(parents=True)
    shutil.copy(show["spec"], target / "production.json")
    shutil.copytree(source / ".reelforge" / "identity", target / ".reelforge" / "identity")
    backup_catalog(source / ".reelforge" / "catalog.sqlite", target / ".reelforge" / "catalog.sqlite")
    db = sqlite3.connect(target / ".reelforge" / "catalog.sqlite", isolation_level=None)
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall() if drop_triggers else []:
        db.execute(f"DROP TRIGGER {name}")
    return target / "production.json", db


@contextmanager
def cli_width(columns: int):
    """The CLI's consoles sized to `columns` while an in-process command runs, then as they were.

    rich sizes a console from COLUMNS when it is made (when reelforge.cli is imported), so an
    in-process command does not see a COLUMNS set for it later.
    """
    from reelforge.cli.console import console, errors

    saved = console._width, errors._width
    console._width = errors._width = columns
    try:
        yield
    finally:
        console._width, errors._width = saved


def cli(*args: str, cwd: Path | None = None):
    """`reelforge ARGS` in this process (fast); returns (exit code, stdout + stderr)."""
    from typer.testing import CliRunner

    from reelforge.cli import app

    old = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with cli_width(250):
            result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250", "NO_COLOR": "1"})
    finally:
        os.chdir(old)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def render_episode(spec: Path, actor: str, mark: bool = False):
    """Render the spec's (one) episode as `reelforge render [--mark]` does (signed delivery), in this process;
    returns (its RenderResult, the episode's plan)."""
    from reelforge.deliver.options import delivery_options
    from reelforge.engine.pipeline import RenderPipeline
    from reelforge.media.encode import encode_settings
    from reelforge.plan.jobs import plan
    from reelforge.spec.load import load_production
    from reelforge.store.paths import ProductionPaths

    production = load_production(spec)
    paths = ProductionPaths.for_spec(spec)
    pipeline = RenderPipeline(paths, encode_settings(production.delivery),
                              delivery=delivery_options(production, paths.root, mark, actor))
    (episode,) = plan(production, base_dir=paths.root)
    return pipeline.render_episode(episode, paths.renders / f"{episode.episode_id}.mp4"), episode


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `reelforge` in a separate process, as a user would."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "reelforge.cli", *args], capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"reelforge {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def stream_sha(path: Path) -> str:
    """SHA-256 of a video file's H.264 stream (every packet's bytes and timestamps), not of the file.

    Delivered files are C2PA-signed, and a signature differs on every signing (nonces, ids);
    the stream inside is what renders byte for byte.
    """
    import hashlib

    import av

    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        digest.update(f"{stream.codec_context.name} {stream.width}x{stream.height} {stream.average_rate}\n".encode())
        digest.update(bytes(stream.codec_context.extradata or b""))
        for packet in container.demux(stream):
            if packet.size:
                digest.update(f"{packet.pts} {packet.dts} {int(packet.is_keyframe)}\n".encode())
                digest.update(bytes(packet))
    return digest.hexdigest()


@pytest.fixture(scope="module")
def jobs():
    """Every shot job of the bundled example, planned once per test module."""
    from reelforge.plan.jobs import plan
    from reelforge.spec.model import Production

    return [job for episode in plan(Production.model_validate(example_spec())) for job in episode.jobs]


def shot(jobs, move: str):
    """The first job with cast filmed with camera `move`."""
    return next(job for job in jobs if job.camera.move == move and job.figures)


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> dict[str, Path]:
    """Reference pictures a studio gives as IP-Adapter images: a red, a blue and a green figure on grey."""
    from PIL import Image, ImageDraw

    root = tmp_path_factory.mktemp("images")
    made = {}
    for name, colour in (("red", (190, 40, 30)), ("blue", (40, 60, 190)), ("green", (40, 170, 60))):
        image = Image.new("RGB", (48, 64), (128, 128, 128))
        ImageDraw.Draw(image).ellipse((8, 8, 40, 56), fill=colour)
        made[name] = root / f"{name}.png"
        image.save(made[name])
    return made


@pytest.fixture
def small_production(tmp_path: Path) -> Path:
    return write_spec(tmp_path / "show", small_spec())
