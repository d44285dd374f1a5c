"""Open Studio access: one-time login links, the session cookie, CSRF, hosts, headers, and `reelforge studio`."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import write_spec
from fastapi.testclient import TestClient
from studio_support import login, small_production, studio_app

from reelforge.studio.server import allowed_hosts, is_loopback, login_url
from reelforge.studio.state import SESSION_COOKIE


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    spec = small_production(tmp_path_factory.mktemp("studio-session"))
    app, state = studio_app(spec)
    with TestClient(app) as client:
        yield client, state


def fresh_client(served) -> TestClient:
    client, _ = served
    client.cookies.clear()
    return client


def test_every_page_needs_a_session(served):
    client = fresh_client(served)
    page = client.get("/", headers={"accept": "text/html"})
    assert page.status_code == 401
    assert "reelforge studio" in page.text  # says how to get in
    for path in ("/whoami", "/invite", "/static/studio.css", "/queue", "/events", "/log"):
        assert client.get(path).status_code == 401, path


def test_a_login_link_works_once_and_sets_a_strict_http_only_cookie(served):
    client, state = served
    client.cookies.clear()
    token = state.logins.issue_token("ana")
    first = client.get("/login", params={"token": token})
    assert first.status_code == 200
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert client.get("/whoami").text == "ana"
    # the same link in another browser (a copy from a shell history) opens nothing
    other = TestClient(client.app)
    again = other.get("/login", params={"token": token})
    assert again.status_code == 401
    assert SESSION_COOKIE not in again.headers.get("set-cookie", "")
    assert other.get("/whoami").status_code == 401


def test_logging_in_again_replaces_the_session_the_browser_had(served):
    """A session cookie from before a login (another user's, or one planted in this browser) ends with it."""
    client, state = served
    client.cookies.clear()
    login(client, state, "ana")
    before = client.cookies.get(SESSION_COOKIE)
    login(client, state, "bo")  # the same browser opens bo's invite link
    after = client.cookies.get(SESSION_COOKIE)
    assert after != before
    assert state.logins.session(before) is None  # ana's session id opens nothing any more
    assert client.get("/whoami").text == "bo"
    replay = TestClient(client.app)
    replay.cookies.set(SESSION_COOKIE, before)
    assert replay.get("/whoami").status_code == 401


def test_bad_or_missing_tokens_and_forged_cookies_are_refused(served):
    client = fresh_client(served)
    assert client.get("/login").status_code == 401
    assert client.get("/login", params={"token": "not-a-token"}).status_code == 401
    client.cookies.set(SESSION_COOKIE, "forged-session-id")
    assert client.get("/whoami").status_code == 401


def test_mutating_requests_need_the_sessions_csrf_token(served):
    client, state = served
    client.cookies.clear()
    browser = login(client, state, "ana")
    assert client.post("/invite", data={"name": "bo"}).status_code == 403  # no token
    assert client.post("/invite", data={"name": "bo"}, headers={"x-csrf-token": "wrong"}).status_code == 403
    # another session's token is not this session's
    other = login(TestClient(client.app), state, "cy")
    assert client.post("/invite", data={"name": "bo"}, headers={"x-csrf-token": other.csrf}).status_code == 403
    assert browser.post("/invite", data={"name": "bo"}).status_code == 200


def test_a_csrf_token_that_is_not_ascii_is_refused_not_a_server_error(served):
    client, state = served
    client.cookies.clear()
    login(client, state, "ana")
    client_no_raise = TestClient(client.app, raise_server_exceptions=False, cookies=client.cookies)
    for token in ("\xe9t\xe9".encode("latin-1"), "ünïcode".encode()):
        answer = client_no_raise.post("/invite", data={"name": "bo"}, headers={"x-csrf-token": token})
        assert answer.status_code == 403, answer.text
        assert "CSRF" in answer.text


def test_cross_origin_posts_are_refused_even_with_the_token(served):
    client, state = served
    client.cookies.clear()
    browser = login(client, state, "ana")
    evil = browser.post("/invite", data={"name": "bo"}, headers={"origin": "http://evil.example"})
    assert evil.status_code == 403
    cross_site = browser.post("/invite", data={"name": "bo"}, headers={"sec-fetch-site": "cross-site"})
    assert cross_site.status_code == 403
    same = browser.post("/invite", data={"name": "bo"}, headers={"origin": "http://testserver"})
    assert same.status_code == 200


def test_an_invite_is_a_one_time_link_that_logs_in_under_the_given_name(served):
    client, state = served
    client.cookies.clear()
    browser = login(client, state, "ana")
    answer = browser.post("/invite", data={"name": "Bo Lind"})
    link = re.search(r'data-testid="invite-link">([^<]+)<', answer.text).group(1).replace("&amp;", "&")
    guest = TestClient(client.app)
    assert guest.get(link.replace("http://testserver", "")).status_code == 200
    assert guest.get("/whoami").text == "Bo Lind"
    assert TestClient(client.app).get(link.replace("http://testserver", "")).status_code == 401
    for bad in ("", "   ", "x" * 65, "tab\there"):
        refused = browser.post("/invite", data={"name": bad})
        assert refused.status_code == 400
        assert "printable characters" in refused.text


def test_logout_ends_the_session(served):
    client, state = served
    client.cookies.clear()
    browser = login(client, state, "ana")
    answer = browser.post("/logout")
    assert answer.status_code == 200
    assert client.get("/whoami").status_code == 401
    # htmx follows HX-Redirect: the page it lands on says how to log in again (not "this link is not valid")
    landing = client.get(answer.headers["hx-redirect"], headers={"accept": "text/html"})
    assert landing.status_code == 401 and "not logged in" in landing.text


def test_pages_carry_security_headers_and_load_nothing_from_elsewhere(served):
    client, state = served
    client.cookies.clear()
    login(client, state, "ana")
    page = client.get("/invite")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"  # a login URL never leaks in a Referer
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    # every script, stylesheet and link of the page is served by the studio itself
    for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert url.startswith("/") or url == "data:,", url  # data:, is the empty favicon
    assert "<script>" not in page.text  # inline scripts would be blocked by the policy
    assert client.get("/static/htmx.min.js").status_code == 200


def test_a_loopback_studio_only_answers_to_its_own_host_names(tmp_path):
    spec = small_production(tmp_path)
    app, state = studio_app(spec, allowed_hosts=allowed_hosts("127.0.0.1", 8765))
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        token = state.logins.issue_token("ana")
        assert client.get("/login", params={"token": token}).status_code == 200
        assert client.get("/whoami").status_code == 200
        # a DNS-rebinding page reaches us under its own name: refused before any session check
        rebound = client.get("/whoami", headers={"host": "attacker.example:8765"})
        assert rebound.status_code == 400


def test_server_address_helpers():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert allowed_hosts("0.0.0.0", 80) is None
    assert "localhost:9000" in allowed_hosts("127.0.0.1", 9000)
    assert login_url("::1", 9000, "t") == "http://[::1]:9000/login?token=t"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_studio(*args: str) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "reelforge.cli", "studio", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _read_url(process: subprocess.Popen) -> str:
    deadline = time.monotonic() + 60
    for line in process.stdout:
        found = re.search(r"(http://\S+/login\?token=\S+)", line)
        if found:
            return found.group(1)
        assert time.monotonic() < deadline, "no login URL printed"
    raise AssertionError(f"studio exited: {process.stderr.read()}")


def test_reelforge_studio_prints_a_one_time_url_that_logs_in(tmp_path):
    spec = small_production(tmp_path)
    port = _free_port()
    process = _start_studio(str(spec.parent), "--port", str(port), "--actor", "dana")
    try:
        url = _read_url(process)
        assert url.startswith(f"http://127.0.0.1:{port}/login?token=")
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        deadline = time.monotonic() + 30
        while True:  # the URL is printed just before the server starts listening
            try:
                with opener.open(url) as response:
                    assert response.status == 200
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        with opener.open(f"http://127.0.0.1:{port}/whoami") as response:
            assert response.read().decode() == "dana"
        with pytest.raises(urllib.error.HTTPError) as used:
            urllib.request.urlopen(url)
        assert used.value.code == 401
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_reelforge_studio_warns_when_listening_beyond_this_machine(tmp_path):
    spec = small_production(tmp_path)
    process = _start_studio(str(spec), "--host", "0.0.0.0", "--port", str(_free_port()))
    try:
        _read_url(process)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "warning" in stderr and "not only this machine" in stderr


def test_reelforge_studio_refuses_a_bad_spec_or_port_with_exit_2(tmp_path):
    from conftest import run_cli

    broken = write_spec(tmp_path / "broken", {"format": "reelforge/1"})
    result = run_cli("studio", str(broken), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "$.series" in result.stderr or "series" in result.stderr
    missing = run_cli("studio", str(tmp_path / "nowhere"), check=False)
    assert missing.returncode == 2 and "no such spec file" in missing.stderr
    spec = small_production(tmp_path / "ok")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = run_cli("studio", str(spec), "--port", str(taken.getsockname()[1]), check=False)
    assert busy.returncode == 2 and "cannot listen" in busy.stderr, busy.stderr
    assert Path(spec).exists()


def test_ctrl_c_stops_the_studio_cleanly_while_a_page_listens_to_events(tmp_path):
    import signal
    import threading

    spec = small_production(tmp_path)
    port = _free_port()
    process = _start_studio(str(spec), "--port", str(port))
    try:
        url = _read_url(process)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        deadline = time.monotonic() + 30
        while True:
            try:
                opener.open(url).close()
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        stream = opener.open(f"http://127.0.0.1:{port}/events", timeout=30)
        first = stream.readline()  # the stream is open: a page is listening
        assert first
        ended = threading.Event()

        def drain() -> None:
            try:
                while stream.readline():
                    pass
            except OSError:
                pass
            ended.set()

        threading.Thread(target=drain, daemon=True).start()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in stderr, stderr
    assert ended.wait(10)  # the listening page saw its stream end rather than hang


def test_a_refused_page_is_a_short_html_page_for_a_browser_with_the_input_escaped(served):
    client, state = served
    client.cookies.clear()
    login(client, state, "ana")
    page = client.get("/shots/%3Cscript%3Ealert(1)/sc01/sh01", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Back to the production" in page.text
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;" in page.text
    scripted = client.get("/shots/%3Cx%3E/sc01/sh01")  # a script or htmx: the JSON detail
    assert scripted.status_code == 404 and "detail" in scripted.json()
