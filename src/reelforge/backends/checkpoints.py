"""A studio's own checkpoints: content hashes, and checks that say exactly what is missing.

The checkpoint's content hash — not its path — goes into every job key and render
record, so moving a folder re-renders nothing and swapping weights re-renders
everything. Hashing a 7 GB file takes a minute, so per-file hashes are cached by
(path, size, mtime) in the user's cache folder and computed once (store/hashing.py).

Loading never falls back silently: transformers builds a tiny placeholder tokenizer
when tokenizer files are absent (every word then maps to one id — a render that
"works" but ignores the prompt). Before anything is loaded, every component the
folder's `model_index.json` names must have its config and weights, and every
tokenizer its vocabulary files; after loading, each tokenizer must have a real
vocabulary and tell two different words apart.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from reelforge.store.hashing import cached_file_sha256

# Files that can change what a checkpoint computes: configs, weights, tokenizer vocabularies.
HASHED_SUFFIXES = (".json", ".safetensors", ".bin", ".txt", ".model", ".pt", ".ckpt", ".pth")
WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "model.safetensors", "diffusion_pytorch_model.bin",
                "pytorch_model.bin", "diffusion_pytorch_model.safetensors.index.json",
                "model.safetensors.index.json", "pytorch_model.bin.index.json",
                "diffusion_pytorch_model.bin.index.json")
# Any one of these sets of files makes a tokenizer folder complete.
TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"), ("spiece.model",))
MIN_VOCABULARY = 100  # real CLIP/T5 vocabularies have tens of thousands; the fallback one has 3

class CheckpointError(Exception):
    """A checkpoint is missing, incomplete or of the wrong kind; the message names the file."""


def hashed_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in HASHED_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(path).parts))


def checkpoint_sha256(path: str | Path) -> str:
    """Content hash of a checkpoint folder (every config, weight and vocabulary file) or single file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder")
    if path.is_file():
        return cached_file_sha256(path)
    digest = hashlib.sha256(b"reelforge/checkpoint/v1\n")
    files = hashed_files(path)
    if not files:
        raise CheckpointError(f"{path}: no config or weight files in this folder")
    for file in files:
        digest.update(f"{file.relative_to(path).as_posix()} {cached_file_sha256(file)}\n".encode())
    return digest.hexdigest()


def _missing_weights(folder: Path) -> str | None:
    if not (folder / "config.json").is_file():
        return f"{folder / 'config.json'} is missing"
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        return f"{folder} has no weights (expected {WEIGHT_FILES[0]} or {WEIGHT_FILES[1]})"
    return None


def _missing_tokenizer(folder: Path) -> str | None:
    if not folder.is_dir():
        return f"{folder} is missing"
    if any(all((folder / name).is_file() for name in files) for files in TOKENIZER_FILES):
        return None
    options = " or ".join(" + ".join(files) for files in TOKENIZER_FILES)
    return f"{folder} has no vocabulary files (expected {options})"


def model_index(folder: Path) -> dict:
    index = folder / "model_index.json"
    if not index.is_file():
        if (folder / "config.json").is_file():
            return {}
        raise CheckpointError(f"{index} is missing: {folder} is not a diffusers pipeline folder")
    try:
        return json.loads(index.read_text())
    except ValueError as exc:
        raise CheckpointError(f"{index}: not valid JSON ({exc})") from None


def check_pipeline_folder(folder: Path, expected_classes: tuple[str, ...], what: str) -> dict:
    """Every component the pipeline folder names is present; its class is one the backend can drive."""
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such folder")
    if folder.is_file():
        raise CheckpointError(f"{folder} is a file; {what} needs a diffusers pipeline folder")
    index = model_index(folder)
    name = index.get("_class_name")
    if not index:
        raise CheckpointError(f"{folder} holds a single model (config.json), not a pipeline: give the pipeline "
                              f"folder that has model_index.json ({what} needs one of: {', '.join(expected_classes)})")
    if name not in expected_classes:
        raise CheckpointError(f"{folder / 'model_index.json'} describes a {name}; {what} needs one of: "
                              f"{', '.join(expected_classes)}")
    for component, spec in index.items():
        if component.startswith("_") or not isinstance(spec, list) or spec[0] is None or spec[1] is None:
            continue
        kind = spec[1]
        sub = folder / component
        if "Tokenizer" in kind:
            problem = _missing_tokenizer(sub)
        elif "Scheduler" in kind:
            problem = None if (sub / "scheduler_config.json").is_file() else f"{sub / 'scheduler_config.json'} is missing"
        elif kind in ("CLIPImageProcessor", "CLIPFeatureExtractor"):
            problem = None
        else:
            problem = _missing_weights(sub)
        if problem:
            raise CheckpointError(f"checkpoint {folder}: {problem}")
    return index


def check_model_folder(folder: Path, what: str) -> None:
    """A single-model folder (ControlNet, MotionAdapter): config.json and weights."""
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such folder ({what})")
    problem = _missing_weights(folder)
    if problem:
        raise CheckpointError(f"{what} {folder}: {problem}")


def check_tokenizers(pipeline, folder: Path) -> None:
    """After loading: each tokenizer has a real vocabulary and tells two words apart."""
    for name in ("tokenizer", "tokenizer_2"):
        tokenizer = getattr(pipeline, name, None)
        if tokenizer is None:
            continue
        size = len(tokenizer)
        a = tokenizer("harbor", add_special_tokens=False).input_ids
        b = tokenizer("lamp", add_special_tokens=False).input_ids
        if size < MIN_VOCABULARY or a == b:
            raise CheckpointError(f"checkpoint {folder}: {name} loaded with a {size}-entry vocabulary that maps "
                                  f"different words to the same ids; its files in {folder / name} are incomplete")
