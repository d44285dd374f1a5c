"""kWh per render and per finished minute, from the catalog's energy rows.

A render on your own hardware has no facility overhead to speak of; a datacentre adds cooling
and power conversion, 30–50 % on top (PUE 1.3–1.5). The report shows both so the figures can be
compared with a cloud render. Measured and estimated kWh are kept apart all the way through.
"""

from __future__ import annotations

import math

PUES = (1.3, 1.5)


def figure(value: float | None) -> str:
    """A bare number to 3 significant digits, '–' when unknown (a chart's generic label)."""
    return "–" if value is None else f"{value:.3g}"


def _significant(value: float) -> str:
    """3 significant figures written out (0.0231, 1.23, 12300), not in e-notation, within ±1e±9."""
    rounded = float(f"{value:.3g}")
    if rounded == 0:
        return "0"
    exponent = math.floor(math.log10(abs(rounded)))
    if not -9 <= exponent <= 9:  # past what anyone meters: e-notation is the readable form
        return f"{value:.3g}"
    return f"{rounded:.{max(0, 2 - exponent)}f}"


def _energy_unit(kwh: float) -> tuple[float, str]:
    """Wh below a kilowatt-hour (after rounding to 3 figures: 999.6 Wh reads 1.00 kWh), kWh above."""
    return (kwh, "kWh") if abs(float(f"{kwh * 1000:.3g}")) >= 1000 else (kwh * 1000, "Wh")


def energy_text(kwh: float | None, per: str = "") -> str:
    """An energy in kWh as people read it: Wh or kWh, 3 significant figures ('2.31e-05' → '0.0231 Wh').

    `per` follows the unit ('/min'); '–' when unknown or not a number. Every page and `reelforge
    energy` write energy through this one function.
    """
    if kwh is None or not math.isfinite(kwh):
        return "–"
    value, unit = _energy_unit(kwh)
    return f"{_significant(value)} {unit}{per}"


def energy_range(low: float | None, high: float | None, per: str = "") -> str:
    """'LOW–HIGH unit' in the unit of the higher figure ('0.0300–0.0346 Wh/min'); '–' when unknown."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return "–"
    _, unit = _energy_unit(high)
    scale = 1.0 if unit == "kWh" else 1000.0
    return f"{_significant(low * scale)}–{_significant(high * scale)} {unit}{per}"


def pue_range(values: dict[str, float | None], per: str = "") -> str:
    """An energy at the lowest and the highest PUE, as 'LOW–HIGH unit' ('–' when unknown)."""
    return energy_range(values[f"{PUES[0]:g}"], values[f"{PUES[-1]:g}"], per)


def _pue(value: float | None) -> dict[str, float | None]:
    return {f"{pue:g}": None if value is None else value * pue for pue in PUES}


def render_figures(row: dict) -> dict:
    """One render's figures from a `Catalog.energy_rows()` row."""
    fps = row.get("fps")
    minutes = row["frames"] / fps / 60 if fps else 0.0
    kwh = row["kwh_total"]
    per_minute = kwh / minutes if minutes > 0 else None
    components = row["reading"]["components"]
    notes = []
    reused_only = row.get("kind") == "episode" and row.get("shots_rendered") == 0
    if reused_only:
        notes.append("every shot was reused from the store: only assembly ran, so near-zero energy is right")
    if not fps:
        notes.append("no frame rate recorded: finished minutes unknown")
    return {
        "render_id": row["render_id"], "kind": row["kind"], "episode_id": row["episode_id"],
        "output_path": row["output_path"], "started_at": row["started_at"], "device": row["device"],
        "seconds": row["seconds"], "frames": row["frames"], "fps": fps, "finished_minutes": minutes,
        "kwh": kwh, "kwh_measured": row["kwh_measured"], "kwh_estimated": row["kwh_estimated"],
        "kwh_per_minute": per_minute, "kwh_at_pue": _pue(kwh), "kwh_per_minute_at_pue": _pue(per_minute),
        "measured": sorted(name for name, c in components.items() if c["measured"]),
        "estimated": sorted(name for name, c in components.items() if not c["measured"]),
        "methods": {name: c["method"] for name, c in components.items()},
        "notes": notes, "reused_only": reused_only,
    }


def energy_report(rows: list[dict]) -> dict:
    """Per-render figures, totals over all of them, and every method used (with the renders it covers)."""
    renders = [render_figures(row) for row in rows]
    kwh = sum(r["kwh"] for r in renders)
    minutes = sum(r["finished_minutes"] for r in renders)
    # Per finished minute counts the minutes that were rendered: a re-delivery assembled from the
    # store adds minutes but no rendering, and would make the figure look cheaper than it is.
    rendered_minutes = sum(r["finished_minutes"] for r in renders if not r["reused_only"])
    per_minute = kwh / rendered_minutes if rendered_minutes > 0 else None
    methods: dict[tuple[str, bool, str], list[int]] = {}
    for row in rows:
        for name, c in row["reading"]["components"].items():
            methods.setdefault((name, c["measured"], c["method"]), []).append(row["render_id"])
    return {
        "pue": list(PUES),
        "renders": renders,
        "totals": {
            "renders": len(renders), "kwh": kwh,
            "kwh_measured": sum(r["kwh_measured"] for r in renders),
            "kwh_estimated": sum(r["kwh_estimated"] for r in renders),
            "finished_minutes": minutes, "rendered_minutes": rendered_minutes, "kwh_per_minute": per_minute,
            "kwh_at_pue": _pue(kwh), "kwh_per_minute_at_pue": _pue(per_minute),
        },
        "methods": [{"component": name, "measured": measured, "method": method, "render_ids": ids}
                    for (name, measured, method), ids in sorted(methods.items(), key=lambda m: (m[0][0], not m[0][1]))],
    }
