"""The `reelforge` command, assembled from one module per concern.

    spec.py      init, validate, schema, styles
    render.py    render, assemble, verify, status
    records.py   commit, history, show, diff, refs
    log.py       log (list, verify, proof, check-proof, checkpoint), approve
    review.py    review (set, note, notes): review statuses and frame-pinned notes
    trust.py     credentials (show, verify), watermark, trace
    energy.py    energy
    models.py    models (make-tiny, hash)
    export.py    export otio
    store.py     store (du, gc)
    studio.py    studio
    console.py   what they share: the consoles, `fail`, finding the production, common options

Exit codes: 0 success, 1 a check failed (verify found differences, or the production is busy),
2 bad input (spec problems, unknown shot, bad range), 3 the machine or a file is in the way (the disk
is full, a folder is read-only, the catalog is damaged: app/faults.py), 70 an internal error (a bug).
None of them prints a traceback; REELFORGE_DEBUG=1 prints one for exit 3 and 70.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer

from reelforge.app.faults import IN_THE_WAY, INTERNAL, fault_message, internal_message
from reelforge.cli import (
    energy,
    export,
    log,
    models,
    records,
    render,
    review,
    spec,
    store,
    studio,
    trust,
)
from reelforge.cli.console import fail, shown

app = typer.Typer(help="Deterministic rendering of AI video series on your own hardware.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
for commands in (spec, render, records, log, review, trust, energy, models, export, store, studio):
    app.add_typer(commands.app)


def main() -> None:
    """The `reelforge` command (`--farm` alone completed to `--farm local` first: cli/render.py).

    typer (with pretty exceptions off) and click let every exception but their own propagate:
    here each becomes one line and an exit code — a fault of the machine or a file (exit 3)
    or a bug (exit 70).
    """
    try:
        app(args=render.with_farm_default(sys.argv[1:]), prog_name="reelforge")
    except Exception as error:  # the one place an unexpected error is said
        if os.environ.get("REELFORGE_DEBUG"):
            traceback.print_exc()
        fault = fault_message(error, show=shown)
        sys.exit(fail(fault or internal_message(error), code=IN_THE_WAY if fault else INTERNAL).exit_code)
