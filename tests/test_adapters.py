"""LoRAs and IP-Adapter in the diffusers backends, on tiny random-weight checkpoints and adapters.

Everything is built offline by `reelforge models make-tiny` (or its function) and loaded from
local files through diffusers' own `load_lora_weights` / `load_ip_adapter`; nothing is fetched.
Jobs come from the planner, then get their LoRAs / IP-Adapter images with `model_copy`, the way
the cast and style planners hand them over (hashes in keyed fields, paths in `assets`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli, small_spec, write_spec

from reelforge.backends.checkpoints import CheckpointError, checkpoint_sha256
from reelforge.backends.models import resolve_model
from reelforge.backends.runtime import Runtime
from reelforge.plan.base import LoraJob
from reelforge.plan.jobs import ShotJob, plan
from reelforge.spec.model import Production
from reelforge.store.hashing import file_sha256

TINY = ("sdxl", "animatediff", "wan", "lora-sdxl", "lora-animatediff", "lora-wan", "ip-adapter-sdxl",
        "ip-adapter-animatediff")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """Tiny checkpoints, LoRA files and IP-Adapter folders for the session (kind → path)."""
    from reelforge.backends.tiny import make_tiny

    root = tmp_path_factory.mktemp("adapters")
    made = {kind: make_tiny(root / (kind + (".safetensors" if kind.startswith("lora-") else "")), kind)
            for kind in TINY}
    made["lora-sdxl-2"] = make_tiny(root / "lora-sdxl-2.safetensors", "lora-sdxl", seed=1)
    return made


@pytest.fixture(autouse=True)
def _hash_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("REELFORGE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def model_spec(backend: str, checkpoint: Path, shots: int = 1, **model) -> dict:
    """The small example cut to `shots` shots of 2 frames, rendered by `backend` at 64×64."""
    spec = small_spec(frames=2)
    episode = spec["episodes"][0]
    kept = [(scene, shot) for scene in episode["scenes"] for shot in scene["shots"]][:shots]
    for scene in episode["scenes"]:
        scene["shots"] = [shot for s, shot in kept if s is scene]
    episode["scenes"] = [scene for scene in episode["scenes"] if scene["shots"]]
    spec["backend"] = backend
    spec["model"] = {"checkpoint": str(checkpoint), "steps": 2, "width": 64, "height": 64, **model}
    if backend != "sdxl":
        spec["model"].setdefault("clip_frames", 2)
    return spec


def jobs_of(spec: dict, base: Path = Path(".")) -> list[ShotJob]:
    production = Production.model_validate(spec)
    model = resolve_model(production, Runtime("cpu", 2), base)
    return [job for episode in plan(production, base, model) for job in episode.jobs]


def with_lora(job: ShotJob, path: Path, weight: float = 1.0, source: str = "style:test") -> ShotJob:
    """The job with a style LoRA (source style:…) or, for source character:<id>, on its first cast member."""
    lora = LoraJob(sha256=checkpoint_sha256(path), weight=weight, source=source)
    assets = {**job.assets, lora.sha256: str(path)}
    if source.startswith("character:"):
        cast = (job.cast[0].model_copy(update={"lora": lora}), *job.cast[1:])
        return job.model_copy(update={"cast": cast, "assets": assets})
    return job.model_copy(update={"style": job.style.model_copy(update={"lora": lora}), "assets": assets})


def with_images(job: ShotJob, *paths: Path | None) -> ShotJob:
    """The job with cast member i's IP-Adapter image set to paths[i] (None: no image)."""
    cast, assets = [], dict(job.assets)
    for member, path in zip(job.cast, paths, strict=False):
        sha = file_sha256(path) if path is not None else None
        cast.append(member.model_copy(update={"ip_adapter_image_sha256": sha}))
        if path is not None:
            assets[sha] = str(path)
    return job.model_copy(update={"cast": (*cast, *job.cast[len(cast):]), "assets": assets})


