"""The studio's review endpoints: the shot review page, the episode page, media, frames and differences.

One production is rendered per module: the episode; the episode again, after the first shot's
lighting changed, with language deliveries (en, fr); and two frames of the last shot into a
folder outside the production. Every test reads what that left through one logged-in client.
"""

from __future__ import annotations

import html
import io
import json
import re

import numpy as np
import pytest
from conftest import small_spec
from fastapi.testclient import TestClient
from PIL import Image
from studio_support import login, served, small_production, studio_app

from reelforge.app import review
from reelforge.app.render_request import RenderRequest, render_production
from reelforge.store.catalog import Catalog
from reelforge.store.frames import FrameStore, frame_hash
from reelforge.store.paths import ProductionPaths

LIT = "s01e01/sc01/sh01"
KEPT = "s01e01/sc01/sh02"
LAST = "s01e01/sc02/sh01"
FPS = 24


def spec_with_languages() -> dict:
    spec = small_spec()
    spec["languages"] = ["en", "fr"]
    episode = spec["episodes"][0]
    episode["title"] = {"en": "The Lamp", "fr": "La lampe"}
    episode["scenes"][0]["shots"][0]["dialogue"] = [
        {"text": {"en": "Is the lamp lit?", "fr": "La lampe est allumée ?"}, "speaker": "mara"}]
    return spec


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("studio-review")
    spec = small_production(folder / "show", spec_with_languages())
    first = render_production(RenderRequest(spec, actor="ana")).results[0]
    data = json.loads(spec.read_text(encoding="utf-8"))
    data["episodes"][0]["scenes"][0]["shots"][0]["lighting"] = {"preset": "neon-night"}
    spec.write_text(json.dumps(data, indent=2), encoding="utf-8")
    second = render_production(RenderRequest(spec, actor="bo", languages=["en", "fr"])).results[0]
    outside = render_production(RenderRequest(spec, shot=LAST, frames=(0, 2), out=folder / "elsewhere",
                                              actor="ana")).results[0]
    catalog = Catalog(ProductionPaths.for_spec(spec).catalog)
    versions = {path: review.shot_versions(catalog, path) for path in (LIT, KEPT, LAST)}
    catalog.engine.dispose()
    return {"spec": spec, "first": first, "second": second, "outside": outside, "versions": versions,
            "store": FrameStore(ProductionPaths.for_spec(spec).frames)}


@pytest.fixture(scope="module")
def app(rendered):
    with served(rendered["spec"]) as found:
        yield found


@pytest.fixture(scope="module")
def browser(app):
    return app[2]


def attribute(page: str, testid: str, name: str) -> str:
    """The value of attribute `name` of the element with this data-testid (unescaped)."""
    tag = re.search(rf'<[^>]*data-testid="{testid}"[^>]*>', page)
    assert tag is not None, f"no element with data-testid={testid}"
    value = re.search(rf'\s{name}="([^"]*)"', tag.group(0))
    assert value is not None, f"{testid} has no {name}"
    return html.unescape(value.group(1))


def text_of(page: str, testid: str) -> str:
    found = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', page, re.DOTALL)
    assert found is not None, f"no element with data-testid={testid}"
    return " ".join(re.sub(r"<[^>]+>", "", html.unescape(found.group(2))).split())


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


# --------------------------------------------------------------------------- no session


def test_every_review_endpoint_needs_a_session(app, rendered):
    fastapi_app = app[0]
    digest = rendered["versions"][LIT][0].frame_hashes[0]
    with TestClient(fastapi_app) as stranger:
        for url in (f"/shots/{LIT}/review", "/episodes/s01e01", f"/media/{rendered['second'].render_id}",
                    f"/frames/{digest}.png", f"/diff/{digest}/{digest}.png", f"/diff/{digest}/{digest}.json",
                    f"/media/{rendered['second'].languages[0].render_id}/subtitles.vtt"):
            response = stranger.get(url)
            assert response.status_code == 401, url
            assert b"IHDR" not in response.content and b"ftyp" not in response.content


# --------------------------------------------------------------------------- the shot review page


