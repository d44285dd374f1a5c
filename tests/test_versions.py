"""Versions: commits version exactly the entities that changed; history, show, diff; renders point at commits."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from conftest import run_cli, small_spec, unblocked, write_spec
from PIL import Image

from reelforge.records import changelog
from reelforge.records.entities import UnknownEntity, UnknownVersion
from reelforge.records.versions import (
    AUTO_REASON,
    RemovalRefused,
    casting,
    check_removals,
    commit_spec,
    diff_versions,
    get_version,
    history,
    referrers,
    render_versions,
    state_at,
)
from reelforge.spec.load import load_production, validate_file
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import CommitRecord, EntityVersion, RenderShot, ShotState

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "lantern-street"
SH01, SH02, SC02_SH01 = "shot:s01e01/sc01/sh01", "shot:s01e01/sc01/sh02", "shot:s01e01/sc02/sh01"


def production_with_files(folder: Path) -> Path:
    """The small spec plus files to version: a reference image, a LUT and a production style family."""
    spec = small_spec()
    (folder / "refs").mkdir(parents=True)
    Image.new("RGB", (4, 4), (200, 40, 30)).save(folder / "refs" / "mara.png")
    spec["characters"][0]["references"] = ["refs/mara.png"]
    (folder / "luts").mkdir()
    shutil.copy(EXAMPLES / "luts" / "warm-fade.cube", folder / "luts" / "warm-fade.cube")
    spec["look"] = {"lut": "luts/warm-fade.cube", "lut_strength": 0.5}
    (folder / "styles").mkdir()
    shutil.copy(EXAMPLES / "styles" / "noir-ink.json", folder / "styles" / "noir-ink.json")
    spec["episodes"][0]["scenes"][1]["style"] = {"preset": "noir-ink"}
    return write_spec(folder, spec)


def edit(spec_path: Path, change) -> None:
    data = json.loads(spec_path.read_text())
    change(data)
    spec_path.write_text(json.dumps(data, indent=2))


def commit(spec_path: Path, reason: str = "a change", actor: str = "ana"):
    catalog = Catalog(ProductionPaths.for_spec(spec_path).catalog)
    return commit_spec(catalog, load_production(spec_path), spec_path, actor=actor, reason=reason)


def catalog_of(spec_path: Path) -> Catalog:
    return Catalog(ProductionPaths.for_spec(spec_path).catalog)


def versions(spec_path: Path) -> dict[str, int]:
    with catalog_of(spec_path).session() as session:
        return {name: row.version for name, row in state_at(session).items()}


def test_first_commit_versions_every_entity_and_keeps_files_by_content(tmp_path: Path):
    spec = production_with_files(tmp_path / "show")
    result = commit(spec, "first cut", "ana")
    assert result.created and result.commit_id == 1
    image_sha = hashlib.sha256((spec.parent / "refs" / "mara.png").read_bytes()).hexdigest()
    style_sha = hashlib.sha256((spec.parent / "styles" / "noir-ink.json").read_bytes()).hexdigest()
    lut_sha = hashlib.sha256((spec.parent / "luts" / "warm-fade.cube").read_bytes()).hexdigest()
    now = versions(spec)
    assert {name for name in now if not name.startswith(("style:", "asset:"))} == {
        "series:harbor-lights", "episode:s01e01", "scene:s01e01/sc01", "scene:s01e01/sc02", SH01, SH02, SC02_SH01,
        "character:mara", "character:theo", "location:harbor", "location:alley"}
    assert {"style:gray-box", "style:noir-ink"} <= set(now)  # built-in families and the production's own
    assert {f"asset:{image_sha}", f"asset:{style_sha}", f"asset:{lut_sha}"} == {n for n in now if n.startswith("asset:")}
    assert set(now.values()) == {1}
    assert set(result.new_assets) == {f"asset:{image_sha}", f"asset:{style_sha}", f"asset:{lut_sha}"}
    # each file is kept under its content hash, and the content of its owner names that hash
    kept = spec.parent / ".reelforge" / "assets" / f"{image_sha}.png"
    assert kept.read_bytes() == (spec.parent / "refs" / "mara.png").read_bytes()
    catalog = catalog_of(spec)
    _, mara, commit_row = get_version(catalog, "character:mara", 1)
    assert mara.content["file_sha256"] == {"references[0]": image_sha}
    assert mara.content["references"] == ["refs/mara.png"]
    assert get_version(catalog, "style:noir-ink")[1].content["source"] == "styles/noir-ink.json"
    assert get_version(catalog, f"asset:{image_sha}")[1].content == {
        "sha256": image_sha, "kind": "image", "size": kept.stat().st_size, "name": "refs/mara.png",
        "stored": f".reelforge/assets/{image_sha}.png"}
    assert (commit_row.actor, commit_row.reason, commit_row.auto) == ("ana", "first cut", False)
    assert commit_row.at.endswith("+00:00")  # UTC
    assert commit_row.spec_sha256 == hashlib.sha256(spec.read_bytes()).hexdigest()
    # an asset may be named by a unique prefix of its hash
    assert get_version(catalog, f"asset:{image_sha[:10]}")[0] == f"asset:{image_sha}"


def test_only_entities_whose_content_changed_get_a_new_version(tmp_path: Path):
    spec = production_with_files(tmp_path / "show")
    commit(spec)
    before = versions(spec)

    def retime(data):
        data["episodes"][0]["scenes"][0]["shots"][1]["frames"] = 12
        data["characters"][1]["wardrobe"]["top"] = "#2f7a3a"

    edit(spec, retime)
    result = commit(spec, "longer sh02, green coat for theo", "bo")
    assert result.created and result.commit_id == 2
    assert result.versions == {SH02: 2, "character:theo": 2}
    after = versions(spec)
    assert {name for name in after if after[name] != before[name]} == {SH02, "character:theo"}
    # a file edited in place is a new version of the entity that names it, and a new asset
    Image.new("RGB", (4, 4), (10, 40, 200)).save(spec.parent / "refs" / "mara.png")
    result = commit(spec, "new reference photo of mara")
    new_sha = hashlib.sha256((spec.parent / "refs" / "mara.png").read_bytes()).hexdigest()
    assert result.versions == {f"asset:{new_sha}": 1, "character:mara": 2}
    assert result.new_assets == (f"asset:{new_sha}",)


def test_a_commit_with_no_change_creates_no_versions_and_says_so(tmp_path: Path):
    spec = write_spec(tmp_path / "show", small_spec())
    run_cli("commit", str(spec), "-m", "first cut", "--actor", "ana")
    spec.write_text(json.dumps(json.loads(spec.read_text()), indent=4))  # other bytes, same content
    result = run_cli("commit", str(spec), "-m", "reformatted", "--actor", "ana")
    assert "nothing changed since commit #1: no new versions" in result.stdout
    with catalog_of(spec).session() as session:
        assert session.query(CommitRecord).count() == 1
        assert {row.version for row in session.query(EntityVersion)} == {1}
        assert len(changelog.entries(session)) == len(versions(spec)) + 1  # nothing appended either


def test_removed_entity_gets_a_tombstone_and_comes_back_as_a_new_version(tmp_path: Path):
    spec = write_spec(tmp_path / "show", small_spec())
    commit(spec)
    original = json.loads(spec.read_text())
    edit(spec, lambda data: data["episodes"][0]["scenes"][0]["shots"].pop(1))
    result = commit(spec, "cut sh02")
    assert result.removed == (SH02,)
    assert result.versions == {"scene:s01e01/sc01": 2, SH02: 2}  # the scene's shot list changed too
    assert SH02 not in versions(spec)
    spec.write_text(json.dumps(original))
    assert commit(spec, "sh02 is back").versions == {"scene:s01e01/sc01": 3, SH02: 3}
    _, rows = history(catalog_of(spec), SH02)
    assert [(r.version, r.change, r.reason) for r in rows] == [
        (1, "created", "a change"), (2, "removed", "cut sh02"), (3, "restored", "sh02 is back")]
    assert get_version(catalog_of(spec), SH02, 2)[1].content is None
    assert get_version(catalog_of(spec), SH02, 3)[1].content == get_version(catalog_of(spec), SH02, 1)[1].content


def test_history_show_and_diff_on_the_command_line(tmp_path: Path):
    spec = write_spec(tmp_path / "show", small_spec())
    run_cli("commit", str(spec), "-m", "first cut", "--actor", "ana")

    def rewrite(data):
        shot = data["episodes"][0]["scenes"][0]["shots"][0]
        shot["prompt"] = "Mara runs the quay"
        shot["cast"] = ["mara", "theo"]
        shot.pop("camera", None)

    edit(spec, rewrite)
    result = run_cli("commit", str(spec), "-m", "Mara runs; Theo joins", "--actor", "bo")
    assert "commit #2: 1 new version(s)" in result.stdout and f"{SH01}@2  changed" in result.stdout
    at = ["--production", str(spec)]

    listed = run_cli("history", SH01, *at).stdout
    lines = [line for line in listed.splitlines() if "│" in line]
    assert "ana" in lines[0] and "first cut" in lines[0] and "created" in lines[0] and "#1" in lines[0]
    assert "bo" in lines[1] and "Mara runs; Theo joins" in lines[1] and "changed" in lines[1]

    shown = run_cli("show", f"{SH01}@1", *at)
    assert json.loads(shown.stdout) == json.loads(json.dumps(small_spec()["episodes"][0]["scenes"][0]["shots"][0]))
    assert "commit #1 by ana" in shown.stderr
    assert json.loads(run_cli("show", SH01, *at).stdout)["prompt"] == "Mara runs the quay"  # latest

    diff = run_cli("diff", SH01, "1", "2", *at).stdout.splitlines()
    old_prompt = small_spec()["episodes"][0]["scenes"][0]["shots"][0]["prompt"]
    assert f'  $.prompt: "{old_prompt}" → "Mara runs the quay"' in diff
    assert '  $.cast[1]: (absent) → "theo"' in diff
    assert any(line.startswith("  $.camera: {") and line.endswith("→ (absent)") for line in diff)
    assert len([line for line in diff if line.startswith("  $.")]) == 3

    for args, message in [(("show", "shot:s01e01/sc01/sh09", *at), "no entity 'shot:s01e01/sc01/sh09'"),
                          (("diff", SH01, "1", "7", *at), "has versions 1–2; there is no version 7")]:
        failed = run_cli(*args, check=False)
        assert failed.returncode == 2, args
        assert message in failed.stderr and "Traceback" not in failed.stderr, (args, failed.stderr)


def test_every_new_version_appends_a_change_log_entry_with_before_and_after(tmp_path: Path):
    spec = production_with_files(tmp_path / "show")
    first = commit(spec, "first cut", "ana")
    edit(spec, lambda data: data["characters"][1].update(height_m=1.9))
    second = commit(spec, "taller theo", "bo")
    with catalog_of(spec).session() as session:
        entries = changelog.entries(session)
        assert len(entries) == len(first.versions) + 1 + len(second.versions) + 1
        assets = [e for e in entries if e.kind == "asset"]
        assert {e.entity for e in assets} == set(first.new_assets)
        last_two = entries[-2:]
        theo, summary = last_two
        assert (theo.kind, theo.entity, theo.version, theo.actor, theo.reason) == (
            "commit", "character:theo", 2, "bo", "taller theo")
        assert changelog.state(session, theo.before_sha256)["height_m"] == 1.82
        assert changelog.state(session, theo.after_sha256)["height_m"] == 1.9
        assert summary.entity == "commit:2" and changelog.state(session, summary.after_sha256)["versions"] == {
            "character:theo": 2}
        commit_at = session.get(CommitRecord, 2).at
        assert theo.at == summary.at == commit_at


def test_render_commits_an_uncommitted_spec_and_points_at_that_commit(tmp_path: Path):
    spec = write_spec(tmp_path / "show", small_spec(frames=2))
    out = run_cli("render", str(spec), "--actor", "cy").stdout
    assert f"recorded the spec as commit #1 ({AUTO_REASON}, by cy)" in out
    catalog = catalog_of(spec)
    with catalog.session() as session:
        record = session.get(CommitRecord, 1)
        assert (record.actor, record.reason, record.auto) == ("cy", AUTO_REASON, True)
    used = render_versions(catalog, 1, frames=True)
    assert used["commit"]["commit"] == 1
    first = used["shots"][0]
    assert first["shot"] == f"{SH01}@1" and first["frames"] == 2
    assert set(first["versions"]) == {f"{SH01}@1", "scene:s01e01/sc01@1", "episode:s01e01@1",
                                      "series:harbor-lights@1", "character:mara@1", "location:harbor@1",
                                      "style:gray-box@1"}
    with catalog.session() as session:
        stored = session.query(RenderShot).filter_by(render_id=1, position=0).one()
        assert first["frame_sha256"] == stored.frame_hashes and len(stored.frame_hashes) == 2

    edit(spec, lambda d: d["episodes"][0]["scenes"][1]["shots"][0].update(prompt="Theo and Mara argue"))
    run_cli("render", str(spec), "--actor", "dee")
    assert render_versions(catalog, 2)["commit"]["commit"] == 2
    assert render_versions(catalog, 2)["shots"][2]["shot"] == f"{SC02_SH01}@2"
    assert render_versions(catalog, 1)["shots"][2]["shot"] == f"{SC02_SH01}@1"  # the old render still says v1
    assert history(catalog, SC02_SH01)[1][1].actor == "dee"

    out = run_cli("render", str(spec), "--actor", "eve").stdout  # nothing changed: no new commit
    assert "recorded the spec" not in out
    assert render_versions(catalog, 3)["commit"]["commit"] == 2
    shown = json.loads(run_cli("show", "render:3", "--production", str(spec)).stdout)
    assert shown["commit"]["commit"] == 2 and "frame_sha256" not in shown["shots"][0]

    # The version tables are what `history`, `show` and `show render:N` print: `log verify` checks them
    # against the change log, so a record edited behind its back does not pass as verified.
    assert run_cli("log", "verify", str(spec)).returncode == 0
    for statement, named in (
            ((f"UPDATE entity_versions SET content_json = replace(content_json, 'argue', 'embrace') "
              f"WHERE entity = '{SC02_SH01}' AND version = 2"), f"{SC02_SH01}@2 was altered"),
            ("UPDATE commits SET actor = 'mallory' WHERE id = 2", "commit #2 was altered"),
            ("UPDATE render_commits SET commit_id = 1 WHERE render_id = 3", "render #3 was relinked"),
            ("DELETE FROM render_commits WHERE render_id = 3", "render #3's link to commit #2 was removed"),
            (("INSERT INTO commits (actor, at, reason, spec_sha256, auto) "
              "VALUES ('mallory', '2026-01-01', 'x', '0', 0)"), "commit #3 has no entry in the change log")):
        copy = tampered_records(spec, tmp_path / "tampered", statement)
        result = run_cli("log", "verify", str(copy), check=False)
        assert result.returncode == 1 and named in result.stdout.replace("\n", ""), (statement, result.stdout)


def tampered_records(spec: Path, folder: Path, statement: str) -> Path:
    """A copy of the production with one SQL statement run on its catalog directly."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(spec.parent / ".reelforge" / "identity", folder / ".reelforge" / "identity")  # the trust anchor
    shutil.copy(spec, folder / "production.json")
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as original, \
            sqlite3.connect(folder / ".reelforge" / "catalog.sqlite") as copy:
        original.backup(copy)
    with sqlite3.connect(folder / ".reelforge" / "catalog.sqlite") as db:
        db.execute(statement)
    return folder / "production.json"


