"""Takes in a real headless Chromium: render 3 takes of a shot, watch them in the grid, pick one.

Screenshots at 1440×900 go to $REELFORGE_TEST_ARTIFACTS (default test-artifacts/studio/).
"""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

pytest.register_assert_rewrite("studio_browser")

from conftest import small_spec, write_spec
from studio_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RENDER_TIMEOUT_MS,
    Screenshots,
    expect,
    open_viewer,
    require_browser,
    start_server,
)

from reelforge.app.takes import spec_sha

SHOT = "s01e01/sc01/sh01"
REASON = "take 2: the grain sits better on the quay"


@pytest.fixture(scope="module")
def takes_studio(tmp_path_factory):
    """A studio serving a small production with film grain (previz draws it from the seed: takes differ)."""
    require_browser()
    server = start_server(tmp_path_factory.mktemp("studio-takes-e2e") / "production")
    spec = small_spec(3)
    spec["look"] = {"grain": 0.5}
    write_spec(server.spec.parent, spec)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chromium(takes_studio):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_render_takes_see_them_play_and_pick_one(chromium, takes_studio, request):
    shots = Screenshots(request.node.name)
    ana = open_viewer(chromium, takes_studio, "ana")
    page = ana.page
    try:
        # 1. The shot page has a Takes panel: nothing rendered yet, the spec on take 1.
        with page.expect_response(lambda response: response.url.endswith("/events")):
            page.goto(takes_studio.url(f"/shots/{SHOT}"))
        panel = page.get_by_test_id("takes-panel")
        expect(panel.get_by_test_id("takes-none")).to_be_visible()
        expect(panel.get_by_test_id("takes-chosen")).to_have_text("the spec uses take 1")

        # 2. Ask for 3 takes: the button says so, the queue renders them, the grid fills as each finishes.
        panel.get_by_test_id("takes-count").fill("3")
        expect(panel.get_by_test_id("render-takes")).to_have_text("Render 3 takes")
        panel.get_by_test_id("render-takes").click()
        expect(page.get_by_test_id("takes-message")).to_contain_text("3 takes of s01e01/sc01/sh01 queued")
        shots.take(page, "takes-queued")
        takes = page.get_by_test_id("take")
        expect(takes).to_have_count(3, timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_test_id("takes-pending")).to_have_count(0, timeout=RENDER_TIMEOUT_MS)
        expect(page.locator('[data-testid="take"][data-chosen="true"]')).to_have_attribute("data-take", "1")
        expect(page.get_by_test_id("take-in-spec")).to_have_count(1)
        expect(page.get_by_test_id("take-pick")).to_have_count(2)  # the spec's own take needs no Pick

        # 3. Each take has a still (its poster) and plays: hovering take 2 starts it, leaving pauses it.
        for number in (1, 2, 3):
            video = page.locator(f'[data-testid="take"][data-take="{number}"] video')
            expect(video).to_have_attribute("poster", re.compile(r"^/frames/[0-9a-f]{64}\.png"))
        posters = {page.locator(f'[data-testid="take"][data-take="{n}"] video').get_attribute("poster")
                   for n in (1, 2, 3)}
        assert len(posters) == 3, "three takes, three different stills"
        second = page.locator('[data-testid="take"][data-take="2"] video')
        second.scroll_into_view_if_needed()
        second.hover()
        page.wait_for_function("v => !v.paused && v.readyState >= 2 && v.currentTime > 0", arg=second.element_handle())
        assert second.evaluate("v => v.error && v.error.message") is None
        shots.take(page, "takes-grid")
        page.mouse.move(5, 5)
        page.wait_for_function("v => v.paused", arg=second.element_handle())

        # 4. Pick take 2 with a reason: the panel marks it, the shot's summary follows, nothing re-renders.
        still_of_2 = second.get_attribute("poster").removeprefix("/frames/")[:64]
        video_of_2 = second.get_attribute("src")
        queue_before = page.evaluate("() => document.querySelectorAll('[data-testid=queue-item]').length")
        page.get_by_test_id("take-reason").fill(REASON)
        page.locator('[data-testid="take"][data-take="2"] [data-testid="take-pick"]').click()
        expect(page.get_by_test_id("takes-message")).to_contain_text("picked take 2: saved as commit")
        expect(page.locator('[data-testid="take"][data-chosen="true"]')).to_have_attribute("data-take", "2")
        expect(page.get_by_test_id("takes-chosen")).to_have_text("the spec uses take 2")
        expect(page.get_by_test_id("shot-summary").get_by_test_id("shot-status")).to_have_attribute(
            "data-status", "up-to-date")
        thumbnail = page.get_by_test_id("shot-summary").get_by_test_id("shot-thumbnail")
        expect(thumbnail).to_have_attribute("src", re.compile(f"frame={still_of_2}$"))
        expect(thumbnail).to_have_js_property("complete", True)
        assert thumbnail.evaluate("img => img.naturalWidth") > 0
        assert page.evaluate("() => document.querySelectorAll('[data-testid=queue-item]').length") == queue_before
        shots.take(page, "take-2-picked")

        # 5. The spec holds take 2; the shot's editor followed (its base is the picked spec, so a later save is
        #    not refused as stale); the change log has the commit with ana and the reason.
        spec = takes_studio.spec
        assert json.loads(spec.read_text())["episodes"][0]["scenes"][0]["shots"][0]["take"] == 2
        expect(page.locator('#shot-editor input[name="base"]')).to_have_value(spec_sha(spec))
        with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as db:
            actor, reason = db.execute("SELECT actor, reason FROM log_entries WHERE kind = 'commit' "
                                       "ORDER BY seq DESC LIMIT 1").fetchone()
        assert (actor, reason) == ("ana", REASON)
        # 6. The review page plays what the spec renders now: take 2's file.
        page.goto(takes_studio.url(f"/shots/{SHOT}/review"), wait_until="domcontentloaded")  # not its full-size stills
        expect(page.get_by_test_id("shot-video")).to_have_attribute("src", video_of_2)
        expect(page.get_by_test_id("video-source")).not_to_contain_text("older version")
        page.goto(takes_studio.url("/log"))
        expect(page.locator("main")).to_contain_text(REASON)
        shots.take(page, "change-log")
        ana.watch.assert_clean(takes_studio.host)
    finally:
        ana.context.close()
