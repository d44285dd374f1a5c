"""The `reelforge` command line: init, validate, schema, render, verify, energy, models.

Exit codes: 0 success, 1 a check failed (verify found differences, or the
production is busy), 2 bad input (spec problems, unknown shot, bad range).
Bad input never prints a traceback.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from reelforge.errors import SpecError
from reelforge.media.encode import EncodeSettings
from reelforge.plan.jobs import ShotJob
from reelforge.project import ProductionBusy, ProductionPaths
from reelforge.render import Engine, RenderResult, file_sha256
from reelforge.rendering import RENDER_INPUT_ERRORS
from reelforge.spec.load import load_production, production_schema

app = typer.Typer(help="Deterministic rendering of AI video series on your own hardware.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)  # paths stay unbroken
    return typer.Exit(code)


def load_or_exit(spec: Path):
    try:
        return load_production(spec)
    except SpecError as exc:
        errors.print(str(exc), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None


def parse_range(text: str) -> tuple[int, int]:
    """'10:20' → (10, 20): 0-based, end exclusive, like a Python slice (exit 2 when it is not one)."""
    from reelforge.rendering import RenderRefused
    from reelforge.rendering import parse_range as parse

    try:
        return parse(text)
    except RenderRefused as exc:
        raise fail(str(exc)) from None


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("frames"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)


@app.command()
def init(directory: Annotated[Path, typer.Argument(help="folder to create for the new production")]) -> None:
    """Scaffold a production folder with a working example spec."""
    spec = directory / "production.json"
    if spec.exists():
        raise fail(f"{spec} already exists; not overwriting it")
    directory.mkdir(parents=True, exist_ok=True)
    template = resources.files("reelforge") / "templates" / "production.json"
    with resources.as_file(template) as source:
        shutil.copyfile(source, spec)
    from reelforge.trust.identity import create_identity, default_identity_folder

    identity = default_identity_folder(directory)
    if not (identity / "chain.pem").exists():
        from reelforge.trust.identity import CredentialsError

        try:
            create_identity(identity, directory.resolve().name or "production")
        except CredentialsError as exc:
            raise fail(f"{identity}: {exc} (an incomplete identity, e.g. from an interrupted init: remove the "
                       "folder and run init again)") from None
        console.print(f"Created the production's signing identity in {identity} (keys readable by you only).")
    console.print(f"Created [bold]{spec}[/]. Next:\n  reelforge validate {spec}\n  reelforge render {spec}")


@app.command()
def validate(spec: Annotated[Path, typer.Argument(help="production.json")],
             strict: Annotated[bool, typer.Option("--strict", help="treat warnings (missing translations) as "
                                                                   "errors")] = False) -> None:
    """Check a spec; list every problem with its JSON path (exit 2 if any); warn about missing translations."""
    production = load_or_exit(spec)
    from reelforge.errors import Problem
    from reelforge.plan.cast import cast_file_problems
    from reelforge.plan.look import lut_problems

    root = ProductionPaths.for_spec(spec).root
    found = lut_problems(production, root) + cast_file_problems(production, root)
    files = [Problem(where, message) for where, message in found]
    if files:  # the spec is well-formed but names a LUT or character file that cannot be read
        errors.print(str(SpecError(spec, files)), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2)
    from reelforge.spec.load import translation_warnings

    warnings = translation_warnings(production)
    if warnings and strict:
        errors.print(str(SpecError(spec, warnings)), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2)
    shots = sum(len(s.shots) for e in production.episodes for s in e.scenes)
    console.print(f"[green]OK[/] {spec}: {len(production.episodes)} episode(s), {shots} shot(s)")
    print_warnings(spec, warnings)


def print_warnings(spec: Path, warnings: list) -> None:
    """Missing translations, on stderr: the delivery shows the source text in their place."""
    if warnings:
        count = len(warnings)
        errors.print(f"{spec}: {count} warning{'' if count == 1 else 's'} (--strict makes them errors)",
                     highlight=False, markup=False, soft_wrap=True)
        for warning in warnings:
            errors.print(f"  warning: {warning}", highlight=False, markup=False, soft_wrap=True)


@app.command()
def schema(style: Annotated[bool, typer.Option("--style", help="the schema of a style family file "
                                                               "(styles/*.json) instead")] = False) -> None:
    """Print the spec's JSON Schema (point your editor at it)."""
    if style:
        from reelforge.spec.styles import family_schema

        print(json.dumps(family_schema(), indent=2))
        return
    print(json.dumps(production_schema(), indent=2))