def test_review_page_plays_the_shot_and_compares_the_previous_version_with_the_newest(browser, rendered):
    newest, older = rendered["versions"][LIT]
    response = browser.get(f"/shots/{LIT}/review")
    assert response.status_code == 200
    page = response.text
    second = rendered["second"].render_id
    assert attribute(page, "shot-video", "src") == f"/media/{second}#t=0.000,0.333"  # its part of the episode
    assert " controls" in re.search(r'<video[^>]*data-testid="shot-video"[^>]*>', page).group(0)
    assert attribute(page, "frame-image", "src") == f"/frames/{newest.frame_hashes[0]}.png"
    assert text_of(page, "frame-index") == "frame 0 / 8"
    assert 'data-testid="frame-prev"' in page and 'data-testid="frame-next"' in page
    selected_a = re.search(r'data-testid="ab-a".*?<option value="(\w+)" selected', page, re.DOTALL).group(1)
    selected_b = re.search(r'data-testid="ab-b".*?<option value="(\w+)" selected', page, re.DOTALL).group(1)
    assert (selected_a, selected_b) == (older.job_key, newest.job_key)  # A = previous, B = newest
    assert attribute(page, "diff-image", "src") == f"/diff/{older.frame_hashes[0]}/{newest.frame_hashes[0]}.png"
    stats = review.difference_stats(rendered["store"], older.frame_hashes[0], newest.frame_hashes[0])
    assert not stats.identical
    assert text_of(page, "diff-summary") == f"{stats.pixels_differing} pixels differ, max difference {stats.max_abs}"
    versions = json.loads(html.unescape(re.search(r"data-versions='([^']*)'", page).group(1)))
    assert [(v["key"], v["frames"]) for v in versions] == [(newest.job_key, list(newest.frame_hashes)),
                                                           (older.job_key, list(older.frame_hashes))]
    assert '<script src="/static/review.js"' in page and "<script>" not in page and "style=" not in page


def test_a_shot_with_one_version_says_a_second_render_is_needed(browser, rendered):
    page = browser.get(f"/shots/{KEPT}/review").text
    assert "a second render is needed to compare" in text_of(page, "compare-needs-two")
    assert 'data-testid="ab-a"' not in page and 'data-testid="diff-image"' not in page
    assert attribute(page, "frame-image", "src") == f"/frames/{rendered['versions'][KEPT][0].frame_hashes[0]}.png"


def test_the_shot_video_never_offers_a_file_outside_the_production(browser, rendered):
    page = browser.get(f"/shots/{LAST}/review").text
    assert attribute(page, "shot-video", "src") == f"/media/{rendered['second'].render_id}#t=0.667,1.000"
    assert f"/media/{rendered['outside'].render_id}" not in page


@pytest.mark.parametrize("url", ["/shots/s01e01/sc01/sh09/review", "/shots/s01e01/sc01/..%2F..%2Fsh01/review",
                                 "/shots/s01e01/sc01/.../review", "/shots/S01E01/sc01/sh01/review",
                                 "/shots/s01e01/sc01%2Fsh01/x/review"])
def test_unknown_or_traversing_shot_ids_are_404(browser, url):
    assert browser.get(url).status_code == 404


# --------------------------------------------------------------------------- the episode page


def test_episode_page_plays_the_newest_delivery_with_its_languages_and_links_its_shots(browser, rendered):
    page = browser.get("/episodes/s01e01").text
    second = rendered["second"]
    assert attribute(page, "episode-video", "src") == f"/media/{second.render_id}"
    languages = re.findall(r'data-testid="language-delivery" data-language="(\w+)"', page)
    assert languages == ["en", "fr"]
    for delivery in second.languages:
        assert f'src="/media/{delivery.render_id}/subtitles.vtt"' in page
    assert re.findall(r'data-testid="shot-review-link" href="([^"]+)"', page) == [
        f"/shots/{LIT}/review", f"/shots/{KEPT}/review", f"/shots/{LAST}/review"]
    assert 'data-seek="0.333"' in page and 'data-seek="0.667"' in page


