"""Tiny random-weight checkpoints of every supported architecture, built offline.

Why: tests and examples must exercise the real loading path (`from_pretrained` on a
local diffusers folder, tokenizers included) without fetching anything from a model
hub. These checkpoints have the real component classes and folder layout of SDXL,
AnimateDiff (SD 1.5 and SDXL motion adapters) and Wan 2.1, with a few thousand
parameters each, so a render on a 2-core CPU takes seconds. Their pictures are
noise-like: they prove plumbing and determinism, not image quality.

The shapes follow diffusers' own test fixtures. Tokenizers are built with the
`tokenizers`-backed classes of transformers from an in-code vocabulary (bytes plus
a few merges / word pieces), so every word maps to its own ids — unlike the
fallback tokenizer transformers builds when tokenizer files are missing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from reelforge.backends.diffusion import quiet_diffusers

# torch, diffusers, transformers and peft are imported inside the functions that use them: they take
# seconds to import, and planning, file checks and previz renders never need them.

CHECKPOINT_KINDS = ("sdxl", "animatediff", "animatediff-sdxl", "wan", "controlnet-sdxl")
# Adapters, each shaped for the tiny checkpoint it names (the SDXL ones also fit the tiny
# animatediff-sdxl, whose UNet is the tiny SDXL UNet): a LoRA is one .safetensors file,
# an IP-Adapter a folder (see backends/adapters.py for its layout).
LORA_KINDS = {"lora-sdxl": "sdxl", "lora-animatediff": "animatediff", "lora-wan": "wan"}
IP_ADAPTER_KINDS = {"ip-adapter-sdxl": "sdxl", "ip-adapter-animatediff": "animatediff"}
KINDS = CHECKPOINT_KINDS + tuple(LORA_KINDS) + tuple(IP_ADAPTER_KINDS)

# Common words get their own merges so prompts tokenize to distinct, short id runs.
WORDS = ("the", "and", "harbor", "light", "lamp", "sea", "night", "boat", "camera", "shot", "slow", "push",
         "pull", "in", "back", "soft", "warm", "gray", "box", "film", "still", "red", "blue", "coat")


def _byte_chars() -> list[str]:
    """GPT-2/CLIP's reversible byte → printable character table (public algorithm)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = [], 0
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def clip_tokenizer(max_length: int = 77):
    """A byte-level BPE CLIP tokenizer: every byte, every byte at word end, and merges for WORDS."""
    from transformers import CLIPTokenizer

    vocab: dict[str, int] = {}
    for c in _byte_chars():
        vocab.setdefault(c, len(vocab))
    for c in _byte_chars():
        vocab.setdefault(c + "</w>", len(vocab))
    merges: list[tuple[str, str]] = []
    for word in WORDS:
        left = word[0]
        for i, ch in enumerate(word[1:], start=1):
            right = ch + ("</w>" if i == len(word) - 1 else "")
            merged = left + right
            if merged not in vocab:
                merges.append((left, right))
                vocab[merged] = len(vocab)
            left = merged
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=max_length)


def t5_tokenizer(max_length: int = 512):
    """A Unigram (SentencePiece-style) T5 tokenizer over letters, digits, punctuation and WORDS."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    symbols = "abcdefghijklmnopqrstuvwxyz0123456789.,;:'!?-()"
    pieces += [("▁", -2.0)] + [(c, -3.0) for c in symbols] + [("▁" + c, -3.5) for c in symbols]
    pieces += [("▁" + w, -1.0) for w in WORDS]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=max_length)


def _clip_text_config(hidden: int, vocab_size: int, projection: int = 32):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1,
                          hidden_size=hidden, intermediate_size=37, layer_norm_eps=1e-05, num_attention_heads=4,
                          num_hidden_layers=2, vocab_size=vocab_size, hidden_act="gelu", projection_dim=projection)


def _sdxl_unet(cross_attention_dim: int = 64):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 2), projection_class_embeddings_input_dim=80,
        cross_attention_dim=cross_attention_dim, norm_num_groups=8)


def _sd15_unet():
    """The SD 1.5-shaped UNet under the tiny AnimateDiff (the motion adapter is added to it)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=2, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16, norm_num_groups=2)


def _wan_transformer():
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16,
                                 out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2,
                                 cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32)


def _vae(channels=(32, 64), groups: int = 8):
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=list(channels), in_channels=3, out_channels=3,
                         down_block_types=["DownEncoderBlock2D"] * len(channels),
                         up_block_types=["UpDecoderBlock2D"] * len(channels), latent_channels=4,
                         norm_num_groups=groups, sample_size=64)


def _sdxl_text_encoders():
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = clip_tokenizer()
    size = len(tokenizer)
    text_encoder = CLIPTextModel(_clip_text_config(32, size))
    text_encoder_2 = CLIPTextModelWithProjection(_clip_text_config(32, size))
    return tokenizer, text_encoder, text_encoder_2


def _euler():
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1, beta_schedule="scaled_linear",
                                  timestep_spacing="leading")


