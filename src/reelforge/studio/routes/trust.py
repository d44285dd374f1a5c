"""Trust and records: each delivery's Content Credentials, the change log and its check, energy, tracing a file.

Every page here reads what the library reads for the command line (`credentials verify`,
`log` / `log verify`, `energy`, `trace`); the routes only parse the request and show the result.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from reelforge.app.checked_records import find_marked, render_audits
from reelforge.app.log_view import (
    BadFilter,
    log_page,
    log_status,
    parse_filter,
    parse_page,
)
from reelforge.energy.chart import energy_charts
from reelforge.energy.report import energy_report
from reelforge.records.changelog import KINDS
from reelforge.store.catalog import existing_catalog
from reelforge.studio.pages import is_htmx, page, studio
from reelforge.studio.uploads import VIDEO_CONTAINERS, UploadRefused, store_multipart
from reelforge.trust.deliveries import (
    LABELS,
    CredentialsTally,
    delivery_credentials,
    relative_name,
)
from reelforge.trust.identity import CredentialsError
from reelforge.trust.trace import NotAVideo, trace_file

router = APIRouter()

LOG_FILTERS = ("actor", "entity", "kind", "since", "until", "text")


@router.get("/credentials")
async def credentials(request: Request) -> HTMLResponse:
    """Every delivery, newest first, with its credentials verified now (unchanged files from the cache)."""
    paths = studio(request).paths
    deliveries = await run_in_threadpool(delivery_credentials, paths)
    audits = await run_in_threadpool(render_audits, paths, [d.render_id for d in deliveries])  # the rows shown
    template = "trust_credentials_rows.html" if is_htmx(request) else "trust_credentials.html"
    return page(request, template, deliveries=deliveries, tally=CredentialsTally.of(deliveries).counts, labels=LABELS,
                audits=audits)


@router.get("/log")
async def change_log(request: Request) -> HTMLResponse:
    """The change log, newest first, filtered by the query (actor, entity, kind, since, until, text; page)."""
    query = request.query_params
    raw = {name: query.get(name, "") for name in LOG_FILTERS}
    try:
        where = parse_filter(**raw)
        number, per_page = parse_page(query.get("page"), query.get("per_page"))
    except BadFilter as exc:
        return page(request, "trust_log.html", status_code=400, error=str(exc), error_field=exc.field, raw=raw,
                    kinds=KINDS, status=None, log=None, links={})
    paths = studio(request).paths
    status = await run_in_threadpool(log_status, paths)
    log = await run_in_threadpool(log_page, paths, where, number, per_page)
    links = _page_links(raw, log.page, log.pages, query.get("per_page"))
    template = "trust_log_results.html" if is_htmx(request) else "trust_log.html"
    return page(request, template, error=None, error_field=None, raw=raw, kinds=KINDS, status=status, log=log,
                links=links, filtered=where.active)


def _page_links(raw: dict[str, str], number: int, pages: int, per_page: str | None) -> dict[str, dict]:
    """Query parameters of the newer/older pages, keeping the filters."""
    kept = {name: value for name, value in raw.items() if value}
    if per_page:
        kept["per_page"] = per_page
    links = {}
    if number > 1:
        links["newer"] = {**kept, "page": str(number - 1)}
    if number < pages:
        links["older"] = {**kept, "page": str(number + 1)}
    return links


def _energy_rows(paths) -> list[dict]:
    with existing_catalog(paths.catalog) as catalog:
        return catalog.energy_rows() if catalog is not None else []


@router.get("/energy")
async def energy(request: Request) -> HTMLResponse:
    """kWh per render and per finished minute: a chart and a table, with how each figure was obtained."""
    paths = studio(request).paths
    rows = await run_in_threadpool(_energy_rows, paths)
    report = energy_report(rows) if rows else None
    charts = energy_charts(report) if report else []
    for render in report["renders"] if report else []:
        render["file"] = relative_name(paths, render["output_path"])
    template = "trust_energy_body.html" if is_htmx(request) else "trust_energy.html"
    return page(request, template, report=report, charts=charts)


@router.get("/trace")
def trace_form(request: Request) -> HTMLResponse:
    return page(request, "trust_trace.html", limit=studio(request).uploads.limit, containers=VIDEO_CONTAINERS)


@router.post("/trace")
async def trace_upload(request: Request) -> Response:
    """Take in the upload (multipart field `file`), read its mark, name the render it came from; then remove it.

    The upload is checked as it arrives (studio/uploads.py) and held only while it is traced.
    """
    state = studio(request)
    try:
        upload = await store_multipart(request.stream(), request.headers.get("content-type", ""),
                                       request.headers.get("content-length"), state.uploads, field="file")
    except UploadRefused as exc:
        return page(request, "trust_trace_result.html", status_code=exc.status, error=str(exc), trace=None)
    except ClientDisconnect:  # the browser went away mid-upload: nothing was kept, and no one reads an answer
        return Response(status_code=400)
    with upload:
        try:
            found = await run_in_threadpool(trace_file, upload.path, state.paths, find_marked)
        except NotAVideo:
            return page(request, "trust_trace_result.html", status_code=415, trace=None,
                        error=f"the file is not a video this decoder can read (send an {VIDEO_CONTAINERS} copy)")
        except CredentialsError as exc:  # the production's mark key cannot be read: the studio's to fix
            return page(request, "trust_trace_result.html", status_code=500, trace=None, error=str(exc))
    delivered = relative_name(state.paths, found.render.output_path) if found.render is not None else None
    return page(request, "trust_trace_result.html", error=None, trace=found, stored=upload, delivered=delivered)
