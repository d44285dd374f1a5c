"""Plain language in a real Chromium: the cast picked by name, a previz shot's note and why A/B is identical,
the change log grouped by commit with human diffs, and the trace page showing one message at a time.

One studio serves the module; the tests run in order. Screenshots at 1440×900 go with the others.
"""

from __future__ import annotations

import json

import pytest

pytest.register_assert_rewrite("studio_browser")
from studio_browser import RENDER_TIMEOUT_MS, expect  # noqa: E402

from reelforge.app.render_request import RenderRequest, render_production  # noqa: E402

pytest_plugins = ("studio_browser",)


pytestmark = pytest.mark.xdist_group("studio-plain")

SHOT = "s01e01/sc01/sh01"  # cast: mara; lit by its scene


def shot_json(spec, path: str) -> dict:
    episode, scene, shot = path.split("/")
    raw = json.loads(spec.read_text(encoding="utf-8"))
    return next(s for e in raw["episodes"] if e["id"] == episode for c in e["scenes"] if c["id"] == scene
                for s in c["shots"] if s["id"] == shot)


def save(page, reason: str) -> None:
    page.get_by_test_id("edit-reason").fill(reason)
    with page.expect_response(lambda response: response.request.method == "POST" and "/shots/" in response.url):
        page.get_by_test_id("save-shot").click()
    expect(page.get_by_test_id("save-result")).to_be_visible()
    expect(page.get_by_test_id("field-error")).to_have_count(0)


def test_the_cast_picker_adds_orders_and_saves_characters_by_name(ana, studio_server, shots):
    page = ana.page
    page.goto(studio_server.url(f"/shots/{SHOT}"))
    members = page.get_by_test_id("cast-member")
    expect(members).to_have_count(1)
    expect(members.first).to_contain_text("Mara")
    expect(page.get_by_test_id("previz-note")).to_be_visible()
    add = page.get_by_test_id("cast-add")
    expect(add.locator("option[value=mara]")).to_be_disabled()  # already in the shot: not twice
    shots.take(page, "shot-page-cast-picker")

    add.select_option("theo")
    expect(members).to_have_count(2)
    members.nth(1).get_by_role("button", name="move Theo left").click()
    expect(members.first).to_contain_text("Theo")
    expect(page.get_by_test_id("field-cast")).to_have_value("theo, mara")
    shots.take(page, "theo-moved-left")
    page.get_by_test_id("field-blocking").fill("")  # the shot's walk was blocked for Mara alone: both stand now
    save(page, "Theo walks ahead of Mara")
    assert shot_json(studio_server.spec, SHOT)["cast"] == ["theo", "mara"]
    expect(page.get_by_test_id("cast-member")).to_have_count(2)  # the saved form, swapped in, is live again
    page.get_by_test_id("cast-member").first.get_by_role("button", name="take Theo out of the shot").click()
    expect(page.get_by_test_id("field-cast")).to_have_value("mara")
    save(page, "Mara alone again")
    assert shot_json(studio_server.spec, SHOT)["cast"] == ["mara"]
    shots.take(page, "saved")


def test_a_prompt_only_edit_on_previz_says_why_a_b_is_identical(ana, studio_server, shots):
    page = ana.page
    render_production(RenderRequest(studio_server.spec, shot=SHOT, actor="ana"))
    page.goto(studio_server.url(f"/shots/{SHOT}"))
    page.get_by_test_id("field-prompt").first.fill("Mara stops at the lighthouse door")
    save(page, "a new action for the shot")
    render_production(RenderRequest(studio_server.spec, shot=SHOT, actor="ana"))
    page.goto(studio_server.url(f"/shots/{SHOT}/review"))
    expect(page.get_by_test_id("diff-summary")).to_have_text("identical", timeout=RENDER_TIMEOUT_MS)
    why = page.get_by_test_id("ab-why")
    expect(why).to_be_visible()
    expect(why).to_contain_text("differ only in the prompt, which previz does not draw")
    expect(page.get_by_test_id("version-changed").first).to_have_text("prompt")
    expect(page.get_by_test_id("frame-digest")).to_be_hidden()  # behind "details"
    shots.take(page, "review-identical-explained")


def test_the_change_log_shows_a_lighting_edit_in_words_under_its_commit(ana, studio_server, shots):
    page = ana.page
    page.goto(studio_server.url(f"/shots/{SHOT}"))
    page.get_by_test_id("field-lighting-preset").select_option("neon-night")
    save(page, "night exterior")
    expect(page.get_by_test_id("changed-fields")).to_have_text("edited since the last render: lighting")
    shots.take(page, "lighting-edited")
    page.goto(studio_server.url("/log"))
    commit = page.get_by_test_id("log-group").filter(has_text="night exterior")
    expect(commit).to_have_count(1)
    expect(commit.locator("h3")).to_contain_text("Commit #")
    change = commit.get_by_test_id("log-change")
    expect(change).to_have_count(1)
    expect(change).to_have_text("lighting: inherited → neon night")
    diffs = commit.get_by_test_id("log-diff")  # the JSON paths: behind "details"
    assert diffs.count() >= 1 and all(not diffs.nth(i).is_visible() for i in range(diffs.count()))
    shots.take(page, "change-log-by-commit")
    page.goto(studio_server.url("/energy"))
    expect(page.get_by_test_id("energy-totals")).to_contain_text("Wh")
    shots.take(page, "energy")
    page.goto(studio_server.url("/queue"))
    expect(page.get_by_test_id("queue-help")).to_be_visible()
    shots.take(page, "queue")


def test_the_trace_page_shows_one_message_at_a_time(ana, studio_server, shots, tmp_path):
    page = ana.page
    page.goto(studio_server.url("/trace"))
    status, result = page.get_by_test_id("trace-status"), page.get_by_test_id("trace-result")
    expect(status).to_have_text("")
    expect(result).to_have_count(0)
    shots.take(page, "trace-initial")
    not_video = tmp_path / "notes.mp4"
    not_video.write_bytes(b"these are notes, not a video" * 10)
    page.get_by_test_id("trace-file").set_input_files(str(not_video))
    expect(result).to_have_count(1)
    expect(result).to_contain_text("not a video")
    expect(status).to_have_text("")
    shots.take(page, "trace-not-a-video")
    page.get_by_test_id("trace-submit").click()  # nothing chosen now: only that message
    expect(status).to_have_text("Choose or drop a video file first.")
    expect(result).to_have_count(0)
    shots.take(page, "trace-choose-a-file")
    ana.watch.assert_clean(studio_server.host)
