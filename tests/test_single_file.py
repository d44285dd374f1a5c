"""Single-file SDXL checkpoints (original Stability layout): written offline, loaded back by diffusers exactly."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from reelforge.backends.checkpoints import CheckpointError  # noqa: E402
from reelforge.backends.single_file import load_sdxl_single_file, write_sdxl_single_file  # noqa: E402
from reelforge.backends.tiny import build_tiny, make_tiny  # noqa: E402

COMPONENTS = ("unet", "vae", "text_encoder", "text_encoder_2")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread is many times faster than two on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, one_thread):
    """The in-memory tiny SDXL, its diffusers folder (configs + tokenizers) and its single file."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        root = tmp_path_factory.mktemp("single-file")
        pipe = build_tiny("sdxl")
        folder = make_tiny(root / "tiny-sdxl", "sdxl")
        path = write_sdxl_single_file(pipe, root / "tiny-sdxl.safetensors")
        yield pipe, folder, path


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _img2img():
    from diffusers import StableDiffusionXLImg2ImgPipeline

    return StableDiffusionXLImg2ImgPipeline


def test_file_has_the_original_layout(tiny):
    from safetensors import safe_open

    pipe, _, path = tiny
    with safe_open(str(path), framework="pt") as handle:
        keys = set(handle.keys())
        attn_q = handle.get_tensor("first_stage_model.encoder.mid.attn_1.q.weight")
        in_proj = handle.get_tensor("conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight")
        projection = handle.get_tensor("conditioner.embedders.1.model.text_projection")
    assert {"model.diffusion_model.input_blocks.0.0.weight", "model.diffusion_model.output_blocks.2.2.conv.weight",
            "model.diffusion_model.middle_block.1.proj_in.weight", "model.diffusion_model.label_emb.0.0.weight",
            "first_stage_model.decoder.up.1.upsample.conv.weight",
            "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight",
            "conditioner.embedders.1.model.positional_embedding"} <= keys
    assert not any(k.startswith(("unet.", "vae.", "text_encoder")) for k in keys)
    assert not any("q_proj" in k for k in keys if k.startswith("conditioner.embedders.1."))
    assert attn_q.ndim == 4 and attn_q.shape[2:] == (1, 1)  # SGM's 1×1 conv, diffusers' Linear
    layer = pipe.text_encoder_2.text_model.encoder.layers[0].self_attn
    assert torch.equal(in_proj, torch.cat([layer.q_proj.weight, layer.k_proj.weight, layer.v_proj.weight]))
    assert torch.equal(projection, pipe.text_encoder_2.text_projection.weight.T)


def test_round_trip_is_exact(tiny):
    from PIL import Image

    pipe, folder, path = tiny
    loaded = load_sdxl_single_file(_img2img(), path, folder)
    for name in COMPONENTS:
        original = dict(getattr(pipe, name).named_parameters())
        back = dict(getattr(loaded, name).named_parameters())
        assert back.keys() == original.keys(), name
        different = [k for k, v in original.items() if not torch.equal(v, back[k])]
        assert not different, f"{name}: {different[:5]}"

    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (56, 96, 3), dtype=np.uint8))
    reference = _img2img()(**pipe.components, add_watermarker=False)

    def render(p):
        p.set_progress_bar_config(disable=True)
        return p(prompt="slow push in on the harbor light", image=image, num_inference_steps=4, strength=0.5,
                 output_type="np", generator=torch.Generator("cpu").manual_seed(7)).images

    expected, got = render(reference), render(loaded)
    assert expected.shape == (1, 56, 96, 3) and np.isfinite(expected).all()
    assert got.tobytes() == expected.tobytes()


def test_missing_file_names_it(tiny, tmp_path):
    _, folder, _ = tiny
    missing = tmp_path / "studio-sdxl.safetensors"
    with pytest.raises(CheckpointError, match="studio-sdxl.safetensors"):
        load_sdxl_single_file(_img2img(), missing, folder)


def test_not_safetensors(tiny, tmp_path):
    _, folder, path = tiny
    ckpt = tmp_path / "studio-sdxl.ckpt"
    shutil.copy(path, ckpt)
    with pytest.raises(CheckpointError, match=r"studio-sdxl\.ckpt.*safetensors"):
        load_sdxl_single_file(_img2img(), ckpt, folder)


def test_config_folder_missing_or_not_a_pipeline(tiny, tmp_path):
    _, folder, path = tiny
    with pytest.raises(CheckpointError, match="no-such-folder"):
        load_sdxl_single_file(_img2img(), path, tmp_path / "no-such-folder")
    bare = tmp_path / "bare"
    shutil.copytree(folder, bare)
    (bare / "model_index.json").unlink()
    with pytest.raises(CheckpointError, match="model_index.json"):
        load_sdxl_single_file(_img2img(), path, bare)


def test_wrong_layout_says_what_was_expected(tiny, tmp_path):
    from safetensors.torch import save_file

    _, folder, _ = tiny
    sd15 = tmp_path / "sd15-style.safetensors"  # SD 1.x layout: cond_stage_model, no conditioner
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(32, 4, 3, 3),
               "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight": torch.zeros(77, 32)},
              str(sd15))
    with pytest.raises(CheckpointError, match=r"sd15-style\.safetensors: expected an SDXL"):
        load_sdxl_single_file(_img2img(), sd15, folder)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="garbage.safetensors"):
        load_sdxl_single_file(_img2img(), garbage, folder)


def test_architecture_mismatch_is_a_checkpoint_error(tiny, tmp_path):
    _, folder, path = tiny
    other = tmp_path / "wider"
    shutil.copytree(folder, other)
    config = json.loads((other / "unet" / "config.json").read_text())
    config["block_out_channels"] = [16, 32]
    (other / "unet" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"tiny-sdxl\.safetensors.*expected|expected.*tiny-sdxl\.safetensors"):
        load_sdxl_single_file(_img2img(), path, other)
