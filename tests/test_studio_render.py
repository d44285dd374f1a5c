"""Rendering through the Open Studio: POST /render, the queue pages, cancelling, and the live /events stream."""

from __future__ import annotations

import re
import threading
import time

import pytest
from fastapi.testclient import TestClient
from studio_support import WAIT, FakeRender, login, small_production, studio_app

from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths
from reelforge.studio.queue import RenderQueue

SHOT = "s01e01/sc01/sh02"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A studio whose renders are held (a fake render that waits): what is queued stays visible."""
    spec = small_production(tmp_path_factory.mktemp("studio-render"))
    app, state = studio_app(spec)
    fake = FakeRender(hold=True)
    state.queue = RenderQueue(state.spec, render=fake)
    with TestClient(app) as client:
        try:
            yield login(client, state, "ana"), fake
        finally:
            fake.release.set()  # the queue stops once its render is let go


def item_attributes(html: str) -> dict:
    found = re.search(r'<article[^>]*data-testid="queue-item"[^>]*>', html)
    assert found, html
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', found.group(0)))


@pytest.mark.parametrize("form, status, message", [
    ({"target": "shot:s01e01/sc09/sh01"}, 404, "no shot &#39;s01e01/sc09/sh01&#39; in this production"),
    ({"target": "episode:s02e01"}, 404, "no episode &#39;s02e01&#39; in this production; episodes: s01e01"),
    ({"target": "shot:../../etc/passwd"}, 400, "must look like shot:EPISODE/SCENE/SHOT"),
    ({"target": "everything"}, 400, "must start with &#39;shot:&#39;, &#39;take:&#39; or &#39;episode:&#39;"),
    ({}, 400, "target: missing"),
])
def test_render_refuses_targets_the_production_does_not_have(served, form, status, message):
    browser, _ = served
    before = browser.state.queue.snapshot()
    response = browser.post("/render", data=form)
    assert response.status_code == status
    assert 'data-testid="render-error"' in response.text and message in response.text
    assert browser.state.queue.snapshot() == before  # nothing queued


def test_render_needs_the_csrf_token_and_a_session(served):
    browser, _ = served
    before = browser.state.queue.snapshot()
    refused = browser.client.post("/render", data={"target": f"shot:{SHOT}"})  # no X-CSRF-Token header
    assert refused.status_code == 403
    wrong = browser.client.post("/render", data={"target": f"shot:{SHOT}"}, headers={"x-csrf-token": "guess"})
    assert wrong.status_code == 403
    stranger = TestClient(browser.client.app)  # another browser, never logged in
    assert stranger.post("/render", data={"target": f"shot:{SHOT}"}).status_code == 401
    assert stranger.post("/queue/0123456789ab/cancel").status_code == 401
    for path in ("/queue", "/queue/items", "/events"):
        assert stranger.get(path).status_code == 401, path
    assert browser.state.queue.snapshot() == before


def test_queued_renders_show_on_the_queue_page_and_a_queued_one_can_be_cancelled(served):
    browser, fake = served
    first = browser.post("/render", data={"target": "shot:s01e01/sc01/sh01"})
    assert first.status_code == 202
    running = item_attributes(first.text)
    assert running["target"] == "shot:s01e01/sc01/sh01" and running["state"] in ("queued", "running")
    assert fake.started.wait(WAIT)  # held by the fake render: it stays running

    queued = browser.post("/render", data={"target": "episode:s01e01"})
    waiting = item_attributes(queued.text)
    assert queued.status_code == 202 and waiting["state"] == "queued"
    assert "<progress" in queued.text and "already-queued" not in queued.text
    twice = browser.post("/render", data={"target": "episode:s01e01"})
    assert item_attributes(twice.text)["item"] == waiting["item"]  # the same item: no duplicate work
    assert 'data-testid="already-queued"' in twice.text

    page = browser.get("/queue")
    assert page.status_code == 200 and '<link rel="stylesheet" href="/static/render.css">' in page.text
    assert f'data-item="{running["item"]}" data-state="running"' in page.text
    assert f'data-item="{waiting["item"]}" data-state="queued"' in page.text
    assert "#1 in line" in page.text
    partial = browser.get("/queue/items")
    assert partial.text.lstrip().startswith('<div id="queue-items"') and "<html" not in partial.text

    assert browser.post(f"/queue/{running['item']}/cancel").status_code == 409
    assert browser.post("/queue/0123456789ab/cancel").status_code == 404
    assert browser.post("/queue/..%2f..%2fetc/cancel").status_code == 404
    cancelled = browser.post(f"/queue/{waiting['item']}/cancel")
    assert cancelled.status_code == 200 and item_attributes(cancelled.text)["state"] == "cancelled"
    assert "cancelled by ana before it started" in cancelled.text
    assert browser.post(f"/queue/{waiting['item']}/cancel").status_code == 409
    assert f'data-item="{waiting["item"]}" data-state="cancelled"' in browser.get("/queue/items").text


def read_events(text: str) -> list[tuple[str, str]]:
    """(event name, data) of each server-sent event in a stream's text."""
    import json

    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
                      and ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_a_shot_rendered_from_the_browser_reaches_every_open_page_and_is_recorded_under_its_requester(tmp_path):
    spec = small_production(tmp_path)
    app, state = studio_app(spec, owner="ana")
    with TestClient(app) as client:
        browser = login(client, state, "bo")
        streams: list[str] = []

        def open_page():  # a page's EventSource: the TestClient returns once the stream has ended
            streams.append(browser.get("/events").text)

        pages = [threading.Thread(target=open_page) for _ in range(2)]
        try:
            for page in pages:
                page.start()
            deadline = time.monotonic() + WAIT
            while state.queue.broadcaster.subscribers < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert state.queue.broadcaster.subscribers == 2

            response = browser.post("/render", data={"target": f"shot:{SHOT}"})
            assert response.status_code == 202
            item_id = item_attributes(response.text)["item"]
            done = state.queue.wait(item_id, WAIT)
        finally:
            state.queue.close_streams()  # what the server does as it stops: every open stream ends
            for page in pages:
                page.join(WAIT)
        assert not any(page.is_alive() for page in pages)
        queue_page = browser.get("/queue").text

    assert done["state"] == "done", done["message"]
    [render] = done["renders"]
    catalog = Catalog(ProductionPaths.for_spec(spec).catalog)
    assert catalog.delivery(render["render_id"]).rendered_by == "bo"  # the logged-in user, not the owner
    assert f'href="/media/{render["render_id"]}"' in queue_page
    assert f'href="/shots/{SHOT}/review"' in queue_page

    assert len(streams) == 2
    for text in streams:
        assert text.startswith("retry: ")
        events = read_events(text)
        states = [next((i["state"] for i in data["items"] if i["id"] == item_id), None)
                  for kind, data in events if kind == "queue"]
        # a page may skip intermediate snapshots, never goes back, and always sees the end
        seen = [state for state in states if state is not None]
        assert states == [None] * (len(states) - len(seen)) + seen  # absent only before it was asked
        order = ["queued", "running", "done"]
        assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen)
        assert seen[-1] == "done"
        progress = [i["frames_done"] for kind, data in events if kind == "queue" for i in data["items"]]
        assert progress == sorted(progress) and progress[-1] == 8
        assert [data for kind, data in events if kind == "done"] == [
            {"item_id": item_id, "target": f"shot:{SHOT}", "state": "done", "shots": [SHOT],
             "message": done["message"]}]


def test_a_page_that_goes_away_stops_listening_at_once(tmp_path):
    """Closed tabs must not pile up as subscribers (each holds a feed the worker fills): a real server,
    five /events streams opened and dropped, every subscription gone."""
    import http.client
    import socket

    import uvicorn

    spec = small_production(tmp_path)
    app, state = studio_app(spec)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + WAIT
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.05)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
        connection.request("GET", f"/login?token={state.logins.issue_token('ana')}")
        answer = connection.getresponse()
        answer.read()
        cookie = answer.getheader("set-cookie").split(";")[0]
        pages = []
        for _ in range(5):
            page = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
            page.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\r\n".encode())
            assert page.recv(64).startswith(b"HTTP/1.1 200")
            pages.append(page)
        while state.queue.broadcaster.subscribers < 5:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        for page in pages:
            page.close()
        while state.queue.broadcaster.subscribers:
            assert time.monotonic() < deadline, "closed pages are still subscribed"
            time.sleep(0.02)
    finally:
        server.should_exit = True
        thread.join(WAIT)
