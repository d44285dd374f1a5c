"""The store's size budget ($.store.budget): `render` warns before a render would pass it (and never blocks),
says so after one did, and `status` shows the store's size against it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli, small_spec, write_spec
from typer.testing import CliRunner

from reelforge.app.render_request import RenderRequest, render_production
from reelforge.app.store_budget import RAW_SHARE, budget_warning, estimated_growth, frames_to_store
from reelforge.cli import app
from reelforge.spec.store import StoreSettings, format_size
from reelforge.store.paths import ProductionPaths
from reelforge.store.shots import ShotStore
from reelforge.store.usage import StoreSize, files_under, store_size
from reelforge.studio.queue import outcome_message

SHOT = "s01e01/sc01/sh01"


def budgeted(folder: Path, budget: str | None, frames: int = 2) -> Path:
    spec = small_spec(frames)
    if budget is not None:
        spec["store"] = {"budget": budget}
    return write_spec(folder, spec)


def set_budget(spec: Path, budget: str | None) -> None:
    write_spec(spec.parent, small_spec(2) | ({"store": {"budget": budget}} if budget is not None else {}))


def render(spec: Path, **request):
    said: list[str] = []
    outcome = render_production(RenderRequest(spec, actor="ana", **request), announce=said.append)
    return outcome, [line for line in said if line.startswith("store budget:")]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """The small production (three 2-frame shots) rendered once, without a budget."""
    spec = budgeted(tmp_path_factory.mktemp("budget") / "show", None)
    outcome, warnings = render(spec)
    assert warnings == [] and outcome.budget_warning is None and outcome.budget_note is None  # no budget: no word
    return spec


def test_a_render_past_the_budget_is_warned_before_it_starts_and_still_renders(tmp_path):
    spec = budgeted(tmp_path / "show", "1 KB")
    result = run_cli("render", str(spec))  # exit 0: a budget never blocks
    out = result.stdout
    assert (tmp_path / "show" / "renders" / "s01e01.mp4").is_file()
    before = out.index("store budget: this render would bring .reelforge to about")
    assert before < out.index("render summary")
    warning = out[before:].splitlines()[0]
    assert "past the budget of 1 KB ($.store.budget in production.json)" in warning
    assert "`reelforge store du`" in warning and "`reelforge store gc`" in warning
    after = out.index("store budget: .reelforge now holds")  # and after it, where the store ended up
    assert after > out.index("render summary")
    assert "Traceback" not in out + result.stderr


def test_a_dry_run_says_what_the_render_would_of_the_budget_and_stores_nothing(tmp_path):
    spec = budgeted(tmp_path / "show", "1 KB")
    result = run_cli("render", str(spec), "--dry-run")
    assert "store budget: this render would bring .reelforge to about" in result.stdout
    assert not (tmp_path / "show" / ".reelforge" / "frames").exists()


def test_a_generous_budget_says_nothing(tmp_path):
    spec = budgeted(tmp_path / "show", "1 TB")
    outcome, warnings = render(spec)
    assert warnings == [] and outcome.budget_warning is None and outcome.budget_note is None


def test_a_fully_reused_render_adds_nothing_to_the_estimate(rendered):
    now = store_size(ProductionPaths.for_spec(rendered)).total
    set_budget(rendered, f"{now + 1000} B")  # just above the store as it is
    try:
        jobs = [j for e in _planned(rendered) for j in e.jobs]
        assert set(frames_to_store(jobs, ShotStore.of(ProductionPaths.for_spec(rendered))).values()) == {0}
        outcome, warnings = render(rendered)
        assert warnings == [] and outcome.budget_warning is None
        assert all(r.shots_reused == len(r.shots) for r in outcome.results)
        # a frame range of a shot already stored adds nothing either
        outcome, warnings = render(rendered, shot=SHOT, frames=(0, 1))
        assert warnings == [] and outcome.budget_warning is None
        # while the same budget is passed by a shot whose frames are new (the spec moved on)
        spec = small_spec(2)
        spec["episodes"][0]["scenes"][0]["shots"][0]["prompt"] = "The harbor at night, in rain"
        moved = [j for e in _planned(write_spec(rendered.parent.parent / "moved", spec)) for j in e.jobs]
        store = ShotStore.of(ProductionPaths.for_spec(rendered))
        assert [n for n in frames_to_store(moved, store).values()] == [2, 0, 0]
        warning = budget_warning(rendered, StoreSettings(budget=f"{now + 1000} B"), moved)
        assert warning is not None and warning.startswith("store budget: this render would bring .reelforge")
    finally:
        set_budget(rendered, None)


def test_new_frames_are_estimated_at_the_stored_frames_mean_size_or_half_their_raw_size(rendered):
    paths = ProductionPaths.for_spec(rendered)
    size = store_size(paths)
    job = _planned(rendered)[0].jobs[0]
    assert size.frames > 0 and estimated_growth([job], {job.key: 3}, size) == round(3 * size.mean_frame_bytes)
    empty = StoreSize(total=0, frames=0, frame_bytes=0)
    raw = job.canvas_width * job.canvas_height * 3
    assert estimated_growth([job], {job.key: 3}, empty) == round(3 * raw * RAW_SHARE)


def test_status_shows_the_store_size_and_how_much_of_the_budget_it_uses(rendered):
    runner = CliRunner()
    size = store_size(ProductionPaths.for_spec(rendered))
    assert size.total == sum(f.size for f in files_under(ProductionPaths.for_spec(rendered).state)) and not size.sampled  # exact when small
    result = runner.invoke(app, ["status", str(rendered)], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0
    assert f"store: .reelforge holds {format_size(size.total)} (no budget set: $.store.budget)" in result.stdout
    set_budget(rendered, "10 GB")
    try:
        result = runner.invoke(app, ["status", str(rendered)], env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert result.exit_code == 0
        assert f"store: .reelforge holds {format_size(size.total)}, 0% of the 10 GB budget" in result.stdout
        set_budget(rendered, "1 KB")
        result = runner.invoke(app, ["status", str(rendered)], env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert "of the 1 KB budget (over it)" in result.stdout
    finally:
        set_budget(rendered, None)


@pytest.mark.parametrize(("budget", "said"), [("lots", "'lots' is not a size"), ("0 GB", "leaves no room")])
def test_a_budget_that_is_no_size_is_refused_at_its_json_path(tmp_path, budget, said):
    spec = budgeted(tmp_path / "bad", budget)
    result = run_cli("validate", str(spec), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr + result.stdout
    problem = next(line for line in result.stderr.splitlines() if "$.store.budget" in line)
    assert said in problem and "200 GB" in problem


def test_a_large_frame_store_is_measured_from_a_sample_of_its_shards(tmp_path):
    paths = ProductionPaths.for_root(tmp_path)
    for shard in ("0a", "4f", "a0", "ff"):  # frames are spread evenly over the shards by their hash
        for n in range(3):
            (paths.frames / shard).mkdir(parents=True, exist_ok=True)
            (paths.frames / shard / f"{shard}{n}.rff").write_bytes(b"x" * 100)
    (paths.state / "catalog.sqlite").write_bytes(b"c" * 50)
    exact = store_size(paths)
    assert (exact.total, exact.frames, exact.frame_bytes, exact.sampled) == (1250, 12, 1200, False)
    sampled = store_size(paths, sample_frames=3)  # one shard of four listed, the rest taken to hold as many
    assert (sampled.total, sampled.frames, sampled.frame_bytes, sampled.sampled) == (1250, 12, 1200, True)
    assert store_size(ProductionPaths.for_root(tmp_path / "nothing")) == StoreSize(0, 0, 0)


def test_sizes_are_shown_in_the_units_budgets_are_written_in():
    assert [format_size(n) for n in (0, 999, 1000, 870_006, 14_200_000_000, 999_600_000_000)] == \
        ["0 B", "999 B", "1 KB", "870 KB", "14.2 GB", "1000 GB"]


def _planned(spec: Path):
    from reelforge.app.render_request import load_spec, plan_episodes

    return plan_episodes(load_spec(spec), spec)


def test_the_studio_queue_item_says_when_the_store_ended_up_past_its_budget(tmp_path):
    spec = budgeted(tmp_path / "show", "1 KB")
    outcome, _ = render(spec)  # the render the studio's queue runs, through the same app function
    assert outcome.budget_warning is not None and outcome.budget_note is not None
    message = outcome_message(outcome)
    assert message.startswith("s01e01: 6 frames") and message.endswith(outcome.budget_note)
