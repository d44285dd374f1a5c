"""The review room's parts together: takes rendered and picked, the status a director sets, and the cut.

A director renders an episode, tries takes of one shot, approves the take the spec uses, then picks
another: the review state follows the spec's take (not the newest take rendered), and the episode
file says it is outdated until it is re-assembled from the store, rendering nothing.
"""

from __future__ import annotations

from pathlib import Path

from conftest import cli, small_spec, write_spec
from fastapi.testclient import TestClient
from studio_support import login, studio_app

from reelforge.app.cut_status import NEWER, OUTDATED, UP_TO_DATE
from reelforge.app.review import shot_versions
from reelforge.app.review_status import APPROVED, WAITING, shot_reviews
from reelforge.app.shot_edit import load_shot_form
from reelforge.app.status import production_status
from reelforge.app.takes import pick_take, shot_takes
from reelforge.spec.load import load_production
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths

SHOT = "s01e01/sc01/sh01"


def review_of(spec: Path):
    return shot_reviews(ProductionPaths.for_spec(spec), load_production(spec))[SHOT]


def number_of(spec: Path, job_key: str) -> int:
    with Catalog(ProductionPaths.for_spec(spec).catalog) as catalog:
        return next(v.number for v in shot_versions(catalog, SHOT) if v.job_key == job_key)


def test_a_picked_take_is_reviewed_as_the_shot_and_joins_the_cut_by_re_assembly(tmp_path: Path):
    data = small_spec(2)
    data["look"] = {"grain": 0.5}  # on previz grain comes from the seed, so takes differ
    spec = write_spec(tmp_path / "show", data)
    assert cli("render", str(spec))[0] == 0
    assert cli("render", str(spec), "--shot", SHOT, "--takes", "3")[0] == 0
    takes = shot_takes(spec, SHOT).takes
    with Catalog(ProductionPaths.for_spec(spec).catalog) as catalog:  # the review page's versions name their take
        labels = {version.job_key: version.label for version in shot_versions(catalog, SHOT)}
    assert "(take 2)" in labels[takes[1].job_key] and "(take" not in labels[takes[0].job_key]

    # 1. the state is about the spec's take (take 1), not take 3 rendered last; a status without
    #    --version goes on that take
    assert review_of(spec).job_key == takes[0].job_key and review_of(spec).state == WAITING
    code, out = cli("review", str(spec), SHOT, "--status", "approved", "-m", "good")
    assert code == 0, out
    assert (review_of(spec).state, review_of(spec).job_key) == (APPROVED, takes[0].job_key)
    (episode,) = production_status(spec).episodes
    assert episode.cut.state == UP_TO_DATE  # other takes rendered to choose among outdate nothing

    # 2. picking take 2: the shot is now that take, waiting for review; the cut holds take 1
    pick_take(spec, SHOT, 2, base=load_shot_form(spec, SHOT).base, reason="calmer", actor="ana")
    assert (review_of(spec).state, review_of(spec).job_key) == (WAITING, takes[1].job_key)
    (episode,) = production_status(spec).episodes
    assert episode.cut.state == OUTDATED
    assert {shot.path: shot.state for shot in episode.cut.shots}[SHOT] == NEWER

    # the studio plays, compares, reviews and annotates the picked take, not take 3 rendered last
    app, state = studio_app(spec)
    with TestClient(app) as client:
        ana = login(client, state, "ana")
        page = ana.get(f"/shots/{SHOT}/review").text
        assert f'data-b="{takes[1].job_key}"' in page
        panel = ana.get(f"/shots/{SHOT}/review/status").text
        assert f'name="job_key" id="status-job-key" value="{takes[1].job_key}"' in panel
        assert ana.get(f"/shots/{SHOT}/playback.json").json()["b"] == takes[1].job_key
        hookup = ana.get("/shots/s01e01/sc01/sh02/hookup.json").json()["shots"]
        assert (hookup[0]["shot"], hookup[0]["version"]) == (SHOT, number_of(spec, takes[1].job_key))
    code, out = cli("review", "note", str(spec), SHOT, "--frame", "0", "-m", "the grain")
    assert code == 0 and f"v{number_of(spec, takes[1].job_key)}," in out

    # 3. re-assembled from the store: take 2 is in the cut, nothing rendered
    code, out = cli("assemble", str(spec))
    assert code == 0, out
    (episode,) = production_status(spec).episodes
    assert episode.cut.state == UP_TO_DATE
    assert {shot.path: shot.cut_key for shot in episode.cut.shots}[SHOT] == takes[1].job_key


def test_a_versions_number_never_changes_when_an_older_version_is_rendered_again(tmp_path: Path):
    data = small_spec(2)
    data["look"] = {"grain": 0.5}
    spec = write_spec(tmp_path / "show", data)
    assert cli("render", str(spec))[0] == 0
    assert cli("review", str(spec), SHOT, "--status", "approved", "-m", "good")[0] == 0
    assert cli("render", str(spec), "--shot", SHOT, "--takes", "3")[0] == 0

    def numbers() -> dict[str, int]:
        with Catalog(ProductionPaths.for_spec(spec).catalog) as catalog:
            return {v.job_key: v.number for v in shot_versions(catalog, SHOT)}

    before = numbers()
    assert sorted(before.values()) == [1, 2, 3]
    assert cli("render", str(spec), "--out", str(tmp_path / "again"))[0] == 0  # reuses take 1: a newer render of v1
    assert numbers() == before
    take_one = next(key for key, number in before.items() if number == 1)
    assert (review_of(spec).job_key, review_of(spec).version, review_of(spec).state) == (take_one, 1, APPROVED)
    code, out = cli("review", "note", str(spec), SHOT, "--frame", "0", "-m", "on the spec's take")
    assert code == 0 and f"on {SHOT} v1," in out
