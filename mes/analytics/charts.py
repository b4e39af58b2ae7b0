"""Geometry of the dashboard's server-drawn SVG charts (no JavaScript, no CDN): a line chart
for trends over the buckets, a grouped bar chart per category (work center, unit, age
bucket). The template `analytics/partials/_chart.html` draws what this computes."""

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

WIDTH, HEIGHT = 860, 270
LEFT, RIGHT, TOP, BOTTOM = 58, 16, 14, 44
PALETTE = (
    "#1f4e79",
    "#c0392b",
    "#2a7a2a",
    "#8e44ad",
    "#d35400",
    "#16a085",
    "#7f8c8d",
    "#b7950b",
)
MAX_X_LABELS = 12


@dataclass
class LineSeries:
    name: str
    color: str
    polylines: list[str] = field(default_factory=list)  # broken where a bucket has no data
    dots: list[tuple[float, float, str]] = field(default_factory=list)  # x, y, title


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str
    series: str
    category: str


@dataclass
class Chart:
    kind: str
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    lines: list[LineSeries] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    is_empty: bool = True


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.1f}" if abs(value) < 10_000 else f"{value:,.0f}"
    return f"{text} {unit}" if unit else text


def label_of(x: Any, bucket: str) -> str:
    if isinstance(x, datetime):
        x = x.date()
    if isinstance(x, date):
        return x.strftime("%b %Y") if bucket == "month" else x.strftime("%d %b")
    text = str(x)
    return text if len(text) <= 14 else text[:13] + "…"


def _nice_step(span: float) -> float:
    raw = span / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _scale(values: list[float], unit: str) -> tuple[float, float, float]:
    """(low, high, step): from 0 (or below) to a round number above the data; 0–100 for %
    unless a value is above 100."""
    low = min([0.0, *values])
    high = max([*values, 100.0 if unit == "%" else 1.0])
    step = _nice_step(high - low)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def _axis(chart: Chart, low: float, high: float, step: float) -> Any:
    span = chart.plot_bottom - chart.plot_top

    def y_of(v: float) -> float:
        return round(chart.plot_bottom - span * (v - low) / (high - low), 1)

    ticks, value = [], low
    while value <= high + step / 1000:
        text = f"{value:,.0f}" if float(step).is_integer() else f"{value:,.1f}"
        ticks.append((y_of(value), text))
        value += step
    chart.y_ticks = ticks
    return y_of


def line_chart(
    series: dict[str, list[tuple[Any, float | None]]], *, unit: str, bucket: str
) -> Chart:
    chart = Chart(kind="line")
    xs = sorted({x for points in series.values() for x, _v in points}, key=_sort_key)
    values = [v for points in series.values() for _x, v in points if v is not None]
    if not xs or not values:
        return chart
    chart.is_empty = False
    low, high, step = _scale(values, unit)
    y_of = _axis(chart, low, high, step)
    width = chart.plot_right - chart.plot_left
    step = width / max(len(xs) - 1, 1)
    index = {x: i for i, x in enumerate(xs)}

    def x_of(x: Any) -> float:
        return round(chart.plot_left + (step * index[x] if len(xs) > 1 else width / 2), 1)

    every = max(1, -(-len(xs) // MAX_X_LABELS))
    chart.x_labels = [(x_of(x), label_of(x, bucket)) for x in xs[::every]]
    for n, (name, points) in enumerate(series.items()):
        line = LineSeries(name=name, color=PALETTE[n % len(PALETTE)])
        run: list[str] = []
        for x, v in sorted(points, key=lambda p: _sort_key(p[0])):
            if v is None:
                if run:
                    line.polylines.append(" ".join(run))
                run = []
                continue
            px, py = x_of(x), y_of(v)
            run.append(f"{px},{py}")
            line.dots.append((px, py, f"{name} · {label_of(x, bucket)}: {fmt(v, unit)}"))
        if run:
            line.polylines.append(" ".join(run))
        chart.lines.append(line)
        chart.legend.append((name, line.color))
    return chart


def bar_chart(series: dict[str, list[tuple[Any, float | None]]], *, unit: str) -> Chart:
    chart = Chart(kind="bar")
    categories: list[Any] = []
    for points in series.values():
        for x, _v in points:
            if x not in categories:
                categories.append(x)
    values = [v for points in series.values() for _x, v in points if v is not None]
    if not categories or not values:
        return chart
    chart.is_empty = False
    low, high, step = _scale(values, unit)
    y_of = _axis(chart, low, high, step)
    group = (chart.plot_right - chart.plot_left) / len(categories)
    bar_w = max(group * 0.8 / max(len(series), 1), 1.0)
    zero = y_of(0.0)
    for n, (name, points) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        chart.legend.append((name, color))
        for x, v in points:
            if v is None:
                continue
            i = categories.index(x)
            left = chart.plot_left + group * i + group * 0.1 + bar_w * n
            top = y_of(v)
            chart.bars.append(
                Bar(
                    x=round(left, 1),
                    y=round(min(top, zero), 1),
                    width=round(bar_w, 1),
                    height=round(abs(zero - top), 1),
                    color=color,
                    title=f"{name} · {x}: {fmt(v, unit)}",
                    series=name,
                    category=str(x),
                )
            )
    chart.x_labels = [
        (round(chart.plot_left + group * (i + 0.5), 1), label_of(c, ""))
        for i, c in enumerate(categories)
    ]
    return chart


def _sort_key(x: Any) -> Any:
    if isinstance(x, datetime):
        return (0, x.date().isoformat())
    if isinstance(x, date):
        return (0, x.isoformat())
    return (1, str(x))


def chart_for(
    kind: str, series: dict[str, list[tuple[Any, float | None]]], *, unit: str, bucket: str
) -> Chart:
    if kind == "bar":
        return bar_chart(series, unit=unit)
    return line_chart(series, unit=unit, bucket=bucket)
