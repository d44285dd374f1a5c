#!/usr/bin/env python3
"""Real-size denoiser and VAE throughput on one GPU: speed, MFU, energy and determinism.

Builds the SDXL base UNet + VAE and the Wan2.1-T2V-1.3B transformer + VAE from their public
architecture configs with random weights, directly on the GPU (no checkpoint, no network; text
encoders are replaced by random embeddings of the right shape), and for each model measures

  * seconds per forward (median of CUDA-event timings) and per denoising step,
  * model FLOP utilisation against the GPU's dense bf16 peak (table below, or --peak-tflops),
  * energy per forward / step from NVML's total-energy counter over the timed window,
  * whether repeated forwards on the same inputs gave identical output bytes,

once with deterministic mode OFF (cudnn.benchmark, TF32 allowed, torch's default SDPA choice)
and once ON (torch.use_deterministic_algorithms, CUBLAS_WORKSPACE_CONFIG=:4096:8, cuDNN
deterministic without benchmark, TF32 off, SDPA restricted with sdpa_kernel to FLASH_ATTENTION,
falling back to EFFICIENT_ATTENTION only where flash cannot run, i.e. the VAEs' single-head
attention with head dim 384/512, and to MATH as a last resort; these forward kernels use no
atomics; the kernels that actually ran are recorded per model). The ratio ON/OFF is measured
within this one run, since machines are noisy. Deterministic mode also keeps torch's default
fill_uninitialized_memory=True, part of its cost.

Denoising step: SDXL runs classifier-free guidance as one batch-2 UNet forward (--sdxl-batch);
Wan's pipeline runs cond and uncond as two batch-1 transformer forwards, so one Wan step is two
forwards. MFU uses the dense FLOPs per forward (SDXL UNet at 1024², 1 sample: 6.76 T, times the
batch; Wan 1.3B at 480x832x81: 283 T); the script also counts them with torch's FlopCounterMode
on the meta device and prints both.

Output sha256 values go into the JSON: run the script twice and pass the first JSON to
--compare to see whether two processes gave the same bytes.

Needs only torch, diffusers (and nvidia-ml-py for energy); imports nothing from reelforge.

    python3 bench/gpu_throughput.py --json results.json            # real size, on CUDA
    python3 bench/gpu_throughput.py --only wan --json wan.json      # rerun one family
    python3 bench/gpu_throughput.py --tiny                          # smoke test on CPU
"""

from __future__ import annotations

import os

# Must be set before CUDA (cuBLAS) initialises; harmless when determinism is off.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import hashlib  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any, Callable  # noqa: E402

import torch  # noqa: E402

# --------------------------------------------------------------------------------------------
# Architecture configs (public configs of the released checkpoints) and their tiny variants.

SDXL_UNET = dict(
    sample_size=128,
    in_channels=4,
    out_channels=4,
    block_out_channels=(320, 640, 1280),
    layers_per_block=2,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=(5, 10, 20),
    transformer_layers_per_block=(1, 2, 10),
    cross_attention_dim=2048,
    use_linear_projection=True,
    addition_embed_type="text_time",
    addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,  # 1280 pooled text + 6 time ids x 256
    norm_num_groups=32,
)
SDXL_UNET_TINY = dict(
    SDXL_UNET,
    sample_size=16,
    block_out_channels=(32, 64),
    layers_per_block=1,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=(2, 4),
    transformer_layers_per_block=(1, 2),
    cross_attention_dim=64,
    addition_time_embed_dim=8,
    projection_class_embeddings_input_dim=32 + 6 * 8,
    norm_num_groups=8,
)
# (latent H/W, text tokens, text dim, pooled text dim)
SDXL_SHAPES = dict(hw=128, tokens=77, text_dim=2048, pooled=1280)
SDXL_SHAPES_TINY = dict(hw=16, tokens=8, text_dim=64, pooled=32)

SDXL_VAE = dict(
    in_channels=3,
    out_channels=3,
    block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    latent_channels=4,
    layers_per_block=2,
    norm_num_groups=32,
    sample_size=1024,
    scaling_factor=0.13025,
)
SDXL_VAE_TINY = dict(
    SDXL_VAE,
    block_out_channels=(16, 32),
    down_block_types=("DownEncoderBlock2D",) * 2,
    up_block_types=("UpDecoderBlock2D",) * 2,
    layers_per_block=1,
    norm_num_groups=8,
    sample_size=32,
)

WAN_TRANSFORMER = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=12,
    attention_head_dim=128,
    in_channels=16,
    out_channels=16,
    text_dim=4096,
    freq_dim=256,
    ffn_dim=8960,
    num_layers=30,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    eps=1e-6,
    rope_max_seq_len=1024,
)
WAN_TRANSFORMER_TINY = dict(
    WAN_TRANSFORMER, num_attention_heads=2, attention_head_dim=16, text_dim=32, freq_dim=16, ffn_dim=64, num_layers=2
)
# latents (C, T, H, W) at 480x832x81 frames, text tokens, text dim
WAN_SHAPES = dict(latent=(16, 21, 60, 104), tokens=512, text_dim=4096)
WAN_SHAPES_TINY = dict(latent=(16, 3, 8, 8), tokens=8, text_dim=32)

