"""Plain language: an entity's change in words, the change log grouped by commit, what changed for a shot,
why two versions can be identical — and that no studio page shows a hash or a JSON path outside "details"."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from conftest import small_spec
from fastapi.testclient import TestClient
from studio_support import login, small_production, studio_app

from reelforge.app import review
from reelforge.app.human_diff import human_changes
from reelforge.app.log_view import EntryView, group_entries
from reelforge.app.render_request import RenderRequest, render_production
from reelforge.app.shot_edit import apply_shot_edit, load_shot_form
from reelforge.records.spec_changes import shot_changes
from reelforge.store.catalog import Catalog
from reelforge.store.frames import FrameStore
from reelforge.store.paths import ProductionPaths

SHOT = "s01e01/sc01/sh01"


def texts(entity, before, after) -> list[str]:
    return [change.text for change in human_changes(entity, before, after)]


def test_a_change_reads_as_each_field_with_its_old_and_new_value():
    before = {"id": "sh01", "prompt": "Mara walks", "cast": ["mara"], "lighting": {"preset": "overcast"}, "frames": 8}
    after = {"id": "sh01", "prompt": "Mara runs", "cast": ["mara", "theo"], "lighting": {"preset": "neon-night"},
             "frames": 12}
    assert texts("shot:" + SHOT, before, after) == [
        "prompt: 'Mara walks' → 'Mara runs'", "cast: + theo", "lighting: overcast → neon night", "frames: 8 → 12"]


def test_a_change_in_words_names_languages_orders_and_what_is_inherited():
    assert texts("shot:x", {"prompt": {"en": "a", "fr": "b"}}, {"prompt": {"en": "a", "fr": "c"}}) == [
        "prompt (fr): 'b' → 'c'"]
    assert texts("shot:x", {"cast": ["mara", "theo"]}, {"cast": ["theo", "mara"]}) == ["cast: mara, theo → theo, mara"]
    assert texts("shot:x", {"cast": ["mara", "theo"]}, {"cast": ["mara"]}) == ["cast: − theo"]
    assert texts("shot:x", {"lighting": {"preset": "overcast"}}, {}) == ["lighting: overcast → inherited"]
    assert texts("shot:x", {}, {"camera": {"move": "push-in", "easing": "ease-in"}}) == [
        "camera: inherited → push in (easing ease in)"]
    assert texts("shot:x", None, {"id": "x"}) == ["version: created"]
    assert texts("asset:ab12", None, {"name": "ref.png", "kind": "image"}) == ["file: ref.png kept (image)"]


def test_what_a_shot_inherits_is_named_with_where_it_was_edited():
    old = {"series:hl": {"lighting": {"preset": "overcast"}}, "scene:s01e01/sc01": {"location": "quay"},
           "shot:" + SHOT: {"cast": ["mara"]}, "character:mara": {"description": "a keeper"},
           "location:quay": {"name": "Quay"}}
    new = json.loads(json.dumps(old))
    new["series:hl"]["lighting"] = {"preset": "neon-night"}
    new["character:mara"]["description"] = "a keeper in a red scarf"
    assert shot_changes(old, new, SHOT) == ["lighting (production)", "character mara"]
    new["shot:" + SHOT]["lighting"] = {"preset": "overcast"}  # the shot now sets its own: that is the edit
    assert shot_changes(old, new, SHOT) == ["lighting", "character mara"]


def entry(seq, kind, entity, at="t1", actor="ana") -> EntryView:
    return EntryView(seq, at, actor, kind, entity, None, "why", [], 0)


def test_the_log_groups_a_commits_versions_under_it_and_leaves_renders_alone():
    page = [entry(9, "render", "episode:s01e01", at="t2"), entry(8, "commit", "commit:3"),
            entry(7, "commit", "shot:" + SHOT), entry(6, "asset", "asset:ab"), entry(5, "commit", "commit:2", at="t0"),
            entry(4, "commit", "shot:x", at="t0")]
    groups = group_entries(page)
    assert [(g.kind, g.commit, [e.seq for e in g.entries]) for g in groups] == [
        ("render", None, [9]), ("commit", 3, [8, 7, 6]), ("commit", 2, [5, 4])]
    assert [e.seq for e in groups[1].versions] == [7, 6] and groups[1].head.seq == 8


# --------------------------------------------------------------------------- rendered: review and pages


@pytest.fixture(scope="module")
def prompted(tmp_path_factory):
    """The small production (3-frame shots) with one shot rendered, its prompt edited, rendered again."""
    spec = small_production(tmp_path_factory.mktemp("plain") / "show", small_spec(frames=3))
    render_production(RenderRequest(spec, shot=SHOT, actor="ana"))
    form = load_shot_form(spec, SHOT)
    apply_shot_edit(spec, SHOT, {"prompt.en": "Mara stops at the lighthouse door"}, base=form.base,
                    reason="a new action", actor="ana")
    render_production(RenderRequest(spec, shot=SHOT, actor="bo"))
    return spec


def test_a_prompt_only_edit_on_previz_is_identical_and_says_why(prompted):
    catalog = Catalog(ProductionPaths.for_spec(prompted).catalog)
    newest, older = review.shot_versions(catalog, SHOT)
    assert newest.changed == ("prompt",) and newest.changed_job == ("prompt",)
    comparison = review.compare_at(FrameStore(ProductionPaths.for_spec(prompted).frames), older, newest, 0)
    assert comparison.summary == "identical"
    why = review.why_identical(catalog, older, newest)
    assert "v1 and v2 differ only in the prompt, which previz does not draw" in why
    catalog.engine.dispose()


class _Shown(HTMLParser):
    """The text a page shows before any "details" is opened: outside <details>, <script>, <style>, <svg>."""

    HIDDEN = {"details", "script", "style", "template"}

    def __init__(self):
        super().__init__()
        self.depth, self.text = 0, []

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth == 0:
            self.text.append(data)


def shown(html: str) -> str:
    parser = _Shown()
    parser.feed(html)
    return " ".join(parser.text)


HASH = re.compile(r"\b[0-9a-f]{12,}\b")  # a job key, a SHA-256, a frame digest, a mark id (or a prefix of one)
JSON_PATH = re.compile(r"\$\.[A-Za-z_]")


def test_no_page_shows_a_hash_or_a_json_path_outside_details(prompted):
    app, state = studio_app(prompted)
    with TestClient(app) as client:
        browser = login(client, state, "ana")
        pages = {url: browser.get(url) for url in (
            "/", f"/shots/{SHOT}", f"/shots/{SHOT}/summary", f"/shots/{SHOT}/review", "/episodes/s01e01", "/queue",
            "/log", "/credentials", "/energy", "/trace")}
    for url, page in pages.items():
        assert page.status_code == 200, url
        visible = shown(page.text)
        assert not HASH.findall(visible), (url, HASH.findall(visible))
        assert not JSON_PATH.findall(visible), (url, JSON_PATH.findall(visible))
    # … and they are there, behind the toggle: the job key on the shot, the JSON paths in the log
    assert re.search(r"<details[^>]*>.*?[0-9a-f]{64}.*?</details>", pages[f"/shots/{SHOT}"].text, re.DOTALL)
    assert re.search(r"<details[^>]*>.*?\$\.prompt.*?</details>", pages["/log"].text, re.DOTALL)
    log = pages["/log"].text
    assert "prompt: <del>&#39;Mara walks the quay toward the lighthouse&#39;</del> → <ins>&#39;Mara stops at the " \
           "lighthouse door&#39;</ins>" in log
    review_page = pages[f"/shots/{SHOT}/review"].text
    assert 'data-testid="previz-note"' in review_page and 'data-testid="ab-why"' in review_page
    assert "previz does not draw" in review_page
    assert 'data-testid="previz-note"' in pages[f"/shots/{SHOT}"].text


def test_a_lighting_only_edit_says_lighting_and_not_the_prompt_it_rewrites(prompted, tmp_path):
    form = load_shot_form(prompted, SHOT)
    before = prompted.read_bytes()
    try:
        apply_shot_edit(prompted, SHOT, {"lighting_preset": "neon-night"}, base=form.base, reason="night",
                        actor="ana")
        app, state = studio_app(prompted)
        with TestClient(app) as client:
            browser = login(client, state, "ana")
            summary = browser.get(f"/shots/{SHOT}/summary").text
            status = browser.get("/api/status").json()
    finally:
        prompted.write_bytes(before)
    (changed,) = re.findall(r'data-testid="changed-fields">([^<]*)<', summary)
    assert changed.strip() == "edited since the last render: lighting"
    shot = next(s for e in status["episodes"] for c in e["scenes"] for s in c["shots"] if s["path"] == SHOT)
    assert shot["changed_fields"] == ["lighting"] and set(shot["changed_job_fields"]) == {"lighting", "prompt"}
