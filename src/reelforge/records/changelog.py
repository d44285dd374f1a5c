"""The append-only, tamper-evident change log.

Every change — spec commits, asset uploads, renders, approvals, review statuses and notes, key changes, store
gc runs — appends one entry (sequence number, actor, UTC time, kind, entity and version, before/after states
by content hash, reason). Nothing updates or deletes an entry: the tables refuse it with SQLite triggers, so a bug
cannot; someone editing the database file can, and that is what the tree is for.

The entries are the leaves of an RFC 6962 Merkle tree (records/merkle.py). After each command
that appends, a checkpoint — (tree size, root hash, UTC time) — is signed with the production's
key. `verify_log` recomputes every leaf and every checkpoint's root, checks each signature and
names the first entry that was altered, removed or reordered. `inclusion_proof` exports one
entry with its audit path and the signed checkpoint, which `check_proof` checks with nothing
else at hand (no catalog).

What it cannot see: someone who deletes the newest entries *and* every checkpoint that covers
them leaves a shorter log that is still consistent. Exported checkpoints and proofs are the
witnesses against that: `verify_log(..., witnesses=[checkpoint])` checks the log still extends them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import json
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reelforge.records import merkle
from reelforge.records.audit import check_records
from reelforge.records.leaves import canonical_json, entry_leaf
from reelforge.store.catalog import utc_now
from reelforge.store.schema import LogCheckpoint, LogEntry, LogSigner, LogState

KINDS = ("commit", "asset", "render", "approval", "key-change", "gc", "review", "note")
ORIGIN = "reelforge change log"  # first line of every signed checkpoint (C2SP tlog-checkpoint layout)
PROOF_FORMAT = "reelforge-inclusion-proof/1"
CHECKPOINT_FORMAT = "reelforge-checkpoint/1"


class LogError(Exception):
    """The log cannot do what was asked (no such entry, nothing signed yet): a user-facing message."""


class ProofError(Exception):
    """A proof or checkpoint file is not one (malformed JSON, missing fields): bad input."""


# --- entries ------------------------------------------------------------------------------------

def _keep_state(session: Session, state: object | None) -> str | None:
    if state is None:
        return None
    data = canonical_json(state)
    digest = hashlib.sha256(data).hexdigest()
    if session.get(LogState, digest) is None:
        session.add(LogState(sha256=digest, data=data))
    return digest


def append_entry(session: Session, *, actor: str, kind: str, entity: str, version: int | None,
                 before: object | None, after: object | None, reason: str, at: str | None = None) -> int:
    """Append one entry in the caller's transaction; returns its sequence number (0-based).

    `before` / `after` are JSON-able states (or None); they are stored by content hash.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown change-log kind {kind!r}: use one of {', '.join(KINDS)}")
    last = session.scalar(select(func.max(LogEntry.seq)))
    entry = LogEntry(seq=0 if last is None else last + 1, at=at or utc_now(), actor=actor, kind=kind, entity=entity,
                     version=version, before_sha256=_keep_state(session, before),
                     after_sha256=_keep_state(session, after), reason=reason)
    entry.leaf_hash = entry_leaf(entry.content()).hex()
    session.add(entry)
    session.flush()  # the next append (same transaction) sees this one's sequence number
    return entry.seq


def state(session: Session, digest: str | None) -> object | None:
    """A stored state by its hash (None for no state)."""
    if digest is None:
        return None
    row = session.get(LogState, digest)
    if row is None:
        raise LogError(f"state {digest[:16]}… is missing from the log")
    return json.loads(row.data)


def entries(session: Session, *, entity: str | None = None, actor: str | None = None, kind: str | None = None,
            since: dt.datetime | None = None, until: dt.datetime | None = None) -> list[LogEntry]:
    """Entries in log order, filtered; `since` ≤ time < `until` (aware datetimes)."""
    query = select(LogEntry).order_by(LogEntry.seq)
    if entity is not None:
        query = query.where(LogEntry.entity == entity)
    if actor is not None:
        query = query.where(LogEntry.actor == actor)
    if kind is not None:
        query = query.where(LogEntry.kind == kind)
    rows = list(session.scalars(query))
    if since is not None or until is not None:  # compared as times, not strings: offsets may differ
        rows = [e for e in rows if _in_range(e.at, since, until)]
    return rows


