"""Generative backends on tiny random-weight checkpoints: determinism, loading, keys, errors.

Every checkpoint here is built offline by `reelforge models make-tiny` (or its
function) and loaded through the same `from_pretrained` path a studio's real
checkpoint takes. Nothing is fetched from a model hub.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli, shorten, small_spec, stream_sha, write_spec

from reelforge.backends.checkpoints import CheckpointError, checkpoint_sha256
from reelforge.backends.models import resolve_model
from reelforge.backends.runtime import Runtime
from reelforge.plan.jobs import ShotJob, plan
from reelforge.spec.model import Production

BACKENDS = ("sdxl", "animatediff", "animatediff-sdxl", "wan")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """One tiny checkpoint of each kind for the whole session (kind → folder)."""
    from reelforge.backends.tiny import make_tiny

    root = tmp_path_factory.mktemp("checkpoints")
    return {kind: make_tiny(root / kind, kind) for kind in BACKENDS + ("controlnet-sdxl",)}


@pytest.fixture(autouse=True)
def _hash_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("REELFORGE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def model_spec(backend: str, checkpoint: Path, frames: int = 3, **model) -> dict:
    """One shot of `frames` frames rendered by `backend` at a tiny native size."""
    spec = small_spec()
    episode = spec["episodes"][0]
    episode["scenes"] = episode["scenes"][:1]
    episode["scenes"][0]["shots"] = episode["scenes"][0]["shots"][:1]
    shorten(episode["scenes"][0]["shots"][0], frames)
    spec["backend"] = backend
    spec["model"] = {"checkpoint": str(checkpoint), "steps": 2, "width": 64, "height": 64, **model}
    if backend != "sdxl":
        spec["model"].setdefault("clip_frames", 2)  # two windows in three frames
    return spec


def first_job(spec: dict, threads: int = 2, base: Path = Path(".")) -> ShotJob:
    production = Production.model_validate(spec)
    model = resolve_model(production, Runtime("cpu", threads), base)
    return plan(production, base, model)[0].jobs[0]


def frame_hashes(spec_path: Path) -> dict[str, list[str]]:
    found = {}
    for manifest in (spec_path.parent / ".reelforge" / "jobs").rglob("manifest.json"):
        data = json.loads(manifest.read_text())
        found[data["job"]["shot_path"]] = data["frames"]
    return found


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_processes_render_identical_frames_and_video(backend, tiny, tmp_path):
    a = write_spec(tmp_path / "a", model_spec(backend, tiny[backend]))
    b = write_spec(tmp_path / "b", model_spec(backend, tiny[backend]))
    run_cli("render", str(a), "--device", "cpu", "--threads", "2")
    run_cli("render", str(b), "--device", "cpu", "--threads", "2")
    assert frame_hashes(a) == frame_hashes(b)
    hashes = frame_hashes(a)["s01e01/sc01/sh01"]
    assert len(hashes) == 3 and len(set(hashes)) == 3  # three different frames, not one repeated
    assert stream_sha(a.parent / "renders" / "s01e01.mp4") == stream_sha(b.parent / "renders" / "s01e01.mp4")


def bare_pipeline(cls, pipeline):
    """`cls` (e.g. the img2img or video-to-video variant) over an in-memory pipeline's components."""
    import inspect

    accepted = inspect.signature(cls.__init__).parameters
    return cls(**{name: c for name, c in pipeline.components.items() if name in accepted})


