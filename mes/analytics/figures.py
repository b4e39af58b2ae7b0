"""Small helpers for the plant apps' `metrics.py`: percentages and series on the dashboard's
buckets. The aggregation itself stays in each app's SQL (GROUP BY bucket)."""

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

Number = int | float | Decimal


def as_float(value: Any) -> float:
    """A number from SQL (Decimal, int, float, timedelta as seconds, None as 0)."""
    if value is None:
        return 0.0
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def pct(part: Any, whole: Any, digits: int = 1) -> float | None:
    """100 × part / whole, rounded; None when there is no whole (no data, not 0 %)."""
    den = as_float(whole)
    if den <= 0:
        return None
    return round(100.0 * as_float(part) / den, digits)


def ratio(part: Any, whole: Any) -> float | None:
    den = as_float(whole)
    if den <= 0:
        return None
    return as_float(part) / den


def product_pct(*fractions: float | None, digits: int = 1) -> float | None:
    """OEE: the product of fractions (0..1) as a percentage; None if any is unknown."""
    if any(f is None for f in fractions):
        return None
    total = 1.0
    for f in fractions:
        total *= f  # type: ignore[operator]
    return round(100.0 * total, digits)


def pct_of(fraction: float | None, digits: int = 1) -> float | None:
    return None if fraction is None else round(100.0 * fraction, digits)


def on_buckets(starts: list[date], values: Mapping[date, float | None]) -> list[tuple[date, Any]]:
    """The points of one series on every bucket (None where the bucket has no data)."""
    return [(start, values.get(start)) for start in starts]


# --- one read shared by several figures of one dashboard request ------------------------------
# OEE, its trend and the scrap rate read the same grouped rows: the dashboard opens
# `shared_reads()` around a request's figures, and a metric wraps its grouped query in
# `shared(key, fn)`; outside that block (API, one metric) `fn` simply runs.

_memo: ContextVar[dict[Any, Any] | None] = ContextVar("mes_analytics_memo", default=None)


@contextmanager
def shared_reads() -> Iterator[None]:
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def shared(key: Any, fn: Callable[[], Any]) -> Any:
    memo = _memo.get()
    if memo is None:
        return fn()
    if key not in memo:
        memo[key] = fn()
    return memo[key]


def hours(seconds: float) -> float:
    return round(seconds / 3600, 2)


Column = tuple[str, Callable[[Mapping[str, Any]], Any]]


def oee_table(
    per_resource: Mapping[str, Mapping[str, Any]],
    *,
    label: str,
    components: Callable[[Mapping[str, Any]], Mapping[str, float | None]],
    before: list[Column],
    after: list[Column],
    note: str,
) -> Any:
    """OEE per resource (work center, unit): one table row and one bar in each of the series
    Availability, Performance, Quality and OEE per resource. `components(parts)` returns the
    fractions "availability", "performance", "quality" (0..1) and "oee" (a percentage);
    `before`/`after` are the app's own columns around the four percentages."""
    from mes.registry import MetricResult

    result = MetricResult(
        columns=[
            label,
            *(c for c, _ in before),
            "availability %",
            "performance %",
            "quality %",
            "OEE %",
            *(c for c, _ in after),
        ],
        note=note,
    )
    series: dict[str, list[tuple[Any, float | None]]] = {
        "Availability": [],
        "Performance": [],
        "Quality": [],
        "OEE": [],
    }
    for key in sorted(per_resource):
        parts = per_resource[key]
        c = components(parts)
        a, perf, q = pct_of(c["availability"]), pct_of(c["performance"]), pct_of(c["quality"])
        for name, value in (("Availability", a), ("Performance", perf), ("Quality", q)):
            series[name].append((key, value))
        series["OEE"].append((key, c["oee"]))
        result.rows.append(
            {
                label: key,
                **{column: fn(parts) for column, fn in before},
                "availability %": a,
                "performance %": perf,
                "quality %": q,
                "OEE %": c["oee"],
                **{column: fn(parts) for column, fn in after},
            }
        )
    result.series = series if result.rows else {}
    return result


def oee_trend_table(
    parts: Mapping[tuple[str, date], Mapping[str, Any]],
    *,
    label: str,
    components: Callable[[Mapping[str, Any]], Mapping[str, float | None]],
    starts: list[date],
    note: str,
) -> Any:
    """OEE per resource and bucket: one row per (resource, bucket) with the four percentages,
    and one OEE series per resource over the period's buckets (see `oee_table`)."""
    from mes.registry import MetricResult

    result = MetricResult(
        columns=["bucket", label, "availability %", "performance %", "quality %", "OEE %"],
        note=note,
    )
    by_key: dict[str, dict[date, float | None]] = defaultdict(dict)
    for (key, b), p in sorted(parts.items()):
        c = components(p)
        by_key[key][b] = c["oee"]
        result.rows.append(
            {
                "bucket": b,
                label: key,
                "availability %": pct_of(c["availability"]),
                "performance %": pct_of(c["performance"]),
                "quality %": pct_of(c["quality"]),
                "OEE %": c["oee"],
            }
        )
    result.series = {key: on_buckets(starts, v) for key, v in sorted(by_key.items())}
    return result
