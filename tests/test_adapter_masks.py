"""Each character's IP-Adapter image conditions only that character's pixels (tiny random-weight models).

A two-character shot (harbor-lights s01e01/sc01/sh02, Mara and Theo) and a one-character shot
(sh01, Mara) at 128×128 on the tiny SDXL and AnimateDiff checkpoints and IP-Adapters. What is
asserted is the conditioning path, not generated pixels: the masks the pipeline is handed, and
the output of the UNet's first IP-Adapter attention layer at the first step. Nothing before
that layer depends on the images, so its input is the same in every run here, and a difference
in its output is the difference in the image-attention term.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
from conftest import small_spec

from reelforge.backends.diffusion import native_job, pil_to_array
from reelforge.backends.models import resolve_model
from reelforge.backends.runtime import Runtime, deterministic_torch
from reelforge.plan.jobs import ShotJob, plan
from reelforge.previz.passes import character_masks
from reelforge.spec.model import Production

SIZE = 128


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict:
    from reelforge.backends.tiny import make_tiny

    root = tmp_path_factory.mktemp("mask-models")
    return {kind: make_tiny(root / kind, kind)
            for kind in ("sdxl", "ip-adapter-sdxl", "animatediff", "ip-adapter-animatediff")}


@pytest.fixture(autouse=True)
def _hash_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("REELFORGE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def backends():
    """One backend object per name for the module (each loads its pipeline once)."""
    from reelforge.backends.registry import get_backend

    made = {}
    return lambda name: made.setdefault(name, get_backend(name))


def shot_job(backend: str, tiny, base, shot: str = "sh02", images: dict | None = None,
             scales: dict | None = None, camera: dict | None = None, **model) -> ShotJob:
    """The planned job of s01e01/sc01/<shot> (2 frames, 128×128), characters given IP-Adapter images and scales."""
    spec = small_spec(frames=2)
    episode = spec["episodes"][0]
    scene = episode["scenes"][0]
    scene["shots"] = [s for s in scene["shots"] if s["id"] == shot]
    if camera is not None:
        scene["shots"][0]["camera"] = camera
    episode["scenes"] = [scene]
    for character in spec["characters"]:
        if (images or {}).get(character["id"]) is not None:
            character["ip_adapter_image"] = str(images[character["id"]])
        if (scales or {}).get(character["id"]) is not None:
            character["ip_adapter_scale"] = scales[character["id"]]
    spec["backend"] = backend
    spec["model"] = {"checkpoint": str(tiny[backend]), "ip_adapter": str(tiny[f"ip-adapter-{backend}"]), "steps": 2,
                     "width": SIZE, "height": SIZE, **model}
    if backend != "sdxl":
        spec["model"]["clip_frames"] = 2
    production = Production.model_validate(spec)
    (job,) = [j for e in plan(production, base, resolve_model(production, Runtime("cpu", 2), base)) for j in e.jobs]
    return job


class Recorder:
    """The pipeline inputs of each call, and what the first IP-Adapter attention layer got and gave in it."""

    def __init__(self, monkeypatch, backend) -> None:
        from reelforge.backends import clips, sdxl

        self.calls: list[dict] = []
        self.handles: list = []
        module = sdxl if backend.name == "sdxl" else clips
        original = module.call_pipeline

        def record(pipeline, job, inputs):
            self.calls.append({"inputs": inputs, "layer": []})
            if not self.handles:
                self._hook(pipeline)
            return original(pipeline, job, inputs)

        monkeypatch.setattr(module, "call_pipeline", record)

    def _hook(self, pipeline) -> None:
        from diffusers.models.attention_processor import IPAdapterAttnProcessor2_0

        first = next(m for _, m in pipeline.unet.named_modules()
                     if isinstance(getattr(m, "processor", None), IPAdapterAttnProcessor2_0))

        def hook(module, args, kwargs, output):
            self.calls[-1]["layer"].append({"input": args[0].detach().clone(), "output": output.detach().clone(),
                                            "masks": kwargs.get("ip_adapter_masks"),
                                            "scale": list(module.processor.scale)})

        self.handles.append(first.register_forward_hook(hook, with_kwargs=True))

    @property
    def last(self) -> dict:
        return self.calls[-1]

    def first_layer(self, call: int = -1) -> dict:
        return self.calls[call]["layer"][0]  # the first step's call of the first IP-Adapter layer


@pytest.fixture
def recording(monkeypatch):
    """recording(backend) → a Recorder on that backend's calls; its hooks are removed after the test."""
    made = []
    yield lambda backend: made.append(Recorder(monkeypatch, backend)) or made[-1]
    for each in made:
        for handle in each.handles:
            handle.remove()


def render(backend, job: ShotJob) -> np.ndarray:
    """Frame 1 at native size (SDXL alone; AnimateDiff in its window [0, 2)); all frames of the call."""
    if backend.name == "sdxl":
        return backend.native_frame(job, 1)[None]
    return np.stack(backend.native_window(job, 0, 2))


def frames_of(backend) -> list[int]:
    return [1] if backend.name == "sdxl" else [0, 1]


