"""What the frame store keeps and why: the versions of every shot, each kept for a reason or superseded.

A *version* of a shot is one job key (app/review.py): its frames (by hash), its encoded segments
and its job folder (manifest, or the journal of a render that was cut off). A version is kept when

1. it is the **latest** render of a shot the spec still has (the newest render_shots row of the shot, any
   kind of render); a shot cut from the spec keeps its versions only by the rules below, so cutting
   shots frees their frames once they age out;
2. it is **approved**: its latest review status is *approved* (app/review_status.py: a "review" entry
   of the change log, or an "approval" entry naming a render — a shot approval approves that shot's
   version in it, an episode approval every shot's version in it); a version approved and later
   sent back for a retake (or set back to waiting) is no longer kept for it;
3. it is in a **delivered** file still present: a file in the production's `renders/` folder (or at a
   path outside the production a render was written to with `--out`) whose bytes are a recorded render's
   output, by hash, so a production moved to another disk or a file restored from a backup still counts
   and a file overwritten by a later render no longer does;
4. the **current** spec plans it: its manifest's frames are what the next render reuses, its journal
   what a killed render resumes from. A picked take (issue 17) will be the current spec's job, so it is
   kept by this rule.

With no catalog (moved aside, lost) nothing says what was rendered or delivered: `retention` refuses
rather than take every recorded version for superseded. Everything else stored is superseded, and so is a file no version names (a frame of a job whose folder
is gone and that no render recorded). Its age is counted from the newest of: the render that last used
it, its job files and its frame and segment files, so a version re-used or re-written yesterday is a day
old however old its first render. Frames shared by several versions are kept when any kept version
needs them, and are counted once: for the newest kept version using them, else the newest version.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from reelforge.app.render_request import RenderRefused, plan_episodes
from reelforge.app.review_status import APPROVED, version_statuses
from reelforge.engine.shot import segment_key
from reelforge.media.encode import encode_settings
from reelforge.records import changelog
from reelforge.spec.model import Production
from reelforge.store.catalog import existing_catalog
from reelforge.store.hashing import cached_file_sha256
from reelforge.store.journal import JobFiles
from reelforge.store.paths import ProductionPaths, inside_production
from reelforge.store.schema import JobRecord, RenderRecord, RenderShot
from reelforge.store.segments import SegmentStore
from reelforge.store.usage import StoreContents, StoredFile, store_contents

REASONS = ("latest", "approved", "delivered", "current")  # why a version is kept, in the order they are shown
SUPERSEDED = "superseded"
UNKNOWN_SHOT = "(unknown)"  # a job folder that neither the catalog nor its manifest ties to a shot
DAY = 86400.0


@dataclass
class Version:
    """One job key of one shot, with everything stored for it."""

    job_key: str
    shot_path: str = UNKNOWN_SHOT
    frames: set[str] = field(default_factory=set)  # frame hashes its renders, manifest and journal name
    segment_shas: set[str] = field(default_factory=set)  # what its renders recorded for its segments
    segments: set[str] = field(default_factory=set)  # the stored segment keys that are its segments
    renders: set[int] = field(default_factory=set)
    reasons: set[str] = field(default_factory=set)
    last_used: float = 0.0  # seconds since the epoch: its newest render, or its newest file

    @property
    def kept(self) -> bool:
        return bool(self.reasons)

    @property
    def status(self) -> str:
        """Why it is kept ("latest, approved"), or "superseded"."""
        return ", ".join(r for r in REASONS if r in self.reasons) or SUPERSEDED

    @property
    def episode(self) -> str:
        return self.shot_path.split("/")[0]


@dataclass
class Retention:
    """The store's files and its versions, what is kept, and which version each frame and segment counts for."""

    paths: ProductionPaths
    contents: StoreContents
    versions: dict[str, Version]
    now: float
    frame_owner: dict[str, str] = field(default_factory=dict)  # stored frame → job key it counts for
    segment_owner: dict[str, str] = field(default_factory=dict)  # stored segment key → job key

    @property
    def kept_frames(self) -> set[str]:
        return {digest for v in self.versions.values() if v.kept for digest in v.frames}

    @property
    def kept_segments(self) -> set[str]:
        return {key for v in self.versions.values() if v.kept for key in v.segments}

    def age_days(self, version: Version) -> float:
        return max(0.0, self.now - version.last_used) / DAY

    def owned(self) -> dict[str, dict[str, list[StoredFile]]]:
        """The files counted for each version (by job key): its "jobs" folder, the "frames" and "segments" it owns."""
        owned = {key: {"jobs": list(self.contents.jobs.get(key, [])), "frames": [], "segments": []}
                 for key in self.versions}
        for digest, key in self.frame_owner.items():
            owned[key]["frames"].append(self.contents.frames[digest])
        for segment, key in self.segment_owner.items():
            owned[key]["segments"] += self.contents.segments[segment]
        return owned

    def unowned(self) -> dict[str, list[StoredFile]]:
        """Stored frames and segments no version names: superseded, aged by their own files."""
        return {"frames": [f for d, f in self.contents.frames.items() if d not in self.frame_owner],
                "segments": [f for s, files in self.contents.segments.items() if s not in self.segment_owner
                             for f in files]}