def _in_range(at: str, since: dt.datetime | None, until: dt.datetime | None) -> bool:
    """Whether a recorded time lies in [since, until); an unreadable (altered) time lies in no range."""
    try:
        when = parse_time(at)
    except (ValueError, TypeError):
        return False
    return (since is None or when >= since) and (until is None or when < until)


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 time or date; a time without offset is UTC."""
    value = dt.datetime.fromisoformat(text)  # 3.11+: accepts a trailing Z
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def last_entry(session: Session, *, entity: str, kind: str) -> LogEntry | None:
    return session.scalars(select(LogEntry).where(LogEntry.entity == entity, LogEntry.kind == kind)
                           .order_by(LogEntry.seq.desc())).first()


# --- checkpoints --------------------------------------------------------------------------------

def signed_body(checkpoint: LogCheckpoint) -> bytes:
    """The bytes a stored checkpoint's signature covers."""
    return checkpoint_body(checkpoint.origin, checkpoint.size, bytes.fromhex(checkpoint.root_hash), checkpoint.at)


def checkpoint_body(origin: str, size: int, root: bytes, at: str) -> bytes:
    """What a checkpoint signs: origin, size, base64 root (the C2SP tlog-checkpoint body), then the time."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\ntime {at}\n".encode()


def sign_body(identity, body: bytes) -> bytes:
    """`body` signed with the identity's key (Ed25519, ECDSA or RSA-PSS): what `check_signature` checks."""
    key = serialization.load_pem_private_key(identity.key_pem, password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(body)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(body, ec.ECDSA(_ec_hash(key.curve)))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(body, padding.PSS(padding.MGF1(hashes.SHA256()), hashes.SHA256.digest_size), hashes.SHA256())
    raise LogError(f"cannot sign with a {type(key).__name__}")


def _ec_hash(curve) -> hashes.HashAlgorithm:
    return {"secp384r1": hashes.SHA384(), "secp521r1": hashes.SHA512()}.get(curve.name, hashes.SHA256())


def _signature_ok(public_key, signature: bytes, body: bytes) -> bool:
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, body)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, body, ec.ECDSA(_ec_hash(public_key.curve)))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, body, padding.PSS(padding.MGF1(hashes.SHA256()),
                                                           hashes.SHA256.digest_size), hashes.SHA256())
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def write_checkpoint(session: Session, identity, at: str | None = None) -> LogCheckpoint | None:
    """Sign (size, root, now) over every entry so far, in the caller's transaction.

    The root is over the leaf hashes recorded at append time, so an entry edited before this
    checkpoint still shows as edited. Returns None when there is nothing new to sign.
    """
    leaves = [bytes.fromhex(h) for h in session.scalars(select(LogEntry.leaf_hash).order_by(LogEntry.seq))]
    latest = session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.id.desc())).first()
    if not leaves or (latest is not None and latest.size == len(leaves)):
        return None
    chain_pem = identity.chain_pem.decode() if isinstance(identity.chain_pem, bytes) else identity.chain_pem
    signer = hashlib.sha256(chain_pem.encode()).hexdigest()
    if session.get(LogSigner, signer) is None:
        session.add(LogSigner(sha256=signer, chain_pem=chain_pem))
        session.flush()  # before the checkpoint that refers to it (no ORM relationship orders the two)
    at = at or utc_now()
    root = merkle.root(leaves)
    checkpoint = LogCheckpoint(id=0 if latest is None else latest.id + 1, size=len(leaves), root_hash=root.hex(),
                               at=at, origin=ORIGIN, algorithm=identity.algorithm, signer_sha256=signer,
                               signature=base64.b64encode(sign_body(identity, checkpoint_body(ORIGIN, len(leaves), root,
                                                                                          at))).decode())
    session.add(checkpoint)
    session.flush()
    return checkpoint


