"""Browsing and directing: the production tree, a shot's page (edit form, summary, plan), thumbnails, status JSON.

Every answer here comes from a library call the CLI shares: `reelforge.app.status` (each shot's
status, thumbnail and cast; `reelforge status`) and `reelforge.spec.edit` (a shot's form, and
saving it with CLI-equal validation and a commit). The routes only parse the request and
pick the template and the HTTP status.
"""

from __future__ import annotations

import dataclasses
import re

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from reelforge.app.render_request import RenderRefused
from reelforge.app.review_status import reviews_for_spec
from reelforge.app.shot_edit import (
    EditError,
    EditInvalid,
    EditResult,
    FieldProblem,
    ShotForm,
    StaleEdit,
    UnknownShot,
    apply_shot_edit,
    load_shot_form,
)
from reelforge.app.shot_plan import shot_plan_svg
from reelforge.app.status import (
    ProductionStatus,
    ShotStatus,
    production_status,
    shot_thumbnail,
    thumbnail_png,
)
from reelforge.app.store_budget import store_against_budget
from reelforge.studio.pages import is_htmx, page, session, shot_path, studio

router = APIRouter()

DIGEST = re.compile(r"[0-9a-f]{64}")
SAVED_EVENT = "reelforge:shot-saved"  # the shot's summary re-fetches itself on it
IMMUTABLE = "private, max-age=31536000, immutable"  # a thumbnail asked for by its frame digest never changes


def _status(request: Request) -> ProductionStatus:
    """Every shot's status, or 409 with the spec's problems when the file does not load right now."""
    try:
        return production_status(studio(request).spec)
    except RenderRefused as exc:
        raise _SpecBroken(str(exc)) from None


class _SpecBroken(Exception):
    """The production's spec does not load (it was edited on disk into an invalid state)."""


def _broken(request: Request, message: str) -> HTMLResponse:
    return page(request, "browse_broken.html", status_code=409, message=message)


@router.get("/")
def production_tree(request: Request) -> HTMLResponse:
    """Series → episodes → scenes → shots, each shot with its thumbnail, status and cast."""
    try:
        status = _status(request)
    except _SpecBroken as exc:
        return _broken(request, str(exc))
    return page(request, "browse_tree.html", status=status,
                store=store_against_budget(status.spec, status.store),
                reviews=reviews_for_spec(status.spec, {shot.path: shot.job_key for shot in status.shots()}))


@router.get("/api/status")
def status_json(request: Request) -> JSONResponse:
    try:
        status = _status(request)
    except _SpecBroken as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    store = store_against_budget(status.spec, status.store)
    return JSONResponse({**status.to_json(), "store": store.to_json()})


# --------------------------------------------------------------------------- a shot


def _shot_status(request: Request, path: str) -> tuple[ShotStatus | None, str | None]:
    """(the shot's status, None) or (None, why it cannot be shown); 404 for a shot the spec does not have."""
    try:
        status = _status(request)
    except _SpecBroken as exc:
        return None, str(exc)
    shot = status.shot(path)
    if shot is None:
        raise HTTPException(status_code=404, detail=f"no shot {path!r} in this production")
    return shot, None


def _form(request: Request, path: str) -> ShotForm:
    try:
        return load_shot_form(studio(request).spec, path)
    except UnknownShot as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


def _shot_page(request: Request, path: str, form: ShotForm, *, status_code: int = 200,
               problems: list[FieldProblem] | None = None, result: EditResult | None = None,
               conflict: str | None = None) -> HTMLResponse:
    """The shot page, or only its editor for an htmx save (the summary refreshes itself)."""
    grouped: dict[str, list[FieldProblem]] = {}
    for problem in problems or []:
        grouped.setdefault(problem.field, []).append(problem)
    context = {"shot_path": path, "form": form, "problems": grouped, "result": result, "conflict": conflict}
    if is_htmx(request) and request.method == "POST":
        return page(request, "browse_shot_editor.html", status_code=status_code, **context)
    shot, summary_error = _shot_status(request, path)
    return page(request, "browse_shot.html", status_code=status_code, shot=shot, summary_error=summary_error,
                plan_svg=_plan_svg(request, path, shot), **context)


