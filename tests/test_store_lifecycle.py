"""The frame store's lifecycle: `store du` adds up to the bytes on disk and says what is superseded; `store gc`
removes only that, under the lock, in a kill-safe order, logged, and never breaks reuse or `verify`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, copy_production, small_spec, write_spec

from reelforge.app import store_gc
from reelforge.app.render_request import plan_episodes
from reelforge.app.store_retention import retention
from reelforge.records.audit import check_records
from reelforge.spec.load import load_production
from reelforge.spec.store import format_size
from reelforge.store.catalog import Catalog
from reelforge.store.frames import FrameStore
from reelforge.store.journal import JobFiles
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import LogEntry, RenderRecord
from reelforge.store.usage import files_under

EDITED = "s01e01/sc01/sh01"


def _edit_camera(spec: Path) -> None:
    data = json.loads(spec.read_text())
    data["episodes"][0]["scenes"][0]["shots"][0]["camera"] = {"move": "orbit"}
    spec.write_text(json.dumps(data, indent=2))


def _render(spec: Path) -> None:
    code, output = cli("render", str(spec))
    assert code == 0, output


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Path]:
    """A production rendered once, then again after one shot's camera changed: "v2" is the second version."""
    spec = write_spec(tmp_path_factory.mktemp("lifecycle") / "show", small_spec(frames=2))
    _render(spec)
    _edit_camera(spec)
    _render(spec)
    return {"v2": spec}


@pytest.fixture
def show(renders, tmp_path) -> Path:
    """A copy of the v2 production to change."""
    return copy_production(renders["v2"].parent, tmp_path / "show") / "production.json"


def _du(spec: Path) -> dict:
    code, output = cli("store", "du", str(spec), "--json")
    assert code == 0, output
    return json.loads(output)


def _gc(spec: Path, *args: str) -> tuple[int, str]:
    return cli("store", "gc", str(spec), *args)


def _versions(usage: dict, shot: str) -> dict[str, str]:
    return {v["job_key"]: v["status"] for v in usage["versions"] if v["shot"] == shot}


def _kept_frames(spec: Path) -> set[str]:
    paths = ProductionPaths.for_spec(spec)
    return retention(paths, load_production(spec)).kept_frames


def _gc_entries(spec: Path) -> list[LogEntry]:
    with Catalog(ProductionPaths.for_spec(spec).catalog) as catalog, catalog.session() as session:
        return list(session.query(LogEntry).filter(LogEntry.kind == "gc"))


def test_du_adds_up_to_the_bytes_on_disk_and_shows_the_old_version_superseded(show):
    usage = _du(show)
    paths = ProductionPaths.for_spec(show)
    assert usage["total_bytes"] == sum(f.size for f in files_under(paths.state))
    assert usage["kept_bytes"] + usage["superseded_bytes"] == usage["total_bytes"]
    counted = sum(v["bytes"] for v in usage["versions"]) + sum(usage["parts"].values())
    assert counted == usage["total_bytes"]  # every file counted once: shared frames are not counted twice
    statuses = sorted(_versions(usage, EDITED).values())
    assert statuses == ["latest, delivered, current", "superseded"]
    assert usage["superseded_bytes"] > 0
    assert usage["gc_would_free_bytes"] == 0  # rendered just now: younger than the default 30 days
    code, table = cli("store", "du", str(show))
    assert code == 0 and "superseded" in table and "total " in table and format_size(usage["total_bytes"]) in table


def test_dry_run_lists_what_would_go_and_touches_nothing(show):
    paths = ProductionPaths.for_spec(show)
    before = sorted((f.path, f.size) for f in files_under(paths.state) if "catalog.sqlite" not in f.path.name)
    code, output = _gc(show, "--older-than", "0d", "--dry-run", "--json")
    assert code == 0, output
    plan = json.loads(output)
    assert plan["dry_run"] and plan["bytes"] == _du(show)["superseded_bytes"] > 0
    assert [r["shot"] for r in plan["removals"]] == [EDITED] and plan["frames"] == 2
    assert sorted((f.path, f.size) for f in files_under(paths.state) if "catalog.sqlite" not in f.path.name) == before
    assert _gc_entries(show) == []
    code, text = _gc(show, "--older-than", "0d", "--dry-run")
    assert code == 0 and "would remove" in text and "nothing was removed" in text


