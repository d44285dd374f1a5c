"""`reelforge init | validate | schema | styles`: starting a production and checking its spec."""

from __future__ import annotations

import contextlib
import errno
import json
import re
import shlex
import unicodedata
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from reelforge.app.faults import IN_THE_WAY, fault_message
from reelforge.cli.console import (
    SpecArgument,
    console,
    errors,
    fail,
    find_production,
    load_or_exit,
    print_warnings,
    shown,
    spec_argument,
    spec_file,
)
from reelforge.errors import Problem, SpecError
from reelforge.plan.cast import cast_file_problems
from reelforge.plan.look import lut_problems
from reelforge.spec.fonts import font_file_problems, title_glyph_problems
from reelforge.spec.load import blocking_warnings, framing_warnings, production_schema, translation_warnings
from reelforge.spec.styles import family_schema, load_families
from reelforge.store.atomic import write_text
from reelforge.store.paths import SPEC_NAME, ProductionPaths
from reelforge.trust.identity import (
    CredentialsError,
    create_identity,
    default_identity_folder,
)

app = typer.Typer()


@app.command()
def init(name: Annotated[Path, typer.Argument(help="the production's name: the folder to create, and its series' "
                                                  "title")]) -> None:
    """Start a production: NAME/production.json, a small spec of one short episode that renders in seconds."""
    directory = name
    try:
        new_folder(directory)
    except OSError as exc:
        raise cannot_create(directory, exc) from None
    title = directory.resolve().name
    spec = directory / SPEC_NAME
    write_text(spec, starter_spec(title))
    identity = default_identity_folder(directory)
    try:
        create_identity(identity, title)
    except CredentialsError as exc:
        raise fail(f"{identity}: {exc}") from None
    say = lambda text: console.print(text, highlight=False, markup=False, soft_wrap=True)  # noqa: E731
    say(f'Created {spec}: the series "{title}", one episode of three short previz shots.')
    say(f"Created its signing identity in {identity} (keys readable by you only).")
    say("Next:")
    if directory.resolve() != Path.cwd().resolve():
        say(f"  cd {shlex.quote(str(directory))}")
    say("  reelforge validate    # check the spec\n  reelforge render      # a few seconds: renders/e01.mp4\n"
        "  reelforge studio      # the same production in your browser")


# A name or path no folder can have (errno → what is wrong and what to do); ENOTDIR names the file in the way.
_BAD_NAME = {
    errno.ENAMETOOLONG: "the name is too long for the file system (a folder's name is at most 255 bytes): "
                        "give a shorter name",
    errno.ELOOP: "a symbolic link in the path loops: give another path",
    errno.ENOENT: "a folder in the path is a symbolic link to nothing: give another path",
    errno.EINVAL: "the file system does not allow that name: give another name",
}


def new_folder(directory: Path) -> None:
    """Create the production's folder and those above it; exit 2 when it is a file or has files in it.

    A folder that cannot be made (an OSError) leaves none of those made before it behind.
    """
    if directory.exists() and not directory.is_dir():
        raise fail(f"{directory} is a file: give a new folder's name")
    if directory.exists() and any(directory.iterdir()):  # never mix a new production into someone's files
        raise fail(f"{directory} already exists and is not empty: give a new folder's name")
    made: list[Path] = []
    try:
        for folder in [*reversed(directory.parents), directory]:
            if not (folder.exists() or folder.is_symlink()):  # a file or a link in the way: mkdir below says why
                folder.mkdir()
                made.append(folder)
    except OSError:
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def cannot_create(directory: Path, error: OSError) -> typer.Exit:
    """Why NAME's folder cannot be made, in one line: a name or path no folder can have is bad input (exit 2);
    a folder it may not write, a full disk, anything else of the machine's is in the way (exit 3)."""
    if error.errno == errno.ENOTDIR:
        above = next((folder for folder in directory.parents if folder.exists() and not folder.is_dir()), None)
        where = f"{above} is a file, not a folder" if above is not None else "a folder above it is a file"
        return fail(f"cannot create {directory}: {where}: give a new folder's name inside a folder")
    if error.errno in _BAD_NAME:
        return fail(f"cannot create {directory}: {_BAD_NAME[error.errno]}")
    message = fault_message(error, show=shown) or f"cannot create {directory} ({error.strerror}): check that " \
                                                   "folder, or give another name"
    return fail(message, code=IN_THE_WAY)


def starter_spec(title: str) -> str:
    """The template spec (templates/production.json) with its series titled `title` and id'd after it."""
    template = (resources.files("reelforge") / "templates" / SPEC_NAME).read_text(encoding="utf-8")
    return (template.replace('"__SERIES_ID__"', json.dumps(series_id(title)))
            .replace('"__SERIES_TITLE__"', json.dumps(title, ensure_ascii=False)))


def series_id(title: str) -> str:
    """'Night Ferry' → 'night-ferry': the title as a spec id (lower-case letters, digits, '-', '_'; ≤ 64)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_]+", "-", ascii_title.lower()).strip("-_")[:64].rstrip("-_")
    return slug or "production"


@app.command()
def validate(spec: SpecArgument = None,
             strict: Annotated[bool, typer.Option("--strict", help="treat warnings (missing translations, "
                                                                   "implausible speeds, titles a font cannot draw) "
                                                                   "as errors")] = False) -> None:
    """Check a spec; list every problem with its JSON path (exit 2 if any); warn about missing translations
    and walks faster than walking."""
    spec = spec_file(spec)
    production = load_or_exit(spec)
    root = ProductionPaths.for_spec(spec).root
    found = lut_problems(production, root) + cast_file_problems(production, root) + font_file_problems(production, root)
    files = [Problem(where, message) for where, message in found]
    if files:  # the spec is well-formed but names a LUT, character or font file that cannot be read
        errors.print(str(SpecError(spec, files)), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2)
    # Titles a font cannot draw: warnings, as a render may not burn titles (`render --burn-titles` refuses them).
    warnings = (translation_warnings(production) + blocking_warnings(production) + framing_warnings(production)
                + title_glyph_problems(production, root))
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
def styles(spec: SpecArgument = None) -> None:
    """List the style families a production can use: built-in and its own (styles/*.json beside the spec).

    Outside a production and without SPEC: the built-in ones.
    """
    here = find_production() if spec is None else None
    folder = spec_argument(spec).root if spec is not None else here.root if here is not None else None
    families = load_families(folder)
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
