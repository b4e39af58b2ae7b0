"""The discrete plant's figures on the analytics dashboard (`mes/analytics/`): OEE per work
center, right first time of serialized units, scrap and rework rate per work center, and
due-date adherence of work orders. Each is a few GROUP BY queries over the time records and
quantity reports (no loop over records); Python only combines the grouped rows.

OEE per work center, from what the terminals recorded in the period:
- run time: the machine runs of the work center's operations (operations whose time basis
  is "labor" have no machine: their labor time divided by the crew size);
- planned production time: run time + unplanned downtime (the pauses with a downtime reason
  code). The plant clocks no planned stops (breaks, preventive maintenance), so none are
  subtracted; scheduled-but-idle time is not counted until the published schedule exists;
- availability = run time / planned production time;
- performance = standard run minutes per unit × units processed (good + scrap + rework) /
  run time; above 100 % means the standard is looser than the line;
- quality = good / (good + scrap + rework);
- OEE = availability × performance × quality.
A time record counts in the bucket in which it ended; a quantity when it was reported.
"""

from collections import defaultdict
from datetime import date
from typing import Any

from django.db.models import Count, Exists, F, FloatField, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from equipment.models import WorkCenter
from genealogy.models import Material
from mes.analytics.buckets import bucket_starts, trunc
from mes.analytics.figures import (
    as_float,
    hours,
    oee_table,
    oee_trend_table,
    on_buckets,
    pct,
    product_pct,
    ratio,
    shared,
)
from mes.analytics.sources import register_filter_choices, register_production_count
from mes.registry import Metric, MetricResult, Period, register_metric
from workorders.choices import QuantityKind, TimeBasis, WorkOrderStatus
from workorders.models import (
    DowntimeRecord,
    InspectionResult,
    LaborRecord,
    MachineRecord,
    QuantityReport,
    WorkOrder,
)

OEE_NOTE = (
    "Availability = run time / (run time + unplanned downtime); performance = standard run "
    "minutes × units processed / run time; quality = good / (good + scrap + rework). Run "
    "time is machine time (labor time / crew size for labor-only operations)."
)


def _op_filters(prefix: str, work_center: str | None, product: str | None) -> Q:
    q = Q()
    if work_center:
        q &= Q(**{f"{prefix}work_center__code": work_center})
    if product:
        q &= Q(**{f"{prefix}work_order__item__code": product})
    return q


def _in(period: Period, field: str) -> Q:
    return Q(**{f"{field}__gte": period.start, f"{field}__lt": period.end})


def _grouped(qs: QuerySet, time_field: str, bucket: str, **sums: Any) -> QuerySet:
    return (
        qs.values(wc=F("operation__work_center_id"), b=trunc(time_field, bucket))
        .annotate(**sums)
        .order_by()
    )


def _oee_parts(
    period: Period, bucket: str, work_center: str | None, product: str | None
) -> dict[tuple[str, date], dict[str, float]]:
    """{(work center code, bucket): run_s, down_s, std_s, good, scrap, rework}: five
    queries (shared by OEE, its trend and the scrap rate within one dashboard request)."""
    return shared(
        ("workorders.oee_parts", period, bucket, work_center, product),
        lambda: _read_oee_parts(period, bucket, work_center, product),
    )