@app.command()
def styles(spec: Annotated[Path | None, typer.Argument(help="production.json: include its styles/ folder")] = None
           ) -> None:
    """List the style families a production can use: built-in and its own (styles/*.json beside the spec)."""
    from reelforge.spec.styles import load_families

    if spec is not None and not spec.is_file():
        raise fail(f"{spec}: no such spec file")
    families = load_families(spec.absolute().parent if spec is not None else None)
    table = Table(title="style families", title_justify="left")
    for column in ("id", "from", "previz recipe", "name"):
        table.add_column(column)
    for name, loaded in sorted(families.families.items()):
        source = "built-in" if loaded.builtin else _shown(loaded.file)
        recipe = " → ".join(step.op for step in loaded.family.previz) or "—"
        table.add_row(name, source, recipe, loaded.family.name)
    console.print(table)
    if families.problems:  # the spec's validation reports them too; say so here rather than hide a family
        for problem in families.problems:
            errors.print(f"{_shown(problem.file)}: {problem.path}: {problem.message}", highlight=False,
                         markup=False, soft_wrap=True)
        raise typer.Exit(2)


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _summary(results: list[RenderResult]) -> None:
    table = Table(title="render summary", title_justify="left")
    for column in ("episode", "shots rendered", "shots reused", "frames", "seconds", "sha256"):
        table.add_column(column, no_wrap=True)
    for r in results:
        table.add_row(r.episode_id, str(len(r.shots) - r.shots_reused), str(r.shots_reused), str(r.frames),
                      f"{r.seconds:.1f}", r.sha256[:12])
    console.print(table)
    for r in results:
        console.print(f"wrote {_shown(r.output)}", highlight=False, soft_wrap=True)
        for language in r.languages:
            extra = "" if language.output.stem.endswith(".burned") else " (and .vtt, .srt)"
            console.print(f"wrote {_shown(language.output)}{extra}", highlight=False, soft_wrap=True)


def _refused(exc) -> typer.Exit:
    """A RenderRefused as the CLI says it: a spec report as is, anything else as one error line."""
    if exc.plain:
        errors.print(str(exc), highlight=False, markup=False, soft_wrap=True)
        return typer.Exit(exc.code)
    return fail(str(exc), code=exc.code)


@app.command()
def render(
    spec: Annotated[Path, typer.Argument(help="production.json")],
    out: Annotated[Path | None, typer.Option(help="output folder (default: renders/ beside the spec)")] = None,
    episode: Annotated[list[str] | None, typer.Option(help="render only this episode (repeatable)")] = None,
    shot: Annotated[str | None, typer.Option(help="one shot, e.g. s01e01/sc01/sh03")] = None,
    frames: Annotated[str | None, typer.Option(help="with --shot: frame range START:END (end exclusive)")] = None,
    backend: Annotated[str | None, typer.Option(help="previz, sdxl, animatediff, animatediff-sdxl or wan "
                                                     "(overrides the spec)")] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="local checkpoint folder or SDXL .safetensors "
                                                         "(overrides model.checkpoint)")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto (cuda when a GPU is visible); part of the job key")] = "auto",
    threads: Annotated[int | None, typer.Option(help="torch CPU threads (default: torch's, the physical cores); "
                                                     "part of the job key")] = None,
    mark: Annotated[bool, typer.Option("--mark", help="give this delivery an invisible mark that "
                                                      "`reelforge trace` reads back from a leaked copy")] = False,
    actor: Annotated[str | None, typer.Option(help="who is rendering, for the records (default: "
                                                   "$REELFORGE_ACTOR or your login)")] = None,
    languages: Annotated[str | None, typer.Option(help="also deliver these languages, e.g. en,fr,ja: per language "
                                                       "EPISODE.LANG.mp4 (the same picture with subtitles, titles "
                                                       "and chapters as text) and .vtt/.srt files")] = None,
    burn_titles: Annotated[bool, typer.Option("--burn-titles", help="with --languages: also EPISODE.LANG.burned.mp4, "
                                                                    "the titles drawn into the picture (re-encoded)")]
    = False,
) -> None:
    """Render episodes to 1080p H.264 MP4s (or a frame range of one shot), signed with Content Credentials."""
    from reelforge.rendering import RenderRefused, RenderRequest, render_production

    try:
        if frames and not shot:
            raise RenderRefused("--frames needs --shot")
        request = RenderRequest(spec=spec, episodes=list(episode or []), shot=shot,
                                frames=parse_range(frames) if frames else None, out=out, backend=backend,
                                checkpoint=checkpoint, device=device, threads=threads, mark=mark, actor=actor,
                                languages=languages, burn_titles=burn_titles)
        with progress_bar() as bar:
            tasks: dict[str, int] = {}

            def begin(task: str, label: str, total: int) -> None:
                tasks[task] = bar.add_task(label, total=total)

            def advance(shot_job: ShotJob, n: int) -> None:
                bar.update(tasks[shot_job.episode_id], advance=n,
                           description=f"{shot_job.episode_id} {shot_job.shot_path}")

            outcome = render_production(request, start=begin, progress=advance,
                                        announce=lambda text: console.print(text, highlight=False),
                                        warn=lambda found: print_warnings(spec, found))
    except RenderRefused as exc:
        raise _refused(exc) from None
    _summary(outcome.results)
    if outcome.job is not None:
        console.print(outcome.range_report, style=None if outcome.range_matches else "red", highlight=False)
    else:
        console.print(f"contact sheet: {outcome.contact_sheet}", highlight=False)
    if outcome.mark_id is not None:
        console.print(f"invisible mark {outcome.mark_id:016x} recorded for {outcome.actor}", highlight=False)
    if not outcome.range_matches:
        raise typer.Exit(1)


