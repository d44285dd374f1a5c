"""`reelforge commit | history | show | diff | refs`: the production's versions (records/versions.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from reelforge.app.commit import commit_file
from reelforge.cli.console import (
    ProductionOption,
    SpecArgument,
    console,
    errors,
    fail,
    production_option,
    shown,
    spec_file,
    spec_problems,
)
from reelforge.deliver.options import DeliveryError
from reelforge.errors import SpecError
from reelforge.records.actors import current_actor
from reelforge.records.audit import check_records
from reelforge.records.entities import RecordsError
from reelforge.records.versions import (
    ABSENT,
    casting,
    commit_details,
    diff_versions,
    get_version,
    history,
    referrers,
    render_versions,
    shots_using,
)
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths

app = typer.Typer()


def catalog_or_exit(production: Path | None) -> Catalog:
    """The catalog of --production, or of the production the current folder is in, its version tables checked.

    `history`, `show`, `diff` and `refs` answer from the version tables (commits, versions, references,
    shot states): a row edited since its change-log entry makes them say TAMPERED (exit 1), not answer.
    """
    paths = production_option(production)
    if not paths.catalog.exists():
        raise fail(f"{paths.root} has no commits recorded yet: run `reelforge commit {shown(paths.spec)} -m REASON`")
    catalog = Catalog(paths.catalog)
    with catalog.session() as session:
        problems = check_records(session, with_renders=False)
    if problems:
        catalog.close()
        raise fail(f"TAMPERED: {problems[0]}: nothing answered from altered records (`reelforge log verify` lists "
                   "every problem)", code=1)
    return catalog


@app.command("commit")
def commit_command(
    spec: SpecArgument = None,
    message: Annotated[str, typer.Option("-m", "--message", help="why: the reason recorded with the commit")] = ...,
    actor: Annotated[str | None, typer.Option(help="who is committing (default: $REELFORGE_ACTOR or your login)")]
    = None,
) -> None:
    """Record the spec's current state: a new version of every entity that changed; named files kept by hash."""
    spec = spec_file(spec)
    paths = ProductionPaths.for_spec(spec)
    if not message.strip():
        raise fail("-m needs a reason: say what changed and why")
    try:
        result = commit_file(paths, spec, actor=actor or current_actor(), reason=message, announce=console.print)
    except SpecError as exc:
        raise spec_problems(exc) from None
    except DeliveryError as exc:
        raise fail(f"{spec}: {exc}") from None
    except RecordsError as exc:
        raise fail(str(exc)) from None
    if not result.created:
        console.print(f"nothing changed since commit #{result.commit_id}: no new versions", highlight=False)
        return
    console.print(f"commit #{result.commit_id}: {len(result.versions)} new version(s)", highlight=False)
    for entity, number in result.versions.items():
        if entity in result.removed:
            note = "removed"
        elif entity in result.new_assets:
            note = f"kept from {result.names[entity]}"
        else:
            note = "new" if number == 1 else "changed"
        console.print(f"  {entity}@{number}  {note}", highlight=False, markup=False)


@app.command("history")
def history_command(
    entity: Annotated[str, typer.Argument(help="e.g. shot:s01e01/sc01/sh01, character:mara, style:noir-ink")],
    production: ProductionOption = None,
) -> None:
    """List an entity's versions: when, by whom and why each was committed."""
    catalog = catalog_or_exit(production)
    try:
        name, rows = history(catalog, entity)
    except RecordsError as exc:
        raise fail(str(exc)) from None
    table = Table(title=name, title_justify="left")
    for column in ("version", "committed (UTC)", "actor", "change", "commit", "reason"):
        table.add_column(column, no_wrap=column != "reason")
    for row in rows:
        table.add_row(str(row.version), row.at, row.actor, row.change, f"#{row.commit_id}",
                      row.reason + (" (auto)" if row.auto and "auto" not in row.reason else ""))
    console.print(table)


def _parse_versioned(target: str) -> tuple[str, int | None]:
    """'character:mara@2' → ('character:mara', 2); no '@': the latest version."""
    name, at, number = target.rpartition("@") if "@" in target else (target, "", "")
    if not at:
        return target, None
    if not number.isdigit() or int(number) < 1:
        raise fail(f"'{target}': the version after '@' must be a number from 1 (e.g. {name}@2)")
    return name, int(number)


