"""The process plant's figures on the analytics dashboard (`mes/analytics/`): OEE per unit
(vessel), batch yield trend per product and process right-first-time. A few GROUP BY
queries each; Python only combines the grouped rows.

OEE per unit, over the batches completed in the period on that unit:
- availability = time phases were active / time the unit was occupied by the batch (start
  to completion): the gaps between phases (holds, waiting, pauses) are the loss;
- performance = planned phase minutes / actual minutes of the phases whose control recipe
  gives a planned duration (the phase's minimum hold time); where no phase has one,
  performance is unknown and counted as 100 % (the table shows "—");
- quality = batches whose yield is within the recipe's range / batches with a yield;
- OEE = availability × performance × quality. A batch counts in the bucket it completed in.
"""

from collections import defaultdict
from datetime import date
from typing import Any

from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from batches.choices import BatchStatus
from batches.models import BatchOrder, ParameterValue, PhaseExecution, YieldRecord
from batches.services import DEVIATION_KIND
from equipment.models import Unit
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
from quality.models import Deviation

OEE_NOTE = (
    "Availability = phase-active time / time the unit was occupied by the batch; performance "
    "= planned / actual minutes of phases with a planned duration (100 % where none has "
    "one); quality = batches with the yield in range / batches with a yield."
)


def _duration(end: str, start: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def _in(period: Period, field: str) -> Q:
    return Q(**{f"{field}__gte": period.start, f"{field}__lt": period.end})


def _scope(prefix: str, work_center: str | None, unit: str | None, product: str | None) -> Q:
    q = Q(**{f"{prefix}unit__isnull": False})
    if work_center:
        q &= Q(**{f"{prefix}unit__work_center__code": work_center})
    if unit:
        q &= Q(**{f"{prefix}unit__code": unit})
    if product:
        q &= Q(**{f"{prefix}product__code": product})
    return q


def _grouped(qs: QuerySet, prefix: str, bucket: str, **sums: Any) -> QuerySet:
    return (
        qs.values(u=F(f"{prefix}unit__code"), b=trunc(f"{prefix}completed_at", bucket))
        .annotate(**sums)
        .order_by()
    )


def _oee_parts(
    period: Period,
    bucket: str,
    work_center: str | None,
    unit: str | None,
    product: str | None,
) -> dict[tuple[str, date], dict[str, float]]:
    """{(unit, bucket): occupied_s, active_s, planned_s, timed_s, yields, in_range}
    (shared by OEE and its trend within one dashboard request)."""
    return shared(
        ("batches.oee_parts", period, bucket, work_center, unit, product),
        lambda: _read_oee_parts(period, bucket, work_center, unit, product),
    )


def _read_oee_parts(
    period: Period,
    bucket: str,
    work_center: str | None,
    unit: str | None,
    product: str | None,
) -> dict[tuple[str, date], dict[str, float]]:
    parts: dict[tuple[str, date], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    batches = BatchOrder.objects.filter(
        _scope("", work_center, unit, product),
        _in(period, "completed_at"),
        started_at__isnull=False,
    )
    for row in _grouped(batches, "", bucket, s=Sum(_duration("completed_at", "started_at"))):
        parts[(row["u"], row["b"])]["occupied_s"] += as_float(row["s"])
    phases = PhaseExecution.objects.filter(
        _scope("batch__", work_center, unit, product),
        _in(period, "batch__completed_at"),
        started_at__isnull=False,
        completed_at__isnull=False,
    ).annotate(
        dur=_duration("completed_at", "started_at"),
        planned_min=Cast(KeyTextTransform("hold_min_minutes", "definition"), FloatField()),
    )
    for row in _grouped(
        phases,
        "batch__",
        bucket,
        active=Sum("dur"),
        planned=Sum("planned_min", filter=Q(planned_min__gt=0)),
        timed=Sum("dur", filter=Q(planned_min__gt=0)),
    ):
        p = parts[(row["u"], row["b"])]
        p["active_s"] += as_float(row["active"])
        p["planned_s"] += as_float(row["planned"]) * 60
        p["timed_s"] += as_float(row["timed"])
    yields = YieldRecord.objects.filter(
        _scope("batch__", work_center, unit, product),
        _in(period, "batch__completed_at"),
        material=F("batch__product"),
    )
    for row in _grouped(
        yields, "batch__", bucket, n=Count("id"), ok=Count("id", filter=Q(is_within_range=True))
    ):
        p = parts[(row["u"], row["b"])]
        p["yields"] += row["n"]
        p["in_range"] += row["ok"]
    return parts


def oee_components(p: dict[str, float]) -> dict[str, float | None]:
    availability = ratio(min(p["active_s"], p["occupied_s"]), p["occupied_s"])
    performance = ratio(p["planned_s"], p["timed_s"]) if p["timed_s"] else None
    quality = ratio(p["in_range"], p["yields"])
    return {
        "availability": availability,
        "performance": performance,
        "quality": quality,
        "oee": product_pct(availability, 1.0 if performance is None else performance, quality),
    }


def oee_per_unit(
    period: Period,
    *,
    bucket: str = "week",
    work_center: str | None = None,
    unit: str | None = None,
    product: str | None = None,
) -> MetricResult:
    per_unit: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (code, _b), p in _oee_parts(period, bucket, work_center, unit, product).items():
        for name, value in p.items():
            per_unit[code][name] += value
    return oee_table(
        per_unit,
        label="unit",
        components=oee_components,
        before=[
            ("occupied h", lambda p: hours(p["occupied_s"])),
            ("phases active h", lambda p: hours(p["active_s"])),
        ],
        after=[
            ("batches with yield", lambda p: int(p["yields"])),
            ("yield in range", lambda p: int(p["in_range"])),
        ],
        note=OEE_NOTE,
    )


def oee_trend_per_unit(
    period: Period,
    *,
    bucket: str = "week",
    work_center: str | None = None,
    unit: str | None = None,
    product: str | None = None,
) -> MetricResult:
    return oee_trend_table(
        _oee_parts(period, bucket, work_center, unit, product),
        label="unit",
        components=oee_components,
        starts=bucket_starts(period, bucket),
        note=OEE_NOTE,
    )


def yield_trend(
    period: Period, *, bucket: str = "week", product: str | None = None
) -> MetricResult:
    """Yield of each product per bucket: output / expected output of the batches whose yield
    was recorded in it (weighted by quantity, the product's own output only)."""
    yields = YieldRecord.objects.filter(_in(period, "recorded_at"), material=F("batch__product"))
    if product:
        yields = yields.filter(batch__product__code=product)
    rows = (
        yields.values("uom", p=F("batch__product__code"), b=trunc("recorded_at", bucket))
        .annotate(
            n=Count("id"),
            q=Sum("quantity"),
            e=Sum("expected_quantity"),
            ok=Count("id", filter=Q(is_within_range=True)),
        )
        .order_by("b", "p")
    )
    starts = bucket_starts(period, bucket)
    by_product: dict[str, dict[date, float | None]] = defaultdict(dict)
    result = MetricResult(
        columns=[
            "bucket",
            "product",
            "batches",
            "output",
            "expected",
            "uom",
            "yield %",
            "in range",
        ],
        note="Yield = output / expected output (scaled by batch size) of the batches whose "
        "yield was recorded in the bucket.",
    )
    for row in rows:
        value = pct(row["q"], row["e"])
        by_product[row["p"]][row["b"]] = value
        result.rows.append(
            {
                "bucket": row["b"],
                "product": row["p"],
                "batches": row["n"],
                "output": row["q"],
                "expected": row["e"],
                "uom": row["uom"],
                "yield %": value,
                "in range": row["ok"],
            }
        )
    result.series = {code: on_buckets(starts, v) for code, v in sorted(by_product.items())}
    return result


def batches_right_first_time(
    period: Period, *, bucket: str = "week", product: str | None = None
) -> MetricResult:
    """Batches released in the period with no deviation against them and no corrected value
    in their record. One query."""
    released = BatchOrder.objects.filter(_in(period, "released_at"), status=BatchStatus.RELEASED)
    if product:
        released = released.filter(product__code=product)
    deviated = Deviation.objects.filter(source_kind=DEVIATION_KIND, source_ref=OuterRef("number"))
    corrected = ParameterValue.objects.filter(phase__batch=OuterRef("pk"), supersedes__isnull=False)
    rows = (
        released.alias(has_deviation=Exists(deviated), has_correction=Exists(corrected))
        .values(b=trunc("released_at", bucket))
        .annotate(
            n=Count("id"),
            with_deviation=Count("id", filter=Q(has_deviation=True)),
            with_correction=Count("id", filter=Q(has_correction=True)),
            rft=Count("id", filter=Q(has_deviation=False, has_correction=False)),
        )
        .order_by("b")
    )
    values: dict[date, float | None] = {}
    result = MetricResult(
        columns=[
            "bucket",
            "released",
            "with deviation",
            "with correction",
            "right first time",
            "RFT %",
        ],
        note="Batches released in the bucket; right first time = no deviation opened against "
        "the batch and no value corrected in its record.",
    )
    for row in rows:
        values[row["b"]] = pct(row["rft"], row["n"])
        result.rows.append(
            {
                "bucket": row["b"],
                "released": row["n"],
                "with deviation": row["with_deviation"],
                "with correction": row["with_correction"],
                "right first time": row["rft"],
                "RFT %": values[row["b"]],
            }
        )
    if values:
        result.series = {
            "Batches right first time": on_buckets(bucket_starts(period, bucket), values)
        }
    return result


def batches_started(period: Period, bucket: str) -> dict[date, int]:
    """Production count for rates (deviations per 100 orders): batches started."""
    rows = (
        BatchOrder.objects.filter(_in(period, "started_at"))
        .values(b=trunc("started_at", bucket))
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["b"]: row["n"] for row in rows}


def unit_choices() -> list[tuple[str, str]]:
    return [(u.code, f"{u.code} {u.name}") for u in Unit.objects.filter(is_active=True)]


def product_choices() -> list[tuple[str, str]]:
    made = Material.objects.filter(pk__in=BatchOrder.objects.values("product_id")).order_by("code")
    return [(m.code, f"{m.code} {m.name}") for m in made]


register_filter_choices("unit", "batches", unit_choices)
register_filter_choices("product", "batches", product_choices)
register_production_count("batches", "batches started", batches_started)

register_metric(
    Metric(
        key="batches.oee",
        title="OEE per unit (vessel)",
        unit="%",
        compute=oee_per_unit,
        group="oee",
        order=120,
        description="Availability × performance × quality of each unit over the batches "
        "completed on it in the period.",
        chart="bar",
        filters=("work_center", "unit", "product"),
    )
)
register_metric(
    Metric(
        key="batches.oee_trend",
        title="OEE trend per unit (vessel)",
        unit="%",
        compute=oee_trend_per_unit,
        group="oee",
        order=130,
        chart="line",
        filters=("work_center", "unit", "product"),
    )
)
register_metric(
    Metric(
        key="batches.yield_trend",
        title="Batch yield per product",
        unit="%",
        compute=yield_trend,
        group="yield",
        order=150,
        description="Output / expected output of the batches of each product.",
        chart="line",
        filters=("product",),
    )
)
register_metric(
    Metric(
        key="batches.right_first_time",
        title="Right first time: batches",
        unit="%",
        compute=batches_right_first_time,
        group="rft",
        order=200,
        description="Batches released with no deviation and no correction.",
        chart="line",
        filters=("product",),
    )
)