def test_removing_a_referenced_style_file_asset_or_character_is_refused_with_its_referrers(tmp_path: Path):
    spec = production_with_files(tmp_path / "show")
    commit(spec)
    catalog = catalog_of(spec)

    style = spec.parent / "styles" / "noir-ink.json"
    saved = style.read_bytes()
    style.unlink()
    with pytest.raises(RemovalRefused) as refused:
        check_removals(catalog, spec)
    assert refused.value.removals == {"style:noir-ink": [
        "scene:s01e01/sc02 ($.episodes[0].scenes[1].style.preset)"]}
    failed = run_cli("commit", str(spec), "-m", "drop noir", check=False)
    assert failed.returncode == 2 and "style:noir-ink is still referenced by" in failed.stderr
    assert "scene:s01e01/sc02 ($.episodes[0].scenes[1].style.preset)" in failed.stderr
    style.write_bytes(saved)

    image = spec.parent / "refs" / "mara.png"
    image_sha = hashlib.sha256(image.read_bytes()).hexdigest()
    image.unlink()
    with pytest.raises(RemovalRefused) as refused:
        commit(spec)
    assert refused.value.removals == {"refs/mara.png": ["character:mara ($.characters[0].references[0])"]}
    assert f".reelforge/assets/{image_sha}.png" in str(refused.value)  # where the last committed copy is

    edit(spec, lambda data: data["characters"].pop(1))  # theo, still cast in two shots
    failed = run_cli("commit", str(spec), "-m", "drop theo", check=False)
    assert failed.returncode == 2 and "character:theo is still referenced by" in failed.stderr
    assert f"{SH02} ($.episodes[0].scenes[0].shots[1].cast[1])" in failed.stderr
    assert f"{SC02_SH01} ($.episodes[0].scenes[1].shots[0].cast[0])" in failed.stderr
    with catalog.session() as session:
        assert session.query(CommitRecord).count() == 1  # nothing was recorded by the refused commits


