"""Helpers for the Open Studio tests: a small production served by an app, and logged-in clients."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from conftest import small_spec, write_spec
from fastapi.testclient import TestClient

from reelforge.app.render_request import RenderOutcome
from reelforge.engine.pipeline import RenderResult
from reelforge.studio.app import create_app
from reelforge.studio.state import SESSION_COOKIE, StudioState

WAIT = 120  # seconds: a generous bound so a broken queue fails the test instead of hanging it


@contextmanager
def running(queue):
    """A render queue's worker started for the block and stopped after it, whatever the block raised."""
    queue.start()
    try:
        yield queue
    finally:
        queue.stop()


@dataclass
class Browser:
    """A TestClient logged in as one user, with the CSRF header a page would send."""

    client: TestClient
    state: StudioState
    user: str
    csrf: str

    def get(self, url: str, **kw):
        return self.client.get(url, **kw)

    def post(self, url: str, **kw):
        headers = {"x-csrf-token": self.csrf, **kw.pop("headers", {})}
        return self.client.post(url, headers=headers, **kw)


def login(client: TestClient, state: StudioState, user: str) -> Browser:
    token = state.logins.issue_token(user)
    response = client.get("/login", params={"token": token})
    assert response.status_code == 200, response.text
    session = state.logins.session(client.cookies.get(SESSION_COOKIE))
    assert session is not None and session.user == user
    return Browser(client=client, state=state, user=user, csrf=session.csrf)


def small_production(folder: Path, spec: dict | None = None) -> Path:
    """The example cut to one episode of three 8-frame shots, written to `folder`."""
    return write_spec(folder, spec or small_spec())


def studio_app(spec: Path, **kw):
    return create_app(spec, owner=kw.pop("owner", "ana"), **kw)


@contextmanager
def served(spec: Path, user: str = "ana"):
    """The studio of `spec` in a TestClient with `user` logged in: (app, state, the user's Browser)."""
    app, state = studio_app(spec)
    with TestClient(app) as client:
        yield app, state, login(client, state, user)


class FakeRender:
    """Stands in for render_production where only the scheduling matters: records each request,
    reports 8 frames through the same callbacks, and can hold a render until released."""

    def __init__(self, hold: bool = False, tick=None) -> None:
        self.requests = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.tick = tick or (lambda: None)

    def __call__(self, request, *, start, progress):
        self.requests.append(request)
        path = request.shot or request.episodes[0]
        episode = path.split("/")[0]
        start(episode, path, 8)
        self.started.set()
        assert self.release.wait(WAIT)
        for _ in range(8):
            self.tick()
            progress(SimpleNamespace(shot_path=request.shot or f"{episode}/sc01/sh01", episode_id=episode), 1)
        output = request.spec.parent / "renders" / f"{path.replace('/', '.')}.mp4"
        result = RenderResult(kind="shot" if request.shot else "episode", episode_id=episode, output=output,
                              sha256="0" * 64, seconds=0.5, render_id=len(self.requests))
        return RenderOutcome(results=[result], contact_sheet=None, mark_id=None, actor=request.actor, commit_id=1,
                             job=SimpleNamespace() if request.shot else None, range_report="8 frames rendered")
