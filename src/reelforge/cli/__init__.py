"""The `reelforge` command, assembled from one module per concern.

    spec.py      init, validate, schema, styles
    render.py    render, verify, status
    records.py   commit, history, show, diff, refs
    log.py       log (list, verify, proof, check-proof, checkpoint), approve
    trust.py     credentials (show, verify), watermark, trace
    energy.py    energy
    models.py    models (make-tiny, hash)
    export.py    export otio
    studio.py    studio
    console.py   what they share: the consoles, `fail`, finding the production, common options

Exit codes: 0 success, 1 a check failed (verify found differences, or the production is busy),
2 bad input (spec problems, unknown shot, bad range). Bad input never prints a traceback.
"""

from __future__ import annotations

import sys

import typer

from reelforge.cli import (
    energy,
    export,
    log,
    models,
    records,
    render,
    spec,
    studio,
    trust,
)

app = typer.Typer(help="Deterministic rendering of AI video series on your own hardware.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
for commands in (spec, render, records, log, trust, energy, models, export, studio):
    app.add_typer(commands.app)


def main() -> None:
    """The `reelforge` command (`--farm` alone completed to `--farm local` first: cli/render.py)."""
    app(args=render.with_farm_default(sys.argv[1:]), prog_name="reelforge")