WAN_VAE = dict(base_dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, temperal_downsample=[False, True, True])
WAN_VAE_TINY = dict(WAN_VAE, base_dim=8)

# Dense FLOPs per forward, one sample (issue / DESIGN.md; re-counted below with FlopCounterMode).
SDXL_UNET_FLOPS_PER_SAMPLE = 6.76e12
WAN_FLOPS_PER_FORWARD = 283e12

# Dense (no sparsity) bf16 tensor-core peak in FLOP/s; first substring of the device name wins.
PEAK_BF16_DENSE: list[tuple[str, float]] = [
    ("H100 PCIe", 756.5e12),
    ("H100 NVL", 835.5e12),
    ("GH200", 989.4e12),
    ("H200", 989.4e12),
    ("H100", 989.4e12),  # SXM ("NVIDIA H100 80GB HBM3")
    ("H800", 989.4e12),
    ("B200", 2250e12),
    ("A100", 312e12),
    ("A800", 312e12),
    ("L40S", 362.05e12),
    ("RTX 4090", 165.2e12),
]


def peak_for(name: str) -> float | None:
    for key, peak in PEAK_BF16_DENSE:
        if key.lower() in name.lower():
            return peak
    return None


# --------------------------------------------------------------------------------------------
# Environment, NVML, modes.


def log(*parts: Any) -> None:
    print(*parts, flush=True)


class Nvml:
    """Energy counter (mJ since driver load) and a few readings for the torch device, or nothing."""

    def __init__(self, device: torch.device):
        self.handle = None
        self.pynvml = None
        self.error = None
        self.energy_ok = False
        if device.type != "cuda":
            self.error = "not a CUDA device"
            return
        try:
            import pynvml  # nvidia-ml-py

            pynvml.nvmlInit()
            self.pynvml = pynvml
            self.handle = self._handle(pynvml, device)
            try:
                pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
                self.energy_ok = True
            except Exception as exc:  # e.g. NVML_ERROR_NOT_SUPPORTED on old GPUs
                self.error = f"energy counter unavailable: {exc}"
        except Exception as exc:
            self.error = f"NVML unavailable: {exc}"
            self.handle = None

    @staticmethod
    def _handle(pynvml, device: torch.device):
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        uuid = getattr(props, "uuid", None)
        if uuid is not None:
            try:
                text = str(uuid)
                return pynvml.nvmlDeviceGetHandleByUUID(text if text.startswith("GPU-") else "GPU-" + text)
            except Exception:
                pass
        if pynvml.nvmlDeviceGetCount() == 1:
            return pynvml.nvmlDeviceGetHandleByIndex(0)
        return pynvml.nvmlDeviceGetHandleByIndex(index)

    def energy_mj(self) -> int | None:
        if not self.energy_ok:
            return None
        try:
            return int(self.pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))
        except Exception:
            return None

    def readings(self) -> dict:
        out: dict[str, Any] = {}
        if self.handle is None:
            return out
        p = self.pynvml
        probes = {
            "sm_clock_mhz": lambda: p.nvmlDeviceGetClockInfo(self.handle, p.NVML_CLOCK_SM),
            "temperature_c": lambda: p.nvmlDeviceGetTemperature(self.handle, p.NVML_TEMPERATURE_GPU),
            "power_w_now": lambda: p.nvmlDeviceGetPowerUsage(self.handle) / 1000.0,
        }
        for key, probe in probes.items():
            try:
                out[key] = probe()
            except Exception:
                pass
        return out

    def static_info(self) -> dict:
        out: dict[str, Any] = {}
        if self.handle is None:
            return out
        p = self.pynvml
        probes = {
            "driver": lambda: _text(p.nvmlSystemGetDriverVersion()),
            "driver_cuda": lambda: "{}.{}".format(*divmod(p.nvmlSystemGetCudaDriverVersion() // 10, 100)),
            "nvml_name": lambda: _text(p.nvmlDeviceGetName(self.handle)),
            "power_limit_w": lambda: p.nvmlDeviceGetEnforcedPowerLimit(self.handle) / 1000.0,
            "max_sm_clock_mhz": lambda: p.nvmlDeviceGetMaxClockInfo(self.handle, p.NVML_CLOCK_SM),
            "vbios": lambda: _text(p.nvmlDeviceGetVbiosVersion(self.handle)),
        }
        for key, probe in probes.items():
            try:
                out[key] = probe()
            except Exception:
                pass
        return out


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def package_version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None


def environment(device: torch.device, nvml: Nvml, dtype: torch.dtype) -> dict:
    import diffusers

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "nvidia_ml_py": package_version("nvidia-ml-py"),
        "numpy": package_version("numpy"),
        "device_type": device.type,
        "dtype": str(dtype).replace("torch.", ""),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "torch_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(
            device_name=torch.cuda.get_device_name(device),
            capability=f"{props.major}.{props.minor}",
            sm_count=props.multi_processor_count,
            memory_gib=round(props.total_memory / 2**30, 1),
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
        )
        env.update(nvml.static_info())
        if "driver" not in env:
            try:
                env["driver"] = subprocess.run(
                    ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                    capture_output=True, text=True, timeout=20,
                ).stdout.strip().splitlines()[0]
            except Exception:
                env["driver"] = None
    else:
        env.update(device_name=platform.processor() or platform.machine(), cuda=None, cudnn=None, driver=None)
    env["nvml"] = "ok" if nvml.energy_ok else nvml.error
    return env


def apply_mode(deterministic: bool, warn_only: bool = False) -> None:
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cuda.matmul.allow_tf32 = not deterministic
    torch.backends.cudnn.allow_tf32 = not deterministic


def mode_flags() -> dict:
    flags = {
        "use_deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
    }
    try:
        import torch.utils.deterministic as det

        flags["fill_uninitialized_memory"] = bool(det.fill_uninitialized_memory)
    except Exception:
        pass
    return flags


def sdpa_backends(spec: str):
    from torch.nn.attention import SDPBackend

    names = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "math": "MATH", "cudnn": "CUDNN_ATTENTION"}
    return [getattr(SDPBackend, names[s.strip()]) for s in spec.split(",") if s.strip()]


