"""The action shown: a shot's plan (marks, paths, camera) drawn from the data previz plays, on the
contact sheet and the studio's shot page, and the shot editor's blocking field."""

from __future__ import annotations

import io
import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLE, small_spec, standing, unblocked, write_spec
from studio_support import served

from reelforge.app.shot_edit import BLOCKING, EditInvalid, apply_shot_edit, load_shot_form
from reelforge.media.contact_sheet import Still, contact_sheet
from reelforge.media.plan_view import (
    SPOT_LINES,
    fit,
    image_style,
    layout,
    plan_image,
    plan_svg,
    readable,
    spot_lines,
    svg_style,
    text_width,
)
from reelforge.plan.blocking import ActionJob, FigureBlocking
from reelforge.plan.jobs import find_job, plan
from reelforge.previz.camera import camera_path
from reelforge.previz.overview import shot_overview
from reelforge.records.changelog import entries
from reelforge.spec.load import load_production
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths

SVG = "{http://www.w3.org/2000/svg}"
TWO = "s01e01/sc01/sh02"  # Mara and Theo, lock-off
PUSH_IN = "s01e01/sc01/sh01"  # Mara, push-in
WALK = ((-0.55, 0.0), (0.95, 2.0))


@pytest.fixture(scope="module")
def plans():
    return plan(load_production(EXAMPLE), EXAMPLE.parent)


def blocked(job, path=WALK):
    """The job with its first figure walking `path` from 0.2 s to 1.5 s, then waving at 1.6 s; the others
    stand in the line-up (whatever the example blocks) and the camera tracks nobody."""
    job = standing(job)
    walk = ActionJob(action="walk", start_s=0.2, end_s=1.5, easing="linear", path=path)
    wave = ActionJob(action="gesture", start_s=1.6, end_s=1.9, easing="linear", gesture="wave")
    first = job.figures[0].model_copy(update={"x_m": path[0][0], "z_m": path[0][1],
                                              "blocking": FigureBlocking(heading_deg=0.0, actions=(walk, wave))})
    return job.model_copy(update={"figures": (first, *job.figures[1:])})


# --------------------------------------------------------------------------- the plan as data


def test_a_walk_is_planned_from_its_start_to_its_end_and_a_standing_figure_stays_put(plans):
    job = blocked(find_job(plans, TWO))
    overview = shot_overview(job)
    mara, theo = overview.figures
    assert len(mara.points) == job.frames == len(theo.points)
    assert mara.start == pytest.approx(WALK[0]) and mara.end == pytest.approx(WALK[-1])
    # she stands on her mark until the walk starts; at frame 20 (0.833 s) she is (0.833 - 0.2) / 1.3 of the way
    assert mara.points[int(0.2 * job.fps)] == pytest.approx(WALK[0])
    part = (20 / job.fps - 0.2) / 1.3
    assert mara.points[20] == pytest.approx(tuple(a + (b - a) * part for a, b in zip(*WALK)))
    assert mara.end_heading == pytest.approx(math.atan2(1.5, -2.0))  # facing where she walked
    assert [(e.action, e.start_s) for e in mara.events] == [("walk", 0.2), ("gesture", 1.6)]
    assert mara.events[1].label == "wave" and (mara.events[1].x, mara.events[1].z) == pytest.approx(WALK[-1])
    assert mara.blocked and mara.moves and mara.color == job.figures[0].top
    assert not theo.blocked and not theo.moves and set(theo.points) == {(theo.start[0], theo.start[1])}
    assert overview.shows_action


def test_the_camera_on_the_plan_is_the_camera_previz_renders(plans):
    job = standing(find_job(plans, PUSH_IN))
    overview = shot_overview(job)
    poses = camera_path(job)
    assert overview.camera.points == tuple((p.position[0], p.position[2]) for p in poses)
    assert overview.camera.moves and overview.shows_action  # a push-in moves, though nobody is blocked
    # the wedge: half the horizontal field of view of the first frame's lens
    focal_px = poses[0].focal_length_mm / 36 * 1920 * (job.width / 1920)
    assert overview.camera.half_fov == pytest.approx(math.atan(job.width / 2 / focal_px))
    apex, left, right = overview.camera.wedge()
    assert apex == overview.camera.points[0]
    assert left[0] < apex[0] < right[0] and left[1] > apex[1] and right[1] > apex[1]  # it looks up +z

    still = shot_overview(standing(find_job(plans, TWO)))
    assert not still.camera.moves and not still.shows_action  # a lock-off of people standing: no action
    assert shot_overview(find_job(plans, TWO)).shows_action  # the example's own blocking of it is action


