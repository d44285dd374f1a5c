"""Committing a spec: what `reelforge commit` and a saved shot edit both do to record a state.

Removals that other entities still reference are refused first; the change log's checkpoint is
signed with the production's identity. A first commit creates that identity and the catalog
under the production's lock, waiting a little for a holder that is only creating them too; while
a render holds the lock longer, the commit goes on beside it (that render made both already, and
either creation is safe without the lock as well: store/catalog.py, trust/identity.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reelforge.app.log_write import log_identity
from reelforge.records.versions import CommitResult, check_removals, commit_spec
from reelforge.spec.load import load_production
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths


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
    identity = log_identity(paths, production, "a commit", announce)
    with Catalog(paths.catalog) as catalog:
        return commit_spec(catalog, production, spec_file, actor=actor, reason=reason, identity=identity)

