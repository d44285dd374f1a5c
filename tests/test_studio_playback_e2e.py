"""The review player in a real headless Chromium: A/B in sync, wipe/overlay/difference, hook-up, keys.

One small production is rendered once for the module: the episode, then the first shot again after a
lighting change (as a shot file). So the first shot has two versions that both play from files (v1 its
part of the episode file, v2 its shot file), and the middle shot's hook-up runs from that shot file into
the episode file. Screenshots at 1440×900 go to $REELFORGE_TEST_ARTIFACTS (default test-artifacts/studio/).
"""

from __future__ import annotations

import json
import re

import pytest

pytest.register_assert_rewrite("studio_browser")

from studio_browser import UI_TIMEOUT_MS, expect

from reelforge.app.render_request import RenderRequest, render_production

pytest_plugins = ("studio_browser",)


pytestmark = pytest.mark.xdist_group("studio-playback-e2e")

LIT, KEPT, LAST = "s01e01/sc01/sh01", "s01e01/sc01/sh02", "s01e01/sc02/sh01"
FPS = 24
FRAME = 1 / FPS
# Where each video of the A/B player is, as a frame of its shot: (time - start) * fps.
POSITIONS = """() => [...document.querySelectorAll('#player video')].map(v => ({
  t: v.currentTime, seeking: v.seeking, paused: v.paused, ready: v.readyState}))"""


@pytest.fixture(scope="module")
def rendered(studio_server):
    spec = studio_server.spec
    render_production(RenderRequest(spec, actor="ana"))
    data = json.loads(spec.read_text(encoding="utf-8"))
    data["episodes"][0]["scenes"][0]["shots"][0]["lighting"] = {"preset": "neon-night"}
    spec.write_text(json.dumps(data, indent=2), encoding="utf-8")
    render_production(RenderRequest(spec, shot=LIT, actor="ana"))
    return spec


@pytest.fixture
def page(ana, rendered):
    return ana.page


def open_review(page, studio_server, shot: str) -> None:
    page.goto(studio_server.url(f"/shots/{shot}/review"))
    expect(page.get_by_test_id("player")).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("hookup")).to_have_attribute("data-ready", "true")


def settled_videos(page) -> list[dict]:
    """The A/B videos once neither is seeking any more (decoding is slow on a loaded 2-core machine)."""
    page.wait_for_function("""() => { const vs = [...document.querySelectorAll('#player video')];
      return vs.length && vs.every(v => v.readyState >= 2 && !v.seeking); }""", timeout=4 * UI_TIMEOUT_MS)
    return page.evaluate(POSITIONS)


def at_frames(videos: list[dict]) -> list[float]:
    """Each video's time as a frame position: n.0 is the middle of frame n (a browser keeps microseconds)."""
    return [round(v["t"] * FPS - 0.5, 3) for v in videos]


def shown_frame(page) -> int:
    return int(page.get_by_test_id("player").get_attribute("data-frame"))


def test_a_and_b_play_together_and_stop_on_the_same_frame(page, studio_server, shots):
    open_review(page, studio_server, LIT)
    a, b = page.get_by_test_id("player-video-a"), page.get_by_test_id("player-video-b")
    expect(a).to_be_visible()
    expect(b).to_be_visible()
    assert a.get_attribute("src") != b.get_attribute("src")  # v1: the episode file; v2: its shot file
    first = settled_videos(page)
    assert at_frames(first) == [0, 0]  # both on frame 0, mid-frame
    shots.take(page, "a-b-side-by-side")

    page.get_by_test_id("player").get_by_test_id("transport-scrub").fill("5")  # seek: both to frame 5
    expect(page.get_by_test_id("player").get_by_test_id("transport-frame")).to_have_text("frame 5 / 8")
    assert at_frames(settled_videos(page)) == [5, 5]

    page.get_by_test_id("player").get_by_test_id("transport-loop").check()
    page.get_by_test_id("player").get_by_test_id("transport-play").click()
    expect(page.get_by_test_id("player")).to_have_attribute("data-state", "playing")
    drifts = []
    for _ in range(5):  # while playing (looping), sampled: never more than a frame apart
        page.wait_for_function("() => [...document.querySelectorAll('#player video')].every(v => !v.paused && !v.seeking)")
        a_time, b_time = (v["t"] for v in page.evaluate(POSITIONS))
        drifts.append(abs(a_time - b_time))
        page.wait_for_timeout(150)
    assert max(drifts) <= FRAME + 1e-3, f"A and B drifted apart while playing: {drifts}"
    page.get_by_test_id("player").get_by_test_id("transport-play").click()
    expect(page.get_by_test_id("player")).to_have_attribute("data-state", "paused")
    frame = shown_frame(page)
    videos = settled_videos(page)
    times = [v["t"] for v in videos]
    assert times[0] == pytest.approx(times[1], abs=1e-5) == pytest.approx((frame + 0.5) / FPS, abs=1e-5)
    expect(page.get_by_test_id("frame-index")).to_have_text(f"frame {frame} / 8")  # the exact stills follow


