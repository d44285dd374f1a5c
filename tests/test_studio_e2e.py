"""The Open Studio in a real headless Chromium: what a producer does, click by click.

One studio and one production serve the whole module, and the tests run in order, each
building on the last: the tree before anything is rendered, the episode render watched
live by two people, a lighting edit with a reason, the shot re-rendered with its new
thumbnail arriving without a reload, an invalid edit refused beside its field, the review
page (video, frame stepping, A/B), the episode video, the change log, credentials and
energy, a suspect copy traced to its render, and finally that no page loaded anything
from elsewhere or broke the Content Security Policy.
Screenshots of every step go to $REELFORGE_TEST_ARTIFACTS (default test-artifacts/studio/).
"""

from __future__ import annotations

import json
import re

import pytest

pytest.register_assert_rewrite("studio_browser")  # its checks fail with pytest's detailed messages

from studio_browser import (
    RENDER_TIMEOUT_MS,
    events,
    expect,
    history,
    mark_page,
    open_viewer,
    record_history,
    still_same_page,
)

# The fixtures (studio_server, browser, ana, shots) live with the harness.
pytest_plugins = ("studio_browser",)


# The tests share one studio and build on each other's state: under pytest-xdist keep them on one
# worker (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("studio-e2e")

EPISODE = "s01e01"
SHOTS = ["s01e01/sc01/sh01", "s01e01/sc01/sh02", "s01e01/sc02/sh01"]
CAST = {"s01e01/sc01/sh01": ["Mara"], "s01e01/sc01/sh02": ["Mara", "Theo"], "s01e01/sc02/sh01": ["Theo", "Mara"]}
EDITED = "s01e01/sc01/sh01"
NEW_PRESET = "neon-night"  # the scene lights sh01 at magic hour: a change every pixel shows
REASON = "night exterior: the quay should read as neon-lit"
DIGEST = re.compile(r"[0-9a-f]{16,}")


def row(page, shot: str):
    return page.locator(f'[data-testid="shot-row"][data-shot="{shot}"]')


def expect_image_loaded(image) -> None:
    """The <img> is shown and its picture really arrived (a broken image has naturalWidth 0)."""
    expect(image).to_be_visible()
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0, f"image {image.get_attribute('src')} did not load"


def play(page, testid: str) -> None:
    """Press play as the controls would, then see the video decode and move on (no error)."""
    video = page.get_by_test_id(testid)
    expect(video).to_be_visible()
    expect(video).to_have_attribute("controls", re.compile(".*"))
    video.evaluate("v => v.play()")  # rejects (and fails the test) when the browser cannot play it
    page.wait_for_function("v => v.readyState >= 2 && v.currentTime > 0", arg=video.element_handle())
    assert video.evaluate("v => v.error && v.error.message") is None


def open_with_live_events(page, url: str) -> None:
    """Open a page and wait until its event stream (/events) answers, so no queue change is missed."""
    with page.expect_response(lambda response: response.url.endswith("/events")):
        page.goto(url)


def item_states(entries: list[dict], target: str) -> list[str]:
    """The successive states a page showed for the queue item whose target mentions `target`."""
    states: list[str] = []
    for entry in entries:
        for item in entry["items"]:
            if target in (item["target"] or "") and (not states or states[-1] != item["state"]):
                states.append(item["state"])
    return states


def test_a_browser_without_login_sees_how_to_log_in(browser, studio_server, shots):
    stranger = open_viewer(browser, studio_server, None)
    try:
        response = stranger.page.goto(studio_server.url("/"))
        assert response.status == 401
        expect(stranger.page.locator("body")).to_contain_text("not logged in")
        expect(stranger.page.get_by_test_id("shot-row")).to_have_count(0)
        shots.take(stranger.page, "not-logged-in")

        # A login link works once: after someone used it, it opens nothing.
        link = studio_server.login_url("ana")
        first = open_viewer(browser, studio_server, None)
        assert first.page.goto(link).status == 200
        first.context.close()
        response = stranger.page.goto(link)
        assert response.status == 401
        expect(stranger.page.locator("body")).to_contain_text("already used")
        assert stranger.page.goto(studio_server.url("/")).status == 401
        shots.take(stranger.page, "used-link-refused")
        stranger.watch.assert_clean(studio_server.host)
    finally:
        stranger.context.close()


