"""What every `reelforge` command shares: the consoles, `fail` (one error line, an exit code), finding the
production a command is about, and the options several commands take.

Exit codes: 0 success, 1 a check failed (verify found differences, a log does not verify, the
production is busy), 2 bad input (spec problems, an unknown shot, a bad range), 3 the machine or a
file is in the way (disk full, read-only, damaged catalog), 70 an internal error (a bug). None
prints a traceback: `main()` in cli/__init__.py says what no command caught (app/faults.py).
"""

from __future__ import annotations

import os
import sys
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
from rich.text import Text

from reelforge.app.render_request import RenderRefused
from reelforge.app.render_request import parse_range as parse_frames
from reelforge.errors import SpecError
from reelforge.spec.load import load_production
from reelforge.spec.model import Production
from reelforge.store.paths import SPEC_NAME, STATE_DIR, ProductionPaths
from reelforge.trust.anchors import production_anchor
from reelforge.trust.identity import CredentialsError, load_anchor

# Output that is not a terminal (a pipe, a file, a CI log) is as wide as its text: rich would otherwise fold
# and ellipsize tables at 80 columns, and a shot path cut to "s01e01/sc0…" is no use to a script or a reader.
PIPED_WIDTH = 1000


def _width(stream) -> int | None:
    """rich's own width on a terminal or when $COLUMNS says one; PIPED_WIDTH otherwise."""
    if os.environ.get("COLUMNS") or stream.isatty():
        return None
    return PIPED_WIDTH


console = Console(width=_width(sys.stdout))
errors = Console(stderr=True, width=_width(sys.stderr))

# How a command that needs a production is told which: the one the current folder is in, else a path.
HOW = "run it in a production folder or pass PATH/production.json"
PRODUCTION_HELP = "production.json or its folder (default: the production this folder is in)"
# `--production` for the commands whose argument is something else (a shot, an entity, a file).
ProductionOption = Annotated[Path | None, typer.Option(help=PRODUCTION_HELP)]
# The commands about a production take its spec as their (optional) argument.
SpecArgument = Annotated[Path | None, typer.Argument(help=PRODUCTION_HELP, show_default=False)]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one error line and return the Exit to raise.

    The message is printed as given: a path or a name with [brackets] is not read as markup, and
    a long path is never broken across lines.
    """
    errors.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
    return typer.Exit(code)


def output_file(path: Path, option: str, example: str) -> Path:
    """A file the user named for a command to write, checked before the work: exit 2 when it is a folder or
    lies under a file (bad input). A folder it may not write is said when writing (app/faults.py: exit 3)."""
    if path.is_dir():
        raise fail(f"{option} {path} is a folder: give the file to write, e.g. {path / example}")
    above = next((folder for folder in path.parents if folder.exists()), None)
    if above is not None and not above.is_dir():
        raise fail(f"{option} {path}: {above} is a file, not a folder")
    return path


def refused(exc: RenderRefused) -> typer.Exit:
    """A RenderRefused as the CLI says it: a spec report as is, anything else as one error line."""
    if exc.plain:
        errors.print(str(exc), highlight=False, markup=False, soft_wrap=True)
        return typer.Exit(exc.code)
    return fail(str(exc), code=exc.code)


def spec_problems(error: SpecError) -> typer.Exit:
    """Every problem of a spec, with its JSON path, as `validate` prints them (exit 2)."""
    errors.print(str(error), highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(2)


def load_or_exit(spec: Path) -> Production:
    """The production a spec describes, or exit 2 with every problem in it."""
    try:
        return load_production(spec)
    except SpecError as exc:
        raise spec_problems(exc) from None


def print_warnings(spec: Path, warnings: list) -> None:
    """Missing translations, on stderr: the delivery shows the source text in their place."""
    if warnings:
        count = len(warnings)
        errors.print(f"{spec}: {count} warning{'' if count == 1 else 's'} (--strict makes them errors)",
                     highlight=False, markup=False, soft_wrap=True)
        for warning in warnings:
            errors.print(f"  warning: {warning}", highlight=False, markup=False, soft_wrap=True)


def parse_range(text: str) -> tuple[int, int]:
    """'10:20' → (10, 20): 0-based, end exclusive, like a Python slice (exit 2 when it is not one)."""
    try:
        return parse_frames(text)
    except RenderRefused as exc:
        raise fail(str(exc)) from None


def shown(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):  # outside it, or the current folder itself is gone
        return str(path)


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("frames"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)


def find_production(start: Path | None = None) -> ProductionPaths | None:
    """The production `start` (a folder or a file; default: the current folder) is in, or None.

    That is the nearest folder, `start`'s own or one above it, holding a production.json or a
    `.reelforge/` (a production whose records outlive its spec, or a delivered file's renders/ folder).
    """
    here = Path.cwd() if start is None else Path(start).absolute()
    for folder in ([here] if here.is_dir() else []) + list(here.parents):
        if (folder / SPEC_NAME).is_file() or (folder / STATE_DIR).is_dir():
            return ProductionPaths.for_spec(folder / SPEC_NAME)
    return None


def spec_file(spec: Path | None) -> Path:
    """The spec a command is about: SPEC (a production.json, or its folder) as given, else the spec of the
    production the current folder is in (as the user would type it). Exit 2 saying how when there is none."""
    if spec is not None:
        file = spec / SPEC_NAME if spec.is_dir() else spec
        if not file.is_file():
            raise fail(f"{spec}: no such spec file (give production.json or its folder)")
        return file
    found = find_production()
    if found is None:
        raise fail(f"no production here: {HOW}")
    return Path(shown(found.spec))


def spec_argument(spec: Path | None) -> ProductionPaths:
    """The production of SPEC, else the one the current folder is in (spec_file)."""
    return ProductionPaths.for_spec(spec_file(spec))


def production_option(production: Path | None, what: str = "to read",
                      near: Path | None = None) -> ProductionPaths:
    """The production of `--production`, else the one `near` (a delivered file) is in, else the current folder's.

    Exit 2 saying how when none is found: "cannot tell which production {what}: run it in ...".
    """
    if production is not None:
        file = production / SPEC_NAME if production.is_dir() else production
        if not file.is_file():
            raise fail(f"--production {production}: no such spec file (give production.json or its folder)")
        return ProductionPaths.for_spec(file)
    paths = (find_production(near) if near is not None else None) or find_production()
    if paths is None:
        raise fail(f"cannot tell which production {what}: run it in a production folder or pass "
                   "--production PATH/production.json")
    return paths


def spec_or_production(spec: Path | None, production: Path | None, what: str) -> ProductionPaths:
    """For a command that takes the production both ways (ENTITY [SPEC] and --production): either, not both;
    without one, the production the current folder is in (else production_option says how)."""
    if spec is not None and production is not None:
        raise fail(f"give the production once: {spec} or --production {production}, not both")
    if spec is not None:
        return spec_argument(spec)
    return production_option(production, what)


def trust_anchor(paths: ProductionPaths, trust: Path | None) -> bytes | None:
    """--trust, else the anchor the production signs under (its config's, or its own root.pem); never creates one."""
    candidate = trust if trust is not None else production_anchor(paths)  # the spec may be broken: still found
    if candidate is None:
        return None
    try:
        return load_anchor(candidate)
    except CredentialsError as exc:
        raise fail(str(exc)) from None