def build_tiny(kind: str, seed: int = 0):
    """The in-memory pipeline (or ControlNet model) of one tiny architecture, weights drawn from `seed`."""
    import torch

    if kind not in CHECKPOINT_KINDS:
        raise ValueError(f"unknown checkpoint kind '{kind}'; known: {', '.join(CHECKPOINT_KINDS)}")
    torch.manual_seed(seed)  # random init draws from the global generator: seed it so DIR is reproducible
    if kind == "sdxl":
        from diffusers import StableDiffusionXLPipeline

        tokenizer, text_encoder, text_encoder_2 = _sdxl_text_encoders()
        pipe = StableDiffusionXLPipeline(vae=_vae(), text_encoder=text_encoder, text_encoder_2=text_encoder_2,
                                         tokenizer=tokenizer, tokenizer_2=clip_tokenizer(), unet=_sdxl_unet(),
                                         scheduler=_euler(), force_zeros_for_empty_prompt=True,
                                         add_watermarker=False)
    elif kind == "controlnet-sdxl":
        from diffusers import ControlNetModel

        controlnet = ControlNetModel(
            block_out_channels=(32, 64), layers_per_block=2, in_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), conditioning_embedding_out_channels=(16, 32),
            attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
            addition_time_embed_dim=8, transformer_layers_per_block=(1, 2), projection_class_embeddings_input_dim=80,
            cross_attention_dim=64, norm_num_groups=8)
        # A ControlNet starts with zero output convolutions (it adds nothing until trained);
        # random ones here make a tiny ControlNet visibly steer the picture, as a trained one does.
        with torch.no_grad():
            for module in [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block,
                           controlnet.controlnet_cond_embedding.conv_out]:
                for param in module.parameters():
                    param.normal_(0.0, 0.5)
        return controlnet.eval()
    elif kind == "animatediff":
        from diffusers import AnimateDiffPipeline, DDIMScheduler, MotionAdapter
        from transformers import CLIPTextModel

        tokenizer = clip_tokenizer()
        unet = _sd15_unet()
        adapter = MotionAdapter(block_out_channels=(8, 16), motion_layers_per_block=2, motion_norm_num_groups=2,
                                motion_num_attention_heads=4)
        scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="linear", clip_sample=False,
                                  steps_offset=1)
        pipe = AnimateDiffPipeline(vae=_vae((8, 16), groups=2), text_encoder=CLIPTextModel(_clip_text_config(16, len(tokenizer))),
                                   tokenizer=tokenizer, unet=unet, motion_adapter=adapter, scheduler=scheduler)
    elif kind == "animatediff-sdxl":
        from diffusers import AnimateDiffSDXLPipeline, MotionAdapter

        tokenizer, text_encoder, text_encoder_2 = _sdxl_text_encoders()
        adapter = MotionAdapter(block_out_channels=(32, 64), motion_layers_per_block=2, motion_norm_num_groups=2,
                                motion_num_attention_heads=4, use_motion_mid_block=False)
        pipe = AnimateDiffSDXLPipeline(vae=_vae(), text_encoder=text_encoder, text_encoder_2=text_encoder_2,
                                       tokenizer=tokenizer, tokenizer_2=clip_tokenizer(), unet=_sdxl_unet(),
                                       motion_adapter=adapter, scheduler=_euler(), force_zeros_for_empty_prompt=True)
    else:  # wan
        from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline
        from transformers import UMT5Config, UMT5EncoderModel

        tokenizer = t5_tokenizer()
        text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37,
                                                   num_layers=2, num_heads=4, relative_attention_num_buckets=8,
                                                   pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))
        vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                               temperal_downsample=[False, True, True])
        transformer = _wan_transformer()
        scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0,
                                            num_train_timesteps=1000)
        pipe = WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer,
                           scheduler=scheduler)
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.eval()  # fresh modules are in training mode (dropout would draw from global RNG)
    return pipe


LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]  # every attention projection, as most LoRAs train
LORA_RANK = 4
LORA_STD = 0.2  # both factors random: the product moves each weight about as much as its own init scale


def _denoiser(base: str):
    return {"sdxl": _sdxl_unet, "animatediff": _sd15_unet, "wan": _wan_transformer}[base]()


def build_tiny_lora(kind: str, seed: int = 0) -> dict:
    """A rank-4 LoRA on every attention projection of a tiny checkpoint's denoiser, in diffusers' layout.

    Keys are what `save_lora_weights` writes ("unet.<module>.lora_A.weight", or "transformer." for
    Wan). A trained LoRA starts with B = 0; here both factors are random so it visibly changes pictures.
    """
    import torch
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    if kind not in LORA_KINDS:
        raise ValueError(f"unknown LoRA kind '{kind}'; known: {', '.join(LORA_KINDS)}")
    torch.manual_seed(seed)
    denoiser = _denoiser(LORA_KINDS[kind])
    denoiser.add_adapter(LoraConfig(r=LORA_RANK, lora_alpha=LORA_RANK, target_modules=LORA_TARGETS))
    draws = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in denoiser.named_parameters():
            if ".lora_" in name:
                param.normal_(0.0, LORA_STD, generator=draws)
    prefix = "transformer" if LORA_KINDS[kind] == "wan" else "unet"
    return {f"{prefix}.{name}": tensor.contiguous() for name, tensor in get_peft_model_state_dict(denoiser).items()}


