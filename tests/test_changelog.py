"""The tamper-evident change log: RFC 6962 tree, render/key-change/approval entries, verify, proofs.

One production is rendered twice per module (the second time with one shot's prompt changed) and
approved; each tamper test works on its own copy of the catalog, edited with sqlite3 directly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli, copy_of_records, render_episode, small_spec, write_spec

from reelforge.records import changelog, merkle

SHOT = "s01e01/sc01/sh01"  # the shot whose prompt the second render changes

# --- the tree (RFC 6962 §2.1), against the Certificate Transparency test vectors -------------------

CT_INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [  # MTH of the first n inputs, n = 0..8
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {(0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                         "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                         "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
                (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                         "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                         "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]}
CT_CONSISTENCY = {(2, 8): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                           "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
                  (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                           "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                           "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]}


def test_tree_matches_the_certificate_transparency_vectors():
    leaves = [merkle.leaf_hash(bytes.fromhex(h)) for h in CT_INPUTS]
    assert [merkle.root(leaves, n).hex() for n in range(9)] == CT_ROOTS
    assert [r.hex() for r in merkle.prefix_roots(leaves)] == CT_ROOTS[1:]
    for (index, size), expected in CT_INCLUSION.items():
        path = merkle.inclusion_path(leaves, index, size)
        assert [p.hex() for p in path] == expected
        assert merkle.verify_inclusion(index, size, leaves[index], path, bytes.fromhex(CT_ROOTS[size]))
    for (first, second), expected in CT_CONSISTENCY.items():
        proof = merkle.consistency_proof(leaves, first, second)
        assert [p.hex() for p in proof] == expected
        assert merkle.verify_consistency(first, second, bytes.fromhex(CT_ROOTS[first]),
                                         bytes.fromhex(CT_ROOTS[second]), proof)


def test_every_proof_of_every_small_tree_verifies_and_a_changed_one_does_not():
    leaves = [merkle.leaf_hash(bytes([i, 7 * i % 256])) for i in range(21)]
    roots = [merkle.EMPTY_ROOT, *merkle.prefix_roots(leaves)]

    def flip(h: bytes) -> bytes:
        return bytes([h[0] ^ 1]) + h[1:]

    for size in range(1, len(leaves) + 1):
        for index in range(size):
            path = merkle.inclusion_path(leaves, index, size)
            assert merkle.verify_inclusion(index, size, leaves[index], path, roots[size])
            assert not merkle.verify_inclusion(index, size, flip(leaves[index]), path, roots[size])
            if path:
                assert not merkle.verify_inclusion(index, size, leaves[index], [flip(path[0]), *path[1:]], roots[size])
                assert not merkle.verify_inclusion(index, size, leaves[index], path[:-1], roots[size])
            if size > 1:
                other = (index + 1) % size
                assert not merkle.verify_inclusion(other, size, leaves[index], path, roots[size]) or \
                    leaves[other] == leaves[index]
        for first in range(size + 1):
            proof = merkle.consistency_proof(leaves, first, size)
            assert merkle.verify_consistency(first, size, roots[first], roots[size], proof)
            if 0 < first < size:
                assert not merkle.verify_consistency(first, size, flip(roots[first]), roots[size], proof)
                assert not merkle.verify_consistency(first, size, roots[first], roots[size],
                                                     [flip(proof[0]), *proof[1:]])


# --- a rendered production -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def show(tmp_path_factory):
    spec_data = small_spec(frames=3)
    spec = write_spec(tmp_path_factory.mktemp("log") / "show", spec_data)
    first, episode = render_episode(spec, "ann")
    spec_data["episodes"][0]["scenes"][0]["shots"][0]["prompt"] = "the ferry leaves in heavy rain"
    spec.write_text(json.dumps(spec_data, indent=2), encoding="utf-8")
    second, _ = render_episode(spec, "bob")
    code, out = cli("approve", f"shot:{SHOT}", str(spec), "-m", "picture lock", "--actor", "cy")
    assert code == 0, out
    return {"spec": spec, "renders": (first, second), "episode": episode}


def entries(spec: Path, *filters: str) -> list[dict]:
    code, out = cli("log", str(spec), "--json", *filters)
    assert code == 0, out
    return json.loads(out)


def tampered_copy(show: dict, tmp_path: Path, drop_triggers: bool = True) -> tuple[Path, sqlite3.Connection]:
    """A copy of the production's records to tamper with, its append-only triggers dropped unless told."""
    return copy_of_records(show, tmp_path / "copy", drop_triggers)


