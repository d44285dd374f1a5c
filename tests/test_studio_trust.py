"""Open Studio trust and records pages: credentials, change log, energy, and tracing an uploaded file.

One production is rendered once for the module (a marked episode by dana, then a clip of one shot
by eve); tests that damage something work on a copy, or put the bytes back.
"""

from __future__ import annotations

import html
import math
import os
import re
import sys
from pathlib import Path

import pytest
from conftest import copy_of_records
from fastapi.testclient import TestClient
from studio_support import login, small_production, studio_app

from reelforge.app.render_request import RenderRequest, render_production
from reelforge.energy.chart import TOP, bar_chart
from reelforge.energy.report import energy_report
from reelforge.records import changelog
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import DeliveryRecord
from reelforge.trust.anchors import delivery_anchor, production_anchor
from reelforge.trust.deliveries import VerifyCache, check_file, delivery_credentials
from reelforge.trust.identity import create_identity, load_anchor

SHOT = "s01e01/sc01/sh01"


@pytest.fixture(scope="module")
def show(tmp_path_factory):
    spec = small_production(tmp_path_factory.mktemp("studio-trust") / "show")
    episode = render_production(RenderRequest(spec, mark=True, actor="dana")).results[0]
    clip = render_production(RenderRequest(spec, shot=SHOT, actor="eve")).results[0]
    with Catalog(ProductionPaths.for_spec(spec).catalog).session() as session:
        mark = session.get(DeliveryRecord, episode.render_id).mark_id
    return {"spec": spec, "episode": episode.output, "clip": clip.output, "episode_id": episode.render_id,
            "clip_id": clip.render_id, "mark": mark}


@pytest.fixture(scope="module")
def served(show):
    app, state = studio_app(show["spec"])
    with TestClient(app) as client:
        yield login(client, state, "ana")


def uploads(spec: Path) -> set[str]:
    folder = spec.parent / ".reelforge" / "uploads"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def rows(text: str, testid: str) -> list[dict[str, str]]:
    """The data-* attributes of every element with this data-testid, in page order."""
    found = []
    for tag in re.findall(rf'<[a-z]+ [^>]*data-testid="{testid}"[^>]*>', text):
        found.append(dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tag)))
    return found


def trace(browser, name: str, content: bytes, **kw):
    return browser.post("/trace", files={"file": (name, content, "video/mp4")}, **kw)


# --- refused requests ----------------------------------------------------------------------------

def test_trust_pages_need_a_session(served):
    stranger = TestClient(served.client.app)
    for path in ("/credentials", "/log", "/energy", "/trace"):
        assert stranger.get(path).status_code == 401, path
    refused = stranger.post("/trace", files={"file": ("a.mp4", b"data", "video/mp4")})
    assert refused.status_code == 401


def test_an_upload_without_the_csrf_header_is_refused_and_not_stored(served, show):
    before = uploads(show["spec"])
    refused = served.client.post("/trace", files={"file": ("a.mp4", b"forged upload", "video/mp4")})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert uploads(show["spec"]) == before


# --- credentials ---------------------------------------------------------------------------------

def test_credentials_list_every_delivery_newest_first_and_trusted(served, show):
    page = served.get("/credentials")
    assert page.status_code == 200
    listed = rows(page.text, "credentials-row")
    assert [r["render"] for r in listed] == [str(show["clip_id"]), str(show["episode_id"])]
    assert [r["file"] for r in listed] == [f"renders/shots/{show['clip'].name}", "renders/s01e01.mp4"]
    assert {r["state"] for r in listed} == {"trusted"}
    assert page.text.count(">Trusted</span>") == 2
    assert "dana" in page.text and "eve" in page.text and show["mark"] in page.text
    assert "trainedAlgorithmicMedia" in page.text