# -- records: commits, versions, history (records/versions.py) ---------------------------------------


def _records_error(exc: Exception) -> typer.Exit:
    """A records problem (unknown entity, a removal that is still referenced): said plainly, exit 2."""
    errors.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(2)


def _catalog_or_exit(production: Path | None):
    """The catalog of --production, or of the production the current folder is in."""
    from reelforge.store.catalog import Catalog

    if production is not None:
        if not production.is_file():
            raise fail(f"--production {production}: no such file")
        paths = ProductionPaths.for_spec(production)
    else:
        paths = ProductionPaths.find_for_file(Path.cwd() / "production.json")
        if paths is None:
            raise fail("cannot tell which production to read; pass --production path/to/production.json")
    if not paths.catalog.exists():
        raise fail(f"{paths.root} has no commits recorded yet: run `reelforge commit {_shown(paths.spec)} -m REASON`")
    return Catalog(paths.catalog)


@app.command("commit")
def commit_command(
    spec: Annotated[Path, typer.Argument(help="production.json")],
    message: Annotated[str, typer.Option("-m", "--message", help="why: the reason recorded with the commit")],
    actor: Annotated[str | None, typer.Option(help="who is committing (default: $REELFORGE_ACTOR or your login)")]
    = None,
) -> None:
    """Record the spec's current state: a new version of every entity that changed; named files kept by hash."""
    from reelforge.deliver import DeliveryError, current_actor, signing_identity
    from reelforge.records.versions import RecordsError, check_removals, commit_spec
    from reelforge.store.catalog import Catalog

    paths = ProductionPaths.for_spec(spec)
    if not message.strip():
        raise fail("-m needs a reason: say what changed and why")
    try:
        if paths.catalog.exists():  # a committed character/location/style removed while still used
            check_removals(Catalog(paths.catalog), spec)
        production = load_or_exit(spec)
        try:  # the key that signs the change log's checkpoint (made under the lock if this is its first use)
            with paths.lock():
                identity = signing_identity(production, paths.root, announce=console.print)
        except ProductionBusy:  # a render holds the lock: it has made the identity already; commit beside it
            identity = signing_identity(production, paths.root)
        result = commit_spec(Catalog(paths.catalog), production, spec, actor=actor or current_actor(), reason=message,
                             identity=identity)
    except DeliveryError as exc:
        raise fail(f"{spec}: {exc}") from None
    except RecordsError as exc:
        raise _records_error(exc) from None
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


# `--production` for the records commands: they find the production this folder is in by default.
ProductionOption = Annotated[Path | None, typer.Option(help="production.json (default: the one this folder is in)")]


@app.command("history")
def history_command(
    entity: Annotated[str, typer.Argument(help="e.g. shot:s01e01/sc01/sh01, character:mara, style:noir-ink")],
    production: ProductionOption = None,
) -> None:
    """List an entity's versions: when, by whom and why each was committed."""
    from reelforge.records.versions import RecordsError, history

    catalog = _catalog_or_exit(production)
    try:
        name, rows = history(catalog, entity)
    except RecordsError as exc:
        raise _records_error(exc) from None
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
    from reelforge.records.versions import (
        RecordsError,
        commit_details,
        get_version,
        render_versions,
    )

    catalog = _catalog_or_exit(production)
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
            return
        name, version_number = _parse_versioned(target)
        name, row, commit = get_version(catalog, name, version_number)
    except RecordsError as exc:
        raise _records_error(exc) from None
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
    from reelforge.records.versions import ABSENT, RecordsError, diff_versions

    catalog = _catalog_or_exit(production)
    try:
        name, first, second, changes = diff_versions(catalog, entity, v1, v2)
    except RecordsError as exc:
        raise _records_error(exc) from None

    def shown(value: object) -> str:
        return "(absent)" if value is ABSENT else json.dumps(value, ensure_ascii=False, sort_keys=True)

    print(f"{name}: version {first.version} (commit #{first.commit_id}) → version {second.version} "
          f"(commit #{second.commit_id})")
    if not changes:
        print("  no differences")
    for change in changes:
        if change.path == "$" and (change.old is ABSENT or change.new is ABSENT):
            print("  removed" if change.new is ABSENT else "  restored")
            continue
        print(f"  {change.path}: {shown(change.old)} → {shown(change.new)}")


