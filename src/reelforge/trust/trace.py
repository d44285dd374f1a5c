"""Trace a suspect copy: read its invisible mark and find the render whose delivery carries it.

What `reelforge trace FILE` and the studio's "Trace a file" page both call. A copy that was
re-encoded, scaled, cropped or trimmed still carries the mark (see trust/mark.py); the catalog
says which render, and so which recipient, got the delivery with that mark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import DeliveryRecord, RenderRecord
from reelforge.trust.mark import MarkResult, detect_mark_in_file


class NotAVideo(ValueError):
    """The file cannot be decoded as video. `detail`: what the decoder said (it may name the file)."""

    def __init__(self, detail: str) -> None:
        super().__init__("not a video file this decoder can read")
        self.detail = detail


@dataclass(frozen=True)
class Trace:
    """What a file's mark says: the mark (found or not) and, when it is one of ours, the render."""

    mark: MarkResult
    render: RenderRecord | None = None
    delivery: DeliveryRecord | None = None
    tampered: str | None = None  # the render's rows disagree with its change-log entry: which, and no answer
    note: str | None = None  # why the rows could not be checked (logged before the log covered deliveries)

    @property
    def mark_hex(self) -> str | None:
        return f"{self.mark.mark_id:016x}" if self.mark.found else None

    @property
    def traced(self) -> bool:
        return self.render is not None and self.tampered is None


# find(paths, mark): the render carrying a found mark, its rows checked against the change log
# (app/checked_records.py: find_marked; the log is not this layer's to read).
FindMark = Callable[[ProductionPaths, MarkResult], Trace]


def read_mark(file: Path) -> MarkResult:
    """The file's invisible mark (found or not); NotAVideo when it cannot be decoded."""
    try:
        return detect_mark_in_file(file)
    except Exception as exc:  # noqa: BLE001 - whatever the decoder raises, an undecodable file is bad input
        raise NotAVideo(str(exc) or type(exc).__name__) from None


def trace_file(file: Path, paths: ProductionPaths, find: FindMark) -> Trace:
    """Read `file`'s mark and `find` the production's delivery that carries it (none recorded: no render)."""
    mark = read_mark(file)
    if not mark.found or not paths.catalog.exists():
        return Trace(mark)
    return find(paths, mark)
