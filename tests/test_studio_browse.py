"""Open Studio browsing API: the tree, a shot's page and its edits, thumbnails, status JSON — and what is refused."""

from __future__ import annotations

import io
import json
import re

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from studio_support import login, small_production, studio_app

from reelforge.app.render_request import RenderRequest, render_production
from reelforge.app.status import production_status
from reelforge.records.changelog import entries
from reelforge.records.versions import history
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths

SHOTS = ["s01e01/sc01/sh01", "s01e01/sc01/sh02", "s01e01/sc02/sh01"]
EDITED = "s01e01/sc02/sh01"  # the one shot the edit tests on the rendered production change
HTMX = {"hx-request": "true"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A studio on the small production, rendered once before the studio starts."""
    spec = small_production(tmp_path_factory.mktemp("browse") / "show")
    render_production(RenderRequest(spec, actor="ana"))
    app, state = studio_app(spec)
    with TestClient(app) as client:
        yield login(client, state, "ana")


@pytest.fixture
def fresh(tmp_path):
    """A studio on a production never rendered (nothing to wait for: edits need no render)."""
    spec = small_production(tmp_path / "show")
    app, state = studio_app(spec)
    with TestClient(app) as client:
        yield login(client, state, "bo")


def rows(html: str) -> dict[str, str]:
    """Each shot row's HTML by its data-shot."""
    return dict(re.findall(r'<tr data-testid="shot-row" data-shot="([^"]+)">(.*?)</tr>', html, re.DOTALL))


def status_of(html: str) -> str:
    return re.search(r'data-testid="shot-status" data-status="([^"]+)">([^<]+)<', html).group(1)


def base_of(html: str) -> str:
    return re.search(r'<input type="hidden" name="base" value="([0-9a-f]{64})">', html).group(1)


def field_errors(html: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, message in re.findall(r'<p class="field-error" data-testid="field-error" data-field="([^"]+)"[^>]*>'
                                    r'(.*?)</p>', html, re.DOTALL):
        found.setdefault(name, []).append(message)
    return found


def field_block(html: str, name: str) -> str:
    """The <div class="field"> holding the input/select/textarea named `name`."""
    for block in re.findall(r'<div class="field[^"]*">.*?</div>', html, re.DOTALL):
        if f'name="{name}"' in block:
            return block
    raise AssertionError(f"no field {name}")


def edit(browser, shot: str, values: dict, reason: str = "a reason", base: str | None = None, **kw):
    page = browser.get(f"/shots/{shot}")
    data = {"base": base if base is not None else base_of(page.text), "reason": reason, **values}
    return browser.post(f"/shots/{shot}", data=data, **kw)


def test_every_browse_endpoint_needs_a_session(rendered):
    stranger = TestClient(rendered.client.app)
    for path in ("/", "/api/status", f"/shots/{SHOTS[0]}", f"/shots/{SHOTS[0]}/summary",
                 f"/shots/{SHOTS[0]}/thumbnail.png"):
        assert stranger.get(path).status_code == 401, path
    assert stranger.post(f"/shots/{SHOTS[0]}", data={"lighting_preset": "neon-night"}).status_code == 401


def test_the_tree_shows_every_shot_with_thumbnail_status_and_cast(rendered):
    page = rendered.get("/")
    assert page.status_code == 200
    shown = rows(page.text)
    assert list(shown) == SHOTS
    for shot in SHOTS[:2]:
        row = shown[shot]
        assert status_of(row) == "up-to-date" and ">up to date<" in row
        digest = production_status(rendered.state.spec).shot(shot).thumbnail
        assert 'data-testid="shot-thumbnail"' in row and f"/shots/{shot}/thumbnail.png?frame={digest}" in row
        assert f'data-testid="shot-link" class="mono" href="/shots/{shot}"' in row
    assert ">Mara<" in shown[SHOTS[0]] and ">Theo<" in shown[SHOTS[1]] and ">Mara<" in shown[SHOTS[1]]
    assert 'data-testid="render-episode" data-episode="s01e01"' in page.text
    assert 'hx-vals=\'{"target": "episode:s01e01"}\'' in page.text
    assert "The Lamp" in page.text  # the episode's title
    assert "Dusk on the quay" in page.text and "The alley" in page.text
    store = re.search(r'data-testid="store-size">([^<]+)<', page.text).group(1)  # the store's size, as `status` says
    assert store.startswith("store: .reelforge holds ") and store.endswith("(no budget set)")
    assert "<code>$.store.budget</code>" in page.text  # where to set one: behind the details toggle


def test_a_never_rendered_shot_has_no_thumbnail(fresh):
    shown = rows(fresh.get("/").text)
    assert all(status_of(row) == "never-rendered" and "shot-thumbnail" not in row for row in shown.values())
    assert ">never rendered<" in shown[SHOTS[0]]
    assert fresh.get(f"/shots/{SHOTS[0]}/thumbnail.png").status_code == 404
    summary = fresh.get(f"/shots/{SHOTS[0]}/summary").text
    assert "shot-thumbnail" not in summary and 'data-status="never-rendered"' in summary


def test_the_thumbnail_is_a_320_pixel_png_of_the_shown_frame(rendered):
    digest = production_status(rendered.state.spec).shot(SHOTS[0]).thumbnail
    answer = rendered.get(f"/shots/{SHOTS[0]}/thumbnail.png", params={"frame": digest})
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert "immutable" in answer.headers["cache-control"]  # named by its digest: it never changes
    assert Image.open(io.BytesIO(answer.content)).size == (320, 180)
    stale = rendered.get(f"/shots/{SHOTS[0]}/thumbnail.png", params={"frame": "0" * 64})
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-store"  # the current one, not cached
    assert rendered.get(f"/shots/{SHOTS[0]}/thumbnail.png", params={"frame": "../../x"}).status_code == 404


@pytest.mark.parametrize("path", [
    "/shots/..%2F../x/y", "/shots/a/b/../../etc", "/shots/s01e01/sc01/..%2F..%2Fproduction.json",
    "/shots/S01E01/sc01/sh01", "/shots/s01e01/sc01/sh99", "/shots/s01e01/sc09/sh01", "/shots/s01e01/sc01",
    "/shots/%2e%2e/sc01/sh01", "/shots/s01e01/sc01/sh01%00",
])
def test_bad_ids_and_traversal_attempts_are_404(rendered, path):
    for suffix in ("", "/summary", "/thumbnail.png"):
        answer = rendered.get(path + suffix)
        assert answer.status_code == 404, (path + suffix, answer.status_code)
    assert rendered.post(path, data={"base": "x", "reason": "x"}).status_code in (404, 405)


def test_the_shot_page_shows_the_form_with_current_values_and_the_summary(rendered):
    page = rendered.get(f"/shots/{SHOTS[0]}")
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="shot-form"' in html and 'hx-post="/shots/s01e01/sc01/sh01"' in html
    prompt = field_block(html, "prompt.en")
    assert ">Mara walks the quay toward the lighthouse</textarea>" in prompt
    lighting = field_block(html, "lighting_preset")
    assert 'data-testid="field-lighting-preset"' in lighting and "inherit: magic-hour (from the scene)" in lighting
    assert '<option value="push-in" selected>' in field_block(html, "camera_move")
    assert 'value="mara"' in field_block(html, "cast")
    assert 'name="reason"' in html and 'data-testid="edit-reason"' in html and 'data-testid="save-shot"' in html
    summary = re.search(r'<section id="shot-summary".*?</section>', html, re.DOTALL).group(0)
    assert 'hx-trigger="reelforge:render-done from:body' in summary
    digest = production_status(rendered.state.spec).shot(SHOTS[0]).thumbnail
    assert f'src="/shots/{SHOTS[0]}/thumbnail.png?frame={digest}"' in summary
    assert status_of(summary) == "up-to-date"
    assert 'data-testid="render-shot"' in summary and 'hx-post="/render"' in summary
    assert f'hx-vals=\'{{"target": "shot:{SHOTS[0]}"}}\'' in summary
    assert f'data-testid="review-link" href="/shots/{SHOTS[0]}/review"' in html
    assert '<script src="/static/browse.js" defer></script>' in html and "<script>" not in html
    assert rendered.get("/static/browse.js").status_code == 200 and rendered.get("/static/browse.css").status_code == 200


def test_the_form_base_is_the_specs_sha256(rendered):
    import hashlib

    html = rendered.get(f"/shots/{SHOTS[1]}").text
    assert base_of(html) == hashlib.sha256(rendered.state.spec.read_bytes()).hexdigest()


def test_a_save_without_the_csrf_token_is_refused(fresh):
    html = fresh.get(f"/shots/{SHOTS[0]}").text
    before = fresh.state.spec.read_bytes()
    answer = fresh.client.post(f"/shots/{SHOTS[0]}", data={"base": base_of(html), "reason": "x",
                                                           "lighting_preset": "neon-night"})
    assert answer.status_code == 403
    assert fresh.state.spec.read_bytes() == before


def test_an_invalid_edit_is_400_with_the_error_beside_its_field(fresh):
    before = fresh.state.spec.read_bytes()
    answer = edit(fresh, SHOTS[0], {"lighting_preset": "neon", "lighting_kelvin": "500"})
    assert answer.status_code == 400
    errors = field_errors(answer.text)
    assert set(errors) == {"lighting_preset", "lighting_kelvin"}
    assert "unknown lighting preset &#39;neon&#39;" in errors["lighting_preset"][0]
    assert errors["lighting_kelvin"] == ["must be at least 1000, got 500"]
    block = field_block(answer.text, "lighting_kelvin")  # the error sits in the field's own block
    assert 'data-field="lighting_kelvin"' in block and 'value="500"' in block  # what was typed stays
    assert 'data-testid="save-result"' not in answer.text
    assert fresh.state.spec.read_bytes() == before
    # htmx gets the editor alone, to swap in place
    fragment = edit(fresh, SHOTS[0], {"cast": "mara, bob"}, headers=HTMX)
    assert fragment.status_code == 400 and fragment.text.lstrip().startswith(("<section id=\"shot-editor\"", "{#"))
    assert "<html" not in fragment.text
    assert "unknown character &#39;bob&#39;" in field_errors(fragment.text)["cast"][0]


def test_a_take_past_the_last_is_a_field_error_not_a_save(fresh):
    before = fresh.state.spec.read_bytes()
    answer = edit(fresh, SHOTS[0], {"take": "99999999999999999999"})
    assert answer.status_code == 400
    assert field_errors(answer.text) == {"take": ["<code>$.episodes[0].scenes[0].shots[0].take</code>: "
                                                  "must be at most 16, got 99999999999999999999"]}
    assert fresh.state.spec.read_bytes() == before


def test_a_missing_reason_is_a_field_error_on_reason(fresh):
    before = fresh.state.spec.read_bytes()
    answer = edit(fresh, SHOTS[0], {"lighting_preset": "neon-night"}, reason="")
    assert answer.status_code == 400
    assert list(field_errors(answer.text)) == ["reason"]
    assert 'data-field="reason"' in field_block(answer.text, "reason")
    assert fresh.state.spec.read_bytes() == before


def test_a_save_from_a_stale_form_is_409_and_keeps_the_other_edit(fresh):
    stale_base = base_of(fresh.get(f"/shots/{SHOTS[0]}").text)
    assert edit(fresh, SHOTS[0], {"lighting_preset": "hard-noon"}, reason="noon").status_code == 200
    after = fresh.state.spec.read_bytes()
    answer = edit(fresh, SHOTS[0], {"lighting_preset": "blue-hour"}, reason="dusk", base=stale_base)
    assert answer.status_code == 409
    assert "reload" in answer.text and 'data-testid="save-conflict"' in answer.text
    assert fresh.state.spec.read_bytes() == after
    assert '<option value="blue-hour" selected>' in answer.text  # the typed value is not thrown away
    assert edit(fresh, SHOTS[0], {"lighting_preset": "x"}, base="").status_code == 400  # no base at all


def test_a_valid_edit_is_committed_as_the_logged_in_user_with_the_reason(fresh):
    answer = edit(fresh, SHOTS[1], {"lighting_preset": "neon-night", "camera_easing": "ease-out"},
                  reason="neon meeting", headers=HTMX)
    assert answer.status_code == 200
    assert answer.headers["hx-trigger"] == "reelforge:shot-saved"
    assert 'data-testid="save-result"' in answer.text and "commit #1" in answer.text
    assert field_errors(answer.text) == {}
    assert '<option value="neon-night" selected>' in field_block(answer.text, "lighting_preset")
    import hashlib

    assert base_of(answer.text) == hashlib.sha256(fresh.state.spec.read_bytes()).hexdigest()  # the next save's base
    catalog = Catalog(ProductionPaths.for_spec(fresh.state.spec).catalog)
    _, versions = history(catalog, f"shot:{SHOTS[1]}")
    assert [(v.actor, v.reason) for v in versions] == [("bo", "neon meeting")]
    with catalog.session() as session:
        logged = [(e.actor, e.reason) for e in entries(session, entity=f"shot:{SHOTS[1]}")]
    assert logged == [("bo", "neon meeting")]
    # the same form again changes nothing: said so, nothing committed
    again = edit(fresh, SHOTS[1], {"lighting_preset": "neon-night"}, reason="")
    assert again.status_code == 200 and "nothing changed" in again.text
    assert len(history(catalog, f"shot:{SHOTS[1]}")[1]) == 1


def test_an_edit_of_a_rendered_shot_turns_it_changed_everywhere(rendered):
    answer = edit(rendered, EDITED, {"lighting_preset": "blue-hour"}, reason="dusk in the alley")
    assert answer.status_code == 200 and 'data-testid="save-result"' in answer.text
    summary = rendered.get(f"/shots/{EDITED}/summary")
    assert summary.status_code == 200 and status_of(summary.text) == "changed"
    assert ">spec changed<" in summary.text and "lighting" in summary.text
    assert status_of(rows(rendered.get("/").text)[EDITED]) == "changed"
    shots = {shot["path"]: shot for e in rendered.get("/api/status").json()["episodes"] for s in e["scenes"]
             for shot in s["shots"]}
    assert shots[EDITED]["status"] == "changed" and shots[SHOTS[0]]["status"] == "up-to-date"


def test_status_json_lists_every_shot(rendered):
    data = rendered.get("/api/status").json()
    shots = [shot for e in data["episodes"] for s in e["scenes"] for shot in s["shots"]]
    assert [shot["path"] for shot in shots] == SHOTS
    first = shots[0]
    assert first["cast"] == [{"id": "mara", "name": "Mara"}] and first["frames"] == 8
    assert re.fullmatch(r"[0-9a-f]{64}", first["thumbnail"])
    assert set(data["counts"]) == {"never-rendered", "up-to-date", "changed"}
    assert data["store"]["bytes"] > 0 and data["store"]["budget"] is None and data["store"]["used"] is None


def test_a_spec_broken_on_disk_is_shown_not_crashed(fresh):
    spec = fresh.state.spec
    good = spec.read_bytes()
    raw = json.loads(good)
    raw["episodes"][0]["scenes"][0]["shots"][0]["lighting"] = {"preset": "nope"}
    spec.write_text(json.dumps(raw), encoding="utf-8")
    try:
        tree = fresh.get("/")
        assert tree.status_code == 409 and "unknown lighting preset" in tree.text
        assert fresh.get("/api/status").status_code == 409
        page = fresh.get(f"/shots/{SHOTS[0]}")  # the form still opens, to fix it from the browser
        assert page.status_code == 200 and 'data-testid="summary-error"' in page.text
        fixed = edit(fresh, SHOTS[0], {"lighting_preset": "overcast"}, reason="fix the typo")
        assert fixed.status_code == 200, field_errors(fixed.text)
        assert fresh.get("/").status_code == 200
        spec.write_text("{ not json", encoding="utf-8")
        assert fresh.get(f"/shots/{SHOTS[0]}").status_code == 409
    finally:
        spec.write_bytes(good)
