"""End-to-end test harness for the Open Studio: a real server, a real headless Chromium, screenshots.

The studio runs under uvicorn in a background thread on a free 127.0.0.1 port, serving a
small production copied into a temporary folder; Playwright drives Debian's Chromium
(`/usr/bin/chromium`: Playwright's own browser download does not work on these machines).
Every browser context records the requests its pages make and the console messages
they print, so a test can check that the studio loads nothing from another host and
that no Content Security Policy violation happened.

Without Chromium (or without the `playwright` package) the tests are skipped, unless
`REELFORGE_BROWSER_TESTS=required` (set by `.ci/run`): then they fail.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from studio_support import small_production

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
REQUIRED_ENV = "REELFORGE_BROWSER_TESTS"
ARTIFACTS_ENV = "REELFORGE_TEST_ARTIFACTS"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1440, "height": 900}  # the review size: every page is screenshotted at it
UI_TIMEOUT_MS = 15_000  # a page or htmx swap on a busy 2-core machine
RENDER_TIMEOUT_MS = 60_000  # an 8-frame previz render, queued behind whatever runs


try:  # the tests' assertions, waiting up to UI_TIMEOUT_MS; without Playwright, require_browser skips (or fails)
    from playwright.sync_api import expect
except ImportError:
    expect = None
else:
    expect.set_options(timeout=UI_TIMEOUT_MS)

def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"Chromium is not installed at {CHROMIUM} (Debian package `chromium`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the `playwright` Python package is not installed (pip install -e '.[dev]')"
    return None


def require_browser() -> None:
    """Skip the calling test (fail it where the CI demands the browser tests) when there is no browser."""
    reason = browser_unavailable()
    if reason is None:
        return
    if os.environ.get(REQUIRED_ENV) == "required":
        pytest.fail(f"{REQUIRED_ENV}=required but {reason}", pytrace=False)
    pytest.skip(f"end-to-end browser tests need a browser: {reason}")


def artifacts_dir() -> Path:
    """Where screenshots go: $REELFORGE_TEST_ARTIFACTS, or test-artifacts/studio/ in the repository."""
    folder = Path(os.environ.get(ARTIFACTS_ENV) or REPO / "test-artifacts" / "studio")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Screenshots:
    """Numbered PNG screenshots of one test, named `<test>--<nn>-<step>.png`."""

    def __init__(self, test_name: str) -> None:
        self.folder = artifacts_dir()
        self.prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
        self.count = 0
        for stale in self.folder.glob(f"{self.prefix}--*.png"):  # from an earlier run of this test
            stale.unlink()

    def take(self, page, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.prefix}--{self.count:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', step)}.png"
        # From the top, so the sticky nav sits where it belongs; the caret is left alone, so the screenshot
        # changes nothing in the page (hiding it injects a style that htmx could carry into a swap).
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(path), full_page=True, caret="initial")
        return path


# ---------------------------------------------------------------- the server


@dataclass
class StudioServer:
    """A running studio: its base URL, its state (for login tokens) and the production's spec path."""

    base: str
    state: object = field(repr=False)  # reelforge.studio.state.StudioState
    spec: Path = field(repr=False)
    server: object = field(repr=False)  # uvicorn.Server
    thread: threading.Thread = field(repr=False)

    def url(self, path: str = "/") -> str:
        return self.base + path

    def login_url(self, user: str) -> str:
        """The URL `reelforge studio` prints (or an invite link): works once."""
        return self.url(f"/login?token={self.state.logins.issue_token(user)}")

    @property
    def host(self) -> str:
        return urlsplit(self.base).netloc

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_server(folder: Path, owner: str = "ana") -> StudioServer:
    """The small production written to `folder`, served on a free loopback port until `stop()`."""
    import uvicorn

    from reelforge.studio.app import create_app

    spec = small_production(folder)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))  # the kernel picks a free port; the socket is handed over, so no race
    listener.listen(128)
    port = listener.getsockname()[1]
    app, state = create_app(spec, owner=owner, allowed_hosts={f"127.0.0.1:{port}"})
    # Open server-sent event streams must not hold the shutdown: they are cut after a short grace.
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="studio-e2e", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the studio server stopped while starting (see the log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the studio server did not start within 30 s")
        time.sleep(0.05)
    return StudioServer(base=f"http://127.0.0.1:{port}", state=state, spec=spec, server=server, thread=thread)


# ---------------------------------------------------------------- the browser


@dataclass
class Watch:
    """What the pages of one browser context asked for and printed."""

    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text and where)
    page_errors: list[str] = field(default_factory=list)

    def checkpoint(self) -> tuple[int, int, int]:
        return len(self.requests), len(self.console), len(self.page_errors)

    def since(self, checkpoint: tuple[int, int, int]) -> Watch:
        """What was recorded after `checkpoint()`: one page's share of a context's record."""
        requests, console, page_errors = checkpoint
        return Watch(self.requests[requests:], self.console[console:], self.page_errors[page_errors:])

    def foreign_requests(self, host: str) -> list[str]:
        """Requests to anything but the studio itself (`host` = '127.0.0.1:PORT')."""
        foreign = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob"):
                continue
            if parts.scheme not in ("http", "https") or parts.netloc != host:
                foreign.append(url)
        return foreign

    def csp_violations(self) -> list[str]:
        return [text for kind, text in self.console if "Content Security Policy" in text]

    def assert_clean(self, host: str) -> None:
        """No request left this machine's studio, no CSP violation, no uncaught script error."""
        foreign, violations = self.foreign_requests(host), self.csp_violations()
        assert not foreign, "requests to other hosts than the studio:\n" + "\n".join(foreign)
        assert not violations, "Content Security Policy violations in the console:\n" + "\n".join(violations)
        assert not self.page_errors, "uncaught errors in the pages' scripts:\n" + "\n".join(self.page_errors)