def test_wipe_overlay_and_difference_change_the_composited_view(page, studio_server, shots):
    open_review(page, studio_server, LIT)
    stage, pane_b = page.get_by_test_id("player-stage"), page.get_by_test_id("pane-b")
    style = "(el, name) => getComputedStyle(el)[name]"
    assert pane_b.evaluate(style, "clipPath") == "none"
    assert pane_b.evaluate("el => getComputedStyle(el).gridArea") != "1 / 1 / auto / auto"

    page.get_by_role("button", name="Wipe").click()
    expect(stage).to_have_attribute("data-mode", "wipe")
    assert pane_b.evaluate(style, "clipPath") == "inset(0px 0px 0px 50%)"
    box = stage.bounding_box()  # drag the divider to a quarter of the frame: B shows on the right three quarters
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 4, box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    assert re.fullmatch(r"inset\(0px 0px 0px 2[45]\.\d+%\)|inset\(0px 0px 0px 25%\)", pane_b.evaluate(style, "clipPath"))
    expect(page.get_by_test_id("wipe-at")).to_have_value("25")
    handle = page.get_by_test_id("wipe-handle")
    expect(handle).to_be_visible()
    assert handle.bounding_box()["x"] == pytest.approx(box["x"] + box["width"] / 4, abs=3)
    shots.take(page, "wipe")

    page.get_by_role("button", name="Overlay").click()
    expect(stage).to_have_attribute("data-mode", "overlay")
    assert pane_b.evaluate(style, "clipPath") == "none" and pane_b.evaluate(style, "opacity") == "0.5"
    page.get_by_test_id("overlay-opacity").fill("30")
    assert pane_b.evaluate(style, "opacity") == "0.3"
    shots.take(page, "overlay")

    page.get_by_role("button", name="Difference").click()
    expect(stage).to_have_attribute("data-mode", "difference")
    view_b = pane_b.locator(".pane-view")
    assert view_b.evaluate(style, "mixBlendMode") == "difference" and pane_b.evaluate(style, "opacity") == "1"
    expect(page.get_by_test_id("difference-note")).to_have_text(
        re.compile(r"Frame 0, stored frames: [1-9]\d* pixels differ, max difference [1-9]\d*"))
    shots.take(page, "difference")

    page.get_by_role("button", name="Side by side").click()
    expect(stage).to_have_attribute("data-mode", "side")
    assert view_b.evaluate(style, "mixBlendMode") == "normal"


def test_keys_step_one_frame_and_j_k_l_space_drive_the_player(page, studio_server, shots):
    open_review(page, studio_server, LIT)
    player, label = page.get_by_test_id("player"), page.get_by_test_id("player").get_by_test_id("transport-frame")
    expect(page.get_by_test_id("key-help")).to_contain_text("J")
    page.keyboard.press("ArrowRight")
    expect(label).to_have_text("frame 1 / 8")
    assert at_frames(settled_videos(page)) == [1, 1]
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(label).to_have_text("frame 3 / 8")
    page.keyboard.press("ArrowLeft")
    expect(label).to_have_text("frame 2 / 8")
    assert at_frames(settled_videos(page)) == [2, 2]
    expect(page.get_by_test_id("frame-index")).to_have_text("frame 2 / 8")

    page.get_by_test_id("player").get_by_test_id("transport-loop").check()  # so a play lasts until the keys stop it
    page.keyboard.press(" ")
    expect(player).to_have_attribute("data-state", "playing")
    page.keyboard.press(" ")
    expect(player).to_have_attribute("data-state", "paused")

    page.keyboard.press("l")
    expect(player).to_have_attribute("data-state", "playing")
    expect(player).to_have_attribute("data-rate", "1")
    page.keyboard.press("l")
    expect(player).to_have_attribute("data-rate", "2")
    assert page.evaluate("() => [...document.querySelectorAll('#player video')].map(v => v.playbackRate)") == [2, 2]
    shots.take(page, "playing-2x")
    page.keyboard.press("k")
    expect(player).to_have_attribute("data-state", "paused")
    page.keyboard.press("j")
    expect(player).to_have_attribute("data-state", "reverse")
    page.keyboard.press("k")
    expect(player).to_have_attribute("data-state", "paused")
    frame = shown_frame(page)
    # Paused, both videos come to rest on the frame shown. A seek asked for while a video was still
    # stepping backwards lands a moment later, and decoding backwards is slow on a loaded 2-core
    # machine: wait until both have stopped seeking (a minute at most), then check where they are.
    page.wait_for_function("""([time]) => { const vs = [...document.querySelectorAll('#player video')];
      return vs.length === 2 && vs.every(v => !v.seeking && v.paused && Math.abs(v.currentTime - time) < 1e-5); }""",
                           arg=[(frame + 0.5) / FPS], timeout=4 * UI_TIMEOUT_MS)
    times = [v["t"] for v in settled_videos(page)]
    assert times == [pytest.approx((frame + 0.5) / FPS, abs=1e-5)] * 2

    # Typing in a field is typing, not driving the player.
    page.evaluate("() => { const t = document.createElement('textarea'); t.id = 'typing'; document.body.append(t); }")
    page.locator("#typing").focus()
    page.keyboard.type("l j ")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#typing")).to_have_value("l j ")
    expect(player).to_have_attribute("data-state", "paused")
    assert shown_frame(page) == frame


