"""Atomic file writes: a reader sees the old file or the whole new one, never half.

Data goes to a temporary file in the same folder, is flushed, and then renamed
over the target (rename is atomic on POSIX). A render killed at any moment
leaves at worst a stray `*.tmp-*` file, which nothing ever reads; a write that fails (a full
disk, a read-only folder) removes its temporary file and raises an OSError naming the target,
the file the user knows, not the temporary one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(target: Path, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it replaces `target`.

    `durable` fsyncs the file before the rename so a power loss cannot leave an
    empty file under the final name (frames skip this: the store re-checks
    every frame's hash on read, so a damaged frame is re-rendered, not trusted).
    """
    target = Path(target)
    prefix = f".{target.name}.tmp-"
    with _said_of(target, prefix):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=prefix, dir=target.parent)
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        with _said_of(target, prefix):
            yield tmp
            if durable:
                with open(tmp, "rb+") as handle:
                    os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs get the usual permissions
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _said_of(target: Path, prefix: str) -> Iterator[None]:
    """An OSError about the temporary file (or about no file: a failed write) re-raised as one about `target`."""
    try:
        yield
    except OSError as error:
        if error.errno is None or (error.filename is not None and not Path(error.filename).name.startswith(prefix)):
            raise
        raise OSError(error.errno, error.strerror, str(target)) from error


def write_bytes(target: Path, data: bytes, durable: bool = True) -> None:
    with atomic_path(target, durable=durable) as tmp:
        tmp.write_bytes(data)


def write_text(target: Path, text: str, durable: bool = True) -> None:
    write_bytes(target, text.encode("utf-8"), durable=durable)