def test_a_delivery_changed_after_signing_shows_as_invalid(served, show):
    mp4 = show["episode"]
    original, stat = mp4.read_bytes(), mp4.stat()
    data = bytearray(original)
    data[len(data) // 2] ^= 0xFF  # inside the video data
    try:
        mp4.write_bytes(bytes(data))
        page = served.get("/credentials")
    finally:
        mp4.write_bytes(original)
        os.utime(mp4, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as delivered, whatever the clock's resolution
    states = {r["render"]: r["state"] for r in rows(page.text, "credentials-row")}
    assert states == {str(show["episode_id"]): "invalid", str(show["clip_id"]): "trusted"}
    assert "mismatch" in page.text  # the failed check's C2PA code is named
    again = rows(served.get("/credentials").text, "credentials-row")  # the bytes are back: trusted again
    assert {r["state"] for r in again} == {"trusted"}


def test_a_delivery_with_a_box_appended_after_signing_shows_as_invalid(served, show):
    """c2pa's hash leaves `free` boxes out: the page still says the file is not what was signed, and where."""
    mp4 = show["episode"]
    original, stat = mp4.read_bytes(), mp4.stat()
    try:
        mp4.write_bytes(original + (4104).to_bytes(4, "big") + b"free" + bytes(4096))
        page = served.get("/credentials")
    finally:
        mp4.write_bytes(original)
        os.utime(mp4, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    states = {r["render"]: r["state"] for r in rows(page.text, "credentials-row")}
    assert states[str(show["episode_id"])] == "invalid"
    assert f"top-level `free` box at offset {len(original)} (4104 bytes)" in html.unescape(page.text)


def test_a_delivery_deleted_replaced_by_an_unsigned_file_or_by_a_folder_says_so(served, show):
    clip, render = show["clip"], str(show["clip_id"])
    original, stat = clip.read_bytes(), clip.stat()
    unsigned = next((show["spec"].parent / ".reelforge" / "segments").glob("*.mp4")).read_bytes()
    seen = {}
    try:
        clip.unlink()
        seen["deleted"] = served.get("/credentials")
        clip.write_bytes(unsigned)
        seen["unsigned"] = served.get("/credentials")
        clip.unlink()
        clip.mkdir()
        seen["folder"] = served.get("/credentials")
        clip.rmdir()
    finally:
        clip.write_bytes(original)
        os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    states = {case: {r["render"]: r["state"] for r in rows(page.text, "credentials-row")} for case, page in seen.items()}
    assert all(page.status_code == 200 for page in seen.values())
    assert states == {"deleted": {render: "missing", str(show["episode_id"]): "trusted"},
                      "unsigned": {render: "unsigned", str(show["episode_id"]): "trusted"},
                      "folder": {render: "unreadable", str(show["episode_id"]): "trusted"}}
    assert f'href="/media/{render}"' not in seen["deleted"].text  # nothing to watch


@pytest.mark.parametrize("recorded", ["not json", "[]", '{"trust_anchor": 7}', '{"trust_anchor": "/no/such/root.pem"}'])
def test_a_damaged_delivery_record_falls_back_to_the_production_anchor(show, recorded):
    paths = ProductionPaths.for_spec(show["spec"])
    assert delivery_anchor(paths, recorded) == production_anchor(paths) == paths.state / "identity" / "root.pem"


def test_verify_results_are_reused_until_the_file_changes(show):
    paths, cache = ProductionPaths.for_spec(show["spec"]), VerifyCache()
    first = delivery_credentials(paths, cache)
    assert [d.status.state for d in first] == ["trusted", "trusted"] and cache.misses == 2
    delivery_credentials(paths, cache)
    assert cache.misses == 2  # nothing changed: nothing verified again
    stat = show["clip"].stat()
    os.utime(show["clip"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    delivery_credentials(paths, cache)
    assert cache.misses == 3


def test_a_delivery_signed_under_another_root_is_valid_but_untrusted(show, tmp_path):
    other = create_identity(tmp_path / "other", "Other Studio")
    status = check_file(show["clip"], load_anchor(tmp_path / "other" / "root.pem"), "root.pem")
    assert status.state == "untrusted" and status.label == "valid but untrusted"
    assert other.trust_anchor_pem != load_anchor(show["spec"].parent / ".reelforge" / "identity" / "root.pem")


def test_a_delivery_recorded_outside_the_production_folder_is_not_read(show, tmp_path):
    spec, db = copy_of_records(show, tmp_path / "copy")
    db.close()
    found = delivery_credentials(ProductionPaths.for_spec(spec), VerifyCache())
    assert [d.status.state for d in found] == ["outside", "outside"]
    assert all(d.status.summary is None for d in found)


# --- change log ----------------------------------------------------------------------------------

def logged(spec: Path, **filters) -> list[int]:
    with Catalog(ProductionPaths.for_spec(spec).catalog).session() as session:
        return [e.seq for e in changelog.entries(session, **filters)]


def test_the_log_lists_entries_newest_first_with_its_verify_status(served, show):
    page = served.get("/log")
    assert page.status_code == 200
    seqs = [int(r["seq"]) for r in rows(page.text, "log-entry")]
    assert seqs == sorted(logged(show["spec"]), reverse=True)
    (status,) = rows(page.text, "log-verify")
    assert status["ok"] == "true" and "OK:" in page.text
    assert 'data-testid="log-diff"' in page.text and "$.episode_id" in page.text  # before/after as a diff


@pytest.mark.parametrize("query, expected", [
    ({"actor": "eve"}, {"actor": "eve"}),
    ({"kind": "render"}, {"kind": "render"}),
    ({"entity": "episode:s01e01", "kind": "render"}, {"entity": "episode:s01e01", "kind": "render"}),
])
def test_log_filters_show_only_matching_entries(served, show, query, expected):
    listed = rows(served.get("/log", params=query).text, "log-entry")
    assert [int(r["seq"]) for r in listed] == sorted(logged(show["spec"], **expected), reverse=True)
    assert listed and all(r[key] == value for r in listed for key, value in expected.items())


def test_log_text_and_time_filters(served, show):
    by_text = rows(served.get("/log", params={"text": f"RENDER #{show['clip_id']}"}).text, "log-entry")
    assert [(r["kind"], r["actor"]) for r in by_text] == [("render", "eve")]
    everything = len(logged(show["spec"]))
    assert len(rows(served.get("/log", params={"since": "2000-01-01"}).text, "log-entry")) == everything
    for query in ({"since": "2999-01-01"}, {"until": "2000-01-01T00:00:00Z"}):
        page = served.get("/log", params=query)
        assert page.status_code == 200 and rows(page.text, "log-entry") == []
        assert "No entries match" in page.text


def test_the_log_is_paged(served, show):
    page = served.get("/log", params={"per_page": "2", "page": "2", "actor": "dana"})
    dana = sorted(logged(show["spec"], actor="dana"), reverse=True)
    assert len(dana) > 4
    assert [int(r["seq"]) for r in rows(page.text, "log-entry")] == dana[2:4]
    (newer,) = re.findall(r'href="([^"]*)" data-testid="log-newer"', page.text)
    assert html.unescape(newer) == "/log?actor=dana&per_page=2&page=1"  # the filters are kept


@pytest.mark.parametrize("query, field", [
    ({"since": "last tuesday"}, "since"),
    ({"until": "2026-13-01"}, "until"),
    ({"since": "2026-03-02", "until": "2026-03-01"}, "until"),
    ({"kind": "delete"}, "kind"),
    ({"page": "0"}, "page"),
    ({"per_page": "many"}, "per_page"),
])
def test_bad_log_filters_are_a_400_naming_the_field(served, query, field):
    page = served.get("/log", params=query)
    assert page.status_code == 400
    (error,) = rows(page.text, "filter-error")
    assert error["field"] == field
    assert f"{field}: " in html.unescape(page.text) and "Traceback" not in page.text


@pytest.mark.parametrize("until", ["9999-12-31", "9999-12-31T23:59:59.999999Z"])
def test_until_the_last_day_there_is_lists_every_entry(served, show, until):
    page = served.get("/log", params={"until": until, "since": "0001-01-01"})
    assert page.status_code == 200
    assert len(rows(page.text, "log-entry")) == len(logged(show["spec"]))


def test_a_time_filter_on_a_log_with_an_altered_time_still_shows_the_log(show, tmp_path):
    """An entry whose time no longer reads as a time matches no time filter; the check names it."""
    spec, db = copy_of_records(show, tmp_path / "copy", drop_triggers=True)
    db.execute("UPDATE log_entries SET at = 'last tuesday' WHERE seq = 1")
    db.close()
    app, state = studio_app(spec)
    with TestClient(app) as client:
        page = login(client, state, "ana").get("/log", params={"since": "2000-01-01"})
    assert page.status_code == 200
    seqs = [int(r["seq"]) for r in rows(page.text, "log-entry")]
    assert 1 not in seqs and len(seqs) == len(logged(show["spec"])) - 1
    assert rows(page.text, "log-verify")[0]["ok"] == "false" and "first bad entry: 1" in page.text


def test_a_log_whose_recorded_states_were_overwritten_still_shows(show, tmp_path):
    spec, db = copy_of_records(show, tmp_path / "copy", drop_triggers=True)
    db.execute("UPDATE log_states SET data = ?", (b"not json",))
    db.close()
    app, state = studio_app(spec)
    with TestClient(app) as client:
        page = login(client, state, "ana").get("/log")
    assert page.status_code == 200
    assert len(rows(page.text, "log-entry")) == len(logged(show["spec"]))
    assert rows(page.text, "log-verify")[0]["ok"] == "false" and "state" in page.text and "was altered" in page.text


def test_the_log_page_shows_a_tampered_log(show, tmp_path):
    spec, db = copy_of_records(show, tmp_path / "copy", drop_triggers=True)
    db.execute("UPDATE log_entries SET actor = 'mallory' WHERE seq = 1")
    db.close()
    app, state = studio_app(spec)
    with TestClient(app) as client:
        page = login(client, state, "ana").get("/log")
    (status,) = rows(page.text, "log-verify")
    assert status["ok"] == "false"
    assert "TAMPERED" in page.text and "first bad entry: 1: entry 1 was altered" in page.text


def test_log_filters_are_values_never_query_text(served):
    for query in ({"actor": "' OR 1=1 --"}, {"entity": "shot:%"}, {"text": "ünïcødé ' \" <b>"}):
        page = served.get("/log", params=query)
        assert page.status_code == 200 and rows(page.text, "log-entry") == [], query
    assert "ünïcødé &#39; &#34; &lt;b&gt;" in served.get("/log", params={"text": "ünïcødé ' \" <b>"}).text


HOSTILE = "<img src=x onerror=alert(1)>'\""


def test_names_and_reasons_from_the_records_are_escaped_everywhere(show, tmp_path):
    spec, db = copy_of_records(show, tmp_path / "copy", drop_triggers=True)
    db.execute("UPDATE log_entries SET actor = ?, reason = ?", (HOSTILE, HOSTILE))
    db.execute("UPDATE deliveries SET rendered_by = ?", (HOSTILE,))
    db.close()
    app, state = studio_app(spec)
    with TestClient(app) as client:
        browser = login(client, state, "ana")
        pages = {url: browser.get(url).text for url in ("/log", "/credentials", f"/shots/{SHOT}/review")}
    for url, text in pages.items():
        assert "<img src=x" not in text, url
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages["/log"] and "&lt;img src=x" in pages["/credentials"]
    versions = re.search(r"data-versions='([^']*)'", pages[f"/shots/{SHOT}/review"]).group(1)
    assert "\\u003cimg src=x" in versions  # |tojson: no quote or bracket of the name ends the attribute


# --- energy --------------------------------------------------------------------------------------

def test_energy_page_charts_one_bar_per_render_and_states_the_method(served, show):
    page = served.get("/energy")
    assert page.status_code == 200
    chart = re.search(r'<svg [^>]*data-testid="energy-chart".*?</svg>', page.text, re.DOTALL).group(0)
    energy_rows = Catalog(ProductionPaths.for_spec(show["spec"]).catalog).energy_rows()
    bars = rows(chart, "energy-bar")
    assert [b["render"] for b in bars] == [str(r["render_id"]) for r in energy_rows]
    assert len(bars) == 2
    assert [r["render"] for r in rows(page.text, "energy-row")] == [b["render"] for b in bars]
    report = energy_report(energy_rows)
    text = html.unescape(page.text)
    for method in report["methods"]:
        assert method["method"] in text
    assert ("estimated" if not report["methods"][0]["measured"] else "measured") in text


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_an_energy_figure_that_is_not_a_number_is_charted_as_unknown(value):
    chart = bar_chart([("1", "#1 s01e01", value), ("2", "#2 s01e01", 0.002)], title="kWh per render", unit="kWh")
    odd, known = chart.bars
    assert (odd.text, odd.height, odd.y) == ("–", 0.0, chart.axis_bottom)
    assert known.height == chart.axis_bottom - TOP and [t.text for t in chart.ticks] == ["0", "0.001", "0.002"]


@pytest.mark.parametrize("value", [1.5e308, sys.float_info.max, 5e-324])
def test_huge_and_tiny_energy_figures_keep_the_chart_inside_its_frame(value):
    chart = bar_chart([("1", "#1", value), ("2", "#2", 0.0)], title="kWh per render", unit="kWh")
    numbers = [n for bar in chart.bars for n in (bar.x, bar.y, bar.width, bar.height, bar.text_y)]
    numbers += [tick.y for tick in chart.ticks]
    assert all(math.isfinite(n) for n in numbers)
    assert TOP <= chart.bars[0].y < chart.axis_bottom and chart.bars[1].height == 0.0
    assert chart.bars[0].text == f"{value:.3g}" and "inf" not in chart.ticks[-1].text


def test_energy_page_before_any_render(tmp_path):
    app, state = studio_app(small_production(tmp_path / "fresh"))
    with TestClient(app) as client:
        page = login(client, state, "ana").get("/energy")
    assert page.status_code == 200 and "No render energy recorded yet" in page.text and "<svg" not in page.text


# --- trace ---------------------------------------------------------------------------------------

def test_trace_page_has_the_drop_zone_form(served):
    page = served.get("/trace")
    assert page.status_code == 200
    (form,) = rows(page.text, "trace-form")
    assert form["testid"] == "trace-form"
    (picker,) = re.findall(r'<input [^>]*data-testid="trace-file"[^>]*>', page.text)
    assert 'type="file"' in picker and 'name="file"' in picker
    assert '<script src="/static/trust.js" defer></script>' in page.text
    assert served.get("/static/trust.js").status_code == 200


def test_trace_names_the_render_of_a_marked_delivery(served, show):
    result = trace(served, "leaked.mp4", show["episode"].read_bytes())
    assert result.status_code == 200
    (found,) = rows(result.text, "trace-result")
    assert found == {"testid": "trace-result", "outcome": "traced", "render": str(show["episode_id"]),
                     "mark": show["mark"]}
    assert "dana" in result.text and "renders/s01e01.mp4" in result.text and "confidence" in result.text


def test_a_recipient_edited_in_the_catalog_is_tampered_on_the_trace_and_credentials_pages(show, tmp_path):
    spec, db = copy_of_records(show, tmp_path / "copy", drop_triggers=True)
    db.execute("UPDATE deliveries SET rendered_by = 'mallory' WHERE render_id = ?", (show["episode_id"],))
    db.close()
    app, state = studio_app(spec)
    with TestClient(app) as client:
        browser = login(client, state, "ana")
        result = trace(browser, "leaked.mp4", show["episode"].read_bytes())
        credentials = browser.get("/credentials")
    (found,) = rows(result.text, "trace-result")
    assert found["outcome"] == "tampered" and "mallory" not in result.text
    assert f"deliveries row of render #{show['episode_id']} (rendered_by) differs" in result.text
    (marked,) = re.findall(r'data-testid="records-tampered">(.*?)</div>', credentials.text)
    assert f"deliveries row of render #{show['episode_id']} (rendered_by)" in marked


def test_trace_of_an_unmarked_delivery_finds_no_mark(served, show):
    result = trace(served, "clip.mp4", show["clip"].read_bytes())
    assert result.status_code == 200
    assert rows(result.text, "trace-result")[0]["outcome"] == "no-mark"
    assert "No mark found" in result.text


def test_an_oversize_upload_is_refused_with_413_and_not_kept(show):
    app, state = studio_app(show["spec"], max_upload_bytes=1000)
    before = uploads(show["spec"])
    with TestClient(app) as client:
        result = trace(login(client, state, "ana"), "big.mp4", os.urandom(5000))
    assert result.status_code == 413 and "larger than" in result.text
    assert uploads(show["spec"]) == before


@pytest.mark.parametrize("send, message", [
    ({"files": {"file": ("empty.mp4", b"", "video/mp4")}}, "the file is empty"),
    ({"files": {"other": ("a.mp4", b"data", "video/mp4")}}, "no file"),
    ({"json": {"file": "a.mp4"}}, "multipart/form-data"),
])
def test_a_missing_or_empty_upload_is_a_400(served, show, send, message):
    before = uploads(show["spec"])
    result = served.post("/trace", **send)
    assert result.status_code == 400 and message in result.text
    assert rows(result.text, "trace-result")[0]["outcome"] == "refused"
    assert uploads(show["spec"]) == before


def test_a_file_that_is_not_video_is_a_415_its_client_name_is_never_a_path_and_nothing_is_kept(served, show):
    root = show["spec"].parent.parent
    content = b"not a video at all: " + os.urandom(64)
    before = {p for p in root.rglob("*") if p.is_file() and "catalog.sqlite" not in p.name}
    result = trace(served, "../../etc/passwd", content)
    assert result.status_code == 415 and "not a video" in result.text and "Traceback" not in result.text
    after = {p for p in root.rglob("*") if p.is_file() and "catalog.sqlite" not in p.name}
    assert after == before  # refused on its first bytes: nothing written anywhere, nothing left in uploads
    assert not list(root.rglob("passwd"))
