"""Trace a suspect copy: read its invisible mark and find the render whose delivery carries it.

What `reelforge trace FILE` and the studio's "Trace a file" page both call. A copy that was
re-encoded, scaled, cropped or trimmed still carries the mark (see trust/mark.py); the catalog
says which render, and so which recipient, got the delivery with that mark.

The mark is read with the production's own mark key (trust/identity.py keeps it); a copy marked
under another key shows no mark. Deliveries marked before keying carry the public pattern: it is
tried too when the catalog records such deliveries, and a mark read with it names only one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av

from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import DeliveryRecord, RenderRecord
from reelforge.trust.identity import MARK_KEY, CredentialsError, default_identity_folder, read_mark_secret
from reelforge.trust.mark import PUBLIC_PATTERN, MarkKey, MarkResult, detect_mark_in_file
from reelforge.trust.mark_keys import key_problem


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


def production_mark_keys(paths: ProductionPaths) -> list[MarkKey]:
    """The keys the production's deliveries were marked with: its own key (if it has one), then the public
    pattern if some delivery was marked before keying. CredentialsError when its key file is unreadable, or
    gone or replaced while the catalog records deliveries marked with it (trust/mark_keys.py)."""
    keys = []
    folder = default_identity_folder(paths.root)
    secret = read_mark_secret(folder)
    problem = key_problem(folder / MARK_KEY, secret, paths.catalog)
    if problem is not None:
        raise CredentialsError(problem)
    if secret is not None:
        keys.append(MarkKey(secret))
    if paths.catalog.exists():
        with Catalog(paths.catalog) as catalog:
            if catalog.has_public_pattern_marks():
                keys.append(PUBLIC_PATTERN)
    return keys


def read_mark(file: Path, keys: list[MarkKey]) -> MarkResult:
    """The file's invisible mark under the first of `keys` that finds one (found or not); NotAVideo when it
    cannot be decoded. With no keys there is nothing to find (the production never marked a delivery)."""
    try:
        if not keys:  # still said when it is not a video: "no mark" is an answer about a video
            return MarkResult(False, None, 0.0, None, 0.0, 0, {"reason": "the production has no mark key",
                                                               "frames": _decoded_frames(file)})
        return detect_mark_in_file(file, keys)
    except Exception as exc:  # noqa: BLE001 - whatever the decoder raises, an undecodable file is bad input
        raise NotAVideo(str(exc) or type(exc).__name__) from None


def _decoded_frames(file: Path) -> int:
    """How many video frames the file decodes to (ValueError: none)."""
    with av.open(str(file)) as container:
        frames = sum(1 for _ in container.decode(container.streams.video[0]))
    if frames == 0:
        raise ValueError(f"{file}: no video frames")
    return frames


def trace_file(file: Path, paths: ProductionPaths, find: FindMark) -> Trace:
    """Read `file`'s mark and `find` the production's delivery that carries it (none recorded: no render)."""
    mark = read_mark(file, production_mark_keys(paths))
    if not mark.found or not paths.catalog.exists():
        return Trace(mark)
    return find(paths, mark)