def verify(spec: Path) -> tuple[int, str]:
    return cli("log", "verify", str(spec))


def test_a_render_appends_a_render_entry_signed_by_a_checkpoint(show):
    renders = entries(show["spec"], "--kind", "render")
    first, second = show["renders"]
    assert [(e["actor"], e["entity"], e["after"]["render_id"], e["after"]["output_sha256"]) for e in renders] == [
        ("ann", "episode:s01e01", first.render_id, first.sha256), ("bob", "episode:s01e01", second.render_id,
                                                                   second.sha256)]
    recorded = renders[1]["after"]["shots"][0]
    assert {key: recorded[key] for key in ("shot", "job_key", "first_frame", "frames", "reused")} == {
        "shot": SHOT, "job_key": second.shots[0].job.key, "first_frame": 0, "frames": 3, "reused": False}
    assert recorded["segment_sha256"] == second.shots[0].segment_sha256  # the rows verify trusts, in the entry
    frame_list = json.dumps(second.shots[0].frame_hashes).encode()
    assert recorded["frame_hashes_sha256"] == hashlib.sha256(frame_list).hexdigest()
    assert renders[1]["after"]["rendered_by"] == "bob" and renders[1]["after"]["signed"] is True
    assert all(e["at"].endswith("+00:00") for e in renders)  # UTC
    code, out = verify(show["spec"])
    assert code == 0 and "OK" in out, out
    assert "not yet covered" not in out  # render, key change and approval were each checkpointed


def test_key_change_entries_name_the_shot_and_what_moved_its_key(show):
    changes = entries(show["spec"], "--kind", "key-change")
    first, second = show["renders"]
    assert len(changes) == 1  # only the shot whose prompt changed
    (change,) = changes
    assert change["entity"] == f"shot:{SHOT}" and change["actor"] == "bob"
    assert change["before"] == {"job_key": first.shots[0].job.key}
    assert change["after"]["job_key"] == second.shots[0].job.key != first.shots[0].job.key
    assert "prompt" in change["after"]["changed"] and "prompt" in change["reason"]
    render = entries(show["spec"], "--kind", "render")[1]
    assert change["seq"] < render["seq"]  # the key changed, then the shot rendered


def test_approval_records_the_render_it_approves_and_the_state_before(show, tmp_path):
    (approval,) = entries(show["spec"], "--kind", "approval")
    second = show["renders"][1]
    assert approval["entity"] == f"shot:{SHOT}" and approval["actor"] == "cy" and approval["reason"] == "picture lock"
    assert approval["before"] is None
    assert approval["after"]["render"]["render_id"] == second.render_id
    assert approval["after"]["render"]["job_key"] == second.shots[0].job.key
    spec, db = tampered_copy(show, tmp_path)  # a second approval (on a copy: the module's log stays as it is)
    db.close()
    assert cli("approve", f"shot:{SHOT}", str(spec), "-m", "re-approved after grade")[0] == 0
    again = entries(spec, "--kind", "approval")[-1]
    assert again["before"] == approval["after"] and again["actor"] != "" and verify(spec)[0] == 0


def test_approving_something_the_spec_does_not_have_is_bad_input(show):
    code, out = cli("approve", "shot:s01e01/sc09/sh01", str(show["spec"]), "-m", "ok")
    assert code == 2 and "no shot 's01e01/sc09/sh01'" in out
    code, out = cli("approve", "sh01", str(show["spec"]), "-m", "ok")
    assert code == 2 and "not an entity id" in out
    before = len(entries(show["spec"]))
    code, out = cli("approve", "style:noir-inc", str(show["spec"]), "-m", "ok")  # an approval is permanent
    assert code == 2 and "no style family 'noir-inc'" in out and "gray-box" in out, out
    code, out = cli("approve", "asset:" + "0" * 64, str(show["spec"]), "-m", "ok")
    assert code == 2 and "is committed" in out, out
    assert len(entries(show["spec"])) == before  # nothing was appended