@app.command("refs")
def refs_command(
    entity: Annotated[str, typer.Argument(help="e.g. character:mara, location:harbor, style:noir-ink, asset:SHA")],
    production: ProductionOption = None,
) -> None:
    """Who uses an entity at the latest commit: where a character is cast, which shots use a style or location."""
    from reelforge.records.versions import RecordsError, casting, referrers, shots_using

    catalog = _catalog_or_exit(production)
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
        raise _records_error(exc) from None
    for shot_name, count in shots:
        print(f"  {shot_name}  {count} frames")
    print(f"referenced by {len(found)}:" if found else f"{name} is referenced by nothing at the latest commit")
    for ref in found:
        print(f"  {ref.entity}@{ref.version}  {ref.field}")


@app.command()
def energy(spec: Annotated[Path, typer.Argument(help="production.json")],
           as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False) -> None:
    """kWh per render and per finished minute, measured vs estimated, with datacentre PUE 1.3–1.5 for comparison."""
    from reelforge.energy.cli import energy_command

    energy_command(spec, as_json=as_json)


models_app = typer.Typer(help="Checkpoints: make tiny test checkpoints, hash a studio's own.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("make-tiny")
def make_tiny_command(
    directory: Annotated[Path, typer.Argument(help="new folder for the checkpoint or IP-Adapter; for a LoRA, "
                                                   "a new .safetensors file")],
    kind: Annotated[str, typer.Option(help="sdxl, animatediff, animatediff-sdxl, wan, controlnet-sdxl; adapters: "
                                           "lora-sdxl, lora-animatediff, lora-wan, ip-adapter-sdxl, "
                                           "ip-adapter-animatediff")],
    seed: Annotated[int, typer.Option(help="seed of the random weights")] = 0,
    single_file: Annotated[bool, typer.Option("--single-file", help="sdxl only: also write DIRECTORY.safetensors "
                                                                      "in the original single-file layout")] = False,
) -> None:
    """Write a tiny random-weight checkpoint or adapter that loads like a real one (for tests and trying things out)."""
    from reelforge.backends.tiny import KINDS, build_tiny, make_tiny

    if kind not in KINDS:
        raise fail(f"--kind must be one of {', '.join(KINDS)}, got '{kind}'")
    if single_file and kind != "sdxl":
        raise fail("--single-file is for --kind sdxl")
    try:
        make_tiny(directory, kind, seed)
    except (FileExistsError, ValueError) as exc:
        raise fail(str(exc)) from None
    what = "LoRA" if kind.startswith("lora-") else "IP-Adapter" if kind.startswith("ip-adapter-") else "checkpoint"
    console.print(f"wrote a tiny {kind} {what} to {directory}", highlight=False)
    if single_file:
        from reelforge.backends.single_file import write_sdxl_single_file

        target = directory.with_suffix(".safetensors")
        write_sdxl_single_file(build_tiny(kind, seed), target)
        console.print(f"wrote {target} (use \"config\": \"{directory}\" with it)", highlight=False)


@models_app.command("hash")
def hash_command(path: Annotated[Path, typer.Argument(help="checkpoint folder or file")]) -> None:
    """Print the content hash that goes into job keys (cached by size and mtime)."""
    from reelforge.backends.checkpoints import CheckpointError, checkpoint_sha256

    try:
        print(checkpoint_sha256(path))
    except CheckpointError as exc:
        raise fail(str(exc)) from None


export_app = typer.Typer(help="Export renders for other tools.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("otio")
def export_otio_command(
    episode: Annotated[str, typer.Argument(help="episode id, e.g. s01e01")],
    production: ProductionOption = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="the .otio file to write (default: beside "
                                                                       "the delivered file, EPISODE[.LANG].otio)")]
    = None,
    language: Annotated[str | None, typer.Option(help="point at this language's delivery (EPISODE.LANG.mp4) and "
                                                      "name the scenes in it")] = None,
) -> None:
    """Write an OpenTimelineIO timeline of the episode's latest render: a clip per shot, scene markers, job keys."""
    from reelforge.export_otio import ExportError, build_timeline
    from reelforge.store.atomic import write_text
    from reelforge.store.catalog import Catalog

    if production is not None:
        if not production.is_file():
            raise fail(f"--production {production}: no such file")
        paths = ProductionPaths.for_spec(production)
    else:
        paths = ProductionPaths.find_for_file(Path.cwd() / "production.json")
        if paths is None:
            raise fail("cannot tell which production to export from; pass --production path/to/production.json")
    if not paths.catalog.exists():
        raise fail(f"{paths.root} has no renders recorded yet")
    try:  # the spec only names scenes of renders made before commits recorded them
        spec = load_production(paths.spec) if paths.spec.is_file() else None
    except SpecError:
        spec = None
    import opentimelineio as otio

    try:
        timeline = build_timeline(Catalog(paths.catalog), episode, spec, language, paths.renders)
    except ExportError as exc:
        raise fail(str(exc)) from None
    target = output or Path(timeline.metadata["reelforge"]["output"]).with_suffix(".otio")
    write_text(target, otio.adapters.write_to_string(timeline, "otio_json") + "\n")
    clips = len(timeline.tracks[0])
    console.print(f"wrote {_shown(target)}: {clips} clip(s), {len(timeline.tracks[0].markers)} scene marker(s), "
                  f"render #{timeline.metadata['reelforge']['render_id']}", highlight=False, soft_wrap=True)