def test_gc_now_removes_only_superseded_frames_and_reuse_and_verify_still_hold(show):
    paths = ProductionPaths.for_spec(show)
    frames = FrameStore(paths.frames)
    (old_key,) = [key for key, status in _versions(_du(show), EDITED).items() if status == "superseded"]
    kept = _kept_frames(show)
    with Catalog(paths.catalog) as catalog, catalog.session() as session:
        old_frames = {d for r in session.query(RenderRecord).all() for s in r.shots if s.job_key == old_key
                      for d in s.frame_hashes} - kept
    assert old_frames and all(frames.has(d) for d in old_frames)

    code, output = _gc(show, "--older-than", "0d")
    assert code == 0, output
    assert "removed 1 superseded version(s): 2 frame(s), 1 segment(s)" in output
    assert not any(frames.has(d) for d in old_frames)
    assert all(frames.has(d) for d in kept)  # never a frame a kept render needs
    assert not JobFiles(paths.jobs, old_key).dir.exists()
    assert _du(show)["superseded_bytes"] == 0

    (entry,) = _gc_entries(show)
    assert entry.entity == "store"
    code, output = cli("log", "verify", str(show))
    assert code == 0 and output.startswith("OK"), output
    with Catalog(paths.catalog) as catalog, catalog.session() as session:
        assert check_records(session) == []

    code, output = cli("verify", str(paths.renders / "s01e01.mp4"), "--production", str(show))
    assert code == 0 and "VERIFIED: every byte matches" in output, output
    _render(show)
    with Catalog(paths.catalog) as catalog, catalog.session() as session:
        last = session.query(RenderRecord).order_by(RenderRecord.id.desc()).first()
        assert (last.shots_rendered, last.shots_reused) == (0, 3)  # every kept shot reused, nothing rendered
        assert sum(s.frame_count for s in last.shots if not s.reused) == 0


def test_a_copied_out_marked_delivery_of_a_removed_version_still_verifies(tmp_path):
    """A delivery sent out before its shot was redone: after gc removed its frames, verify re-renders them,
    re-embeds the invisible mark from them and proves the copy, noting the frames are no longer stored."""
    data = small_spec(frames=2)
    data["delivery"] = {**data.get("delivery", {}), "mark": True}
    spec = write_spec(tmp_path / "show", data)
    _render(spec)
    sent = tmp_path / "sent-to-distributor.mp4"
    shutil.copy(spec.parent / "renders" / "s01e01.mp4", sent)
    _edit_camera(spec)
    _render(spec)
    code, output = _gc(spec, "--older-than", "0d")
    assert code == 0 and "removed 1 superseded version(s)" in output, output
    code, output = cli("verify", str(sent), "--production", str(spec))
    assert code == 0 and "VERIFIED: every byte matches" in output, output
    assert "2 of its frames are not in the store" in output and "re-embedded" in output


def test_a_current_jobs_journal_is_kept_and_frames_nothing_names_go(show):
    paths = ProductionPaths.for_spec(show)
    frames = FrameStore(paths.frames)
    (plan,) = plan_episodes(load_production(show), show)
    current = JobFiles(paths.jobs, plan.jobs[1].key)
    resumed = frames.put(np.full((4, 4, 3), 7, dtype=np.uint8))  # a frame only a killed render's journal names
    current.append_journal(0, resumed)
    loose = frames.put(np.full((4, 4, 3), 9, dtype=np.uint8))  # a frame nothing names
    code, output = _gc(show, "--older-than", "0d")
    assert code == 0, output
    assert frames.has(resumed) and current.read_journal() == {0: resumed}
    assert not frames.has(loose)


def test_a_gc_that_removes_nothing_logs_nothing(show):
    code, output = _gc(show)  # the default policy: 30 days; v1 is minutes old
    assert code == 0 and "nothing to remove (store.keep_superseded 30d)" in output, output
    assert _gc_entries(show) == [] and _du(show)["superseded_bytes"] > 0


def test_the_spec_sets_how_long_superseded_versions_stay(show):
    data = json.loads(show.read_text())
    data["store"] = {"keep_superseded": "0d"}
    show.write_text(json.dumps(data))
    code, output = _gc(show)
    assert code == 0 and "(store.keep_superseded 0d)" in output and "removed 1 superseded" in output, output
    assert _du(show)["superseded_bytes"] == 0


def test_an_approved_old_version_is_kept(tmp_path):
    spec = write_spec(tmp_path / "show", small_spec(frames=2))
    _render(spec)
    code, output = cli("approve", f"shot:{EDITED}", str(spec), "-m", "picture lock")
    assert code == 0, output
    _edit_camera(spec)
    _render(spec)
    assert sorted(_versions(_du(spec), EDITED).values()) == ["approved", "latest, delivered, current"]
    approved = _kept_frames(spec)
    code, output = _gc(spec, "--older-than", "0d")
    assert code == 0 and "nothing to remove" in output, output
    assert all(FrameStore(ProductionPaths.for_spec(spec).frames).has(d) for d in approved)


