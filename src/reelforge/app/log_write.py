"""Writing to the signed change log beside a render: statuses, notes, approvals and commits.

A render holds the production's lock for its whole length; a director's review status or note must
not wait for it (nor be refused). So the log's own writes are serialised by SQLite's write lock
(`BEGIN IMMEDIATE`: two writers never pick the same sequence number), and the production's lock is
taken only to create the signing identity and the catalog when they are missing, waiting a little
for another command creating them too. A render that holds the lock longer made both already.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from reelforge.deliver.options import signing_identity
from reelforge.records import changelog
from reelforge.spec.model import Production
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionBusy, ProductionPaths
from reelforge.trust.identity import CHAIN, Identity

CREATION_WAIT_S = 10.0  # how long a first write waits for another command creating the identity and catalog


def log_identity(paths: ProductionPaths, production: Production, what: str,
                 announce: Callable[[str], None] | None = None) -> Identity:
    """The identity that signs the log's checkpoints, creating it (and the catalog) under the lock when missing."""
    own_identity_missing = production.signing is None and not (paths.identity / CHAIN).exists()
    if not paths.catalog.exists() or own_identity_missing:
        try:
            with paths.lock(what, wait=CREATION_WAIT_S), Catalog(paths.catalog):
                return signing_identity(production, paths.root, announce=announce)
        except ProductionBusy:  # a render holds the lock: it made both; go on beside it
            pass
    return signing_identity(production, paths.root)


@dataclass
class SignedWrite:
    """The session to append entries in; after the block, the signed checkpoint that covers them."""

    session: Session
    checkpoint_id: int | None = None


@contextmanager
def signed_write(paths: ProductionPaths, production: Production, what: str,
                 announce: Callable[[str], None] | None = None) -> Iterator[SignedWrite]:
    """Append entries under SQLite's write lock, then sign a checkpoint over them and commit (all or nothing).

    Raises DeliveryError (an unusable signing identity) or ProductionBusy (another command still
    creating the identity after CREATION_WAIT_S).
    """
    identity = log_identity(paths, production, what, announce)
    with Catalog(paths.catalog) as catalog, catalog.session() as session:
        session.execute(text("BEGIN IMMEDIATE"))
        write = SignedWrite(session)
        yield write
        checkpoint = changelog.write_checkpoint(session, identity)
        write.checkpoint_id = checkpoint.id if checkpoint is not None else None
        session.commit()