def test_log_filters_by_entity_actor_kind_and_date(show):
    everything = entries(show["spec"])
    assert [e["seq"] for e in everything] == list(range(len(everything)))
    assert {e["actor"] for e in entries(show["spec"], "--actor", "bob")} == {"bob"}
    assert {e["entity"] for e in entries(show["spec"], "--entity", f"shot:{SHOT}")} == {f"shot:{SHOT}"}
    today = everything[0]["at"][:10]
    assert len(entries(show["spec"], "--since", today, "--until", today)) == len(everything)
    assert entries(show["spec"], "--since", "2999-01-01") == []
    assert entries(show["spec"], "--until", "2000-01-01T00:00:00Z") == []
    code, out = cli("log", str(show["spec"]), "--since", "last week")
    assert code == 2 and "--since" in out
    code, out = cli("log", str(show["spec"]), "--kind", "upload")
    assert code == 2 and "--kind" in out
    code, out = cli("log", str(show["spec"]))
    assert code == 0 and "picture lock" in out and f"shot:{SHOT}" in out


# --- tampering ---------------------------------------------------------------------------------

def test_the_tables_refuse_updates_and_deletes(show, tmp_path):
    spec, db = tampered_copy(show, tmp_path, drop_triggers=False)
    for statement in ("UPDATE log_entries SET reason = 'x' WHERE seq = 0", "DELETE FROM log_entries WHERE seq = 0",
                      "UPDATE log_states SET data = x'00'", "DELETE FROM log_checkpoints"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(statement)
    from reelforge.store.catalog import Catalog

    with Catalog(spec.parent / ".reelforge" / "catalog.sqlite").session() as session, \
            pytest.raises(Exception, match="append-only"):
        session.get(changelog.LogEntry, 0).reason = "rewritten"
        session.commit()
    assert verify(spec)[0] == 0


def test_an_edited_entry_is_named(show, tmp_path):
    spec, db = tampered_copy(show, tmp_path)
    db.execute("UPDATE log_entries SET actor = 'mallory' WHERE seq = 1")
    code, out = verify(spec)
    assert code == 1 and "first bad entry: 1: entry 1 was altered" in out, out


def test_a_deleted_entry_is_named(show, tmp_path):
    spec, db = tampered_copy(show, tmp_path)
    db.execute("DELETE FROM log_entries WHERE seq = 1")
    code, out = verify(spec)
    assert code == 1 and "first bad entry: 1: entry 1 was removed" in out, out


def test_deleting_the_newest_entries_is_caught_by_the_checkpoint(show, tmp_path):
    spec, db = tampered_copy(show, tmp_path)
    last = db.execute("SELECT max(seq) FROM log_entries").fetchone()[0]
    db.execute("DELETE FROM log_entries WHERE seq = ?", (last,))
    code, out = verify(spec)
    assert code == 1 and f"first bad entry: {last}: entry {last} was removed" in out, out


def test_reordered_entries_are_named(show, tmp_path):
    spec, db = tampered_copy(show, tmp_path)
    db.execute("UPDATE log_entries SET seq = -1 WHERE seq = 1")
    db.execute("UPDATE log_entries SET seq = 1 WHERE seq = 2")
    db.execute("UPDATE log_entries SET seq = 2 WHERE seq = -1")
    code, out = verify(spec)
    assert code == 1 and "first bad entry: 1: entry 1 was reordered: it was appended as entry 2" in out, out


def test_an_entry_rewritten_with_a_fresh_leaf_hash_is_caught_by_the_signed_checkpoints(show, tmp_path):
    spec, db = tampered_copy(show, tmp_path)
    columns = ("seq", "at", "actor", "kind", "entity", "version", "before_sha256", "after_sha256", "reason")
    row = dict(zip(columns, db.execute(f"SELECT {', '.join(columns)} FROM log_entries WHERE seq = 2").fetchone(),
                   strict=True))
    row["reason"] = "nothing to see here"
    db.execute("UPDATE log_entries SET reason = ?, leaf_hash = ? WHERE seq = 2",
               (row["reason"], changelog.entry_leaf(row).hex()))
    code, out = verify(spec)
    assert code == 1 and "no longer matches the signed checkpoint" in out, out
    first_bad = int(out.split("first bad entry: ")[1].split(":")[0])
    assert first_bad <= 2  # bounded by the last checkpoint that still matches


def test_a_tampered_state_blob_is_caught(show, tmp_path):
    spec, db = tampered_copy(show, tmp_path)
    seq, digest = db.execute("SELECT seq, after_sha256 FROM log_entries WHERE kind = 'render' ORDER BY seq").fetchone()
    forged = json.loads(db.execute("SELECT data FROM log_states WHERE sha256 = ?", (digest,)).fetchone()[0])
    forged["output_sha256"] = "0" * 64
    db.execute("UPDATE log_states SET data = ? WHERE sha256 = ?", (changelog.canonical_json(forged), digest))
    code, out = verify(spec)
    assert code == 1 and f"first bad entry: {seq}: entry {seq}: its after-state {digest[:16]}… was altered" in out, out


def test_a_forged_checkpoint_signature_is_caught(show, tmp_path):
    spec, db = tampered_copy(show, tmp_path)
    signature = base64.b64decode(db.execute("SELECT signature FROM log_checkpoints WHERE id = 0").fetchone()[0])
    forged = base64.b64encode(signature[:-4] + bytes(b ^ 0xFF for b in signature[-4:])).decode()
    db.execute("UPDATE log_checkpoints SET signature = ? WHERE id = 0", (forged,))
    code, out = verify(spec)
    assert code == 1 and "checkpoint #0" in out and "does not verify" in out, out


def test_a_checkpoint_re_signed_with_another_key_is_caught(show, tmp_path):
    """Someone who rewrites the log and signs new checkpoints with their own key is not the production."""
    from reelforge.trust.identity import create_identity

    spec, db = tampered_copy(show, tmp_path)
    mallory = create_identity(tmp_path / "mallory", "harbor-lights")
    db.execute("UPDATE log_entries SET reason = 'rewritten' WHERE seq = 0")
    rows = db.execute("SELECT seq, at, actor, kind, entity, version, before_sha256, after_sha256, reason "
                      "FROM log_entries ORDER BY seq").fetchall()
    keys = ("seq", "at", "actor", "kind", "entity", "version", "before_sha256", "after_sha256", "reason")
    leaves = [changelog.entry_leaf(dict(zip(keys, r, strict=True))) for r in rows]
    for seq, leaf in zip((r[0] for r in rows), leaves, strict=True):
        db.execute("UPDATE log_entries SET leaf_hash = ? WHERE seq = ?", (leaf.hex(), seq))
    chain = mallory.chain_pem.decode()
    signer = hashlib.sha256(chain.encode()).hexdigest()
    db.execute("INSERT INTO log_signers VALUES (?, ?)", (signer, chain))
    for cid, size, at in db.execute("SELECT id, size, at FROM log_checkpoints").fetchall():
        root = merkle.root(leaves, size)
        body = changelog.checkpoint_body(changelog.ORIGIN, size, root, at)
        db.execute("UPDATE log_checkpoints SET root_hash = ?, signer_sha256 = ?, signature = ? WHERE id = ?",
                   (root.hex(), signer, base64.b64encode(changelog.sign_body(mallory, body)).decode(), cid))
    code, out = verify(spec)
    assert code == 1 and "does not chain to the trust anchor" in out, out


def test_an_exported_checkpoint_catches_a_truncated_log(show, tmp_path):
    """Deleting the newest entries *and* their checkpoints is only visible against a checkpoint kept elsewhere."""
    spec, db = tampered_copy(show, tmp_path)
    witness = tmp_path / "checkpoint.json"
    assert cli("log", "checkpoint", str(spec), "-o", str(witness))[0] == 0
    assert cli("log", "verify", str(spec), "--witness", str(witness))[0] == 0
    size = db.execute("SELECT max(size) FROM log_checkpoints").fetchone()[0]
    db.execute("DELETE FROM log_checkpoints WHERE size = ?", (size,))
    db.execute("DELETE FROM log_entries WHERE seq >= (SELECT max(size) FROM log_checkpoints)")
    assert verify(spec)[0] == 0  # consistent on its own
    code, out = cli("log", "verify", str(spec), "--witness", str(witness))
    assert code == 1 and "removed" in out, out


# --- inclusion proofs --------------------------------------------------------------------------

def test_an_inclusion_proof_for_a_render_checks_on_its_own(show, tmp_path):
    render = entries(show["spec"], "--kind", "render")[0]
    proof_file = tmp_path / "proof.json"
    code, out = cli("log", "proof", str(render["seq"]), str(show["spec"]), "-o", str(proof_file))
    assert code == 0, out
    proof = json.loads(proof_file.read_text())
    assert proof["entry"]["seq"] == proof["leaf_index"] == render["seq"]
    assert proof["states"][render["after_sha256"]] == render["after"]
    root_pem = show["spec"].parent / ".reelforge" / "identity" / "root.pem"
    alone = tmp_path / "elsewhere"  # no production, no catalog: only the file and the anchor
    alone.mkdir()
    shutil.copy(proof_file, alone / "proof.json")
    shutil.copy(root_pem, alone / "root.pem")
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "reelforge.cli", "log", "check-proof", "proof.json",
                             "--trust", "root.pem"], check=False, cwd=alone, capture_output=True, text=True, env=env)
    assert result.returncode == 0 and "PROVEN" in result.stdout and "chains to the trust anchor" in result.stdout, (
        result.stdout + result.stderr)

    def check(changed: dict, *extra: str) -> tuple[int, str]:
        path = tmp_path / "changed.json"
        path.write_text(json.dumps(changed))
        return cli("log", "check-proof", str(path), *extra)

    assert check(proof)[0] == 0  # without an anchor: proven, with a warning about who signed
    assert "not checked against a trust anchor" in check(proof)[1]
    altered_entry = {**proof, "entry": {**proof["entry"], "reason": "rendered something else"}}
    code, out = check(altered_entry, "--trust", str(root_pem))
    assert code == 1 and "NOT PROVEN" in out and "entry or the path was altered" in out
    path = list(proof["audit_path"])
    path[0] = ("0" if path[0][0] != "0" else "1") + path[0][1:]
    code, out = check({**proof, "audit_path": path}, "--trust", str(root_pem))
    assert code == 1 and "NOT PROVEN" in out
    altered_state = {**proof, "states": {render["after_sha256"]: {**render["after"], "frames": 999}}}
    assert check(altered_state)[0] == 1
    from reelforge.trust.identity import create_identity

    other = create_identity(tmp_path / "other", "someone else")
    code, out = check(proof, "--trust", str(other.trust_anchor_path))
    assert code == 1 and "does not chain to the trust anchor" in out
    (tmp_path / "broken.json").write_text("{not json")
    assert cli("log", "check-proof", str(tmp_path / "broken.json"))[0] == 2
    assert check({"format": "something"})[0] == 2