HOOKUP_RECORDER = """() => {
  const panel = document.getElementById('hookup');
  const seen = window.__hookupSeen = [];
  new MutationObserver(() => {
    if (seen[seen.length - 1] !== panel.dataset.playing) seen.push(panel.dataset.playing);
  }).observe(panel, {attributes: true, attributeFilter: ['data-playing']});
}"""


def test_the_hookup_plays_the_shot_between_its_neighbours(page, studio_server, shots):
    open_review(page, studio_server, KEPT)
    hookup = page.get_by_test_id("hookup")
    expect(page.get_by_test_id("hookup-current")).to_have_class(re.compile(r"\bcurrent\b"))
    expect(page.get_by_test_id("hookup-previous")).to_contain_text(LIT)
    expect(page.get_by_test_id("hookup-next")).to_contain_text(LAST)
    expect(hookup).to_have_attribute("data-playing", LIT)  # ready on the first frame of the shot before
    shots.take(page, "hookup-ready")
    page.evaluate(HOOKUP_RECORDER)
    hookup.get_by_test_id("transport-play").click()
    expect(hookup).to_have_attribute("data-state", "playing")
    expect(hookup).to_have_attribute("data-state", "paused", timeout=20_000)  # the three shots played through
    assert page.evaluate("() => window.__hookupSeen") == [KEPT, LAST]
    assert hookup.get_attribute("data-frame") == "23"  # the last frame of the shot after
    video = page.get_by_test_id("hookup-video")
    assert video.evaluate("v => v.error") is None
    shots.take(page, "hookup-played")

    # Its keys: the hook-up is the player last clicked; ← steps back into the middle shot.
    page.keyboard.press("ArrowLeft")
    expect(hookup).to_have_attribute("data-frame", "22")
    hookup.get_by_test_id("transport-scrub").fill("12")
    expect(hookup).to_have_attribute("data-playing", KEPT)
    expect(hookup.get_by_test_id("transport-frame")).to_have_text(f"This shot · {KEPT} · frame 4 / 8")


def test_the_first_shot_has_nothing_before_it(page, studio_server, shots):
    open_review(page, studio_server, LIT)
    expect(page.get_by_test_id("hookup-previous")).to_contain_text("this is the first shot of s01e01")
    expect(page.get_by_test_id("hookup-previous")).to_have_class(re.compile(r"\bmissing\b"))
    expect(page.get_by_test_id("hookup")).to_have_attribute("data-playing", LIT)


def test_a_version_whose_file_was_replaced_plays_its_stored_frames(page, studio_server, rendered, shots):
    render_production(RenderRequest(rendered, actor="ana"))  # a new episode file replaces v1's
    open_review(page, studio_server, LIT)
    frames_a = page.get_by_test_id("player-video-a")  # the same place, now an <img> of stored frames
    expect(frames_a).to_have_js_property("tagName", "IMG")
    expect(page.get_by_test_id("note-a")).to_contain_text("no video file any more")
    first = frames_a.get_attribute("src")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("player").get_by_test_id("transport-frame")).to_have_text("frame 1 / 8")
    expect(frames_a).not_to_have_attribute("src", first)
    assert [round(t["t"] * FPS - 0.5, 3) for t in settled_videos(page)] == [1]  # B, a video, on the same frame
    page.get_by_role("button", name="Difference").click()
    expect(page.get_by_test_id("difference-note")).to_contain_text("Frame 1, stored frames:")
    expect(page.get_by_test_id("player-stage")).to_have_attribute("data-exact", "false")  # B still blends
    shots.take(page, "a-from-stored-frames")


def test_the_player_pages_stayed_on_the_studio_and_the_csp(ana, studio_server):
    ana.watch.assert_clean(studio_server.host)
