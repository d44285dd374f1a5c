"""`reelforge export otio`: a render as an OpenTimelineIO timeline for an editor's tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reelforge.app.export_otio import ExportError, build_timeline, timeline_json
from reelforge.cli.console import (
    ProductionOption,
    console,
    fail,
    production_option,
    shown,
)
from reelforge.errors import SpecError
from reelforge.spec.load import load_production
from reelforge.store.atomic import write_text
from reelforge.store.catalog import Catalog

app = typer.Typer()
export_app = typer.Typer(help="Export renders for other tools.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("otio")
def export_otio_command(
    episode: Annotated[str, typer.Argument(help="episode id, e.g. s01e01")],
    production: ProductionOption = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="the .otio file to write (default: beside "
                                                                       "the delivered file, EPISODE[.LANG].otio); "
                                                                       "media links are relative to its folder")]
    = None,
    language: Annotated[str | None, typer.Option(help="point at this language's delivery (EPISODE.LANG.mp4) and "
                                                      "name the scenes in it")] = None,
) -> None:
    """Write an OpenTimelineIO timeline of the episode's latest render: a clip per shot (linked to the master when
    one was delivered), scene markers, job keys."""
    paths = production_option(production, "to export from")
    if not paths.catalog.exists():
        raise fail(f"{paths.root} has no renders recorded yet")
    try:  # the spec only names scenes of renders made before commits recorded them
        spec = load_production(paths.spec) if paths.spec.is_file() else None
    except SpecError:
        spec = None
    try:
        with Catalog(paths.catalog) as catalog:
            timeline = build_timeline(catalog, episode, spec, language, paths.renders,
                                      output.absolute().parent if output is not None else None)
    except ExportError as exc:
        raise fail(str(exc)) from None
    target = output or Path(timeline.metadata["reelforge"]["output"]).with_suffix(".otio")
    write_text(target, timeline_json(timeline))
    clips = len(timeline.tracks[0])
    media = timeline.metadata["reelforge"]["media"]
    console.print(f"wrote {shown(target)}: {clips} clip(s), {len(timeline.tracks[0].markers)} scene marker(s), "
                  f"render #{timeline.metadata['reelforge']['render_id']}, linked to {media['target_url']} "
                  f"({media['codec_label']}{', the master' if media['master'] else ''})",
                  highlight=False, soft_wrap=True)
