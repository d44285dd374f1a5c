"""Logging in with a one-time link, logging out, and inviting someone else in."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from reelforge.studio.pages import page, session, studio
from reelforge.studio.state import MAX_NAME_LENGTH, SESSION_COOKIE

router = APIRouter()

# A page of our own (not a redirect) follows the login: the next request is then a same-site
# navigation, so the SameSite=Strict cookie is sent even when the link was opened from a terminal.
LOGGED_IN = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="0;url=/"><title>Open Studio</title></head>
<body><p>Logged in as {user}. <a href="/">Open the production</a>.</p></body></html>"""


@router.get("/login")
def login(request: Request, token: str = "") -> HTMLResponse:
    found = studio(request).logins.redeem(token) if token else None
    if found is None:
        return HTMLResponse("<!doctype html><title>Open Studio</title><p>This login link is not valid or was "
                            "already used. Each link works once: run <code>reelforge studio</code> again, or ask "
                            "someone logged in for an invite.</p>", status_code=401)
    session_id, new = found
    # The session this browser had (another user's, or a cookie planted before the login) ends here:
    # only the id made by this login opens anything from now on.
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        studio(request).logins.end(previous)

    response = HTMLResponse(LOGGED_IN.format(user=escape(new.user)))
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request) -> HTMLResponse:
    studio(request).logins.end(request.cookies.get(SESSION_COOKIE, ""))
    response = HTMLResponse("<!doctype html><title>Open Studio</title><p>Logged out.</p>")
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.headers["HX-Redirect"] = "/"  # the not-logged-in page, which says how to get back in
    return response


def valid_name(name: str) -> str | None:
    """A person's name as the change log records it; None when it cannot be one."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or any(not ch.isprintable() for ch in name):
        return None
    return name


@router.get("/invite")
def invite_form(request: Request) -> HTMLResponse:
    return page(request, "invite.html", link=None, error=None, name="")


@router.post("/invite")
def invite(request: Request, name: Annotated[str, Form()] = "") -> HTMLResponse:
    """A one-time login link for another person: their edits and renders are recorded under their name."""
    user = valid_name(name)
    if user is None:
        return page(request, "invite.html", status_code=400, link=None, name=name,
                    error=f"a name of 1 to {MAX_NAME_LENGTH} printable characters, please")
    token = studio(request).logins.issue_token(user)
    link = str(request.url_for("login").include_query_params(token=token))
    return page(request, "invite.html", link=link, name=user, error=None, invited_by=session(request).user)


@router.get("/whoami")
def whoami(request: Request) -> PlainTextResponse:
    return PlainTextResponse(session(request).user)