def token_change(a: dict, b: dict, frames: int) -> np.ndarray:
    """(frames, rows, columns) largest change of the first IP-Adapter layer's output per token, positive half."""
    assert np.array_equal(a["input"].numpy(), b["input"].numpy())  # the same input: only the image term differs
    diff = (a["output"] - b["output"]).abs().amax(dim=-1).numpy()[-frames:]  # guidance: (negative, positive)
    side = int(round((diff.shape[1]) ** 0.5))
    return diff.reshape(frames, side, side)


def cells(mask: np.ndarray, side: int, how) -> np.ndarray:
    """A pixel mask reduced to the layer's token grid: `how` (np.any / np.all) over each token's pixels."""
    block = mask.shape[0] // side
    return how(mask.reshape(side, block, side, block), axis=(1, 3))


def near(mask: np.ndarray, side: int) -> np.ndarray:
    """Tokens a character's image may reach: diffusers scales masks to a layer bicubically, whose taps reach
    one pixel beyond a token's own pixels at the finest layer here (2 pixels a token)."""
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return cells(grown, side, np.any)


# ----------------------------------------------------------------------------- masks in, per frame


@pytest.mark.parametrize("name", ["sdxl", "animatediff"])
def test_the_masks_passed_are_each_characters_previz_mask_per_frame(name, tiny, images, backends, tmp_path,
                                                                    recording):
    """A dolly: the characters move across the frame, so each frame's masks differ; each row is its frame's."""
    backend = backends(name)
    job = shot_job(name, tiny, tmp_path, images={"mara": images["red"], "theo": images["blue"]},
                   camera={"move": "dolly", "travel_m": 1.2, "easing": "linear"})
    recorder = recording(backend)
    render(backend, job)
    inputs = recorder.last["inputs"]
    (masks,) = inputs["cross_attention_kwargs"]["ip_adapter_masks"]  # one adapter
    frames = frames_of(backend)
    assert tuple(masks.shape) == (2 * len(frames), 2, SIZE, SIZE)  # guidance × frames, one channel per image
    assert inputs["ip_adapter_image_embeds"][0].shape[:2] == (2, 2)
    expected = [character_masks(native_job(job), index) for index in frames]
    for row in range(masks.shape[0]):
        for channel, character in enumerate(("mara", "theo")):
            previz = expected[row % len(frames)][character]
            assert previz.any() and np.array_equal(masks[row, channel].numpy(), previz.astype(np.float32))
    if name == "animatediff":
        assert not np.array_equal(expected[0]["mara"], expected[1]["mara"])  # per frame, not one union
    layer = recorder.first_layer()
    assert layer["masks"][0] is masks  # what diffusers' IP-Adapter attention itself receives
    assert layer["scale"] == [[0.6, 0.6]]  # one scale per image: the model's default for both


@pytest.mark.parametrize("name", ["sdxl", "animatediff"])
@pytest.mark.parametrize("theo", ["blue", None])
def test_changing_one_characters_image_changes_the_image_attention_only_inside_their_mask(
        name, theo, tiny, images, backends, tmp_path, recording):
    """Mara's image red → green: the first IP-Adapter layer's output changes on Mara's tokens only, in every
    frame of the call (Theo's, the set's and the sky's are bit for bit the same) — Theo with or without an image."""
    backend = backends(name)
    recorder = recording(backend)
    theo_image = images[theo] if theo else None
    camera = {"move": "dolly", "travel_m": 1.2, "easing": "linear"}
    red = shot_job(name, tiny, tmp_path / "a", images={"mara": images["red"], "theo": theo_image}, camera=camera)
    green = shot_job(name, tiny, tmp_path / "b", images={"mara": images["green"], "theo": theo_image}, camera=camera)
    render(backend, red)
    render(backend, green)
    frames = frames_of(backend)
    change = token_change(recorder.first_layer(0), recorder.first_layer(1), len(frames))
    side = change.shape[1]
    for k, index in enumerate(frames):
        masks = character_masks(native_job(red), index)
        mara, theo_mask = masks["mara"], masks["theo"]
        assert np.all(change[k][~near(mara, side)] == 0)
        assert np.all(change[k][cells(theo_mask, side, np.any) & ~near(mara, side)] == 0) and theo_mask.any()
        inside = cells(mara, side, np.all)
        assert inside.sum() >= 4 and np.all(change[k][inside] > 0)


def test_a_character_out_of_frame_gets_no_image_there(tiny, images, backends, tmp_path, recording):
    """A long dolly takes Mara out of frame 1: her mask there is empty, so her image changes nothing in it."""
    backend = backends("animatediff")
    recorder = recording(backend)
    camera = {"move": "dolly", "travel_m": 4.0, "easing": "linear"}
    jobs = [shot_job("animatediff", tiny, tmp_path / c, images={"mara": images[c], "theo": images["blue"]},
                     camera=camera) for c in ("red", "green")]
    assert not character_masks(native_job(jobs[0]), 1)["mara"].any()
    assert character_masks(native_job(jobs[0]), 0)["mara"].any()
    for job in jobs:
        render(backend, job)
    change = token_change(recorder.first_layer(0), recorder.first_layer(1), 2)
    assert change[0].max() > 0 and change[1].max() == 0


