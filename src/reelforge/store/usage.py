"""What a production's `.reelforge/` folder holds on disk: its files, their sizes and ages.

Sizes are the files' own lengths (`st_size`; `du` also counts the folders), so a total here is
exactly the sum of the bytes of the files it lists. A file removed while it is being listed (by a
render that replaced it) is skipped, never an error. `store_contents` sorts every file into one
part (a frame by hash, a job's files by key, a segment by key, or the catalog, assets, identity and
the rest), so the parts add up to the folder's bytes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from reelforge.store.frames import FrameStore
from reelforge.store.journal import JobFiles
from reelforge.store.paths import ProductionPaths

HEX_KEY = re.compile(r"[0-9a-f]{64}")  # a frame hash, a job key, a segment key
SEGMENT_SUFFIXES = (".mp4", ".json")  # <key>.mp4 and its record <key>.json (store/segments.py)


@dataclass(frozen=True)
class StoredFile:
    path: Path
    size: int  # bytes
    mtime: float  # seconds since the epoch: when it was last written


def files_under(folder: Path, skip: Collection[Path] = ()) -> Iterator[StoredFile]:
    """Every regular file below `folder` (links are not followed), in no particular order; none below `skip`."""
    for parent, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if Path(parent) / name not in skip]
        for name in names:
            path = Path(parent) / name
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            if not path.is_symlink():
                yield StoredFile(path, info.st_size, info.st_mtime)


@dataclass
class StoreContents:
    """Every file under `.reelforge/`, each in exactly one part."""

    frames: dict[str, StoredFile] = field(default_factory=dict)  # by frame hash
    jobs: dict[str, list[StoredFile]] = field(default_factory=dict)  # a job's manifest / journal, by job key
    segments: dict[str, list[StoredFile]] = field(default_factory=dict)  # <key>.mp4 and <key>.json, by segment key
    parts: dict[str, list[StoredFile]] = field(default_factory=dict)  # "catalog", "assets", "identity", "other"

    @property
    def bytes(self) -> int:
        groups = [[f] for f in self.frames.values()] + [*self.jobs.values(), *self.segments.values(),
                                                         *self.parts.values()]
        return sum(f.size for group in groups for f in group)


def store_contents(paths: ProductionPaths) -> StoreContents:
    """The production's `.reelforge/` files sorted into frames, jobs, segments and the other parts.

    A file is a frame, job file or segment only where the store itself would put one of that name
    (`FrameStore.path`, `JobFiles`, `<key>.mp4|json`), so a work file a killed render left is "other".
    """
    contents = StoreContents()
    frames = FrameStore(paths.frames)
    for stored in files_under(paths.state):
        relative = stored.path.relative_to(paths.state)
        top, stem = relative.parts[0], stored.path.name.split(".")[0]
        if top == paths.frames.name and HEX_KEY.fullmatch(stem) and frames.path(stem) == stored.path:
            contents.frames[stem] = stored
        elif top == paths.jobs.name and len(relative.parts) == 4 and HEX_KEY.fullmatch(relative.parts[2]) \
                and JobFiles(paths.jobs, relative.parts[2]).dir == stored.path.parent:
            contents.jobs.setdefault(relative.parts[2], []).append(stored)
        elif top == paths.segments.name and len(relative.parts) == 2 and HEX_KEY.fullmatch(stem) \
                and stored.path.name in {stem + suffix for suffix in SEGMENT_SUFFIXES}:
            contents.segments.setdefault(stem, []).append(stored)
        else:
            contents.parts.setdefault(_part(paths, relative), []).append(stored)
    return contents


def _part(paths: ProductionPaths, relative: Path) -> str:
    if relative.name.startswith(paths.catalog.name) and len(relative.parts) == 1:  # the file and its -wal, -shm
        return "catalog"
    return {paths.assets.name: "assets", paths.identity.name: "identity"}.get(relative.parts[0], "other")


SAMPLE_FRAMES = 20_000  # frames stat'ed before the rest of a large frame store is estimated from them


@dataclass(frozen=True)
class StoreSize:
    """How big `.reelforge/` is, and how many frames it holds; `sampled`: estimated from part of the frames."""

    total: int  # bytes of every file in `.reelforge/`
    frames: int  # frames in the frame store
    frame_bytes: int  # their bytes
    sampled: bool = False

    @property
    def mean_frame_bytes(self) -> float | None:
        """What a stored frame takes on disk on average (None: the store has no frame yet)."""
        return self.frame_bytes / self.frames if self.frames else None


def store_size(paths: ProductionPaths, sample_frames: int = SAMPLE_FRAMES) -> StoreSize:
    """The size of `.reelforge/` from file sizes alone (nothing is opened or decoded).

    Everything outside `frames/` is listed in full (a few files per shot). The frame store is
    sharded by the first two hex digits of each frame's SHA-256, so every shard holds a uniform
    random share of the frames: its shards are listed in name order until `sample_frames` frames
    have been seen, and the rest are taken to hold as many frames of the same sizes (count and
    bytes scaled by shards in all ÷ shards listed; `sampled` says so). A store under
    `sample_frames` frames is listed in full and measured exactly. Hidden files in a shard (a
    frame being written) count as bytes, not frames.
    """
    # 1. Everything but the frames, in full.
    other = sum(f.size for f in files_under(paths.state, skip={paths.frames}))
    # 2. The frames, shard by shard until the sample is big enough.
    shards = sorted(entry for entry in _entries(paths.frames) if entry.is_dir() and not entry.is_symlink())
    loose = sum(f.size for f in files_under(paths.frames, skip=set(shards)))
    frames = frame_bytes = hidden = listed = 0
    for shard in shards:
        if frames >= sample_frames:
            break
        for f in files_under(shard):
            if f.path.name.startswith("."):
                hidden += f.size
            else:
                frames += 1
                frame_bytes += f.size
        listed += 1
    # 3. Scale the sample up to every shard.
    scale = len(shards) / listed if listed else 1.0
    frames, frame_bytes = round(frames * scale), round(frame_bytes * scale)
    return StoreSize(total=other + loose + hidden + frame_bytes, frames=frames, frame_bytes=frame_bytes,
                     sampled=listed < len(shards))


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []

