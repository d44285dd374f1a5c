"""Golden hashes: this machine renders exactly the frames and unsigned streams recorded in tests/golden/.

The productions are rendered as a user would (`reelforge render` in its own process) and read
back from the catalog, so the test holds across any change to the code's insides. A golden file
is kept per machine class (docs/determinism.md, "Golden hashes"):

* previz (the bundled example, and a slice of the showcase with every move, light, style
  family, look and a LUT): integer and fixed-order numpy/OpenCV/x264 work, kept per machine
  type (`x86_64`);
* one short shot per tiny generative backend: torch CPU kernels take other code paths by
  instruction set, so these are kept per class (`fingerprint.isa_class`, e.g.
  `x86_64-GenuineIntel-AVX512-amx`).

A mismatch in a known class fails and names the shots and frames that differ and the recorded
environment fields that changed. A class with no golden file yet is reported, never passed: the
test skips, saying so, and writes the hashes it found to test-artifacts/golden/ for review.
`REELFORGE_GOLDEN_UPDATE=1` writes them into tests/golden/ instead (only for a change that means
to change output bytes: say why in the commit).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from pathlib import Path

import pytest
from conftest import shorten
from render_support import ROOT, harbor_lights, rendered, tiny_backend_shot

from reelforge.engine.environment import isa_class

GOLDEN = Path(__file__).resolve().parent / "golden"
ARTIFACTS = Path(os.environ.get("REELFORGE_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "golden"
UPDATE = os.environ.get("REELFORGE_GOLDEN_UPDATE") == "1"
TINY_BACKENDS = ("sdxl", "animatediff", "animatediff-sdxl", "wan")
SLICE_FRAMES = 6  # frames per shot of the showcase slice


# ----------------------------------------------------------------------------- what is rendered


def lantern_street_slice(folder: Path) -> Path:
    """The showcase with every shot cut to a few frames (keyframes and blocking moved inside): every move,
    light, style family (built-in and the production's own), aspect ratio, depth of field, grain, vignette,
    LUT, and blocking (walks, turns, looks, gestures)."""
    shutil.copytree(ROOT / "examples" / "lantern-street", folder)
    spec_path = folder / "production.json"
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    for episode in spec["episodes"]:
        for scene in episode["scenes"]:
            for shot in scene["shots"]:
                shorten(shot, SLICE_FRAMES)
    spec_path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    return spec_path


# ----------------------------------------------------------------------------- what is compared


def _flat(record: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def differences(expected: dict, found: dict) -> list[str]:
    """Every golden hash that this render did not reproduce, said where it is."""
    problems = []
    if expected.get("checkpoint_sha256") != found.get("checkpoint_sha256"):
        problems.append(f"the tiny checkpoint itself differs (make-tiny's random weights): recorded "
                        f"{expected.get('checkpoint_sha256')}, built {found.get('checkpoint_sha256')}")
    if expected["contact_sheet_unsigned_sha256"] != found["contact_sheet_unsigned_sha256"]:
        problems.append("contact sheet (unsigned PNG) differs")
    for episode_id, episode in expected["episodes"].items():
        got = found["episodes"].get(episode_id)
        if got is None:
            problems.append(f"episode {episode_id} was not rendered")
            continue
        for shot_path, shot in episode["shots"].items():
            frames = got["shots"].get(shot_path, {}).get("frames", [])
            differ = [i for i, digest in enumerate(shot["frames"]) if i >= len(frames) or frames[i] != digest]
            if differ or len(frames) != len(shot["frames"]):
                problems.append(f"{shot_path}: frames {differ} of {len(shot['frames'])} differ")
            elif got["shots"][shot_path]["segment_sha256"] != shot["segment_sha256"]:
                problems.append(f"{shot_path}: same frames, other encoded segment (encoder, threads or muxer)")
        if got["unsigned_sha256"] != episode["unsigned_sha256"]:
            problems.append(f"{episode_id}: the unsigned delivery differs")
    return problems


def environment_changes(expected: dict, found: dict) -> list[str]:
    before, now = _flat(expected.get("environment", {})), _flat(found.get("environment", {}))
    return [f"{name}: golden {before.get(name)!r}, here {now.get(name)!r}"
            for name in sorted(set(before) | set(now)) if before.get(name) != now.get(name)]


def check(golden_file: Path, name: str, found: dict, machine_class: str) -> None:
    """Compare with the golden hashes of this class; record or report a class that has none."""
    goldens = json.loads(golden_file.read_text(encoding="utf-8")) if golden_file.is_file() else {}
    if UPDATE or name not in goldens:
        target = golden_file if UPDATE else ARTIFACTS / golden_file.name
        recorded = json.loads(target.read_text(encoding="utf-8")) if target.is_file() else {}
        recorded[name] = found
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        if UPDATE:
            return
        pytest.skip(f"NOT CHECKED: no golden hashes for {name} on machine class {machine_class} yet; the hashes "
                    f"rendered here are in {target}: review them and add them to {golden_file} "
                    "(docs/determinism.md, 'Golden hashes')")
    problems = differences(goldens[name], found)
    if problems:
        changed = environment_changes(goldens[name], found)
        pytest.fail(f"{name} on {machine_class} no longer renders its golden hashes ({golden_file.name}):\n  "
                    + "\n  ".join(problems)
                    + "\nenvironment fields that differ from the golden render's:\n  "
                    + ("\n  ".join(changed) or "none: the code changed the output")
                    + "\n(docs/determinism.md, 'When a golden hash fails')")


# ----------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("name, build", [("harbor-lights", harbor_lights),
                                         ("lantern-street-slice", lantern_street_slice)])
def test_previz_renders_its_golden_hashes(name, build, tmp_path):
    found = rendered(build(tmp_path / name))
    machine = platform.machine()
    check(GOLDEN / f"previz.{machine}.json", name, found, machine)


@pytest.mark.parametrize("backend", TINY_BACKENDS)
def test_tiny_backend_renders_its_golden_hashes(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("REELFORGE_CACHE_DIR", str(tmp_path / "cache"))
    found = rendered(tiny_backend_shot(tmp_path / backend, backend), "--device", "cpu", "--threads", "2")
    machine_class = isa_class(found["environment"])
    check(GOLDEN / f"generative.{machine_class}.json", backend, found, machine_class)
