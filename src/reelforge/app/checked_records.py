"""A render's catalog rows, checked against its signed change-log entry before anything answers from them.

`verify`, `trace`, `status`, `show render:N` and the studio's credentials page read a render's
rows; a row edited in the database file (triggers dropped, as anyone with the file can) must make
them say TAMPERED, not answer wrongly. Each check reads only the renders it answers about
(records/audit.py `check_render`), never the whole log: cheap enough for every page view.
"""

from __future__ import annotations

from reelforge.records.audit import (
    RenderAudit,
    check_render,
    check_render_records,
    logged_render_for_mark,
    render_entries,
)
from reelforge.store.catalog import Catalog, existing_catalog
from reelforge.store.paths import ProductionPaths
from reelforge.store.schema import DeliveryRecord, RenderRecord
from reelforge.trust.mark import MarkResult
from reelforge.trust.trace import Trace


def render_audit(paths: ProductionPaths, render_id: int) -> RenderAudit:
    """One render's rows against its change-log entry."""
    with Catalog(paths.catalog) as catalog, catalog.session() as session:
        return check_render(session, render_id)


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
        audit = check_render(session, render_id, logged)
        render, delivery = session.get(RenderRecord, render_id), session.get(DeliveryRecord, render_id)
    if not audit.ok:
        return Trace(mark, render, delivery, tampered=audit.problems[0])
    return Trace(mark, render, delivery, note=audit.note)
