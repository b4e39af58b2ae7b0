"""Quality's figures on the analytics dashboard (`mes/analytics/`): the deviation rate (per
100 production orders started, by classification), the ageing of open deviations and the
overdue CAPA actions. Each is one GROUP BY query (plus one count per production source).

Quality sits below batches and work orders, so it counts their orders through the
dashboard's production-count registry (`mes.analytics.sources`), which they fill in their
own `metrics.py`.
"""

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Case, CharField, Count, Q, Value, When
from django.utils import timezone

from mes.analytics.buckets import bucket_starts, trunc
from mes.analytics.figures import on_buckets
from mes.analytics.sources import production_counts
from mes.registry import Metric, MetricResult, Period, register_metric
from quality.choices import CapaStatus, Classification
from quality.models import CapaAction, Deviation

UNCLASSIFIED = "unclassified"
CLASSES: tuple[str, ...] = (*Classification.values, UNCLASSIFIED)
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0–7 days", 0, 7),
    ("8–30 days", 8, 30),
    ("31–90 days", 31, 90),
    ("> 90 days", 91, None),
)
OVERDUE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1–7 days", 1, 7),
    ("8–30 days", 8, 30),
    ("31–90 days", 31, 90),
    ("> 90 days", 91, None),
)


def _class_label(value: str) -> str:
    return Classification(value).label if value in Classification.values else "Unclassified"


def deviation_rate(period: Period, *, bucket: str = "week") -> MetricResult:
    """Deviations opened per bucket and classification, per 100 production orders started
    (batches started + work orders released) in the same bucket."""
    rows = (
        Deviation.objects.filter(opened_at__gte=period.start, opened_at__lt=period.end)
        .values(
            b=trunc("opened_at", bucket),
            c=Case(
                When(classification="", then=Value(UNCLASSIFIED)),
                default="classification",
                output_field=CharField(),
            ),
        )
        .annotate(n=Count("id"))
        .order_by()
    )
    opened: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        opened[row["b"]][row["c"]] += row["n"]
    sources = production_counts(period, bucket)
    orders: dict[date, int] = defaultdict(int)
    for counts in sources.values():
        for b, n in counts.items():
            orders[b] += n
    starts = bucket_starts(period, bucket)
    result = MetricResult(
        columns=[
            "bucket",
            "deviations",
            *[_class_label(c) for c in CLASSES],
            "orders started",
            "per 100 orders",
        ],
        note="Deviations opened in the bucket per 100 production orders started in it ("
        + (", ".join(sources) or "no production source registered")
        + "). A bucket without orders has no rate.",
    )
    per_class: dict[str, dict[date, float | None]] = {c: {} for c in ("all", *CLASSES)}
    for b in starts:
        counts, n_orders = opened.get(b, {}), orders.get(b, 0)
        total = sum(counts.values())
        if not total and not n_orders:
            continue
        rate = round(100.0 * total / n_orders, 1) if n_orders else None
        per_class["all"][b] = rate
        for c in CLASSES:
            per_class[c][b] = round(100.0 * counts.get(c, 0) / n_orders, 1) if n_orders else None
        result.rows.append(
            {
                "bucket": b,
                "deviations": total,
                **{_class_label(c): counts.get(c, 0) for c in CLASSES},
                "orders started": n_orders,
                "per 100 orders": rate,
            }
        )
    if result.rows:
        result.series = {"All deviations": on_buckets(starts, per_class["all"])}
        for c in CLASSES:
            if any(row[_class_label(c)] for row in result.rows):
                result.series[_class_label(c)] = on_buckets(starts, per_class[c])
    return result


def as_of(period: Period) -> datetime:
    """Ageing is measured at the end of the period, or now if the period has not ended."""
    return min(period.end, timezone.now())


def _age_case(field: str, moment: datetime, buckets: Any) -> Case:
    """The label of the age bucket of a datetime field: whole days between it and `moment`."""
    whens = []
    for label, low, _high in reversed(buckets):
        whens.append(When(**{f"{field}__lte": moment - timedelta(days=low)}, then=Value(label)))
    return Case(*whens, default=Value(buckets[0][0]), output_field=CharField())


