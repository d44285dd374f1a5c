"""`reelforge log …` and `reelforge approve`: list, verify, prove and approve in the change log.

Exit codes: 0 success, 1 a check failed (the log or a proof does not verify, the production is
busy), 2 bad input (no spec, bad date, unknown entity, malformed proof file).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy import select

from reelforge.app.approve import ApprovalRefused
from reelforge.app.approve import approve as approve_entity
from reelforge.app.log_view import time_bound
from reelforge.cli.console import (
    ProductionOption,
    SpecArgument,
    console,
    fail,
    load_or_exit,
    spec_argument,
    spec_or_production,
    trust_anchor,
)
from reelforge.deliver.options import DeliveryError
from reelforge.records import changelog
from reelforge.records.actors import current_actor
from reelforge.spec.json_problems import FileProblem, check_depth, check_size
from reelforge.store.atomic import write_text
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionBusy, ProductionPaths
from reelforge.store.schema import LogCheckpoint, LogEntry
from reelforge.trust.identity import CredentialsError, load_anchor

app = typer.Typer()


class _LogGroup(typer.core.TyperGroup):
    """`reelforge log [SPEC] [filters]` lists; `reelforge log verify|proof|check-proof|checkpoint …` act."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


log_app = typer.Typer(cls=_LogGroup, help="The production's tamper-evident change log: list, verify, prove. "
                                          "`reelforge log [SPEC]` lists entries (same as `log list`).")
app.add_typer(log_app, name="log")


def _time_option(name: str, text: str | None, end: bool) -> dt.datetime | None:
    """A date (the whole day) or an ISO 8601 time (UTC if no offset); `end`: the exclusive upper bound."""
    if text is None:
        return None
    try:
        return time_bound(text, end)
    except ValueError:
        raise fail(f"{name} {text!r}: give a date (2026-03-01) or an ISO 8601 time (2026-03-01T14:00:00Z)") from None


def _with_log(spec: Path | None) -> ProductionPaths:
    """The production SPEC names (or the one here), which must have a change log (exit 2 if not)."""
    paths = spec_argument(spec)
    if not paths.catalog.exists():
        raise fail(f"{paths.root} has no change log yet")
    return paths


def _print_or_write(text: str, output: Path | None, written: str) -> None:
    """A JSON export on stdout, or written (atomically) to `output` and said so."""
    if output is None:
        print(text)
        return
    write_text(output, text + "\n")
    console.print(written, highlight=False)


def _read_json(path: Path, what: str) -> dict:
    """A proof or checkpoint file someone handed over: size and nesting bounded before it is parsed."""
    try:
        check_size(path.stat().st_size)
        text = path.read_text(encoding="utf-8")
        check_depth(text)
        value = json.loads(text)
    except FileNotFoundError:
        raise fail(f"{path}: no such file") from None
    except FileProblem as exc:
        raise fail(f"{path}: not a {what} ({exc})") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise fail(f"{path}: not a {what} (not JSON: {exc})") from None
    if not isinstance(value, dict):
        raise fail(f"{path}: not a {what}")
    return value


@log_app.command("list")
def log_list(
    spec: SpecArgument = None,
    entity: Annotated[str | None, typer.Option(help="only this entity, e.g. shot:s01e01/sc01/sh03")] = None,
    actor: Annotated[str | None, typer.Option(help="only changes by this person")] = None,
    since: Annotated[str | None, typer.Option(help="from this date or ISO 8601 time (UTC unless it says)")] = None,
    until: Annotated[str | None, typer.Option(help="up to this date (the whole day) or time, inclusive")] = None,
    kind: Annotated[str | None, typer.Option(help="commit, asset, render, approval, key-change or gc")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="entries with their before/after states, as JSON")] = False,
) -> None:
    """List change-log entries, oldest first."""
    paths = spec_argument(spec)
    if kind is not None and kind not in changelog.KINDS:
        raise fail(f"--kind must be one of {', '.join(changelog.KINDS)}, got {kind!r}")
    start, stop = _time_option("--since", since, False), _time_option("--until", until, True)
    rows: list[dict] = []
    if paths.catalog.exists():
        with Catalog(paths.catalog) as catalog, catalog.session() as session:
            for entry in changelog.entries(session, entity=entity, actor=actor, kind=kind, since=start, until=stop):
                rows.append({**entry.content(), "before": changelog.state(session, entry.before_sha256),
                             "after": changelog.state(session, entry.after_sha256)})
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        console.print("no change-log entries" + (" match" if any((entity, actor, kind, since, until)) else " yet"))
        return
    table = Table(title=f"change log of {paths.root.name}", title_justify="left")
    for column in ("#", "UTC", "actor", "kind", "entity", "v", "reason"):
        table.add_column(column, overflow="fold", no_wrap=column in ("#", "UTC", "kind", "v"),
                         ratio=2 if column == "reason" else None)
    for row in rows:
        when = changelog.parse_time(row["at"]).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(row["seq"]), when, row["actor"], row["kind"], row["entity"],
                      "" if row["version"] is None else str(row["version"]), row["reason"])
    console.print(table, highlight=False)


