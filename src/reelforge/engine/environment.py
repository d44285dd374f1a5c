"""The environment fingerprint recorded with every render.

Byte-identical output is promised for the same machine and pinned environment.
This records what "same" means — interpreter, library versions, the CPU and the
SIMD paths numpy dispatches to, thread counts — so `verify` can say *which*
field differs before it compares a single byte.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from importlib import metadata

import av
import cv2
import numpy as np

from reelforge.backends.runtime import gpu_fingerprint

PACKAGES = ("reelforge", "numpy", "opencv-python-headless", "av", "pydantic", "colour-science",
            "sqlalchemy", "torch", "diffusers", "transformers", "tokenizers", "safetensors", "accelerate", "ftfy", "peft",
            "Pillow", "langcodes")
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# The CPU flags that pick numpy's, OpenCV's, MKL's and oneDNN's kernels: shown by name, so a
# difference between two machines reads as "avx512f" rather than as a changed hash.
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
             "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve", "sve2")


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _cpu() -> dict[str, object]:
    model, vendor, flags = platform.processor() or "unknown", "unknown", []
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name") and model in ("unknown", "", platform.machine()):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("vendor_id") and vendor == "unknown":
                    vendor = line.split(":", 1)[1].strip()
                elif line.startswith(("flags", "Features")) and not flags:  # x86 says flags, ARM Features
                    flags = sorted(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {
        "model": model,
        "vendor": vendor,  # MKL takes other code paths on other vendors' CPUs with the same flags
        "machine": platform.machine(),
        "isa": [flag for flag in ISA_FLAGS if flag in flags],
        "logical_cores": os.cpu_count(),
        # The full flag list is long; its hash is what a comparison needs.
        "flags_sha256": hashlib.sha256(" ".join(flags).encode()).hexdigest(),
        "numpy_simd": sorted(k for k, v in np._core._multiarray_umath.__cpu_features__.items() if v),
    }


def _torch() -> dict[str, object]:
    """Torch threads, only if torch is already in use (importing it costs seconds)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {"loaded": False}
    record = {"loaded": True, "version": torch.__version__, "threads": torch.get_num_threads(),
              "interop_threads": torch.get_num_interop_threads(),
              "deterministic": torch.are_deterministic_algorithms_enabled(),
              "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # the kernels ATen dispatches to
              "cublas_workspace": os.environ.get("CUBLAS_WORKSPACE_CONFIG", "")}
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # GPU bytes depend on model, driver, CUDA, cuDNN

        record["gpu"] = gpu_fingerprint()
    return record


def environment_fingerprint(encoder_threads: int | None = None) -> dict[str, object]:
    """Everything about this machine and install that can change output bytes."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
        "packages": _package_versions(),
        "ffmpeg": {name: ".".join(map(str, v)) for name, v in sorted(av.library_versions.items())},
        "cpu": _cpu(),
        "threads": {
            "opencv": cv2.getNumThreads(),
            "encoder": encoder_threads,
            **{name.lower(): os.environ.get(name, "") for name in THREAD_ENV},
        },
        "torch": _torch(),
    }


def isa_class(environment: dict) -> str:
    """The instruction-set class a CPU render's torch bytes depend on, e.g. 'x86_64-GenuineIntel-AVX512-amx'.

    Torch CPU kernels take other code paths by instruction set (ATen's capability, MKL's
    dispatch by vendor, oneDNN's AMX kernels), so generative golden hashes are kept per class;
    previz, post and encode are integer or fixed-order work and need only the machine type.
    Needs a fingerprint taken with torch loaded.
    """
    cpu, torch = environment["cpu"], environment.get("torch", {})
    capability = torch.get("cpu_capability") or "no-torch"
    amx = "-amx" if "amx_tile" in cpu.get("isa", []) else ""
    return f"{cpu['machine']}-{cpu.get('vendor', 'unknown')}-{capability}{amx}"


def flatten(record: dict, prefix: str = "") -> dict[str, object]:
    """{'a': {'b': 1}} → {'a.b': 1}, for field-by-field comparison."""
    flat: dict[str, object] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def differences(recorded: dict, current: dict) -> list[tuple[str, object, object]]:
    """(field, recorded, current) for every field that is not the same."""
    a, b = flatten(recorded), flatten(current)
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