def test_the_plan_holds_the_action_marks_and_nearby_set(plans):
    job = blocked(find_job(plans, TWO))
    overview = shot_overview(job, {"quay-end": (-2.0, -1.0)})
    x0, z0, x1, z1 = overview.bounds
    inside = [p for f in overview.figures for p in f.points] + list(overview.camera.points)
    inside += list(overview.camera.wedge()) + [(m.x, m.z) for m in overview.marks]
    assert all(x0 < x < x1 and z0 < z < z1 for x, z in inside)
    crates = next(p for p in overview.props if (p.x, p.z) == (-3.0, 2.5))  # 3 m from the action: shown whole
    assert x0 < crates.x - crates.width / 2 and crates.z + crates.depth / 2 < z1
    assert z1 < 14.0  # the sea wall 12 m behind the action does not shrink the plan to fit it
    assert [(m.name, m.x, m.z) for m in overview.marks] == [("quay-end", -2.0, -1.0)]


# --------------------------------------------------------------------------- drawn


def test_the_svg_is_well_formed_and_draws_each_characters_path_where_they_walk(plans):
    job = blocked(find_job(plans, TWO))
    overview = shot_overview(job, {"<quay> & \"end\"": (-2.0, -1.0)})
    svg = plan_svg(overview, 320)
    root = ET.fromstring(svg)  # text is escaped: a mark named with markup characters stays text
    assert root.tag == SVG + "svg" and root.get("width") == "320"
    groups = {g.get("data-character"): g for g in root.iter(SVG + "g") if g.get("data-character")}
    assert set(groups) == {"mara", "theo"}
    path = groups["mara"].find(SVG + "polyline[@class='path']")
    points = [tuple(map(float, p.split(","))) for p in path.get("points").split()]
    projection = fit(overview.bounds, 320, max_height=420)
    assert points[0] == pytest.approx(projection(*WALK[0]), abs=0.06)
    assert points[-1] == pytest.approx(projection(*WALK[-1]), abs=0.06)
    assert groups["theo"].find(SVG + "polyline[@class='path']") is None  # Theo does not move: no path
    assert "wave 1.6 s" in "".join(groups["mara"].itertext())
    assert any(t.text == "<quay> & \"end\"" for t in root.iter(SVG + "text"))
    assert root.find(f"{SVG}g[@class='camera']").get("data-moves") == "false"


def test_the_plan_image_is_a_pure_function_of_the_plan(plans):
    overview = shot_overview(blocked(find_job(plans, TWO)))

    def png(o) -> bytes:
        out = io.BytesIO()
        plan_image(o, 200, 200).save(out, format="PNG")
        return out.getvalue()

    assert png(overview) == png(shot_overview(blocked(find_job(plans, TWO))))
    assert png(overview) != png(shot_overview(blocked(find_job(plans, TWO), path=((-0.55, 0.0), (-0.55, 3.0)))))
    image = np.asarray(plan_image(overview, 200, 200))
    assert image.shape == (200, 200, 3)
    mara = overview.figures[0]
    projection = fit(overview.bounds, 200, 200)
    ex, ey = projection(*mara.end)
    # where she ends: a dot in her wardrobe top colour (lifted to read on the dark plan)
    assert np.abs(image[round(ey), round(ex) + 3].astype(int) - readable(mara.color)).max() <= 8


def test_the_contact_sheet_shows_a_plan_for_shots_with_action_only(plans):
    frame = np.full((90, 160, 3), 40, dtype=np.uint8)
    still_job = standing(find_job(plans, TWO))
    quiet = Still(frame, (TWO, "lock-off", "gray-box"), shot_overview(still_job))
    acting = Still(frame, (TWO, "lock-off", "gray-box"), shot_overview(blocked(still_job)))

    def png(stills) -> bytes:
        out = io.BytesIO()
        contact_sheet(stills).save(out, format="PNG")
        return out.getvalue()

    # a sheet with no action in it is drawn exactly as before plans existed
    assert png([quiet, quiet]) == png([Still(frame, quiet.lines)] * 2)
    with_plan = contact_sheet([acting, quiet])
    assert with_plan.size[1] > contact_sheet([quiet, quiet]).size[1]  # a row for the plan below the labels
    assert png([acting, quiet]) == png([acting, quiet])  # deterministic
    sheet = np.asarray(with_plan)
    below_labels = sheet[12 + 270:, :]  # (the thumbnail is 480 × 270)
    mara_red = np.array(readable(acting.plan.figures[0].color))
    cells = sheet.shape[1] // 2
    assert (np.abs(below_labels[:, :cells].astype(int) - mara_red).sum(axis=2) < 30).any()  # her path, her colour
    assert not (np.abs(below_labels[:, cells:].astype(int) - mara_red).sum(axis=2) < 30).any()  # none for the quiet shot


