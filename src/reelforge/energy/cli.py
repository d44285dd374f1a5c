"""`reelforge energy SPEC [--json]`: kWh per render and per finished minute, measured vs estimated.

Exit codes as in reelforge.cli: 0 printed, 2 bad input (no such spec, or no render energy recorded).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from reelforge.energy.report import PUES, energy_report
from reelforge.project import ProductionPaths
from reelforge.store.catalog import Catalog


def _num(value: float | None) -> str:
    """kWh figures span 1e-9 (a reused episode) to hundreds: 3 significant digits, '–' when unknown."""
    return "–" if value is None else f"{value:.3g}"


def _pue_range(values: dict[str, float | None]) -> str:
    low, high = values[f"{PUES[0]:g}"], values[f"{PUES[-1]:g}"]
    return "–" if low is None else f"{_num(low)}–{_num(high)}"


def _parts(names: list[str]) -> str:
    return ", ".join(names) or "–"


def energy_command(spec: Path, as_json: bool = False) -> None:
    """Print the energy of every recorded render of the production at `spec` (a typer command body)."""
    console, errors = Console(), Console(stderr=True)
    paths = ProductionPaths.for_spec(spec)
    if not Path(spec).is_file():
        errors.print(f"[bold red]error:[/] {spec}: no such file", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    rows = Catalog(paths.catalog).energy_rows() if paths.catalog.exists() else []
    if not rows:
        errors.print(f"[bold red]error:[/] no render energy recorded in {paths.root} yet; "
                     f"render first: reelforge render {spec}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    report = energy_report(rows)
    if as_json:
        print(json.dumps(report, indent=2))
        return

    pue_label = f"{PUES[0]:g}–{PUES[-1]:g}"
    table = Table(title="energy per render", title_justify="left")
    for column in ("render", "episode", "kind", "device", "finished min", "kWh", "kWh/min",
                   f"kWh/min at PUE {pue_label}", "measured", "estimated"):
        table.add_column(column, no_wrap=True)
    for r in report["renders"]:
        table.add_row(str(r["render_id"]), r["episode_id"], r["kind"], r["device"], f"{r['finished_minutes']:.2f}",
                      _num(r["kwh"]), _num(r["kwh_per_minute"]), _pue_range(r["kwh_per_minute_at_pue"]),
                      _parts(r["measured"]), _parts(r["estimated"]))
    t = report["totals"]
    table.add_section()
    table.add_row("all", "", f"{t['renders']} renders", "", f"{t['finished_minutes']:.2f}", _num(t["kwh"]),
                  _num(t["kwh_per_minute"]), _pue_range(t["kwh_per_minute_at_pue"]), "", "")
    console.print(table)

    say = lambda text: console.print(text, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    say(f"Measured: {_num(t['kwh_measured'])} kWh of {_num(t['kwh'])} kWh in total; "
        f"estimated: {_num(t['kwh_estimated'])} kWh. An estimate is not a reading: its method and assumption follow.")
    for m in report["methods"]:
        ids = ", ".join(str(i) for i in m["render_ids"])
        say(f"  {m['component']} ({'measured' if m['measured'] else 'ESTIMATED'}, renders {ids}): {m['method']}")
    say(f"kWh is at the machine (PUE 1.0: no building overhead counted); the PUE {pue_label} column is the same "
        f"energy with a datacentre's cooling and power losses added (×{PUES[0]:g} to ×{PUES[-1]:g}), for comparison. "
        "Finished minutes = frames ÷ fps ÷ 60; the total kWh per minute counts only minutes that were rendered "
        "(a delivery assembled wholly from the store adds none).")
    for r in report["renders"]:
        for note in r["notes"]:
            say(f"render {r['render_id']}: {note}")
