"""The studio as a FastAPI app: the gate, the static files, and every route module."""

from __future__ import annotations

from contextlib import asynccontextmanager
from html import escape
from http import HTTPStatus
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from reelforge.app.faults import fault_message
from reelforge.app.render_request import shot_runner
from reelforge.farm.options import FarmOptions
from reelforge.store.paths import ProductionPaths
from reelforge.studio.gate import Gate
from reelforge.studio.pages import STATIC
from reelforge.studio.queue import RenderQueue
from reelforge.studio.routes import browse, playback, render, review, review_notes, session, takes, trust
from reelforge.studio.state import StudioState
from reelforge.studio.uploads import MAX_UPLOAD_BYTES, MAX_UPLOADS_FOLDER_BYTES, UploadFolder
from reelforge.trust.deliveries import relative_name


def create_app(spec: Path, *, owner: str, allowed_hosts: set[str] | None = None,
               max_upload_bytes: int = MAX_UPLOAD_BYTES, max_uploads_folder_bytes: int = MAX_UPLOADS_FOLDER_BYTES,
               farm: FarmOptions | None = None) -> tuple[FastAPI, StudioState]:
    """The app serving one production, and its state (log in with `state.logins.issue_token(user)`).

    With `farm`, the render queue renders on that Ray farm; it is joined here, in the main thread,
    so a wrong address is RenderRefused before the studio serves anything.
    """
    shot_runner(farm)
    state = StudioState(spec=Path(spec).absolute(), owner=owner,
                        allowed_hosts=frozenset(allowed_hosts) if allowed_hosts is not None else None)
    state.uploads = UploadFolder(state.paths.uploads, max_upload_bytes, max_uploads_folder_bytes)
    state.queue = RenderQueue(state.spec, farm=farm)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.paths.remove_stale_uploads()  # what a killed studio left: nothing else holds them
        state.queue.start()
        try:
            yield
        finally:
            state.queue.stop()

    # No interactive API docs: they would load scripts from a CDN, and every page here is the UI.
    app = FastAPI(title="reelforge Open Studio", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.studio = state
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (session, browse, render, review, review_notes, trust, playback, takes):
        app.include_router(module.router)
    app.add_exception_handler(StarletteHTTPException, error_page)
    app.add_exception_handler(Exception, fault_page)
    app.add_middleware(Gate, state=state)
    return app, state


async def error_page(request: Request, exc: StarletteHTTPException):
    """A refused request as a short page when a browser opens it; FastAPI's JSON {"detail": …} for scripts."""
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = getattr(exc, "headers", None)
    wants_page = "text/html" in request.headers.get("accept", "") and request.headers.get("hx-request") != "true"
    if not wants_page:
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)
    body = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{exc.status_code} · Open Studio"
            f"</title><link rel=\"stylesheet\" href=\"/static/studio.css\"></head><body><main><h1>"
            f"{HTTPStatus(exc.status_code).phrase}</h1><p class=\"error\">{escape(detail)}</p>"
            f"<p><a href=\"/\">Back to the production</a></p></main></body></html>")
    return HTMLResponse(body, status_code=exc.status_code, headers=headers)


async def fault_page(request: Request, exc: Exception):
    """A request a full disk, a read-only folder, a damaged catalog or a bug broke: one line, status 500.

    The client never gets a traceback; Starlette logs it in the studio's terminal after this answer.
    """
    paths = ProductionPaths.for_spec(request.app.state.studio.spec)
    message = (fault_message(exc, show=lambda path: relative_name(paths, path))
               or f"internal error: {type(exc).__name__} — this is a bug; the studio's terminal shows the traceback")
    return await error_page(request, StarletteHTTPException(500, message))