credentials_app = typer.Typer(help="Content Credentials (C2PA) of delivered files.", no_args_is_help=True)
app.add_typer(credentials_app, name="credentials")


@credentials_app.command("show")
def credentials_show(file: Annotated[Path, typer.Argument(help="a signed MP4 or PNG")],
                     as_json: Annotated[bool, typer.Option("--json", help="the manifest as JSON")] = False) -> None:
    """Print a file's Content Credentials readably (exit 1 if it has none)."""
    from reelforge.trust.credentials import credentials_show_command

    credentials_show_command(file, as_json)


@credentials_app.command("verify")
def credentials_verify(
    file: Annotated[Path, typer.Argument(help="a signed MP4 or PNG")],
    trust: Annotated[Path | None, typer.Option(help="trust anchor PEM (default: the production's root)")] = None,
    production_identity: Annotated[Path | None, typer.Option(help="a production's identity folder")] = None,
) -> None:
    """Exit 0 only if the signature is valid, the media hash matches and the chain leads to the anchor."""
    from reelforge.trust.credentials import credentials_verify_command

    credentials_verify_command(file, trust, production_identity)


@app.command()
def watermark(
    src: Annotated[Path, typer.Argument(help="input video")],
    dst: Annotated[Path, typer.Argument(help="output video")],
    text: Annotated[str, typer.Option(help="text to burn in")] = "",
    logo: Annotated[Path | None, typer.Option(help="PNG logo")] = None,
    position: Annotated[str, typer.Option(help="top-left, top-right, bottom-left, bottom-right or center")] = "bottom-right",
    opacity: Annotated[float, typer.Option(help="0 (invisible) to 1 (opaque)")] = 0.6,
    production: Annotated[Path | None, typer.Option(help="sign the output with this production's identity "
                                                         "(production.json)")] = None,
) -> None:
    """Burn a visible watermark in by the documented ffmpeg recipe (same input → same bytes); optionally sign it."""
    from reelforge.media.watermark import watermark_command

    if production is None:
        watermark_command(src, dst, text=text, logo=logo, position=position, opacity=opacity)
        return
    from reelforge.deliver import DeliveryError, signing_identity
    from reelforge.trust.credentials import sign_file

    if dst.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise fail(f"{dst}: a signed output must be .mp4, .m4v or .mov")
    try:  # resolve the identity first: a signing problem must not leave an unsigned file at DST
        identity = signing_identity(load_or_exit(production), ProductionPaths.for_spec(production).root)
    except DeliveryError as exc:
        raise fail(str(exc)) from None
    unsigned = dst.with_name(f".{dst.name}.tmp-unsigned{dst.suffix}")
    try:
        watermark_command(src, unsigned, text=text, logo=logo, position=position, opacity=opacity)
        sign_file(unsigned, dst, identity, assertion={"generator": "reelforge watermark", "source": src.name,
                                                      "watermark_text": text}, title=dst.name)
    except RENDER_INPUT_ERRORS as exc:
        raise fail(str(exc)) from None
    finally:
        unsigned.unlink(missing_ok=True)
    console.print(f"signed {dst}", highlight=False)