def _plan_svg(request: Request, path: str, shot: ShotStatus | None) -> str | None:
    """The shot's blocking diagram (marks, paths, camera) while its spec plans."""
    return shot_plan_svg(studio(request).spec, path) if shot is not None else None


@router.get("/shots/{episode}/{scene}/{shot}")
def shot_page(request: Request, episode: str, scene: str, shot: str) -> HTMLResponse:
    path = shot_path(episode, scene, shot)
    try:
        form = _form(request, path)
    except EditInvalid as exc:  # the file does not parse as JSON right now
        return _broken(request, "; ".join(p.message for p in exc.problems))
    return _shot_page(request, path, form)


@router.post("/shots/{episode}/{scene}/{shot}")
async def save_shot(request: Request, episode: str, scene: str, shot: str) -> HTMLResponse:
    """Save the shot's form: 200 saved (or nothing changed), 400 problems beside their fields, 409 a stale form."""
    path = shot_path(episode, scene, shot)
    submitted = await request.form()
    values = {name: value for name, value in submitted.items() if isinstance(value, str)}
    return await run_in_threadpool(_save, request, path, values)


def _save(request: Request, path: str, values: dict[str, str]) -> HTMLResponse:
    reason, base = values.pop("reason", ""), values.pop("base", "")
    spec = studio(request).spec
    try:
        result = apply_shot_edit(spec, path, values, base=base, reason=reason, actor=session(request).user)
    except UnknownShot as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except (EditInvalid, StaleEdit) as exc:
        try:
            current = load_shot_form(spec, path)
        except UnknownShot as gone:  # removed by someone else meanwhile
            raise HTTPException(status_code=404, detail=str(gone)) from None
        except EditInvalid as broken:
            return _broken(request, "; ".join(p.message for p in broken.problems))
        # What the person typed stays in the form; the base stays theirs (a stale form stays stale).
        shown = dataclasses.replace(current, values={**current.values, **values, "reason": reason}, base=base)
        if isinstance(exc, StaleEdit):
            return _shot_page(request, path, shown, status_code=409, conflict=str(exc))
        return _shot_page(request, path, shown, status_code=400, problems=exc.problems)
    try:
        form = load_shot_form(spec, path)
    except EditError as exc:  # changed on disk just after the save
        return _broken(request, str(exc))
    response = _shot_page(request, path, form, result=result)
    if result.changed:
        response.headers["HX-Trigger"] = SAVED_EVENT
    return response


@router.get("/shots/{episode}/{scene}/{shot}/summary")
def shot_summary(request: Request, episode: str, scene: str, shot: str) -> HTMLResponse:
    """The thumbnail, status and render button alone: re-fetched when a render finishes or an edit is saved."""
    path = shot_path(episode, scene, shot)
    status, summary_error = _shot_status(request, path)
    return page(request, "browse_summary.html", shot_path=path, shot=status, summary_error=summary_error,
                plan_svg=_plan_svg(request, path, status))


@router.get("/shots/{episode}/{scene}/{shot}/thumbnail.png")
def shot_thumbnail_png(request: Request, episode: str, scene: str, shot: str, frame: str = "") -> Response:
    """The middle frame of the shot's latest render, 320 px wide; 404 while it was never rendered.

    `frame` (the digest the page shows) makes the URL change with every new render; the
    picture served is always the shot's current thumbnail, found in the catalog.
    """
    path = shot_path(episode, scene, shot)
    if frame and not DIGEST.fullmatch(frame):
        raise HTTPException(status_code=404, detail="frame must be a frame's SHA-256 (64 hex digits)")
    spec = studio(request).spec
    digest = shot_thumbnail(spec, path)
    png = thumbnail_png(spec, digest) if digest is not None else None
    if png is None:
        raise HTTPException(status_code=404, detail=f"shot {path} has no rendered frame yet")
    headers = {"cache-control": IMMUTABLE} if frame == digest else {}
    return Response(png, media_type="image/png", headers=headers)