@app.command("show")
def show_command(
    target: Annotated[str, typer.Argument(help="ENTITY@VERSION (ENTITY alone: its latest), commit:N, or render:N "
                                               "(the versions a render used)")],
    production: ProductionOption = None,
    frames: Annotated[bool, typer.Option("--frames", help="render:N only: every delivered frame's hash")] = False,
) -> None:
    """Print one version's content as JSON (commit:N: what it changed; render:N: every version it used)."""
    catalog = catalog_or_exit(production)
    kind, _, number = target.partition(":")
    try:
        if kind in ("render", "commit"):
            if not number.isdigit():
                raise fail(f"'{target}': give the {kind}'s number, e.g. {kind}:1")
            data = render_versions(catalog, int(number), frames) if kind == "render" else \
                commit_details(catalog, int(number))
            if kind == "render" and data["commit"] is None:
                errors.print(f"render #{number} is linked to no commit (made before commits were recorded, or "
                             "by library code that does not commit)", highlight=False, markup=False)
            print(json.dumps(data, indent=2, ensure_ascii=False))
            if kind == "render" and data["records"]["state"] != "checked":
                tampered = data["records"]["state"] == "tampered"
                errors.print(f"{'TAMPERED' if tampered else 'records'}: {data['records']['problem']}",
                             highlight=False, markup=False)
                if tampered:
                    raise typer.Exit(1)
            return
        name, version_number = _parse_versioned(target)
        name, row, commit = get_version(catalog, name, version_number)
    except RecordsError as exc:
        raise fail(str(exc)) from None
    what = "removed" if row.deleted else "committed"
    errors.print(f"{name}@{row.version}: {what} in commit #{commit.id} by {commit.actor} at {commit.at}: "
                 f"{commit.reason}", highlight=False, markup=False, soft_wrap=True)
    print(json.dumps(row.content, indent=2, ensure_ascii=False, sort_keys=True))


@app.command("diff")
def diff_command(
    entity: Annotated[str, typer.Argument(help="e.g. shot:s01e01/sc01/sh01")],
    v1: Annotated[int, typer.Argument(help="the older version")],
    v2: Annotated[int, typer.Argument(help="the newer version")],
    production: ProductionOption = None,
) -> None:
    """Show what changed between two versions of an entity: field paths, old → new."""
    catalog = catalog_or_exit(production)
    try:
        name, first, second, changes = diff_versions(catalog, entity, v1, v2)
    except RecordsError as exc:
        raise fail(str(exc)) from None

    def value_text(value: object) -> str:
        return "(absent)" if value is ABSENT else json.dumps(value, ensure_ascii=False, sort_keys=True)

    print(f"{name}: version {first.version} (commit #{first.commit_id}) → version {second.version} "
          f"(commit #{second.commit_id})")
    if not changes:
        print("  no differences")
    for change in changes:
        if change.path == "$" and (change.old is ABSENT or change.new is ABSENT):
            print("  removed" if change.new is ABSENT else "  restored")
            continue
        print(f"  {change.path}: {value_text(change.old)} → {value_text(change.new)}")


@app.command("refs")
def refs_command(
    entity: Annotated[str, typer.Argument(help="e.g. character:mara, location:harbor, style:noir-ink, asset:SHA")],
    production: ProductionOption = None,
) -> None:
    """Who uses an entity at the latest commit: where a character is cast, which shots use a style or location."""
    catalog = catalog_or_exit(production)
    try:
        name, found = referrers(catalog, entity)
        if name.startswith("character:"):
            cast = casting(catalog).get(name)
            shots = list(cast.shots) if cast else []
            print(f"{name} is cast in {len(shots)} shot(s), {sum(f for _, f in shots)} frames")
        elif name.startswith(("style:", "location:")):
            shots = shots_using(catalog, name)
            print(f"{name} is used by {len(shots)} shot(s), {sum(f for _, f in shots)} frames")
        else:
            shots = []
    except RecordsError as exc:
        raise fail(str(exc)) from None
    for shot_name, count in shots:
        print(f"  {shot_name}  {count} frames")
    print(f"referenced by {len(found)}:" if found else f"{name} is referenced by nothing at the latest commit")
    for ref in found:
        print(f"  {ref.entity}@{ref.version}  {ref.field}")
