"""Every catalog row a command trusts is covered by the signed change log.

One marked, signed episode is rendered per module; each tamper test edits one row of a copy of its
catalog with sqlite3 directly (append-only triggers dropped, as anyone with the file can) and
checks that `log verify`, `verify` and `trace` say TAMPERED naming the row (exit 1) instead of
answering from it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import cli, copy_of_records, render_episode, small_spec, write_spec

from reelforge.records.audit import LoggedRender, check_render, render_entries
from reelforge.records.leaves import canonical_json, entry_leaf
from reelforge.records.render_rows import NOT_COVERED
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths
from reelforge.trust import trace as trace_module
from reelforge.trust.trace import production_mark_keys, read_mark


@pytest.fixture(scope="module")
def show(tmp_path_factory):
    spec = write_spec(tmp_path_factory.mktemp("tamper") / "show", small_spec(frames=4))
    code, out = cli("commit", str(spec), "-m", "first cut", "--actor", "dana")
    assert code == 0, out
    result, _ = render_episode(spec, "dana", mark=True)
    return {"spec": spec, "render": result, "file": result.output, "mark": read_mark(result.output, production_mark_keys(ProductionPaths.for_spec(spec)))}


@pytest.fixture
def mark_read_once(show, monkeypatch):
    """`trace` reads the delivery's mark as read once in the fixture (reading it is test_mark's and
    test_delivery's subject; here, what trace answers from the records)."""
    monkeypatch.setattr(trace_module, "read_mark", lambda *args, **kwargs: show["mark"])


def tampered(show: dict, tmp_path: Path, *statements: str) -> Path:
    """A copy of the production's records with `statements` run on it (triggers dropped); its spec."""
    spec, db = copy_of_records(show, tmp_path / "copy", drop_triggers=True)
    for statement in statements:
        db.execute(statement)
    db.close()
    return spec


def render_id(show: dict) -> int:
    return show["render"].render_id


