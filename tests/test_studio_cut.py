"""A cut that is never stale, in the Open Studio: the tree and the episode page say *cut outdated* after a shot is
re-rendered, *Re-assemble* (POST /render with target assemble:EP, through the render queue) brings the episode up
to date, and the episode page's timeline strip has a block per shot that jumps its player to the shot.

The API tests use a TestClient; the workflow runs in a real Chromium (tests/studio_browser.py).
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import small_spec
from fastapi.testclient import TestClient
from studio_support import WAIT, login, running, small_production, studio_app

pytest.register_assert_rewrite("studio_browser")

from studio_browser import RENDER_TIMEOUT_MS, expect  # noqa: E402

from reelforge.app.render_request import RenderRequest, render_production  # noqa: E402

pytest_plugins = ("studio_browser",)


pytestmark = pytest.mark.xdist_group("studio-cut")

EPISODE = "s01e01"
SHOTS = ["s01e01/sc01/sh01", "s01e01/sc01/sh02", "s01e01/sc02/sh01"]
EDITED = "s01e01/sc01/sh02"


def relight(spec, preset: str = "neon-night") -> None:
    data = json.loads(spec.read_text(encoding="utf-8"))
    data["episodes"][0]["scenes"][0]["shots"][1]["lighting"] = {"preset": preset}
    spec.write_text(json.dumps(data, indent=2), encoding="utf-8")


def cut_json(client) -> dict:
    response = client.get("/api/status")
    assert response.status_code == 200, response.text
    return response.json()["episodes"][0]["cut"]


def attribute_of(page: str, testid: str, name: str) -> str:
    tag = re.search(rf'<[^>]*data-testid="{testid}"[^>]*>', page)
    assert tag is not None, f"no element with data-testid={testid}"
    return re.search(rf'\s{name}="([^"]*)"', tag.group(0)).group(1)


# --------------------------------------------------------------------------- API


@pytest.fixture
def outdated(tmp_path):
    """A studio over a production whose episode file is outdated: one shot relit and re-rendered alone."""
    spec = small_production(tmp_path / "show", small_spec(frames=2))
    render_production(RenderRequest(spec, actor="ana"))
    relight(spec)
    render_production(RenderRequest(spec, shot=EDITED, actor="ana"))
    app, state = studio_app(spec)
    with TestClient(app) as client:
        yield login(client, state, "ana")


def test_the_tree_the_episode_page_and_the_status_json_say_cut_outdated_with_re_assemble(outdated):
    tree = outdated.get("/")
    assert attribute_of(tree.text, "cut-status", "data-state") == "cut-outdated"
    assert "1 shot re-rendered since the cut" in tree.text and 'data-testid="reassemble"' in tree.text
    episode = outdated.get(f"/episodes/{EPISODE}")
    assert attribute_of(episode.text, "cut-status", "data-state") == "cut-outdated"
    assert ">cut outdated<" in episode.text and ">up to date<" not in episode.text
    assert "&#34;assemble:s01e01&#34;" in episode.text or '"assemble:s01e01"' in episode.text.replace("&#34;", '"')
    assert re.findall(r'data-testid="cut-shot" data-state="([a-z-]+)"', episode.text) == ["in-cut", "newer", "in-cut"]
    assert len(re.findall(r'data-testid="timeline-block"', episode.text)) == 3
    cut = cut_json(outdated)
    assert cut["state"] == "cut-outdated" and cut["can_assemble"] and cut["render_id"] == 1


def test_re_assemble_needs_a_session_and_the_csrf_token(outdated):
    before = outdated.state.queue.snapshot()
    assert outdated.client.post("/render", data={"target": f"assemble:{EPISODE}"}).status_code == 403
    wrong = outdated.client.post("/render", data={"target": f"assemble:{EPISODE}"}, headers={"x-csrf-token": "guess"})
    assert wrong.status_code == 403
    stranger = TestClient(outdated.client.app)  # another browser, never logged in
    assert stranger.post("/render", data={"target": f"assemble:{EPISODE}"}).status_code == 401
    assert outdated.state.queue.snapshot() == before
    assert cut_json(outdated)["state"] == "cut-outdated"


@pytest.mark.parametrize("target, status, message", [
    ("assemble:s09e09", 404, "no episode &#39;s09e09&#39; in this production; episodes: s01e01"),
    ("assemble:s01e01/sc01", 400, "must look like assemble:EPISODE"),
    ("assemble:../etc", 400, "must look like assemble:EPISODE"),
])
def test_re_assemble_refuses_episodes_the_production_does_not_have(outdated, target, status, message):
    response = outdated.post("/render", data={"target": target})
    assert response.status_code == status and message in response.text


def test_re_assemble_through_the_queue_brings_the_cut_up_to_date_under_the_logged_in_user(outdated):
    with running(outdated.state.queue):
        response = outdated.post("/render", data={"target": f"assemble:{EPISODE}"})
        assert response.status_code == 202, response.text
        item_id = attribute_of(response.text, "queue-item", "data-item")
        item = outdated.state.queue.wait(item_id, timeout=WAIT)
    assert item["state"] == "done", item
    assert "0 of 3 shots" not in item["message"] and "3 of 3 shots reused" in item["message"]
    assert {"href": f"/episodes/{EPISODE}", "label": "watch the episode"} in item["links"]
    cut = cut_json(outdated)
    assert cut["state"] == "cut-up-to-date" and cut["render_id"] == item["renders"][0]["render_id"]
    page = outdated.get(f"/episodes/{EPISODE}").text
    assert attribute_of(page, "episode-video", "src") == f"/media/{cut['render_id']}"
    assert 'data-testid="reassemble"' not in page


def test_re_assemble_of_a_shot_not_rendered_yet_fails_naming_it(outdated):
    relight(outdated.state.spec, "overcast")  # the shot's current version was never rendered
    tree = outdated.get("/").text
    assert 'data-testid="reassemble"' not in tree and 'data-testid="cut-needs-render"' in tree
    with running(outdated.state.queue):
        response = outdated.post("/render", data={"target": f"assemble:{EPISODE}"})
        item = outdated.state.queue.wait(attribute_of(response.text, "queue-item", "data-item"), timeout=WAIT)
    assert item["state"] == "failed" and f"{EDITED} has no render of the current spec" in item["message"]


# --------------------------------------------------------------------------- the browser


def test_a_stale_cut_is_said_everywhere_and_re_assemble_plays_the_new_file(ana, studio_server, shots):
    page = ana.page
    server = studio_server

    # 1. The episode rendered from the tree: its cut is up to date.
    page.goto(server.url("/"))
    page.locator(f'[data-testid="render-episode"][data-episode="{EPISODE}"]').click()
    cut = page.locator(f'[data-testid="cut-status"][data-episode="{EPISODE}"]')
    expect(cut).to_have_attribute("data-state", "cut-up-to-date", timeout=RENDER_TIMEOUT_MS)
    shots.take(page, "tree-cut-up-to-date")

    # 2. One shot relit and re-rendered alone from its page.
    relight(server.spec)
    page.goto(server.url(f"/shots/{EDITED}"))
    page.get_by_test_id("render-shot").click()
    status = page.locator("#shot-summary").get_by_test_id("shot-status")
    expect(status).to_have_attribute("data-status", "up-to-date", timeout=RENDER_TIMEOUT_MS)

    # 3. The tree and the episode page say the cut is outdated, and why.
    page.goto(server.url("/"))
    expect(cut).to_have_attribute("data-state", "cut-outdated")
    expect(cut.get_by_test_id("cut-label")).to_have_text("cut outdated")
    expect(cut.get_by_test_id("reassemble")).to_be_visible()
    edited_row = page.locator(f'[data-testid="shot-row"][data-shot="{EDITED}"]')
    expect(edited_row.get_by_test_id("shot-cut-note")).to_have_text("not in the episode file yet")
    shots.take(page, "tree-cut-outdated")
    page.goto(server.url(f"/episodes/{EPISODE}"))
    cut = page.get_by_test_id("cut-status")
    expect(cut).to_have_attribute("data-state", "cut-outdated")
    expect(cut.get_by_test_id("cut-reason")).to_have_text("1 shot re-rendered since the cut (sc01/sh02)")
    expect(page.locator(f'[data-testid="episode-shot"][data-shot="{EDITED}"] [data-testid="cut-shot"]')) \
        .to_have_text("re-rendered since the cut")
    video = page.get_by_test_id("episode-video")
    old_src = video.get_attribute("src")
    blocks = page.get_by_test_id("timeline-block")
    expect(blocks).to_have_count(3)
    edited_block = page.locator(f'[data-testid="timeline-block"][data-shot="{EDITED}"]')
    expect(edited_block).to_have_class(re.compile(r"\bstale\b"))
    shots.take(page, "episode-cut-outdated")

    # 4. Re-assemble: the page says up to date and its player plays the new file.
    cut.get_by_test_id("reassemble").click()
    cut = page.get_by_test_id("cut-status")
    expect(cut).to_have_attribute("data-state", "cut-up-to-date", timeout=RENDER_TIMEOUT_MS)
    expect(cut.get_by_test_id("cut-label")).to_have_text("cut up to date")
    video = page.get_by_test_id("episode-video")
    expect(video).not_to_have_attribute("src", old_src)
    assert video.get_attribute("src") == f"/media/{cut.get_attribute('data-render')}"
    expect(page.locator("#cut-feedback [data-testid=queue-item]")).to_have_attribute("data-state", "done")
    expect(edited_block).not_to_have_class(re.compile(r"\bstale\b"))
    video.evaluate("v => v.play()")
    page.wait_for_function("v => v.readyState >= 2 && v.currentTime > 0", arg=video.element_handle())
    assert video.evaluate("v => v.error && v.error.message") is None
    video.evaluate("v => v.pause()")

    # 5. A block of the timeline jumps the player to its shot.
    last = page.locator(f'[data-testid="timeline-block"][data-shot="{SHOTS[2]}"]')
    last.click()
    start = float(last.get_attribute("data-seek"))
    page.wait_for_function("([v, t]) => Math.abs(v.currentTime - t) < 0.05", arg=[video.element_handle(), start])
    widths = [block.bounding_box()["width"] for block in page.get_by_test_id("timeline-block").all()]
    assert max(widths) - min(widths) < 2  # three shots of one length: three blocks of one width
    shots.take(page, "episode-re-assembled")

    page.goto(server.url("/"))
    expect(page.locator(f'[data-testid="cut-status"][data-episode="{EPISODE}"]')) \
        .to_have_attribute("data-state", "cut-up-to-date")
    ana.watch.assert_clean(server.host)