def checkpoint_record(session: Session, checkpoint: LogCheckpoint) -> dict:
    """A checkpoint as exported (in a proof, or on its own as a witness): everything needed to check it."""
    signer = session.get(LogSigner, checkpoint.signer_sha256)
    return {"format": CHECKPOINT_FORMAT, "origin": checkpoint.origin, "size": checkpoint.size,
            "root_hash": checkpoint.root_hash, "at": checkpoint.at, "algorithm": checkpoint.algorithm,
            "signature": checkpoint.signature, "certificate_chain": signer.chain_pem if signer else ""}


@dataclass
class SignatureCheck:
    ok: bool
    signer: str = ""  # the leaf certificate's subject
    anchored: bool = False  # the chain leads to the trust anchor given
    problem: str = ""


def check_signature(body: bytes, signature_b64: str, chain_pem: str | bytes, at: str,
                    anchor_pem: bytes | None) -> SignatureCheck:
    """The checkpoint signature, the chain's own links, the leaf's validity at `at`, and the anchor if given."""
    try:
        certs = x509.load_pem_x509_certificates(chain_pem.encode() if isinstance(chain_pem, str) else chain_pem)
    except ValueError:
        return SignatureCheck(False, problem="its certificate chain is not PEM")
    leaf = certs[0]
    who = leaf.subject.rfc4514_string()
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except ValueError:
        return SignatureCheck(False, who, problem="its signature is not base64")
    if not _signature_ok(leaf.public_key(), signature, body):
        return SignatureCheck(False, who, problem=f"the signature does not verify with the key of {who}")
    for child, parent in itertools.pairwise(certs):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            return SignatureCheck(False, who, problem=f"{child.subject.rfc4514_string()} is not issued by the next "
                                                      "certificate of the chain")
    try:
        when = parse_time(at)
    except ValueError:
        return SignatureCheck(False, who, problem=f"its time {at!r} is not an ISO 8601 time")
    if not leaf.not_valid_before_utc <= when <= leaf.not_valid_after_utc:
        return SignatureCheck(False, who, problem=f"it is dated {at}, outside {who}'s validity")
    if anchor_pem is None:
        return SignatureCheck(True, who)
    anchor = x509.load_pem_x509_certificates(anchor_pem)[0]
    if certs[-1] != anchor:
        try:
            certs[-1].verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature):
            return SignatureCheck(False, who, problem=f"the signer {who} does not chain to the trust anchor "
                                                      f"{anchor.subject.rfc4514_string()}")
    return SignatureCheck(True, who, anchored=True)


def entry_coverage(session: Session, seq: int, anchor_pem: bytes | None) -> tuple[str | None, str | None]:
    """Whether the newest signed checkpoint vouches for entry `seq`: (problem, note), both None when it does.

    What `verify` and `trace` ask before they answer from one entry, short of a full `log verify`:
    the recorded leaf hashes must still make the checkpoint's signed root, and its signature must
    check (against `anchor_pem`, the production's root, when there is one). The entry's own content
    against its leaf is the caller's check. `problem`: the log was rewritten (TAMPERED); `note`: the
    entry is not signed yet (an unsigned render waits for the next signed command).
    """
    checkpoint = session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.id.desc())).first()
    if checkpoint is None or checkpoint.size <= seq:
        return None, f"change-log entry {seq} is not yet covered by a signed checkpoint"
    leaves = [_hex_or_empty(h) for h in session.scalars(select(LogEntry.leaf_hash)
                                                         .where(LogEntry.seq < checkpoint.size).order_by(LogEntry.seq))]
    name = f"signed checkpoint #{checkpoint.id}"
    if len(leaves) != checkpoint.size or merkle.root(leaves).hex() != checkpoint.root_hash:
        return (f"the change log no longer matches its {name} (entries before {checkpoint.size} were altered, "
                "removed or reordered): run `reelforge log verify`"), None
    signer = session.get(LogSigner, checkpoint.signer_sha256)
    signature = (check_signature(signed_body(checkpoint), checkpoint.signature, signer.chain_pem, checkpoint.at,
                                 anchor_pem) if signer else SignatureCheck(False, problem="its signer is missing"))
    if not signature.ok:
        return f"the {name}: {signature.problem} (forged or altered)", None
    return None, None