def sdpa_context(deterministic: bool, spec: str):
    if not deterministic:
        return contextlib.nullcontext()
    from torch.nn.attention import sdpa_kernel

    backends = sdpa_backends(spec)
    if "set_priority" in inspect.signature(sdpa_kernel).parameters:
        return sdpa_kernel(backends, set_priority=True)
    return sdpa_kernel(backends)


class AttentionOps:
    """Records which aten attention kernels run (shows the SDPA backend torch picked)."""

    def __init__(self):
        self.ops: Counter = Counter()
        self._mode = None

    def __enter__(self):
        try:
            from torch.utils._python_dispatch import TorchDispatchMode
        except Exception:
            return self
        ops = self.ops

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                name = func.overloadpacket.__name__
                if "attention" in name:
                    ops[name] += 1
                return func(*args, **(kwargs or {}))

        self._mode = _Mode()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        if self._mode is not None:
            self._mode.__exit__(*exc)
        return False

    def summary(self) -> str:
        if not self.ops:
            return "no fused SDPA kernel (math or none)"
        return ", ".join(f"{k} x{v}" for k, v in sorted(self.ops.items()))


# --------------------------------------------------------------------------------------------
# Benchmarks.


@dataclass
class Bench:
    key: str
    family: str
    build: Callable[[], torch.nn.Module]  # called under the target (or meta) device context
    make_inputs: Callable[[torch.device, torch.dtype, torch.Generator], dict]
    call: Callable[[torch.nn.Module, dict], torch.Tensor]
    batch: int = 1
    forwards_per_step: int | None = None  # None: not a denoiser
    ref_flops: float | None = None  # per call, real size only
    min_runs: int = 5
    min_seconds: float = 0.0
    note: str = ""
    # Optional: pick warm-up inputs and, from the warm-up timing, the timed inputs (Wan VAE).
    warm_inputs: Callable[[dict], dict] | None = None
    plan: Callable[[dict, dict, float, argparse.Namespace], tuple[dict, str]] | None = None
    shrink: Callable[[dict], dict | None] | None = None
    extra: dict = field(default_factory=dict)


