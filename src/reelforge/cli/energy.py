"""`reelforge energy SPEC [--json]`: energy (Wh or kWh) per render and per finished minute, measured vs estimated.

Exit codes: 0 printed, 2 bad input (no such spec, or no render energy recorded).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from reelforge.cli.console import SpecArgument, console, fail, spec_file
from reelforge.energy.report import PUES, energy_report, energy_text, pue_range
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths

app = typer.Typer()


def _sources(render: dict) -> str:
    """'gpu✓ cpu~': which parts were measured (✓) and which estimated (~); the footer says how."""
    return " ".join([f"{name}✓" for name in render["measured"]] + [f"{name}~" for name in render["estimated"]]) or "–"


@app.command("energy")
def energy_command(spec: SpecArgument = None,
                   as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False) -> None:
    """Energy (Wh or kWh) per render and per finished minute, measured vs estimated, with datacentre PUE 1.3–1.5 for comparison."""
    spec = spec_file(spec)
    paths = ProductionPaths.for_spec(spec)
    rows = []
    if paths.catalog.exists():
        with Catalog(paths.catalog) as catalog:
            rows = catalog.energy_rows()
    if not rows:
        raise fail(f"no render energy recorded in {paths.root} yet; render first: reelforge render {spec}")
    report = energy_report(rows)
    if as_json:
        print(json.dumps(report, indent=2))
        return

    pue_label = f"{PUES[0]:g}–{PUES[-1]:g}"
    table = Table(title="energy per render", title_justify="left", box=box.SIMPLE)  # no side rules: fits 80 columns
    # Few, short columns: the table must stay readable in an 80-column terminal.
    for column in ("#", "episode", "device", "min", "energy", "per min", f"PUE {pue_label}", "source"):
        table.add_column(column, no_wrap=column != "episode", overflow="fold", min_width=7 if column == "episode" else None)
    for r in report["renders"]:
        episode = r["episode_id"] if r["kind"] == "episode" else f"{r['episode_id']} (clip)"
        table.add_row(str(r["render_id"]), episode, r["device"], f"{r['finished_minutes']:.2f}", energy_text(r["kwh"]),
                      energy_text(r["kwh_per_minute"], "/min"), pue_range(r["kwh_per_minute_at_pue"], "/min"),
                      _sources(r))
    t = report["totals"]
    table.add_section()
    table.add_row("all", "", "", f"{t['finished_minutes']:.2f}", energy_text(t["kwh"]),
                  energy_text(t["kwh_per_minute"], "/min"), pue_range(t["kwh_per_minute_at_pue"], "/min"), "")
    console.print(table)

    say = lambda text: console.print(text, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    say(f"Measured: {energy_text(t['kwh_measured'])} of {energy_text(t['kwh'])} in total; "
        f"estimated: {energy_text(t['kwh_estimated'])}. An estimate is not a reading: its method and assumption follow.")
    for m in report["methods"]:
        ids = ", ".join(str(i) for i in m["render_ids"])
        say(f"  {m['component']} ({'measured' if m['measured'] else 'ESTIMATED'}, renders {ids}): {m['method']}")
    say("source: ✓ measured, ~ estimated (methods above).")
    say(f"Energy is at the machine (PUE 1.0: no building overhead counted); the PUE {pue_label} column is the same "
        f"energy with a datacentre's cooling and power losses added (×{PUES[0]:g} to ×{PUES[-1]:g}), for comparison. "
        "Finished minutes = frames ÷ fps ÷ 60; the total per minute counts only minutes that were rendered "
        "(a delivery assembled wholly from the store adds none).")
    for r in report["renders"]:
        for note in r["notes"]:
            say(f"render {r['render_id']}: {note}")