def test_a_shot_casting_a_missing_character_or_a_scene_at_a_missing_location_is_a_validation_error(tmp_path: Path):
    data = small_spec()
    data["episodes"][0]["scenes"][0]["shots"][1]["cast"] = ["mara", "theodore"]
    data["episodes"][0]["scenes"][1]["location"] = "quay"
    problems = {p.path: p.message for p in validate_file(write_spec(tmp_path / "bad", data))}
    assert "unknown character 'theodore'" in problems["$.episodes[0].scenes[0].shots[1].cast[1]"]
    assert "unknown location 'quay'" in problems["$.episodes[0].scenes[1].location"]


def test_casting_counts_shots_and_frames_at_any_commit(tmp_path: Path):
    spec = write_spec(tmp_path / "show", unblocked(small_spec()))  # Theo can leave a shot with no blocking of his
    commit(spec)
    catalog = catalog_of(spec)
    cast = casting(catalog)
    assert [s for s, _ in cast["character:mara"].shots] == [SH01, SH02, SC02_SH01]
    assert cast["character:mara"].frames == 24
    assert [s for s, _ in cast["character:theo"].shots] == [SH02, SC02_SH01]
    edit(spec, lambda data: data["episodes"][0]["scenes"][1]["shots"][0].update(cast=["mara"], frames=30))
    commit(spec, "theo leaves the alley")
    now = casting(catalog)
    assert now["character:theo"].shots == ((SH02, 8),)
    assert now["character:mara"].frames == 8 + 8 + 30
    assert casting(catalog, commit_id=1)["character:theo"].shots == ((SH02, 8), (SC02_SH01, 8))  # as it was
    assert [(r.entity, r.field) for r in referrers(catalog, "character:theo")[1]] == [(SH02, "cast[1]")]
    assert [(r.entity, r.field) for r in referrers(catalog, "location:alley")[1]] == [("scene:s01e01/sc02", "location")]