@app.command()
def trace(
    file: Annotated[Path, typer.Argument(help="a suspect copy (re-encoded, scaled, cropped or trimmed is fine)")],
    production: Annotated[Path | None, typer.Option(help="production.json whose renders to search "
                                                         "(found from the file's folder if omitted)")] = None,
) -> None:
    """Read a copy's invisible mark and name the render it came from (exit 1: no mark, or not one of ours)."""
    from reelforge.trust.trace import NotAVideo, trace_file

    if not file.is_file():
        raise fail(f"{file}: no such file")
    paths = ProductionPaths.for_spec(production) if production else ProductionPaths.find_for_file(file)
    if paths is None:
        raise fail("cannot tell which production to search; pass --production path/to/production.json")
    if not paths.catalog.exists():
        raise fail(f"{paths.root} has no renders recorded yet")
    try:
        found = trace_file(file, paths)
    except NotAVideo as exc:  # an undecodable file is bad input, not a crash
        raise fail(f"{file}: cannot read it as video ({exc.detail})") from None
    if not found.mark.found:
        console.print(f"no mark found in {file}", highlight=False)
        raise typer.Exit(1)
    if not found.traced:
        console.print(f"mark {found.mark_hex} found, but no render of {paths.root} carries it", highlight=False)
        raise typer.Exit(1)
    render_record, delivery, result = found.render, found.delivery, found.mark
    console.print(f"mark {result.mark_id:016x}: render #{render_record.id} of {paths.root.name}, "
                  f"{render_record.kind} {render_record.episode_id}, rendered {render_record.started_at} "
                  f"by {delivery.rendered_by}, delivered as {render_record.output_path}", highlight=False)


# --- the change log (records/log_cli.py does the work) ---------------------------------------------

class _LogGroup(typer.core.TyperGroup):
    """`reelforge log [SPEC] [filters]` lists; `reelforge log verify|proof|check-proof|checkpoint …` act."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


log_app = typer.Typer(cls=_LogGroup, help="The production's tamper-evident change log: list, verify, prove. "
                                          "`reelforge log [SPEC]` lists entries (same as `log list`).")
app.add_typer(log_app, name="log")
SpecArgument = Annotated[Path | None, typer.Argument(help="production.json (default: the one here, or the "
                                                          "production this folder is in)")]


@log_app.command("list")
def log_list(
    spec: SpecArgument = None,
    entity: Annotated[str | None, typer.Option(help="only this entity, e.g. shot:s01e01/sc01/sh03")] = None,
    actor: Annotated[str | None, typer.Option(help="only changes by this person")] = None,
    since: Annotated[str | None, typer.Option(help="from this date or ISO 8601 time (UTC unless it says)")] = None,
    until: Annotated[str | None, typer.Option(help="up to this date (the whole day) or time, inclusive")] = None,
    kind: Annotated[str | None, typer.Option(help="commit, asset, render, approval or key-change")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="entries with their before/after states, as JSON")] = False,
) -> None:
    """List change-log entries, oldest first."""
    from reelforge.records.log_cli import list_command

    list_command(spec, entity, actor, since, until, kind, as_json)


@log_app.command("verify")
def log_verify(
    spec: SpecArgument = None,
    trust: Annotated[Path | None, typer.Option(help="trust anchor PEM (default: the production's root)")] = None,
    witness: Annotated[list[Path] | None, typer.Option(help="a checkpoint exported earlier (`log checkpoint`) that "
                                                           "the log must still contain (repeatable)")] = None,
) -> None:
    """Recompute every leaf and root, check every signed checkpoint; name the first bad entry (exit 1)."""
    from reelforge.records.log_cli import verify_command

    verify_command(spec, trust, witness or [])


@log_app.command("proof")
def log_proof(
    seq: Annotated[int, typer.Argument(help="the entry's number (first column of `reelforge log`)")],
    spec: SpecArgument = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write here (default: print)")] = None,
) -> None:
    """Export an inclusion proof of one entry that `reelforge log check-proof` checks on its own."""
    from reelforge.records.log_cli import proof_command

    proof_command(seq, spec, output)


@log_app.command("check-proof")
def log_check_proof(
    proof: Annotated[Path, typer.Argument(help="a proof from `reelforge log proof`")],
    trust: Annotated[Path | None, typer.Option(help="trust anchor PEM the checkpoint's signer must chain to")] = None,
) -> None:
    """Check an inclusion proof with nothing but the file (exit 1 if it does not prove the entry)."""
    from reelforge.records.log_cli import check_proof_command

    check_proof_command(proof, trust)


@log_app.command("checkpoint")
def log_checkpoint(
    spec: SpecArgument = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write here (default: print)")] = None,
) -> None:
    """Export the newest signed checkpoint: keep it elsewhere, and `log verify --witness` it later."""
    from reelforge.records.log_cli import checkpoint_command

    checkpoint_command(spec, output)


@app.command()
def approve(
    entity: Annotated[str, typer.Argument(help="what is approved, e.g. shot:s01e01/sc01/sh03 or episode:s01e01")],
    spec: SpecArgument = None,
    message: Annotated[str, typer.Option("-m", "--message", help="why (recorded in the change log)")] = ...,
    actor: Annotated[str | None, typer.Option(help="who approves (default: $REELFORGE_ACTOR or your login)")] = None,
) -> None:
    """Record an approval (of a shot's or episode's latest render, say) in the change log."""
    from reelforge.records.log_cli import approve_command

    approve_command(entity, spec, message, actor)


@app.command("status")
def status_command(spec: Annotated[Path, typer.Argument(help="production.json")]) -> None:
    """Each shot's status: never rendered, up to date, or spec changed since its last render."""
    from reelforge.rendering import RenderRefused
    from reelforge.status import CHANGED, LABELS, UP_TO_DATE, production_status

    try:
        status = production_status(spec)
    except RenderRefused as exc:
        raise _refused(exc) from None
    colours = {UP_TO_DATE: "green", CHANGED: "yellow"}
    table = Table(title=status.title, title_justify="left")
    for column in ("shot", "status", "cast", "frames", "seconds", "last render", "what changed"):
        table.add_column(column, no_wrap=column in ("shot", "status"))
    for shot in status.shots():
        last = shot.last_render
        colour = colours.get(shot.state, "dim")
        table.add_row(shot.path, f"[{colour}]{shot.label}[/]", ", ".join(c.name for c in shot.cast) or "-",
                      str(shot.frames), f"{shot.seconds:.2f}",
                      f"#{last.render_id} {last.finished_at}" if last else "-", ", ".join(shot.changed_fields))
    console.print(table)
    console.print(", ".join(f"{count} {LABELS[state]}" for state, count in status.counts.items()), highlight=False)


