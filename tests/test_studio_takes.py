"""The Takes panel's endpoints: render N takes through the queue, list them, pick one (session and CSRF rules)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import cli, small_spec
from fastapi.testclient import TestClient
from studio_support import WAIT, login, small_production, studio_app

from reelforge.app.status import UP_TO_DATE, production_status
from reelforge.app.takes import shot_takes, spec_sha

SHOT = "s01e01/sc01/sh01"
PANEL = f"/shots/{SHOT}/takes"


def grained(frames: int = 2) -> dict:
    spec = small_spec(frames)
    spec["look"] = {"grain": 0.5}  # previz draws grain from the seed: takes differ
    return spec


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A studio with its real render queue, serving a small production with film grain."""
    spec = small_production(tmp_path_factory.mktemp("studio-takes"), grained())
    app, state = studio_app(spec)
    with TestClient(app) as client:
        yield login(client, state, "ana")


def takes_shown(html: str) -> list[tuple[str, str]]:
    """(take number, 'true' when the spec uses it) of each take in the panel's grid."""
    return re.findall(r'data-testid="take" data-take="(\d+)"\s+data-chosen="(true|false)"', html)


def test_the_takes_endpoints_need_a_session_and_the_csrf_token(served):
    browser = served
    before, queued = browser.state.spec.read_bytes(), browser.state.queue.snapshot()
    stranger = TestClient(browser.client.app)  # another browser, never logged in
    assert stranger.get(PANEL).status_code == 401
    assert stranger.post(PANEL, data={"count": "2"}).status_code == 401
    assert stranger.post(f"{PANEL}/2/pick", data={"reason": "x", "base": spec_sha(browser.state.spec)}).status_code == 401
    for headers in ({}, {"x-csrf-token": "guess"}):
        assert browser.client.post(PANEL, data={"count": "2"}, headers=headers).status_code == 403
        assert browser.client.post(f"{PANEL}/1/pick", data={"reason": "x"}, headers=headers).status_code == 403
    cross = browser.post(PANEL, data={"count": "2"}, headers={"origin": "http://evil.example"})
    assert cross.status_code == 403
    assert browser.state.spec.read_bytes() == before and browser.state.queue.snapshot() == queued


@pytest.mark.parametrize("count", ["0", "17", "many"])
def test_a_take_count_out_of_bounds_is_refused_beside_the_button(served, count):
    response = served.post(PANEL, data={"count": count})
    assert response.status_code == 400
    assert 'data-testid="takes-error"' in response.text and "a whole number from 1 to 16" in response.text
    assert not served.state.queue.snapshot()["items"]


def test_unknown_shots_and_takes_are_404(served):
    assert served.get("/shots/s01e01/sc01/sh09/takes").status_code == 404
    assert served.post("/shots/s01e01/sc01/sh09/takes", data={"count": "2"}).status_code == 404
    assert served.get("/shots/s01e01/sc01/..%2F..%2Fetc/takes").status_code == 404
    assert served.post(f"{PANEL}/0/pick", data={"reason": "x"}).status_code == 404
    assert served.post(f"{PANEL}/two/pick", data={"reason": "x"}).status_code == 404


def test_render_takes_then_pick_one(served):
    browser = served
    spec = browser.state.spec
    # 1. The panel on a fresh shot: nothing rendered, take 1 the spec's.
    empty = browser.get(PANEL)
    assert empty.status_code == 200 and 'data-testid="takes-none"' in empty.text
    assert "the spec uses take 1" in empty.text

    # 2. Render 2 takes: two queue items, take:P#1 and take:P#2, asked by the logged-in user.
    queued = browser.post(PANEL, data={"count": "2"})
    assert queued.status_code == 202 and "2 takes of s01e01/sc01/sh01 queued" in queued.text
    items = [item for item in browser.state.queue.snapshot()["items"] if item["kind"] == "take"]
    assert sorted(item["target"] for item in items) == [f"take:{SHOT}#1", f"take:{SHOT}#2"]
    assert {item["requested_by"] for item in items} == {"ana"}
    for item in items:
        done = browser.state.queue.wait(item["id"], WAIT)
        assert done["state"] == "done", done["message"]
        assert any(link["href"] == f"/shots/{SHOT}#takes" for link in done["links"])

    # 3. The grid shows both, each playable and with a still; take 1 is the spec's.
    panel = browser.get(PANEL).text
    assert takes_shown(panel) == [("1", "true"), ("2", "false")]
    listed = shot_takes(spec, SHOT)
    for take in listed.takes:
        video = browser.get(f"/media/{take.render_id}")
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        assert browser.get(f"/frames/{take.still}.png?width=480").status_code == 200
    assert listed.takes[0].still != listed.takes[1].still  # another seed, other pixels
    assert 'data-testid="takes-alike"' not in panel

    # 4. A pick needs a reason and the spec as the page saw it.
    base = listed.base
    no_reason = browser.post(f"{PANEL}/2/pick", data={"reason": "  ", "base": base})
    assert no_reason.status_code == 400 and "give a reason" in no_reason.text
    stale = browser.post(f"{PANEL}/2/pick", data={"reason": "calmer", "base": "0" * 64})
    assert stale.status_code == 409 and "changed since" in stale.text
    unrendered = browser.post(f"{PANEL}/7/pick", data={"reason": "calmer", "base": base})
    assert unrendered.status_code == 400 and "take 7 of s01e01/sc01/sh01 is not rendered" in unrendered.text
    assert spec_sha(spec) == base  # none of them touched the spec

    # 5. Pick take 2: a commit by ana with the reason; the spec says take 2; the shot is take 2's render, reused.
    picked = browser.post(f"{PANEL}/2/pick", data={"reason": "the calmer grain", "base": base})
    assert picked.status_code == 200, picked.text
    assert "picked take 2: saved as commit" in picked.text
    assert json.loads(picked.headers["hx-trigger"]) == {"reelforge:take-picked": {"shot": SHOT, "take": 2}}
    assert takes_shown(picked.text) == [("1", "false"), ("2", "true")]
    assert json.loads(spec.read_text())["episodes"][0]["scenes"][0]["shots"][0]["take"] == 2
    log = browser.get("/log").text
    assert "the calmer grain" in log
    status = production_status(spec).shot(SHOT)
    assert status.state == UP_TO_DATE and status.last_render.render_id == listed.takes[1].render_id
    # picking the take the spec already uses changes nothing
    again = browser.post(f"{PANEL}/2/pick", data={"reason": "again", "base": spec_sha(spec)})
    assert again.status_code == 200 and "nothing changed" in again.text and "hx-trigger" not in again.headers


def test_takes_that_look_the_same_are_said_beside_the_grid(tmp_path):
    """Without grain, previz draws nothing from a take's seed: the grid says so instead of leaving the director to
    wonder why four takes are one picture (and the seed stays behind the details toggle)."""
    spec = small_production(tmp_path / "plain", small_spec(2))
    assert cli("render", str(spec), "--shot", SHOT, "--takes", "2")[0] == 0
    app, state = studio_app(spec)
    with TestClient(app) as client:
        panel = login(client, state, "ana").get(PANEL).text
    assert takes_shown(panel) == [("1", "true"), ("2", "false")]
    assert 'data-testid="takes-alike"' in panel and "nothing in this shot draws from" in panel
    assert re.search(r"<summary>details</summary><span class=\"small-text\">seed \d+</span>", panel)
