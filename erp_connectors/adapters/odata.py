"""OData V2 (SAP Gateway) value formats, shared by the SAP adapter and its simulator.

Edm.DateTime `"/Date(1504051200000)/"` (also `/Date(ms+0000)/` and ISO strings on input),
Edm.Time `"PT11H16M37S"`, Edm.Decimal as a string, Edm.Guid as `guid'…'` in a $filter.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_TIME = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


def to_datetime_literal(value: date | datetime | str) -> str:
    """`/Date(ms)/` for a date (midnight UTC) or an aware datetime (naive = UTC)."""
    if isinstance(value, str):
        value = parse_iso(value)
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0), tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return f"/Date({int(value.timestamp() * 1000)})/"


def from_datetime_literal(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    match = _DATE.match(str(value))
    if match:
        ms, offset = int(match.group(1)), match.group(2)
        when = datetime.fromtimestamp(ms / 1000, UTC)
        if offset:  # V2 DateTimeOffset: the ms are UTC, the offset is the local one
            sign = 1 if offset[0] == "+" else -1
            minutes = sign * (int(offset[1:3]) * 60 + int(offset[3:]))
            when = when.astimezone(timezone(timedelta(minutes=minutes)))
        return when
    return parse_iso(str(value))


def parse_iso(value: str) -> datetime:
    text = value.replace("Z", "+00:00")
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def to_time_literal(value: datetime | time) -> str:
    return f"PT{value.hour:02d}H{value.minute:02d}M{value.second:02d}S"


def from_time_literal(value: str) -> time:
    match = _TIME.match(value or "")
    if not match:
        raise ValueError(f"not an Edm.Time: {value!r}")
    hours, minutes, seconds = (float(g or 0) for g in match.groups())
    return time(int(hours), int(minutes), int(seconds))


def decimal_literal(value: Any, places: int = 3) -> str:
    """Edm.Decimal in JSON: a string with the property's scale ("10.000")."""
    return f"{Decimal(str(value)):.{places}f}"


def quote(value: str) -> str:
    """A string literal for $filter ('O''Neil')."""
    return "'" + str(value).replace("'", "''") + "'"