def test_the_tree_shows_three_never_rendered_shots_with_their_cast(ana, studio_server, shots):
    page = ana.page
    page.goto(studio_server.url("/"))
    expect(page.get_by_test_id("shot-row")).to_have_count(3)
    for shot in SHOTS:
        status = row(page, shot).get_by_test_id("shot-status")
        expect(status).to_have_attribute("data-status", "never-rendered")
        expect(status).to_have_text("never rendered")
        expect(row(page, shot).get_by_test_id("shot-thumbnail")).to_have_count(0)
        for name in CAST[shot]:
            expect(row(page, shot)).to_contain_text(name)
    expect(page.locator(f'[data-testid="render-episode"][data-episode="{EPISODE}"]')).to_be_visible()
    expect(page.get_by_test_id("user")).to_have_text("ana")
    shots.take(page, "tree-never-rendered")


def test_an_episode_render_shows_live_progress_to_everyone_watching(ana, browser, studio_server, shots):
    tree = ana.page
    open_with_live_events(tree, studio_server.url("/"))
    ana_queue = ana.new_page()
    open_with_live_events(ana_queue, studio_server.url("/queue"))
    bob = open_viewer(browser, studio_server, "bob")  # someone else, with an invite link of their own
    try:
        open_with_live_events(bob.page, studio_server.url("/queue"))
        expect(bob.page.get_by_test_id("user")).to_have_text("bob")
        for page in (tree, ana_queue, bob.page):
            record_history(page)
        mark_page(tree)

        tree.locator(f'[data-testid="render-episode"][data-episode="{EPISODE}"]').click()
        shots.take(tree, "render-clicked")
        shots.take(bob.page, "bob-queue-after-click")

        # The item goes running → done on both people's queue pages.
        for page, who in ((bob.page, "bob-queue"), (ana_queue, "ana-queue")):
            item = page.locator(f'[data-testid="queue-item"][data-target*="{EPISODE}"]')
            expect(item).to_have_count(1)
            expect(item).to_have_attribute("data-state", "done", timeout=RENDER_TIMEOUT_MS)
            expect(item.locator("progress")).to_have_count(1)
            expect(item).to_contain_text("ana")  # who asked for it, as everyone sees
            shots.take(page, f"{who}-done")
            seen = item_states(history(page), EPISODE)
            assert "running" in seen and seen[-1] == "done", f"{who} page showed {seen}"
            assert seen.index("running") < seen.index("done")

        # The nav's count showed the running item while it ran, and nothing once it was done.
        expect(tree.locator("#queue-count")).to_have_text(re.compile(r"^0?$"))
        counts = [entry["count"] for entry in history(tree)]
        assert "1" in counts, f"#queue-count went through {counts}"
        finished = [event["detail"] for event in events(tree) if event["type"] == "render-done"]
        assert len(finished) == 1 and finished[0]["state"] == "done", finished
        assert finished[0]["target"] == f"episode:{EPISODE}"
        assert sorted(finished[0]["shots"]) == sorted(SHOTS)

        bob.watch.assert_clean(studio_server.host)
    finally:
        bob.context.close()
        ana_queue.close()

    # The tree catches up by itself: every shot up to date, with the thumbnail of its render.
    for shot in SHOTS:
        status = row(tree, shot).get_by_test_id("shot-status")
        expect(status).to_have_attribute("data-status", "up-to-date")
        expect(status).to_have_text("up to date")
        expect_image_loaded(row(tree, shot).get_by_test_id("shot-thumbnail"))
    assert still_same_page(tree), "the tree was reloaded to show the render"
    # the item the click put beside the button survives the tree's refresh, showing how the render ended
    beside = tree.locator(f"#render-feedback-{EPISODE} [data-testid=queue-item]")
    expect(beside).to_have_attribute("data-state", "done")
    shots.take(tree, "tree-up-to-date")


def test_a_lighting_edit_with_a_reason_marks_the_shot_changed(ana, studio_server, shots):
    page = ana.page
    page.goto(studio_server.url("/"))
    row(page, EDITED).get_by_test_id("shot-link").click()
    page.wait_for_url(studio_server.url("/shots/" + EDITED))
    form = page.get_by_test_id("shot-form")
    expect(form).to_be_visible()
    summary = page.locator("#shot-summary")
    expect(summary.get_by_test_id("shot-status")).to_have_attribute("data-status", "up-to-date")
    shots.take(page, "shot-page")

    form.get_by_test_id("field-lighting-preset").select_option(NEW_PRESET)
    form.get_by_test_id("edit-reason").fill(REASON)
    shots.take(page, "edited")
    form.get_by_test_id("save-shot").click()

    expect(page.get_by_test_id("save-result")).to_be_visible()
    expect(page.get_by_test_id("field-error")).to_have_count(0)
    status = page.locator("#shot-summary").get_by_test_id("shot-status")
    expect(status).to_have_attribute("data-status", "changed")
    expect(status).to_have_text("spec changed")
    expect(page.get_by_test_id("field-lighting-preset")).to_have_value(NEW_PRESET)
    shots.take(page, "saved")

    spec = json.loads(studio_server.spec.read_text(encoding="utf-8"))
    episode, scene, shot = EDITED.split("/")
    saved = next(s for e in spec["episodes"] if e["id"] == episode for c in e["scenes"] if c["id"] == scene
                 for s in c["shots"] if s["id"] == shot)
    assert saved["lighting"]["preset"] == NEW_PRESET