def frame(backend, job: ShotJob) -> np.ndarray:
    """Frame 1 at native size: SDXL renders it alone, clip backends in the window [0, 2)."""
    if job.backend == "sdxl":
        return backend.native_frame(job, 1)
    return backend.native_window(job, 0, 2)[1]


def digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


# ----------------------------------------------------------------------------- LoRA


def test_a_lora_changes_the_pixels_and_its_weight_matters(tiny):
    from reelforge.backends.registry import get_backend

    (job,) = jobs_of(model_spec("sdxl", tiny["sdxl"]))
    backend = get_backend("sdxl")
    plain = frame(backend, job)
    full = frame(backend, with_lora(job, tiny["lora-sdxl"], 1.0))
    half = frame(backend, with_lora(job, tiny["lora-sdxl"], 0.5))
    as_character = frame(backend, with_lora(job, tiny["lora-sdxl"], 1.0, source="character:mara"))
    assert not np.array_equal(plain, full) and not np.array_equal(full, half) and not np.array_equal(plain, half)
    assert np.array_equal(as_character, full)  # one file, one weight: the same adapter whoever asks
    assert np.array_equal(frame(backend, job), plain)  # LoRA off again: the plain model's bytes


RENDER_IN_A_FRESH_PROCESS = """
import hashlib, json, sys
import numpy as np
from reelforge.backends.registry import get_backend
from reelforge.plan.jobs import ShotJob
backend = get_backend("sdxl")
for path in sys.argv[1:]:
    frame = backend.native_frame(ShotJob.model_validate_json(open(path).read()), 1)
    print(hashlib.sha256(np.ascontiguousarray(frame).tobytes()).hexdigest())
"""


def test_lora_state_never_leaks_between_shots_and_processes(tiny, tmp_path):
    """Shots A (no LoRA), B (one), C (two) in one process: each renders what a fresh process renders."""
    from reelforge.backends.registry import get_backend

    (a,) = jobs_of(model_spec("sdxl", tiny["sdxl"]))
    b = with_lora(a, tiny["lora-sdxl"], 0.8)
    c = with_lora(with_lora(a, tiny["lora-sdxl-2"], 0.6), tiny["lora-sdxl"], 0.7, source="character:mara")
    backend = get_backend("sdxl")
    here = {name: [] for name in "abc"}
    for name, job in (("a", a), ("b", b), ("c", c), ("a", a), ("b", b), ("c", c)):
        here[name].append(digest(frame(backend, job)))
    assert all(first == again for first, again in here.values()), here
    assert len({hashes[0] for hashes in here.values()}) == 3
    paths = []
    for name, job in (("c", c), ("b", b), ("a", a)):  # the other order, in a new process
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(job.model_dump_json())
    result = subprocess.run([sys.executable, "-c", RENDER_IN_A_FRESH_PROCESS, *map(str, paths)],
                            capture_output=True, text=True, check=True)
    assert result.stdout.split() == [here["c"][0], here["b"][0], here["a"][0]]


def test_a_lora_for_another_model_is_a_clear_error_and_leaves_the_pipeline_as_it_was(tiny):
    from reelforge.backends.registry import get_backend

    (job,) = jobs_of(model_spec("sdxl", tiny["sdxl"]))
    backend = get_backend("sdxl")
    plain = frame(backend, job)
    for wrong in ("lora-animatediff", "lora-wan"):
        with pytest.raises(CheckpointError, match="character:mara: LoRA .* does not fit the sdxl model"):
            frame(backend, with_lora(job, tiny[wrong], source="character:mara"))
    assert np.array_equal(frame(backend, job), plain)


def test_a_lora_changed_since_planning_is_refused(tiny, tmp_path):
    from reelforge.backends.registry import get_backend

    lora = tmp_path / "style.safetensors"
    shutil.copy(tiny["lora-sdxl"], lora)
    (job,) = jobs_of(model_spec("sdxl", tiny["sdxl"]))
    job = with_lora(job, lora)
    shutil.copy(tiny["lora-sdxl-2"], lora)
    with pytest.raises(CheckpointError, match="style:test: LoRA .* has changed since the shot was planned"):
        frame(get_backend("sdxl"), job)


