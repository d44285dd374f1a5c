"""A shot's style family, resolved to its full content so that an edit to the family's JSON re-renders its shots."""

from __future__ import annotations

from reelforge.plan.base import Frozen, LoraJob
from reelforge.spec import presets
from reelforge.spec.styles import Style


class StyleJob(Frozen):
    id: str
    prompt: str
    negative_prompt: str
    lora: LoraJob | None = None  # path in ShotJob.assets
    steps: int | None = None  # hints, used where the spec's model leaves steps / guidance unset
    guidance_scale: float | None = None


def resolve_style(style: Style, base_dir) -> tuple[StyleJob, dict[str, str]]:
    """The style family's content for a job, and the asset files it needs (sha256 → path)."""
    family = presets.STYLES[style.preset]
    return StyleJob(id=style.preset, prompt=family["prompt"], negative_prompt=family["negative"]), {}
