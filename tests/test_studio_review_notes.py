"""The studio's review-status and note endpoints: the same session and CSRF rules as every write, the same
change-log entries as `reelforge review`, badges in the tree and the episode page, and the exports.

One production (three 2-frame shots) is rendered per module and served by one app; tests that write add to
its log in order (each asserts only what it added).
"""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from conftest import cli, small_spec
from fastapi.testclient import TestClient
from PIL import Image
from studio_support import served, small_production

from reelforge.app.review import shot_versions
from reelforge.app.review_sheet import INK
from reelforge.records import changelog
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths

SHOT = "s01e01/sc01/sh01"
OTHER = "s01e01/sc02/sh01"
BOX = {"tool": "box", "points": [[0.25, 0.25], [0.75, 0.75]]}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    spec = small_production(tmp_path_factory.mktemp("studio-notes") / "show", small_spec(frames=2))
    code, output = cli("render", str(spec))
    assert code == 0, output
    catalog = Catalog(ProductionPaths.for_spec(spec).catalog)
    versions = {path: shot_versions(catalog, path) for path in (SHOT, OTHER)}
    catalog.engine.dispose()
    return {"spec": spec, "versions": versions}


@pytest.fixture(scope="module")
def app(rendered):
    with served(rendered["spec"]) as found:
        yield found


@pytest.fixture(scope="module")
def ana(app):
    return app[2]


def _key(rendered, shot=SHOT) -> str:
    return rendered["versions"][shot][0].job_key


def _entries(rendered, kind: str) -> list:
    with Catalog(ProductionPaths.for_spec(rendered["spec"]).catalog) as catalog, catalog.session() as session:
        return [(e.actor, e.entity, changelog.state(session, e.after_sha256)) for e in changelog.entries(session, kind=kind)]


def _badges(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-testid="review-badge" data-shot="([^"]+)" data-state="(\w+)"', page))


# --------------------------------------------------------------------------- session and CSRF


def test_every_endpoint_needs_a_session_and_every_write_the_csrf_token(app, rendered):
    fastapi_app, _, ana = app
    reads = [f"/shots/{SHOT}/review/status", f"/shots/{SHOT}/notes.json", "/episodes/s01e01/notes.json",
             f"/shots/{SHOT}/review-sheet.html", "/episodes/s01e01/review-sheet.html"]
    writes = {f"/shots/{SHOT}/review/status": {"status": "approved", "job_key": _key(rendered)},
              f"/shots/{SHOT}/notes": {"job_key": _key(rendered), "frame": "0", "text": "x", "drawing": "[]"}}
    with TestClient(fastapi_app) as stranger:
        for url in reads:
            assert stranger.get(url).status_code == 401, url
        for url, data in writes.items():
            assert stranger.post(url, data=data).status_code == 401, url
    for url, data in writes.items():  # logged in, but no token, a wrong one, or from another site
        assert ana.client.post(url, data=data).status_code == 403, url
        assert ana.post(url, data=data, headers={"x-csrf-token": "wrong"}).status_code == 403, url
        assert ana.post(url, data=data, headers={"origin": "https://evil.example"}).status_code == 403, url
    assert _entries(rendered, "review") == [] and _entries(rendered, "note") == []


# --------------------------------------------------------------------------- statuses


def test_the_status_panel_offers_the_three_statuses_for_the_newest_version(ana, rendered):
    response = ana.get(f"/shots/{SHOT}/review/status")
    assert response.status_code == 200
    page = response.text
    assert 'data-testid="review-state"' in page and 'data-state="waiting"' in page and "waiting for review" in page
    assert f'id="status-job-key" value="{_key(rendered)}"' in page
    for status in ("waiting", "retake", "approved"):
        assert f'name="status" value="{status}"' in page
    statuses = json.loads(re.search(r"data-statuses='([^']*)'", page).group(1))
    assert statuses == {_key(rendered): {"number": 1, "state": "waiting", "label": "waiting for review", "note": None,
                                         "actor": None, "at": None}}


def test_a_retake_without_a_note_is_refused_beside_the_buttons_and_records_nothing(ana, rendered):
    response = ana.post(f"/shots/{SHOT}/review/status", data={"status": "retake", "note": "", "job_key": _key(rendered)})
    assert response.status_code == 400
    assert 'data-testid="status-error">a retake needs a note saying what to fix<' in response.text
    response = ana.post(f"/shots/{SHOT}/review/status", data={"status": "retake", "note": "x", "job_key": "f" * 64})
    assert response.status_code == 400 and "has no rendered version with job key ffffffffffff" in response.text
    assert ana.post("/shots/s01e01/sc01/sh09/review/status", data={"status": "approved"}).status_code == 404
    assert _entries(rendered, "review") == []


