"""When the machine or a file is in the way: one error line naming the file, exit 3, and nothing lost.

A full disk, a read-only production and a damaged catalog are injected in-process (the CLI's
`main`, as the `reelforge` command runs it); a bug is one line with exit 70.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest
from conftest import copy_production, run_cli, small_spec, stream_sha, write_spec
from fastapi.testclient import TestClient

from reelforge.app.faults import fault_message
from reelforge.cli import main
from reelforge.store.catalog import Catalog

EPISODE = Path("renders") / "s01e01.mp4"
CATALOG = Path(".reelforge") / "catalog.sqlite"


def reelforge(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run `reelforge ARGS` in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["reelforge", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    out = capsys.readouterr()
    return exited.value.code, out.out, out.err


def one_error_line(out: str, err: str) -> str:
    """The single line a fault prints, after checking it is the only thing on stderr and no traceback anywhere."""
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """A small production rendered once (3 shots, 24 frames); tests work on copies of it."""
    spec = write_spec(tmp_path_factory.mktemp("faults") / "show", small_spec())
    run_cli("render", str(spec))
    return spec.parent


@pytest.fixture
def show(rendered: Path, tmp_path: Path) -> Path:
    return copy_production(rendered, tmp_path / "show")


def catalog_rows(folder: Path) -> dict[str, int]:
    with sqlite3.connect(folder / CATALOG) as db:
        return {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("renders", "render_shots", "log_entries", "commits")}


def stored_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in (folder / ".reelforge" / "frames").rglob("*.rff")}


def leftovers(folder: Path) -> list[Path]:
    return [p for pattern in ("**/.*.tmp-*", "**/incoming-*") for p in folder.glob(pattern)]


def test_disk_full_mid_render_keeps_what_was_there_and_the_next_render_resumes(show, tmp_path, monkeypatch, capsys):
    delivered, rows, frames = (show / EPISODE).read_bytes(), catalog_rows(show), stored_files(show)
    spec = json.loads((show / "production.json").read_text())
    spec["episodes"][0]["scenes"][0]["shots"][0]["camera"]["move"] = "pull-back"  # new pixels for sh01
    (show / "production.json").write_text(json.dumps(spec))
    real_replace, written = os.replace, []

    def disk_fills_up(source, target, *args, **kwargs):  # the fourth new frame does not fit
        if str(target).endswith(".rff"):
            if len(written) == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written.append(target)
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", disk_fills_up)
    code, out, err = reelforge(monkeypatch, capsys, "render", str(show / "production.json"))
    line = one_error_line(out, err)
    assert code == 3 and line.startswith("error: no space left on the disk writing ") and ".rff: free some" in line
    assert (show / EPISODE).read_bytes() == delivered  # the previous delivery, as it was
    after = catalog_rows(show)
    assert (after["renders"], after["render_shots"]) == (rows["renders"], rows["render_shots"])  # nothing recorded
    now = stored_files(show)
    assert {name: now[name] for name in frames} == frames and len(now) == len(frames) + 3  # kept, and 3 new
    assert leftovers(show) == []  # no temporary file left behind

    monkeypatch.setattr(os, "replace", real_replace)
    code, out, err = reelforge(monkeypatch, capsys, "render", str(show / "production.json"))
    assert code == 0, err
    fresh = write_spec(tmp_path / "fresh", spec)  # the same spec rendered in one go
    run_cli("render", str(fresh))
    assert stream_sha(show / EPISODE) == stream_sha(fresh.parent / EPISODE)


def test_read_only_production_is_one_line(tmp_path, monkeypatch, capsys):
    spec = write_spec(tmp_path / "show", small_spec())
    if os.geteuid() != 0:
        spec.parent.chmod(0o555)  # a read-only folder: `.reelforge/` cannot be made
        expected = str(spec.parent)
    else:  # root writes through any mode bits: the lock file's creation fails as on a read-only mount
        real_open = os.open

        def read_only(path, flags, *args, **kwargs):
            if str(path).endswith("render.lock"):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", read_only)
        expected = "render.lock (Read-only file system)"
    try:
        code, out, err = reelforge(monkeypatch, capsys, "render", str(spec))
    finally:
        spec.parent.chmod(0o755)
    line = one_error_line(out, err)
    assert code == 3 and line.startswith("error: cannot write ") and expected in line
    assert "make its folder writable" in line


@pytest.mark.parametrize("damage", ["junk", "truncated", "flipped"])
def test_damaged_catalog_is_one_line_for_every_command(show, damage, monkeypatch, capsys):
    catalog = show / CATALOG
    data = bytearray(catalog.read_bytes())
    if damage == "junk":
        data = bytearray(b"not a database " * 300)
    elif damage == "truncated":
        data = data[:len(data) // 2]
    else:  # bytes flipped in the cell pointers of the `renders` table's page: SQLite keeps no checksums
        with sqlite3.connect(catalog) as db:
            page = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'renders'").fetchone()[0]
            size = db.execute("PRAGMA page_size").fetchone()[0]
        start = (page - 1) * size + 8
        data[start:start + 8] = bytes(b ^ 0xFF for b in data[start:start + 8])
    catalog.write_bytes(bytes(data))
    commands = [("render", str(show / "production.json")), ("verify", str(show / EPISODE)),
                ("log", "verify", str(show / "production.json"))]
    if damage != "flipped":  # status reads only the rows it needs: a damaged page elsewhere goes unseen
        commands.append(("status", str(show / "production.json")))
    problem = {"junk": "file is not a database", "truncated": "database disk image is malformed",
               "flipped": "quick_check: On tree page"}[damage]
    for command in commands:
        code, out, err = reelforge(monkeypatch, capsys, *command)
        line = one_error_line(out, err)
        assert code == 3, (command, err)
        assert line.startswith(f"error: catalog {catalog} is damaged ({problem}") and "restore it from a backup" in line


def test_damaged_stored_frames_are_said_and_rendered_again(show, monkeypatch, capsys):
    before = stream_sha(show / EPISODE)
    manifests = [json.loads(p.read_text()) for p in (show / ".reelforge" / "jobs").glob("*/*/manifest.json")]
    frames = next(m["frames"] for m in manifests if m["job"]["shot_path"] == "s01e01/sc01/sh01")
    store = show / ".reelforge" / "frames"
    for digest in frames[2:5]:  # three frames with a flipped bit, one gone
        stored = store / digest[:2] / f"{digest}.rff"
        stored.write_bytes(stored.read_bytes()[:-1] + bytes([stored.read_bytes()[-1] ^ 1]))
    (store / frames[6][:2] / f"{frames[6]}.rff").unlink()
    code, out, err = reelforge(monkeypatch, capsys, "render", str(show / "production.json"))
    assert code == 0, err
    assert ("4 stored frames of s01e01/sc01/sh01 were damaged (3 hash mismatch, 1 missing): re-rendered"
            in out.splitlines())
    assert stream_sha(show / EPISODE) == before
    code, out, err = reelforge(monkeypatch, capsys, "render", str(show / "production.json"))
    assert code == 0 and "were damaged" not in out  # repaired once, then reused as it is


@pytest.mark.parametrize("damage", ['{"frames": 5}', "[1]", '"x"', "[" * 5000 + "]" * 5000])
def test_damaged_store_records_are_rendered_again_not_a_crash(show, monkeypatch, capsys, damage):
    """A shot manifest or segment record overwritten (a hand edit, a disk fault) is not trusted: the shot or
    segment is made again and the delivery is the same; never an internal error."""
    before = stream_sha(show / EPISODE)
    for record in [*(show / ".reelforge" / "jobs").glob("*/*/manifest.json"),
                   *(show / ".reelforge" / "segments").glob("*.json")]:
        record.write_text(damage)
    code, out, err = reelforge(monkeypatch, capsys, "render", str(show / "production.json"))
    assert code == 0 and "Traceback" not in out + err, err
    assert stream_sha(show / EPISODE) == before


def test_a_bug_is_one_line_with_exit_70_and_the_traceback_on_request(show, monkeypatch, capsys):
    def broken(spec):
        raise KeyError("shots")

    monkeypatch.setattr("reelforge.cli.render.production_status", broken)
    code, out, err = reelforge(monkeypatch, capsys, "status", str(show / "production.json"))
    assert code == 70 and one_error_line(out, err) == (
        "error: internal error: KeyError: 'shots' — this is a bug; run again with REELFORGE_DEBUG=1 for the "
        "traceback and report it")
    monkeypatch.setenv("REELFORGE_DEBUG", "1")
    code, out, err = reelforge(monkeypatch, capsys, "status", str(show / "production.json"))
    assert code == 70 and "Traceback" in err and "in broken" in err


def test_sqlite_full_and_read_only_name_the_catalog(show):
    """SQLite's own "database or disk is full" and "readonly database" are said of the catalog file."""
    path = show / CATALOG
    with Catalog(path) as catalog, catalog.engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
        connection.exec_driver_sql(f"PRAGMA max_page_count = {pages}")  # the disk holds not one more page
        with pytest.raises(OSError) as full:
            connection.exec_driver_sql("CREATE TABLE filler (data BLOB)")
            connection.exec_driver_sql("INSERT INTO filler VALUES (zeroblob(1000000))")
        connection.rollback()
        connection.exec_driver_sql("PRAGMA query_only = ON")
        with pytest.raises(OSError) as read_only:
            connection.exec_driver_sql("CREATE TABLE later (id INTEGER)")
    assert full.value.errno == errno.ENOSPC and full.value.filename == str(path)
    assert fault_message(full.value).startswith(f"no space left on the disk writing {path}: ")
    assert read_only.value.errno == errno.EACCES and read_only.value.filename == str(path)


