"""The review player's data: what plays for each version of a shot, and the hook-up of a shot with its neighbours.

One production is rendered per module: the episode, then the episode again after the first shot's lighting
changed, so the first shot's older version lost its file (the second episode file replaced it) and plays
from its stored frames, while the newest versions play their part of the episode file.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from studio_support import served, small_production

from reelforge.app import review, review_media
from reelforge.app.render_request import RenderRequest, render_production
from reelforge.app.status import production_status
from reelforge.store.catalog import Catalog
from reelforge.store.frames import FrameStore
from reelforge.store.paths import ProductionPaths

LIT = "s01e01/sc01/sh01"
KEPT = "s01e01/sc01/sh02"
LAST = "s01e01/sc02/sh01"
FPS = 24


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    spec = small_production(tmp_path_factory.mktemp("playback") / "show")
    first = render_production(RenderRequest(spec, actor="ana")).results[0]
    data = json.loads(spec.read_text(encoding="utf-8"))
    data["episodes"][0]["scenes"][0]["shots"][0]["lighting"] = {"preset": "neon-night"}
    spec.write_text(json.dumps(data, indent=2), encoding="utf-8")
    second = render_production(RenderRequest(spec, actor="bo")).results[0]
    catalog = Catalog(ProductionPaths.for_spec(spec).catalog)
    versions = review.shot_versions(catalog, LIT)
    catalog.engine.dispose()
    return {"spec": spec, "first": first, "second": second, "versions": versions}


@pytest.fixture(scope="module")
def app(rendered):
    with served(rendered["spec"]) as found:
        yield found


@pytest.fixture(scope="module")
def ana(app):
    return app[2]


def test_the_player_data_needs_a_session_and_answers_no_post(app, ana):
    with TestClient(app[0]) as stranger:
        for url in (f"/shots/{LIT}/playback.json", f"/shots/{LIT}/hookup.json"):
            response = stranger.get(url)
            assert response.status_code == 401, url
            assert "versions" not in response.text and "shots" not in response.text
            assert stranger.post(url).status_code in (401, 403), url  # no session, no CSRF token: refused first
            assert ana.post(url).status_code == 405, url  # read-only: a logged-in POST changes nothing either


def test_versions_play_their_file_or_else_their_stored_frames(ana, rendered):
    newest, older = rendered["versions"]
    body = ana.get(f"/shots/{LIT}/playback.json").json()
    assert (body["a"], body["b"]) == (older.job_key, newest.job_key)  # A = previous, B = newest
    by_key = {v["key"]: v for v in body["versions"]}
    assert [v["key"] for v in body["versions"]] == [newest.job_key, older.job_key]

    playing = by_key[newest.job_key]["media"]
    assert playing["kind"] == "video" and playing["src"] == f"/media/{rendered['second'].render_id}"
    assert (playing["start"], playing["end"], playing["fps"], playing["frames"]) == (0.0, 8 / FPS, FPS, 8)
    assert (playing["width"], playing["height"]) == (1920, 1080)
    assert playing["digests"] == list(newest.frame_hashes)  # for the exact difference at a paused frame
    assert ana.get(playing["src"]).status_code == 200

    stills = by_key[older.job_key]["media"]  # the second episode file replaced the first one
    assert stills["kind"] == "frames" and stills["digests"] == list(older.frame_hashes)
    assert "no video file any more" in stills["note"] and "8 stored frames" in stills["note"]
    assert "src" not in stills


def test_a_version_with_neither_file_nor_stored_frames_says_so(rendered, tmp_path):
    older = rendered["versions"][1]
    with Catalog(ProductionPaths.for_spec(rendered["spec"]).catalog) as catalog:
        media = review_media.version_media(catalog, rendered["spec"].parent, FrameStore(tmp_path / "empty"),
                                           LIT, older)
    assert media.kind == "none" and "no playable file and no stored frames" in media.note


def test_one_version_plays_against_itself(ana):
    body = ana.get(f"/shots/{KEPT}/playback.json").json()
    assert len(body["versions"]) == 1 and body["a"] == body["b"] == body["versions"][0]["key"]


def test_the_middle_shot_hooks_up_with_the_shots_before_and_after_it(ana, rendered):
    body = ana.get(f"/shots/{KEPT}/hookup.json").json()
    assert [(s["role"], s["shot"]) for s in body["shots"]] == [("previous", LIT), ("current", KEPT), ("next", LAST)]
    starts = [(s["media"]["start"], s["media"]["end"]) for s in body["shots"]]
    assert starts == [(0.0, 8 / FPS), (8 / FPS, 16 / FPS), (16 / FPS, 24 / FPS)]  # one file, the cut's order
    assert {s["media"]["src"] for s in body["shots"]} == {f"/media/{rendered['second'].render_id}"}
    assert body["shots"][0]["version"] == 2  # the newest version of the edited shot


def test_the_first_and_last_shots_have_no_neighbour_on_one_side(ana):
    first = ana.get(f"/shots/{LIT}/hookup.json").json()["shots"]
    assert first[0]["shot"] is None and first[0]["media"] is None and "first shot of s01e01" in first[0]["note"]
    last = ana.get(f"/shots/{LAST}/hookup.json").json()["shots"]
    assert last[2]["shot"] is None and "last shot of s01e01" in last[2]["note"]
    assert last[0]["shot"] == KEPT


def test_an_unrendered_neighbour_is_named_and_not_played(tmp_path):
    spec = small_production(tmp_path / "fresh")
    render_production(RenderRequest(spec, shot=KEPT, actor="ana"))
    with Catalog(ProductionPaths.for_spec(spec).catalog) as catalog:
        places = review_media.hookup(catalog, spec.parent, FrameStore(ProductionPaths.for_spec(spec).frames),
                                     production_status(spec), KEPT)
    previous, current, following = places
    assert previous.shot == LIT and previous.media is None and "has not been rendered yet" in previous.note
    assert current.media.kind == "video" and current.media.start_seconds == 0.0  # a shot file: the whole file
    assert following.shot == LAST and following.media is None


@pytest.mark.parametrize("url", ["/shots/s01e01/sc01/sh09/hookup.json", "/shots/s01e01/sc01/sh09/playback.json",
                                 "/shots/s01e01/sc01/..%2Fsh01/playback.json", "/shots/S01E01/sc01/sh01/hookup.json"])
def test_unknown_or_traversing_shots_are_404(ana, url):
    assert ana.get(url).status_code == 404


def test_the_review_page_includes_the_player_and_the_hookup(ana):
    page = ana.get(f"/shots/{LIT}/review").text
    assert f'data-source="/shots/{LIT}/playback.json"' in page and f'data-source="/shots/{LIT}/hookup.json"' in page
    assert '<script src="/static/player.js"' in page and "<script>" not in page and "style=" not in page
    assert ana.get("/static/player.js").status_code == 200 and ana.get("/static/player.css").status_code == 200


def test_a_master_main_delivery_is_served_as_quicktime_and_plays_its_stored_frames(tmp_path):
    """Browsers decode 8-bit 4:2:0 H.264, not ProRes: the review player shows a ProRes main delivery's stored frames,
    and the file itself (downloaded, or opened by a player that can) is served as the MOV it is."""
    from conftest import small_spec

    data = small_spec(2)
    data["delivery"] = {**data.get("delivery", {}), "format": "prores-422-hq"}
    spec = small_production(tmp_path / "show", data)
    result = render_production(RenderRequest(spec, actor="ana")).results[0]
    with Catalog(ProductionPaths.for_spec(spec).catalog) as catalog:
        newest = review.shot_versions(catalog, LIT)[0]
        media = review_media.version_media(catalog, spec.parent, FrameStore(ProductionPaths.for_spec(spec).frames),
                                           LIT, newest)
    assert media.kind == "frames" and media.digests == tuple(newest.frame_hashes)
    assert "Apple ProRes 422 HQ 10-bit 4:2:2, which browsers cannot play: playing its 2 stored frames" in media.note
    with served(spec) as (_, _, ana):
        response = ana.get(f"/media/{result.render_id}")
    assert response.status_code == 200 and response.headers["content-type"] == "video/quicktime"