def test_a_status_set_in_the_studio_is_recorded_under_the_user_and_badged_in_tree_and_episode(ana, rendered):
    response = ana.post(f"/shots/{SHOT}/review/status",
                        data={"status": "retake", "note": "the lamp is too dim", "job_key": _key(rendered)})
    assert response.status_code == 200
    assert 'data-state="retake"' in response.text and "the lamp is too dim" in response.text
    assert _entries(rendered, "review")[-1] == ("ana", f"shot:{SHOT}", {
        "status": "retake", "job_key": _key(rendered), "version": 1,
        "render_id": rendered["versions"][SHOT][0].render_id, "note": "the lamp is too dim"})
    response = ana.post(f"/shots/{OTHER}/review/status", data={"status": "approved", "job_key": _key(rendered, OTHER)})
    assert response.status_code == 200
    tree, episode = ana.get("/").text, ana.get("/episodes/s01e01").text
    expected = {SHOT: "retake", "s01e01/sc01/sh02": "waiting", OTHER: "approved"}
    assert _badges(tree) == expected and _badges(episode) == expected
    assert "changed since approval" not in tree


def test_a_spec_edit_after_approval_shows_changed_since_approval(ana, rendered):
    spec = rendered["spec"]
    original = spec.read_text()
    data = json.loads(original)
    data["episodes"][0]["scenes"][1]["shots"][0]["camera"] = {"move": "orbit"}
    spec.write_text(json.dumps(data))
    try:
        tree = ana.get("/").text
        assert _badges(tree)[OTHER] == "changed" and "changed since approval" in tree
        panel = ana.get(f"/shots/{OTHER}/review/status").text
        assert 'data-testid="review-changed"' in panel
    finally:
        spec.write_text(original)
    assert _badges(ana.get("/").text)[OTHER] == "approved"


# --------------------------------------------------------------------------- notes


def _note(ana, rendered, **fields):
    data = {"job_key": _key(rendered), "frame": "1", "text": "the lamp flickers", "drawing": json.dumps([BOX]),
            **fields}
    return ana.post(f"/shots/{SHOT}/notes", data=data)


def test_a_note_is_refused_with_the_reason_for_bad_input(ana, rendered):
    for fields, reason in (({"text": " "}, "a note needs text"), ({"frame": "7"}, "has no rendered frame 7"),
                           ({"frame": "-1"}, "frame must be a frame index"),
                           ({"drawing": "[{"}, "drawing: not JSON"),
                           ({"drawing": json.dumps([{"tool": "box", "points": [[0, 0]]}])},
                            "drawing[0].points: a box needs 2 points"),
                           ({"drawing": '[{"tool": "box", "points": [[0, 0], [1%s, 0]]}]' % ("0" * 400)},
                            "drawing[0].points[1]: x and y must lie between 0 and 1"),
                           ({"drawing": '[{"tool": "box", "points": [[0, 0], [0, %s]]}]' % ("9" * 5000)},
                            "drawing[0].points[1]: x and y must lie between 0 and 1"),
                           ({"job_key": ""}, "job_key is missing")):
        response = _note(ana, rendered, **fields)
        assert response.status_code == 400 and reason in response.json()["detail"], (fields, response.text)
    assert _entries(rendered, "note") == []


def test_a_note_is_saved_listed_per_version_and_exported(ana, rendered):
    response = _note(ana, rendered)
    assert response.status_code == 201
    note = response.json()
    assert (note["frame"], note["text"], note["drawing"], note["actor"]) == (1, "the lamp flickers", [BOX], "ana")
    assert note["frame_sha256"] == rendered["versions"][SHOT][0].digest_at(1)
    assert _entries(rendered, "note")[-1][:2] == ("ana", f"shot:{SHOT}")
    listed = ana.get(f"/shots/{SHOT}/notes.json", params={"job_key": _key(rendered)}).json()
    assert [n["id"] for n in listed["notes"]] == [note["id"]]
    assert ana.get(f"/shots/{SHOT}/notes.json", params={"job_key": "0" * 64}).json()["notes"] == []
    episode = ana.get("/episodes/s01e01/notes.json").json()
    assert episode["format"] == "reelforge-review-notes/1" and [n["id"] for n in episode["notes"]] == [note["id"]]
    assert ana.get("/episodes/s01e02/notes.json").status_code == 404


def test_the_review_sheet_embeds_the_annotated_still_under_a_policy_of_its_own(ana, rendered):
    for url in (f"/shots/{SHOT}/review-sheet.html", "/episodes/s01e01/review-sheet.html"):
        response = ana.get(url)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "img-src data:" in policy and "script" not in policy
        sheet = response.text
        assert "the lamp flickers" in sheet and "<script" not in sheet
        (still,) = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', sheet)
        pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(still))).convert("RGB"))
        height, width = pixels.shape[:2]
        assert tuple(pixels[round(0.75 * (height - 1)), round(0.75 * (width - 1))]) == INK


def test_the_review_page_carries_the_notes_panel_and_its_script(ana):
    page = ana.get(f"/shots/{SHOT}/review").text
    assert 'data-testid="notes"' in page and '<script src="/static/notes.js" defer></script>' in page
    assert f'data-url="/shots/{SHOT}/review/status"' in page
