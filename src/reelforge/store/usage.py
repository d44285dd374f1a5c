"""What a production's `.reelforge/` folder holds on disk: its files, their sizes and ages.

Sizes are the files' own lengths (`st_size`, what `du --apparent-size` adds up), so a total here is
exactly the sum of the bytes of the files it lists. A file removed while it is being listed (by a
render that replaced it) is skipped, never an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reelforge.store.paths import ProductionPaths


@dataclass(frozen=True)
class StoredFile:
    path: Path
    size: int  # bytes
    mtime: float  # seconds since the epoch: when it was last written


def files_under(folder: Path) -> Iterator[StoredFile]:
    """Every regular file below `folder` (links are not followed), in no particular order."""
    for parent, _, names in os.walk(folder):
        for name in names:
            path = Path(parent) / name
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            if not path.is_symlink():
                yield StoredFile(path, info.st_size, info.st_mtime)


def state_bytes(paths: ProductionPaths) -> int:
    """Bytes of every file in the production's `.reelforge/` folder (frames, segments, jobs, catalog, …)."""
    return sum(f.size for f in files_under(paths.state))
