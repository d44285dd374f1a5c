"""Committing a spec: what `reelforge commit` and a saved shot edit both do to record a state.

Removals that other entities still reference are refused first; the change log's checkpoint is
signed with the production's identity, which a first commit creates under the production's lock
(or, while a render holds the lock, the one that render already made).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reelforge.deliver.options import signing_identity
from reelforge.records.versions import CommitResult, check_removals, commit_spec
from reelforge.spec.load import load_production
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionBusy, ProductionPaths


def commit_file(paths: ProductionPaths, spec_file: Path, *, actor: str, reason: str,
                announce: Callable[[str], None] | None = None) -> CommitResult:
    """Record the state `spec_file` holds as a commit of the production at `paths`.

    `spec_file` is the spec itself, or a candidate beside it that is about to replace it. Raises
    RecordsError (a refused removal), DeliveryError (an unusable signing identity) or SpecError.
    """
    if paths.catalog.exists():  # said before validation, which would only say "unknown character"
        with Catalog(paths.catalog) as catalog:
            check_removals(catalog, spec_file)
    production = load_production(spec_file)
    try:
        with paths.lock():
            identity = signing_identity(production, paths.root, announce=announce)
    except ProductionBusy:  # a render holds the lock: it has made the identity already; commit beside it
        identity = signing_identity(production, paths.root)
    with Catalog(paths.catalog) as catalog:
        return commit_spec(catalog, production, spec_file, actor=actor, reason=reason, identity=identity)
