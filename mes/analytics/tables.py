"""The table under each chart and its CSV download: the metric's rows in its column order."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from mes.registry import MetricResult


def columns_of(result: MetricResult) -> list[str]:
    if result.columns:
        return list(result.columns)
    seen: list[str] = []
    for row in result.rows:
        seen.extend(k for k in row if k not in seen)
    return seen


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value == value else ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def table_rows(result: MetricResult) -> list[list[str]]:
    cols = columns_of(result)
    return [[cell_text(row.get(c)) for c in cols] for row in result.rows]


def _safe(text: str) -> str:
    """Spreadsheets execute cells starting with = + - @: keep such text inert."""
    if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _is_number(text)):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_text(result: MetricResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns_of(result))
    for row in table_rows(result):
        writer.writerow([_safe(c) for c in row])
    return out.getvalue()


def json_value(value: Any) -> Any:
    """A JSON-able cell for the API (numbers stay numbers)."""
    if isinstance(value, bool) or value is None or isinstance(value, int | float | str):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