# --- verifying the log --------------------------------------------------------------------------

@dataclass
class LogReport:
    entries: int
    checkpoints: int
    covered: int = 0  # entries covered by the newest checkpoint that matches
    first_bad: int | None = None  # the first entry altered, removed or reordered
    first_bad_reason: str = ""
    problems: list[str] = field(default_factory=list)  # everything found, in the order checked

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def headline(self) -> str:
        """The verdict in one line: OK and what was checked, or TAMPERED and where it starts."""
        if self.ok:
            tail = self.entries - self.covered
            return (f"OK: {self.entries} entries, {self.checkpoints} signed checkpoint(s); every leaf and root "
                    "recomputed" + (f"; the newest {tail} entr{'y is' if tail == 1 else 'ies are'} not yet covered "
                                    "by a checkpoint" if tail else ""))
        if self.first_bad is not None:
            return f"TAMPERED: first bad entry: {self.first_bad}: {self.first_bad_reason}"
        return f"TAMPERED: {self.problems[0]}"

    def _bad(self, seq: int, reason: str) -> None:
        self.problems.append(reason)
        if self.first_bad is None or seq < self.first_bad:
            self.first_bad, self.first_bad_reason = seq, reason


def verify_log(session: Session, anchor_pem: bytes | None, witnesses: list[dict] | None = None) -> LogReport:
    """Recompute every leaf and every checkpoint's root; check every signature (against `anchor_pem`).

    Rows are checked one by one first (sequence gaps, content against the leaf hash recorded at
    append time, state blobs against their hashes): those findings name an entry exactly. The
    signed checkpoints then catch what per-row checks cannot — rows rewritten together with
    their recorded hashes — and bound where it happened: after the last checkpoint that still
    matches. `witnesses`: checkpoints exported earlier (checkpoint_record dicts) that the log
    must still extend.
    """
    rows = list(session.scalars(select(LogEntry).order_by(LogEntry.seq)))
    checkpoints = list(session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.id)))
    report = LogReport(entries=len(rows), checkpoints=len(checkpoints))
    leaves, moved = _check_entries(session, rows, report)
    precise = report.first_bad
    roots = [merkle.EMPTY_ROOT, *merkle.prefix_roots(leaves)]
    stored_roots = [merkle.EMPTY_ROOT, *merkle.prefix_roots(_hex_or_empty(row.leaf_hash) for row in rows)]
    good_size, previous = 0, None
    for position, checkpoint in enumerate(checkpoints):
        name = f"checkpoint #{checkpoint.id} (size {checkpoint.size}, {checkpoint.at})"
        if checkpoint.id != position and (position == 0 or checkpoints[position - 1].id == position - 1):
            report.problems.append(f"checkpoint #{position} was removed")
        if previous is not None and checkpoint.size < previous.size:
            report.problems.append(f"{name} is smaller than the checkpoint before it")
        previous = checkpoint
        signer = session.get(LogSigner, checkpoint.signer_sha256)
        signature = (check_signature(signed_body(checkpoint), checkpoint.signature, signer.chain_pem, checkpoint.at,
                                     anchor_pem) if signer else SignatureCheck(False, problem="its signer is missing"))
        if not signature.ok:  # a checkpoint that is not the production's proves nothing about the entries
            report.problems.append(f"{name}: {signature.problem} (forged or altered)")
            continue
        if checkpoint.size > len(rows):
            report._bad(len(rows), f"the log has {len(rows)} entries but the signed {name} covers {checkpoint.size}"
                        if moved else f"{_entries(len(rows), checkpoint.size)} removed: the signed {name} covers them")
            continue
        if roots[checkpoint.size].hex() == checkpoint.root_hash:
            good_size = max(good_size, checkpoint.size)
            continue
        # The per-row findings are exact when the recorded leaf hashes still make the signed root
        # (or rows removed or moved explain the difference); otherwise those hashes were rewritten
        # as well, and all the checkpoints can say is "after the last one that still matches".
        explained = precise is not None and precise < checkpoint.size and (
            moved or stored_roots[checkpoint.size].hex() == checkpoint.root_hash)
        reason = (f"entry {good_size} or one after it (up to {checkpoint.size - 1}) was altered, removed or "
                  f"reordered: the log no longer matches the signed {name}")
        if explained:
            report.problems.append(f"the signed {name} no longer matches the log")
        else:
            report._bad(good_size, reason)
    for witness in witnesses or []:
        _check_witness(witness, rows, roots, anchor_pem, report)
    # The version tables (what history, show and show render:N print) must say what the log says.
    report.problems += check_records(session)
    report.covered = good_size
    return report


