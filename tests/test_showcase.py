"""The directing showcase (examples/lantern-street): every move, light, style family and look, on one sheet."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import run_cli, shorten

from reelforge.plan.jobs import plan
from reelforge.spec import presets
from reelforge.spec.load import load_production
from reelforge.spec.look import ASPECT_RATIOS
from reelforge.spec.styles import builtin_names

SHOWCASE = Path(__file__).resolve().parents[1] / "examples" / "lantern-street"


def showcase_jobs():
    production = load_production(SHOWCASE / "production.json")
    return [job for episode in plan(production, base_dir=SHOWCASE) for job in episode.jobs]


def test_showcase_uses_every_move_light_style_and_aspect_ratio():
    jobs = showcase_jobs()
    moves = {job.camera.move for job in jobs} | {k.move for job in jobs for k in job.camera.keyframes}
    assert moves == set(presets.CAMERA_MOVES)
    assert any(job.camera.handheld and job.camera.move != "handheld" for job in jobs)  # shake layered on a move
    assert {job.lighting.preset for job in jobs} == set(presets.LIGHTING)
    styles = {job.style.id for job in jobs}
    assert set(builtin_names()) <= styles and "noir-ink" in styles  # and one of the production's own
    assert {job.look.aspect_ratio for job in jobs} == set(ASPECT_RATIOS)
    assert any(job.look.lut for job in jobs) and any(job.look.depth_of_field for job in jobs)
    assert any(job.look.grain for job in jobs) and any(job.look.vignette for job in jobs)


def test_showcase_renders_with_a_contact_sheet_of_every_shot(tmp_path: Path):
    """The example cut to 4 frames a shot (keyframes moved inside), rendered as a user would."""
    show = tmp_path / "show"
    shutil.copytree(SHOWCASE, show)
    spec = json.loads((show / "production.json").read_text(encoding="utf-8"))
    for episode in spec["episodes"]:
        for scene in episode["scenes"]:
            for shot in scene["shots"]:
                shorten(shot, 4)
    (show / "production.json").write_text(json.dumps(spec), encoding="utf-8")
    run_cli("render", str(show / "production.json"))
    renders = show / "renders"
    assert (renders / "e01.mp4").is_file() and (renders / "e02.mp4").is_file()
    sheet = renders / "contact-sheet.png"
    assert run_cli("credentials", "verify", str(sheet)).returncode == 0
    shown = run_cli("credentials", "show", str(sheet), "--json").stdout
    paths = [job.shot_path for job in showcase_jobs()]
    assert all(path in shown for path in paths) and len(paths) == 9
