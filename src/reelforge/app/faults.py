"""When the machine or a file is in the way: a full disk, a read-only folder, a damaged catalog.

Nothing the user typed is wrong and nothing in reelforge is broken, so these are neither bad
input (exit 2) nor a bug: they are said in one line naming the file and what to do, and the
CLI exits 3 (`IN_THE_WAY`). Every write is atomic (store/atomic.py) and the catalog is
SQLite's, so such a failure leaves what was there before as it was and a render run again
resumes. Any other exception is a bug (`INTERNAL`, 70, sysexits' EX_SOFTWARE).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from reelforge.store.catalog_faults import CatalogDamaged

IN_THE_WAY = 3  # exit code: the disk is full, a folder is read-only, the catalog is damaged
INTERNAL = 70  # exit code: an unexpected exception, a bug (EX_SOFTWARE)

_FULL = {errno.ENOSPC: "no space left on the disk", errno.EDQUOT: "disk quota exceeded"}
_DENIED = {errno.EROFS, errno.EACCES, errno.EPERM}


def fault_message(error: BaseException, show: Callable[[Path], str] = str) -> str | None:
    """One line for an error the machine or a file causes (it or what it was raised from); None for anything else.

    `show` writes a path the way its reader names files (the CLI: relative to the current folder).
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:  # what it was raised from, e.g. PyAV's or Ray's wrapper
        seen.add(id(error))
        if isinstance(error, CatalogDamaged):
            return f"catalog {show(error.path)} is damaged ({error.problem}): restore it from a backup"
        if isinstance(error, OSError) and error.errno in (*_FULL, *_DENIED, errno.EIO):
            return _os_message(error, show)
        error = error.__cause__ or error.__context__
    return None


def internal_message(error: BaseException) -> str:
    return (f"internal error: {type(error).__name__}: {error} — this is a bug; run again with REELFORGE_DEBUG=1 "
            "for the traceback and report it")


def _os_message(error: OSError, show: Callable[[Path], str]) -> str:
    file = show(Path(os.fsdecode(error.filename))) if error.filename else "a file"
    if error.errno in _FULL:
        return (f"{_FULL[error.errno]} writing {file}: free some space and run the command again "
                "(a render resumes where it stopped; what was there before is intact)")
    if error.errno in _DENIED:
        return (f"cannot write {file} ({error.strerror}): make its folder writable, or work on a copy of the "
                "production")
    return f"input/output error on {file}: the disk may be failing; check it, and restore from a backup if needed"