def build_tiny_ip_adapter(kind: str, seed: int = 0):
    """A plain (4-token) IP-Adapter for a tiny checkpoint's UNet: (weights, image encoder, image processor).

    The weights follow the original IP-Adapter layout diffusers' `load_ip_adapter` reads:
    `image_proj.proj/norm.*` (image embedding → 4 tokens of the UNet's cross-attention width) and
    `ip_adapter.<n>.to_k_ip/to_v_ip.weight` for the n-th cross-attention layer (n = 1, 3, 5 … in the
    UNet's `attn_processors` order). The image encoder is a tiny CLIPVisionModelWithProjection.
    """
    import torch
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    if kind not in IP_ADAPTER_KINDS:
        raise ValueError(f"unknown IP-Adapter kind '{kind}'; known: {', '.join(IP_ADAPTER_KINDS)}")
    torch.manual_seed(seed)
    unet = _denoiser(IP_ADAPTER_KINDS[kind])
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        image_size=32, patch_size=4, num_channels=3)).eval()
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    draws = torch.Generator().manual_seed(seed)
    cross, tokens, embed = unet.config.cross_attention_dim, 4, encoder.config.projection_dim
    weights = {"image_proj.proj.weight": torch.randn(cross * tokens, embed, generator=draws) * embed ** -0.5,
               "image_proj.proj.bias": torch.zeros(cross * tokens),
               "image_proj.norm.weight": torch.ones(cross), "image_proj.norm.bias": torch.zeros(cross)}
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        attention = unet.get_submodule(name.removesuffix(".processor"))
        for projection in ("to_k", "to_v"):
            shape = getattr(attention, projection).weight.shape
            weights[f"ip_adapter.{key_id}.{projection}_ip.weight"] = torch.randn(*shape, generator=draws) * shape[1] ** -0.5
        key_id += 2
    return weights, encoder, processor


def _write_lora(target: Path, kind: str, seed: int) -> None:
    from diffusers import AnimateDiffPipeline, StableDiffusionXLPipeline, WanPipeline

    state = build_tiny_lora(kind, seed)
    saver = {"sdxl": StableDiffusionXLPipeline, "animatediff": AnimateDiffPipeline, "wan": WanPipeline}[LORA_KINDS[kind]]
    layers = "transformer_lora_layers" if LORA_KINDS[kind] == "wan" else "unet_lora_layers"
    prefix = layers.split("_")[0] + "."
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        saver.save_lora_weights(staging, **{layers: {k.removeprefix(prefix): v for k, v in state.items()}},
                                weight_name="lora.safetensors", safe_serialization=True)
        if target.exists():
            raise FileExistsError(f"{target} exists; choose a new file name")
        _as_umask_allows(staging / "lora.safetensors", 0o666)
        (staging / "lora.safetensors").rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _as_umask_allows(path: Path, mode: int) -> None:
    """The permissions a plain file or folder would get: the staging place tempfile makes is private (0600/0700),
    and a checkpoint others on a shared production folder cannot read would fail their renders."""
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


def _write_ip_adapter(folder: Path, kind: str, seed: int) -> None:
    from safetensors.torch import save_file

    weights, encoder, processor = build_tiny_ip_adapter(kind, seed)
    save_file({k: v.contiguous() for k, v in weights.items()}, str(folder / "ip-adapter.safetensors"))
    encoder.save_pretrained(folder / "image_encoder", safe_serialization=True)
    processor.save_pretrained(folder / "image_encoder")


def make_tiny(directory: str | Path, kind: str, seed: int = 0) -> Path:
    """Write a tiny checkpoint or adapter of `kind`: a folder in diffusers' layout (safetensors),
    or for a LoRA kind the `.safetensors` file `directory` names."""
    directory = Path(directory)
    if kind not in KINDS:
        raise ValueError(f"unknown kind '{kind}'; known: {', '.join(KINDS)}")
    if kind in LORA_KINDS:
        if directory.suffix != ".safetensors":
            raise ValueError(f"a LoRA is one file: give a name ending in .safetensors, not {directory}")
        if directory.exists():
            raise FileExistsError(f"{directory} exists; choose a new file name")
    elif directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise FileExistsError(f"{directory} exists and is not an empty folder; choose a new folder")

    quiet_diffusers()
    if kind in LORA_KINDS:
        directory.parent.mkdir(parents=True, exist_ok=True)
        _write_lora(directory, kind, seed)  # written beside the target, then renamed
        return directory
    model = build_tiny(kind, seed) if kind in CHECKPOINT_KINDS else None
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:  # written beside the target, then renamed: a killed run leaves no half checkpoint
        if model is None:
            _write_ip_adapter(staging, kind, seed)
        else:
            model.save_pretrained(staging, safe_serialization=True)
        if directory.exists():
            directory.rmdir()
        _as_umask_allows(staging, 0o777)
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory
