"""Where a production keeps its files: the spec, its `.reelforge/` state and its renders.

The one place the `.reelforge/` layout is spelled: frames, job journals, segments, the
catalog, kept assets, the signing identity, uploads and the render lock.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STATE_DIR = ".reelforge"
SPEC_NAME = "production.json"  # what `init` writes and what a folder of a production is found by
# A work file of a render (a segment being encoded, a delivery being assembled): one a killed render left
# is swept by the next render.
WORK_PREFIX = "incoming-"
# An upload a studio holds (studio/uploads.py locks its file while it arrives and is traced): sweeps pass it by.
UPLOAD_INCOMING_PREFIX, UPLOAD_INCOMING_SUFFIX = ".incoming-", ".part"
# What studios before issue 16 kept an upload as (<sha256><suffix>): nothing reads them, so they are swept too.
LEGACY_UPLOAD_NAME = re.compile(r"[0-9a-f]{64}\.(mp4|mov|mkv|webm|avi|ts|bin)")


class ProductionBusy(Exception):
    """Another render holds this production's lock."""


def inside_production(root: Path, recorded: str | Path) -> Path | None:
    """The recorded path resolved (links followed), if it lies inside the production folder `root`; else None.

    What the Open Studio serves or reads for a recorded file: a catalog edited to point elsewhere,
    or a link leading out of the folder, never gets a file outside it read.
    """
    resolved = Path(recorded).resolve()
    return resolved if resolved.is_relative_to(Path(root).resolve()) else None


@dataclass(frozen=True)
class ProductionPaths:
    spec: Path

    @property
    def root(self) -> Path:
        return self.spec.parent

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    @property
    def frames(self) -> Path:
        return self.state / "frames"

    @property
    def jobs(self) -> Path:
        return self.state / "jobs"

    @property
    def segments(self) -> Path:
        return self.state / "segments"

    @property
    def catalog(self) -> Path:
        return self.state / "catalog.sqlite"

    @property
    def assets(self) -> Path:
        """Files the records depend on (LUTs, references, logos), kept by content hash."""
        return self.state / "assets"

    @property
    def identity(self) -> Path:
        """The production's own signing identity (chain, key, root)."""
        return self.state / "identity"

    @property
    def uploads(self) -> Path:
        """Files being uploaded to the Open Studio (a suspect copy to trace), held only while answering."""
        return self.state / "uploads"

    @property
    def renders(self) -> Path:
        return self.root / "renders"

    @classmethod
    def for_spec(cls, spec: str | Path) -> ProductionPaths:
        return cls(Path(spec).absolute())  # not resolve(): a symlinked spec renders beside the link

    @classmethod
    def for_root(cls, root: str | Path) -> ProductionPaths:
        """The paths of the production in folder `root` (its spec taken to be `production.json`), as given."""
        return cls(Path(root) / SPEC_NAME)

    @classmethod
    def find_for_file(cls, path: Path) -> ProductionPaths | None:
        """The production a delivered file belongs to: the nearest parent with a `.reelforge/` folder."""
        for parent in Path(path).resolve().parents:
            if (parent / STATE_DIR).is_dir():
                return cls(parent / SPEC_NAME)
        return None

    def remove_stale_temp_files(self, out_dir: Path) -> int:
        """Delete temporary files a killed render or upload left behind (call only while holding the lock)."""
        patterns = [(out_dir, ".*.tmp-*"), (out_dir / "shots", ".*.tmp-*"), (self.segments, ".*.tmp-*"),
                    (self.segments, f"{WORK_PREFIX}*"), (self.frames, "*/.*.tmp-*"), (self.jobs, "*/*/.*.tmp-*")]
        removed = 0
        for folder, pattern in patterns:
            if folder.is_dir():
                for stale in folder.glob(pattern):
                    stale.unlink(missing_ok=True)
                    removed += 1
        return removed + self.remove_stale_uploads()

    def remove_stale_uploads(self) -> int:
        """Delete the uploads no live process holds: a killed studio's partial or checked files, and the
        copies older studios kept by content hash. An upload in use holds a lock on its file and is left alone."""
        if not self.uploads.is_dir():
            return 0
        removed = 0
        for stale in self.uploads.iterdir():
            is_upload = (stale.name.startswith(UPLOAD_INCOMING_PREFIX)
                         or LEGACY_UPLOAD_NAME.fullmatch(stale.name) is not None)
            if is_upload and stale.is_file() and _unlocked(stale):
                stale.unlink(missing_ok=True)
                removed += 1
        return removed

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One render at a time per production (the journal and segments are shared)."""
        self.state.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state / "render.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ProductionBusy(f"another render is running in {self.root}") from None
            yield
        finally:
            os.close(fd)


def _unlocked(path: Path) -> bool:
    """True if no process holds an flock on `path` (its writer is gone); False if one does or it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases the lock taken just now
    return True
