"""Where a production keeps its shots' work: frames by hash, each job's journal and manifest, encoded segments.

One object to hand to a shot's unit of work (engine/shot.py) instead of a production: it is
all of `.reelforge/` a render of a shot reads or writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reelforge.store.frames import FrameStore
from reelforge.store.journal import JobFiles
from reelforge.store.paths import ProductionPaths
from reelforge.store.segments import SegmentStore


@dataclass(frozen=True)
class ShotStore:
    frames: FrameStore
    jobs: Path
    segments: SegmentStore

    @classmethod
    def of(cls, paths: ProductionPaths) -> ShotStore:
        """The shot store of a production (`.reelforge/frames`, `jobs`, `segments`)."""
        return cls(FrameStore(paths.frames), paths.jobs, SegmentStore(paths.segments))

    def job(self, key: str) -> JobFiles:
        """The journal and manifest of one job key."""
        return JobFiles(self.jobs, key)

    def holds(self, key: str, frames: int) -> bool:
        """Whether a whole render of the job is kept (its manifest names every frame): a cut can be joined from it
        without rendering. Its frames are re-hashed when they are used, not here (a status reads this often)."""
        manifest = self.job(key).read_manifest()
        return manifest is not None and len(manifest) == frames
