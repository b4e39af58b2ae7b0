"""Scheduling's figure for the analytics dashboard: schedule adherence.

For every operation and batch that started in the period and was on the schedule published at
the time (the latest schedule published before it started): the actual start against the
published start. Adherence = share started within the tolerance (±30 min); the rows give the
mean lateness (minutes, positive = late) per work center / vessel.
"""

from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.db.models import Min

from batches.models import BatchOrder
from mes.registry import Metric, MetricResult, Period, register_metric
from scheduling.models import EntryKind, Schedule, ScheduleEntry
from workorders.models import LaborRecord, MachineRecord

TOLERANCE = timedelta(minutes=30)


def _published_before(moment: Any, schedules: list[Schedule]) -> Schedule | None:
    found = None
    for s in schedules:
        if s.published_at is not None and s.published_at <= moment:
            found = s
    return found


def schedule_adherence(period: Period, **filters: Any) -> MetricResult:
    schedules = list(
        Schedule.objects.filter(published_at__isnull=False, published_at__lt=period.end).order_by(
            "published_at"
        )
    )
    if not schedules:
        return MetricResult(note="No schedule has been published.")
    actual: dict[str, Any] = {}
    for model in (LaborRecord, MachineRecord):
        for row in (
            model.objects.values("operation_id")
            .annotate(first=Min("started_at"))
            .filter(first__gte=period.start, first__lt=period.end)
        ):
            key = f"op:{row['operation_id']}"
            actual[key] = min(actual.get(key, row["first"]), row["first"])
    for batch in BatchOrder.objects.filter(
        started_at__gte=period.start, started_at__lt=period.end
    ).only("pk", "started_at"):
        actual[f"batch:{batch.pk}"] = batch.started_at
    entries: dict[tuple[int, str], ScheduleEntry] = {
        (e.schedule_id, e.key): e
        for e in ScheduleEntry.objects.filter(
            schedule__in=schedules,
            kind__in=[EntryKind.OPERATION, EntryKind.BATCH],
            key__in=list(actual),
        ).select_related("work_center", "unit")
    }
    per_resource: dict[str, list[float]] = defaultdict(list)
    per_day: dict[Any, list[bool]] = defaultdict(list)
    for key, started in actual.items():
        schedule = _published_before(started, schedules)
        entry = entries.get((schedule.pk, key)) if schedule else None
        if entry is None:
            continue
        late = (started - entry.start).total_seconds() / 60
        resource = (entry.work_center or entry.unit).code
        per_resource[resource].append(late)
        per_day[started.date()].append(abs(late) <= TOLERANCE.total_seconds() / 60)
    rows = [
        {
            "resource": resource,
            "started": len(values),
            "within_tolerance_pct": round(
                100 * sum(abs(v) <= TOLERANCE.total_seconds() / 60 for v in values) / len(values),
                1,
            ),
            "mean_lateness_min": round(sum(values) / len(values), 1),
        }
        for resource, values in sorted(per_resource.items())
    ]
    series = {
        "adherence": [
            (day, round(100 * sum(flags) / len(flags), 1)) for day, flags in sorted(per_day.items())
        ]
    }
    return MetricResult(
        series=series,
        rows=rows,
        columns=["resource", "started", "within_tolerance_pct", "mean_lateness_min"],
        note="Actual start of operations and batches against the schedule published at the "
        f"time; within ±{int(TOLERANCE.total_seconds() // 60)} min counts as adherent.",
    )


register_metric(
    Metric(
        key="scheduling.adherence",
        title="Schedule adherence",
        unit="%",
        compute=schedule_adherence,
        group="scheduling",
        order=400,
        description="Share of operations and batches started within ±30 min of the published "
        "start; mean lateness per work center and vessel.",
    )
)
