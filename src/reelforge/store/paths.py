"""Where a production keeps its files: the spec, its `.reelforge/` state and its renders.

The one place the `.reelforge/` layout is spelled: frames, job journals, segments, the
catalog, kept assets, the signing identity, uploads and the render lock.
"""

from __future__ import annotations

import fcntl
import fnmatch
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
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
# An upload's file is made under this prefix, locked, then renamed to UPLOAD_INCOMING_PREFIX: a sweep
# never sees an incoming file before its lock. One left by a process killed in that instant is swept
# once it is older than CLAIM_STALE_S.
UPLOAD_CLAIMING_PREFIX, CLAIM_STALE_S = ".claiming-", 60.0
# What studios before issue 16 kept an upload as (<sha256><suffix>): nothing reads them, so they are swept too.
LEGACY_UPLOAD_NAME = re.compile(r"[0-9a-f]{64}\.(mp4|mov|mkv|webm|avi|ts|bin)")
# Where a render writes beside its episodes: shot ranges in shots/, takes in takes/EPISODE/SCENE/SHOT/.
SHOTS_DIR, TAKES_DIR, TAKES_DEPTH = "shots", "takes", 3
# A frame sequence folder is named <video stem>.<format>-sequence ('.' is in no id: it never takes a delivery's
# folder); it is written as .<folder>.partial-* and the one it replaces moved to .<folder>.old-* (deliver/sequence.py).
SEQUENCE_SUFFIX, SEQUENCE_WORK = "-sequence", ("partial", "old")
LOCK_POLL_S = 0.05  # how often a command that may wait for the lock tries again


class ProductionBusy(Exception):
    """Another command (a render, a first commit) holds this production's lock; the message says which."""


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

    def remove_stale_temp_files(self, out_dir: Path, delivery_dirs: Iterable[Path] = ()) -> int:
        """Delete temporary files a killed render, upload or identity creation left behind (call only while
        holding the lock): in the output folder and each named delivery's (`delivery_dirs`), their shots/ and
        takes/ trees too, the hidden files of atomic writes and the hidden folders of frame sequences."""
        removed = sum(_remove_render_work(folder) for folder in dict.fromkeys([Path(out_dir), *delivery_dirs]))
        patterns = [(self.segments, ".*.tmp-*"), (self.segments, f"{WORK_PREFIX}*"), (self.frames, "*/.*.tmp-*"),
                    (self.jobs, "*/*/.*.tmp-*")]
        for folder, pattern in patterns:
            if folder.is_dir():
                for stale in folder.glob(pattern):
                    stale.unlink(missing_ok=True)
                    removed += 1
        for stale in self.state.glob(f".{self.identity.name}.tmp-*"):  # an identity a killed process was making
            shutil.rmtree(stale, ignore_errors=True)
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
                         or LEGACY_UPLOAD_NAME.fullmatch(stale.name) is not None
                         or (stale.name.startswith(UPLOAD_CLAIMING_PREFIX) and _older_than(stale, CLAIM_STALE_S)))
            if is_upload and stale.is_file() and _unlocked(stale):
                stale.unlink(missing_ok=True)
                removed += 1
        return removed

    @property
    def lock_file(self) -> Path:
        """The production's lock (an flock): renders, and whatever first creates the identity and catalog."""
        return self.state / "render.lock"

    @contextmanager
    def lock(self, holder: str = "another command", wait: float = 0.0) -> Iterator[None]:
        """Hold the production's lock: one render at a time (the journal and segments are shared).

        `holder` ("a render", "a commit") is written into the lock file so a command turned away can say
        what holds it. `wait`: seconds to keep trying before ProductionBusy (0: refuse at once). The lock
        is an flock, so a killed holder leaves nothing that needs cleaning up.
        """
        self.state.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise ProductionBusy(f"production busy: {_holder(fd)} holds {self.lock_file}, "
                                             "try again") from None
                    time.sleep(LOCK_POLL_S)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{holder} (pid {os.getpid()})".encode(), 0)
            yield
        finally:
            os.close(fd)


def _remove_render_work(out: Path) -> int:
    """Remove what killed writers left in a delivery folder `out`, its shots/ and its takes/EPISODE/SCENE/SHOT/
    folders: files named as atomic writes name them, folders named as frame sequences are written and replaced.
    Nothing else is touched, and no link is followed below `out` (one of those names that is a link: the link goes)."""
    folders = [out, out / SHOTS_DIR, *_folders_below(out / TAKES_DIR, TAKES_DEPTH)]
    removed = 0
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:  # not there (or not a folder): nothing was left in it
            continue
        for entry in entries:
            if fnmatch.fnmatchcase(entry.name, ".*.tmp-*") and not entry.is_dir(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)
            elif any(fnmatch.fnmatchcase(entry.name, f".*{SEQUENCE_SUFFIX}.{work}-*") for work in SEQUENCE_WORK):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    Path(entry.path).unlink(missing_ok=True)
            else:
                continue
            removed += 1
    return removed


def _folders_below(root: Path, depth: int) -> list[Path]:
    """The real folders exactly `depth` levels below `root` (links not followed)."""
    level = [root]
    for _ in range(depth):
        below = []
        for folder in level:
            try:
                below += [Path(e.path) for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
            except OSError:
                continue
        level = below
    return level


def _holder(fd: int) -> str:
    """What the holder of a lock wrote into it; "another command" if it has not written yet."""
    return os.pread(fd, 200, 0).decode(errors="replace").strip() or "another command"


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except OSError:
        return False


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