def _bare_output(backend: str, pipeline, job: ShotJob) -> np.ndarray:
    """Frame 1 of the job straight from a diffusers pipeline, given the backend's inputs."""
    import torch

    from reelforge.backends import clips, sdxl
    from reelforge.backends.diffusion import pil_to_array

    torch.set_num_threads(job.model.threads)
    pipeline.set_progress_bar_config(disable=True)
    with torch.inference_mode():
        if backend == "sdxl":
            return pil_to_array(pipeline(**sdxl.pipeline_inputs(job, 1)).images[0])
        backend_object = {"animatediff": clips.AnimateDiffBackend, "animatediff-sdxl": clips.AnimateDiffSdxlBackend,
                          "wan": clips.WanBackend}[backend]()
        return pil_to_array(pipeline(**backend_object.pipeline_inputs(job, 0, 2)).frames[0][1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_loaded_checkpoint_renders_like_the_in_memory_model_and_the_bare_pipeline(backend, tiny, tmp_path):
    """reelforge (loading from disk) == a bare diffusers pipeline over the in-memory model it was saved from."""
    from reelforge.backends.registry import get_backend
    from reelforge.backends.tiny import build_tiny

    job = first_job(model_spec(backend, tiny[backend]))
    engine_backend = get_backend(backend)
    if backend == "sdxl":
        ours = engine_backend.native_frame(job, 1)
    else:
        ours = engine_backend.native_window(job, 0, 2)[1]
    in_memory = build_tiny(backend)  # same seed as the saved checkpoint: the same weights
    bare = bare_pipeline(engine_backend.pipeline_class(job), in_memory)
    assert ours.shape == (64, 64, 3)
    assert np.array_equal(_bare_output(backend, bare, job), ours)


def test_engine_frames_are_the_bare_pipeline_output_scaled_to_delivery(tiny, tmp_path):
    """With default settings and no controls the delivered frame is the pipeline's frame, only scaled."""
    from reelforge.backends import sdxl
    from reelforge.backends.diffusion import fit_to_delivery
    from reelforge.backends.tiny import build_tiny
    from reelforge.post.pipeline import finish_frame
    from reelforge.store.frames import frame_hash

    spec = write_spec(tmp_path / "show", model_spec("sdxl", tiny["sdxl"]))
    run_cli("render", str(spec), "--device", "cpu", "--threads", "2")
    job = first_job(json.loads(spec.read_text()), base=spec.parent)
    bare = bare_pipeline(sdxl.pipeline_class(job), build_tiny("sdxl"))
    # The engine's frame is the bare output scaled to the picture, then finished (graded: magic-hour).
    frame = finish_frame(job, 1, fit_to_delivery(_bare_output("sdxl", bare, job), 1920, 1080))
    assert frame_hash(frame) == frame_hashes(spec)["s01e01/sc01/sh01"][1]


@pytest.mark.parametrize("backend", ["sdxl", "wan"])
def test_frame_range_rerenders_exactly(backend, tiny, tmp_path):
    """Per-frame (SDXL) and windowed (Wan) backends re-render a range alone with the full render's bytes."""
    spec = write_spec(tmp_path / "show", model_spec(backend, tiny[backend], frames=5))
    run_cli("render", str(spec), "--device", "cpu", "--threads", "2")
    result = run_cli("render", str(spec), "--device", "cpu", "--threads", "2", "--shot", "s01e01/sc01/sh01",
                     "--frames", "3:5")
    assert "match the full render byte for byte" in result.stdout


def test_killed_clip_render_resumes_from_its_finished_windows(tiny, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    spec = model_spec("animatediff", tiny["animatediff"], frames=8)
    killed = write_spec(tmp_path / "killed", spec)
    clean = write_spec(tmp_path / "clean", spec)
    args = ["render", "--device", "cpu", "--threads", "2"]
    process = subprocess.Popen([sys.executable, "-m", "reelforge.cli", args[0], str(killed), *args[1:]],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    jobs = killed.parent / ".reelforge" / "jobs"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # wait for the first 2-frame window to be journaled
        journals = list(jobs.rglob("journal")) if jobs.exists() else []
        if journals and journals[0].read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not list(jobs.rglob("manifest.json")), "killed before the shot finished"
    run_cli(args[0], str(killed), *args[1:])
    run_cli(args[0], str(clean), *args[1:])
    assert frame_hashes(killed) == frame_hashes(clean)
    assert stream_sha(killed.parent / "renders" / "s01e01.mp4") == stream_sha(clean.parent / "renders" / "s01e01.mp4")


def test_verify_proves_a_model_render_and_names_a_changed_checkpoint(tiny, tmp_path):
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(tiny["wan"], checkpoint)
    spec = write_spec(tmp_path / "show", model_spec("wan", checkpoint))
    run_cli("render", str(spec), "--device", "cpu", "--threads", "2")
    mp4 = spec.parent / "renders" / "s01e01.mp4"
    assert "VERIFIED" in run_cli("verify", str(mp4)).stdout
    config = checkpoint / "scheduler" / "scheduler_config.json"
    config.write_text(config.read_text().replace('"flow_shift": 3.0', '"flow_shift": 5.0'))
    result = run_cli("verify", str(mp4), check=False)
    assert result.returncode == 1
    assert "checkpoint" in result.stdout and "has changed since the render" in result.stdout


def test_sdxl_single_file_renders_what_its_folder_renders(tiny, tmp_path):
    """A studio's single .safetensors (original layout) + config folder = the same weights, the same frames."""
    from reelforge.backends.registry import get_backend
    from reelforge.backends.single_file import write_sdxl_single_file
    from reelforge.backends.tiny import build_tiny

    single = write_sdxl_single_file(build_tiny("sdxl"), tmp_path / "tiny-sdxl.safetensors")
    from_folder = first_job(model_spec("sdxl", tiny["sdxl"]))
    from_file = first_job(model_spec("sdxl", single, config=str(tiny["sdxl"])))
    assert from_file.model.checkpoint_sha256 == checkpoint_sha256(single) != from_folder.model.checkpoint_sha256
    assert from_file.model.config_sha256 == checkpoint_sha256(tiny["sdxl"])
    backend = get_backend("sdxl")
    assert np.array_equal(backend.native_frame(from_file, 0), backend.native_frame(from_folder, 0))


def test_single_file_without_config_folder_is_a_clear_error(tiny, tmp_path):
    from reelforge.backends.single_file import write_sdxl_single_file
    from reelforge.backends.tiny import build_tiny

    single = write_sdxl_single_file(build_tiny("sdxl"), tmp_path / "model.safetensors")
    message = _render_error(model_spec("sdxl", single), tmp_path)
    assert "$.model.config" in message and "single file" in message


def test_depth_controlnet_conditions_sdxl_on_previz_depth(tiny, tmp_path):
    from reelforge.backends.registry import get_backend

    plain = first_job(model_spec("sdxl", tiny["sdxl"]))
    controlled = first_job(model_spec("sdxl", tiny["sdxl"], controlnet=str(tiny["controlnet-sdxl"]),
                                      controlnet_scale=1.0))
    assert controlled.key != plain.key and controlled.model.controlnet_sha256 is not None
    backend = get_backend("sdxl")
    assert not np.array_equal(backend.native_frame(controlled, 0), backend.native_frame(plain, 0))


# ----------------------------------------------------------------------------- job keys


KEY_CHANGES = {
    "prompt": lambda s: s["episodes"][0]["scenes"][0]["shots"][0].update(prompt="A different prompt"),
    "seed": lambda s: s.update(seed=s["seed"] + 1),
    "size": lambda s: s["model"].update(width=96),
    "steps": lambda s: s["model"].update(steps=3),
    "scheduler": lambda s: s["model"].update(scheduler="euler-ancestral"),
    "guidance": lambda s: s["model"].update(guidance_scale=2.0),
}


@pytest.mark.parametrize("backend", BACKENDS)
def test_job_key_changes_with_every_input_that_changes_pixels(backend, tiny, tmp_path):
    base_spec = model_spec(backend, tiny[backend])
    base = first_job(base_spec).key
    for name, change in KEY_CHANGES.items():
        spec = copy.deepcopy(base_spec)
        change(spec)
        assert first_job(spec).key != base, name
    assert first_job(base_spec, threads=1).key != base, "threads"
    more = {"dtype": {"dtype": "bfloat16"}}
    if backend != "animatediff-sdxl":  # the others condition on previz: strength and conditioning count
        more.update(strength={"strength": 0.3}, conditioning={"conditioning": "text"})
    if backend != "sdxl":
        more["clip_frames"] = {"clip_frames": 3}
    for name, fields in more.items():
        spec = copy.deepcopy(base_spec)
        spec["model"].update(fields)
        assert first_job(spec).key != base, name
    other = tmp_path / "other"
    from reelforge.backends.tiny import make_tiny

    make_tiny(other, backend, seed=1)
    assert first_job(model_spec(backend, other)).key != base, "checkpoint"


@pytest.mark.parametrize("backend", BACKENDS)
def test_job_key_ignores_what_cannot_change_pixels(backend, tiny, tmp_path):
    base_spec = model_spec(backend, tiny[backend])
    base = first_job(base_spec)
    moved = tmp_path / "moved"
    shutil.copytree(tiny[backend], moved)
    assert first_job(model_spec(backend, moved)).key == base.key  # the hash, not the path, is keyed
    retitled = copy.deepcopy(base_spec)
    retitled["episodes"][0]["title"] = "Another title"
    assert first_job(retitled).key == base.key
    assert first_job(copy.deepcopy(base_spec)).key == base.key


def test_previz_keys_do_not_depend_on_the_generative_backends_code():
    from reelforge.plan.code_hash import render_modules

    assert not any(m.endswith((".sdxl", ".clips", ".diffusion")) for m in render_modules("previz"))
    assert {"reelforge.backends.sdxl", "reelforge.backends.diffusion"} <= set(render_modules("sdxl"))


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoint_hash_is_cached_by_size_and_mtime(tiny, tmp_path, monkeypatch):
    from reelforge.store import hashing

    folder = tmp_path / "ckpt"
    shutil.copytree(tiny["wan"], folder)
    first = checkpoint_sha256(folder)
    calls = []
    original = hashing.file_sha256
    monkeypatch.setattr(hashing, "file_sha256", lambda p: calls.append(p) or original(p))
    assert checkpoint_sha256(folder) == first and calls == []  # nothing re-read
    weights = folder / "transformer" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert checkpoint_sha256(folder) != first and calls == [weights.resolve()]


def test_make_tiny_command_writes_a_checkpoint_and_refuses_a_full_folder(tmp_path):
    target = tmp_path / "tiny-wan"
    run_cli("models", "make-tiny", str(target), "--kind", "wan")
    assert (target / "model_index.json").is_file() and (target / "tokenizer").is_dir()
    again = run_cli("models", "make-tiny", str(target), "--kind", "wan", check=False)
    assert again.returncode == 2 and "not an empty folder" in again.stderr
    assert run_cli("models", "hash", str(target)).stdout.strip() == checkpoint_sha256(target)


def _render_error(spec: dict, tmp_path: Path) -> str:
    path = write_spec(tmp_path / "show", spec)
    result = run_cli("render", str(path), "--device", "cpu", "--threads", "2", check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_missing_tokenizer_vocabulary_is_named_not_replaced(tiny, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny["sdxl"], broken)
    (broken / "tokenizer_2" / "tokenizer.json").unlink()
    message = _render_error(model_spec("sdxl", broken), tmp_path)
    assert "tokenizer_2" in message and "vocabulary" in message


def test_missing_weights_are_named(tiny, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny["animatediff"], broken)
    (broken / "motion_adapter" / "diffusion_pytorch_model.safetensors").unlink()
    message = _render_error(model_spec("animatediff", broken), tmp_path)
    assert "motion_adapter" in message and "no weights" in message


def test_checkpoint_of_the_wrong_kind_is_refused(tiny, tmp_path):
    message = _render_error(model_spec("sdxl", tiny["wan"]), tmp_path)
    assert "WanPipeline" in message and "StableDiffusionXL" in message


def test_missing_checkpoint_names_the_spec_field(tmp_path):
    message = _render_error(model_spec("wan", tmp_path / "nowhere"), tmp_path)
    assert "$.model.checkpoint" in message and "nowhere" in message


def test_generative_backend_without_a_model_is_a_validation_error(tmp_path):
    spec = small_spec()
    spec["backend"] = "sdxl"
    result = run_cli("validate", str(write_spec(tmp_path / "show", spec)), check=False)
    assert result.returncode == 2 and "$.backend" in result.stderr and "checkpoint" in result.stderr


def test_cuda_device_without_a_gpu_is_a_clear_error(tiny, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    path = write_spec(tmp_path / "show", model_spec("wan", tiny["wan"]))
    result = run_cli("render", str(path), "--device", "cuda", check=False)
    assert result.returncode == 2 and "no CUDA GPU" in result.stderr and "Traceback" not in result.stderr


def test_command_line_checkpoint_overrides_the_spec(tiny, tmp_path):
    previz = small_spec()
    previz["model"] = model_spec("wan", Path("unused"))["model"]  # sampling settings, unused while previz renders
    spec = write_spec(tmp_path / "show", previz)
    run_cli("render", str(spec), "--backend", "wan", "--checkpoint", str(tiny["wan"]), "--device", "cpu",
            "--threads", "2", "--episode", "s01e01")
    jobs = [json.loads(m.read_text())["job"] for m in (spec.parent / ".reelforge" / "jobs").rglob("manifest.json")]
    assert jobs and all(j["backend"] == "wan" and j["model"]["checkpoint_sha256"] == checkpoint_sha256(tiny["wan"])
                        for j in jobs)


def test_render_records_the_torch_environment(tiny, tmp_path):
    import sqlite3

    path = write_spec(tmp_path / "show", model_spec("wan", tiny["wan"]))
    run_cli("render", str(path), "--device", "cpu", "--threads", "1")
    with sqlite3.connect(path.parent / ".reelforge" / "catalog.sqlite") as db:
        environment = json.loads(db.execute("SELECT environment_json FROM renders").fetchone()[0])
        job = json.loads(db.execute("SELECT job_json FROM jobs").fetchone()[0])
    assert environment["torch"]["threads"] == 1 and environment["torch"]["deterministic"] is True
    assert environment["packages"]["diffusers"] == "0.42.1"
    assert job["model"]["threads"] == 1 and job["model"]["device"] == "cpu"
    with sqlite3.connect(path.parent / ".reelforge" / "catalog.sqlite") as db:
        device, kwh = db.execute("SELECT device, kwh_total FROM render_energy").fetchone()
    assert device == "cpu" and kwh > 0
    report = run_cli("energy", str(path), "--json")
    assert "estimated" in report.stdout


def test_a_size_the_model_cannot_take_is_a_clear_error(tiny, tmp_path):
    message = _render_error(model_spec("wan", tiny["wan"], width=1024, height=576), tmp_path)
    assert "1024×576" in message and "$.model.width" in message and "s01e01/sc01/sh01" in message


def test_checkpoint_error_for_a_file_where_a_folder_is_needed(tmp_path):
    from reelforge.backends.checkpoints import check_pipeline_folder

    file = tmp_path / "model.safetensors"
    file.write_bytes(b"x")
    with pytest.raises(CheckpointError, match="is a file"):
        check_pipeline_folder(file, ("WanPipeline",), "the wan backend")


def test_a_style_familys_guidance_hint_applies_only_where_the_model_leaves_it_unset(tiny):
    spec = model_spec("sdxl", tiny["sdxl"])
    spec["style"] = {"preset": "pen-and-ink"}  # its family hints guidance_scale 7.5; the sdxl default is 5.0
    assert first_job(spec).model.guidance_scale == 7.5
    spec["model"]["guidance_scale"] = 3.0  # the spec's own value always wins
    assert first_job(spec).model.guidance_scale == 3.0
    spec["style"] = {"preset": "gray-box"}  # no hint: the backend's default
    del spec["model"]["guidance_scale"]
    assert first_job(spec).model.guidance_scale == 5.0
