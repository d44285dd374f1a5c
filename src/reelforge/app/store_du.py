"""`reelforge store du`: the store's size by episode, shot and version, kept or superseded (app/store_retention.py).

Every file under `.reelforge/` is counted exactly once, so the total is the bytes on disk: a version's
row counts its job folder and the frames and segments it owns (a frame shared by several versions is
counted for one of them: app/store_retention.py says which); the catalog, assets, identity and the rest
are parts of their own, and stored frames or segments that no version names are "unreferenced".
"""

from __future__ import annotations

from dataclasses import dataclass

from reelforge.app.store_gc import plan_gc
from reelforge.app.store_retention import SUPERSEDED, Retention

PARTS = ("catalog", "assets", "identity", "other")  # kept: gc never touches them


@dataclass(frozen=True)
class VersionUsage:
    shot_path: str
    job_key: str
    status: str  # "latest, approved", … or "superseded"
    frames: int  # stored frames it names (shared ones too)
    bytes: int  # what is counted for it: its job folder and the frames and segments it owns
    age_days: float  # since it was last used (its newest render or file)
    renders: int  # recorded renders that used it

    @property
    def episode(self) -> str:
        return self.shot_path.split("/")[0]

    def to_json(self) -> dict:
        return {"episode": self.episode, "shot": self.shot_path, "job_key": self.job_key, "status": self.status,
                "kept": self.status != SUPERSEDED, "frames": self.frames, "bytes": self.bytes,
                "age_days": round(self.age_days, 2), "renders": self.renders}


@dataclass(frozen=True)
class StoreUsage:
    versions: tuple[VersionUsage, ...]  # by episode, shot, then newest first
    parts: dict[str, int]  # catalog, assets, identity, other, unreferenced frames, unreferenced segments
    total: int  # every byte under .reelforge/
    kept: int
    superseded: int
    keep_superseded_days: int  # the production's policy
    gc_frees: int  # what `store gc` with that policy would remove now

    def to_json(self) -> dict:
        return {"total_bytes": self.total, "kept_bytes": self.kept, "superseded_bytes": self.superseded,
                "keep_superseded_days": self.keep_superseded_days, "gc_would_free_bytes": self.gc_frees,
                "parts": self.parts, "versions": [v.to_json() for v in self.versions]}


def store_usage(kept: Retention, keep_superseded_days: int) -> StoreUsage:
    """The store's bytes by version and part; `keep_superseded_days`: the policy `gc` would apply."""
    owned = kept.owned()
    versions = []
    for version in sorted(kept.versions.values(), key=lambda v: (v.shot_path, -v.last_used, v.job_key)):
        files = [f for group in owned[version.job_key].values() for f in group]
        stored = sum(1 for digest in version.frames if digest in kept.contents.frames)
        if files or version.kept:
            versions.append(VersionUsage(version.shot_path, version.job_key, version.status, stored,
                                         sum(f.size for f in files), kept.age_days(version), len(version.renders)))
    unowned = kept.unowned()
    parts = {name: sum(f.size for f in kept.contents.parts.get(name, [])) for name in PARTS}
    parts |= {f"unreferenced {name}": sum(f.size for f in files) for name, files in unowned.items()}
    kept_bytes = sum(v.bytes for v in versions if v.status != SUPERSEDED) + sum(parts[name] for name in PARTS)
    total = kept.contents.bytes
    return StoreUsage(tuple(versions), parts, total, kept_bytes, total - kept_bytes, keep_superseded_days,
                      plan_gc(kept, keep_superseded_days).bytes)
