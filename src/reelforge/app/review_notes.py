"""Notes pinned to a frame of one version of a shot, with a simple drawing over it (issue 17).

A note is what a director says about one frame ("the lamp flickers here") and, optionally, what
they drew on it: arrows, boxes and freehand strokes. It belongs to a *version* (a job key, as a
review status does): the frames a note points at are that version's, by content hash, so the
note still shows the exact pixels after the shot is re-rendered differently.

Every note is a change-log entry of kind "note" (entity `shot:PATH`; after = {job_key, version,
render_id, frame, frame_sha256, text, drawing}; the reason is the text), covered by a signed
checkpoint; its id is the entry's sequence number. Strokes are stored in normalized coordinates
(0..1 across the frame's width and height), so they draw the same on any size of still.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from reelforge.app.log_write import signed_write
from reelforge.app.review_status import ReviewRefused, chosen_version, known_shot
from reelforge.records import changelog
from reelforge.records.render_log import current_version
from reelforge.spec.model import Production
from reelforge.store.catalog import existing_catalog
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import LogEntry

TOOLS = {"arrow": (2, 2), "box": (2, 2), "freehand": (2, 2000)}  # tool → (fewest, most) points
MAX_STROKES = 200
MAX_TEXT = 4000  # characters
MAX_DRAWING_BYTES = 1_000_000  # a drawing file or field larger than this is refused before it is parsed


class NoteRefused(ReviewRefused):
    """A note that cannot be kept (unknown frame, a bad drawing, no text): the message says why."""


@dataclass(frozen=True)
class Note:
    """One note on one frame of one version of a shot."""

    id: int  # its change-log entry
    shot: str
    job_key: str
    version: int  # the version's number when the note was written
    render_id: int
    frame: int  # the frame's index in the shot
    frame_sha256: str  # the frame's digest in the frame store
    text: str
    drawing: tuple[dict, ...]  # {"tool": "arrow"|"box"|"freehand", "points": [[x, y], …]} (0..1)
    actor: str
    at: str

    def to_json(self) -> dict:
        return {"id": self.id, "shot": self.shot, "job_key": self.job_key, "version": self.version,
                "render_id": self.render_id, "frame": self.frame, "frame_sha256": self.frame_sha256,
                "text": self.text, "drawing": list(self.drawing), "actor": self.actor, "at": self.at}


# --------------------------------------------------------------------------- drawings


def parse_drawing(data: object, where: str = "drawing") -> list[dict]:
    """A drawing checked stroke by stroke, in the stored form; NoteRefused naming the JSON path of a problem.

    A drawing is a list of strokes, each {"tool": arrow|box|freehand, "points": [[x, y], …]} with x, y
    between 0 and 1 (fractions of the frame's width and height); an arrow and a box have two points
    (from, to; two corners), a freehand stroke two or more.
    """
    if isinstance(data, dict) and "strokes" in data:  # a file may wrap the list: {"strokes": […]}
        data, where = data["strokes"], f"{where}.strokes"
    if not isinstance(data, list):
        raise NoteRefused(f"{where}: must be a list of strokes, got {type(data).__name__}")
    if len(data) > MAX_STROKES:
        raise NoteRefused(f"{where}: {len(data)} strokes, at most {MAX_STROKES}")
    strokes = []
    for number, stroke in enumerate(data):
        here = f"{where}[{number}]"
        if not isinstance(stroke, dict):
            raise NoteRefused(f"{here}: must be an object with tool and points")
        tool, points = stroke.get("tool"), stroke.get("points")
        if tool not in TOOLS:
            raise NoteRefused(f"{here}.tool: must be one of {', '.join(TOOLS)}, got {tool!r}")
        fewest, most = TOOLS[tool]
        if not isinstance(points, list) or not fewest <= len(points) <= most:
            count = f"{fewest}" if fewest == most else f"{fewest} to {most}"
            raise NoteRefused(f"{here}.points: a {tool} needs {count} points [x, y]")
        strokes.append({"tool": tool, "points": [_point(point, f"{here}.points[{i}]")
                                                 for i, point in enumerate(points)]})
    return strokes


def _point(point: object, where: str) -> list[float]:
    if (not isinstance(point, list) or len(point) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)):
        raise NoteRefused(f"{where}: must be [x, y], two numbers")
    if not all(0 <= v <= 1 for v in point):  # compared as given: an integer of 400 digits is no float; NaN fails
        raise NoteRefused(f"{where}: x and y must lie between 0 and 1 (fractions of the frame), "
                          f"got [{', '.join(map(_said, point))}]")
    x, y = (float(v) for v in point)
    return [round(x, 5), round(y, 5)]  # five decimals: a tenth of a pixel of an 8K frame


def _said(value: int | float) -> str:
    """A coordinate as the refusal repeats it: itself, unless it is too long to read in one line."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**12 else "a number of over 12 digits"
    return "a number out of range" if text in ("inf", "-inf") else text


def _json_int(text: str) -> int | float:
    """A JSON integer, as `json` reads one; one of more digits than Python converts (4300) is read as a float
    (infinite), so the drawing check refuses it by its JSON path instead of json.loads failing without one."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def drawing_from_text(text: str, where: str) -> list[dict]:
    """A drawing from JSON text (a file, a form field); NoteRefused naming `where` when it is not one."""
    if len(text.encode()) > MAX_DRAWING_BYTES:
        raise NoteRefused(f"{where}: larger than {MAX_DRAWING_BYTES // 1_000_000} MB")
    try:
        data = json.loads(text, parse_int=_json_int) if text.strip() else []
    except (json.JSONDecodeError, RecursionError) as exc:
        raise NoteRefused(f"{where}: not JSON ({getattr(exc, 'msg', exc)})") from None
    return parse_drawing(data, where)


# --------------------------------------------------------------------------- writing


def add_note(paths: ProductionPaths, production: Production, shot: str, frame: int, text: str, actor: str,
             drawing: list | None = None, version: int | None = None, job_key: str | None = None,
             announce: Callable[[str], None] | None = None) -> Note:
    """Pin a note to frame `frame` of one version of `shot` (the one it stands at, or the one named) in the change log.

    Steps: check the text, the drawing and the shot; find the version and the frame's digest; append a
    "note" entry and sign a checkpoint, beside any render (app/log_write.py). Raises NoteRefused (a ReviewRefused),
    DeliveryError (an unusable signing identity) or ProductionBusy.
    """
    text = (text or "").strip()
    if not text:
        raise NoteRefused("a note needs text: say what to look at")
    if len(text) > MAX_TEXT:
        raise NoteRefused(f"the note is {len(text)} characters: at most {MAX_TEXT}")
    strokes = parse_drawing(drawing if drawing is not None else [])
    known_shot(production, shot)
    chosen = chosen_version(paths, production, shot, version, job_key)
    digest = chosen.digest_at(frame) if isinstance(frame, int) and frame >= 0 else None
    if digest is None:
        rendered = len(chosen.frames_by_index())
        raise NoteRefused(f"v{chosen.number} of {shot} has no rendered frame {frame}: its frames are 0 to "
                          f"{rendered - 1}" + (" (only part of it was rendered)" if rendered > chosen.frames else ""))
    after = {"job_key": chosen.job_key, "version": chosen.number, "render_id": chosen.render_id, "frame": frame,
             "frame_sha256": digest, "text": text, "drawing": strokes}
    entity = f"shot:{shot}"
    with signed_write(paths, production, "a review note", announce) as write:
        seq = changelog.append_entry(write.session, actor=actor, kind="note", entity=entity,
                                     version=current_version(write.session, entity), before=None, after=after,
                                     reason=text)
        at = write.session.get(LogEntry, seq).at
    return Note(seq, shot, chosen.job_key, chosen.number, chosen.render_id, frame, digest, text, tuple(strokes),
                actor, at)


# --------------------------------------------------------------------------- reading


def notes(paths: ProductionPaths, shot: str | None = None, episode: str | None = None,
          job_key: str | None = None) -> list[Note]:
    """The notes of one shot, of one episode's shots, or all, oldest first; of one version with `job_key`."""
    with existing_catalog(paths.catalog) as catalog:
        if catalog is None:
            return []
        with catalog.session() as session:
            entries = changelog.entries(session, kind="note", entity=f"shot:{shot}" if shot is not None else None)
            found = []
            for entry in entries:
                name = entry.entity.partition(":")[2]
                if episode is not None and name.split("/")[0] != episode:
                    continue
                note = _note(session, entry, name)
                if note is not None and (job_key is None or note.job_key == job_key):
                    found.append(note)
    return found


def _note(session, entry, shot: str) -> Note | None:
    """A note from its entry; None for an entry whose state was removed or is not shaped like a note."""
    try:
        after = changelog.state(session, entry.after_sha256)
        return Note(entry.seq, shot, str(after["job_key"]), int(after["version"]), int(after["render_id"]),
                    int(after["frame"]), str(after["frame_sha256"]), str(after["text"]),
                    tuple(parse_drawing(after["drawing"])), entry.actor, entry.at)
    except (changelog.LogError, KeyError, TypeError, ValueError, NoteRefused):
        return None


def notes_export(title: str, scope: str, found: list[Note]) -> dict:
    """Notes as exported to JSON (`reelforge review notes --json`, the studio's notes.json)."""
    return {"format": "reelforge-review-notes/1", "production": title, "scope": scope,
            "notes": [note.to_json() for note in found]}