def test_re_rendering_the_shot_brings_its_new_thumbnail_without_a_reload(ana, studio_server, shots):
    page = ana.page
    assert page.url == studio_server.url("/shots/" + EDITED)
    summary = page.locator("#shot-summary")
    thumbnail = summary.get_by_test_id("shot-thumbnail")
    expect_image_loaded(thumbnail)
    old_src = thumbnail.get_attribute("src")
    old_digest = DIGEST.search(old_src)
    assert old_digest, f"the thumbnail's src {old_src!r} names no frame digest"
    mark_page(page)

    summary.get_by_test_id("render-shot").click()
    shots.take(page, "render-clicked")
    status = page.locator("#shot-summary").get_by_test_id("shot-status")
    expect(status).to_have_attribute("data-status", "up-to-date", timeout=RENDER_TIMEOUT_MS)
    expect(status).to_have_text("up to date")
    thumbnail = page.locator("#shot-summary").get_by_test_id("shot-thumbnail")
    expect(thumbnail).not_to_have_attribute("src", old_src, timeout=RENDER_TIMEOUT_MS)
    expect_image_loaded(thumbnail)
    new_digest = DIGEST.search(thumbnail.get_attribute("src"))
    assert new_digest and new_digest.group() != old_digest.group()
    assert still_same_page(page), "the page was reloaded to show the new render"
    shots.take(page, "re-rendered")


def test_an_invalid_edit_shows_its_error_beside_the_field_and_saves_nothing(ana, studio_server, shots):
    page = ana.page
    page.goto(studio_server.url("/shots/" + EDITED))
    before = studio_server.spec.read_bytes()
    form = page.get_by_test_id("shot-form")
    form.get_by_test_id("field-lighting-kelvin").fill("50")  # the CLI's validation: 1000 to 20000 K
    form.get_by_test_id("edit-reason").fill("try a very warm key")
    form.get_by_test_id("save-shot").click()

    error = page.locator('[data-testid="field-error"][data-field="lighting_kelvin"]')
    expect(error).to_be_visible()
    expect(error).to_contain_text("1000")
    assert error.evaluate("el => el.parentElement.contains(document.querySelector('[name=lighting_kelvin]'))"), \
        "the error is not beside the colour temperature field"
    expect(page.get_by_test_id("field-lighting-kelvin")).to_have_value("50")  # what was typed stays to be fixed
    expect(page.get_by_test_id("save-result")).to_have_count(0)
    shots.take(page, "kelvin-out-of-range")
    assert studio_server.spec.read_bytes() == before

    # Without a reason nothing is saved either: the reason is what the change log records.
    form = page.get_by_test_id("shot-form")
    form.get_by_test_id("field-lighting-kelvin").fill("")
    form.get_by_test_id("field-lighting-preset").select_option("blue-hour")
    form.get_by_test_id("edit-reason").fill("")
    form.get_by_test_id("save-shot").click()
    expect(page.locator('[data-testid="field-error"][data-field="reason"]')).to_be_visible()
    expect(page.get_by_test_id("save-result")).to_have_count(0)
    shots.take(page, "reason-missing")
    assert studio_server.spec.read_bytes() == before


