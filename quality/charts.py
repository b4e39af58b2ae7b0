"""Geometry of the server-side SVG control chart (no JavaScript, no CDN): the template
draws what this computes (coordinates in the SVG's user units)."""

from dataclasses import dataclass, field

from quality.selectors import SpcChart

WIDTH, HEIGHT = 900, 280
SECONDARY_HEIGHT = 160
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 20, 16, 28


@dataclass
class Line:
    y: float
    label: str
    value: float
    kind: str  # "center", "limit", "spec"


@dataclass
class Dot:
    x: float
    y: float
    index: int
    number: int
    title: str
    rules: list[int]

    @property
    def flagged(self) -> bool:
        return bool(self.rules)


@dataclass
class Panel:
    width: int
    height: int
    polyline: str = ""
    dots: list[Dot] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    plot_left: int = MARGIN_LEFT
    plot_right: int = 0
    plot_top: int = MARGIN_TOP
    plot_bottom: int = 0


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _panel(
    values: list[float | None],
    lines: list[tuple[float | None, str, str]],
    *,
    height: int,
    titles: list[str],
    rules: list[list[int]],
) -> Panel:
    panel = Panel(width=WIDTH, height=height)
    panel.plot_right = WIDTH - MARGIN_RIGHT
    panel.plot_bottom = height - MARGIN_BOTTOM
    present = [v for v in values if v is not None]
    levels = [v for v, _, _ in lines if v is not None]
    if not present:
        return panel
    low, high = min(present + levels), max(present + levels)
    if high == low:
        high, low = high + 1, low - 1
    pad = (high - low) * 0.08
    low, high = low - pad, high + pad
    span_x = max(len(values) - 1, 1)

    def x_of(i: int) -> float:
        return round(MARGIN_LEFT + (panel.plot_right - MARGIN_LEFT) * i / span_x, 1)

    def y_of(v: float) -> float:
        return round(
            panel.plot_bottom - (panel.plot_bottom - MARGIN_TOP) * (v - low) / (high - low), 1
        )

    coords = []
    for i, v in enumerate(values):
        if v is None:
            continue
        x, y = x_of(i), y_of(v)
        coords.append(f"{x},{y}")
        panel.dots.append(Dot(x, y, i, i + 1, titles[i], rules[i]))
    panel.polyline = " ".join(coords)
    for value, label, kind in lines:
        if value is not None:
            panel.lines.append(Line(y_of(value), f"{label} {_fmt(value)}", value, kind))
    step = max(1, len(values) // 10)
    panel.x_labels = [(x_of(i), str(i + 1)) for i in range(0, len(values), step)]
    return panel


def chart_panels(chart: SpcChart) -> tuple[Panel, Panel]:
    """The X (or X̄) panel with its limits, spec limits and flagged points, and the MR (or R)
    panel."""
    c = chart.characteristic
    points = chart.points
    titles = [
        f"#{p.index + 1}: {p.label}{' ' + c.unit if c.unit else ''} at {p.at:%Y-%m-%d %H:%M}"
        + (f" ({p.source_ref})" if p.source_ref else "")
        + (f" — rule {', '.join(str(r) for r in p.rules)}" if p.rules else "")
        for p in points
    ]
    main_lines: list[tuple[float | None, str, str]] = [
        (chart.center, "CL", "center"),
        (chart.ucl, "UCL", "limit"),
        (chart.lcl, "LCL", "limit"),
        (float(c.usl) if c.usl is not None else None, "USL", "spec"),
        (float(c.lsl) if c.lsl is not None else None, "LSL", "spec"),
    ]
    main = _panel(
        [p.y for p in points],
        main_lines,
        height=HEIGHT,
        titles=titles,
        rules=[p.rules for p in points],
    )
    name = "R" if chart.is_subgrouped else "MR"
    secondary = _panel(
        [p.secondary for p in points],
        [
            (chart.secondary_center, "R̄" if name == "R" else "MR̄", "center"),
            (chart.secondary_ucl, "UCL", "limit"),
        ],
        height=SECONDARY_HEIGHT,
        titles=[
            f"#{p.index + 1}: {name} {_fmt(p.secondary)}" if p.secondary is not None else ""
            for p in points
        ],
        rules=[[] for _ in points],
    )
    return main, secondary
