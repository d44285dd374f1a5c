"""Review statuses and frame-pinned notes in a real headless Chromium (issue 17), at 1440×900.

One studio serves one small production, rendered once before the browser opens; the tests run in
order: a retake with its note badged on the review page, in the tree and in the episode view; then
a box, an arrow and a freehand stroke drawn on a frame, saved with a note, listed in the sidebar,
kept across a reload, and drawn onto the still of the exported review sheet.
Screenshots go to $REELFORGE_TEST_ARTIFACTS (default test-artifacts/studio/).
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator

import numpy as np
import pytest

pytest.register_assert_rewrite("studio_browser")

from conftest import cli
from PIL import Image
from studio_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    UI_TIMEOUT_MS,
    VIEWPORT,
    Screenshots,
    expect,
    login,
    require_browser,
    start_server,
)

from reelforge.app.review_sheet import INK

pytestmark = pytest.mark.xdist_group("studio-review-room")

SHOT = "s01e01/sc01/sh01"
INK_CSS = "rgb(255, 40, 220)"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    server = start_server(tmp_path_factory.mktemp("review-room-e2e") / "production")
    code, output = cli("render", str(server.spec))  # the episode, rendered as a person would from a terminal
    assert code == 0, output
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def viewer(server) -> Iterator[dict]:
    """Ana's browser at 1440×900, recording console messages (CSP violations) and script errors."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = chromium.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        login(page, server, "ana")
        try:
            yield {"page": page, "context": context, "problems": problems}
        finally:
            context.close()
            chromium.close()


@pytest.fixture
def shots(request) -> Screenshots:
    return Screenshots(request.node.name)


def _open_review(page, server) -> None:
    page.goto(server.url(f"/shots/{SHOT}/review"))
    expect(page.get_by_test_id("review-state")).to_be_visible()  # notes.js fetched the status panel
    expect(page.get_by_test_id("frame-image")).to_have_js_property("complete", True)
    # the players above the stepper size themselves when their videos' metadata arrive: wait, so the
    # drawing layer stays where a test measured it
    page.wait_for_function("() => [...document.querySelectorAll('video')].every(v => v.readyState >= 1 || !v.src)")


def test_a_retake_with_its_note_is_badged_on_the_review_page_in_the_tree_and_in_the_episode(viewer, server, shots):
    page = viewer["page"]
    _open_review(page, server)
    state = page.get_by_test_id("review-state")
    expect(state).to_have_attribute("data-state", "waiting")
    page.get_by_test_id("status-retake").click()  # no note: refused beside the buttons
    expect(page.get_by_test_id("status-error")).to_have_text("a retake needs a note saying what to fix")
    page.get_by_test_id("status-note").fill("the lamp is too dim: bring the key light up")
    page.get_by_test_id("status-retake").click()
    expect(page.get_by_test_id("review-state")).to_have_attribute("data-state", "retake")
    expect(page.get_by_test_id("review-note")).to_have_text("the lamp is too dim: bring the key light up")
    expect(page.get_by_test_id("status-error")).to_have_count(0)
    shots.take(page, "review-page-retake")

    page.goto(server.url("/"))
    badge = page.locator(f'[data-testid="review-badge"][data-shot="{SHOT}"]')
    expect(badge).to_have_attribute("data-state", "retake")
    expect(badge).to_have_text("retake")
    expect(page.locator('[data-testid="review-badge"][data-state="waiting"]')).to_have_count(2)
    shots.take(page, "tree-badges")

    page.goto(server.url("/episodes/s01e01"))
    badge = page.locator(f'[data-testid="review-badge"][data-shot="{SHOT}"]')
    expect(badge).to_have_attribute("data-state", "retake")
    shots.take(page, "episode-badges")

    _open_review(page, server)
    page.get_by_test_id("status-approved").click()
    expect(page.get_by_test_id("review-state")).to_have_attribute("data-state", "approved")
    page.goto(server.url("/"))
    expect(page.locator(f'[data-testid="review-badge"][data-shot="{SHOT}"]')).to_have_text("approved")


def _drag(page, layer, start, end, steps=6) -> None:
    """Press at `start`, move to `end` and let go: (x, y) as fractions of the drawing layer, measured now."""
    box = layer.bounding_box()
    page.mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + end[0] * box["width"], box["y"] + end[1] * box["height"], steps=steps)
    page.mouse.up()


