"""SDXL checkpoints as ONE `.safetensors` file in the original Stability (SGM) layout.

Studios often hold their SDXL fine-tunes as the single files that civitai-style sites
publish: keys `model.diffusion_model.*` (UNet), `first_stage_model.*` (VAE),
`conditioner.embedders.0.transformer.text_model.*` (CLIP-L, Hugging Face layout) and
`conditioner.embedders.1.model.*` (OpenCLIP-G layout). diffusers converts those to its
own layout in `from_single_file`; `load_sdxl_single_file` drives that loader strictly
offline (the component configs and tokenizers come from a local diffusers folder of
the same architecture) and turns its failures into `CheckpointError`s naming the file.

`write_sdxl_single_file` is the inverse, diffusers → original. It is hand-written
because diffusers ships only the original → diffusers direction
(`diffusers.loaders.single_file_utils`); the inverse tables live in diffusers' repo
script `scripts/convert_diffusers_to_original_sdxl.py`, which is not part of the
installed package and hard-codes the full-size SDXL block counts. Tests need a
single-file checkpoint built offline from the tiny random-weight SDXL of
`reelforge.backends.tiny`, so the mapping below is derived from the UNet/VAE configs
(any number of blocks and layers per block) rather than hard-coded.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path

from safetensors import safe_open

from reelforge.backends.checkpoints import CheckpointError

# torch, diffusers, transformers and peft are imported inside the functions that use them: they take
# seconds to import, and planning, file checks and previz renders never need them.

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
CLIP_L_PREFIX = "conditioner.embedders.0.transformer."
OPEN_CLIP_PREFIX = "conditioner.embedders.1.model."
# One key of each part that every SDXL base file has (keys without layer numbers, so tiny ones match too).
REQUIRED_KEYS = {
    "UNet": UNET_PREFIX + "input_blocks.0.0.weight",
    "VAE": VAE_PREFIX + "decoder.conv_in.weight",
    "CLIP-L text encoder": CLIP_L_PREFIX + "text_model.embeddings.position_embedding.weight",
    "OpenCLIP-G text encoder": OPEN_CLIP_PREFIX + "positional_embedding",
}
EXPECTED = ("an SDXL base checkpoint in the original Stability layout (model.diffusion_model.*, "
            "first_stage_model.*, conditioner.embedders.0.transformer.*, conditioner.embedders.1.model.*)")

# ---------------------------------------------------------------------------------------------
# diffusers → original (SGM) key mapping
# ---------------------------------------------------------------------------------------------

_UNET_TOP = {  # (diffusers, original)
    "time_embedding.linear_1.": "time_embed.0.",
    "time_embedding.linear_2.": "time_embed.2.",
    "add_embedding.linear_1.": "label_emb.0.0.",
    "add_embedding.linear_2.": "label_emb.0.2.",
    "conv_in.": "input_blocks.0.0.",
    "conv_norm_out.": "out.0.",
    "conv_out.": "out.2.",
}
_UNET_RESNET = {  # inside a resnet: (diffusers, original)
    "norm1.": "in_layers.0.",
    "conv1.": "in_layers.2.",
    "norm2.": "out_layers.0.",
    "conv2.": "out_layers.3.",
    "time_emb_proj.": "emb_layers.1.",
    "conv_shortcut.": "skip_connection.",
}
_VAE_ATTENTION = {  # inside the mid-block attention: (diffusers, original)
    "group_norm.": "norm.",
    "to_q.": "q.",
    "to_k.": "k.",
    "to_v.": "v.",
    "to_out.0.": "proj_out.",
}
_OPEN_CLIP_LAYER = {  # inside one encoder layer: (diffusers, original)
    "self_attn.out_proj.": "attn.out_proj.",
    "layer_norm1.": "ln_1.",
    "layer_norm2.": "ln_2.",
    "mlp.fc1.": "mlp.c_fc.",
    "mlp.fc2.": "mlp.c_proj.",
}
_OPEN_CLIP_TOP = {
    "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
    "text_model.embeddings.position_embedding.weight": "positional_embedding",
    "text_model.final_layer_norm.weight": "ln_final.weight",
    "text_model.final_layer_norm.bias": "ln_final.bias",
}


def _rename(rest: str, table: dict[str, str], key: str) -> str:
    for old, new in table.items():
        if rest.startswith(old):
            return new + rest[len(old):]
    raise ValueError(f"no original-layout name for diffusers key '{key}'")


def _unet_key(key: str, layers_per_block: int, up_attention_blocks: set[int]) -> str:
    """The SGM name of one diffusers UNet2DConditionModel key.

    SGM numbers blocks flatly: input_blocks.0 is conv_in, then each down block has
    `layers_per_block` (resnet[, attention]) entries and, except the last, a downsampler
    entry; output_blocks hold `layers_per_block + 1` entries per up block, the upsampler
    sitting next to the last one (at .1 without attention, .2 with).
    """
    per = layers_per_block + 1
    for old, new in _UNET_TOP.items():
        if key.startswith(old):
            return new + key[len(old):]
    if m := re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        i, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        index = 1 + i * per + j
        if kind == "resnets":
            return f"input_blocks.{index}.0.{_rename(rest, _UNET_RESNET, key)}"
        return f"input_blocks.{index}.1.{rest}"
    if m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
        return f"input_blocks.{(int(m[1]) + 1) * per}.0.op.{m[2]}"
    if m := re.match(r"mid_block\.resnets\.(\d+)\.(.*)", key):
        return f"middle_block.{2 * int(m[1])}.{_rename(m[2], _UNET_RESNET, key)}"
    if m := re.match(r"mid_block\.attentions\.0\.(.*)", key):
        return f"middle_block.1.{m[1]}"
    if m := re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        i, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        index = i * per + j
        if kind == "resnets":
            return f"output_blocks.{index}.0.{_rename(rest, _UNET_RESNET, key)}"
        return f"output_blocks.{index}.1.{rest}"
    if m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
        i = int(m[1])
        slot = 2 if i in up_attention_blocks else 1
        return f"output_blocks.{i * per + layers_per_block}.{slot}.conv.{m[2]}"
    raise ValueError(f"no original-layout name for diffusers UNet key '{key}'")


def unet_to_original(state_dict: dict, config) -> dict:
    layers = config["layers_per_block"]
    if not isinstance(layers, int):
        raise ValueError(f"layers_per_block={layers!r}: only one value for every block has an original layout")
    up_attention = {int(k.split(".")[1]) for k in state_dict if k.startswith("up_blocks.") and ".attentions." in k}
    return {UNET_PREFIX + _unet_key(k, layers, up_attention): v for k, v in state_dict.items()}


def _vae_key(key: str, num_blocks: int) -> tuple[str, bool]:
    """(SGM name, whether it is a mid-block attention linear weight that SGM stores as a 1×1 conv)."""
    side, _, rest = key.partition(".")
    if side in ("quant_conv", "post_quant_conv"):
        return key, False
    if side not in ("encoder", "decoder"):
        raise ValueError(f"no original-layout name for diffusers VAE key '{key}'")
    if rest.startswith("conv_norm_out."):
        return f"{side}.norm_out.{rest[len('conv_norm_out.'):]}", False
    if rest.startswith(("conv_in.", "conv_out.")):
        return key, False
    resnet = r"resnets\.(\d+)\.(.*)"
    if m := re.match(r"down_blocks\.(\d+)\." + resnet, rest):
        return f"{side}.down.{m[1]}.block.{m[2]}.{m[3].replace('conv_shortcut.', 'nin_shortcut.')}", False
    if m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", rest):
        return f"{side}.down.{m[1]}.downsample.conv.{m[2]}", False
    # diffusers numbers decoder up blocks from the lowest resolution; SGM from the highest.
    if m := re.match(r"up_blocks\.(\d+)\." + resnet, rest):
        level = num_blocks - 1 - int(m[1])
        return f"{side}.up.{level}.block.{m[2]}.{m[3].replace('conv_shortcut.', 'nin_shortcut.')}", False
    if m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", rest):
        return f"{side}.up.{num_blocks - 1 - int(m[1])}.upsample.conv.{m[2]}", False
    if m := re.match(r"mid_block\.resnets\.(\d+)\.(.*)", rest):
        return f"{side}.mid.block_{int(m[1]) + 1}.{m[2].replace('conv_shortcut.', 'nin_shortcut.')}", False
    if m := re.match(r"mid_block\.attentions\.0\.(.*)", rest):
        renamed = _rename(m[1], _VAE_ATTENTION, key)
        return f"{side}.mid.attn_1.{renamed}", not renamed.startswith("norm.") and renamed.endswith(".weight")
    raise ValueError(f"no original-layout name for diffusers VAE key '{key}'")


def vae_to_original(state_dict: dict, config) -> dict:
    num_blocks = len(config["block_out_channels"])
    out = {}
    for key, value in state_dict.items():
        name, conv = _vae_key(key, num_blocks)
        # SGM's AttnBlock uses 1×1 Conv2d for q/k/v/proj_out; diffusers uses Linear: (out, in) → (out, in, 1, 1).
        out[VAE_PREFIX + name] = value.reshape(*value.shape, 1, 1) if conv and value.ndim == 2 else value
    return out


def clip_l_to_original(state_dict: dict) -> dict:
    """CLIP-L keeps the Hugging Face layout under `conditioner.embedders.0.transformer.text_model.`."""
    out = {}
    for key, value in state_dict.items():
        if key.endswith("position_ids"):
            continue  # a buffer, rebuilt on load
        # transformers ≥ 5.6 flattened CLIPTextModel (no `text_model.` level); the file format keeps it.
        name = key if key.startswith("text_model.") else "text_model." + key
        out[CLIP_L_PREFIX + name] = value
    return out


def open_clip_to_original(state_dict: dict) -> dict:
    """CLIPTextModelWithProjection → OpenCLIP: q/k/v fused into in_proj, text_projection stored transposed."""
    import torch

    state = {(k if k.startswith(("text_model.", "text_projection")) else "text_model." + k): v
             for k, v in state_dict.items() if not k.endswith("position_ids")}
    out = {}
    fused: dict[str, dict[str, dict]] = {}
    for key, value in state.items():
        if key in _OPEN_CLIP_TOP:
            out[_OPEN_CLIP_TOP[key]] = value
        elif key == "text_projection.weight":
            # nn.Linear weight is (projection, hidden); OpenCLIP multiplies x @ text_projection (hidden, projection).
            out["text_projection"] = value.T.contiguous()
        elif m := re.match(r"text_model\.encoder\.layers\.(\d+)\.(.*)", key):
            layer, rest = m[1], m[2]
            if q := re.match(r"self_attn\.([qkv])_proj\.(weight|bias)", rest):
                fused.setdefault(f"transformer.resblocks.{layer}.attn.in_proj_{q[2]}", {})[q[1]] = value
            else:
                out[f"transformer.resblocks.{layer}.{_rename(rest, _OPEN_CLIP_LAYER, key)}"] = value
        else:
            raise ValueError(f"no original-layout name for diffusers text_encoder_2 key '{key}'")
    for name, parts in fused.items():
        if set(parts) != {"q", "k", "v"}:
            raise ValueError(f"text_encoder_2: {name} lacks one of q/k/v")
        # nn.MultiheadAttention packs [q; k; v] along the output dimension.
        out[name] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    return {OPEN_CLIP_PREFIX + k: v for k, v in out.items()}


def sdxl_to_original_state_dict(pipeline) -> dict:
    """One flat state dict, original SGM layout, of the pipeline's unet, vae, text_encoder and text_encoder_2."""
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        if getattr(pipeline, name, None) is None:
            raise ValueError(f"the pipeline has no {name}; an SDXL single file holds unet, vae and both text encoders")
    state = {}
    state.update(unet_to_original(pipeline.unet.state_dict(), pipeline.unet.config))
    state.update(vae_to_original(pipeline.vae.state_dict(), pipeline.vae.config))
    state.update(clip_l_to_original(pipeline.text_encoder.state_dict()))
    state.update(open_clip_to_original(pipeline.text_encoder_2.state_dict()))
    return state