def deviation_ageing(period: Period, *, bucket: str = "week") -> MetricResult:
    """Deviations open at the end of the period by age (days since opened) and class."""
    moment = as_of(period)
    open_then = Deviation.objects.filter(opened_at__lt=moment).filter(
        Q(closed_at__isnull=True) | Q(closed_at__gte=moment)
    )
    rows = (
        open_then.values(
            age=_age_case("opened_at", moment, AGE_BUCKETS),
            c=Case(
                When(classification="", then=Value(UNCLASSIFIED)),
                default="classification",
                output_field=CharField(),
            ),
        )
        .annotate(
            n=Count("id"),
            overdue=Count("id", filter=Q(due_at__lt=timezone.localtime(moment).date())),
        )
        .order_by()
    )
    counts: dict[str, dict[str, int]] = {label: defaultdict(int) for label, _l, _h in AGE_BUCKETS}
    overdue: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["age"]][row["c"]] += row["n"]
        overdue[row["age"]] += row["overdue"]
    result = MetricResult(
        columns=["age", *[_class_label(c) for c in CLASSES], "open", "investigation overdue"],
        note=f"Deviations open on {timezone.localtime(moment):%Y-%m-%d %H:%M}, by days since "
        "they were opened; overdue = past the investigation due date.",
    )
    total = sum(sum(c.values()) for c in counts.values())
    if not total:
        return result
    for label, _low, _high in AGE_BUCKETS:
        result.rows.append(
            {
                "age": label,
                **{_class_label(c): counts[label].get(c, 0) for c in CLASSES},
                "open": sum(counts[label].values()),
                "investigation overdue": overdue[label],
            }
        )
    result.series = {
        _class_label(c): [(label, float(counts[label].get(c, 0))) for label, _l, _h in AGE_BUCKETS]
        for c in CLASSES
        if any(counts[label].get(c, 0) for label, _l, _h in AGE_BUCKETS)
    }
    return result


def capa_overdue(period: Period, *, bucket: str = "week") -> MetricResult:
    """CAPA actions open at the end of the period and past their due date, by days overdue."""
    moment = as_of(period)
    today = timezone.localtime(moment).date()
    open_then = CapaAction.objects.filter(created_at__lt=moment, due_at__lt=today).filter(
        Q(status=CapaStatus.OPEN) | Q(completed_at__gte=moment)
    )
    whens = [
        When(due_at__lte=today - timedelta(days=low), then=Value(label))
        for label, low, _high in reversed(OVERDUE_BUCKETS)
    ]
    rows = (
        open_then.values(
            late=Case(*whens, default=Value(OVERDUE_BUCKETS[0][0]), output_field=CharField()),
            kind_=Case(
                When(kind="corrective", then=Value("Corrective")),
                default=Value("Preventive"),
                output_field=CharField(),
            ),
        )
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[str, dict[str, int]] = {
        label: defaultdict(int) for label, _l, _h in OVERDUE_BUCKETS
    }
    for row in rows:
        counts[row["late"]][row["kind_"]] += row["n"]
    result = MetricResult(
        columns=["days overdue", "Corrective", "Preventive", "overdue"],
        note=f"CAPA actions open on {today:%Y-%m-%d} whose due date has passed.",
    )
    if not any(sum(c.values()) for c in counts.values()):
        return result
    for label, _low, _high in OVERDUE_BUCKETS:
        result.rows.append(
            {
                "days overdue": label,
                "Corrective": counts[label]["Corrective"],
                "Preventive": counts[label]["Preventive"],
                "overdue": sum(counts[label].values()),
            }
        )
    result.series = {
        kind: [(label, float(counts[label][kind])) for label, _l, _h in OVERDUE_BUCKETS]
        for kind in ("Corrective", "Preventive")
    }
    return result


register_metric(
    Metric(
        key="quality.deviation_rate",
        title="Deviation rate",
        unit="per 100 orders",
        compute=deviation_rate,
        group="deviations",
        order=400,
        description="Deviations opened per 100 production orders started, by classification.",
        chart="line",
    )
)
register_metric(
    Metric(
        key="quality.deviation_ageing",
        title="Open deviations by age",
        unit="deviations",
        compute=deviation_ageing,
        group="deviations",
        order=410,
        description="Deviations still open at the end of the period, by days since opened.",
        chart="bar",
    )
)
register_metric(
    Metric(
        key="quality.capa_overdue",
        title="Overdue CAPA actions",
        unit="actions",
        compute=capa_overdue,
        group="deviations",
        order=420,
        description="Open CAPA actions past their due date at the end of the period.",
        chart="bar",
    )
)