TAMPERS = {  # what an attacker edits → the row and field `log verify` must name
    "recipient": ("UPDATE deliveries SET rendered_by = 'mallory'", "deliveries row of render #{id} (rendered_by)"),
    "mark": ("UPDATE deliveries SET mark_id = '0123456789abcdef'", "deliveries row of render #{id} (mark_id)"),
    "frame count": ("UPDATE render_shots SET frame_count = 3 WHERE position = 0",
                    "render_shots row of render #{id}, shot s01e01/sc01/sh01 (frame_count)"),
    "job key": ("UPDATE render_shots SET job_key = (SELECT job_key FROM render_shots WHERE position = 1) "
                "WHERE position = 0", "render_shots row of render #{id}, shot s01e01/sc01/sh01 (job_key)"),
    "segment": ("UPDATE render_shots SET segment_sha256 = '" + "0" * 64 + "' WHERE position = 1",
                "render_shots row of render #{id}, shot s01e01/sc01/sh02 (segment_sha256)"),
    "frame hashes": ("UPDATE render_shots SET frame_hashes_json = json_set(frame_hashes_json, '$[0]', '"
                     + "f" * 64 + "') WHERE position = 2",
                     "render_shots row of render #{id}, shot s01e01/sc02/sh01 (frame_hashes_json)"),
    "farm node": ("INSERT INTO render_shot_nodes VALUES ({id}, 0, 'n1', 'elsewhere', '10.0.0.9', '{{}}')",
                  "render_shot_nodes rows of render #{id}, shot s01e01/sc01/sh01"),
    "environment": ("UPDATE renders SET environment_json = '{{}}'", "renders row of render #{id} (environment_json)"),
    "energy": ("UPDATE render_energy SET reading_json = json_set(reading_json, '$.kwh_total', 0)",
               "render_energy row of render #{id} (reading_json)"),
    "job": ("UPDATE jobs SET job_json = json_set(job_json, '$.prompt', 'something else') "
            "WHERE key = (SELECT job_key FROM render_shots WHERE position = 0)",
            "jobs row"),
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_an_edited_render_row_is_tampered_for_log_verify_verify_and_trace(show, tmp_path, mark_read_once, name):
    statement, named = TAMPERS[name]
    spec = tampered(show, tmp_path, statement.format(id=render_id(show)))
    named = named.format(id=render_id(show))
    code, out = cli("log", "verify", str(spec))
    assert code == 1 and "TAMPERED" in out and named in out, out
    code, out = cli("verify", str(show["file"]), "--production", str(spec))
    assert code == 1 and "TAMPERED" in out and named in out and "VERIFIED" not in out.replace("NOT VERIFIED", ""), out
    code, out = cli("trace", str(show["file"]), "--production", str(spec))
    assert code == 1 and "TAMPERED" in out and named in out and "mallory" not in out.replace("'mallory'", ""), out


def test_an_output_hash_set_to_an_altered_file_does_not_verify_it(show, tmp_path):
    altered = tmp_path / "altered.mp4"
    data = bytearray(show["file"].read_bytes())
    data[-10] ^= 0xFF
    altered.write_bytes(bytes(data))
    digest = hashlib.sha256(bytes(data)).hexdigest()
    spec = tampered(show, tmp_path, f"UPDATE renders SET output_sha256 = '{digest}'")
    code, out = cli("verify", str(altered), "--production", str(spec))
    assert code == 1 and f"TAMPERED: renders row of render #{render_id(show)} (output_sha256)" in out, out
    assert "every byte matches" not in out
    code, out = cli("log", "verify", str(spec))
    assert code == 1 and "(output_sha256) differs from its change-log entry" in out, out


def test_a_mark_removed_from_its_delivery_row_is_still_found_and_tampered(show, tmp_path, mark_read_once):
    """The mark is looked up in the signed render entries, not only in the editable mark_id column."""
    spec = tampered(show, tmp_path, "UPDATE deliveries SET mark_id = NULL")
    code, out = cli("trace", str(show["file"]), "--production", str(spec))
    assert code == 1 and f"deliveries row of render #{render_id(show)} (mark_id)" in out
    assert "no render" not in out, out


@pytest.mark.parametrize("statement, named", [
    ("UPDATE shot_states SET frames = 99 WHERE shot = 'shot:s01e01/sc01/sh02'",
     "shot_states row of commit #1, shot shot:s01e01/sc01/sh02 (frames) differs from its change-log entry"),
    ("UPDATE shot_states SET style = 'style:oil-paint' WHERE shot = 'shot:s01e01/sc01/sh01'",
     "shot_states row of commit #1, shot shot:s01e01/sc01/sh01 (style) differs from its change-log entry"),
    ("UPDATE entity_refs SET target = 'character:nobody' WHERE field = 'cast[0]'",
     "entity_refs rows of commit #1 differ from its change-log entry"),
])
def test_an_edited_shot_state_or_reference_fails_log_verify_naming_it(show, tmp_path, statement, named):
    spec = tampered(show, tmp_path, statement)
    code, out = cli("log", "verify", str(spec))
    assert code == 1 and named in out, out
    # refs, history, show and diff answer from these tables: they say TAMPERED instead
    for args in (("refs", "character:mara"), ("history", "shot:s01e01/sc01/sh01")):
        code, out = cli(*args, "--production", str(spec))
        assert code == 1 and "TAMPERED" in out and named in out and "cast in" not in out, out


def test_a_render_logged_twice_or_an_unlogged_render_below_the_first_is_forged(show, tmp_path):
    """A second render entry for a render (appended by hand, then signed by whatever signs next) does not
    replace the one the render wrote; a render row numbered below every logged one is not "older than the log"."""
    from reelforge.records.changelog import append_entry
    from reelforge.store.schema import LogEntry

    spec, db = copy_of_records(show, tmp_path / "twice")
    db.close()
    with Catalog(spec.parent / ".reelforge" / "catalog.sqlite") as catalog, catalog.session() as session:
        (found,) = render_entries(session).values()
        entry = session.get(LogEntry, found.entry.seq)
        append_entry(session, actor=entry.actor, kind="render", entity=entry.entity, version=entry.version,
                     before=None, after={**found.state, "rendered_by": "bob"}, reason=entry.reason)
        session.commit()
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as raw:
        for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            raw.execute(f"DROP TRIGGER {name}")
        raw.execute("UPDATE deliveries SET rendered_by = 'bob'")
    code, out = cli("verify", str(show["file"]), "--production", str(spec))
    assert code == 1 and f"records render #{render_id(show)} again" in out, out
    code, out = cli("log", "verify", str(spec))
    assert code == 1 and "again" in out, out

    spec = tampered(show, tmp_path / "below", "INSERT INTO renders SELECT 0, kind, episode_id, output_path, "
                    "output_sha256, started_at, finished_at, seconds, frames, shots_rendered, shots_reused, "
                    "encode_json, environment_json FROM renders")
    code, out = cli("log", "verify", str(spec))
    assert code == 1 and "render #0 has no change-log entry" in out, out


def test_show_and_status_mark_a_tampered_render(show, tmp_path):
    spec = tampered(show, tmp_path, TAMPERS["frame count"][0])
    code, out = cli("show", f"render:{render_id(show)}", "--production", str(spec))
    assert code == 1 and "TAMPERED: render_shots row" in out, out
    assert json.loads(out[out.index("{"):out.rindex("}") + 1])["records"]["state"] == "tampered"
    code, out = cli("status", str(spec))
    assert code == 1 and "TAMPERED: render #" in out, out


def test_an_untouched_production_verifies_and_traces(show):
    """The one real trace of this module: the mark read from the delivered file."""
    code, out = cli("log", "verify", str(show["spec"]))
    assert code == 0 and out.startswith("OK"), out
    code, out = cli("verify", str(show["file"]))
    assert code == 0 and "VERIFIED: every byte matches" in out and "TAMPERED" not in out, out
    code, out = cli("trace", str(show["file"]), "--production", str(show["spec"]))
    assert code == 0 and "by dana" in out and f"render #{render_id(show)}" in out, out
    code, out = cli("show", f"render:{render_id(show)}", "--production", str(show["spec"]))
    records = json.loads(out[out.index("{"):])["records"]
    assert code == 0 and records["state"] == "checked" and records["problem"] is None


def test_an_entry_from_before_the_log_covered_deliveries_is_not_checkable_not_tampered(show, tmp_path):
    """Older render entries recorded no recipient, mark or hashes: what they did record is still checked."""
    spec = tampered(show, tmp_path, "UPDATE deliveries SET rendered_by = 'someone else'")
    with Catalog(spec.parent / ".reelforge" / "catalog.sqlite") as catalog, catalog.session() as session:
        (found,) = render_entries(session).values()
        old = {key: found.state[key] for key in ("render_id", "commit", "kind", "output", "output_sha256",
                                                 "unsigned_sha256", "frames")}
        old["shots"] = [{key: shot[key] for key in ("shot", "job_key", "first_frame", "frames", "reused")}
                        for shot in found.state["shots"]]
        audit = check_render(session, render_id(show), {render_id(show): LoggedRender(found.entry, old, True)})
        assert audit.ok and not audit.covered and audit.note == NOT_COVERED
        old["output_sha256"] = "0" * 64  # what an old entry did record is still compared
        audit = check_render(session, render_id(show), {render_id(show): LoggedRender(found.entry, old, True)})
        assert audit.problems == (f"renders row of render #{render_id(show)} (output_sha256) differs from its "
                                  f"change-log entry {found.entry.seq}",)


def test_a_forged_render_row_without_an_entry_is_tampered(show, tmp_path):
    spec = tampered(show, tmp_path, "INSERT INTO renders SELECT id + 1, kind, episode_id, output_path, output_sha256, "
                                    "started_at, finished_at, seconds, frames, shots_rendered, shots_reused, "
                                    "encode_json, environment_json FROM renders")
    code, out = cli("log", "verify", str(spec))
    assert code == 1 and f"render #{render_id(show) + 1} has no change-log entry" in out, out
    code, out = cli("verify", str(show["file"]), "--production", str(spec))  # the forged row is the latest
    assert code == 1 and "TAMPERED" in out, out


def test_an_entry_rewritten_with_its_row_and_hashes_is_caught_by_the_signed_checkpoint(show, tmp_path, mark_read_once):
    """An attacker who edits the recipient in the row *and* in the render entry, recomputing the entry's
    state hash and leaf hash, leaves rows and entry agreeing: `verify` and `trace` must still not answer,
    because the leaf hashes no longer make the root the production signed."""
    spec, db = copy_of_records(show, tmp_path / "copy", drop_triggers=True)
    seq, after = db.execute("SELECT seq, after_sha256 FROM log_entries WHERE kind = 'render'").fetchone()
    state = json.loads(db.execute("SELECT data FROM log_states WHERE sha256 = ?", (after,)).fetchone()[0])
    state["rendered_by"] = "mallory"
    data = canonical_json(state)
    digest = hashlib.sha256(data).hexdigest()
    db.execute("INSERT INTO log_states VALUES (?, ?)", (digest, data))
    db.execute("UPDATE log_entries SET after_sha256 = ? WHERE seq = ?", (digest, seq))
    row = db.execute("SELECT seq, at, actor, kind, entity, version, before_sha256, after_sha256, reason "
                     "FROM log_entries WHERE seq = ?", (seq,)).fetchone()
    content = dict(zip(("seq", "at", "actor", "kind", "entity", "version", "before_sha256", "after_sha256",
                        "reason"), row, strict=True))
    db.execute("UPDATE log_entries SET leaf_hash = ? WHERE seq = ?", (entry_leaf(content).hex(), seq))
    db.execute("UPDATE deliveries SET rendered_by = 'mallory'")
    db.commit()
    db.close()
    for args in (("verify", str(show["file"])), ("trace", str(show["file"]))):
        code, out = cli(*args, "--production", str(spec))
        assert code == 1 and "TAMPERED" in out and "no longer matches its signed checkpoint" in out, out
        assert "by mallory" not in out, out
    code, out = cli("log", "verify", str(spec))
    assert code == 1 and "TAMPERED" in out, out