def write_sdxl_single_file(pipeline, path: str | Path) -> Path:
    """Write the pipeline's unet, vae, text_encoder and text_encoder_2 as one original-layout safetensors file.

    The file is written next to its target and renamed into place, so a reader never
    sees half a file. Tensors keep their dtype.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: a single-file checkpoint is written as .safetensors")
    state = {k: v.detach().cpu().contiguous() for k, v in sdxl_to_original_state_dict(pipeline).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        save_file(state, str(partial), metadata={"format": "pt"})
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def _file_keys(path: Path) -> dict[str, tuple[int, ...]]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except Exception as exc:  # safetensors raises its own SafetensorError for a bad header
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None


def check_sdxl_single_file(path: str | Path, config_dir: str | Path) -> dict[str, tuple[int, ...]]:
    """Before loading: the file exists, is safetensors with the SDXL original layout; the config folder is complete.

    Returns the file's tensor names and shapes (read from the header only).
    """
    path, config_dir = Path(path), Path(config_dir)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path} is not a file; a single-file checkpoint is one .safetensors file")
    if path.suffix.lower() != ".safetensors":
        raise CheckpointError(f"{path}: only .safetensors single-file checkpoints are loaded "
                              f"(.ckpt/.pt files are pickles that can run code)")
    if not config_dir.is_dir():
        raise CheckpointError(f"{config_dir}: no such config folder (needed to load {path}: a local diffusers "
                              f"SDXL folder of the same architecture, for its configs and tokenizers)")
    if not (config_dir / "model_index.json").is_file():
        raise CheckpointError(f"{config_dir / 'model_index.json'} is missing: {config_dir} is not a diffusers "
                              f"pipeline folder, so it cannot configure {path}")
    keys = _file_keys(path)
    missing = [part for part, key in REQUIRED_KEYS.items() if key not in keys]
    if missing:
        sample = ", ".join(sorted(keys)[:3]) or "no tensors"
        raise CheckpointError(f"{path}: expected {EXPECTED}; the {', '.join(missing)} "
                              f"{'is' if len(missing) == 1 else 'are'} missing (file has {len(keys)} tensors: "
                              f"{sample}, ...)")
    return keys


def _text_encoder_2_from_file(path: Path, config_dir: Path, torch_dtype):
    """text_encoder_2 built from the OpenCLIP keys alone.

    diffusers' `create_diffusers_clip_model_from_ldm` picks the CLIP-L branch whenever
    the file has CLIP-L keys whose width equals the model's — which, for SDXL models whose
    two text encoders are equally wide (the tiny test ones), loads CLIP-L's weights into
    text_encoder_2. Handing it only the OpenCLIP keys selects the OpenCLIP branch, the
    same conversion diffusers applies to full-size SDXL files.
    """
    from diffusers.loaders.single_file_utils import create_diffusers_clip_model_from_ldm
    from transformers import CLIPTextModelWithProjection

    with safe_open(str(path), framework="pt") as handle:
        checkpoint = {k: handle.get_tensor(k) for k in handle.keys() if k.startswith(OPEN_CLIP_PREFIX)}
    return create_diffusers_clip_model_from_ldm(CLIPTextModelWithProjection, checkpoint=checkpoint,
                                                config=str(config_dir), subfolder="text_encoder_2",
                                                torch_dtype=torch_dtype, local_files_only=True)


def _equal_text_widths(keys: dict[str, tuple[int, ...]], config_dir: Path) -> bool:
    """Whether the file's CLIP-L is as wide as the folder's text_encoder_2 (diffusers then can't tell them apart)."""
    clip_l = keys.get(REQUIRED_KEYS["CLIP-L text encoder"])
    try:
        config = json.loads((config_dir / "text_encoder_2" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    width = config.get("hidden_size", config.get("text_config", {}).get("hidden_size"))
    return clip_l is not None and clip_l[-1] == width


def load_sdxl_single_file(pipeline_class, path: str | Path, config_dir: str | Path, torch_dtype=None, **kwargs):
    """`pipeline_class.from_single_file(path, config=config_dir, local_files_only=True)`, checked and offline.

    `config_dir` is a local diffusers folder of the same architecture: its component
    configs (unet/config.json drives the UNet's shape, not guesses from key shapes),
    scheduler and tokenizers are used; its weights are not. Raises CheckpointError naming
    the file when it is missing, not safetensors, not an SDXL original-layout file, or
    its tensors do not fit the folder's architecture.
    """
    import torch

    path, config_dir = Path(path), Path(config_dir)
    keys = check_sdxl_single_file(path, config_dir)
    options = dict(kwargs)
    if "add_watermarker" in inspect.signature(pipeline_class.__init__).parameters:
        options.setdefault("add_watermarker", False)
    if "text_encoder_2" not in options and _equal_text_widths(keys, config_dir):
        try:
            options["text_encoder_2"] = _text_encoder_2_from_file(path, config_dir, torch_dtype)
        except Exception as exc:
            raise CheckpointError(f"{path}: expected {EXPECTED}; its OpenCLIP-G text encoder "
                                  f"({OPEN_CLIP_PREFIX}*) does not fit {config_dir / 'text_encoder_2'} "
                                  f"({type(exc).__name__}: {exc})") from exc
    try:
        pipe = pipeline_class.from_single_file(str(path), config=str(config_dir), local_files_only=True,
                                               torch_dtype=torch_dtype, **options)
    except CheckpointError:
        raise
    except Exception as exc:  # diffusers raises ValueError/KeyError/RuntimeError/SingleFileComponentError
        if "meta tensor" in str(exc):  # a tensor the file lacks stayed on the meta device until first use
            raise CheckpointError(f"{path}: lacks tensors that the architecture of {config_dir} needs; expected "
                                  f"{EXPECTED} with every tensor ({type(exc).__name__}: {exc})") from exc
        raise CheckpointError(f"{path}: could not be loaded as {EXPECTED} matching the architecture of "
                              f"{config_dir} ({type(exc).__name__}: {exc})") from exc
    # diffusers loads onto the meta device and fills in what the file has: a tensor the file
    # lacks stays on meta without an error. Refuse such a half-loaded pipeline.
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        module = getattr(pipe, name, None)
        if not isinstance(module, torch.nn.Module):
            continue
        empty = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
        if empty:
            raise CheckpointError(f"{path}: expected {EXPECTED} matching {config_dir}; {name} weights are missing "
                                  f"from the file: {', '.join(empty[:5])}{' ...' if len(empty) > 5 else ''}")
    return pipe