# --------------------------------------------------------------------------- labels that do not overprint

LAMP = {"id": "lamp-post", "shape": "cylinder", "position_m": [2.6, 2.0], "size_m": [0.02, 3.0, 0.02],
        "color": "#404040"}


def busy(job):
    """What a new user reported: Mara walks, then turns to Theo and waves on one spot; Theo, on the
    bollard, sits, looks at Mara and stands on his; a lamp post 2 cm thick stands by them."""
    job = standing(job)
    mara, theo = job.figures[:2]
    walk = ActionJob(action="walk", start_s=0.1, end_s=1.0, easing="linear", path=((1.6, 0.6), (0.4, 1.6)))
    turn = ActionJob(action="turn", start_s=1.2, end_s=1.4, easing="linear", face_character=theo.character_id)
    wave = ActionJob(action="gesture", start_s=1.3, end_s=1.6, easing="linear", gesture="wave")
    mara = mara.model_copy(update={"x_m": 1.6, "z_m": 0.6,
                                   "blocking": FigureBlocking(heading_deg=-60.0, actions=(walk, turn, wave))})
    sit = ActionJob(action="sit", start_s=0.2, end_s=0.6, easing="linear")
    look = ActionJob(action="look-at", start_s=0.7, end_s=0.9, easing="linear", face_character=mara.character_id)
    stand = ActionJob(action="stand", start_s=1.2, end_s=1.6, easing="linear")
    theo = theo.model_copy(update={"blocking": FigureBlocking(heading_deg=90.0, actions=(sit, look, stand))})
    props = (*job.set.props, LAMP)
    return job.model_copy(update={"figures": (mara, theo, *job.figures[2:]),
                                  "set": job.set.model_copy(update={"props": props})})


@pytest.fixture(scope="module")
def busy_plan(plans):
    job = busy(find_job(plans, TWO))
    theo = job.figures[1]
    return shot_overview(job, {"bollard": (theo.x_m, theo.z_m), "quay-end": (-2.0, -1.0)})


def texts(root: ET.Element) -> dict[str, ET.Element]:
    return {"".join(t.itertext()): t for t in root.iter(SVG + "text")}


def test_actions_at_one_spot_are_one_label_listing_them_in_order(busy_plan):
    mara, theo = busy_plan.figures
    assert [[e.action for e in spot.events] for spot in mara.spots] == [["turn", "gesture"]]
    assert [[e.action for e in spot.events] for spot in theo.spots] == [["sit", "look-at", "stand"]]
    root = ET.fromstring(plan_svg(busy_plan, 320))
    for figure, words in ((mara, ("turn → theo 1.2 s", "wave 1.3 s")), (theo, ("sit 0.2 s", "stand 1.2 s"))):
        group = next(g for g in root.iter(SVG + "g") if g.get("data-character") == figure.character_id)
        [spot] = group.findall(SVG + "g[@class='events']")  # one dot and one label for the spot
        [label] = spot.findall(SVG + "text")
        text = " ".join(label.itertext())
        assert all(word in text for word in words), text
        assert text.index(words[0]) < text.index(words[1])  # in the order they happen
    # the contact sheet's plan lists them the same way, where they fit
    labels = layout(busy_plan, fit(busy_plan.bounds, 400, 400), image_style(200, 11))
    assert [" · ".join(label.lines) for label in labels if label.kind == "spot" and label.key == "mara"] == [
        "turn → theo 1.2 s · wave 1.3 s"]