@pytest.mark.parametrize("backend_name", ["animatediff", "wan"])
def test_clip_backends_apply_loras_per_window(backend_name, tiny):
    from reelforge.backends.registry import get_backend

    (job,) = jobs_of(model_spec(backend_name, tiny[backend_name]))
    backend = get_backend(backend_name)
    plain = frame(backend, job)
    styled = frame(backend, with_lora(job, tiny[f"lora-{backend_name}"]))
    assert not np.array_equal(plain, styled)
    assert np.array_equal(frame(backend, job), plain)


# ----------------------------------------------------------------------------- IP-Adapter


def test_ip_adapter_conditions_on_the_cast_image_and_is_inert_without_one(tiny, images):
    from reelforge.backends.registry import get_backend

    (plain_job,) = jobs_of(model_spec("sdxl", tiny["sdxl"]))
    (job,) = jobs_of(model_spec("sdxl", tiny["sdxl"], ip_adapter=str(tiny["ip-adapter-sdxl"]), ip_adapter_scale=1.0))
    assert job.cast and job.cast[0].ip_adapter_image_sha256 is None
    plain = frame(get_backend("sdxl"), plain_job)
    backend = get_backend("sdxl")
    no_image = frame(backend, job)
    red = frame(backend, with_images(job, images["red"]))
    blue = frame(backend, with_images(job, images["blue"]))
    assert np.array_equal(no_image, plain)  # zero embeddings at scale 0: exactly the model without the adapter
    assert not np.array_equal(red, plain) and not np.array_equal(red, blue)
    weaker = job.model_copy(update={"model": job.model.model_copy(update={"ip_adapter_scale": 0.3})})
    assert not np.array_equal(frame(backend, with_images(weaker, images["red"])), red)
    assert np.array_equal(frame(backend, with_images(job, images["red"])), red)
    both = frame(backend, with_lora(with_images(job, images["red"]), tiny["lora-sdxl"]))
    assert not np.array_equal(both, red)
    assert np.array_equal(frame(backend, job), plain)


def test_a_character_gets_the_same_embeddings_in_every_shot(tiny, images, monkeypatch):
    """Three shots (other cameras, prompts, seeds) casting one character pass byte-identical embeddings."""
    from reelforge.backends import sdxl
    from reelforge.backends.registry import get_backend

    passed = []
    original = sdxl.call_pipeline

    def recording(pipeline, job, inputs):
        embeds = inputs["ip_adapter_image_embeds"]
        passed.append((job.shot_path, [hashlib.sha256(e.cpu().numpy().tobytes()).hexdigest() for e in embeds],
                       [tuple(e.shape) for e in embeds]))
        return original(pipeline, job, inputs)

    monkeypatch.setattr(sdxl, "call_pipeline", recording)
    jobs = jobs_of(model_spec("sdxl", tiny["sdxl"], shots=3, ip_adapter=str(tiny["ip-adapter-sdxl"])))
    assert len({(j.camera.move, j.prompt, j.seed) for j in jobs}) == 3
    mara = [with_images(job.model_copy(update={"cast": tuple(m for m in job.cast if m.character_id == "mara")}),
                        images["red"]) for job in jobs]
    assert all([m.character_id for m in job.cast] == ["mara"] for job in mara)
    backend = get_backend("sdxl")
    for job in mara:
        backend.native_frame(job, 0)
    assert [p[0] for p in passed] == [job.shot_path for job in jobs] and len({p[0] for p in passed}) == 3
    assert passed[0][1] == passed[1][1] == passed[2][1]
    assert passed[0][2] == [(2, 1, 32)]  # guidance on: (negative, positive) × one image × projection width
    backend.native_frame(with_images(mara[0], images["blue"]), 0)
    assert passed[-1][1] != passed[0][1]
    # Two characters: both images, in cast order (each member's own embedding, concatenated).
    pair = with_images(jobs[1], images["red"], images["blue"])
    swapped = with_images(jobs[1], images["blue"], images["red"])
    assert [m.character_id for m in pair.cast] == ["mara", "theo"]
    backend.native_frame(pair, 0)
    backend.native_frame(swapped, 0)
    assert passed[-2][2] == [(2, 2, 32)] and passed[-2][1] != passed[-1][1]


