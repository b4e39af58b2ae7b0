"""Time buckets of the dashboard (day, week, month) and the period a request asks for.

A metric groups its query by `trunc(field, bucket)` (one SQL GROUP BY, in the plant's time
zone) and lays its points on `bucket_starts(period, bucket)`, so that every chart of one
dashboard shares the same x axis. Weeks start on Monday (ISO).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import DateField, Expression
from django.db.models.functions import Trunc
from django.utils import timezone

from mes.exceptions import InvalidInput
from mes.registry import Period

BUCKETS: tuple[str, ...] = ("day", "week", "month")
DEFAULT_BUCKET = "week"
DEFAULT_DAYS = 84  # twelve weeks up to today
MAX_DAYS = 5 * 366
MAX_POINTS = 400  # more buckets than that make an unreadable chart
FILTER_KEYS: tuple[str, ...] = ("work_center", "unit", "product")


def trunc(field_name: str | Expression, bucket: str) -> Trunc:
    """The start date of the bucket that `field_name` (a datetime) falls in, local time."""
    if bucket not in BUCKETS:
        raise InvalidInput(f"Unknown bucket {bucket!r}: use day, week or month.")
    return Trunc(
        field_name, bucket, output_field=DateField(), tzinfo=timezone.get_current_timezone()
    )


def bucket_of(day: date, bucket: str) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def _next(start: date, bucket: str) -> date:
    if bucket == "week":
        return start + timedelta(days=7)
    if bucket == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def bucket_starts(period: Period, bucket: str) -> list[date]:
    """Every bucket start from the one holding `period.start` up to `period.end` (excl.)."""
    first = bucket_of(local_day(period.start), bucket)
    last_day = local_day(period.end - timedelta(microseconds=1))
    starts, current = [], first
    while current <= last_day:
        starts.append(current)
        current = _next(current, bucket)
    return starts


def period_of(date_from: date, date_to: date) -> Period:
    """[start of `date_from`, start of the day after `date_to`) in the plant's time zone."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(date_from, time.min), tz)
    end = timezone.make_aware(datetime.combine(date_to + timedelta(days=1), time.min), tz)
    return Period(start=start, end=end)


@dataclass(frozen=True)
class AnalyticsQuery:
    """What one dashboard request asks: dates (inclusive), bucket and filters (codes)."""

    date_from: date
    date_to: date
    bucket: str = DEFAULT_BUCKET
    filters: dict[str, str] = field(default_factory=dict)

    @property
    def period(self) -> Period:
        return period_of(self.date_from, self.date_to)

    def params(self) -> dict[str, str]:
        """The query string that asks for this again."""
        return {
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "bucket": self.bucket,
            **{k: v for k, v in self.filters.items() if v},
        }


def _date(raw: Any, what: str) -> date:
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError as exc:
        raise InvalidInput(f"The {what} date must be YYYY-MM-DD (got {raw!r}).") from exc


def parse_query(params: Any) -> AnalyticsQuery:
    """The dashboard's query string (`from`, `to`, `bucket`, filters) checked; empty values
    take the defaults (the last twelve weeks, weekly). Raises InvalidInput with the reason."""
    today = timezone.localdate()
    raw_to, raw_from = params.get("to") or "", params.get("from") or ""
    date_to = _date(raw_to, "to") if raw_to else today
    date_from = _date(raw_from, "from") if raw_from else date_to - timedelta(days=DEFAULT_DAYS - 1)
    if date_from > date_to:
        raise InvalidInput(
            f"The range starts ({date_from.isoformat()}) after it ends ({date_to.isoformat()})."
        )
    if (date_to - date_from).days + 1 > MAX_DAYS:
        raise InvalidInput(f"The range is longer than {MAX_DAYS} days: choose a shorter one.")
    bucket = (params.get("bucket") or DEFAULT_BUCKET).strip().lower()
    if bucket not in BUCKETS:
        raise InvalidInput(f"Unknown bucket {bucket!r}: use day, week or month.")
    query = AnalyticsQuery(
        date_from=date_from,
        date_to=date_to,
        bucket=bucket,
        filters={k: str(params.get(k)).strip()[:64] for k in FILTER_KEYS if params.get(k)},
    )
    points = len(bucket_starts(query.period, bucket))
    if points > MAX_POINTS:
        raise InvalidInput(
            f"{points} {bucket}s is too many points for a chart: choose a coarser bucket."
        )
    return query