@app.command()
def studio(
    spec: Annotated[Path, typer.Argument(help="production.json, or the production's folder")] = Path("."),
    port: Annotated[int, typer.Option(help="port to listen on")] = 8765,
    host: Annotated[str, typer.Option(help="address to listen on (default: this machine only); another "
                                           "address lets other machines in: a warning is printed")] = "127.0.0.1",
    actor: Annotated[str | None, typer.Option(help="your name in the records (default: $REELFORGE_ACTOR or "
                                                   "your login)")] = None,
) -> None:
    """Open Studio: browse, direct, render, review and trace this production in a browser."""
    from reelforge.deliver import current_actor
    from reelforge.studio.server import serve

    if spec.is_dir():
        spec = spec / "production.json"
    if not spec.is_file():
        raise fail(f"{spec}: no such spec file (give production.json or its folder)")
    load_or_exit(spec)  # a spec that does not load is reported here, with its JSON paths, not in the browser
    if not 0 < port < 65536:
        raise fail(f"--port must be 1–65535, got {port}")
    try:
        serve(spec, host=host, port=port, owner=actor or current_actor(),
              say=lambda text: console.print(text, highlight=False, markup=False, soft_wrap=True),
              warn=lambda text: errors.print(f"[bold yellow]warning:[/] {text}", highlight=False, soft_wrap=True))
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@app.command()
def verify(
    target: Annotated[str, typer.Argument(help="a rendered MP4, or a shot path like s01e01/sc01/sh03")],
    production: Annotated[Path | None, typer.Option(help="production.json (found from the MP4's folder if omitted)")] = None,
    frames: Annotated[str | None, typer.Option(help="only this frame range START:END of the shot(s)")] = None,
) -> None:
    """Re-render from the recorded jobs and prove the bytes match (exit 1 if not)."""
    from reelforge.verify import verify_render

    if target.lower().endswith(".png"):
        raise fail(f"{target} is a still (a contact sheet): check it with `reelforge credentials verify {target}`; "
                   "its stills are frames of the episodes, which `reelforge verify EPISODE.mp4` proves")
    file = Path(target) if target.lower().endswith((".mp4", ".mov")) else None
    if file is not None and not file.is_file():
        raise fail(f"{file}: no such file" if not file.exists() else f"{file} is not a file")
    if production is not None:
        if not production.is_file():
            raise fail(f"--production {production}: no such file")
        paths = ProductionPaths.for_spec(production)
    else:
        paths = ProductionPaths.find_for_file(file if file is not None else Path.cwd() / "x")
        if paths is None:
            raise fail("cannot tell which production this belongs to; pass --production path/to/production.json")
    if not paths.catalog.exists():
        raise fail(f"{paths.root} has no renders recorded yet")
    from reelforge.store.catalog import Catalog

    catalog = Catalog(paths.catalog)
    shot_paths = None
    if file is not None:
        record = catalog.render_for_file(file_sha256(file)) or catalog.render_for_path(str(file.resolve()))
        if record is None:
            raise fail(f"{file} is not a render recorded in {paths.root}", code=1)
    else:
        record = catalog.render_with_shot(target)
        if record is None:
            raise fail(f"no recorded render contains shot '{target}'")
        shot_paths = {target}
    settings = EncodeSettings(**{k: v for k, v in json.loads(record.encode_json).items()
                                 if k in EncodeSettings.__dataclass_fields__})
    frame_range = parse_range(frames) if frames else None
    checked = [s for s in record.shots if shot_paths is None or s.shot_path in shot_paths]
    if frame_range is not None:
        for s in checked:
            if frame_range[0] >= s.first_frame + s.frame_count or frame_range[1] <= s.first_frame:
                raise fail(f"--frames {frames} is outside {s.shot_path} (frames {s.first_frame}–"
                           f"{s.first_frame + s.frame_count - 1} in this render)")
    total = sum(min(s.first_frame + s.frame_count, frame_range[1]) - max(s.first_frame, frame_range[0])
                if frame_range else s.frame_count for s in checked)
    with progress_bar() as bar:
        task = bar.add_task("verify", total=total)
        engine = Engine(paths, settings, progress=lambda job, n: bar.update(task, advance=n, description=job.shot_path))
        try:
            report = verify_render(engine, record, target, file, shot_paths, frame_range)
        except RENDER_INPUT_ERRORS as exc:
            raise fail(str(exc)) from None
    _print_report(report)
    raise typer.Exit(0 if report.ok and report.store_ok else 1)


