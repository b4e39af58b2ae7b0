"""What the plant apps lend the dashboard besides their metrics, registered in their
`metrics.py` next to the metrics (a lower layer never imports a higher one):

- filter choices: the work centers, units and products the filter form offers
  (`register_filter_choices("work_center", "equipment", work_center_choices)`);
- production counts: how many orders started per bucket, the denominator of rates such as
  deviations per 100 orders (`register_production_count("batches", "batches started", fn)`),
  so that quality can compute a rate without importing batches or work orders.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from mes.registry import Period

FILTER_LABELS: dict[str, str] = {
    "work_center": "Work center",
    "unit": "Unit (vessel)",
    "product": "Product",
}


@dataclass(frozen=True)
class FilterChoices:
    key: str  # "work_center", "unit" or "product"
    source: str  # the app that lends them
    choices: Callable[[], list[tuple[str, str]]]  # [(code, label)]


@dataclass(frozen=True)
class ProductionCount:
    key: str
    label: str  # "batches started"
    count: Callable[[Period, str], dict[date, int]]  # (period, bucket) -> {bucket start: n}


_filter_choices: dict[tuple[str, str], FilterChoices] = {}
_production_counts: dict[str, ProductionCount] = {}


def register_filter_choices(
    key: str, source: str, choices: Callable[[], list[tuple[str, str]]]
) -> FilterChoices:
    if key not in FILTER_LABELS:
        raise ValueError(f"Unknown dashboard filter {key!r}: one of {sorted(FILTER_LABELS)}.")
    entry = FilterChoices(key=key, source=source, choices=choices)
    _filter_choices[(key, source)] = entry
    return entry


def filter_choices(key: str) -> list[tuple[str, str]]:
    """Every source's choices for `key`, merged by code, sorted by code."""
    merged: dict[str, str] = {}
    for (k, _source), entry in sorted(_filter_choices.items()):
        if k == key:
            for code, label in entry.choices():
                merged.setdefault(code, label)
    return sorted(merged.items())


def register_production_count(
    key: str, label: str, count: Callable[[Period, str], dict[date, int]]
) -> ProductionCount:
    entry = ProductionCount(key=key, label=label, count=count)
    _production_counts[key] = entry
    return entry


def unregister_production_count(key: str) -> None:
    _production_counts.pop(key, None)


def production_counts(period: Period, bucket: str) -> dict[str, dict[date, int]]:
    """{label: {bucket start: orders started}} of every registered source."""
    return {
        entry.label: entry.count(period, bucket)
        for entry in sorted(_production_counts.values(), key=lambda e: e.key)
    }