def test_a_delivered_file_is_kept_after_the_production_moves(tmp_path):
    """A delivery is known by its bytes, not by the path the catalog recorded: a production moved to a bigger
    disk keeps the version its episode file holds, even when the shot was re-rendered alone since."""
    spec = write_spec(tmp_path / "old-disk" / "show", small_spec(frames=2))
    _render(spec)
    _edit_camera(spec)
    code, output = cli("render", str(spec), "--shot", EDITED)  # the episode file still holds the first version
    assert code == 0, output
    before = _versions(_du(spec), EDITED)
    assert sorted(before.values()) == ["delivered", "latest, delivered, current"]  # the shot file too
    moved = tmp_path / "new-disk" / "show"
    moved.parent.mkdir()
    spec.parent.rename(moved)
    assert _versions(_du(moved / "production.json"), EDITED) == before


def test_a_delivery_written_outside_the_production_keeps_its_version(tmp_path):
    spec = write_spec(tmp_path / "show", small_spec(frames=2))
    code, output = cli("render", str(spec), "--out", str(tmp_path / "to-the-client"))
    assert code == 0, output
    _edit_camera(spec)
    _render(spec)
    assert sorted(_versions(_du(spec), EDITED).values()) == ["delivered", "latest, delivered, current"]
    (tmp_path / "to-the-client" / "s01e01.mp4").write_bytes(b"replaced by something else")
    assert sorted(_versions(_du(spec), EDITED).values()) == ["latest, delivered, current", "superseded"]


def test_a_shot_cut_from_the_spec_is_superseded_once_no_delivery_holds_it(show):
    data = json.loads(show.read_text())
    cut = data["episodes"][0]["scenes"][0]["shots"].pop(1)
    show.write_text(json.dumps(data, indent=2))
    cut_path = f"s01e01/sc01/{cut['id']}"
    assert _versions(_du(show), cut_path) and set(_versions(_du(show), cut_path).values()) == {"delivered"}
    _render(show)  # the episode without it: no delivered file holds the cut shot any more
    assert set(_versions(_du(show), cut_path).values()) == {"superseded"}


def test_without_its_catalog_the_store_is_not_collected(show):
    paths = ProductionPaths.for_spec(show)
    before = sorted(f.path for f in files_under(paths.frames))
    paths.catalog.rename(paths.catalog.with_name("catalog.sqlite.moved-aside"))
    for command in ("gc", "du"):
        code, output = cli("store", command, str(show), *(["--older-than", "0d"] if command == "gc" else []))
        assert code == 2 and output.count("\n") == 1 and "catalog.sqlite is missing" in output, output
    assert sorted(f.path for f in files_under(paths.frames)) == before and not paths.catalog.exists()


def test_a_killed_gc_leaves_a_consistent_store_and_a_rerun_finishes(show, monkeypatch):
    paths = ProductionPaths.for_spec(show)
    frames = FrameStore(paths.frames)
    kept = _kept_frames(show)
    removed = []

    def killed_after_one(path: Path) -> None:
        if removed:
            raise KeyboardInterrupt  # as if killed mid-way
        removed.append(path)
        path.unlink()

    monkeypatch.setattr(store_gc, "remove_file", killed_after_one)
    with pytest.raises(KeyboardInterrupt):
        store_gc.collect_garbage(paths, load_production(show), 0, "--older-than 0d", "tester")
    monkeypatch.undo()
    assert len(removed) == 1 and len(_gc_entries(show)) == 1  # logged before anything was removed
    assert all(frames.has(d) for d in kept)
    for job in paths.jobs.glob("*/*"):  # no manifest left naming a removed frame
        assert all(frames.has(d) for d in JobFiles(paths.jobs, job.name).read_manifest() or [])

    code, output = _gc(show, "--older-than", "0d")  # the lock was released; the rerun finishes the job
    assert code == 0 and "removed 1 superseded version(s): 1 frame(s)" in output, output
    assert _du(show)["superseded_bytes"] == 0 and all(frames.has(d) for d in kept)
    assert len(_gc_entries(show)) == 2  # the run that finished the job has an entry of its own


def test_gc_is_refused_while_a_render_holds_the_lock(show):
    paths = ProductionPaths.for_spec(show)
    with paths.lock("a render"):
        code, output = _gc(show, "--older-than", "0d")
    assert code == 1 and "production busy: a render" in output, output
    assert _du(show)["superseded_bytes"] > 0


@pytest.mark.parametrize("age", ["3w", "-1d", "30", "d"])
def test_a_bad_age_is_one_line_and_exit_2(show, age):
    code, output = _gc(show, "--older-than", age)
    assert code == 2 and output.count("\n") == 1 and "--older-than" in output and "30d" in output, output