def _print_report(report) -> None:
    console.print(f"verify {report.target} (render #{report.render_id})")
    for shot in report.shots:
        matched = shot.frames - len(shot.mismatches)
        status = "[green]match[/]" if shot.ok else "[red]DIFFER[/]"
        span = f"  {shot.shot_path}: frames {shot.first_frame}–{shot.first_frame + shot.frames - 1}: "
        if shot.checkpoint_problem:
            console.print(span + "[red]not re-rendered[/]")
        else:
            console.print(span + f"{matched}/{shot.frames} identical {status}")
        for m in shot.mismatches:
            console.print(f"    frame {m.index}: recorded {m.recorded[:16]}… re-rendered {m.rendered[:16]}…")
        if shot.checkpoint_problem:
            console.print(f"    [red]not re-rendered: {shot.checkpoint_problem}[/]", highlight=False)
        if not shot.segment_matches:
            console.print("    encoded segment differs from the recorded one")
        if shot.damaged_in_store:
            console.print(f"    [yellow]stored copies of frames {shot.damaged_in_store} are missing or corrupt[/] "
                          "(the next render re-renders them)")
    if report.file_matches is not None:
        console.print("  file bytes: " + ("[green]identical to the recorded render[/]" if report.file_matches
                                          else "[red]differ from the recorded render[/]"))
    if report.rebuilt_matches_record is False:
        console.print("  [red]re-encoded output differs from the recorded output[/]")
    elif report.rebuilt_matches_record is None:
        console.print("  unsigned stream: not re-created (only part of the render was verified, or the store is "
                      "damaged)")
    else:
        console.print("  unsigned stream: [green]re-created byte for byte[/]")
        if report.mark_id:
            console.print(f"  invisible mark {report.mark_id} re-embedded", highlight=False)
    if report.credentials is not None:
        c = report.credentials
        console.print(f"  Content Credentials: {'[green]' if c.ok else '[red]'}{c.state}[/]", highlight=False)
        for code, explanation in c.failures:
            console.print(f"    {code}: {explanation}", highlight=False)
    if report.engine_changed:
        console.print("  [yellow]the engine's render code changed since this render[/]")
    if report.environment_differences:
        console.print("  environment fields that differ from the render's:")
        for name, before, now in report.environment_differences:
            console.print(f"    {name}: recorded {before!r}, now {now!r}", highlight=False)
    if not report.ok:
        console.print("[bold red]NOT VERIFIED[/]")
    elif not report.store_ok:
        console.print("[bold green]VERIFIED[/]: every byte matches; [bold red]STORE DAMAGED[/]: "
                      "render again to repair the store")
    else:
        console.print("[bold green]VERIFIED[/]: every byte matches")


if __name__ == "__main__":
    app()
