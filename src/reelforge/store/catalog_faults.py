"""When SQLite cannot use the catalog file: the error said of the file, and an integrity check.

SQLite reports a full disk, a read-only folder or a damaged file as an error about "the
database", wherever a query happens to run. `watch_errors` turns those into errors that name
`.reelforge/catalog.sqlite` — OSError (ENOSPC, EACCES) like any other file write, and
`CatalogDamaged` for a file that is not a database or is malformed — so the CLI and the
studio can say which file is in the way and what to do (app/faults.py). Anything else SQLite
raises (a constraint, a busy lock) is left to the code that runs the query.

SQLite keeps no checksums, so bytes flipped inside a page go unnoticed until a query trips on
them: `check_integrity` runs `PRAGMA quick_check` (the page structure, every record's format;
linear in the file's size: a few milliseconds for thousands of renders) where a damaged
catalog must be said before anything is trusted or added.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from sqlalchemy import Engine, event

# SQLite's primary result codes (the low byte of an extended code) and what they are to a user.
_DAMAGED = {sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT}
_ERRNO = {sqlite3.SQLITE_FULL: errno.ENOSPC, sqlite3.SQLITE_READONLY: errno.EACCES,
          sqlite3.SQLITE_CANTOPEN: errno.EACCES, sqlite3.SQLITE_PERM: errno.EACCES, sqlite3.SQLITE_IOERR: errno.EIO}


class CatalogDamaged(Exception):
    """The catalog file is not a database, or its pages are malformed: only a backup brings its records back."""

    def __init__(self, path: Path, problem: str):
        self.path, self.problem = Path(path), problem
        super().__init__(f"catalog {path} is damaged ({problem})")


def watch_errors(engine: Engine, path: Path) -> None:
    """Raise SQLite's errors about the file itself (full, read-only, damaged) as errors naming `path`."""

    @event.listens_for(engine, "handle_error")
    def _about_the_file(context) -> None:
        error = context.original_exception
        code = getattr(error, "sqlite_errorcode", None)
        if code is None:
            return
        if code & 0xFF in _DAMAGED:
            raise CatalogDamaged(path, str(error)) from error
        if code & 0xFF in _ERRNO:
            raise OSError(_ERRNO[code & 0xFF], str(error), str(path)) from error


def check_integrity(engine: Engine, path: Path) -> None:
    """`PRAGMA quick_check`; CatalogDamaged with SQLite's first problem unless the file is intact."""
    with engine.connect() as connection:
        report = [row[0] for row in connection.exec_driver_sql("PRAGMA quick_check").all()]
    if report != ["ok"]:
        # a row may hold several lines, headed "*** in database main ***": the first problem itself
        lines = [line for row in report for line in row.splitlines() if line and not line.startswith("***")]
        raise CatalogDamaged(path, f"quick_check: {lines[0] if lines else report[0]}")