def _ink_at(page, x: float, y: float) -> bool:
    """Whether the drawing layer shows the saved notes' ink near (x, y), fractions of its size (the frame under it
    is not drawn on this layer, so nothing else there is magenta)."""
    return page.get_by_test_id("draw-layer").evaluate("""(canvas, [x, y]) => {
      const context = canvas.getContext("2d");
      const cx = Math.round(x * canvas.width), cy = Math.round(y * canvas.height);
      const data = context.getImageData(cx - 8, cy - 8, 17, 17).data;  // a few pixels of layout shift
      for (let i = 0; i < data.length; i += 4) {
        // the ink (255, 40, 220), allowing for anti-aliasing where a line falls between pixels
        if (data[i] > 180 && data[i + 1] < 140 && data[i + 2] > 150 && data[i + 3] > 150) return true;
      }
      return false;
    }""", [x, y])


def test_a_note_with_a_box_an_arrow_and_a_freehand_stroke_is_listed_kept_and_exported(viewer, server, shots):
    page = viewer["page"]
    _open_review(page, server)
    page.get_by_test_id("frame-next").click()
    page.get_by_test_id("frame-next").click()
    expect(page.get_by_test_id("note-frame")).to_have_text("2")
    layer = page.get_by_test_id("draw-layer")
    expect(layer).to_be_visible()
    page.get_by_test_id("tool-box").click()
    _drag(page, layer, (0.2, 0.2), (0.5, 0.6))
    page.get_by_test_id("tool-arrow").click()
    _drag(page, layer, (0.85, 0.15), (0.55, 0.45))
    page.get_by_test_id("tool-freehand").click()
    _drag(page, layer, (0.1, 0.85), (0.4, 0.75), steps=12)
    expect(page.get_by_test_id("draw-count")).to_have_text("3 marks drawn, not saved yet")
    page.get_by_test_id("note-text").fill("watch the lamp here: it flickers")
    page.get_by_test_id("note-add").click()

    item = page.get_by_test_id("note-item")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Frame 2")
    expect(item).to_contain_text("watch the lamp here: it flickers")
    expect(item).to_contain_text("3 marks")
    assert _ink_at(page, 0.2, 0.2), "the saved box is drawn in the notes' ink"
    shots.take(page, "note-saved")

    page.reload()
    expect(page.get_by_test_id("note-item")).to_have_count(1)
    expect(page.get_by_test_id("frame-index")).to_have_text(re.compile(r"frame 0 / 8"))
    page.get_by_test_id("note-item").click()  # jump to its frame and show its drawing
    expect(page.get_by_test_id("frame-index")).to_have_text(re.compile(r"frame 2 / 8"))
    expect(page.get_by_test_id("note-item")).to_have_class(re.compile("selected"))
    page.wait_for_function("() => document.querySelector('[data-testid=draw-layer]').width > 0")
    assert _ink_at(page, 0.2, 0.2) and _ink_at(page, 0.55, 0.45), "the drawing came back after the reload"
    assert not _ink_at(page, 0.95, 0.95)
    shots.take(page, "note-after-reload")

    response = page.request.get(server.url(f"/shots/{SHOT}/review-sheet.html"))
    assert response.ok
    sheet = response.text()
    assert "watch the lamp here: it flickers" in sheet
    (still,) = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', sheet)
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(still))).convert("RGB"))
    height, width = pixels.shape[:2]
    assert tuple(pixels[round(0.2 * (height - 1)), round(0.2 * (width - 1))]) == INK  # the box's corner
    sheet_page = viewer["context"].new_page()
    sheet_page.on("console", lambda m: viewer["problems"].append(m.text) if "Content Security" in m.text else None)
    sheet_page.goto(server.url(f"/shots/{SHOT}/review-sheet.html"))
    expect(sheet_page.locator("img")).to_have_count(1)
    assert sheet_page.locator(".note").evaluate("el => getComputedStyle(el).display") == "grid"  # its style applies
    shots.take(sheet_page, "review-sheet")
    sheet_page.close()


def test_nothing_broke_the_csp_or_threw(viewer):
    assert viewer["problems"] == []
