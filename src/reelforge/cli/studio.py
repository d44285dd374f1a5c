"""`reelforge studio`: serve the Open Studio for a production (studio/)."""

from __future__ import annotations

from typing import Annotated

import typer

from reelforge.app.render_request import RenderRefused
from reelforge.cli.console import SpecArgument, console, errors, fail, load_or_exit, refused, spec_file
from reelforge.farm.options import FarmOptions
from reelforge.records.actors import current_actor

app = typer.Typer()


@app.command()
def studio(
    spec: SpecArgument = None,
    port: Annotated[int, typer.Option(help="port to listen on")] = 8765,
    host: Annotated[str, typer.Option(help="address to listen on (default: this machine only); another "
                                           "address lets other machines in: a warning is printed")] = "127.0.0.1",
    actor: Annotated[str | None, typer.Option(help="your name in the records (default: $REELFORGE_ACTOR or "
                                                   "your login)")] = None,
    farm: Annotated[str | None, typer.Option(help="render the queue on a Ray farm: --farm alone starts one on this "
                                                  "machine; auto, HOST:PORT or ray://HOST:PORT joins a cluster "
                                                  "(docs/farm.md)")] = None,
) -> None:
    """Open Studio: browse, direct, render, review and trace this production in a browser."""
    # Deferred: the web app's libraries (FastAPI, uvicorn) take half a second to import; no other command needs them.
    from reelforge.studio.server import serve

    spec = spec_file(spec)
    load_or_exit(spec)  # a spec that does not load is reported here, with its JSON paths, not in the browser
    if not 0 < port < 65536:
        raise fail(f"--port must be 1–65535, got {port}")
    try:
        serve(spec, host=host, port=port, owner=actor or current_actor(), farm=FarmOptions(farm) if farm else None,
              say=lambda text: console.print(text, highlight=False, markup=False, soft_wrap=True),
              warn=lambda text: errors.print(f"[bold yellow]warning:[/] {text}", highlight=False, soft_wrap=True))
    except RenderRefused as exc:  # the farm could not be joined
        raise refused(exc) from None
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