def _read_oee_parts(
    period: Period, bucket: str, work_center: str | None, product: str | None
) -> dict[tuple[str, date], dict[str, float]]:
    scope = _op_filters("operation__", work_center, product)
    parts: dict[tuple[int, date], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    machine = _grouped(
        MachineRecord.objects.filter(scope, _in(period, "ended_at")).exclude(
            operation__time_basis=TimeBasis.LABOR
        ),
        "ended_at",
        bucket,
        s=Sum("seconds"),
    )
    labor = _grouped(
        LaborRecord.objects.filter(
            scope, _in(period, "ended_at"), operation__time_basis=TimeBasis.LABOR
        ),
        "ended_at",
        bucket,
        s=Sum(Cast("seconds", FloatField()) / F("operation__crew_size")),
    )
    for row in [*machine, *labor]:
        parts[(row["wc"], row["b"])]["run_s"] += as_float(row["s"])
    for row in _grouped(
        DowntimeRecord.objects.filter(scope, _in(period, "ended_at")),
        "ended_at",
        bucket,
        s=Sum("seconds"),
    ):
        parts[(row["wc"], row["b"])]["down_s"] += as_float(row["s"])
    for row in _grouped(
        QuantityReport.objects.filter(
            scope,
            _in(period, "at"),
            kind__in=[QuantityKind.GOOD, QuantityKind.SCRAP, QuantityKind.REWORK],
        ),
        "at",
        bucket,
        good=Sum("quantity", filter=Q(kind=QuantityKind.GOOD)),
        scrap=Sum("quantity", filter=Q(kind=QuantityKind.SCRAP)),
        rework=Sum("quantity", filter=Q(kind=QuantityKind.REWORK)),
        std_min=Sum(
            Cast("quantity", FloatField()) * Cast("operation__run_minutes_per_unit", FloatField())
        ),
    ):
        p = parts[(row["wc"], row["b"])]
        for key in ("good", "scrap", "rework"):
            p[key] += as_float(row[key])
        p["std_s"] += as_float(row["std_min"]) * 60
    codes = dict(
        WorkCenter.objects.filter(pk__in={wc for wc, _b in parts}).values_list("pk", "code")
    )
    by_code: dict[tuple[str, date], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (wc, b), p in parts.items():  # grouped rows, a few per work center and bucket
        for name, value in p.items():
            by_code[(codes[wc], b)][name] += value
    return by_code


def oee_components(p: dict[str, float]) -> dict[str, float | None]:
    """Availability, performance, quality (fractions) and OEE (%) of summed parts."""
    processed = p["good"] + p["scrap"] + p["rework"]
    availability = ratio(p["run_s"], p["run_s"] + p["down_s"])
    performance = ratio(p["std_s"], p["run_s"]) if processed else None
    quality = ratio(p["good"], processed)
    return {
        "availability": availability,
        "performance": performance,
        "quality": quality,
        "oee": product_pct(availability, performance, quality),
    }


def _sum_by(parts: dict[tuple[str, date], dict[str, float]], index: int) -> dict[Any, dict]:
    totals: dict[Any, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for key, p in parts.items():
        for name, value in p.items():
            totals[key[index]][name] += value
    return totals


def oee_per_work_center(
    period: Period,
    *,
    bucket: str = "week",
    work_center: str | None = None,
    product: str | None = None,
) -> MetricResult:
    per_wc = _sum_by(_oee_parts(period, bucket, work_center, product), 0)
    return oee_table(
        per_wc,
        label="work center",
        components=oee_components,
        before=[
            ("run h", lambda p: hours(p["run_s"])),
            ("downtime h", lambda p: hours(p["down_s"])),
        ],
        after=[
            ("good", lambda p: p["good"]),
            ("scrap", lambda p: p["scrap"]),
            ("rework", lambda p: p["rework"]),
        ],
        note=OEE_NOTE,
    )


def oee_trend(
    period: Period,
    *,
    bucket: str = "week",
    work_center: str | None = None,
    product: str | None = None,
) -> MetricResult:
    return oee_trend_table(
        _oee_parts(period, bucket, work_center, product),
        label="work center",
        components=oee_components,
        starts=bucket_starts(period, bucket),
        note=OEE_NOTE,
    )


def scrap_rate_per_work_center(
    period: Period,
    *,
    bucket: str = "week",
    work_center: str | None = None,
    product: str | None = None,
) -> MetricResult:
    per_wc = _sum_by(_oee_parts(period, bucket, work_center, product), 0)
    result = MetricResult(
        columns=["work center", "processed", "good", "scrap", "rework", "scrap %", "rework %"],
        note="Share of the units processed at the work center's operations that were "
        "scrapped or sent to rework (quantity reports in the period).",
    )
    scrap_series, rework_series = [], []
    for wc in sorted(per_wc):
        p = per_wc[wc]
        processed = p["good"] + p["scrap"] + p["rework"]
        if not processed:
            continue
        scrap, rework = pct(p["scrap"], processed, 2), pct(p["rework"], processed, 2)
        scrap_series.append((wc, scrap))
        rework_series.append((wc, rework))
        result.rows.append(
            {
                "work center": wc,
                "processed": processed,
                "good": p["good"],
                "scrap": p["scrap"],
                "rework": p["rework"],
                "scrap %": scrap,
                "rework %": rework,
            }
        )
    if result.rows:
        result.series = {"Scrap": scrap_series, "Rework": rework_series}
    return result


def units_right_first_time(
    period: Period, *, bucket: str = "week", product: str | None = None
) -> MetricResult:
    """Serialized units that left the process in the period (finished at the last operation
    or scrapped): right first time if no inspection of theirs ever failed and they were never
    sent to rework. One query."""
    reports = QuantityReport.objects.filter(
        _in(period, "at"),
        Q(kind=QuantityKind.GOOD, operation__is_last=True) | Q(kind=QuantityKind.SCRAP),
        unit__isnull=False,
    )
    if product:
        reports = reports.filter(operation__work_order__item__code=product)
    failed = InspectionResult.objects.filter(unit=OuterRef("unit"), passed=False)
    reworked = QuantityReport.objects.filter(unit=OuterRef("unit"), kind=QuantityKind.REWORK)
    grouped = (
        reports.alias(has_failed=Exists(failed), was_reworked=Exists(reworked))
        .values(b=trunc("at", bucket))
        .annotate(
            out=Count("unit", distinct=True),
            finished=Count("unit", distinct=True, filter=Q(kind=QuantityKind.GOOD)),
            scrapped=Count("unit", distinct=True, filter=Q(kind=QuantityKind.SCRAP)),
            rft=Count(
                "unit",
                distinct=True,
                filter=Q(kind=QuantityKind.GOOD, has_failed=False, was_reworked=False),
            ),
        )
        .order_by("b")
    )
    result = MetricResult(
        columns=["bucket", "units out", "finished", "scrapped", "right first time", "RFT %"],
        note="Serialized units finished or scrapped in the period; right first time = "
        "finished with every inspection passed at the first attempt and never reworked.",
    )
    values: dict[date, float | None] = {}
    for row in grouped:
        values[row["b"]] = pct(row["rft"], row["out"])
        result.rows.append(
            {
                "bucket": row["b"],
                "units out": row["out"],
                "finished": row["finished"],
                "scrapped": row["scrapped"],
                "right first time": row["rft"],
                "RFT %": values[row["b"]],
            }
        )
    if values:
        result.series = {
            "Units right first time": on_buckets(bucket_starts(period, bucket), values)
        }
    return result


def due_date_adherence(
    period: Period, *, bucket: str = "week", product: str | None = None
) -> MetricResult:
    """Work orders closed in the period on or before their due date (plant-local date).
    Batch orders carry no due date, so they are not counted here."""
    tz = timezone.get_current_timezone()
    closed = WorkOrder.objects.filter(_in(period, "closed_at"), status=WorkOrderStatus.CLOSED)
    if product:
        closed = closed.filter(item__code=product)
    grouped = (
        closed.alias(closed_on=TruncDate("closed_at", tzinfo=tz))
        .values(b=trunc("closed_at", bucket))
        .annotate(
            n=Count("id"),
            on_time=Count("id", filter=Q(closed_on__lte=F("due_date"))),
        )
        .order_by("b")
    )
    result = MetricResult(
        columns=["bucket", "closed", "on time", "late", "on time %"],
        note="Due-date adherence: work orders closed in the period on or before their due "
        "date. This is not schedule adherence (plan vs actual), which needs the published "
        "schedule; batch orders have no due date and are not counted.",
    )
    values: dict[date, float | None] = {}
    for row in grouped:
        values[row["b"]] = pct(row["on_time"], row["n"])
        result.rows.append(
            {
                "bucket": row["b"],
                "closed": row["n"],
                "on time": row["on_time"],
                "late": row["n"] - row["on_time"],
                "on time %": values[row["b"]],
            }
        )
    if values:
        result.series = {"Closed on time": on_buckets(bucket_starts(period, bucket), values)}
    return result


def work_orders_released(period: Period, bucket: str) -> dict[date, int]:
    """Production count for rates (deviations per 100 orders): work orders released."""
    rows = (
        WorkOrder.objects.filter(_in(period, "released_at"))
        .values(b=trunc("released_at", bucket))
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["b"]: row["n"] for row in rows}


def product_choices() -> list[tuple[str, str]]:
    items = Material.objects.filter(pk__in=WorkOrder.objects.values("item_id")).order_by("code")
    return [(m.code, f"{m.code} {m.name}") for m in items]


def work_center_choices() -> list[tuple[str, str]]:
    return [
        (wc.code, f"{wc.code} {wc.name}")
        for wc in WorkCenter.objects.filter(is_active=True).order_by("code")
    ]


register_filter_choices("product", "workorders", product_choices)
register_filter_choices("work_center", "workorders", work_center_choices)
register_production_count("workorders", "work orders released", work_orders_released)

register_metric(
    Metric(
        key="workorders.oee",
        title="OEE per work center",
        unit="%",
        compute=oee_per_work_center,
        group="oee",
        order=100,
        description="Availability × performance × quality of each work center over the period.",
        chart="bar",
        filters=("work_center", "product"),
    )
)
register_metric(
    Metric(
        key="workorders.oee_trend",
        title="OEE trend per work center",
        unit="%",
        compute=oee_trend,
        group="oee",
        order=110,
        description="OEE of each work center per bucket.",
        chart="line",
        filters=("work_center", "product"),
    )
)
register_metric(
    Metric(
        key="workorders.scrap_rate",
        title="Scrap and rework rate per work center",
        unit="%",
        compute=scrap_rate_per_work_center,
        group="quality",
        order=320,
        chart="bar",
        filters=("work_center", "product"),
    )
)
register_metric(
    Metric(
        key="workorders.right_first_time",
        title="Right first time: serialized units",
        unit="%",
        compute=units_right_first_time,
        group="rft",
        order=210,
        description="Units finished with every inspection passed first time, never reworked.",
        chart="line",
        filters=("product",),
    )
)
register_metric(
    Metric(
        key="workorders.due_date_adherence",
        title="Due-date adherence of work orders",
        unit="%",
        compute=due_date_adherence,
        group="adherence",
        order=500,
        description="Share of work orders closed on or before their due date.",
        chart="line",
        filters=("product",),
    )
)
