"""The production's mark key: made once (0600, never replaced, one winner when two processes race), the only
key that reads its deliveries' marks, and what `trace` does for deliveries marked before keying (public pattern)."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import stat
from pathlib import Path

import pytest
from conftest import copy_production, run_cli, small_spec, write_spec

from reelforge.deliver.assemble import encode_marked
from reelforge.deliver.options import DeliveryError, recorded_mark_key
from reelforge.media.encode import EncodeSettings
from reelforge.store.frames import FrameStore
from reelforge.store.paths import ProductionPaths
from reelforge.trust.identity import MARK_KEY, CredentialsError, load_or_create_mark_secret, read_mark_secret
from reelforge.trust.mark import PUBLIC_PATTERN, MarkKey


def test_the_key_is_made_once_private_and_never_replaced(tmp_path):
    folder = tmp_path / ".reelforge" / "identity"
    assert read_mark_secret(folder) is None
    secret, created = load_or_create_mark_secret(folder)
    assert created and len(secret) == 32
    assert stat.S_IMODE((folder / MARK_KEY).stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert "*.key" in (folder / ".gitignore").read_text()  # a production kept in git never commits it
    assert load_or_create_mark_secret(folder) == (secret, False)
    assert read_mark_secret(folder) == secret
    assert not [p for p in folder.iterdir() if p.name.startswith(".mark.key.tmp-")]


def _create(folder: str, start, results) -> None:
    start.wait()
    results.put(load_or_create_mark_secret(Path(folder)))


def test_two_processes_making_the_key_at_once_end_with_one_key(tmp_path):
    folder = tmp_path / "identity"
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_create, args=(str(folder), start, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert len({secret for secret, _ in outcomes}) == 1  # every process uses the same key
    assert sum(created for _, created in outcomes) == 1  # exactly one made it
    assert read_mark_secret(folder) == outcomes[0][0]
    assert sorted(p.name for p in folder.iterdir()) == [".gitignore", MARK_KEY]


def test_a_key_made_by_another_process_meanwhile_is_kept(tmp_path, monkeypatch):
    """The other process won between our look and our write: its key stays and is the one returned."""
    from reelforge.trust import identity

    theirs, _ = load_or_create_mark_secret(tmp_path)
    real, looks = identity.read_mark_secret, []

    def first_look_finds_none(folder):
        looks.append(folder)
        return None if len(looks) == 1 else real(folder)

    monkeypatch.setattr(identity, "read_mark_secret", first_look_finds_none)
    assert load_or_create_mark_secret(tmp_path) == (theirs, False)
    assert len(looks) == 2  # looked, lost the link, read the winner's
    assert read_mark_secret(tmp_path) == theirs
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mark.key.tmp-")]


def test_a_damaged_key_file_is_named(tmp_path):
    (tmp_path / MARK_KEY).write_text("not a key\n")
    with pytest.raises(CredentialsError, match=r"mark\.key: not a mark key"):
        read_mark_secret(tmp_path)
    with pytest.raises(CredentialsError, match=r"mark\.key: not a mark key"):
        load_or_create_mark_secret(tmp_path)  # never replaced, even when damaged
    assert (tmp_path / MARK_KEY).read_text() == "not a key\n"


def test_verify_needs_the_key_a_delivery_was_marked_with(tmp_path):
    """A mark made before keying is re-created with the public pattern; a keyed one only with its own key."""
    assert recorded_mark_key(tmp_path, None) == PUBLIC_PATTERN
    with pytest.raises(DeliveryError, match=r"mark\.key: the mark key is missing.*backup"):
        recorded_mark_key(tmp_path, "0123456789abcdef")
    secret, _ = load_or_create_mark_secret(ProductionPaths.for_root(tmp_path).identity)
    key = MarkKey(secret)
    assert recorded_mark_key(tmp_path, key.key_id) == key
    with pytest.raises(DeliveryError, match=r"marked with key 0123456789abcdef"):
        recorded_mark_key(tmp_path, "0123456789abcdef")


# --------------------------------------------------------------------------------------------- through trace


@pytest.fixture(scope="module")
def marked(tmp_path_factory) -> Path:
    spec = write_spec(tmp_path_factory.mktemp("keyed") / "show", small_spec())
    run_cli("render", str(spec), "--mark", "--actor", "dana")
    return spec


def delivery_row(spec: Path) -> dict:
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT d.*, k.key_id, r.encode_json, r.id AS render FROM deliveries d "
                         "JOIN renders r ON r.id = d.render_id "
                         "LEFT JOIN delivery_mark_keys k ON k.render_id = d.render_id").fetchone()
        frames = [h for (shot,) in db.execute("SELECT frame_hashes_json FROM render_shots ORDER BY position")
                  for h in json.loads(shot)]
    return {**dict(row), "frames": frames}


def public_pattern_copy(spec: Path, out: Path) -> Path:
    """The delivery's frames marked with its id under the public v1 pattern: what a delivery marked before keying
    looks like, or what anyone who knows the format (and the id, say from the soft binding) can make."""
    row = delivery_row(spec)
    settings = EncodeSettings(**{k: v for k, v in json.loads(row["encode_json"]).items()
                                 if k in EncodeSettings.__dataclass_fields__})
    paths = ProductionPaths.for_spec(spec)
    encode_marked(out, ((digest, None) for digest in row["frames"]), FrameStore(paths.frames), settings,
                  int(row["mark_id"], 16), PUBLIC_PATTERN)
    return out


def test_a_marked_render_keys_its_mark_with_the_production_key(marked):
    identity = marked.parent / ".reelforge" / "identity"
    key = MarkKey(read_mark_secret(identity))
    assert stat.S_IMODE((identity / MARK_KEY).stat().st_mode) == 0o600
    row = delivery_row(marked)
    assert row["key_id"] == key.key_id  # recorded: verify and trace know which key made the mark
    result = run_cli("trace", str(marked.parent / "renders" / "s01e01.mp4"))
    assert row["mark_id"] in result.stdout and "dana" in result.stdout and f"render #{row['render']}" in result.stdout
    assert "c2pa.soft-binding" in run_cli("credentials", "show", str(marked.parent / "renders" / "s01e01.mp4"),
                                          "--json").stdout


def test_another_key_finds_no_mark(marked, tmp_path):
    """A copy of this production's delivery traced by a production with another key (or after the key was lost
    and made anew) shows no mark at all."""
    other = write_spec(tmp_path / "other", small_spec())
    load_or_create_mark_secret(ProductionPaths.for_spec(other).identity)
    run_cli("render", str(other))  # a catalog to search
    result = run_cli("trace", str(marked.parent / "renders" / "s01e01.mp4"), "--production", str(other), check=False)
    assert result.returncode == 1 and "no mark found" in result.stdout


def test_a_lost_or_replaced_mark_key_is_said_and_never_silently_replaced(marked, tmp_path):
    """Without its key a production's leaked copies cannot be traced: trace says the key is gone (not "no mark"),
    and a marked render refuses to make a new key in its place."""
    copy = copy_production(marked.parent, tmp_path / "copy") / "production.json"
    key = copy.parent / ".reelforge" / "identity" / MARK_KEY
    delivery = copy.parent / "renders" / "s01e01.mp4"
    for broken in ("lost", "replaced"):
        if broken == "lost":
            key.unlink()
        else:
            key.write_text("ab" * 32 + "\n")
        result = run_cli("trace", str(delivery), check=False)
        assert result.returncode == 2 and "restore" in result.stderr and "no mark found" not in result.stdout
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        result = run_cli("render", str(copy), "--mark", check=False)
        assert result.returncode == 2 and "restore" in result.stderr, result.stderr
    assert key.read_text() == "ab" * 32 + "\n"  # the render made no new key


def test_a_public_pattern_mark_names_only_a_delivery_marked_before_keying(marked, tmp_path):
    forged = public_pattern_copy(marked, tmp_path / "forged.mp4")
    # the delivery was marked with the production's key: a public-pattern copy of its id names nothing
    result = run_cli("trace", str(forged), "--production", str(marked), check=False)
    assert result.returncode == 1 and "no mark found" in result.stdout
    # deleting the key row (so the delivery looks marked before keying, when a public-pattern read would
    # name it) is an edit of a record the signed render entry covers: trace says TAMPERED, names no one
    with sqlite3.connect(marked.parent / ".reelforge" / "catalog.sqlite") as db:
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            db.execute(f"DROP TRIGGER {name}")
        db.execute("DELETE FROM delivery_mark_keys")
    row = delivery_row(marked)
    result = run_cli("trace", str(forged), "--production", str(marked), check=False)
    assert result.returncode == 1 and "TAMPERED" in result.stdout and "delivery_mark_keys" in result.stdout
    assert f"by {row['rendered_by']}" not in result.stdout
