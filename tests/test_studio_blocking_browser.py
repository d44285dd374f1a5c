"""The shot page's blocking diagram and blocking field in a real Chromium: drawn inline without a CSP
violation, a bad action refused beside the field with its JSON path, a good one saved.

Screenshots at 1440×900 go with the others.
"""

from __future__ import annotations

import json

import pytest

pytest.register_assert_rewrite("studio_browser")
from studio_browser import expect  # noqa: E402

pytest_plugins = ("studio_browser",)

pytestmark = pytest.mark.xdist_group("studio-blocking")

SHOT = "s01e01/sc01/sh02"  # Mara and Theo


def test_the_shot_page_shows_the_plan_and_edits_blocking_with_paths_beside_the_field(ana, studio_server, shots):
    page = ana.page
    checkpoint = ana.watch.checkpoint()
    page.goto(studio_server.url(f"/shots/{SHOT}"))
    plan = page.get_by_test_id("plan-view")
    expect(plan).to_be_visible()
    expect(plan.locator("g[data-character]")).to_have_count(2)
    box = plan.bounding_box()
    assert 200 <= box["width"] <= 322  # fits the side column, readable
    shots.take(page, "shot-page-plan")

    field = page.get_by_test_id("field-blocking")
    field.fill(json.dumps({"mara": {"actions": [{"action": "turn", "at_s": 0, "heading_deg": 90, "speed_mps": 1}]}}))
    page.get_by_test_id("edit-reason").fill("Mara turns")
    page.get_by_test_id("save-shot").click()
    error = page.locator('[data-testid="field-error"][data-field="blocking"]')
    expect(error).to_contain_text("$.episodes[0].scenes[0].shots[1].blocking.mara.actions[0].speed_mps")
    expect(error).to_contain_text("does not apply to a turn")
    shots.take(page, "blocking-refused")

    good = {"mara": {"actions": [{"action": "turn", "at_s": 0, "heading_deg": 90, "duration_s": 0.2}]}}
    page.get_by_test_id("field-blocking").fill(json.dumps(good))
    page.get_by_test_id("save-shot").click()
    expect(page.get_by_test_id("save-result")).to_be_visible()
    expect(page.get_by_test_id("field-error")).to_have_count(0)
    shot = json.loads(studio_server.spec.read_text(encoding="utf-8"))["episodes"][0]["scenes"][0]["shots"][1]
    assert shot["blocking"] == good
    expect(page.get_by_test_id("plan-view")).to_be_visible()  # the summary re-fetched itself after the save
    shots.take(page, "blocking-saved")
    ana.watch.since(checkpoint).assert_clean(studio_server.host)
