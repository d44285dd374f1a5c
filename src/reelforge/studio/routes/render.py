"""Rendering from the browser: queue a shot or an episode, watch the queue, follow it live (SSE)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from reelforge.studio.pages import page, session, studio
from reelforge.studio.queue import (
    Event,
    InvalidTarget,
    NotCancellable,
    QueueRefused,
    RenderQueue,
    StreamEnded,
    UnknownItem,
    UnknownTarget,
)

router = APIRouter()

KEEP_ALIVE_SECONDS = 15.0  # a comment line this often keeps proxies and the browser from closing an idle stream
RECONNECT_MS = 3000  # how long a browser waits before it reopens a stream that ended

STATUS = {InvalidTarget: 400, UnknownTarget: 404, UnknownItem: 404, NotCancellable: 409}


def _queue(request: Request) -> RenderQueue:
    return studio(request).queue


def _refused(request: Request, exc: QueueRefused) -> HTMLResponse:
    return page(request, "render_refused.html", status_code=STATUS.get(type(exc), 400), message=str(exc))


@router.post("/render")
def queue_render(request: Request, target: Annotated[str, Form()] = "") -> HTMLResponse:
    """Queue `target` (shot:EP/SC/SH or episode:EP) for the logged-in user: 202 with the item's fragment."""
    try:
        item, created = _queue(request).submit(target, session(request).user)
    except QueueRefused as exc:
        return _refused(request, exc)
    return page(request, "render_item.html", status_code=202, item=item, already_queued=not created)


@router.get("/queue")
def queue_page(request: Request) -> HTMLResponse:
    return page(request, "render_queue.html", snapshot=_queue(request).snapshot())


@router.get("/queue/items")
def queue_items(request: Request) -> HTMLResponse:
    """The queue's lists alone: the queue page re-fetches them when items come, start or finish."""
    return page(request, "render_items.html", snapshot=_queue(request).snapshot())


@router.post("/queue/{item_id}/cancel")
def cancel_item(request: Request, item_id: str) -> HTMLResponse:
    try:
        item = _queue(request).cancel(item_id, by=session(request).user)
    except QueueRefused as exc:
        return _refused(request, exc)
    return page(request, "render_item.html", item=item)


@router.get("/events")
async def events(request: Request) -> StreamingResponse:
    """Server-sent events: `queue` (the whole queue) on every change, `done` when an item finishes.

    The stream starts with the current snapshot; it ends when the browser goes away
    (Starlette cancels it) or when the queue closes its streams as the server stops.
    """
    queue = _queue(request)

    async def stream():
        subscription = queue.broadcaster.subscribe()  # before the snapshot: no change falls in between
        try:
            yield f"retry: {RECONNECT_MS}\n"
            yield Event("queue", queue.snapshot()).sse()
            while True:
                try:
                    event = await subscription.next(timeout=KEEP_ALIVE_SECONDS)
                except StreamEnded:
                    return
                yield ": keep-alive\n\n" if event is None else event.sse()
        finally:
            queue.broadcaster.unsubscribe(subscription)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})
