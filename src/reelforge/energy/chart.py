"""Bar charts of energy figures, as geometry a page draws as SVG (no chart library, no script).

The figures span many orders of magnitude (a previz render uses micro-kWh, a GPU episode whole
kWh), so the axis runs from 0 to a "nice" maximum (1, 2 or 5 × a power of ten) and every bar
carries its value as text: a bar too short to see still says what it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from reelforge.energy.report import energy_text, figure

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 104, 16, 16, 44  # margins: axis labels left ("0.200 Wh/min" fits), bar labels below


def nice_maximum(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^n at or above `value` (1 for nothing to show).

    At the ends of what a float holds (no such step above it, or 10^n rounds to 0) the value itself.
    """
    if not value > 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * power
        if not math.isfinite(candidate) or candidate <= 0:
            return value
        if value <= candidate * (1 + 1e-12):
            return candidate
    return value


@dataclass(frozen=True)
class Bar:
    key: str  # what the bar is of (a render id)
    label: str  # under the bar
    value: float | None
    text: str  # the value as shown above the bar
    x: float
    y: float
    width: float
    height: float
    label_x: float  # centre of the bar
    text_y: float


@dataclass(frozen=True)
class Tick:
    y: float
    text: str


@dataclass(frozen=True)
class BarChart:
    title: str
    unit: str
    width: int
    height: int
    bars: list[Bar]
    ticks: list[Tick]
    axis_left: float
    axis_bottom: float
    axis_right: float


def bar_chart(items: list[tuple[str, str, float | None]], *, title: str, unit: str, width: int = WIDTH,
              height: int = HEIGHT, text: Callable[[float | None], str] = figure) -> BarChart:
    """One bar per (key, label, value), left to right; an unknown value (None) gets a labelled empty slot.

    `text` writes a value as its bar and the axis show it (energy: `energy_text`, with its unit).

    A value that is not a finite number (NaN, ±inf from a broken reading) is shown as unknown: every
    coordinate written into the SVG stays a finite number.
    """
    items = [(key, label, value if value is None or math.isfinite(value) else None) for key, label, value in items]
    plot_width, plot_height = width - LEFT - RIGHT, height - TOP - BOTTOM
    top = nice_maximum(max((v for _, _, v in items if v is not None), default=0.0))
    slot = plot_width / max(len(items), 1)
    bar_width = min(slot * 0.7, 80.0)
    bottom = TOP + plot_height
    bars = []
    for index, (key, label, value) in enumerate(items):
        # value / top first: plot_height × a value near the float maximum would overflow to inf
        bar_height = 0.0 if value is None else plot_height * min(max(value, 0.0) / top, 1.0)
        if value is not None and value > 0:
            bar_height = max(bar_height, 1.0)  # a tiny figure still shows as a line
        centre = LEFT + slot * (index + 0.5)
        bars.append(Bar(key=key, label=label, value=value, text=text(value), x=round(centre - bar_width / 2, 2),
                        y=round(bottom - bar_height, 2), width=round(bar_width, 2), height=round(bar_height, 2),
                        label_x=round(centre, 2), text_y=round(bottom - bar_height - 4, 2)))
    ticks = [Tick(round(bottom - plot_height * fraction, 2), text(top * fraction)) for fraction in (0, 0.5, 1)]
    return BarChart(title=title, unit=unit, width=width, height=height, bars=bars, ticks=ticks, axis_left=LEFT,
                    axis_bottom=bottom, axis_right=width - RIGHT)


def energy_charts(report: dict) -> list[BarChart]:
    """Energy per render and per finished minute, from `energy.report.energy_report()`: one bar per render."""
    renders = report["renders"]

    def label(render: dict) -> str:
        return f"#{render['render_id']} {render['episode_id']}" + ("" if render["kind"] == "episode" else " clip")

    return [
        bar_chart([(str(r["render_id"]), label(r), r["kwh"]) for r in renders], title="Energy per render",
                  unit="Wh or kWh", text=energy_text),
        bar_chart([(str(r["render_id"]), label(r), r["kwh_per_minute"]) for r in renders],
                  title="Energy per finished minute", unit="Wh or kWh per minute",
                  text=lambda value: energy_text(value, "/min")),
    ]