@pytest.mark.parametrize("url", ["/episodes/s09e09", "/episodes/%2E%2E", "/episodes/S01E01", "/episodes/%2E%2E%2Fetc"])
def test_unknown_or_traversing_episode_ids_are_404(browser, url):
    assert browser.get(url).status_code == 404


# --------------------------------------------------------------------------- media


def test_media_serves_the_delivered_mp4_and_answers_range_requests_with_206(browser, rendered):
    second = rendered["second"]
    data = second.output.read_bytes()
    whole = browser.get(f"/media/{second.render_id}")
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.content == data and whole.headers["accept-ranges"] == "bytes"
    part = browser.get(f"/media/{second.render_id}", headers={"Range": "bytes=100-1123"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-1123/{len(data)}"
    assert part.content == data[100:1124]


def test_media_of_a_language_delivery_and_its_subtitles(browser, rendered):
    french = next(d for d in rendered["second"].languages if d.output.name == "s01e01.fr.mp4")
    assert browser.get(f"/media/{french.render_id}").content == french.output.read_bytes()
    vtt = browser.get(f"/media/{french.render_id}/subtitles.vtt")
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT") and "La lampe est allumée ?" in vtt.text
    picture = browser.get(f"/media/{rendered['second'].render_id}/subtitles.vtt")
    assert picture.status_code == 404  # a picture delivery has no subtitles file


def test_media_refuses_unknown_replaced_and_outside_renders(browser, rendered):
    assert browser.get("/media/9999").status_code == 404
    for bad in ("abc", "0", "-1", "1.0", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"):
        assert browser.get(f"/media/{bad}").status_code == 404, bad
    replaced = browser.get(f"/media/{rendered['first'].render_id}")  # same path, overwritten by the second render
    assert replaced.status_code == 410 and "replaced by render" in replaced.json()["detail"]
    outside = rendered["outside"]
    assert outside.output.is_file()
    refused = browser.get(f"/media/{outside.render_id}")
    assert refused.status_code == 403 and "outside the production" in refused.json()["detail"]
    assert refused.content != outside.output.read_bytes()


def test_media_refuses_a_delivery_replaced_by_a_link_leaving_the_production(browser, rendered, tmp_path):
    delivered = rendered["second"].output
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"not for the studio")
    kept = delivered.with_name("kept.bak")
    delivered.rename(kept)
    try:
        delivered.symlink_to(secret)
        refused = browser.get(f"/media/{rendered['second'].render_id}")
        assert refused.status_code == 403 and b"not for the studio" not in refused.content
        assert f"/media/{rendered['second'].render_id}" not in browser.get(f"/shots/{LIT}/review").text
    finally:
        delivered.unlink(missing_ok=True)
        kept.rename(delivered)


# --------------------------------------------------------------------------- frames


def test_a_frame_is_served_as_the_exact_stored_pixels(browser, rendered):
    digest = rendered["versions"][LIT][0].frame_hashes[5]
    response = browser.get(f"/frames/{digest}.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert frame_hash(decode(response.content)) == digest
    assert "immutable" in response.headers["cache-control"]  # named by its content: it never changes
    assert decode(browser.get(f"/frames/{digest}.png?width=320").content).shape == (180, 320, 3)
    assert decode(browser.get(f"/frames/{digest}.png?width=99999").content).shape == (1080, 1920, 3)  # clamped
    bad_width = browser.get(f"/frames/{digest}.png?width=wide")
    assert bad_width.status_code == 400 and "width" in bad_width.json()["detail"]


@pytest.mark.parametrize("width", ["²", "١٢", "-5", "0", "1e3", " 12", "12px", "0x10"])
def test_a_width_that_is_not_plain_digits_is_a_400(browser, rendered, width):
    digest = rendered["versions"][LIT][0].frame_hashes[0]
    for url in (f"/frames/{digest}.png", f"/diff/{digest}/{digest}.png"):
        response = browser.get(url, params={"width": width})
        assert response.status_code == 400 and "width must be" in response.json()["detail"], url


def test_a_width_of_thousands_of_digits_is_clamped(browser, rendered):
    digest = rendered["versions"][LIT][0].frame_hashes[0]
    assert decode(browser.get(f"/frames/{digest}.png", params={"width": "9" * 5000}).content).shape == (1080, 1920, 3)
    assert decode(browser.get(f"/frames/{digest}.png", params={"width": "0" * 5000 + "320"}).content).shape == (
        180, 320, 3)


def test_bad_digests_are_404_without_touching_the_disk(browser, monkeypatch):
    def no_disk(self, digest):
        raise AssertionError(f"looked up {digest!r} on disk")

    monkeypatch.setattr(FrameStore, "path", no_disk)
    good = "ab" * 32
    for bad in ("abc", "AB" * 32, "ab" * 31 + "zz", "ab" * 33, "..%2F..%2Fcatalog", "%2E%2E"):
        assert browser.get(f"/frames/{bad}.png").status_code == 404, bad
        assert browser.get(f"/diff/{bad}/{good}.png").status_code == 404, bad
        assert browser.get(f"/diff/{good}/{bad}.json").status_code == 404, bad


def test_a_well_formed_digest_of_no_stored_frame_is_404(browser):
    response = browser.get(f"/frames/{'0' * 64}.png")
    assert response.status_code == 404 and "not in the frame store" in response.json()["detail"]


# --------------------------------------------------------------------------- differences


def test_diff_of_two_versions_shows_exact_counts(browser, rendered):
    newest, older = rendered["versions"][LIT]
    a, b = older.frame_hashes[2], newest.frame_hashes[2]
    stats = review.difference_stats(rendered["store"], a, b)
    image = browser.get(f"/diff/{a}/{b}.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.headers["x-pixels-differing"] == str(stats.pixels_differing) != "0"
    assert image.headers["x-max-difference"] == str(stats.max_abs)
    red = decode(image.content)
    assert int(((red[:, :, 0] >= 128) & (red[:, :, 1] == 0) & (red[:, :, 2] == 0)).sum()) == stats.pixels_differing
    summary = browser.get(f"/diff/{a}/{b}.json").json()
    assert summary == {"identical": False, "pixels_differing": stats.pixels_differing, "max_abs": stats.max_abs,
                       "pixels": 1920 * 1080, "summary": stats.summary}


def test_diff_of_a_frame_with_itself_is_identical(browser, rendered):
    digest = rendered["versions"][KEPT][0].frame_hashes[0]
    assert browser.get(f"/diff/{digest}/{digest}.json").json()["summary"] == "identical"
    assert browser.get(f"/diff/{digest}/{digest}.png").headers["x-pixels-differing"] == "0"


def test_diff_of_frames_of_different_sizes_is_a_409_saying_so(browser, rendered):
    """After an aspect-ratio change, say: the frames cannot be compared pixel by pixel."""
    wide = rendered["versions"][KEPT][0].frame_hashes[0]
    square = rendered["store"].put(np.zeros((64, 64, 3), dtype=np.uint8))
    for suffix in ("png", "json"):
        response = browser.get(f"/diff/{wide}/{square}.{suffix}")
        assert response.status_code == 409 and "1920×1080 and 64×64" in response.json()["detail"]


def test_diff_of_an_unknown_frame_is_404(browser, rendered):
    digest = rendered["versions"][KEPT][0].frame_hashes[0]
    assert browser.get(f"/diff/{digest}/{'0' * 64}.png").status_code == 404


def test_a_production_never_rendered_shows_empty_pages_and_creates_no_catalog(tmp_path):
    spec = small_production(tmp_path / "fresh")
    app, state = studio_app(spec)
    with TestClient(app) as client:
        browser = login(client, state, "ana")
        page = browser.get(f"/shots/{LIT}/review")
        assert page.status_code == 200 and "not been rendered yet" in text_of(page.text, "review-empty")
        episode = browser.get("/episodes/s01e01")
        assert episode.status_code == 200 and 'data-testid="episode-not-rendered"' in episode.text
        assert browser.get("/media/1").status_code == 404
        assert browser.get(f"/frames/{'0' * 64}.png").status_code == 404
    assert not ProductionPaths.for_spec(spec).catalog.exists()  # looking never creates the production's state
