"""`reelforge init | validate | schema | styles`: starting a production and checking its spec."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from reelforge.cli.console import (
    console,
    errors,
    fail,
    load_or_exit,
    print_warnings,
    shown,
)
from reelforge.errors import Problem, SpecError
from reelforge.plan.cast import cast_file_problems
from reelforge.plan.look import lut_problems
from reelforge.spec.load import production_schema, translation_warnings
from reelforge.spec.styles import family_schema, load_families
from reelforge.store.paths import SPEC_NAME, ProductionPaths
from reelforge.trust.identity import (
    CredentialsError,
    create_identity,
    default_identity_folder,
)

app = typer.Typer()


@app.command()
def init(directory: Annotated[Path, typer.Argument(help="folder to create for the new production")]) -> None:
    """Scaffold a production folder with a working example spec."""
    spec = directory / SPEC_NAME
    if spec.exists():
        raise fail(f"{spec} already exists; not overwriting it")
    directory.mkdir(parents=True, exist_ok=True)
    template = resources.files("reelforge") / "templates" / "production.json"
    with resources.as_file(template) as source:
        shutil.copyfile(source, spec)
    identity = default_identity_folder(directory)
    if not (identity / "chain.pem").exists():
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
    root = ProductionPaths.for_spec(spec).root
    found = lut_problems(production, root) + cast_file_problems(production, root)
    files = [Problem(where, message) for where, message in found]
    if files:  # the spec is well-formed but names a LUT or character file that cannot be read
        errors.print(str(SpecError(spec, files)), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2)
    warnings = translation_warnings(production)
    if warnings and strict:
        errors.print(str(SpecError(spec, warnings)), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2)
    shots = sum(len(s.shots) for e in production.episodes for s in e.scenes)
    console.print(f"[green]OK[/] {spec}: {len(production.episodes)} episode(s), {shots} shot(s)")
    print_warnings(spec, warnings)


@app.command()
def schema(style: Annotated[bool, typer.Option("--style", help="the schema of a style family file "
                                                               "(styles/*.json) instead")] = False) -> None:
    """Print the spec's JSON Schema (point your editor at it)."""
    print(json.dumps(family_schema() if style else production_schema(), indent=2))


@app.command()
def styles(spec: Annotated[Path | None, typer.Argument(help="production.json: include its styles/ folder")] = None
           ) -> None:
    """List the style families a production can use: built-in and its own (styles/*.json beside the spec)."""
    if spec is not None and not spec.is_file():
        raise fail(f"{spec}: no such spec file")
    families = load_families(spec.absolute().parent if spec is not None else None)
    table = Table(title="style families", title_justify="left")
    for column in ("id", "from", "previz recipe", "name"):
        table.add_column(column)
    for name, loaded in sorted(families.families.items()):
        source = "built-in" if loaded.builtin else shown(loaded.file)
        recipe = " → ".join(step.op for step in loaded.family.previz) or "—"
        table.add_row(name, source, recipe, loaded.family.name)
    console.print(table)
    if families.problems:  # the spec's validation reports them too; say so here rather than hide a family
        for problem in families.problems:
            errors.print(f"{shown(problem.file)}: {problem.path}: {problem.message}", highlight=False,
                         markup=False, soft_wrap=True)
        raise typer.Exit(2)
