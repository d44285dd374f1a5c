"""Shared base for resolved job parts: frozen, strict pydantic models that hash canonically."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LoraJob(Frozen):
    """A LoRA to load into a diffusers pipeline: its file's content hash (keyed) and weight.

    The file's path is in the job's `assets` (sha256 → path), which is not keyed, so a
    moved LoRA file re-renders nothing.
    """

    sha256: str
    weight: float
    source: str  # who asked for it: "style:<id>" or "character:<id>" (names the adapter)