def test_studio_answers_a_damaged_catalog_with_one_line(show):
    from studio_support import login, studio_app

    (show / CATALOG).write_bytes(b"not a database " * 300)
    app, state = studio_app(show / "production.json")
    with TestClient(app, raise_server_exceptions=False) as client:
        browser = login(client, state, "ana")
        page = browser.get("/", headers={"accept": "text/html"})
        api = browser.get("/", headers={"accept": "application/json"})
    assert page.status_code == 500 and "Traceback" not in page.text
    said = "catalog .reelforge/catalog.sqlite is damaged (file is not a database): restore it from a backup"
    assert said in page.text and api.json() == {"detail": said}


def test_studio_queue_says_a_full_disk_as_the_cli_does(tmp_path):
    from studio_support import WAIT, running

    from reelforge.studio.queue import RenderQueue

    spec = write_spec(tmp_path / "show", small_spec())

    def render(request, *, start, progress):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(spec.parent / EPISODE))

    queue = RenderQueue(spec, render=render)
    item, _ = queue.submit("episode:s01e01", "ana")
    with running(queue):
        finished = queue.wait(item["id"], WAIT)
    assert finished["state"] == "failed"
    assert finished["message"].startswith("no space left on the disk writing renders/s01e01.mp4: free some space")


def test_a_farm_plan_reports_the_damaged_frames_it_sends_out_again(show):
    """A farm plans from the same store check as a local render, so its render reports the same repair."""
    from reelforge.engine.shot import FrameRepair
    from reelforge.farm.units import plan_units
    from reelforge.plan.jobs import plan
    from reelforge.spec.load import load_production
    from reelforge.store.paths import ProductionPaths
    from reelforge.store.shots import ShotStore

    spec = show / "production.json"
    jobs = [job for episode in plan(load_production(spec), show) for job in episode.jobs]
    store = ShotStore.of(ProductionPaths.for_spec(spec))
    job = next(job for job in jobs if job.shot_path == "s01e01/sc01/sh01")
    frames = store.job(job.key).read_manifest()
    store.frames.path(frames[3]).unlink()
    assert plan_units(jobs, store, slots=1, frame_independent=lambda backend: True, repair=False).repairs == []
    work = plan_units(jobs, store, slots=1, frame_independent=lambda backend: True)
    assert work.repairs == [FrameRepair("s01e01/sc01/sh01", mismatched=0, missing=1)]
    assert [(unit.job.shot_path, unit.span) for unit in work.units] == [("s01e01/sc01/sh01", (3, 4))]
