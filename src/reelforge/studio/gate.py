"""The gate every request passes: host check, session, CSRF, and security headers.

Written as a plain ASGI middleware (not BaseHTTPMiddleware) so server-sent event
streams pass through it unbuffered.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge.studio.state import CSRF_HEADER, SESSION_COOKIE, StudioState

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
OPEN_PATHS = {"/login"}  # the only path a browser without a session may open

# Everything is served by this server: no CDN, no external fonts, no inline script.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                           "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),  # a login URL never leaks through a Referer header
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]

NOT_LOGGED_IN = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Open Studio: log in</title>
</head><body><h1>Open Studio</h1><p>This browser is not logged in. Open the link that
<code>reelforge studio</code> printed in its terminal, or ask someone logged in for an invite link.
Each link works once.</p></body></html>"""


def _same_origin(value: str, host: str) -> bool:
    return urlsplit(value).netloc == host


class Gate:
    def __init__(self, app: ASGIApp, state: StudioState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        refusal = self.refusal(Request(scope))
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def refusal(self, request: Request):
        """The response that refuses this request, or None to let it through (with its session in scope)."""
        host = request.headers.get("host", "")
        allowed = self.state.allowed_hosts
        if allowed is not None and host not in allowed:  # DNS rebinding: a page of another site via our address
            return PlainTextResponse(f"unknown host {host!r}", status_code=400)
        if request.url.path in OPEN_PATHS:
            return None
        session = self.state.logins.session(request.cookies.get(SESSION_COOKIE))
        if session is None:
            wants_html = "text/html" in request.headers.get("accept", "")
            if wants_html and request.method in SAFE_METHODS:
                return HTMLResponse(NOT_LOGGED_IN, status_code=401)
            return PlainTextResponse("not logged in: open the link `reelforge studio` printed", status_code=401)
        request.scope.setdefault("state", {})["studio_session"] = session
        if request.method not in SAFE_METHODS:
            origin = request.headers.get("origin")
            if origin is not None and not _same_origin(origin, host):
                return PlainTextResponse("cross-origin request refused", status_code=403)
            if request.headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
                return PlainTextResponse("cross-site request refused", status_code=403)
            token = request.headers.get(CSRF_HEADER, "")
            # compared as bytes: compare_digest refuses (TypeError, a 500) a str with non-ASCII characters
            if not token or not hmac.compare_digest(token.encode(), session.csrf.encode()):
                return PlainTextResponse("missing or wrong CSRF token: reload the page", status_code=403)
        return None
