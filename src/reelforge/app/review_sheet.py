"""The review sheet: a shot's or an episode's notes as one self-contained HTML file, with annotated stills.

What a director sends after dailies: for each shot, its review status and every note, each beside
the frame it is pinned to with the drawing on it. The stills are the stored frames (the frame
store, through app/review.py: exact pixels, not decoded video), scaled down and drawn on here with
PIL, and embedded as data: PNGs, so the file needs nothing else (mail it, print it to PDF).

Its one style sheet is inline; `SHEET_CSP` allows exactly that style (by hash) and data: images,
and nothing else: no script, no request to anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
from dataclasses import dataclass
from html import escape

import numpy as np
from PIL import Image, ImageDraw

from reelforge.app.review import ReviewError, load_frame, plain_time
from reelforge.app.review_notes import Note, notes
from reelforge.app.review_status import STATE_LABELS, VersionStatus, version_statuses
from reelforge.spec.model import Production
from reelforge.store.catalog import existing_catalog
from reelforge.store.frames import FrameStore
from reelforge.store.paths import ProductionPaths

STILL_WIDTH = 960  # pixels: a still on the sheet (a stored frame larger than this is scaled down)
INK = (255, 40, 220)  # magenta: rare in footage (the studio's canvas draws with the same)
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #1b1b1b; }
h1 { font-size: 22px; margin: 0 0 .2rem; } h2 { font-size: 17px; margin: 2rem 0 .4rem; border-bottom: 1px solid #ccc; }
.muted { color: #666; } .mono { font-family: ui-monospace, monospace; }
.status { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: 12px; font-weight: 600; background: #ddd; }
.status.approved { background: #3fb950; } .status.retake { background: #f85149; color: #fff; }
.status.changed { background: #d29922; }
.note { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1rem; margin: 1rem 0; page-break-inside: avoid; }
.note img { width: 100%; height: auto; border: 1px solid #ccc; }
.note p.text { white-space: pre-wrap; margin: 0 0 .4rem; font-size: 15px; }
"""
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
SHEET_CSP = (f"default-src 'none'; img-src data:; style-src 'sha256-{STYLE_HASH}'; base-uri 'none'; "
             "form-action 'none'; frame-ancestors 'none'")


# --------------------------------------------------------------------------- drawing on a still


def annotated_still(pixels: np.ndarray, drawing: list[dict] | tuple[dict, ...], width: int = STILL_WIDTH) -> Image.Image:
    """A frame scaled down to `width` (never up) with the drawing's strokes on it in `INK`."""
    image = Image.fromarray(np.ascontiguousarray(pixels)).convert("RGB")
    if image.width > width:
        image = image.resize((width, max(1, round(image.height * width / image.width))), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(image)
    line = max(2, round(image.width / 200))
    for stroke in drawing:
        points = [(x * (image.width - 1), y * (image.height - 1)) for x, y in stroke["points"]]
        _stroke(draw, stroke["tool"], points, INK, line, head=max(12.0, image.width / 30))
    return image


def _stroke(draw: ImageDraw.ImageDraw, tool: str, points: list[tuple[float, float]], colour, width: int,
            head: float) -> None:
    if tool == "box":
        (x0, y0), (x1, y1) = points
        draw.rectangle((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), outline=colour, width=width)
    elif tool == "arrow":
        draw.line(points, fill=colour, width=width)
        for wing in _arrow_head(points[0], points[1], head):
            draw.line((points[1], wing), fill=colour, width=width)
    else:
        draw.line(points, fill=colour, width=width, joint="curve")


def _arrow_head(start: tuple[float, float], end: tuple[float, float], length: float) -> list[tuple[float, float]]:
    """The two ends of an arrow's head at `end`, 25° either side of the shaft (the studio's canvas draws the same)."""
    angle = math.atan2(end[1] - start[1], end[0] - start[0])
    return [(end[0] - length * math.cos(angle + side), end[1] - length * math.sin(angle + side))
            for side in (math.radians(25), -math.radians(25))]


def still_data_url(store: FrameStore, note: Note) -> str | None:
    """The note's frame with its drawing, as a data: PNG URL; None when the frame is no longer stored."""
    try:
        pixels = load_frame(store, note.frame_sha256)
    except ReviewError:
        return None
    out = io.BytesIO()
    annotated_still(pixels, note.drawing).save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


# --------------------------------------------------------------------------- the sheet


@dataclass(frozen=True)
class SheetShot:
    """One shot on the sheet: its notes (of every version), and each version's review status."""

    path: str
    notes: tuple[Note, ...]
    statuses: dict[str, VersionStatus]  # by job key


def review_sheet(title: str, scope: str, shots: list[SheetShot], store: FrameStore, made_at: str) -> str:
    """The whole sheet as one HTML document (UTF-8), every still embedded."""
    count = sum(len(shot.notes) for shot in shots)
    parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>Review notes · {escape(title)} · {escape(scope)}</title>", f"<style>{STYLE}</style></head><body>",
             f"<h1>Review notes: {escape(title)}</h1>",
             f'<p class="muted">{escape(scope)} · {count} note{"" if count == 1 else "s"} · made {escape(plain_time(made_at))}</p>']
    if not count:
        parts.append("<p>No notes yet.</p>")
    for shot in shots:
        if not shot.notes:
            continue
        parts.append(f'<section class="shot" data-shot="{escape(shot.path)}"><h2 class="mono">{escape(shot.path)}</h2>')
        for note in shot.notes:
            parts.append(_note_html(note, shot.statuses.get(note.job_key), store))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _note_html(note: Note, status: VersionStatus | None, store: FrameStore) -> str:
    state = status.status if status is not None else "waiting"
    url = still_data_url(store, note)
    still = (f'<img src="{url}" alt="frame {note.frame} of v{note.version} with the note\'s drawing">' if url else
             f'<p class="muted">frame {note.frame} is no longer in the frame store (render v{note.version} again)</p>')
    return (f'<div class="note" data-note="{note.id}">{still}<div>'
            f'<p class="text">{escape(note.text)}</p>'
            f'<p class="muted">v{note.version} · frame {note.frame} · {escape(note.actor)} · {escape(plain_time(note.at))}</p>'
            f'<p><span class="status {state}">v{note.version}: {STATE_LABELS[state]}</span></p>'
            f'<details><summary class="muted">details</summary><p class="muted mono">note #{note.id} · job key '
            f'{note.job_key[:12]}… · frame {note.frame_sha256[:12]}…</p></details>'
            "</div></div>")


def sheet_shots(paths: ProductionPaths, production: Production | None, shot: str | None = None,
                episode: str | None = None) -> list[SheetShot]:
    """The shots with notes in scope (one shot, one episode, or all), in spec order, each with its statuses."""
    found = notes(paths, shot=shot, episode=episode)
    with existing_catalog(paths.catalog) as catalog:
        statuses = {}
        if catalog is not None:
            with catalog.session() as session:
                statuses = version_statuses(session)
    order = [f"{e.id}/{sc.id}/{sh.id}" for e in production.episodes for sc in e.scenes
             for sh in sc.shots] if production is not None else []
    paths_with_notes = list(dict.fromkeys(note.shot for note in found))
    ordered = [p for p in order if p in paths_with_notes] + [p for p in paths_with_notes if p not in order]
    return [SheetShot(p, tuple(n for n in found if n.shot == p),
                      {key: status for (s, key), status in statuses.items() if s == p}) for p in ordered]
