"""A shot's takes in the studio: the Takes panel, rendering N takes through the queue, picking one.

The library does the work (reelforge.app.takes: which takes are rendered, picking one through the
shot editor's committed save); a take renders as a queue item `take:EP/SC/SH#K` (studio/queue.py),
the same render as `reelforge render --shot P --takes N` makes of it. The routes only parse the
request and pick the template and the HTTP status.
"""

from __future__ import annotations

import json
import re
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse

from reelforge.app import takes as library
from reelforge.app.render_request import RenderRefused
from reelforge.app.shot_edit import EditInvalid, StaleEdit
from reelforge.app.shot_edit import UnknownShot as NoSuchShot
from reelforge.plan.takes import MAX_TAKES
from reelforge.studio.pages import page, session, shot_path, studio
from reelforge.studio.queue import ACTIVE_STATES, QueueRefused, UnknownTarget

router = APIRouter()

TAKE = re.compile(r"[1-9][0-9]{0,5}")
PICKED_EVENT = "reelforge:take-picked"  # the shot's summary and editor re-fetch themselves on it


def _panel(request: Request, path: str, *, status_code: int = 200, message: str = "", error: str = "",
           count: int = library.DEFAULT_TAKES) -> HTMLResponse:
    """The Takes panel of one shot: its takes, the takes still rendering, a message or an error."""
    try:
        takes = library.shot_takes(studio(request).spec, path)
    except library.UnknownShot as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except RenderRefused as exc:  # the spec does not load right now: the panel says so
        takes, error = None, error or str(exc)
    return page(request, "takes_panel.html", status_code=status_code, shot_path=path, takes=takes,
                pending=_pending(request, path), message=message, error=error, count=count, max_takes=MAX_TAKES)


def _pending(request: Request, path: str) -> list[dict]:
    """This shot's takes in the render queue, waiting or rendering."""
    return [item for item in studio(request).queue.snapshot()["items"]
            if item["kind"] == "take" and item["target"].startswith(f"take:{path}#") and item["state"] in ACTIVE_STATES]


@router.get("/shots/{episode}/{scene}/{shot}/takes")
def takes_panel(request: Request, episode: str, scene: str, shot: str) -> HTMLResponse:
    """The panel alone: re-fetched when a render finishes or the shot is saved."""
    return _panel(request, shot_path(episode, scene, shot))


@router.post("/shots/{episode}/{scene}/{shot}/takes")
def render_takes(request: Request, episode: str, scene: str, shot: str,
                 count: Annotated[str, Form()] = "") -> HTMLResponse:
    """Queue takes 1..count of the shot for the logged-in user: 202 with the panel (400 a bad count)."""
    path = shot_path(episode, scene, shot)
    try:
        number = library.take_count(count)
    except library.TakeRefused as exc:
        return _panel(request, path, status_code=400, error=str(exc))
    queue, user = studio(request).queue, session(request).user
    try:
        for take in range(1, number + 1):
            queue.submit(f"take:{path}#{take}", user)
    except QueueRefused as exc:
        return _panel(request, path, status_code=404 if isinstance(exc, UnknownTarget) else 400, error=str(exc))
    return _panel(request, path, status_code=202, count=number,
                  message=f"{number} take{'s' if number != 1 else ''} of {path} queued: each shows here once rendered "
                          "(a take the store has is ready in a moment)")


@router.post("/shots/{episode}/{scene}/{shot}/takes/{take}/pick")
def pick(request: Request, episode: str, scene: str, shot: str, take: str,
         reason: Annotated[str, Form()] = "", base: Annotated[str, Form()] = "") -> HTMLResponse:
    """Record the take in the shot's spec (a commit with the reason): 200; 400 refused, 409 a stale page."""
    path = shot_path(episode, scene, shot)
    if not TAKE.fullmatch(take):
        raise HTTPException(status_code=404, detail=f"no such take: {take[:20]!r}")
    number = int(take)
    if not reason.strip():
        return _panel(request, path, status_code=400,
                      error="give a reason: say why this take (it is recorded with the commit)")
    try:
        result = library.pick_take(studio(request).spec, path, number, base=base, reason=reason,
                                   actor=session(request).user)
    except (NoSuchShot, library.UnknownShot) as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except StaleEdit as exc:
        return _panel(request, path, status_code=409, error=str(exc))
    except (library.TakeRefused, EditInvalid) as exc:
        return _panel(request, path, status_code=400, error=str(exc))
    said = (f"take {number} was already the spec's: nothing changed" if not result.changed
            else f"picked take {number}: {result.message}")
    response = _panel(request, path, message=said)
    if result.changed:
        response.headers["HX-Trigger"] = json.dumps({PICKED_EVENT: {"shot": path, "take": number}})
    return response

