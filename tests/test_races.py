"""Races and kills: commands started at once on a new production, and renders killed at random moments.

Two renders or two commits of a production nothing has touched yet both create its signing identity
and catalog; a killed render must resume to exactly the bytes of one that was never interrupted.
bench/soak.py runs the same checks with a larger N.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from pathlib import Path

import pytest
from conftest import run_cli
from race_support import (
    kill_and_resume,
    kill_span,
    new_production,
    production_problems,
    rendered_output,
    run_together,
    timed_render,
)

from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionBusy, ProductionPaths
from reelforge.trust.identity import CHAIN, ROOT_KEY, create_identity, load_identity

SOAK_SEED = 16


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[dict, tuple[float, float]]:
    """The tiny production rendered once, start to end: its output, and the seconds until it first wrote into
    the production and until it ended."""
    spec = new_production(tmp_path_factory.mktemp("uninterrupted"))
    timing = timed_render(spec)
    return rendered_output(spec), timing


def test_two_renders_of_a_new_production_at_once(tmp_path: Path, uninterrupted):
    for attempt in range(2):
        spec = new_production(tmp_path / f"try{attempt}")
        finished = run_together([["render", str(spec)]] * 2, tmp_path / f"barrier{attempt}")
        assert [f.problem() for f in finished] == [None, None]
        assert 0 in [f.code for f in finished]  # at most one is turned away
        assert production_problems(spec) == []
        assert rendered_output(spec) == uninterrupted[0]
    run_cli("render", str(spec))  # and the production renders on afterwards
    assert rendered_output(spec) == uninterrupted[0]


def test_two_commits_of_a_new_production_at_once(tmp_path: Path, uninterrupted):
    for attempt in range(2):
        spec = new_production(tmp_path / f"try{attempt}")
        finished = run_together([["commit", str(spec), "-m", "first"]] * 2, tmp_path / f"barrier{attempt}")
        assert [f.problem() for f in finished] == [None, None]
        assert [f.code for f in finished] == [0, 0]  # a commit waits for one that is creating the records
        # Both recorded the same state: one as commit #1, the other found nothing new to record (either may
        # be the one that created the identity, and say so first).
        said = sorted("commit #1" if "\ncommit #1: " in f"\n{f.stdout}" else f.stdout.strip().splitlines()[-1]
                      for f in finished)
        assert said == ["commit #1", "nothing changed since commit #1: no new versions"]
        assert production_problems(spec) == []
    run_cli("render", str(spec))
    assert rendered_output(spec) == uninterrupted[0]


def test_killed_renders_resume_to_the_uninterrupted_output(tmp_path: Path, uninterrupted):
    """A small soak (bench/soak.py runs more): SIGKILL at seeded random moments, then render to completion."""
    output, timing = uninterrupted
    rng = random.Random(SOAK_SEED)
    for attempt in range(3):
        delay = rng.uniform(*kill_span(timing))
        _, problems = kill_and_resume(new_production(tmp_path / f"kill{attempt}"), delay, output)
        assert problems == []


def test_identity_created_at_once_by_two_threads_is_one_identity(tmp_path: Path):
    folder = tmp_path / ".reelforge" / "identity"
    barrier = threading.Barrier(2)
    made: list = []

    def create() -> None:
        barrier.wait()
        made.append(create_identity(folder, "Race"))

    threads = [threading.Thread(target=create) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(made) == 2 and made[0].chain_pem == made[1].chain_pem == load_identity(folder).chain_pem
    assert sorted(p.name for p in tmp_path.joinpath(".reelforge").iterdir()) == ["identity"]  # no temp folder left


def test_identity_goes_into_a_folder_that_already_holds_other_files(tmp_path: Path):
    """A key file made first (the mark key lives with the identity) stays; the identity joins it."""
    folder = tmp_path / "identity"
    folder.mkdir()
    (folder / "mark.key").write_bytes(b"secret")
    identity = create_identity(folder, "Beside")
    assert load_identity(folder).chain_pem == identity.chain_pem
    assert (folder / "mark.key").read_bytes() == b"secret"
    assert (folder / ROOT_KEY).stat().st_mode & 0o777 == 0o600 and folder.stat().st_mode & 0o777 == 0o700


def test_catalog_created_at_once_by_two_threads(tmp_path: Path):
    path = tmp_path / "catalog.sqlite"
    barrier = threading.Barrier(2)
    failures: list = []

    def open_catalog() -> None:
        barrier.wait()
        try:
            with Catalog(path) as catalog:
                catalog.render_for_file("0" * 64)
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            failures.append(exc)

    threads = [threading.Thread(target=open_catalog) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert failures == []


def test_opening_a_complete_catalog_takes_no_write_lock(tmp_path: Path):
    """Status, show and verify read while a render writes: opening the catalog must not wait for the writer."""
    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # what a render holds while it records
    try:
        with Catalog(path) as catalog:
            assert catalog.render_for_file("0" * 64) is None
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_status_of_a_new_production_while_a_render_holds_it_creates_nothing(tmp_path: Path):
    spec = new_production(tmp_path / "new")
    paths = ProductionPaths.for_spec(spec)
    with paths.lock("a render"):
        before = sorted(p.name for p in paths.state.iterdir())
        assert run_cli("status", str(spec)).returncode == 0
        assert sorted(p.name for p in paths.state.iterdir()) == before == ["render.lock"]
        with pytest.raises(ProductionBusy, match=r"^production busy: a render \(pid \d+\) holds .*render\.lock, "
                                                 r"try again$"):
            with paths.lock("a render", wait=0.1):
                pass
    assert not (paths.identity / CHAIN).exists()
