"""The torch runtime a generative render runs in: device, threads, dtype and every determinism knob.

Why one place: byte-identical frames need the same settings in every process that
renders a job — the engine, `verify`, a resumed render. The runtime is part of the
job (device, threads and dtype are hashed into its key), and `deterministic_torch`
applies it before each render:

* intra-op threads pinned (CPU bytes change with the thread count);
* `torch.use_deterministic_algorithms(True)`; on CUDA `CUBLAS_WORKSPACE_CONFIG=:4096:8`
  (set before CUDA starts), cuDNN deterministic, no cuDNN benchmark, no TF32;
* a fixed priority of attention kernels (`sdpa_kernel`), so the choice never
  depends on what was tried first;
* noise from a CPU `torch.Generator` seeded from the job, so the same latents are
  drawn whatever the device.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pynvml

# torch, diffusers, transformers and peft are imported inside the functions that use them: they take
# seconds to import, and planning, file checks and previz renders never need them.

# Must be in the environment before the CUDA context exists; harmless on CPU.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


class RuntimeUnavailable(Exception):
    """The requested device cannot be used on this machine (a user error: exit 2)."""


@dataclass(frozen=True)
class Runtime:
    device: str  # "cpu" or "cuda" (or "cuda:N")
    threads: int

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")


def default_threads() -> int:
    """torch's own default (physical cores), so a plain render uses the machine as torch would."""
    import torch

    return torch.get_num_threads()


def resolve_runtime(device: str = "cpu", threads: int | None = None, here: bool = True) -> Runtime:
    """Check the device is usable here and fill in the thread count.

    `here=False`: the jobs run elsewhere (a farm's GPU nodes), which check the device themselves.
    """
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise RuntimeUnavailable(f"--device must be cpu or cuda (or cuda:N), got '{device}'")
    if device.startswith("cuda") and here:
        import torch

        if not torch.cuda.is_available():
            raise RuntimeUnavailable(f"--device {device}: this torch ({torch.__version__}) sees no CUDA GPU; "
                                     "install a CUDA build of torch==2.13.0 or render with --device cpu")
    if threads is not None and threads < 1:
        raise RuntimeUnavailable(f"--threads must be at least 1, got {threads}")
    return Runtime(device=device, threads=threads or default_threads())


def resolve_dtype(name: str, device: str) -> str:
    """'auto' → float32 on CPU (exact and fast enough for tiny models), bfloat16 on CUDA."""
    if name != "auto":
        return name
    return "bfloat16" if device.startswith("cuda") else "float32"


def torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def _attention_backends(device: str) -> list:
    from torch.nn.attention import SDPBackend

    if device.startswith("cuda"):
        return [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
    return [SDPBackend.FLASH_ATTENTION, SDPBackend.MATH]


@contextlib.contextmanager
def deterministic_torch(runtime: Runtime) -> Iterator[None]:
    """Apply the runtime's threads and determinism settings for the duration of a render."""
    import torch
    from torch.nn.attention import sdpa_kernel

    torch.set_num_threads(runtime.threads)
    torch.use_deterministic_algorithms(True)
    if runtime.is_cuda:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    with torch.inference_mode(), sdpa_kernel(_attention_backends(runtime.device), set_priority=True):
        yield


def generator(seed: int):
    """Noise source for one frame or clip window: always on the CPU, so every device draws the same latents."""
    import torch

    return torch.Generator("cpu").manual_seed(seed)


def settle_loaded_module(module) -> None:
    """Eval mode, and parameters copied out of the checkpoint's memory map.

    `from_pretrained` can leave weights memory-mapped at 4-byte alignment, and CPU
    matmuls on such memory give other low bits than on aligned copies of the same
    values (measured here): cloning makes a loaded model compute exactly like the
    in-memory model it was saved from.
    """
    import torch

    module.eval()
    with torch.no_grad():
        for param in module.parameters():
            param.data = param.data.clone()
        for holder in module.modules():
            for name, buffer in list(holder.named_buffers(recurse=False)):
                if buffer is not None:
                    holder._buffers[name] = buffer.clone()


def gpu_fingerprint() -> dict[str, object]:
    """GPU model, SM count, driver, CUDA and cuDNN: GPU bytes depend on all of them."""
    import torch

    if not torch.cuda.is_available():
        return {"available": False}
    index = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    driver = "unknown"
    try:
        pynvml.nvmlInit()
        driver = pynvml.nvmlSystemGetDriverVersion()
        driver = driver.decode() if isinstance(driver, bytes) else driver
    except Exception:  # NVML missing is not fatal: the rest still identifies the GPU
        pass
    return {"available": True, "index": index, "name": props.name, "multiprocessors": props.multi_processor_count,
            "capability": f"{props.major}.{props.minor}", "driver": driver, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version()}