@log_app.command("verify")
def log_verify(
    spec: SpecArgument = None,
    trust: Annotated[Path | None, typer.Option(help="trust anchor PEM (default: the production's root)")] = None,
    witness: Annotated[list[Path] | None, typer.Option(help="a checkpoint exported earlier (`log checkpoint`) that "
                                                           "the log must still contain (repeatable)")] = None,
) -> None:
    """Recompute every leaf and root, check every signed checkpoint; name the first bad entry (exit 1)."""
    paths = spec_argument(spec)
    anchor = trust_anchor(paths, trust)
    exported = [_read_json(w, "reelforge checkpoint") for w in witness or []]
    if not paths.catalog.exists() and not exported:
        console.print(f"OK: {paths.root.name} has no change log yet")
        return
    with Catalog(paths.catalog) as catalog, catalog.session() as session:
        catalog.check()  # SQLite keeps no checksums: a damaged page is said (exit 3) before the log is read
        try:
            report = changelog.verify_log(session, anchor, exported)
        except changelog.ProofError as exc:
            raise fail(f"--witness: {exc}") from None
    if anchor is None:
        console.print("[yellow]no trust anchor found[/] (pass --trust root.pem): checkpoint signatures were checked "
                      "against the certificates stored in the log only", highlight=False)
    verdict, _, rest = report.headline.partition(":")
    console.print(Text.assemble((verdict, "green" if report.ok else "bold red"), ":", rest), highlight=False)
    if report.ok:
        return
    for problem in report.problems:
        if problem not in (report.first_bad_reason, report.problems[0] if report.first_bad is None else None):
            console.print(f"  {problem}", highlight=False, markup=False)
    raise typer.Exit(1)


@log_app.command("proof")
def log_proof(
    seq: Annotated[int, typer.Argument(help="the entry's number (first column of `reelforge log`)")],
    spec: SpecArgument = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write here (default: print)")] = None,
) -> None:
    """Export an inclusion proof of one entry that `reelforge log check-proof` checks on its own."""
    paths = _with_log(spec)
    with Catalog(paths.catalog) as catalog, catalog.session() as session:
        if session.get(LogEntry, seq) is None:
            raise fail(f"no entry {seq} in the change log of {paths.root.name}")
        try:
            proof = changelog.inclusion_proof(session, seq)
        except changelog.LogError as exc:  # not signed yet, or the log no longer matches its checkpoint
            raise fail(str(exc), code=1) from None
    _print_or_write(json.dumps(proof, indent=2, ensure_ascii=False), output,
                    f"wrote the inclusion proof of entry {seq} (tree of {proof['tree_size']}) to {output}")


@log_app.command("check-proof")
def log_check_proof(
    proof: Annotated[Path, typer.Argument(help="a proof from `reelforge log proof`")],
    trust: Annotated[Path | None, typer.Option(help="trust anchor PEM the checkpoint's signer must chain to")] = None,
) -> None:
    """Check an inclusion proof with nothing but the file (exit 1 if it does not prove the entry)."""
    proof_data = _read_json(proof, "reelforge inclusion proof")
    try:
        anchor = load_anchor(trust) if trust is not None else None
    except CredentialsError as exc:
        raise fail(str(exc)) from None
    try:
        result = changelog.check_proof(proof_data, anchor)
    except changelog.ProofError as exc:
        raise fail(f"{proof}: {exc}") from None
    entry = result.entry
    console.print(f"entry {entry.get('seq')}: {entry.get('kind')} {entry.get('entity')} by {entry.get('actor')} "
                  f"at {entry.get('at')}: {entry.get('reason')}", highlight=False, markup=False)
    if not result.ok:
        for problem in result.problems:
            console.print(f"  {problem}", highlight=False, markup=False)
        console.print("[bold red]NOT PROVEN[/]")
        raise typer.Exit(1)
    size = proof_data["tree_size"]
    if result.anchored:
        console.print(f"[green]PROVEN[/]: included in the log of {size} entries signed by {result.signer}, "
                      "which chains to the trust anchor", highlight=False)
    else:
        console.print(f"[green]PROVEN[/]: included in the log of {size} entries signed by {result.signer}; "
                      "[yellow]the signer was not checked against a trust anchor[/] (pass --trust root.pem)",
                      highlight=False)


@log_app.command("checkpoint")
def log_checkpoint(
    spec: SpecArgument = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write here (default: print)")] = None,
) -> None:
    """Export the newest signed checkpoint: keep it elsewhere, and `log verify --witness` it later."""
    paths = _with_log(spec)
    with Catalog(paths.catalog) as catalog, catalog.session() as session:
        latest = session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.id.desc())).first()
        if latest is None:
            raise fail(f"{paths.root} has no signed checkpoint yet")
        record = changelog.checkpoint_record(session, latest)
    _print_or_write(json.dumps(record, indent=2), output,
                    f"wrote checkpoint #{latest.id} (size {latest.size}) to {output}; keep it elsewhere and pass it "
                    "to `reelforge log verify --witness` later")


@app.command()
def approve(
    entity: Annotated[str, typer.Argument(help="what is approved, e.g. shot:s01e01/sc01/sh03 or episode:s01e01")],
    spec: SpecArgument = None,
    message: Annotated[str, typer.Option("-m", "--message", help="why (recorded in the change log)")] = ...,
    actor: Annotated[str | None, typer.Option(help="who approves (default: $REELFORGE_ACTOR or your login)")] = None,
    production: ProductionOption = None,
) -> None:
    """Record an approval (of a shot's or episode's latest render, say) in the change log."""
    if not message.strip():
        raise fail("-m/--message: say why (the reason is part of the record)")
    paths = spec_or_production(spec, production, "to record the approval in")
    production = load_or_exit(paths.spec)
    try:
        approval = approve_entity(paths, production, entity, message, actor or current_actor(), announce=console.print)
    except ApprovalRefused as exc:
        raise fail(str(exc)) from None
    except DeliveryError as exc:
        raise fail(f"{paths.spec}: {exc}") from None
    except ProductionBusy as exc:
        raise fail(str(exc), code=1) from None
    what = f" (render #{approval.render['render_id']})" if approval.render else ""
    console.print(f"approved {entity}{what} as entry {approval.seq} by {approval.actor}; "
                  f"checkpoint #{approval.checkpoint_id} signed", highlight=False, markup=False)