def test_animatediff_takes_the_ip_adapter_too(tiny, images):
    from reelforge.backends.registry import get_backend

    (plain_job,) = jobs_of(model_spec("animatediff", tiny["animatediff"]))
    (job,) = jobs_of(model_spec("animatediff", tiny["animatediff"], ip_adapter=str(tiny["ip-adapter-animatediff"])))
    backend = get_backend("animatediff")
    plain = frame(get_backend("animatediff"), plain_job)
    assert np.array_equal(frame(backend, job), plain)
    assert not np.array_equal(frame(backend, with_images(job, images["red"])), plain)


def _bad_folder(tiny, tmp_path: Path, damage) -> Path:
    folder = tmp_path / "ip-adapter"
    shutil.copytree(tiny["ip-adapter-sdxl"], folder)
    damage(folder)
    return folder


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "image_encoder" / "model.safetensors").unlink(), "has no weights"),
    (lambda f: shutil.rmtree(f / "image_encoder"), "no such folder (IP-Adapter image encoder)"),
    (lambda f: (f / "ip-adapter.safetensors").unlink(), "found none"),
    (lambda f: shutil.copy(f / "ip-adapter.safetensors", f / "b.safetensors"), "found b.safetensors, ip-adapter"),
])
def test_a_bad_ip_adapter_folder_is_named_before_rendering(damage, message, tiny, tmp_path):
    folder = _bad_folder(tiny, tmp_path, damage)
    with pytest.raises(CheckpointError) as error:
        jobs_of(model_spec("sdxl", tiny["sdxl"], ip_adapter=str(folder)))
    assert str(error.value).startswith("$.model.ip_adapter: ") and message in str(error.value)


