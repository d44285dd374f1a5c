"""Trace a suspect copy: read its invisible mark and find the render whose delivery carries it.

What `reelforge trace FILE` and the studio's "Trace a file" page both call. A copy that was
re-encoded, scaled, cropped or trimmed still carries the mark (see trust/mark.py); the catalog
says which render, and so which recipient, got the delivery with that mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reelforge.store.catalog import Catalog
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

    @property
    def mark_hex(self) -> str | None:
        return f"{self.mark.mark_id:016x}" if self.mark.found else None

    @property
    def traced(self) -> bool:
        return self.render is not None


def read_mark(file: Path) -> MarkResult:
    """The file's invisible mark (found or not); NotAVideo when it cannot be decoded."""
    try:
        return detect_mark_in_file(file)
    except Exception as exc:  # noqa: BLE001 - whatever the decoder raises, an undecodable file is bad input
        raise NotAVideo(str(exc) or type(exc).__name__) from None


def trace_file(file: Path, paths: ProductionPaths) -> Trace:
    """Read `file`'s mark and look it up among the production's deliveries (none recorded: no render)."""
    mark = read_mark(file)
    if not mark.found or not paths.catalog.exists():
        return Trace(mark)
    with Catalog(paths.catalog) as catalog:
        found = catalog.render_for_mark(mark.mark_id)
    if found is None:
        return Trace(mark)
    render, delivery = found
    return Trace(mark, render, delivery)
