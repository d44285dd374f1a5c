"""What one running studio holds: the production it serves, its logins, its render queue."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from reelforge.store.paths import ProductionPaths
from reelforge.studio.uploads import UploadFolder

SESSION_COOKIE = "reelforge_session"
CSRF_HEADER = "x-csrf-token"
MAX_NAME_LENGTH = 64


@dataclass
class Session:
    """A logged-in browser: who it is (the actor of its edits and renders) and its CSRF token."""

    user: str
    csrf: str
    created: float = field(default_factory=time.time)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Logins:
    """One-time login tokens and the sessions they open.

    A token is kept only as its SHA-256 and works once: the URL printed in a terminal
    (or an invite link) stops working when it has been used, so a copy in a shell
    history or a screenshot opens nothing. Sessions live in memory: restarting the
    studio logs everyone out.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}  # sha256(token) → user
        self._sessions: dict[str, Session] = {}  # session id → session

    def issue_token(self, user: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[_digest(token)] = user
        return token

    def redeem(self, token: str) -> tuple[str, Session] | None:
        """(session id, session) for a valid unused token, which is used up; None otherwise."""
        digest = _digest(token)
        with self._lock:
            user = None
            for known in list(self._tokens):
                if hmac.compare_digest(known, digest):
                    user = self._tokens.pop(known)
            if user is None:
                return None
            session_id = secrets.token_urlsafe(32)
            session = Session(user=user, csrf=secrets.token_urlsafe(32))
            self._sessions[session_id] = session
            return session_id, session

    def session(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            return self._sessions.get(session_id)

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)


@dataclass
class StudioState:
    """The production a studio serves (one spec), its logins and settings."""

    spec: Path
    owner: str  # the user of the URL printed at start
    logins: Logins = field(default_factory=Logins)
    allowed_hosts: frozenset[str] | None = None  # Host headers accepted (None: any, for tests behind TestClient)
    queue: object | None = None  # studio.queue.RenderQueue, made by the app
    uploads: UploadFolder | None = None  # made by the app, with its limits

    @property
    def paths(self) -> ProductionPaths:
        return ProductionPaths.for_spec(self.spec)
