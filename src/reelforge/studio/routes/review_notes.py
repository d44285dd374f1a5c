"""Review statuses and frame-pinned notes in the studio: set a version's status, add and list notes, export them.

Every write goes through the library the CLI uses (app/review_status.py, app/review_notes.py), so a
status or a note set here is the same change-log entry `reelforge review` writes, under the logged-in
user's name. The routes only parse the request and pick the answer's form (a fragment, JSON, a sheet).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from reelforge.app.review import current_version, shot_versions
from reelforge.app.review_notes import NoteRefused, add_note, drawing_from_text, notes, notes_export
from reelforge.app.review_sheet import SHEET_CSP, review_sheet, sheet_shots
from reelforge.app.review_status import (
    STATE_LABELS,
    ReviewRefused,
    set_status,
    shot_reviews,
    version_statuses,
)
from reelforge.deliver.options import DeliveryError
from reelforge.errors import SpecError
from reelforge.spec.base import text_in
from reelforge.spec.load import load_production
from reelforge.store.catalog import existing_catalog, utc_now
from reelforge.store.frames import FrameStore
from reelforge.store.paths import ProductionBusy
from reelforge.studio.pages import check_id, page, session, shot_path, studio

router = APIRouter()

MAX_FORM_FIELD = 1_100_000  # characters of one form field (a drawing's JSON is the largest)


def _production(request: Request):
    """The production as the spec says now, or 409 while the spec does not load."""
    try:
        return load_production(studio(request).spec)
    except SpecError as exc:
        raise HTTPException(status_code=409, detail=f"the spec does not load right now: {str(exc).splitlines()[0]}")


def _shot(production, path: str) -> str:
    shots = {f"{e.id}/{sc.id}/{sh.id}" for e in production.episodes for sc in e.scenes for sh in sc.shots}
    if path not in shots:
        raise HTTPException(status_code=404, detail=f"no shot {path!r} in this production")
    return path


def _episode(production, episode: str) -> str:
    if episode not in {e.id for e in production.episodes}:
        raise HTTPException(status_code=404, detail=f"no episode {episode!r} in this production")
    return episode


async def _fields(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """The named text fields of a posted form ('' when absent); 400 for a field too large."""
    form = await request.form()
    values = {}
    for name in names:
        value = form.get(name, "")
        value = value if isinstance(value, str) else ""
        if len(value) > MAX_FORM_FIELD:
            raise HTTPException(status_code=400, detail=f"{name}: too large")
        values[name] = value
    return values


def _title(production) -> str:
    return text_in(production.series.title, production.language, production.language) or production.series.id


# --------------------------------------------------------------------------- statuses


def _status_panel(request: Request, path: str, status_code: int = 200, error: str | None = None,
                  typed: str = "") -> HTMLResponse:
    """The review-status panel of a shot: the state of each version, and the buttons that set it."""
    production = _production(request)
    _shot(production, path)
    paths = studio(request).paths
    review = shot_reviews(paths, production)[path]
    with existing_catalog(paths.catalog) as catalog:
        versions = shot_versions(catalog, path) if catalog is not None else []
        statuses = {}
        if catalog is not None:
            with catalog.session() as db:
                statuses = version_statuses(db)
    by_key = {}
    for version in versions:
        found = statuses.get((path, version.job_key))
        state = review.state if version.job_key == review.job_key else (found.status if found else "waiting")
        by_key[version.job_key] = {"number": version.number, "state": state, "label": STATE_LABELS[state],
                                   "note": found.note if found else None, "actor": found.actor if found else None,
                                   "at": found.at if found else None}
    current = current_version(versions, review.job_key)
    return page(request, "notes_status.html", status_code=status_code, path=path, review=review, versions=versions,
                current=current, statuses=by_key, error=error, typed=typed)


@router.get("/shots/{episode}/{scene}/{shot}/review/status")
def status_panel(request: Request, episode: str, scene: str, shot: str) -> HTMLResponse:
    return _status_panel(request, shot_path(episode, scene, shot))


@router.post("/shots/{episode}/{scene}/{shot}/review/status")
async def post_status(request: Request, episode: str, scene: str, shot: str) -> HTMLResponse:
    """Set a version's status: 200 the panel, 400 the panel saying why not (a retake without a note), 409 busy."""
    path = shot_path(episode, scene, shot)
    fields = await _fields(request, ("status", "note", "job_key"))
    return await run_in_threadpool(_set_status, request, path, fields)


