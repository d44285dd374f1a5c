"""SHA-256 of a file, streamed: the one hash every record (frames aside) uses for files.

Large files a job names (checkpoints, LoRAs, reference images) are hashed on every plan, and the
delivered files `store du | gc` looks for on every run, so `cached_file_sha256` keeps each file's hash in the user's cache folder and recomputes it only
when the file's size, mtime, inode or ctime changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from reelforge.store.atomic import write_text

_cache_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_file() -> Path:
    """Where file hashes are cached: $REELFORGE_CACHE_DIR, else the user's cache folder."""
    base = os.environ.get("REELFORGE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "reelforge")
    return Path(base) / "checkpoint-hashes.json"


def cached_file_sha256(path: Path) -> str:
    """SHA-256 of a file, recomputed only when its size, mtime, inode or ctime changed."""
    path = path.resolve()
    stat = path.stat()
    stamp = f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}:{stat.st_ctime_ns}"  # ctime: catches `cp -p`
    store = cache_file()
    with _cache_lock:
        try:
            cache = json.loads(store.read_text())
        except (OSError, ValueError, RecursionError):
            cache = {}
        if not isinstance(cache, dict):  # a damaged cache is rebuilt, never trusted
            cache = {}
        entry = cache.get(str(path))
        if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("sha256"), str):
            return entry["sha256"]
        sha = file_sha256(path)
        cache[str(path)] = {"stamp": stamp, "sha256": sha}
        store.parent.mkdir(parents=True, exist_ok=True)
        write_text(store, json.dumps(cache, indent=0, sort_keys=True))
        return sha