def test_proof_of_a_missing_entry_is_bad_input(show):
    code, out = cli("log", "proof", "9999", str(show["spec"]))
    assert code == 2 and "no entry 9999" in out


def test_a_state_overwritten_with_text_is_caught_not_crashed_on(show, tmp_path):
    # SQLite stores whatever type it is given: a state replaced by a TEXT value must read as altered.
    spec, db = tampered_copy(show, tmp_path)
    seq, digest = db.execute("SELECT seq, after_sha256 FROM log_entries WHERE kind = 'render' ORDER BY seq").fetchone()
    db.execute("UPDATE log_states SET data = 'x' WHERE sha256 = ?", (digest,))
    code, out = verify(spec)
    assert code == 1 and f"its after-state {digest[:16]}… was altered" in out, out
    assert "Traceback" not in out


def test_a_time_filter_still_lists_a_log_with_an_altered_time(show, tmp_path):
    spec, db = tampered_copy(show, tmp_path)
    total = db.execute("SELECT COUNT(*) FROM log_entries").fetchone()[0]
    db.execute("UPDATE log_entries SET at = 'yesterday-ish' WHERE seq = 1")
    listed = entries(spec, "--since", "2000-01-01")
    assert [e["seq"] for e in listed] == [seq for seq in range(total) if seq != 1]  # the altered one fits no range


def test_a_witness_nested_a_thousand_deep_is_refused_in_one_line(tmp_path):
    """A checkpoint file handed over by someone else is bounded before it is parsed (no RecursionError)."""
    spec = write_spec(tmp_path / "show", small_spec())
    assert cli("commit", str(spec), "-m", "first")[0] == 0
    witness = tmp_path / "deep.json"
    witness.write_text("[" * 1000 + "]" * 1000)
    code, out = cli("log", "verify", str(spec), "--witness", str(witness))
    assert code == 2 and "not a reelforge checkpoint" in out and "nested more than" in out, out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out
