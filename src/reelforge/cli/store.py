"""`reelforge store du | gc`: how big the frame store is and what of it is superseded; removing what is.

Exit codes: 0 success, 1 the production is busy (a render holds its lock), 2 bad input (no spec, a spec
that does not plan, a bad --older-than).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from reelforge.app.render_request import RenderRefused
from reelforge.app.store_du import PARTS, store_usage
from reelforge.app.store_gc import UNREFERENCED, GcPlan, collect_garbage, plan_gc
from reelforge.app.store_retention import SUPERSEDED, retention
from reelforge.cli.console import SpecArgument, console, fail, load_or_exit, refused, spec_argument
from reelforge.deliver.options import DeliveryError
from reelforge.records.actors import current_actor
from reelforge.spec.store import format_size, parse_age_days
from reelforge.store.paths import ProductionBusy

app = typer.Typer()
store_app = typer.Typer(help="The frame store: its size by episode, shot and version (du), and removing superseded "
                             "versions (gc). See docs/store.md.", no_args_is_help=True)
app.add_typer(store_app, name="store")

SHORT_KEY = 8  # hex digits of a job key shown: enough to tell versions apart, short enough to read


@store_app.command("du")
def du(
    spec: SpecArgument = None,
    as_json: Annotated[bool, typer.Option("--json", help="every version and part with its bytes, as JSON")] = False,
) -> None:
    """The store's size by episode, shot and version; what is kept (and why) and what is superseded."""
    paths = spec_argument(spec)
    production = load_or_exit(paths.spec)
    try:
        usage = store_usage(retention(paths, production), production.store.keep_superseded_days)
    except RenderRefused as exc:
        raise refused(exc) from None
    if as_json:
        print(json.dumps(usage.to_json(), indent=2))
        return
    tables: dict[str, Table] = {}  # one an episode, no side rules: fits 80 columns
    shown_shot = None
    for v in usage.versions:
        episode, _, shot = v.shot_path.partition("/")
        if episode not in tables:
            tables[episode] = table = Table(title=f"{paths.root.name}: {episode}", title_justify="left",
                                            box=box.SIMPLE, show_edge=False, pad_edge=False)
            table.add_column("shot", no_wrap=True, min_width=max(len(v.shot_path.partition("/")[2]) for v in usage.versions))
            table.add_column("version", no_wrap=True, min_width=SHORT_KEY)
            table.add_column("status")  # the one column that wraps when the terminal is narrow
            for column in ("frames", "size", "last used"):
                table.add_column(column, justify="right", no_wrap=True, min_width=len(column))
        tables[episode].add_row(shot if v.shot_path != shown_shot else "", v.job_key[:SHORT_KEY],
                                f"[yellow]{v.status}[/]" if v.status == SUPERSEDED else v.status, str(v.frames),
                                format_size(v.bytes), _age(v.age_days))
        shown_shot = v.shot_path
    for table in tables.values():
        console.print(table, highlight=False)
    parts = Table(title="the rest of .reelforge", title_justify="left", box=box.SIMPLE, show_edge=False,
                  pad_edge=False)
    parts.add_column("part")
    parts.add_column("size", justify="right")
    for name, size in usage.parts.items():
        parts.add_row(name + ("" if name in PARTS else " (superseded)"), format_size(size))
    console.print(parts, highlight=False)
    console.print(f"total {format_size(usage.total)}: kept {format_size(usage.kept)}, superseded "
                  f"{format_size(usage.superseded)}; `reelforge store gc` (superseded unused for "
                  f"{usage.keep_superseded_days}d) would free {format_size(usage.gc_frees)}", highlight=False)


@store_app.command("gc")
def gc(
    spec: SpecArgument = None,
    older_than: Annotated[str | None, typer.Option(help="remove superseded versions unused this long, e.g. 30d "
                                                         "(0d: all of them now; default: the spec's "
                                                         "store.keep_superseded)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would go and the space freed; "
                                                            "remove nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="what was (or would be) removed, as JSON")] = False,
    actor: Annotated[str | None, typer.Option(help="who runs it (default: $REELFORGE_ACTOR or your login)")] = None,
) -> None:
    """Remove superseded versions' frames, segments and job folders: never what a latest render, an approval,
    a delivered file or the current spec needs. Logged in the change log."""
    if older_than is not None:
        try:
            days, policy = parse_age_days(older_than), f"--older-than {older_than.strip()}"
        except ValueError as exc:
            raise fail(f"--older-than: {exc}") from None
    paths = spec_argument(spec)
    production = load_or_exit(paths.spec)
    if older_than is None:
        days, policy = production.store.keep_superseded_days, f"store.keep_superseded {production.store.keep_superseded}"
    try:
        if dry_run:
            plan, seq = plan_gc(retention(paths, production), days), None
        else:
            result = collect_garbage(paths, production, days, policy, actor or current_actor(),
                                     announce=None if as_json else console.print)
            plan, seq = result.plan, result.seq
    except RenderRefused as exc:
        raise refused(exc) from None
    except ProductionBusy as exc:
        raise fail(str(exc), code=1) from None
    except DeliveryError as exc:
        raise fail(f"{paths.spec}: {exc}") from None
    if as_json:
        print(json.dumps({"dry_run": dry_run, "policy": policy, "log_entry": seq, **plan.to_json()}, indent=2))
        return
    _print_plan(plan, dry_run)
    counts = plan.counts()
    what = (f"{counts['versions']} superseded version(s): {counts['frames']} frame(s), {counts['segments']} "
            f"segment(s), {format_size(plan.bytes)}")
    if counts["unreferenced_frames"]:
        what += f" ({counts['unreferenced_frames']} of those frames named by no version)"
    if dry_run:
        console.print(f"dry run ({policy}): would remove {what}; nothing was removed", highlight=False)
    elif seq is None:
        console.print(f"nothing to remove ({policy}): every superseded version is newer, or none is stored",
                      highlight=False)
    else:
        console.print(f"removed {what} ({policy}); change-log entry {seq}", highlight=False)


def _print_plan(plan: GcPlan, dry_run: bool) -> None:
    if not plan.removals:
        return
    table = Table(title="would remove" if dry_run else "removed", title_justify="left", box=box.SIMPLE,
                  show_edge=False, pad_edge=False)
    for column in ("shot", "version", "frames", "segments", "size", "last used"):
        table.add_column(column, justify="left" if column in ("shot", "version") else "right", no_wrap=True)
    for r in plan.removals:
        table.add_row(r.shot_path, r.job_key[:SHORT_KEY] if r.job_key else UNREFERENCED, str(len(r.frames)),
                      str(len(r.segments)), format_size(r.bytes), _age(r.age_days) if r.job_key else "")
    console.print(table, highlight=False)


def _age(days: float) -> str:
    return "today" if days < 1 else f"{int(days)}d ago"
