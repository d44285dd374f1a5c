"""`reelforge models make-tiny | hash`: tiny random-weight checkpoints to try things with, and checkpoint hashes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reelforge.backends.checkpoints import CheckpointError, checkpoint_sha256
from reelforge.backends.single_file import write_sdxl_single_file
from reelforge.backends.tiny import KINDS, build_tiny, make_tiny
from reelforge.cli.console import console, fail

app = typer.Typer()
models_app = typer.Typer(help="Checkpoints: make tiny test checkpoints, hash a studio's own.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("make-tiny")
def make_tiny_command(
    directory: Annotated[Path, typer.Argument(help="new folder for the checkpoint or IP-Adapter; for a LoRA, "
                                                   "a new .safetensors file")],
    kind: Annotated[str, typer.Option(help="sdxl, animatediff, animatediff-sdxl, wan, controlnet-sdxl; adapters: "
                                           "lora-sdxl, lora-animatediff, lora-wan, ip-adapter-sdxl, "
                                           "ip-adapter-animatediff")],
    seed: Annotated[int, typer.Option(help="seed of the random weights")] = 0,
    single_file: Annotated[bool, typer.Option("--single-file", help="sdxl only: also write DIRECTORY.safetensors "
                                                                      "in the original single-file layout")] = False,
) -> None:
    """Write a tiny random-weight checkpoint or adapter that loads like a real one (for tests and trying things out)."""
    if kind not in KINDS:
        raise fail(f"--kind must be one of {', '.join(KINDS)}, got '{kind}'")
    if single_file and kind != "sdxl":
        raise fail("--single-file is for --kind sdxl")
    try:
        make_tiny(directory, kind, seed)
    except (FileExistsError, ValueError) as exc:
        raise fail(str(exc)) from None
    what = "LoRA" if kind.startswith("lora-") else "IP-Adapter" if kind.startswith("ip-adapter-") else "checkpoint"
    console.print(f"wrote a tiny {kind} {what} to {directory}", highlight=False)
    if single_file:
        target = directory.with_suffix(".safetensors")
        write_sdxl_single_file(build_tiny(kind, seed), target)
        console.print(f"wrote {target} (use \"config\": \"{directory}\" with it)", highlight=False)


@models_app.command("hash")
def hash_command(path: Annotated[Path, typer.Argument(help="checkpoint folder or file")]) -> None:
    """Print the content hash that goes into job keys (cached by size and mtime)."""
    try:
        print(checkpoint_sha256(path))
    except CheckpointError as exc:
        raise fail(str(exc)) from None