def _hex_or_empty(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except (TypeError, ValueError):
        return b""


def _check_entries(session: Session, rows: list[LogEntry], report: LogReport) -> tuple[list[bytes], bool]:
    """Per-row checks (sequence, recorded leaf hash, state blobs).

    Returns the leaves recomputed from the rows' content, and whether rows were removed or moved.
    """
    leaves, gap, moved_any, searches = [], False, False, 0
    blobs = {digest: data for digest, data in session.execute(select(LogState.sha256, LogState.data))}  # one query
    for position, row in enumerate(rows):
        if row.seq != position and not gap:
            gap = True
            if row.seq > position:
                report._bad(position, f"{_entries(position, row.seq)} removed (the log jumps from {position - 1} "
                                      f"to {row.seq})")
            else:
                report._bad(position, f"entry {position} is out of order (it is numbered {row.seq})")
        content = row.content()
        leaf = entry_leaf(content)
        leaves.append(leaf)
        if leaf.hex() != row.leaf_hash:
            moved = None
            if searches < 8:  # bounded: a wholesale rewrite must not make verify quadratic
                searches += 1
                moved = _appended_as(content, row.leaf_hash, len(rows) + 1)
            if moved is not None and moved != row.seq:
                moved_any = True
                report._bad(row.seq, f"entry {row.seq} was reordered: it was appended as entry {moved}")
            else:
                report._bad(row.seq, f"entry {row.seq} was altered: its content no longer hashes to the leaf "
                                     "recorded when it was appended")
        for side, digest in (("before", row.before_sha256), ("after", row.after_sha256)):
            if digest is None:
                continue
            data = blobs.get(digest)
            if data is None:
                report._bad(row.seq, f"entry {row.seq}: its {side}-state {digest[:16]}… was removed")
            elif not isinstance(data, bytes) or hashlib.sha256(data).hexdigest() != digest:  # TEXT: altered
                report._bad(row.seq, f"entry {row.seq}: its {side}-state {digest[:16]}… was altered")
    return leaves, gap or moved_any


def _entries(start: int, stop: int) -> str:
    """'entry 4 was' / 'entries 4–6 were': entries [start, stop)."""
    return f"entry {start} was" if stop == start + 1 else f"entries {start}–{stop - 1} were"


def _appended_as(content: dict, stored_leaf: str, limit: int) -> int | None:
    """The sequence number this content had when its recorded leaf hash was made, if it moved (a reorder)."""
    for seq in range(limit):
        if entry_leaf({**content, "seq": seq}).hex() == stored_leaf:
            return seq
    return None


def _check_witness(witness: dict, rows, roots, anchor_pem, report: LogReport) -> None:
    try:
        size, root_hash = int(witness["size"]), str(witness["root_hash"])
        body = checkpoint_body(witness["origin"], size, bytes.fromhex(root_hash), witness["at"])
        signature = check_signature(body, witness["signature"], witness["certificate_chain"], witness["at"], anchor_pem)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProofError(f"not a reelforge checkpoint ({exc})") from None
    name = f"the exported checkpoint (size {size}, {witness['at']})"
    if not signature.ok:
        report.problems.append(f"{name}: {signature.problem}")
    elif size > len(rows):
        report._bad(len(rows), f"{_entries(len(rows), size)} removed: {name} covers them")
    elif roots[size].hex() != root_hash:
        report._bad(0, f"the log no longer extends {name}: entries before {size} were altered, removed or "
                       "reordered (and its own checkpoints were replaced)")


# --- inclusion proofs ---------------------------------------------------------------------------

def inclusion_proof(session: Session, seq: int) -> dict:
    """Entry `seq`, its audit path and the newest signed checkpoint: checkable on its own (check_proof)."""
    entry = session.get(LogEntry, seq)
    if entry is None:
        raise LogError(f"no entry {seq} in the change log")
    checkpoint = session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.id.desc())).first()
    if checkpoint is None or checkpoint.size <= seq:
        raise LogError(f"entry {seq} is not covered by a signed checkpoint yet (the next render, commit or "
                       "approval writes one)")
    rows = list(session.scalars(select(LogEntry).where(LogEntry.seq < checkpoint.size).order_by(LogEntry.seq)))
    leaves = [entry_leaf(row.content()) for row in rows]
    if len(leaves) != checkpoint.size or merkle.root(leaves).hex() != checkpoint.root_hash:
        raise LogError(f"the log no longer matches its newest checkpoint (#{checkpoint.id}); "
                       "run `reelforge log verify`")
    states = {digest: state(session, digest) for digest in (entry.before_sha256, entry.after_sha256) if digest}
    return {"format": PROOF_FORMAT, "entry": entry.content(), "states": states, "leaf_index": seq,
            "tree_size": checkpoint.size, "leaf_hash": leaves[seq].hex(),
            "audit_path": [h.hex() for h in merkle.inclusion_path(leaves, seq)],
            "checkpoint": checkpoint_record(session, checkpoint)}


