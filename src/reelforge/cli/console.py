"""What every `reelforge` command shares: the consoles, `fail` (one error line, an exit code), finding the
production a command is about, and the options several commands take.

Exit codes: 0 success, 1 a check failed (verify found differences, a log does not verify, the
production is busy), 2 bad input (spec problems, an unknown shot, a bad range), 3 the machine or a
file is in the way (disk full, read-only, damaged catalog), 70 an internal error (a bug). None
prints a traceback: `main()` in cli/__init__.py says what no command caught (app/faults.py).
"""

from __future__ import annotations

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
from reelforge.store.paths import SPEC_NAME, ProductionPaths
from reelforge.trust.anchors import production_anchor
from reelforge.trust.identity import CredentialsError, load_anchor

console = Console()
errors = Console(stderr=True)

# `--production` for the commands that read a production's records: the one this folder is in by default.
ProductionOption = Annotated[Path | None, typer.Option(help="production.json (default: the one this folder is in)")]
# The change-log commands take the spec as an argument instead.
SpecArgument = Annotated[Path | None, typer.Argument(help="production.json (default: the one here, or the "
                                                          "production this folder is in)")]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one error line and return the Exit to raise.

    The message is printed as given: a path or a name with [brackets] is not read as markup, and
    a long path is never broken across lines.
    """
    errors.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
    return typer.Exit(code)


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


def production_option(production: Path | None, what: str = "to read",
                      near: Path | None = None) -> ProductionPaths:
    """The production of `--production`, else the one `near` (a delivered file) or the current folder is in.

    Exit 2 naming the option when neither says: "cannot tell which production {what}".
    """
    if production is not None:
        if not production.is_file():
            raise fail(f"--production {production}: no such file")
        return ProductionPaths.for_spec(production)
    paths = ProductionPaths.find_for_file(near if near is not None else Path.cwd() / SPEC_NAME)
    if paths is None:
        raise fail(f"cannot tell which production {what}; pass --production path/to/production.json")
    return paths


def spec_argument(spec: Path | None) -> ProductionPaths:
    """SPEC, else production.json here, else the nearest folder above with a `.reelforge/`."""
    if spec is not None:
        if not spec.is_file():
            raise fail(f"{spec}: no such spec file")
        return ProductionPaths.for_spec(spec)
    here = Path.cwd() / SPEC_NAME
    if here.is_file():
        return ProductionPaths.for_spec(here)
    found = ProductionPaths.find_for_file(Path.cwd() / "x")
    if found is None:
        raise fail("no production here: give the path of its production.json")
    return found


def trust_anchor(paths: ProductionPaths, trust: Path | None) -> bytes | None:
    """--trust, else the anchor the production signs under (its config's, or its own root.pem); never creates one."""
    candidate = trust if trust is not None else production_anchor(paths)  # the spec may be broken: still found
    if candidate is None:
        return None
    try:
        return load_anchor(candidate)
    except CredentialsError as exc:
        raise fail(str(exc)) from None