def cast_like_from_pretrained(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """Cast as `from_pretrained(torch_dtype=dtype)` does: `_keep_in_fp32_modules` stay fp32."""
    keep = getattr(model, "_keep_in_fp32_modules", None) or []
    if not keep:
        # nn.Module.to: ModelMixin.to would warn about fp32 modules that this model does not have.
        return torch.nn.Module.to(model, dtype)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if not any(m in name.split(".") for m in keep):
                param.data = param.data.to(dtype)
    return model


def make_benches(args: argparse.Namespace) -> list[Bench]:
    from diffusers import AutoencoderKL, AutoencoderKLWan, UNet2DConditionModel, WanTransformer3DModel

    tiny = args.tiny
    b = args.sdxl_batch
    s = SDXL_SHAPES_TINY if tiny else SDXL_SHAPES
    w = WAN_SHAPES_TINY if tiny else WAN_SHAPES
    min_seconds = 0.0 if tiny else args.min_seconds

    def sdxl_unet_inputs(device, dtype, gen):
        def rnd(*shape):
            return torch.randn(*shape, generator=gen, device=device, dtype=torch.float32).to(dtype)

        hw = s["hw"]
        time_ids = torch.tensor([hw * 8, hw * 8, 0, 0, hw * 8, hw * 8], device=device, dtype=dtype).repeat(b, 1)
        return {
            "sample": rnd(b, 4, hw, hw),
            "timestep": torch.tensor(999.0, device=device),
            "encoder_hidden_states": rnd(b, s["tokens"], s["text_dim"]),
            "added_cond_kwargs": {"text_embeds": rnd(b, s["pooled"]), "time_ids": time_ids},
        }

    def sdxl_unet_call(model, x):
        return model(
            x["sample"], x["timestep"], encoder_hidden_states=x["encoder_hidden_states"],
            added_cond_kwargs=x["added_cond_kwargs"], return_dict=False,
        )[0]

    def sdxl_vae_inputs(device, dtype, gen):
        hw = s["hw"]
        return {"z": torch.randn(1, 4, hw, hw, generator=gen, device=device).to(dtype)}

    def vae_call(model, x):
        return model.decode(x["z"], return_dict=False)[0]

    def wan_inputs(device, dtype, gen):
        c, t, h, ww = w["latent"]
        return {
            "hidden_states": torch.randn(1, c, t, h, ww, generator=gen, device=device).to(dtype),
            "timestep": torch.tensor([999], device=device, dtype=torch.long),
            "encoder_hidden_states": torch.randn(1, w["tokens"], w["text_dim"], generator=gen, device=device).to(dtype),
        }

    def wan_call(model, x):
        return model(
            hidden_states=x["hidden_states"], timestep=x["timestep"],
            encoder_hidden_states=x["encoder_hidden_states"], return_dict=False,
        )[0]

    def wan_vae_inputs(device, dtype, gen):
        c, t, h, ww = w["latent"]
        return {"z": torch.randn(1, c, t, h, ww, generator=gen, device=device).to(dtype)}

    probe = min(args.wan_vae_probe_frames, w["latent"][1])

    def out_frames(latent_frames: int) -> int:
        return 1 + 4 * (latent_frames - 1)

    def wan_vae_warm(x):
        return {"z": x["z"][:, :, :probe]}

    def wan_vae_plan(full, warm, t_warm, a):
        total = full["z"].shape[2]
        per_run = a.wan_vae_budget / 2.0  # two timed decodes per mode
        per_out_frame = t_warm / out_frames(probe)
        n = total
        while n > probe and per_out_frame * out_frames(n) > per_run:
            n -= 1
        note = f"decoded {n}/{total} latent frames ({out_frames(n)}/{out_frames(total)} video frames)"
        if n < total:
            note += (
                f" to fit --wan-vae-budget {a.wan_vae_budget:g}s; linear estimate for all frames"
                f" {per_out_frame * out_frames(total):.1f}s"
            )
        return {"z": full["z"][:, :, :n]}, note

    def wan_vae_shrink(x):
        n = x["z"].shape[2]
        if n <= probe:
            return None
        return {"z": x["z"][:, :, : max(probe, n // 2)]}

    sdxl_unet_ref = None if tiny else SDXL_UNET_FLOPS_PER_SAMPLE * b
    wan_ref = None if tiny else WAN_FLOPS_PER_FORWARD
    return [
        Bench(
            key="sdxl-unet", family="sdxl",
            build=lambda: UNet2DConditionModel.from_config(SDXL_UNET_TINY if tiny else SDXL_UNET),
            make_inputs=sdxl_unet_inputs, call=sdxl_unet_call, batch=b, forwards_per_step=1,
            ref_flops=sdxl_unet_ref, min_runs=args.steps, min_seconds=min_seconds,
            note=f"1024x1024, batch {b} ({'CFG: one forward per step' if b == 2 else 'no CFG batching'})"
            if not tiny else f"tiny, batch {b}",
        ),
        Bench(
            key="sdxl-vae", family="sdxl",
            build=lambda: AutoencoderKL.from_config(SDXL_VAE_TINY if tiny else SDXL_VAE),
            make_inputs=sdxl_vae_inputs, call=vae_call, min_runs=args.vae_runs, min_seconds=min_seconds,
            note="decode (1,4,128,128) -> 1024x1024" if not tiny else "tiny decode",
        ),
        Bench(
            key="wan-transformer", family="wan",
            build=lambda: WanTransformer3DModel.from_config(WAN_TRANSFORMER_TINY if tiny else WAN_TRANSFORMER),
            make_inputs=wan_inputs, call=wan_call, batch=1, forwards_per_step=2,
            ref_flops=wan_ref, min_runs=args.steps, min_seconds=min_seconds,
            note="480x832x81, batch 1 (CFG: two forwards per step)" if not tiny else "tiny, batch 1",
        ),
        Bench(
            key="wan-vae", family="wan",
            build=lambda: AutoencoderKLWan.from_config(WAN_VAE_TINY if tiny else WAN_VAE),
            make_inputs=wan_vae_inputs, call=vae_call, min_runs=2, min_seconds=0.0,
            note="decode (1,16,21,60,104) -> 81x480x832" if not tiny else "tiny decode",
            warm_inputs=wan_vae_warm, plan=wan_vae_plan, shrink=wan_vae_shrink,
        ),
    ]


# --------------------------------------------------------------------------------------------
# Measurement.


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().reshape(-1).view(torch.uint8)


def sha256(t: torch.Tensor) -> str:
    return hashlib.sha256(bits(t).cpu().numpy().tobytes()).hexdigest()


def meta_like(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        dtype = torch.float32 if x.is_floating_point() else x.dtype
        return torch.empty(x.shape, dtype=dtype, device="meta")
    if isinstance(x, dict):
        return {k: meta_like(v) for k, v in x.items()}
    return x


_FLOP_CACHE: dict[tuple, float | None] = {}


def count_flops(bench: Bench, inputs: dict) -> float | None:
    """FLOPs of one call, counted by torch's FlopCounterMode on the meta device (no compute)."""
    shapes = tuple(sorted((k, tuple(v.shape)) for k, v in inputs.items() if isinstance(v, torch.Tensor)))
    key = (bench.key, shapes)
    if key in _FLOP_CACHE:
        return _FLOP_CACHE[key]
    from torch.utils.flop_counter import FlopCounterMode

    total = None
    try:
        with torch.device("meta"):
            model = bench.build()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            bench.call(model, meta_like(inputs))
        total = float(counter.get_total_flops())
        del model
    except Exception as exc:
        log(f"    (FLOP count failed: {type(exc).__name__}: {exc})")
    _FLOP_CACHE[key] = total
    return total


def timed_call(bench: Bench, model, inputs: dict, device: torch.device) -> float:
    sync(device)
    t0 = time.perf_counter()
    out = bench.call(model, inputs)
    sync(device)
    elapsed = time.perf_counter() - t0
    del out
    return elapsed


def measure_mode(bench: Bench, model, inputs: dict, deterministic: bool, args, device, nvml: Nvml) -> dict:
    warn_only = False
    try:
        return _measure_mode(bench, model, inputs, deterministic, warn_only, args, device, nvml)
    except RuntimeError as exc:
        if deterministic and "deterministic" in str(exc).lower():
            log(f"    strict deterministic mode failed ({str(exc).splitlines()[0]}); retrying with warn_only=True")
            result = _measure_mode(bench, model, inputs, deterministic, True, args, device, nvml)
            result["strict_error"] = str(exc).splitlines()[0]
            return result
        raise


def _measure_mode(bench, model, inputs, deterministic, warn_only, args, device, nvml) -> dict:
    apply_mode(deterministic, warn_only=warn_only)
    mode = "deterministic" if deterministic else "default"
    result: dict[str, Any] = {"model": bench.key, "mode": mode, "note": bench.note, "flags": mode_flags()}
    if deterministic:
        result["sdpa_allowed"] = args.det_sdpa
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with sdpa_context(deterministic, args.det_sdpa), torch.inference_mode():
        warm = bench.warm_inputs(inputs) if bench.warm_inputs else inputs
        # Warm-up 1 records the attention kernels (under no_grad: in inference mode a dispatch
        # mode sees only the composite SDPA op), then timed warm-ups for the step estimate.
        started = time.perf_counter()
        with torch.inference_mode(False), torch.no_grad(), AttentionOps() as attn:
            out = bench.call(model, warm)
        sync(device)
        del out
        first = time.perf_counter() - started
        t_est = first
        for _ in range(max(1, args.warmup - 1)):
            t_est = timed_call(bench, model, warm, device)
        result["attention_kernels"] = attn.summary()
        result["first_call_s"] = round(first, 4)
        timed_inputs = inputs
        if bench.plan:
            timed_inputs, plan_note = bench.plan(inputs, warm, t_est, args)
            result["note"] = f"{bench.note}; {plan_note}"
            log(f"    {mode}: {plan_note}")
        elif warm is not inputs:
            timed_inputs = inputs
        runs = bench.min_runs
        if bench.min_seconds > 0 and t_est > 0:
            runs = max(runs, math.ceil(bench.min_seconds / t_est))
        runs = max(2, min(runs, args.max_runs))

        while True:
            try:
                timing = _timed_runs(bench, model, timed_inputs, runs, device, nvml)
                break
            except torch.cuda.OutOfMemoryError:
                smaller = bench.shrink(timed_inputs) if bench.shrink else None
                if smaller is None:
                    raise
                gc.collect()
                torch.cuda.empty_cache()
                log(f"    out of memory; retrying with input shape {tuple(smaller['z'].shape)}")
                timed_inputs = smaller
                result["note"] += f"; OOM, shrunk to {tuple(smaller['z'].shape)}"
    result.update(timing)
    result["input_shape"] = {
        k: list(v.shape) for k, v in timed_inputs.items() if isinstance(v, torch.Tensor) and v.dim() > 0
    }
    # FLOPs and MFU.
    counted = count_flops(bench, timed_inputs)
    flops = bench.ref_flops if bench.ref_flops is not None else counted
    result["flops_per_call_counted"] = counted
    result["flops_per_call_reference"] = bench.ref_flops
    result["flops_per_call"] = flops
    s = result["s_per_call"]
    if flops and s:
        result["tflops_per_s"] = flops / s / 1e12
        result["mfu"] = flops / s / args.peak if args.peak else None
    if bench.forwards_per_step:
        result["forwards_per_step"] = bench.forwards_per_step
        result["s_per_step"] = s * bench.forwards_per_step
        if result.get("j_per_call") is not None:
            result["j_per_step"] = result["j_per_call"] * bench.forwards_per_step
    if device.type == "cuda":
        result["peak_mem_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return result


def _timed_runs(bench, model, inputs, runs, device, nvml) -> dict:
    cuda = device.type == "cuda"
    outputs: list[torch.Tensor] = []
    times: list[float] = []
    events: list[tuple] = []
    sync(device)
    e0 = nvml.energy_mj()
    w0 = time.perf_counter()
    for _ in range(runs):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            outputs.append(bench.call(model, inputs))
            end.record()
            events.append((start, end))
        else:
            t0 = time.perf_counter()
            outputs.append(bench.call(model, inputs))
            times.append(time.perf_counter() - t0)
    sync(device)
    wall = time.perf_counter() - w0
    e1 = nvml.energy_mj()
    readings = nvml.readings()
    if cuda:
        times = [a.elapsed_time(b) / 1000.0 for a, b in events]
    result: dict[str, Any] = {
        "runs": runs,
        "s_per_call": statistics.median(times),
        "s_per_call_min": min(times),
        "s_per_call_max": max(times),
        "wall_s": wall,
    }
    if e0 is not None and e1 is not None:
        joules = (e1 - e0) / 1000.0
        result["j_per_call"] = joules / runs
        result["avg_power_w"] = joules / wall if wall > 0 else None
    else:
        result["j_per_call"] = None
    result.update(readings)
    # Determinism: every timed run used the same inputs; compare all outputs bitwise with the first.
    ref = outputs[0]
    ref_bits = bits(ref)
    differing = [i for i, o in enumerate(outputs[1:], 1) if not torch.equal(bits(o), ref_bits)]
    result["identical"] = not differing
    result["runs_differing"] = len(differing)
    result["sha256"] = sha256(ref)
    if differing:
        other = outputs[differing[0]]
        result["sha256_differing"] = sha256(other)
        diff = (ref.float() - other.float()).nan_to_num(nan=float("inf")).abs().max().item()
        result["max_abs_diff"] = diff
    result["output_shape"] = list(ref.shape)
    result["output_dtype"] = str(ref.dtype).replace("torch.", "")
    result["output_nonfinite"] = int((~torch.isfinite(ref.float())).sum().item())
    del outputs, ref, ref_bits
    return result


def run_bench(bench: Bench, args, device, dtype, nvml: Nvml, modes: list[bool]) -> list[dict]:
    log(f"\n== {bench.key}: {bench.note}")
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    with torch.device(device):
        model = bench.build()
    model = cast_like_from_pretrained(model, dtype).eval().requires_grad_(False)
    if any(p.device != device for p in model.parameters()):
        model = torch.nn.Module.to(model, device)
    sync(device)
    params = sum(p.numel() for p in model.parameters())
    build_s = time.perf_counter() - t0
    log(f"    built {params / 1e9:.3f} B params on {device} in {build_s:.1f}s")
    gen = torch.Generator(device=device).manual_seed(args.seed + 1)
    inputs = bench.make_inputs(device, dtype, gen)
    results = []
    try:
        for deterministic in modes:
            mode = "deterministic" if deterministic else "default"
            try:
                r = measure_mode(bench, model, inputs, deterministic, args, device, nvml)
            except Exception as exc:
                traceback.print_exc()
                r = {"model": bench.key, "mode": mode, "error": f"{type(exc).__name__}: {exc}"}
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            r["params"] = params
            r["build_s"] = round(build_s, 2)
            results.append(r)
            log("    " + one_line(r, args))
    finally:
        apply_mode(False)
        del model, inputs
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    # Same bytes across the two modes?
    ok = [r for r in results if "sha256" in r]
    if len(ok) == 2 and ok[0]["output_shape"] == ok[1]["output_shape"]:
        same = ok[0]["sha256"] == ok[1]["sha256"]
        for r in ok:
            r["same_bytes_across_modes"] = same
    return results


# --------------------------------------------------------------------------------------------
# Reporting.


def fmt(value: Any, spec: str, na: str = "n/a") -> str:
    return na if value is None else format(value, spec)


def one_line(r: dict, args) -> str:
    if "error" in r:
        return f"{r['mode']:<13} ERROR {r['error']}"
    mfu = r.get("mfu")
    return (
        f"{r['mode']:<13} {r['s_per_call']:.4f} s/call over {r['runs']} runs"
        f", MFU {'n/a' if mfu is None else format(mfu, '.1%')}"
        f", {fmt(r.get('j_per_call'), '.1f')} J/call"
        f", outputs {'identical' if r['identical'] else 'differ'}"
        f", attention: {r.get('attention_kernels')}"
    )


def cell(value: Any, spec: str, width: int, na: str = "n/a") -> str:
    return format(na if value is None else format(value, spec), f">{width}")


def print_table(results: list[dict]) -> None:
    head = (
        f"{'model':<16}{'mode':<14}{'runs':>5}{'s/call':>10}{'s/step':>10}{'TFLOP/call':>11}"
        f"{'TFLOP/s':>9}{'MFU %':>7}{'J/call':>9}{'J/step':>9}{'avg W':>7}{'GiB':>7}  bytes"
    )
    log("\n" + head)
    log("-" * len(head))
    for r in results:
        if "error" in r:
            log(f"{r['model']:<16}{r['mode']:<14} ERROR: {r['error'][:100]}")
            continue
        mfu = r.get("mfu")
        flops = r.get("flops_per_call")
        across = r.get("same_bytes_across_modes")
        log(
            f"{r['model']:<16}{r['mode']:<14}{r['runs']:>5}"
            + cell(r["s_per_call"], ".4f", 10)
            + cell(r.get("s_per_step"), ".4f", 10, "-")
            + cell(flops and flops / 1e12, ".3f", 11)
            + cell(r.get("tflops_per_s"), ".1f", 9)
            + cell(mfu and mfu * 100, ".1f", 7)
            + cell(r.get("j_per_call"), ".2f", 9)
            + cell(r.get("j_per_step"), ".2f", 9, "-")
            + cell(r.get("avg_power_w"), ".0f", 7)
            + cell(r.get("peak_mem_gib"), ".1f", 7, "-")
            + "  " + ("identical" if r["identical"] else f"differ ({r['runs_differing']} of {r['runs'] - 1} runs)")
            + ("" if across is None else (", = other mode" if across else ", != other mode"))
        )


def ratios(results: list[dict]) -> dict:
    out = {}
    by_model: dict[str, dict] = {}
    for r in results:
        if "s_per_call" in r:
            by_model.setdefault(r["model"], {})[r["mode"]] = r
    for model, modes in by_model.items():
        if "default" in modes and "deterministic" in modes:
            d, n = modes["deterministic"], modes["default"]
            entry = {"time": d["s_per_call"] / n["s_per_call"]}
            if d.get("j_per_call") and n.get("j_per_call"):
                entry["energy"] = d["j_per_call"] / n["j_per_call"]
            if d.get("input_shape") != n.get("input_shape"):
                entry["note"] = "modes used different input shapes (see notes); compare per output frame"
                try:
                    fd = d["output_shape"][2] if len(d["output_shape"]) == 5 else 1
                    fn = n["output_shape"][2] if len(n["output_shape"]) == 5 else 1
                    entry["time"] = (d["s_per_call"] / fd) / (n["s_per_call"] / fn)
                    if "energy" in entry:
                        entry["energy"] = (d["j_per_call"] / fd) / (n["j_per_call"] / fn)
                except Exception:
                    pass
            out[model] = entry
    return out


def compare(results: list[dict], path: str) -> list[dict]:
    old = json.loads(open(path, encoding="utf-8").read())
    previous = {(r["model"], r["mode"]): r for r in old.get("results", []) if "sha256" in r}
    rows = []
    for r in results:
        p = previous.get((r["model"], r["mode"]))
        if p is None or "sha256" not in r:
            continue
        same_shape = p.get("input_shape") == r.get("input_shape")
        rows.append({
            "model": r["model"], "mode": r["mode"],
            "same_bytes_as_previous_run": p["sha256"] == r["sha256"] if same_shape else None,
            "note": "" if same_shape else "different input shapes",
        })
    return rows


def write_json(path: str | None, payload: dict) -> None:
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, default=str)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny configs (default on CPU, float32): a smoke test")
    p.add_argument("--device", help="torch device (default: cuda, or cpu with --tiny)")
    p.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], help="default: bf16 on CUDA, fp32 on CPU")
    p.add_argument("--only", default="all",
                   help="comma list of: sdxl, wan, sdxl-unet, sdxl-vae, wan-transformer, wan-vae (default all)")
    p.add_argument("--modes", default="default,deterministic", help="comma list of: default, deterministic")
    p.add_argument("--json", help="write the results here as JSON (rewritten after each model)")
    p.add_argument("--compare", help="a JSON from an earlier run: report whether output bytes match it")
    p.add_argument("--peak-tflops", type=float, help="dense bf16 peak in TFLOP/s (default: table by GPU name)")
    p.add_argument("--steps", type=int, default=5, help="minimum timed forwards per mode (default 5)")
    p.add_argument("--warmup", type=int, default=2, help="warm-up calls per mode (default 2)")
    p.add_argument("--min-seconds", type=float, default=2.0,
                   help="extend the timed runs of fast models to at least this long, for NVML energy (default 2)")
    p.add_argument("--max-runs", type=int, default=100, help="cap on timed runs per mode (default 100)")
    p.add_argument("--vae-runs", type=int, default=3, help="minimum timed SDXL VAE decodes per mode (default 3)")
    p.add_argument("--sdxl-batch", type=int, default=2, help="SDXL UNet batch: 2 = CFG (default), 1 = one sample")
    p.add_argument("--wan-vae-budget", type=float, default=40.0,
                   help="seconds per mode for the two timed Wan VAE decodes; fewer latent frames if needed (default 40)")
    p.add_argument("--wan-vae-probe-frames", type=int, default=3, help="latent frames for Wan VAE warm-up (default 3)")
    p.add_argument("--det-sdpa", default=None,
                   help="SDPA backends allowed in deterministic mode, in priority order "
                        "(default flash,efficient,math on CUDA; flash,math on CPU)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device or ("cpu" if args.tiny else "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        log("CUDA is not available; use --tiny (CPU smoke test) or --device cpu")
        return 2
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    dtype_name = args.dtype or ("bf16" if device.type == "cuda" else "fp32")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype_name]
    if args.det_sdpa is None:
        args.det_sdpa = "flash,efficient,math" if device.type == "cuda" else "flash,math"
    sdpa_backends(args.det_sdpa)  # validate early

    nvml = Nvml(device)
    env = environment(device, nvml, dtype)
    peak = args.peak_tflops * 1e12 if args.peak_tflops else (peak_for(env["device_name"]) if device.type == "cuda" else None)
    args.peak = peak
    env["peak_bf16_dense_tflops"] = peak / 1e12 if peak else None
    env["peak_source"] = "--peak-tflops" if args.peak_tflops else ("table" if peak else "unknown")

    log(f"device      {env['device_name']}" + (f" (cc {env['capability']}, {env['sm_count']} SMs, {env['memory_gib']} GiB)"
                                             if device.type == "cuda" else ""))
    log(f"driver      {env.get('driver')} (CUDA {env.get('driver_cuda')})   torch CUDA {env.get('cuda')}"
        f"   cuDNN {env.get('cudnn')}")
    log(f"torch       {env['torch']}   diffusers {env['diffusers']}   python {env['python']}"
        f"   nvidia-ml-py {env['nvidia_ml_py']}")
    log(f"dtype       {env['dtype']}   peak dense bf16 {fmt(peak and peak / 1e12, '.1f')} TFLOP/s ({env['peak_source']})"
        + (f"   power limit {env['power_limit_w']:.0f} W" if env.get("power_limit_w") else ""))
    log(f"energy      {'NVML total-energy counter (whole GPU, includes idle draw)' if nvml.energy_ok else 'n/a: ' + str(nvml.error)}")
    log(f"det. mode   use_deterministic_algorithms, CUBLAS_WORKSPACE_CONFIG={env['cublas_workspace_config']},"
        f" cuDNN deterministic, no benchmark, no TF32, SDPA backends [{args.det_sdpa}] (priority order)")
    if args.tiny:
        log("TINY configs: a smoke test of the code path, numbers mean nothing")

    wanted = {s.strip() for s in args.only.split(",") if s.strip()}
    benches = [b for b in make_benches(args) if "all" in wanted or b.key in wanted or b.family in wanted]
    if not benches:
        log(f"--only {args.only!r} selects nothing")
        return 2
    mode_names = [m.strip() for m in args.modes.split(",") if m.strip()]
    if any(m not in ("default", "deterministic") for m in mode_names):
        log(f"--modes {args.modes!r}: use default and/or deterministic")
        return 2
    modes = [m == "deterministic" for m in mode_names]

    payload: dict[str, Any] = {
        "env": env,
        "settings": {k: v for k, v in vars(args).items() if k != "peak"},
        "results": [],
    }
    started = time.perf_counter()
    results: list[dict] = []
    for bench in benches:
        try:
            results.extend(run_bench(bench, args, device, dtype, nvml, modes))
        except Exception as exc:
            traceback.print_exc()
            results.append({"model": bench.key, "mode": "-", "error": f"{type(exc).__name__}: {exc}"})
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
        payload["results"] = results
        payload["ratios_deterministic_over_default"] = ratios(results)
        payload["elapsed_s"] = time.perf_counter() - started
        write_json(args.json, payload)

    print_table(results)
    rat = ratios(results)
    if rat:
        log("\ndeterministic / default (same run):")
        for model, entry in rat.items():
            extra = f", energy x{entry['energy']:.3f}" if "energy" in entry else ""
            log(f"  {model:<16} time x{entry['time']:.3f}{extra}" + (f"   ({entry['note']})" if entry.get("note") else ""))
    notes = [(r["model"], r["mode"], r["note"]) for r in results if "decoded" in r.get("note", "")]
    for model, mode, note in notes:
        log(f"note: {model} {mode}: {note}")
    for r in results:
        if r.get("output_nonfinite"):
            log(f"note: {r['model']} {r['mode']}: {r['output_nonfinite']} non-finite output values (random weights)")
        if r.get("strict_error"):
            log(f"note: {r['model']} {r['mode']}: ran with warn_only=True; strict mode raised: {r['strict_error']}")
    if args.compare:
        try:
            rows = compare(results, args.compare)
            payload["compare"] = {"path": args.compare, "rows": rows}
            log(f"\nbytes vs {args.compare}:")
            for row in rows:
                same = row["same_bytes_as_previous_run"]
                log(f"  {row['model']:<16}{row['mode']:<14}"
                    + ("same" if same else ("DIFFERENT" if same is False else "n/a")) + (f" ({row['note']})" if row["note"] else ""))
        except Exception as exc:
            log(f"compare failed: {exc}")
    payload["elapsed_s"] = time.perf_counter() - started
    write_json(args.json, payload)
    log(f"\ntotal {payload['elapsed_s']:.1f}s" + (f"; JSON: {args.json}" if args.json else ""))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
