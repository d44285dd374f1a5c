"""Every delivery the catalog records, with its Content Credentials checked against its trust anchor.

What a producer asks of the files that left the studio: is each one still exactly what we
signed, and does it chain to our root? Checking a signature reads and hashes the whole file,
so results are kept in memory per (file, size, modification time, inode, anchor): a file that
changes in any way is checked again, an unchanged one is not.

Files are read only where the catalog says a delivery was written, and only when that path
lies inside the production folder (links resolved): a catalog edited to point elsewhere makes
the page say so, not read the file.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths, inside_production
from reelforge.store.schema import DeliveryRecord, LocalizedDelivery, RenderRecord
from reelforge.trust.anchors import delivery_anchor
from reelforge.trust.credentials import read_credentials, summarize, verify_credentials
from reelforge.trust.identity import CredentialsError, load_anchor

UNTRUSTED = "signingCredential.untrusted"  # the C2PA code of a chain that does not lead to the anchor
# state → what a person reads
LABELS = {"trusted": "Trusted", "untrusted": "valid but untrusted", "invalid": "invalid", "unsigned": "unsigned",
          "missing": "file missing", "outside": "outside the production folder (not read)",
          "no-anchor": "no trust anchor to check against", "unreadable": "cannot be read"}


@dataclass(frozen=True)
class CredentialsStatus:
    """One file's verify outcome: `state` is a key of LABELS."""

    state: str
    failures: tuple[tuple[str, str], ...] = ()  # (C2PA status code, explanation)
    summary: dict | None = None  # credentials.summarize() of the active manifest
    anchor: str | None = None  # the anchor's file name, for the reader

    @property
    def label(self) -> str:
        return LABELS[self.state]

    @property
    def ok(self) -> bool:
        return self.state == "trusted"


@dataclass(frozen=True)
class DeliveryCredentials:
    """A recorded delivery and its credentials as they are now."""

    render_id: int
    kind: str  # "episode", "shot", "language fr", "language fr (burned titles)"
    episode_id: str
    file: str  # relative to the production folder (as recorded when it lies outside)
    delivered_at: str  # UTC, ISO 8601
    actor: str
    signed: bool  # recorded as signed when delivered
    mark_id: str | None
    status: CredentialsStatus


def relative_name(paths: ProductionPaths, recorded: str | Path) -> str:
    """A recorded delivery's path as a person reads it: relative to the production, or as recorded."""
    root = paths.root.resolve()
    candidate = Path(recorded)
    for path in (candidate, candidate.resolve()):
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return str(candidate)


class VerifyCache:
    """Verify results by (path, size, mtime, ctime, inode, anchor digest), most recent `capacity` kept."""

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._results: OrderedDict[tuple, CredentialsStatus] = OrderedDict()
        self.misses = 0  # verifications actually run (for tests and curiosity)

    def status(self, path: Path, anchor_path: Path | None) -> CredentialsStatus:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return CredentialsStatus("missing")
        try:
            anchor = load_anchor(anchor_path) if anchor_path is not None else None
        except CredentialsError:
            anchor = None
        key = (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino,
               hashlib.sha256(anchor).hexdigest() if anchor else None)
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        result = check_file(path, anchor, anchor_path.name if anchor_path else None)
        with self._lock:
            self.misses += 1
            self._results[key] = result
            while len(self._results) > self.capacity:
                self._results.popitem(last=False)
        return result


def check_file(path: Path, anchor_pem: bytes | None, anchor_name: str | None = None) -> CredentialsStatus:
    """Verify one file against `anchor_pem` (None: no anchor; read the manifest only to say what it claims)."""
    try:
        if anchor_pem is None:
            store = read_credentials(path)
            return CredentialsStatus("unsigned" if store is None else "no-anchor",
                                     summary=summarize(store) if store else None)
        result = verify_credentials(path, anchor_pem)
    except CredentialsError as exc:
        return CredentialsStatus("missing" if not path.exists() else "unreadable",
                                 failures=(("file", str(exc).removeprefix(f"{path}: ")),))
    if result.ok:
        state = "trusted"
    elif result.state == "unsigned":
        state = "unsigned"
    elif result.state == "Valid" or (result.failures and all(code == UNTRUSTED for code, _ in result.failures)):
        state = "untrusted"  # intact, but not signed under this anchor
    else:
        state = "invalid"
    return CredentialsStatus(state, tuple(result.failures), result.summary, anchor_name)


VERIFIED = VerifyCache()  # one per process: every page view and every viewer share it


def delivery_credentials(paths: ProductionPaths, cache: VerifyCache | None = None) -> list[DeliveryCredentials]:
    """Every delivery the catalog records, newest first, each with its credentials checked now."""
    cache = cache or VERIFIED
    if not paths.catalog.exists():
        return []
    query = (select(RenderRecord, DeliveryRecord, LocalizedDelivery)
             .outerjoin(DeliveryRecord, DeliveryRecord.render_id == RenderRecord.id)
             .outerjoin(LocalizedDelivery, LocalizedDelivery.render_id == RenderRecord.id)
             .order_by(RenderRecord.id.desc()))
    with Catalog(paths.catalog) as catalog, catalog.session() as session:
        rows = list(session.execute(query))
    found = []
    for render, delivery, language in rows:
        kind = render.kind
        if language is not None:
            kind = f"language {language.language}" + (" (burned titles)" if language.burned_titles else "")
        path = inside_production(paths.root, render.output_path)
        if path is None:
            status = CredentialsStatus("outside")
        else:
            status = cache.status(path, delivery_anchor(paths, delivery.credentials_json if delivery else None))
        found.append(DeliveryCredentials(
            render_id=render.id, kind=kind, episode_id=render.episode_id,
            file=relative_name(paths, render.output_path), delivered_at=render.finished_at,
            actor=delivery.rendered_by if delivery else "unknown", signed=bool(delivery and delivery.signed),
            mark_id=delivery.mark_id if delivery else None, status=status))
    return found


@dataclass
class CredentialsTally:
    """How many deliveries are in each state (for the page's headline)."""

    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, deliveries: list[DeliveryCredentials]) -> CredentialsTally:
        counts: dict[str, int] = {}
        for delivery in deliveries:
            counts[delivery.status.state] = counts.get(delivery.status.state, 0) + 1
        return cls(counts)
