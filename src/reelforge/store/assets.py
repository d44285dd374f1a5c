"""Files a production's records depend on, kept by content hash under `.reelforge/assets/`.

A LUT, a character's reference image, a LoRA named by a commit, a watermark logo: each version
is copied to `<sha256><suffix>`, so a job, a commit or a delivery names a file that cannot move
or change under it, and `verify` applies exactly the same file months later. The records hold
the path relative to the production, never a user's home folder.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from reelforge.store.atomic import atomic_path, write_bytes
from reelforge.store.hashing import file_sha256
from reelforge.store.paths import ProductionPaths


class AssetChanged(Exception):
    """A file changed while it was being kept (its copy no longer has the hash it was kept under)."""


def keep_asset(path: Path, root: Path, sha256: str | None = None) -> Path:
    """Keep this version of `path` in the production at `root`; the kept copy's path (named by its SHA-256).

    Small files are read whole. A large file already hashed (`sha256`, a LoRA hashed like a
    checkpoint) is copied in a stream and the copy checked against that hash (AssetChanged).
    """
    folder = ProductionPaths.for_root(root).assets
    if sha256 is None:
        data = Path(path).read_bytes()
        kept = folder / f"{hashlib.sha256(data).hexdigest()}{Path(path).suffix.lower()}"
        if not kept.exists():
            write_bytes(kept, data)
        return kept
    kept = folder / f"{sha256}{Path(path).suffix.lower()}"
    if not kept.is_file():
        with atomic_path(kept) as tmp:
            shutil.copyfile(path, tmp)
            if file_sha256(tmp) != sha256:
                raise AssetChanged(f"{path} changed while it was being kept")
    return kept


def kept_copies(sha256: str, root: Path) -> list[Path]:
    """The copies kept of a file with this content hash in the production at `root` (any suffix)."""
    return sorted(ProductionPaths.for_root(root).assets.glob(f"{sha256}*"))