# ----------------------------------------------------------------------------- scales


def test_a_characters_own_scale_reaches_the_attention_and_the_key(tiny, images, backends, tmp_path, recording):
    backend = backends("sdxl")
    recorder = recording(backend)
    pair = {"mara": images["red"], "theo": images["blue"]}
    default = shot_job("sdxl", tiny, tmp_path, images=pair, ip_adapter_scale=0.7)
    scaled = shot_job("sdxl", tiny, tmp_path, images=pair, scales={"mara": 0.25}, ip_adapter_scale=0.7)
    assert [m.ip_adapter_scale for m in default.cast] == [None, None]
    assert [m.ip_adapter_scale for m in scaled.cast] == [0.25, None]
    assert scaled.key != default.key
    render(backend, default)
    assert recorder.first_layer()["scale"] == [[0.7, 0.7]]
    render(backend, scaled)
    assert recorder.first_layer()["scale"] == [[0.25, 0.7]]
    # Mara at 0: her image drops out of the conditioning (any image of hers gives the same layer output).
    off = [shot_job("sdxl", tiny, tmp_path / c, images={"mara": images[c], "theo": images["blue"]},
                    scales={"mara": 0.0}) for c in ("red", "green")]
    for job in off:
        render(backend, job)
    assert np.array_equal(recorder.first_layer(-2)["output"].numpy(), recorder.first_layer(-1)["output"].numpy())
    assert not np.array_equal(recorder.first_layer(-1)["output"].numpy(), recorder.first_layer(0)["output"].numpy())


def test_a_scale_out_of_range_is_refused_with_its_path():
    from pydantic import ValidationError

    spec = small_spec(frames=2)
    spec["characters"][1]["ip_adapter_scale"] = 2.5
    with pytest.raises(ValidationError) as error:
        Production.model_validate(spec)
    assert any(e["loc"] == ("characters", 1, "ip_adapter_scale") for e in error.value.errors())


# ----------------------------------------------------------------------------- one character: as before


def old_inputs(pipeline, job: ShotJob, image_path) -> dict:
    """The IP-Adapter inputs before masks existed: the image's embeddings, the model's scale, no masks."""
    from PIL import Image

    from reelforge.backends.adapters import classifier_free_guidance

    with Image.open(image_path) as image:
        image = image.convert("RGB")
    (embeds,) = pipeline.prepare_ip_adapter_image_embeds(
        ip_adapter_image=[image], ip_adapter_image_embeds=None, device=pipeline._execution_device,
        num_images_per_prompt=1, do_classifier_free_guidance=classifier_free_guidance(pipeline, job))
    pipeline.set_ip_adapter_scale(job.model.ip_adapter_scale)
    return {"ip_adapter_image_embeds": [embeds]}


def test_a_one_character_shot_renders_exactly_as_before(tiny, images, backends, tmp_path, recording):
    """sh01 casts Mara alone: no masks, the model's scale, and the bytes of a bare pipeline call given the
    inputs of before; two-character renders in between leave nothing behind (masks, per-image scales)."""
    from reelforge.backends.sdxl import pipeline_inputs

    backend = backends("sdxl")
    recorder = recording(backend)
    alone = shot_job("sdxl", tiny, tmp_path, shot="sh01", images={"mara": images["red"]}, ip_adapter_scale=0.8)
    pair = shot_job("sdxl", tiny, tmp_path, images={"mara": images["red"], "theo": images["blue"]},
                    scales={"theo": 1.5})
    assert [m.character_id for m in alone.cast] == ["mara"]
    first = backend.native_frame(alone, 1)
    inputs = recorder.last["inputs"]
    assert "cross_attention_kwargs" not in inputs and recorder.first_layer()["masks"] is None
    assert recorder.first_layer()["scale"] == [0.8]
    paired = backend.native_frame(pair, 1)
    assert np.array_equal(backend.native_frame(alone, 1), first)
    assert np.array_equal(backend.native_frame(pair, 1), paired)  # deterministic, whatever ran before
    pipeline = backend.pipeline(alone)
    with deterministic_torch(Runtime(alone.model.device, alone.model.threads)):
        bare = pipeline(**pipeline_inputs(alone, 1), **old_inputs(pipeline, alone, images["red"])).images[0]
    assert hashlib.sha256(pil_to_array(bare).tobytes()).digest() == hashlib.sha256(first.tobytes()).digest()


def test_animatediff_one_character_takes_no_masks(tiny, images, backends, tmp_path, recording):
    backend = backends("animatediff")
    recorder = recording(backend)
    alone = shot_job("animatediff", tiny, tmp_path, shot="sh01", images={"mara": images["red"]})
    render(backend, alone)
    assert "cross_attention_kwargs" not in recorder.last["inputs"] and recorder.first_layer()["scale"] == [0.6]
