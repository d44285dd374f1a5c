"""Productions the render tests share, and what the catalog recorded of a render of them.

Used by the golden hashes (test_golden.py) and the farm (test_farm.py), which must both compare
exactly what a user's render recorded: frame hashes, segment hashes and unsigned streams.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from conftest import run_cli, shorten

ROOT = Path(__file__).resolve().parents[1]


def harbor_lights(folder: Path) -> Path:
    """The bundled example, whole: what the README's main command renders."""
    shutil.copytree(ROOT / "examples" / "harbor-lights", folder)
    return folder / "production.json"


def tiny_backend_shot(folder: Path, backend: str) -> Path:
    """One 3-frame shot of the bundled example on a tiny random-weight checkpoint (64×64, 2 steps)."""
    folder.mkdir(parents=True)
    run_cli("models", "make-tiny", str(folder / "checkpoint"), "--kind", backend)
    spec = json.loads((ROOT / "examples" / "harbor-lights" / "production.json").read_text(encoding="utf-8"))
    episode = spec["episodes"][0]
    episode["scenes"] = episode["scenes"][:1]
    scene = episode["scenes"][0]
    scene["shots"] = scene["shots"][:1]
    shorten(scene["shots"][0], 3)
    spec["episodes"] = [episode]
    spec["backend"] = backend
    spec["model"] = {"checkpoint": "checkpoint", "steps": 2, "width": 64, "height": 64}
    if backend != "sdxl":
        spec["model"]["clip_frames"] = 2  # two windows in three frames
    spec_path = folder / "production.json"
    spec_path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    return spec_path


def rendered(spec_path: Path, *extra: str) -> dict:
    """Render the spec as a user would and read back what the catalog recorded of it."""
    run_cli("render", str(spec_path), *extra)
    return recorded(spec_path)


def recorded(spec_path: Path) -> dict:
    """What the catalog recorded of a production's episode renders (`recorded_renders`) and its contact sheet."""
    result = recorded_renders(spec_path)
    sheet = spec_path.parent / "renders" / "contact-sheet.png"
    manifest = json.loads(run_cli("credentials", "show", str(sheet), "--json").stdout)
    assertion = next(a["data"] for a in manifest["manifests"][manifest["active_manifest"]]["assertions"]
                     if a["label"] == "org.reelforge.render")
    result["contact_sheet_unsigned_sha256"] = assertion["unsigned_sha256"]
    return result


def recorded_renders(spec_path: Path) -> dict:
    """What the catalog recorded of a production's episode renders (the latest of each episode): frames,
    segments, unsigned streams, the environment and the checkpoint."""
    result: dict = {"episodes": {}}
    with sqlite3.connect(spec_path.parent / ".reelforge" / "catalog.sqlite") as db:
        renders = db.execute("SELECT r.id, r.episode_id, d.unsigned_sha256, r.environment_json FROM renders r "
                             "JOIN deliveries d ON d.render_id = r.id WHERE r.kind = 'episode' ORDER BY r.id").fetchall()
        for render_id, episode_id, unsigned, environment in renders:
            shots = db.execute("SELECT shot_path, frame_hashes_json, segment_sha256 FROM render_shots "
                               "WHERE render_id = ? ORDER BY position", (render_id,)).fetchall()
            result["episodes"][episode_id] = {
                "unsigned_sha256": unsigned,
                "shots": {path: {"segment_sha256": segment, "frames": json.loads(frames)}
                          for path, frames, segment in shots}}
            result["environment"] = json.loads(environment)
        checkpoints = {row[0] for row in db.execute("SELECT json_extract(job_json, '$.model.checkpoint_sha256') "
                                                    "FROM jobs") if row[0]}
    if checkpoints:
        result["checkpoint_sha256"] = checkpoints.pop()
    return result
