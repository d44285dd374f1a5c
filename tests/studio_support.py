"""Helpers for the Open Studio tests: a small production served by an app, and logged-in clients."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from conftest import small_spec, write_spec
from reelforge.studio.app import create_app
from reelforge.studio.state import SESSION_COOKIE, StudioState


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
