"""`reelforge log …` and `reelforge approve`: list, verify, prove and approve in the change log.

Exit codes as in reelforge.cli: 0 success, 1 a check failed (the log or a proof does not verify,
the production is busy), 2 bad input (no spec, bad date, unknown entity, malformed proof file).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from reelforge.project import ProductionBusy, ProductionPaths
from reelforge.records import changelog
from reelforge.records.log_view import time_bound
from reelforge.store.catalog import Catalog, RenderRecord, RenderShot

console = Console()
errors = Console(stderr=True)

ENTITY_KINDS = ("series", "episode", "scene", "shot", "character", "location", "style", "asset")


def fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def production_paths(spec: Path | None) -> ProductionPaths:
    """SPEC, else production.json here, else the nearest folder above with a `.reelforge/`."""
    if spec is not None:
        if not spec.is_file():
            raise fail(f"{spec}: no such spec file")
        return ProductionPaths.for_spec(spec)
    here = Path.cwd() / "production.json"
    if here.is_file():
        return ProductionPaths.for_spec(here)
    found = ProductionPaths.find_for_file(Path.cwd() / "x")
    if found is None:
        raise fail("no production here: give the path of its production.json")
    return found


def trust_anchor(paths: ProductionPaths, trust: Path | None) -> bytes | None:
    """--trust, else the anchor the production signs under (its config's, or its own root.pem); never creates one."""
    from reelforge.trust.anchors import production_anchor
    from reelforge.trust.identity import CredentialsError, load_anchor

    candidate = trust if trust is not None else production_anchor(paths)  # the spec may be broken: still found
    if candidate is None:
        return None
    try:
        return load_anchor(candidate)
    except CredentialsError as exc:
        raise fail(str(exc)) from None


def _time_option(name: str, text: str | None, end: bool) -> dt.datetime | None:
    """A date (the whole day) or an ISO 8601 time (UTC if no offset); `end`: the exclusive upper bound."""
    if text is None:
        return None
    try:
        return time_bound(text, end)
    except ValueError:
        raise fail(f"{name} {text!r}: give a date (2026-03-01) or an ISO 8601 time (2026-03-01T14:00:00Z)") from None


def list_command(spec: Path | None, entity: str | None, actor: str | None, since: str | None, until: str | None,
                 kind: str | None, as_json: bool) -> None:
    paths = production_paths(spec)
    if kind is not None and kind not in changelog.KINDS:
        raise fail(f"--kind must be one of {', '.join(changelog.KINDS)}, got {kind!r}")
    start, stop = _time_option("--since", since, False), _time_option("--until", until, True)
    rows: list[dict] = []
    if paths.catalog.exists():
        with Catalog(paths.catalog).session() as session:
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


def _read_json(path: Path, what: str) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise fail(f"{path}: not a {what} (not JSON: {exc})") from None
    if not isinstance(value, dict):
        raise fail(f"{path}: not a {what}")
    return value


def verify_command(spec: Path | None, trust: Path | None, witnesses: list[Path]) -> None:
    paths = production_paths(spec)
    anchor = trust_anchor(paths, trust)
    exported = [_read_json(w, "reelforge checkpoint") for w in witnesses]
    if not paths.catalog.exists() and not exported:
        console.print(f"OK: {paths.root.name} has no change log yet")
        return
    with Catalog(paths.catalog).session() as session:
        try:
            report = changelog.verify_log(session, anchor, exported)
        except changelog.ProofError as exc:
            raise fail(f"--witness: {exc}") from None
    if anchor is None:
        console.print("[yellow]no trust anchor found[/] (pass --trust root.pem): checkpoint signatures were checked "
                      "against the certificates stored in the log only", highlight=False)
    if report.ok:
        tail = report.entries - report.covered
        console.print(f"[green]OK[/]: {report.entries} entries, {report.checkpoints} signed checkpoint(s); every "
                      f"leaf and root recomputed" + (f"; the newest {tail} entr{'y is' if tail == 1 else 'ies are'} "
                                                     "not yet covered by a checkpoint" if tail else ""),
                      highlight=False)
        return
    if report.first_bad is not None:
        console.print(f"[bold red]TAMPERED[/]: first bad entry: {report.first_bad}: {report.first_bad_reason}",
                      highlight=False, markup=True)
    else:
        console.print(f"[bold red]TAMPERED[/]: {escape(report.problems[0])}", highlight=False, markup=True)
    for problem in report.problems:
        if problem not in (report.first_bad_reason, report.problems[0] if report.first_bad is None else None):
            console.print(f"  {problem}", highlight=False, markup=False)
    raise typer.Exit(1)


def proof_command(seq: int, spec: Path | None, output: Path | None) -> None:
    paths = production_paths(spec)
    if not paths.catalog.exists():
        raise fail(f"{paths.root} has no change log yet")
    with Catalog(paths.catalog).session() as session:
        if session.get(changelog.LogEntry, seq) is None:
            raise fail(f"no entry {seq} in the change log of {paths.root.name}")
        try:
            proof = changelog.inclusion_proof(session, seq)
        except changelog.LogError as exc:  # not signed yet, or the log no longer matches its checkpoint
            raise fail(str(exc), code=1) from None
    text = json.dumps(proof, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        print(text, end="")
        return
    from reelforge.store.atomic import write_text

    write_text(output, text)
    console.print(f"wrote the inclusion proof of entry {seq} (tree of {proof['tree_size']}) to {output}",
                  highlight=False)


def checkpoint_command(spec: Path | None, output: Path | None) -> None:
    paths = production_paths(spec)
    if not paths.catalog.exists():
        raise fail(f"{paths.root} has no change log yet")
    with Catalog(paths.catalog).session() as session:
        latest = session.scalars(select(changelog.LogCheckpoint).order_by(changelog.LogCheckpoint.id.desc())).first()
        if latest is None:
            raise fail(f"{paths.root} has no signed checkpoint yet")
        record = changelog.checkpoint_record(session, latest)
    text = json.dumps(record, indent=2) + "\n"
    if output is None:
        print(text, end="")
        return
    from reelforge.store.atomic import write_text

    write_text(output, text)
    console.print(f"wrote checkpoint #{latest.id} (size {latest.size}) to {output}; keep it elsewhere and pass it to "
                  "`reelforge log verify --witness` later", highlight=False)


def check_proof_command(proof_file: Path, trust: Path | None) -> None:
    from reelforge.trust.identity import CredentialsError, load_anchor

    proof = _read_json(proof_file, "reelforge inclusion proof")
    try:
        anchor = load_anchor(trust) if trust is not None else None
    except CredentialsError as exc:
        raise fail(str(exc)) from None
    try:
        result = changelog.check_proof(proof, anchor)
    except changelog.ProofError as exc:
        raise fail(f"{proof_file}: {exc}") from None
    entry = result.entry
    console.print(f"entry {entry.get('seq')}: {entry.get('kind')} {entry.get('entity')} by {entry.get('actor')} "
                  f"at {entry.get('at')}: {entry.get('reason')}", highlight=False, markup=False)
    if not result.ok:
        for problem in result.problems:
            console.print(f"  {problem}", highlight=False, markup=False)
        console.print("[bold red]NOT PROVEN[/]")
        raise typer.Exit(1)
    size = proof["tree_size"]
    if result.anchored:
        console.print(f"[green]PROVEN[/]: included in the log of {size} entries signed by {result.signer}, "
                      "which chains to the trust anchor", highlight=False)
    else:
        console.print(f"[green]PROVEN[/]: included in the log of {size} entries signed by {result.signer}; "
                      "[yellow]the signer was not checked against a trust anchor[/] (pass --trust root.pem)",
                      highlight=False)


def _known_entity(production, entity: str, paths: ProductionPaths | None = None) -> str | None:
    """None when `entity` names something in the spec (a style family it can use, an asset it committed); else why not.

    An approval is permanent (the log is append-only), so one of a misspelt name must be refused, not kept.
    """
    prefix, _, name = entity.partition(":")
    if prefix not in ENTITY_KINDS or not name:
        return f"{entity!r} is not an entity id: use {', '.join(f'{k}:…' for k in ENTITY_KINDS)}"
    if prefix == "style" and paths is not None:
        from reelforge.spec.styles import load_families

        names = load_families(paths.root).names
        if name not in names:
            return f"no style family {name!r}: the production has {', '.join(names)}"
    if prefix == "asset" and paths is not None:
        from reelforge.records.versions import EntityVersion

        known = False
        if paths.catalog.exists():
            with Catalog(paths.catalog).session() as session:
                known = session.get(EntityVersion, (entity, 1)) is not None
        if not known:
            return f"no asset {name!r} is committed (an asset is named by its full SHA-256: see `reelforge commit`)"
    ids = {"series": {production.series.id}, "character": {c.id for c in production.characters},
           "location": {loc.id for loc in production.locations},
           "episode": {e.id for e in production.episodes},
           "scene": {f"{e.id}/{s.id}" for e in production.episodes for s in e.scenes},
           "shot": {f"{e.id}/{s.id}/{sh.id}" for e in production.episodes for s in e.scenes for sh in s.shots}}
    if prefix in ids and name not in ids[prefix]:
        return f"no {prefix} {name!r} in the spec"
    return None


def _latest_render(session, entity: str) -> dict | None:
    """What an approval of a shot or an episode approves: its latest render, if it has one."""
    prefix, _, name = entity.partition(":")
    if prefix == "shot":
        row = session.execute(select(RenderShot, RenderRecord).join(RenderRecord, RenderRecord.id == RenderShot.render_id)
                              .where(RenderShot.shot_path == name).order_by(RenderRecord.id.desc())).first()
        if row is not None:
            shot, render = row
            return {"render_id": render.id, "output_sha256": render.output_sha256, "job_key": shot.job_key,
                    "first_frame": shot.first_frame, "frames": shot.frame_count}
    elif prefix == "episode":
        render = session.scalars(select(RenderRecord).where(RenderRecord.episode_id == name,
                                                            RenderRecord.kind == "episode")
                                 .order_by(RenderRecord.id.desc())).first()
        if render is not None:
            return {"render_id": render.id, "output_sha256": render.output_sha256}
    return None


def approve_command(entity: str, spec: Path | None, reason: str, actor: str | None) -> None:
    from reelforge.cli import load_or_exit
    from reelforge.deliver import DeliveryError, current_actor, signing_identity
    from reelforge.records.render_log import current_version

    if not reason.strip():
        raise fail("-m/--message: say why (the reason is part of the record)")
    paths = production_paths(spec)
    production = load_or_exit(paths.spec)
    problem = _known_entity(production, entity, paths)
    if problem is not None:
        raise fail(problem)
    actor = actor or current_actor()
    try:
        with paths.lock():
            identity = signing_identity(production, paths.root, announce=console.print)
            with Catalog(paths.catalog).session() as session:
                previous = changelog.last_entry(session, entity=entity, kind="approval")
                before = changelog.state(session, previous.after_sha256) if previous is not None else None
                after = {"status": "approved", "render": _latest_render(session, entity)}
                seq = changelog.append_entry(session, actor=actor, kind="approval", entity=entity,
                                             version=current_version(session, entity), before=before, after=after,
                                             reason=reason)
                checkpoint = changelog.write_checkpoint(session, identity)
                session.commit()
    except DeliveryError as exc:
        raise fail(f"{paths.spec}: {exc}") from None
    except ProductionBusy as exc:
        raise fail(str(exc), code=1) from None
    render = after["render"]
    what = f" (render #{render['render_id']})" if render else ""
    console.print(f"approved {entity}{what} as entry {seq} by {actor}; checkpoint #{checkpoint.id} signed",
                  highlight=False, markup=False)