def _set_status(request: Request, path: str, fields: dict[str, str]) -> HTMLResponse:
    production = _production(request)
    _shot(production, path)
    if not fields["job_key"]:
        return _status_panel(request, path, 400, "name the version: the form's job_key is missing", fields["note"])
    try:
        set_status(studio(request).paths, production, path, fields["status"], fields["note"], session(request).user,
                   job_key=fields["job_key"])
    except ReviewRefused as exc:
        return _status_panel(request, path, 400, str(exc), fields["note"])
    except (ProductionBusy, DeliveryError) as exc:
        return _status_panel(request, path, 409, str(exc), fields["note"])
    return _status_panel(request, path)


# --------------------------------------------------------------------------- notes


@router.get("/shots/{episode}/{scene}/{shot}/notes.json")
def shot_notes(request: Request, episode: str, scene: str, shot: str, job_key: str | None = None) -> JSONResponse:
    """A shot's notes (of one version with ?job_key=), oldest first: the sidebar's list and the JSON export."""
    path = shot_path(episode, scene, shot)
    production = _production(request)
    _shot(production, path)
    found = notes(studio(request).paths, shot=path, job_key=job_key)
    return JSONResponse(notes_export(_title(production), f"shot {path}", found))


@router.post("/shots/{episode}/{scene}/{shot}/notes")
async def post_note(request: Request, episode: str, scene: str, shot: str) -> JSONResponse:
    """Pin a note to a frame of a version: 201 the note, 400 why not (no text, a bad drawing or frame), 409 busy."""
    path = shot_path(episode, scene, shot)
    fields = await _fields(request, ("job_key", "frame", "text", "drawing"))
    return await run_in_threadpool(_add_note, request, path, fields)


def _add_note(request: Request, path: str, fields: dict[str, str]) -> JSONResponse:
    production = _production(request)
    _shot(production, path)
    frame = fields["frame"]
    if not (frame.isascii() and frame.isdigit() and len(frame) <= 9):
        return JSONResponse({"detail": f"frame must be a frame index (0, 1, …), got {frame[:20]!r}"}, status_code=400)
    if not fields["job_key"]:
        return JSONResponse({"detail": "name the version: job_key is missing"}, status_code=400)
    try:
        drawing = drawing_from_text(fields["drawing"], "drawing")
        note = add_note(studio(request).paths, production, path, int(frame), fields["text"], session(request).user,
                        drawing=drawing, job_key=fields["job_key"])
    except (NoteRefused, ReviewRefused) as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    except (ProductionBusy, DeliveryError) as exc:
        return JSONResponse({"detail": str(exc)}, status_code=409)
    return JSONResponse(note.to_json(), status_code=201)


@router.get("/episodes/{episode}/notes.json")
def episode_notes(request: Request, episode: str) -> JSONResponse:
    """Every note on the episode's shots, oldest first."""
    episode = check_id(episode, "episode")
    production = _production(request)
    _episode(production, episode)
    found = notes(studio(request).paths, episode=episode)
    return JSONResponse(notes_export(_title(production), f"episode {episode}", found))


# --------------------------------------------------------------------------- review sheets


def _sheet(request: Request, production, scope: str, shot: str | None = None, episode: str | None = None) -> Response:
    """A review sheet, shown under its own policy: its inline style (by hash) and data: stills, nothing else."""
    paths = studio(request).paths
    shots = sheet_shots(paths, production, shot=shot, episode=episode)
    body = review_sheet(_title(production), scope, shots, FrameStore(paths.frames), utc_now())
    return Response(body, media_type="text/html; charset=utf-8", headers={"content-security-policy": SHEET_CSP})


@router.get("/shots/{episode}/{scene}/{shot}/review-sheet.html")
def shot_sheet(request: Request, episode: str, scene: str, shot: str) -> Response:
    path = shot_path(episode, scene, shot)
    production = _production(request)
    return _sheet(request, production, f"shot {_shot(production, path)}", shot=path)


@router.get("/episodes/{episode}/review-sheet.html")
def episode_sheet(request: Request, episode: str) -> Response:
    episode = check_id(episode, "episode")
    production = _production(request)
    return _sheet(request, production, f"episode {_episode(production, episode)}", episode=episode)

