"""What an edit changed for one shot, in the spec's own words: the shot's fields, and what it inherits.

A shot's job key moves when anything that can change a pixel moves, and the job's fields are
derived: the resolved prompt carries the lighting's and the camera's words, so a lighting-only
edit moves the job's `lighting` *and* its `prompt`. A person asks "what did we edit?", and the
answer is in the versions (records/versions.py): the shot's own spec fields that differ between
two states of the spec, then what it inherits — a scene's, an episode's or the production's
camera, lighting or style where the shot sets none itself, its cast's characters, its scene's
location, its style family — each named as such ("lighting (scene sc01)", "character mara").

The states are entity → content maps, as a commit records them (`versions.state_at`) or as the
spec on disk says now (`spec_contents`).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from reelforge.records.versions import snapshot, state_at
from reelforge.store.hashing import cached_file_sha256, file_sha256

INHERITED = ("camera", "lighting", "style")  # a level's value applies where no level below sets one
CHILDREN = ("episodes", "characters", "locations", "scenes", "shots")  # ids of children: their own entities
UNDRAWN = ("store",)  # production fields that change no pixel (the store's budget)
FILES = "file_sha256"  # {field: sha} of the files an entity names: a changed file is a change of that field
DEFAULT_STYLE = "gray-box"  # spec.model.Production's style when none is set

# Job fields that no spec field of the shot's own writes, in words (when the spec did not move, these did).
JOB_WORDS = {"engine": "render code (a reelforge upgrade)", "model": "model settings or files",
             "backend": "backend"}


def spec_contents(production, root: Path) -> dict[str, dict]:
    """The spec's state now, as a commit would record it (files hashed, nothing kept or written)."""
    snap = snapshot(production, root)
    for use in snap.files:
        if use.path.is_file():
            sha = cached_file_sha256(use.path) if use.kind == "lora" else file_sha256(use.path)
            snap.contents[use.entity].setdefault(FILES, {})[use.field] = sha
    return snap.contents


def committed_contents(session: Session, commit_id: int) -> dict[str, dict]:
    """The spec's state as of a commit: every live entity's content."""
    return {name: row.content for name, row in state_at(session, commit_id).items()}


def _top(name: str) -> str:
    """The top-level field a nested file field belongs to: 'look.lut' → 'look', 'references[0]' → 'references'."""
    return name.split(".")[0].split("[")[0]


def changed_fields(old: dict | None, new: dict | None, skip: tuple[str, ...] = ()) -> list[str]:
    """The top-level fields of one entity's content that differ (a changed named file counts as its field)."""
    old, new = old or {}, new or {}
    names = [name for name in dict.fromkeys([*old, *new]) if name not in skip and name != FILES]
    fields = [name for name in names if old.get(name) != new.get(name)]
    files_old, files_new = old.get(FILES, {}), new.get(FILES, {})
    for name in dict.fromkeys([*files_old, *files_new]):
        if files_old.get(name) != files_new.get(name) and _top(name) not in fields and _top(name) not in skip:
            fields.append(_top(name))
    return fields


def _series(contents: dict[str, dict]) -> str | None:
    return next((name for name in contents if name.startswith("series:")), None)


def shot_changes(old: dict[str, dict], new: dict[str, dict], shot_path: str) -> list[str]:
    """What was edited that this shot renders, between two states: its own fields first, then inherited ones."""
    episode, scene, _ = shot_path.split("/")
    shot = f"shot:{shot_path}"
    old_shot, new_shot = old.get(shot) or {}, new.get(shot) or {}
    labels = changed_fields(old_shot, new_shot)
    # The levels above, nearest first: a camera, lighting or style set below hides theirs (set below in one
    # state only, that level's own field changed, and says so).
    set_below = {name for name in INHERITED if name in old_shot or name in new_shot}
    series = _series(new) or _series(old)
    for entity, said in ((f"scene:{episode}/{scene}", f"scene {scene}"), (f"episode:{episode}", f"episode {episode}"),
                         (series, "production")):
        if entity is None:
            continue
        level_old, level_new = old.get(entity) or {}, new.get(entity) or {}
        labels += [f"{name} ({said})" for name in changed_fields(level_old, level_new, skip=CHILDREN + UNDRAWN)
                   if name not in set_below]
        set_below |= {name for name in INHERITED if name in level_old or name in level_new}
    # What the shot names: its cast's characters, its scene's location, its style family.
    cast = [who for who in new_shot.get("cast", []) if who in old_shot.get("cast", [])]
    labels += [f"character {who}" for who in cast if old.get(f"character:{who}") != new.get(f"character:{who}")]
    location = (new.get(f"scene:{episode}/{scene}") or {}).get("location")
    if location and location == (old.get(f"scene:{episode}/{scene}") or {}).get("location"):
        if old.get(f"location:{location}") != new.get(f"location:{location}"):
            labels.append(f"location {location}")
    family = _style_family(old, shot_path)
    if family is not None and family == _style_family(new, shot_path) and old.get(f"style:{family}") != new.get(
            f"style:{family}"):
        labels.append(f"style family {family}")
    return labels


def _style_family(contents: dict[str, dict], shot_path: str) -> str | None:
    """The style family the shot renders with: the nearest level that sets one (as plan_shot resolves it)."""
    episode, scene, _ = shot_path.split("/")
    series = _series(contents)
    for entity in (f"shot:{shot_path}", f"scene:{episode}/{scene}", f"episode:{episode}", series):
        style = (contents.get(entity) or {}).get("style") if entity else None
        if isinstance(style, dict) and style.get("preset"):
            return style["preset"]
    return DEFAULT_STYLE if series else None


def job_words(job_fields: list[str]) -> list[str]:
    """Job fields moved with no spec edit behind them, in words ('engine' → 'render code (a reelforge upgrade)')."""
    return [JOB_WORDS.get(name, name) for name in job_fields]