@dataclass
class ProofCheck:
    ok: bool
    entry: dict
    problems: list[str]
    signer: str = ""
    anchored: bool = False


def check_proof(proof: dict, anchor_pem: bytes | None = None) -> ProofCheck:
    """Check an exported inclusion proof with nothing but itself (and a trust anchor, if given).

    Raises ProofError when `proof` is not shaped like one.
    """
    try:
        if proof.get("format") != PROOF_FORMAT:
            raise ProofError(f"not a reelforge inclusion proof (format {proof.get('format')!r}, "
                             f"expected {PROOF_FORMAT!r})")
        entry, checkpoint = dict(proof["entry"]), dict(proof["checkpoint"])
        index, size = int(proof["leaf_index"]), int(proof["tree_size"])
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        root = bytes.fromhex(checkpoint["root_hash"])
        body = checkpoint_body(checkpoint["origin"], int(checkpoint["size"]), root, checkpoint["at"])
        leaf = entry_leaf(entry)
        states = dict(proof.get("states") or {})
        signature = check_signature(body, checkpoint["signature"], checkpoint["certificate_chain"], checkpoint["at"],
                                    anchor_pem)
    except ProofError:
        raise
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ProofError(f"not a reelforge inclusion proof ({type(exc).__name__}: {exc})") from None
    problems = []
    if index != entry["seq"]:
        problems.append(f"the proof is for leaf {index} but the entry says it is entry {entry['seq']}")
    if size != int(checkpoint["size"]):
        problems.append(f"the proof is for a tree of {size} entries but the checkpoint signs {checkpoint['size']}")
    if not merkle.verify_inclusion(index, size, leaf, path, root):
        problems.append("the entry and its audit path do not lead to the signed root: the entry or the path "
                        "was altered")
    for digest, value in states.items():
        if hashlib.sha256(canonical_json(value)).hexdigest() != digest:
            problems.append(f"the state {digest[:16]}… in the proof was altered")
        elif digest not in (entry.get("before_sha256"), entry.get("after_sha256")):
            problems.append(f"the state {digest[:16]}… is not one of this entry's")
    if not signature.ok:
        problems.append(f"the checkpoint: {signature.problem}")
    return ProofCheck(not problems, entry, problems, signature.signer, signature.anchored)