def test_a_long_list_of_actions_wraps_and_ends_in_an_ellipsis(busy_plan):
    theo = busy_plan.figures[1]
    spot = theo.spots[0]
    many = type(spot)(spot.x, spot.z, spot.events * 4)
    lines = spot_lines(many, 9, 140)
    assert len(lines) == SPOT_LINES and lines[-1].endswith("…")
    assert all(text_width(line, 9) <= 140 for line in lines)
    assert spot_lines(spot, 9, 160) == ("sit 0.2 s · look-at → mara 0.7 s", "stand 1.2 s")
    narrow = spot_lines(spot, 9, 50)  # an action wider than the label is cut, with an ellipsis
    assert narrow[1].startswith("look") and narrow[1].endswith("…") and text_width(narrow[1], 9) <= 50


@pytest.mark.parametrize("style", ["svg", "png"])
def test_no_text_on_the_plan_covers_another(busy_plan, style):
    if style == "svg":
        p = fit(busy_plan.bounds, 320, max_height=420)
        labels = layout(busy_plan, p, svg_style(320))
    else:
        p = fit(busy_plan.bounds, 400, 400)  # the contact sheet's 200 px cell, drawn twice as large
        labels = layout(busy_plan, p, image_style(200, 11))
    kinds = {(label.kind, label.key) for label in labels}
    assert {("mark", "bollard"), ("name", "theo"), ("name", "mara"), ("prop", "lamp-post")} <= kinds
    for n, a in enumerate(labels):
        assert 0 <= a.box[0] and 0 <= a.box[1] and a.box[2] <= p.width and a.box[3] <= p.height, a
        for b in labels[n + 1:]:
            apart = a.box[2] <= b.box[0] or b.box[2] <= a.box[0] or a.box[3] <= b.box[1] or b.box[3] <= a.box[1]
            assert apart, (a, b)


def test_a_character_on_a_mark_is_named_away_from_the_marks_name(busy_plan):
    root = ET.fromstring(plan_svg(busy_plan, 320))
    named = texts(root)
    bollard, theo = named["bollard"], named["theo"]
    assert (bollard.get("x"), bollard.get("y")) != (theo.get("x"), theo.get("y"))
    assert abs(float(bollard.get("y")) - float(theo.get("y"))) >= 10  # a line apart at least: both read


def test_props_are_labelled_by_id_and_a_thin_one_still_shows(busy_plan):
    svg = plan_svg(busy_plan, 320)
    root = ET.fromstring(svg)
    labels = {t.get("data-prop"): "".join(t.itertext()) for t in root.iter(SVG + "text") if t.get("data-prop")}
    assert labels.get("lamp-post") == "lamp-post" and labels.get("crates") == "crates"
    lamp = next(e for e in root.iter(SVG + "ellipse") if e.findtext(SVG + "title") == "lamp-post")
    assert 2 * float(lamp.get("rx")) >= 3 and 2 * float(lamp.get("ry")) >= 3  # 2 cm would be 0.6 px
    assert plan_svg(busy_plan, 320) == svg and "style=" not in svg  # deterministic; attributes only (CSP)


# --------------------------------------------------------------------------- the studio


@pytest.fixture
def spec(tmp_path) -> Path:
    """The small example with nobody blocked: the editor starts from shots with no blocking of their own."""
    return write_spec(tmp_path / "show", unblocked(small_spec()))


def svg_of(html: str) -> ET.Element:
    match = re.search(r'<figure class="plan" data-testid="shot-plan">\s*(<svg .*?</svg>)', html, re.DOTALL)
    assert match, "the shot page shows no plan"
    return ET.fromstring(match.group(1))


def test_the_shot_page_and_its_summary_show_the_plan(spec):
    with served(spec) as (_, _, browser):
        for url in ("/shots/s01e01/sc01/sh02", "/shots/s01e01/sc01/sh02/summary"):
            response = browser.get(url)
            assert response.status_code == 200
            root = svg_of(response.text)
            characters = {g.get("data-character") for g in root.iter(SVG + "g") if g.get("data-character")}
            assert characters == {"mara", "theo"}
            assert root.find(f"{SVG}g[@class='camera']") is not None
            assert "style=" not in response.text.split('data-testid="shot-plan"')[1].split("</figure>")[0]  # CSP