def test_the_review_page_plays_the_video_steps_frames_and_compares_versions(ana, studio_server, shots):
    page = ana.page
    page.goto(studio_server.url("/shots/" + EDITED))
    page.get_by_test_id("review-link").click()
    page.wait_for_url(studio_server.url(f"/shots/{EDITED}/review"))

    play(page, "shot-video")
    shots.take(page, "video-played")

    index = page.get_by_test_id("frame-index")
    image = page.get_by_test_id("frame-image")
    expect(index).to_have_text(re.compile(r"frame 0 / 8"))
    expect_image_loaded(image)
    first_src = image.get_attribute("src")
    page.get_by_test_id("frame-next").click()
    expect(index).to_have_text(re.compile(r"frame 1 / 8"))
    expect(image).not_to_have_attribute("src", first_src)
    expect_image_loaded(image)
    shots.take(page, "frame-1")
    page.get_by_test_id("frame-prev").click()
    expect(index).to_have_text(re.compile(r"frame 0 / 8"))
    expect(image).to_have_attribute("src", first_src)

    # A/B: the render before the lighting edit against the one after it.
    a, b = page.get_by_test_id("ab-a"), page.get_by_test_id("ab-b")
    versions = a.locator("option").evaluate_all("options => options.map(o => o.value)")
    assert len(versions) >= 2, f"the A/B choice offers {versions}"
    summary = page.get_by_test_id("diff-summary")
    a.select_option(versions[0])
    b.select_option(versions[0])
    expect(summary).to_have_text(re.compile(r"identical"))
    b.select_option(versions[1])
    expect(summary).to_have_text(re.compile(r"[1-9]\d* pixels differ, max difference [1-9]\d*"))
    expect_image_loaded(page.get_by_test_id("diff-image"))
    shots.take(page, "a-b-difference")


def test_the_episode_page_plays_the_episode(ana, studio_server, shots):
    page = ana.page
    page.goto(studio_server.url(f"/episodes/{EPISODE}"))
    play(page, "episode-video")
    shots.take(page, "episode-video")


def test_the_change_log_records_the_edit_under_the_logged_in_user(ana, studio_server, shots):
    page = ana.page
    page.goto(studio_server.url("/log"))
    # The spec commit of the edit: its reason, its actor, and the field it changed, in words.
    commit = page.get_by_test_id("log-group").filter(has_text=REASON)
    expect(commit).to_have_count(1)
    expect(commit).to_contain_text("ana")
    expect(commit.get_by_test_id("log-change").filter(has_text="lighting:")).to_contain_text(
        NEW_PRESET.replace("-", " "))
    expect(page.get_by_test_id("log-verify")).to_be_visible()
    shots.take(page, "change-log")


def test_the_credentials_and_energy_pages_show_the_renders(ana, studio_server, shots):
    page = ana.page
    page.goto(studio_server.url("/credentials"))
    delivery = page.get_by_test_id("credentials-row").filter(has_text=f"{EPISODE}.mp4")
    expect(delivery.first).to_be_visible()
    shots.take(page, "credentials")
    page.goto(studio_server.url("/energy"))
    chart = page.get_by_test_id("energy-chart").first
    expect(chart).to_be_visible()
    assert chart.evaluate("el => el.tagName.toLowerCase()") == "svg"
    shots.take(page, "energy")


def test_a_dropped_copy_is_traced_to_the_render_it_came_from(ana, studio_server, shots, tmp_path):
    # A delivery made from a terminal (`reelforge render --mark`) on the same production, then found elsewhere.
    from reelforge.app.render_request import RenderRequest, render_production

    outcome = render_production(RenderRequest(studio_server.spec, episodes=[EPISODE], mark=True, actor="ana"))
    delivered = next(result for result in outcome.results if result.kind == "episode")
    suspect = tmp_path / "found-on-a-forum.mp4"
    suspect.write_bytes(delivered.output.read_bytes())

    page = ana.page
    page.goto(studio_server.url("/trace"))
    form = page.get_by_test_id("trace-form")
    expect(form).to_be_visible()
    shots.take(page, "trace-form")
    form.get_by_test_id("trace-file").set_input_files(str(suspect))
    result = page.get_by_test_id("trace-result")
    expect(result).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(result).to_contain_text(f"render #{delivered.render_id}")
    shots.take(page, "traced")


@pytest.mark.parametrize("path", ["/", f"/shots/{EDITED}", f"/shots/{EDITED}/review", f"/episodes/{EPISODE}",
                                  "/queue", "/log", "/credentials", "/energy", "/trace", "/invite"])
def test_each_page_loads_only_from_the_studio_and_keeps_to_the_csp(ana, studio_server, path):
    checkpoint = ana.watch.checkpoint()
    page = ana.new_page()
    try:
        response = page.goto(studio_server.url(path))
        assert response.status == 200
        page.wait_for_load_state("load")
    finally:
        page.close()
    ana.watch.since(checkpoint).assert_clean(studio_server.host)


def test_nothing_the_flows_did_loaded_from_elsewhere_or_broke_the_csp(ana, studio_server):
    """Everything the owner's browser did in this module (renders, swaps, video, A/B) stayed on the studio."""
    assert any(url.startswith(studio_server.url("/events")) for url in ana.watch.requests)
    ana.watch.assert_clean(studio_server.host)
