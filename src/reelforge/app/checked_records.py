"""A render's catalog rows, checked against its signed change-log entry before anything answers from them.

`verify`, `trace`, `status`, `show render:N` and the studio's credentials page read a render's
rows; a row edited in the database file (triggers dropped, as anyone with the file can) must make
them say TAMPERED, not answer wrongly. A check reads the rows of the renders it answers about and
the render entries (records/audit.py `check_render`: a few queries, not the whole `log verify`);
`verify` and `trace` also hold the entry against the newest signed checkpoint (its leaf hashes and
one signature), since an entry rewritten with its own hashes still agrees with its rows.
"""

from __future__ import annotations

import dataclasses

from reelforge.records.audit import (
    RenderAudit,
    check_render,
    check_render_records,
    logged_render_for_mark,
    render_entries,
)
from reelforge.records.changelog import entry_coverage
from reelforge.store.catalog import Catalog, existing_catalog
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import DeliveryMarkKey, DeliveryRecord, RenderRecord
from reelforge.trust.anchors import production_anchor
from reelforge.trust.identity import CredentialsError, load_anchor
from reelforge.trust.mark import PUBLIC_PATTERN, MarkResult
from reelforge.trust.trace import Trace


def render_audit(paths: ProductionPaths, render_id: int) -> RenderAudit:
    """One render's rows against its change-log entry, and that entry against the signed checkpoints."""
    with Catalog(paths.catalog) as catalog, catalog.session() as session:
        return _vouched(session, check_render(session, render_id), paths)


def _vouched(session, audit: RenderAudit, paths: ProductionPaths) -> RenderAudit:
    """The audit with what the newest signed checkpoint says of its entry.

    An entry rewritten together with its recorded hashes still matches its rows; only the signed
    root shows it. `verify` and `trace` answer for a lawyer, so they check that root (the leaf
    hashes, one signature: milliseconds), short of the full `log verify`.
    """
    if not audit.ok or audit.entry_seq is None:
        return audit
    try:
        anchor_path = production_anchor(paths)
        anchor = load_anchor(anchor_path) if anchor_path is not None else None
    except CredentialsError:
        anchor = None  # a broken anchor file: the signature is checked against the log's own chain
    problem, note = entry_coverage(session, audit.entry_seq, anchor)
    if problem is not None:
        return dataclasses.replace(audit, problems=(problem,))
    return dataclasses.replace(audit, unsigned=note)


def render_audits(paths: ProductionPaths, render_ids: list[int]) -> dict[int, RenderAudit]:
    """These renders' rows against their entries (none recorded: nothing to check)."""
    with existing_catalog(paths.catalog) as catalog:
        if catalog is None or not render_ids:
            return {}
        with catalog.session() as session:
            return check_render_records(session, sorted(set(render_ids)))


def find_marked(paths: ProductionPaths, mark: MarkResult) -> Trace:
    """The render whose delivery carries `mark`, looked up in the signed render entries (the editable
    `deliveries.mark_id` only for renders logged before entries recorded marks), its rows checked."""
    mark_hex = f"{mark.mark_id:016x}"
    with Catalog(paths.catalog) as catalog, catalog.session() as session:
        logged = render_entries(session)
        render_id = logged_render_for_mark(logged, mark_hex)
        if render_id is None:
            found = catalog.render_for_mark(mark.mark_id)
            if found is None:
                return Trace(mark)
            render_id = found[0].id
        audit = _vouched(session, check_render(session, render_id, logged), paths)
        render, delivery = session.get(RenderRecord, render_id), session.get(DeliveryRecord, render_id)
        made_with = session.get(DeliveryMarkKey, render_id)
    if not audit.ok:
        return Trace(mark, render, delivery, tampered=audit.problems[0])
    # The key that read the mark must be the one the delivery was marked with: a public-pattern read
    # names only a delivery marked before keying (anyone can make a public-pattern mark for any id).
    if (made_with.key_id if made_with else PUBLIC_PATTERN.key_id) != mark.key.key_id:
        return Trace(mark)
    return Trace(mark, render, delivery, note=audit.note)
