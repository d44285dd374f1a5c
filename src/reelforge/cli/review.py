"""`reelforge review …`: review statuses of shot versions and notes pinned to their frames (issue 17).

    reelforge review [SPEC] SHOT --status waiting|retake|approved [-m NOTE] [--version N] [--production P]
    reelforge review note [SPEC] SHOT --frame F -m TEXT [--drawing FILE.json] [--version N] [--production P]
    reelforge review notes [SPEC] [--shot P | --episode E] (--json OUT | --html OUT)

`review SPEC SHOT` is `review set SPEC SHOT` (as `log SPEC` is `log list SPEC`); the production is SPEC or
--production (not both), else the one the current folder is in. Exit codes: 0 done,
1 the production is busy, 2 bad input (no such shot or version, a retake without a note, a bad drawing).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from reelforge.app.review_notes import NoteRefused, add_note, drawing_from_text, notes, notes_export
from reelforge.app.review_sheet import review_sheet, sheet_shots
from reelforge.app.review_status import STATE_LABELS, STATUSES, ReviewRefused, set_status
from reelforge.cli.console import (
    PRODUCTION_HELP,
    SpecArgument,
    console,
    fail,
    load_or_exit,
    output_file,
    shown,
    spec_argument,
    spec_or_production,
)
from reelforge.deliver.options import DeliveryError
from reelforge.records.actors import current_actor
from reelforge.spec.base import text_in
from reelforge.store.atomic import write_text
from reelforge.store.catalog import utc_now
from reelforge.store.frames import FrameStore
from reelforge.store.paths import ProductionBusy

app = typer.Typer()


class _ReviewGroup(typer.core.TyperGroup):
    """`reelforge review SPEC SHOT --status …` sets a status; `reelforge review note|notes …` act on notes."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["set", *args]
        return super().parse_args(ctx, args)


review_app = typer.Typer(cls=_ReviewGroup, no_args_is_help=True,
                         help="Review shot versions: set a status (waiting, retake, approved), pin notes to frames, "
                              "export them. `reelforge review SPEC SHOT --status approved` is `review set …`.")
app.add_typer(review_app, name="review")

# [SPEC] SHOT: an optional argument before a required one is more than typer parses, so both come as a list.
SpecAndShot = Annotated[list[str], typer.Argument(metavar="[SPEC] SHOT", show_default=False,
                                                  help="production.json or its folder (default: the production "
                                                       "this folder is in), then the shot, e.g. s01e01/sc01/sh01")]
VersionOption = Annotated[int | None, typer.Option("--version", help="the version number (v1 = the oldest); "
                                                                      "default: the version the spec renders, else the latest rendered")]
ActorOption = Annotated[str | None, typer.Option(help="who reviews (default: $REELFORGE_ACTOR or your login)")]
# The help is rich markup: escaped, or `[x, y]` would be read as a tag and vanish from it.
DRAWING_HELP = escape('a JSON list of strokes: [{"tool": "arrow"|"box"|"freehand", "points": [[x, y], …]}] '
                      "with x, y from 0 to 1")
# --production, named apart from the loaded `production` these commands work on.
ProductionPathOption = Annotated[Path | None, typer.Option("--production", help=PRODUCTION_HELP)]


def _production(spec: Path | None, production: Path | None):
    """The production of a shot's SPEC or --production (not both), else the current folder's; and its spec."""
    paths = spec_or_production(spec, production, "to review")
    return paths, load_or_exit(paths.spec)


def _spec_and_shot(arguments: list[str]) -> tuple[Path | None, str]:
    """SHOT, or SPEC SHOT; anything else is one line, exit 2."""
    if len(arguments) == 1:
        return None, arguments[0]
    if len(arguments) == 2:
        return Path(arguments[0]), arguments[1]
    raise fail(f"give the shot, optionally after the production: [SPEC] SHOT (got {len(arguments)} arguments)")


def _recorded(call):
    """Run `call`, turning refusals into one error line: bad input exit 2, a busy production exit 1."""
    try:
        return call()
    except ReviewRefused as exc:
        raise fail(str(exc)) from None
    except DeliveryError as exc:
        raise fail(str(exc)) from None
    except ProductionBusy as exc:
        raise fail(str(exc), code=1) from None


