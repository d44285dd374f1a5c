"""Encoded shot segments under `.reelforge/segments/`, by segment key, each with its recorded SHA-256.

A segment is a shot's frames encoded as one closed segment in the delivery's format and container
(H.264 or HEVC MP4, ProRes or DNxHR MOV: media/encode.py); its file name ends `.mp4` whatever its
container, since the join (concat) reads the container from the file itself, not from its name. Its
key fixes the frames, the encode settings and the encode code (engine/shot.py: `segment_key`), so an
episode is re-joined from stored segments without encoding anything again. `<key>.json`
beside each segment records the bytes' hash: a segment that no longer matches it is encoded
again from the stored frames, never joined into a delivery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from reelforge.store.atomic import write_text
from reelforge.store.hashing import file_sha256
from reelforge.store.paths import WORK_PREFIX


@dataclass(frozen=True)
class SegmentStore:
    folder: Path

    def incoming(self, name: str) -> Path:
        """A work file in the segments folder; one a killed render left is swept by the next render."""
        return self.folder / f"{WORK_PREFIX}{name}"

    def stored(self, key: str) -> tuple[Path, str] | None:
        """(segment, sha256) when the segment of this key is stored and still has its recorded bytes."""
        segment = self.folder / f"{key}.mp4"
        if not segment.exists():
            return None
        expected = self.recorded_sha256(key)
        return (segment, expected) if expected is not None and file_sha256(segment) == expected else None

    def recorded_sha256(self, key: str) -> str | None:
        """The hash `<key>.json` records for the segment (None: no record, or a damaged one), its bytes unread."""
        try:
            expected = json.loads((self.folder / f"{key}.json").read_text())["sha256"]
        except (OSError, ValueError, KeyError, TypeError, RecursionError):  # a damaged record: encode it again
            return None
        return expected if isinstance(expected, str) else None

    def remove(self, key: str) -> None:
        """Delete a segment, then its record: a kill in between leaves a record with no segment (never joined)."""
        (self.folder / f"{key}.mp4").unlink(missing_ok=True)
        (self.folder / f"{key}.json").unlink(missing_ok=True)

    def keep(self, encoded: Path, key: str) -> tuple[Path, str]:
        """Move a freshly encoded segment into place under its key and record its hash: (segment, sha256)."""
        segment = self.folder / f"{key}.mp4"
        sha = file_sha256(encoded)
        encoded.replace(segment)
        write_text(self.folder / f"{key}.json", json.dumps({"sha256": sha}) + "\n")
        return segment, sha