def retention(paths: ProductionPaths, production: Production, now: float | None = None) -> Retention:
    """What the store holds and what of it is kept, from the catalog, the change log and the current spec.

    Raises RenderRefused when the spec does not plan (what it plans is kept, so it must be known) or when
    the store holds work but the catalog is gone (what was rendered and delivered must be known too).
    """
    plans = plan_episodes(production, paths.spec)
    contents = store_contents(paths)
    if (contents.frames or contents.jobs) and not paths.catalog.exists():
        raise RenderRefused(f"{paths.catalog} is missing, so what was rendered, approved and delivered is unknown: "
                            "restore it from a backup before `reelforge store du | gc`")
    versions: dict[str, Version] = {}
    job_shots = _from_catalog(paths, versions, {job.shot_path for plan in plans for job in plan.jobs})
    _from_job_folders(paths, contents, versions, job_shots)
    segments = SegmentStore(paths.segments)
    settings = encode_settings(production.delivery)
    for job in (job for plan in plans for job in plan.jobs):  # rule 4: what the current spec renders next
        current = _version(versions, job.key)
        current.shot_path, current.reasons = job.shot_path, current.reasons | {"current"}
        frames = JobFiles(paths.jobs, job.key).read_manifest()
        segment = segment_key(frames, settings) if frames is not None else None
        if segment in contents.segments:
            current.segments.add(segment)
    by_sha: dict[str, list[Version]] = {}
    for v in versions.values():
        for sha in v.segment_shas:
            by_sha.setdefault(sha, []).append(v)
    for key in contents.segments:
        for v in by_sha.get(segments.recorded_sha256(key) or "", []):
            v.segments.add(key)
    result = Retention(paths, contents, versions, time.time() if now is None else now)
    _last_used(result)
    _assign_owners(result)
    return result


def _version(versions: dict[str, Version], key: str) -> Version:
    return versions.setdefault(key, Version(key))


