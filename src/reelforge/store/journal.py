"""Per-job render progress and finished frame manifests.

While a shot renders, each finished frame appends one line "<index> <sha256>"
to the job's journal (after the frame itself is safely in the store). A render
killed mid-shot resumes from the journal; a torn last line is simply ignored.
When the shot is complete its manifest (frame index → sha256) is written
atomically and the journal removed: a manifest exists only for a whole shot.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from reelforge.store.atomic import write_text

JOURNAL_LINE = re.compile(r"^(\d+) ([0-9a-f]{64})$")


class JobFiles:
    """The files of one job key under `.reelforge/jobs/<key>/`."""

    def __init__(self, jobs_root: Path, key: str):
        self.dir = Path(jobs_root) / key[:2] / key
        self.journal_path = self.dir / "journal"
        self.manifest_path = self.dir / "manifest.json"

    # -- journal -----------------------------------------------------------------
    def read_journal(self) -> dict[int, str]:
        """Frames recorded so far; lines that are torn or malformed are skipped."""
        if not self.journal_path.exists():
            return {}
        done: dict[int, str] = {}
        text = self.journal_path.read_text(encoding="ascii", errors="replace")
        for line in text.split("\n")[:-1]:  # the part after the last newline may be torn
            match = JOURNAL_LINE.match(line)
            if match:
                done[int(match.group(1))] = match.group(2)
        return done

    def append_journal(self, index: int, digest: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{index} {digest}\n".encode("ascii"))
        finally:
            os.close(fd)

    # -- manifest ----------------------------------------------------------------
    def read_manifest(self) -> list[str] | None:
        """The shot's frame hashes in order, or None if the shot was never completed."""
        if not self.manifest_path.exists():
            return None
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            frames = data["frames"]
        except (ValueError, KeyError, TypeError, RecursionError):  # damaged (a killed write, a hand edit)
            return None
        if not isinstance(frames, list) or not all(isinstance(f, str) and re.fullmatch(r"[0-9a-f]{64}", f)
                                                   for f in frames):
            return None
        return frames

    def manifest_shot(self) -> str | None:
        """The shot path the manifest's job names (None: no manifest, or a damaged one)."""
        try:
            shot_path = json.loads(self.manifest_path.read_text(encoding="utf-8"))["job"]["shot_path"]
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None
        return shot_path if isinstance(shot_path, str) else None

    def write_manifest(self, key: str, job_json: dict, frames: list[str]) -> None:
        manifest = {"key": key, "job": job_json, "frames": frames}
        write_text(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        self.journal_path.unlink(missing_ok=True)

    def forget_manifest(self) -> None:
        """Drop a manifest whose frames turned out damaged, so the shot renders again."""
        self.manifest_path.unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete the job's folder, manifest first: a kill mid-way never leaves a manifest of a partial job."""
        self.forget_manifest()
        self.journal_path.unlink(missing_ok=True)
        shutil.rmtree(self.dir, ignore_errors=True)