def test_a_bad_ip_adapter_exits_2_through_the_cli(tiny, tmp_path):
    folder = _bad_folder(tiny, tmp_path, lambda f: (f / "image_encoder" / "config.json").unlink())
    path = write_spec(tmp_path / "show", model_spec("sdxl", tiny["sdxl"], ip_adapter=str(folder)))
    result = run_cli("render", str(path), "--device", "cpu", "--threads", "2", check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "$.model.ip_adapter" in result.stderr and "config.json" in result.stderr
    assert "Traceback" not in result.stderr


def test_ip_adapter_of_the_wrong_model_or_backend_is_refused(tiny, tmp_path):
    from reelforge.backends.registry import get_backend

    with pytest.raises(CheckpointError, match=r"\$\.model\.ip_adapter: .*wan"):
        jobs_of(model_spec("wan", tiny["wan"], ip_adapter=str(tiny["ip-adapter-sdxl"])))
    (job,) = jobs_of(model_spec("sdxl", tiny["sdxl"], ip_adapter=str(tiny["ip-adapter-animatediff"])))
    with pytest.raises(CheckpointError, match=r"\$\.model\.ip_adapter: .* does not fit the sdxl model's UNet"):
        frame(get_backend("sdxl"), job)


# ----------------------------------------------------------------------------- keys and the whole render


def test_lora_and_ip_adapter_inputs_change_the_job_key(tiny, images, tmp_path):
    (job,) = jobs_of(model_spec("sdxl", tiny["sdxl"]))
    (ip_job,) = jobs_of(model_spec("sdxl", tiny["sdxl"], ip_adapter=str(tiny["ip-adapter-sdxl"])))
    (stronger,) = jobs_of(model_spec("sdxl", tiny["sdxl"], ip_adapter=str(tiny["ip-adapter-sdxl"]),
                                     ip_adapter_scale=0.9))
    other_adapter = tmp_path / "other-ip"
    from reelforge.backends.tiny import make_tiny

    make_tiny(other_adapter, "ip-adapter-sdxl", seed=1)
    (other,) = jobs_of(model_spec("sdxl", tiny["sdxl"], ip_adapter=str(other_adapter)))
    keys = [job.key, ip_job.key, stronger.key, other.key,
            with_lora(job, tiny["lora-sdxl"], 1.0).key, with_lora(job, tiny["lora-sdxl"], 0.5).key,
            with_lora(job, tiny["lora-sdxl-2"], 1.0).key,
            with_lora(job, tiny["lora-sdxl"], 1.0, source="character:mara").key,
            with_images(ip_job, images["red"]).key, with_images(ip_job, images["blue"]).key]
    assert len(set(keys)) == len(keys)
    moved = tmp_path / "moved.safetensors"
    shutil.copy(tiny["lora-sdxl"], moved)
    assert with_lora(job, moved).key == with_lora(job, tiny["lora-sdxl"]).key  # content, not path


def test_the_render_command_applies_a_character_lora_and_ip_adapter_from_the_spec(tiny, images, tmp_path):
    """Through the planner, engine and CLI: the character's LoRA and image come from the spec and are keyed."""
    spec = model_spec("sdxl", tiny["sdxl"], ip_adapter=str(tiny["ip-adapter-sdxl"]))
    spec["characters"][0]["lora"] = {"path": str(tiny["lora-sdxl"]), "weight": 0.7}
    spec["characters"][0]["ip_adapter_image"] = str(images["red"])
    path = write_spec(tmp_path / "show", spec)
    run_cli("render", str(path), "--device", "cpu", "--threads", "2")
    (manifest,) = (path.parent / ".reelforge" / "jobs").rglob("manifest.json")
    data = json.loads(manifest.read_text())
    member = data["job"]["cast"][0]
    assert member["lora"] == {"sha256": checkpoint_sha256(tiny["lora-sdxl"]), "weight": 0.7,
                              "source": "character:mara"}
    assert member["ip_adapter_image_sha256"] == file_sha256(images["red"])
    assert data["job"]["model"]["ip_adapter_sha256"] == checkpoint_sha256(tiny["ip-adapter-sdxl"])
    (planned,) = jobs_of(json.loads(path.read_text()), base=path.parent)
    assert ShotJob.model_validate(data["job"]).key == planned.key
    assert len(data["frames"]) == 2 and len(set(data["frames"])) == 2


def test_make_tiny_writes_adapters_and_refuses_a_lora_without_a_file_name(tmp_path):
    from reelforge.backends.adapters import check_ip_adapter_folder
    from reelforge.backends.tiny import build_tiny_lora, make_tiny

    result = run_cli("models", "make-tiny", str(tmp_path / "style"), "--kind", "lora-sdxl", check=False)
    assert result.returncode == 2 and ".safetensors" in result.stderr
    lora = make_tiny(tmp_path / "style.safetensors", "lora-sdxl")
    from safetensors import safe_open

    with safe_open(str(lora), framework="pt") as weights:
        assert sorted(weights.keys()) == sorted(build_tiny_lora("lora-sdxl"))
    with pytest.raises(FileExistsError):
        make_tiny(lora, "lora-sdxl")
    folder = make_tiny(tmp_path / "ip", "ip-adapter-sdxl")
    assert check_ip_adapter_folder(folder) == folder / "ip-adapter.safetensors"
    assert (folder / "image_encoder" / "preprocessor_config.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind
    import os

    umask = os.umask(0o022)
    os.umask(umask)  # others on a shared production folder can read them, as the umask allows
    assert (folder.stat().st_mode & 0o777, lora.stat().st_mode & 0o777) == (0o777 & ~umask, 0o666 & ~umask)