@dataclass
class Viewer:
    """One person's browser (a Playwright context: its own cookies) with one open page."""

    user: str | None
    context: object = field(repr=False)
    page: object = field(repr=False)
    watch: Watch = field(repr=False)

    def new_page(self):
        page = self.context.new_page()
        _watch_page(page, self.watch)
        return page


def _watch_page(page, watch: Watch) -> None:
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("console", lambda message: watch.console.append(
        (message.type, f"{message.text} [on {page.url}, from {message.location.get('url') or 'the page'}]")))
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))


def open_viewer(browser, server: StudioServer, user: str | None) -> Viewer:
    """A fresh browser context, logged in as `user` through a one-time login link (None: not logged in)."""
    context = browser.new_context(viewport=VIEWPORT)
    watch = Watch()
    context.on("request", lambda request: watch.requests.append(request.url))
    page = context.new_page()
    _watch_page(page, watch)
    viewer = Viewer(user=user, context=context, page=page, watch=watch)
    if user is not None:
        login(page, server, user)
    return viewer


def login(page, server: StudioServer, user: str) -> None:
    """Open a login link as a person would; the studio's login page then moves on to the production."""
    response = page.goto(server.login_url(user))
    assert response is not None and response.status == 200, f"login as {user} refused"
    page.wait_for_url(server.url("/"))
    page.wait_for_load_state("load")


# Records every state the page shows, whenever it changes (a MutationObserver, plus the queue
# events queue.js dispatches): a render on this machine can pass through "running" in well under
# a second, so the test reads the page's history afterwards instead of racing to see it live.
HISTORY_RECORDER = """() => {
  const history = window.__e2eHistory = [];
  const snapshot = (why) => {
    const count = document.querySelector('#queue-count');
    const items = [...document.querySelectorAll('[data-testid="queue-item"]')]
      .map(el => ({target: el.dataset.target, state: el.dataset.state}));
    const entry = {why, count: count ? count.textContent.trim() : null, items};
    const last = history[history.length - 1];
    if (!last || JSON.stringify(last.count) !== JSON.stringify(entry.count)
        || JSON.stringify(last.items) !== JSON.stringify(entry.items)) history.push(entry);
  };
  const events = window.__e2eEvents = [];
  document.body.addEventListener('reelforge:queue', (e) => {
    events.push({type: 'queue', detail: e.detail});
    snapshot('event');
  });
  document.body.addEventListener('reelforge:render-done', (e) => events.push({type: 'render-done', detail: e.detail}));
  new MutationObserver(() => snapshot('dom')).observe(document.body,
    {subtree: true, childList: true, attributes: true, characterData: true});
  snapshot('start');
}"""


def record_history(page) -> None:
    page.evaluate(HISTORY_RECORDER)


def history(page) -> list[dict]:
    return page.evaluate("() => window.__e2eHistory")


def events(page) -> list[dict]:
    return page.evaluate("() => window.__e2eEvents")


def mark_page(page) -> None:
    """Put a marker in the page's window: if it is still there later, the page was not reloaded."""
    page.evaluate("() => { window.__e2eNotReloaded = true; }")


def still_same_page(page) -> bool:
    return page.evaluate("() => window.__e2eNotReloaded === true")


# ---------------------------------------------------------------- fixtures (import them in the test module)


@pytest.fixture(scope="module")
def studio_server(tmp_path_factory) -> Iterator[StudioServer]:
    """One studio serving one small production for the whole module (tests build on each other's state)."""
    require_browser()
    server = start_server(tmp_path_factory.mktemp("studio-e2e") / "production")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(studio_server) -> Iterator[object]:
    """Headless Chromium; closed before the server stops, so no event stream is left open."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def ana(browser, studio_server) -> Iterator[Viewer]:
    """The owner's browser, logged in with the link the studio prints, kept for the whole module."""
    viewer = open_viewer(browser, studio_server, "ana")
    try:
        yield viewer
    finally:
        viewer.context.close()


@pytest.fixture
def shots(request, ana) -> Iterator[Screenshots]:
    """Screenshots of this test; on failure, one more of each page ana has open."""
    shooter = Screenshots(request.node.name)
    failed_before = request.session.testsfailed
    yield shooter
    if request.session.testsfailed > failed_before:
        from playwright.sync_api import Error as PlaywrightError

        for page in ana.context.pages:
            try:
                shooter.take(page, "failed")
            except PlaywrightError:  # a page that is gone or mid-navigation: the failure says enough
                continue