@review_app.command("set")
def set_command(
    spec_and_shot: SpecAndShot,
    status: Annotated[str, typer.Option("--status", help=f"one of {', '.join(STATUSES)}")],
    message: Annotated[str, typer.Option("-m", "--message", help="the note (required for a retake: what to fix)")] = "",
    version: VersionOption = None,
    actor: ActorOption = None,
    production_path: ProductionPathOption = None,
) -> None:
    """Set the review status of the version the shot stands at (or of --version N), recorded in the change log."""
    spec, shot = _spec_and_shot(spec_and_shot)
    paths, production = _production(spec, production_path)
    done = _recorded(lambda: set_status(paths, production, shot, status, message, actor or current_actor(),
                                        version=version, announce=console.print))
    console.print(f"{shot} v{done.version.number} (render #{done.version.render_id}): {STATE_LABELS[done.status]} "
                  f"— change-log entry {done.seq}", highlight=False, markup=False)


@review_app.command("note")
def note_command(
    spec_and_shot: SpecAndShot,
    frame: Annotated[int, typer.Option("--frame", help="the frame's index in the shot (0 = its first)")],
    message: Annotated[str, typer.Option("-m", "--message", help="the note's text")],
    drawing: Annotated[Path | None, typer.Option("--drawing", help=DRAWING_HELP)] = None,
    version: VersionOption = None,
    actor: ActorOption = None,
    production_path: ProductionPathOption = None,
) -> None:
    """Pin a note (and a drawing) to one frame of the version the shot stands at (or of --version N)."""
    spec, shot = _spec_and_shot(spec_and_shot)
    paths, production = _production(spec, production_path)
    strokes = _drawing(drawing) if drawing is not None else []
    note = _recorded(lambda: add_note(paths, production, shot, frame, message, actor or current_actor(),
                                      drawing=strokes, version=version, announce=console.print))
    console.print(f"note #{note.id} on {shot} v{note.version}, frame {note.frame}"
                  + (f", {len(note.drawing)} stroke{'' if len(note.drawing) == 1 else 's'}" if note.drawing else ""),
                  highlight=False, markup=False)


def _drawing(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail(f"--drawing {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"--drawing {path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        return drawing_from_text(text, str(path))
    except NoteRefused as exc:
        raise fail(str(exc)) from None


@review_app.command("notes")
def notes_command(
    spec: SpecArgument = None,
    shot: Annotated[str | None, typer.Option("--shot", help="only this shot's notes")] = None,
    episode: Annotated[str | None, typer.Option("--episode", help="only this episode's notes")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the notes as JSON to this file")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="write a review sheet (HTML, annotated stills "
                                                                 "embedded) to this file")] = None,
) -> None:
    """Export notes: every note of the production, a shot or an episode, as JSON or as an HTML review sheet."""
    if (json_out is None) == (html_out is None):
        raise fail("give one of --json OUT or --html OUT")
    if shot is not None and episode is not None:
        raise fail("give --shot or --episode, not both")
    if json_out is not None:
        output_file(json_out, "--json", "notes.json")
    else:
        output_file(html_out, "--html", "notes.html")
    paths = spec_argument(spec)
    production = load_or_exit(paths.spec)
    scope = _scope(production, shot, episode)
    title = text_in(production.series.title, production.language, production.language) or production.series.id
    if json_out is not None:
        found = notes(paths, shot=shot, episode=episode)
        write_text(json_out, json.dumps(notes_export(title, scope, found), indent=2, ensure_ascii=False) + "\n")
        console.print(f"{len(found)} note{'' if len(found) == 1 else 's'} of {scope} written to {shown(json_out)}",
                      highlight=False, markup=False)
        return
    shots = sheet_shots(paths, production, shot=shot, episode=episode)
    write_text(html_out, review_sheet(title, scope, shots, FrameStore(paths.frames), utc_now()))
    count = sum(len(s.notes) for s in shots)
    console.print(f"review sheet of {scope} ({count} note{'' if count == 1 else 's'}) written to {shown(html_out)}",
                  highlight=False, markup=False)


def _scope(production, shot: str | None, episode: str | None) -> str:
    """What the export covers, in words; exit 2 for a shot or an episode the spec does not have."""
    if shot is not None:
        shots = {f"{e.id}/{sc.id}/{sh.id}" for e in production.episodes for sc in e.scenes for sh in sc.shots}
        if shot not in shots:
            raise fail(f"--shot {shot}: no such shot in the spec (a shot is EPISODE/SCENE/SHOT, e.g. s01e01/sc01/sh01)")
        return f"shot {shot}"
    if episode is not None:
        if episode not in {e.id for e in production.episodes}:
            raise fail(f"--episode {episode}: no such episode in the spec")
        return f"episode {episode}"
    return "every shot"