def test_each_shot_records_its_resolved_style_and_where_it_is_set(tmp_path: Path):
    spec = production_with_files(tmp_path / "show")
    commit(spec)
    with catalog_of(spec).session() as session:
        rows = {row.shot: (row.style, row.style_from, row.location) for row in session.query(ShotState)}
    assert rows == {SH01: ("style:gray-box", "series:harbor-lights", "location:harbor"),
                    SH02: ("style:gray-box", "series:harbor-lights", "location:harbor"),
                    SC02_SH01: ("style:noir-ink", "scene:s01e01/sc02", "location:alley")}
    edit(spec, lambda data: data["episodes"][0]["scenes"][0]["shots"][0].update(style={"preset": "watercolor"}))
    commit(spec, "sh01 in watercolour")
    with catalog_of(spec).session() as session:
        changed = session.query(ShotState).filter_by(commit_id=2).all()  # only the shot whose style moved
    assert [(r.shot, r.style, r.style_from) for r in changed] == [(SH01, "style:watercolor", SH01)]


def test_diff_and_errors_in_the_library(tmp_path: Path):
    spec = write_spec(tmp_path / "show", small_spec())
    commit(spec)
    edit(spec, lambda data: data["locations"][0]["props"].pop())
    commit(spec, "fewer props")
    _, _, _, changes = diff_versions(catalog_of(spec), "location:harbor", 1, 2)
    assert [c.path for c in changes] == ["$.props[3]"]
    with pytest.raises(UnknownVersion):
        get_version(catalog_of(spec), "location:harbor", 3)
    with pytest.raises(UnknownEntity, match="did you mean location:harbor"):
        history(catalog_of(spec), "location:harbour")
    with pytest.raises(UnknownEntity, match="'harbor' is not an entity name: use KIND:ID"):
        history(catalog_of(spec), "harbor")
    with pytest.raises(UnknownEntity, match="a shot is named like shot:s01e01/sc01/sh01"):
        history(catalog_of(spec), "shot:sh01")
    with pytest.raises(UnknownEntity, match="known character entities: character:mara, character:theo"):
        history(catalog_of(spec), "character:x")


def test_catalog_is_in_wal_mode(tmp_path: Path):
    spec = write_spec(tmp_path / "show", small_spec())
    commit(spec)
    with catalog_of(spec).engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    with sqlite3.connect(ProductionPaths.for_spec(spec).catalog) as db:  # persistent: any reader sees WAL
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_commits_never_pick_the_same_version(tmp_path: Path):
    spec = write_spec(tmp_path / "show", small_spec())
    commit(spec)
    other = write_spec(tmp_path / "other", small_spec())  # a second spec file committing into the same catalog
    edit(spec, lambda data: data["characters"][0].update(height_m=1.6))
    edit(other, lambda data: data["characters"][0].update(height_m=1.7))
    catalog = catalog_of(spec)
    productions = [(load_production(spec), spec), (load_production(other), other)]
    failures: list[BaseException] = []

    def run(production, path):
        try:
            commit_spec(catalog, production, path, actor="farm", reason="race")
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=args) for args in productions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    _, rows = history(catalog, "character:mara")
    assert [(r.version, r.commit_id) for r in rows] == [(1, 1), (2, 2), (3, 3)]
