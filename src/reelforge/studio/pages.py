"""What every route shares: the studio's state, the logged-in session, pages from templates, shot ids."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from reelforge.app.review import plain_time
from reelforge.energy.report import energy_text, pue_range
from reelforge.errors import SpecError
from reelforge.spec.base import ID_PATTERN, text_in
from reelforge.spec.load import load_production
from reelforge.studio.state import Session, StudioState

TEMPLATES = Path(str(resources.files("reelforge.studio") / "templates"))
STATIC = Path(str(resources.files("reelforge.studio") / "static"))
templates = Jinja2Templates(directory=TEMPLATES)
templates.env.filters["energy"] = energy_text  # Wh or kWh, as `reelforge energy` prints them
templates.env.filters["pue_range"] = pue_range
templates.env.filters["when"] = plain_time  # an ISO time as '2026-12-07 18:09 UTC'

_ID = re.compile(ID_PATTERN)


def studio(request: Request) -> StudioState:
    return request.app.state.studio


def session(request: Request) -> Session:
    """The logged-in session the gate found (every route but /login is behind it)."""
    return request.state.studio_session


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def page(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    """A template rendered with what base.html needs: user, CSRF token, production title."""
    state = studio(request)
    current = session(request)
    base = {"user": current.user, "csrf": current.csrf, "production_title": production_title(state),
            "spec_name": state.spec.name, "htmx": is_htmx(request)}
    return templates.TemplateResponse(request, template, {**base, **context}, status_code=status_code)


def production_title(state: StudioState) -> str:
    """The series title in the production's language, or the folder name while the spec does not load."""
    try:
        production = load_production(state.spec)
    except SpecError:
        return state.spec.parent.name
    return text_in(production.series.title, production.language, production.language)


def check_id(value: str, what: str = "id") -> str:
    """A spec id from a URL, or 404: ids are lower-case letters, digits, '-' and '_' (never '/' or '..')."""
    if not _ID.fullmatch(value):  # fullmatch: '$' alone would let a trailing newline through
        raise HTTPException(status_code=404, detail=f"no such {what}: {value!r}")
    return value


def shot_path(episode: str, scene: str, shot: str) -> str:
    """'s01e01/sc01/sh01' from URL parts, each checked as an id (a traversal attempt is a 404)."""
    return "/".join((check_id(episode, "episode"), check_id(scene, "scene"), check_id(shot, "shot")))
