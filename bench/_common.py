"""Helpers shared by the benchmarks: build specs and render them through the render pipeline's API."""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from reelforge.engine.pipeline import RenderPipeline, RenderResult  # noqa: E402
from reelforge.media.encode import encode_settings  # noqa: E402
from reelforge.plan.jobs import plan  # noqa: E402
from reelforge.spec.load import load_production  # noqa: E402
from reelforge.store.paths import ProductionPaths  # noqa: E402

EXAMPLE = ROOT / "examples" / "harbor-lights" / "production.json"


def example() -> dict:
    return json.loads(EXAMPLE.read_text())


def episode_of_shots(shots: list[dict]) -> dict:
    """The example's cast and locations with one episode made of `shots` (split into two scenes)."""
    spec = copy.deepcopy(example())
    half = max(1, len(shots) // 2)
    scenes = [{"id": "sc01", "location": "harbor", "lighting": {"preset": "magic-hour"}, "shots": shots[:half]}]
    if shots[half:]:
        scenes.append({"id": "sc02", "location": "alley", "shots": shots[half:]})
    spec["episodes"] = [{"id": "s01e01", "title": "Bench", "scenes": scenes}]
    return spec


def render_spec(folder: Path, spec: dict, runner=None) -> tuple[RenderResult, float]:
    """Render the spec's first episode; return the result and wall seconds (plan + render + encode).

    `runner`: who runs the shots (engine/shot.py: `ShotRunner`; default: this process).
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "production.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    started = time.perf_counter()
    production = load_production(path)
    episode = plan(production)[0]
    pipeline = RenderPipeline(ProductionPaths.for_spec(path), encode_settings(production.delivery), runner=runner)
    result = pipeline.render_episode(episode, folder / "renders" / f"{episode.episode_id}.mp4")
    return result, time.perf_counter() - started