def test_the_editor_saves_a_shots_blocking_and_commits_it_with_the_reason(spec):
    form = load_shot_form(spec, PUSH_IN)
    assert form.values[BLOCKING] == ""  # nothing of its own: it inherits
    blocking = {"mara": {"mark": [0, 1], "actions": [{"action": "walk", "at_s": 0, "to": [1, 2], "arrive_s": 0.3}]}}
    result = apply_shot_edit(spec, PUSH_IN, {BLOCKING: json.dumps(blocking)}, base=form.base,
                             reason="Mara crosses to the crates", actor="ana")
    assert result.changed and result.created
    raw = json.loads(spec.read_text(encoding="utf-8"))
    assert raw["episodes"][0]["scenes"][0]["shots"][0]["blocking"] == blocking
    with Catalog(ProductionPaths.for_spec(spec).catalog).session() as session:
        assert ("ana", "Mara crosses to the crates") in [(e.actor, e.reason) for e in entries(session, kind="commit")]
    shown = load_shot_form(spec, PUSH_IN).values[BLOCKING]
    assert json.loads(shown) == blocking and shown.count("\n") >= 3  # a line per character and per action
    # saving the form as shown changes nothing; emptying the field takes the shot's own blocking away
    again = load_shot_form(spec, PUSH_IN)
    assert not apply_shot_edit(spec, PUSH_IN, again.values, base=again.base, reason="", actor="ana").changed
    apply_shot_edit(spec, PUSH_IN, {BLOCKING: "  "}, base=again.base, reason="back to the scene's", actor="ana")
    assert "blocking" not in json.loads(spec.read_text(encoding="utf-8"))["episodes"][0]["scenes"][0]["shots"][0]


@pytest.mark.parametrize("text, path, words", [
    ('{"mara": {"actions": [{"action": "dance", "at_s": 0}]}}', ".blocking.mara.actions[0].action", "'dance'"),
    ('{"mara": {"actions": [{"action": "turn", "at_s": 0, "heading_deg": 90, "speed_mps": 1}]}}',
     ".blocking.mara.actions[0].speed_mps", "does not apply to a turn"),
    ('{"mara": {"actions": [', ".blocking", "not JSON"),
    ("[1]", ".blocking", "expected an object"),
])
def test_the_editor_refuses_bad_blocking_naming_its_path(spec, text, path, words):
    before = spec.read_bytes()
    form = load_shot_form(spec, PUSH_IN)
    with pytest.raises(EditInvalid) as refused:
        apply_shot_edit(spec, PUSH_IN, {BLOCKING: text}, base=form.base, reason="r", actor="ana")
    [problem] = refused.value.problems
    assert problem.field == BLOCKING and problem.path == "$.episodes[0].scenes[0].shots[0]" + path
    assert words in problem.message
    assert spec.read_bytes() == before


def test_the_studio_shows_a_blocking_problem_with_its_path_beside_the_field(spec):
    with served(spec) as (_, _, browser):
        page = browser.get(f"/shots/{PUSH_IN}")
        base = re.search(r'name="base" value="([0-9a-f]{64})"', page.text).group(1)
        bad = '{"mara": {"actions": [{"action": "turn", "at_s": 0, "heading_deg": 90, "speed_mps": 1}]}}'
        response = browser.post(f"/shots/{PUSH_IN}", data={"base": base, "reason": "r", BLOCKING: bad},
                                headers={"hx-request": "true"})
        assert response.status_code == 400
        errors = re.findall(r'data-field="blocking" role="alert"><code>([^<]+)</code>: ([^<]+)</p>', response.text)
        assert errors == [("$.episodes[0].scenes[0].shots[0].blocking.mara.actions[0].speed_mps",
                           "&#39;speed_mps&#39; does not apply to a turn; it applies to: run, walk")]
        assert "speed_mps&#34;: 1" in response.text or "speed_mps&quot;: 1" in response.text  # what was typed stays


def test_a_blocking_saved_in_the_editor_moves_the_path_on_the_shot_page(spec):
    with served(spec) as (_, _, browser):
        page = browser.get(f"/shots/{PUSH_IN}")
        base = re.search(r'name="base" value="([0-9a-f]{64})"', page.text).group(1)
        walk = {"mara": {"mark": [0, 1], "actions": [{"action": "walk", "at_s": 0, "to": [1, 2], "arrive_s": 0.3}]}}
        saved = browser.post(f"/shots/{PUSH_IN}", data={"base": base, "reason": "walk", BLOCKING: json.dumps(walk)})
        assert saved.status_code == 200
        root = svg_of(browser.get(f"/shots/{PUSH_IN}/summary").text)
        mara = next(g for g in root.iter(SVG + "g") if g.get("data-character") == "mara")
        assert mara.get("data-moves") == "true"
