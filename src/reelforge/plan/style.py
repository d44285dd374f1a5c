"""A shot's style family, resolved to its full content so that an edit to the family's JSON re-renders its shots.

The job carries what the family says, not its name alone: prompt fragments, the LoRA by
content hash, the steps/guidance hints, the palette and the previz recipe. An edit to any
of them changes the key of exactly the shots that use the family. The family's name and
description are for people and are left out (renaming a family re-renders nothing).
"""

from __future__ import annotations

from pathlib import Path

from reelforge.errors import Problem, SpecError
from reelforge.plan.base import Frozen, LoraJob
from reelforge.spec.recipe import Step
from reelforge.spec.styles import Style, load_families, lora_path
from reelforge.store.hashing import cached_file_sha256


class StyleJob(Frozen):
    id: str
    prompt: str
    negative_prompt: str
    lora: LoraJob | None = None  # path in ShotJob.assets
    steps: int | None = None  # hints, used where the spec's model leaves steps / guidance unset
    guidance_scale: float | None = None
    palette: tuple[str, ...] = ()  # #rrggbb, lower case
    previz: tuple[Step, ...] = ()  # the post-process recipe the previz backend runs (post/styles.py)


def resolve_style(style: Style, base_dir) -> tuple[StyleJob, dict[str, str]]:
    """The style family's content for a job, and the asset files it needs (sha256 → path).

    Families are the built-ins plus `<base_dir>/styles/*.json`. A family file that is broken
    or gone since the spec was validated raises SpecError naming that file.
    """
    families = load_families(Path(base_dir))
    name = style.preset
    if name in families.broken:
        file = families.broken[name]
        raise SpecError(file, [Problem(p.path, p.message) for p in families.problems if p.file == file])
    if name not in families.families:
        known = ", ".join(families.names)
        raise SpecError(Path(base_dir) / "styles", [Problem("$", f"no style family '{name}' (no {name}.json here "
                                                                 f"and no built-in of that name); known: {known}")])
    loaded = families.families[name]
    family = loaded.family
    lora, assets = None, {}
    if family.lora is not None:
        path = lora_path(loaded.file, family.lora)
        try:
            sha = cached_file_sha256(path)
        except OSError as exc:
            raise SpecError(loaded.file, [Problem("$.lora.path", f"cannot read the LoRA file {path}: "
                                                                 f"{exc.strerror or exc}")]) from None
        lora = LoraJob(sha256=sha, weight=family.lora.weight, source=f"style:{family.id}")
        assets[sha] = str(path.absolute())
    job = StyleJob(id=family.id, prompt=family.prompt, negative_prompt=family.negative_prompt, lora=lora,
                   steps=family.steps, guidance_scale=family.guidance_scale, palette=family.palette,
                   previz=family.previz)
    return job, assets