def _from_catalog(paths: ProductionPaths, versions: dict[str, Version], planned_shots: set[str]) -> dict[str, str]:
    """Rules 1–3 from the catalog: every recorded render's versions, the latest (of the shots the spec still has),
    approved and delivered ones.

    Returns the shot of every recorded job key (a job folder's shot when no render of it was recorded).
    """
    with existing_catalog(paths.catalog) as catalog:
        if catalog is None:
            return {}
        with catalog.session() as session:
            rows = session.execute(select(RenderShot, RenderRecord.finished_at)
                                   .join(RenderRecord, RenderRecord.id == RenderShot.render_id)
                                   .order_by(RenderShot.render_id, RenderShot.position)).all()
            by_render: dict[int, list[RenderShot]] = {}
            latest: dict[str, str] = {}
            for row, finished_at in rows:
                v = _version(versions, row.job_key)
                v.shot_path = row.shot_path
                v.frames.update(row.frame_hashes)
                v.segment_shas.add(row.segment_sha256)
                v.renders.add(row.render_id)
                v.last_used = max(v.last_used, _epoch(finished_at))
                by_render.setdefault(row.render_id, []).append(row)
                latest[row.shot_path] = row.job_key  # rows run oldest first: the last one per shot is the newest
            for shot_path, key in latest.items():  # rule 1
                if shot_path in planned_shots:
                    versions[key].reasons.add("latest")
            present = _delivered_files(paths)
            for render in session.scalars(select(RenderRecord)):  # rule 3
                if render.id in by_render and _still_delivered(paths, render, present):
                    for row in by_render[render.id]:
                        versions[row.job_key].reasons.add("delivered")
            for (_, key), status in version_statuses(session).items():  # rule 2
                if status.status == APPROVED and key in versions:
                    versions[key].reasons.add("approved")
            job_shots = {key: shot for key, shot in session.execute(select(JobRecord.key, JobRecord.shot_path))}
    return job_shots


def _from_job_folders(paths: ProductionPaths, contents: StoreContents, versions: dict[str, Version],
                      job_shots: dict[str, str]) -> None:
    """Every job folder's manifest and journal: frames the catalog may not name (a render killed before its record)."""
    for key in contents.jobs:
        files, v = JobFiles(paths.jobs, key), _version(versions, key)
        v.shot_path = job_shots.get(key) or v.shot_path
        v.frames.update(files.read_manifest() or [])
        v.frames.update(files.read_journal().values())
        if v.shot_path == UNKNOWN_SHOT:
            v.shot_path = files.manifest_shot() or UNKNOWN_SHOT


def _delivered_files(paths: ProductionPaths) -> set[str]:
    """The SHA-256 of every file in the production's `renders/` folder (cached by size and mtime: a render's
    files are hashed once, not on every `du`)."""
    if not paths.renders.is_dir():
        return set()
    return {cached_file_sha256(path) for path in paths.renders.rglob("*") if path.is_file() and not path.is_symlink()}


def _still_delivered(paths: ProductionPaths, render: RenderRecord, present: set[str]) -> bool:
    """The render's file is on disk with its recorded bytes: in `renders/` (`present`), or where `--out` put it
    outside any production (a path in another production's folder is that production's file: the one this
    production was copied from, say)."""
    if render.output_sha256 in present:
        return True
    recorded = Path(render.output_path)
    if inside_production(paths.root, recorded) is not None or ProductionPaths.find_for_file(recorded) is not None:
        return False
    return recorded.is_file() and cached_file_sha256(recorded) == render.output_sha256


def _last_used(result: Retention) -> None:
    """Each version's last use: its newest render (already set), its job files and its stored frames and segments."""
    contents = result.contents
    for v in result.versions.values():
        files = list(contents.jobs.get(v.job_key, []))
        files += [contents.frames[d] for d in v.frames if d in contents.frames]
        files += [f for s in v.segments for f in contents.segments[s]]
        v.last_used = max([v.last_used, *(f.mtime for f in files)])


def _assign_owners(result: Retention) -> None:
    """Count each stored frame and segment once: for the newest kept version using it, else the newest version."""
    order = sorted(result.versions.values(), key=lambda v: (v.kept, v.last_used, v.job_key))
    for v in order:  # later (kept, newer) versions overwrite earlier ones
        for digest in v.frames:
            if digest in result.contents.frames:
                result.frame_owner[digest] = v.job_key
        for key in v.segments:
            result.segment_owner[key] = v.job_key


def _epoch(text: str) -> float:
    try:
        return changelog.parse_time(text).timestamp()
    except (ValueError, TypeError):
        return 0.0
