"""`reelforge store gc`: remove superseded versions older than the policy, safely, and say so in the change log.

What is kept is app/store_retention.py's; gc removes a superseded version (its job folder, and the
frames and segments no other remaining version names) once it has not been used for `older_than_days`
("0d": every superseded version now), and stored frames and segments no version names once their files
are that old. It holds the production's lock (never under a render), works from a retention computed
under that lock, and logs before it removes, in an order a kill at any moment leaves consistent:

1. one "gc" change-log entry (entity "store": the policy, the counts, the bytes it frees, the SHA-256 of
   the sorted list of frame hashes it removes, and the versions) and a signed checkpoint, committed before
   anything is removed: a run killed part-way is still on the record;
2. the job folders of the versions it removes (manifest first): no manifest ever names a removed frame,
   so a render never takes a half-removed version for a stored one;
3. their frames, then their segments (the video before its record): a segment without frames, or a record
   without its segment, is at worst encoded again.

Running gc again after a kill removes what is left, with an entry of its own. A gc that removes nothing
logs nothing (nothing changed). The catalog is never touched: recorded renders keep their
frame hashes, so `verify` re-renders a removed version from its recorded jobs as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reelforge.app.store_retention import DAY, Retention, retention
from reelforge.deliver.options import signing_identity
from reelforge.records import changelog
from reelforge.spec.model import Production
from reelforge.store.catalog import Catalog
from reelforge.store.frames import FrameStore
from reelforge.store.journal import JobFiles
from reelforge.store.paths import ProductionPaths
from reelforge.store.segments import SegmentStore
from reelforge.store.usage import StoredFile

UNREFERENCED = "(unreferenced)"  # the removal of stored frames and segments that no version names


@dataclass(frozen=True)
class Removal:
    """What gc removes of one version (`job_key` None: of the frames and segments no version names)."""

    shot_path: str
    job_key: str | None
    job_folder: bool
    frames: tuple[str, ...]
    segments: tuple[str, ...]  # segment keys
    bytes: int
    age_days: float

    def to_json(self) -> dict:
        return {"shot": self.shot_path, "job_key": self.job_key, "job_folder": self.job_folder,
                "frames": len(self.frames), "segments": len(self.segments), "bytes": self.bytes,
                "age_days": round(self.age_days, 2)}


@dataclass(frozen=True)
class GcPlan:
    older_than_days: int
    removals: tuple[Removal, ...]

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.removals)

    @property
    def frames(self) -> list[str]:
        return sorted(d for r in self.removals for d in r.frames)

    def counts(self) -> dict:
        return {"versions": sum(1 for r in self.removals if r.job_key is not None), "frames": len(self.frames),
                "unreferenced_frames": sum(len(r.frames) for r in self.removals if r.job_key is None),
                "segments": sum(len(r.segments) for r in self.removals),
                "job_folders": sum(1 for r in self.removals if r.job_folder)}

    def to_json(self) -> dict:
        return {"older_than_days": self.older_than_days, "bytes": self.bytes, **self.counts(),
                "removals": [r.to_json() for r in self.removals]}


@dataclass(frozen=True)
class GcResult:
    plan: GcPlan
    seq: int | None  # its change-log entry (None: nothing was removed, nothing logged)
    checkpoint_id: int | None


def plan_gc(kept: Retention, older_than_days: int) -> GcPlan:
    """What gc would remove now: superseded versions unused for `older_than_days`, and old unreferenced files."""
    old_enough = lambda age: age >= older_than_days  # noqa: E731  (0d: everything superseded)
    going = [v for v in kept.versions.values() if not v.kept and old_enough(kept.age_days(v))]
    going_keys = {v.job_key for v in going}
    staying = [v for v in kept.versions.values() if v.job_key not in going_keys]
    needed_frames = {d for v in staying for d in v.frames}
    needed_segments = {s for v in staying for s in v.segments}
    taken_frames: set[str] = set()
    taken_segments: set[str] = set()
    removals = []
    for version in sorted(going, key=lambda v: (v.shot_path, -v.last_used, v.job_key)):  # shared: the newest's
        frames = sorted(d for d in version.frames
                        if d in kept.contents.frames and d not in needed_frames and d not in taken_frames)
        segments = sorted(s for s in version.segments if s not in needed_segments and s not in taken_segments)
        taken_frames.update(frames)
        taken_segments.update(segments)
        job_files = kept.contents.jobs.get(version.job_key, [])
        removals.append(Removal(version.shot_path, version.job_key, bool(job_files), tuple(frames), tuple(segments),
                                _size(kept, job_files, frames, segments), kept.age_days(version)))
    named_frames = {d for v in kept.versions.values() for d in v.frames}
    named_segments = {s for v in kept.versions.values() for s in v.segments}
    loose_frames = sorted(d for d, f in kept.contents.frames.items()
                          if d not in named_frames and old_enough(_age(kept, [f])))
    loose_segments = sorted(s for s, files in kept.contents.segments.items()
                            if s not in named_segments and old_enough(_age(kept, files)))
    if loose_frames or loose_segments:
        removals.append(Removal(UNREFERENCED, None, False, tuple(loose_frames), tuple(loose_segments),
                                _size(kept, [], loose_frames, loose_segments), 0.0))
    return GcPlan(older_than_days, tuple(r for r in removals if r.job_folder or r.frames or r.segments))


def _size(kept: Retention, job_files: list[StoredFile], frames: list[str], segments: list[str]) -> int:
    files = [*job_files, *(kept.contents.frames[d] for d in frames),
             *(f for s in segments for f in kept.contents.segments[s])]
    return sum(f.size for f in files)


def _age(kept: Retention, files: list[StoredFile]) -> float:
    return max(0.0, kept.now - max(f.mtime for f in files)) / DAY


def remove_file(path: Path) -> None:
    """Delete one stored file (gone already: nothing to do)."""
    path.unlink(missing_ok=True)


def collect_garbage(paths: ProductionPaths, production: Production, older_than_days: int, policy: str, actor: str,
                    announce: Callable[[str], None] | None = None) -> GcResult:
    """Log what `plan_gc` says and remove it, under the production's lock; returns what was removed.

    `policy` says where the age came from ("--older-than 0d", "production store.keep_superseded 30d").
    Raises ProductionBusy, RenderRefused (a spec that does not plan) or DeliveryError (no signing identity).
    """
    with paths.lock("a store gc"):
        plan = plan_gc(retention(paths, production), older_than_days)
        if not plan.removals:
            return GcResult(plan, None, None)
        identity = signing_identity(production, paths.root, announce=announce)
        with Catalog(paths.catalog) as catalog, catalog.session() as session:  # 1. the record of it, first
            after = {"policy": policy, "older_than_days": older_than_days, **plan.counts(), "bytes_freed": plan.bytes,
                     "removed_frames_sha256": hashlib.sha256("\n".join(plan.frames).encode()).hexdigest(),
                     "removed_versions": [{"shot": r.shot_path, "job_key": r.job_key}
                                          for r in plan.removals if r.job_key is not None]}
            seq = changelog.append_entry(session, actor=actor, kind="gc", entity="store", version=None, before=None,
                                         after=after, reason=f"store gc ({policy}): removed superseded versions")
            checkpoint = changelog.write_checkpoint(session, identity)
            session.commit()
        for removal in plan.removals:  # 2. job folders: no manifest names a frame about to go
            if removal.job_folder:
                JobFiles(paths.jobs, removal.job_key).remove()
        frames, segments = FrameStore(paths.frames), SegmentStore(paths.segments)
        for removal in plan.removals:  # 3. frames, then segments
            for digest in removal.frames:
                remove_file(frames.path(digest))
        for removal in plan.removals:
            for key in removal.segments:
                segments.remove(key)
    return GcResult(plan, seq, checkpoint.id if checkpoint is not None else None)

