"""What genealogy contributes to the production-model self-audit (mes.registry).

- "Recall scope is answerable in minutes": the recall-scope query (every finished lot, unit,
  shipment and customer downstream) is timed on the raw-material lot consumed most often in
  the period, and the consumptions of that lot not linked into any product (which a recall
  would miss) are counted. Symptom: slow_lot_recall.
- Fact for step 1: serialized units in the genealogy (serial traceability, discrete).
"""

import time

from django.db.models import Count, Exists, OuterRef
from django.urls import reverse

from genealogy.choices import EventType, MaterialKind, NodeKind
from genealogy.models import Link, Lot, LotEvent
from genealogy.selectors import recall_scope_for_lot
from mes.registry import (
    CapabilityCheck,
    CheckResult,
    Evidence,
    InstallationFact,
    Period,
    register_check,
    register_fact,
)

# The Step-4 symptom is "cannot answer within 30 minutes"; a system that answers in more than
# a minute on one lot will not answer in minutes for a supplier lot spread over many lots.
RECALL_PASS_SECONDS = 60.0
RECALL_FAIL_SECONDS = 30 * 60.0


def most_used_raw_material_lot(period: Period) -> tuple[Lot | None, int]:
    """The raw-material lot with the most consumption events in the period (one aggregate)."""
    row = (
        LotEvent.objects.filter(
            type=EventType.CONSUMED,
            occurred_at__gte=period.start,
            occurred_at__lt=period.end,
            lot__material__kind=MaterialKind.RAW,
        )
        .values("lot_id")
        .annotate(uses=Count("id"))
        .order_by("-uses", "lot_id")
        .first()
    )
    if row is None:
        return None, 0
    return Lot.objects.select_related("material").get(pk=row["lot_id"]), row["uses"]


def recall_in_minutes(period: Period) -> CheckResult:
    lot, uses = most_used_raw_material_lot(period)
    if lot is None:
        return CheckResult(
            CheckResult.NOT_APPLICABLE,
            "No raw-material lot was consumed in the period: there is no recall to time.",
        )
    started = time.perf_counter()
    scope = recall_scope_for_lot(lot=lot)
    seconds = time.perf_counter() - started
    summary = scope.summary()
    unlinked = (
        LotEvent.objects.filter(lot=lot, type=EventType.CONSUMED)
        .filter(~Exists(Link.objects.filter(event_id=OuterRef("pk"))))
        .count()
    )
    consumed = LotEvent.objects.filter(lot=lot, type=EventType.CONSUMED).count()
    lot_url = reverse("genealogy:lot_detail", args=[lot.pk])
    recall_url = reverse("genealogy:recall") + f"?lot={lot.pk}"
    evidence = [
        Evidence("Raw-material lot", f"{lot.material.code} lot {lot.lot_number}", lot_url),
        Evidence("Consumptions of it in the period", uses),
        Evidence("Recall-scope query time", f"{seconds * 1000:.1f} ms", recall_url),
        Evidence("Nodes reached", summary["affected_count"]),
        Evidence(
            "Finished lots / units reached",
            f"{summary['finished_lot_count']} / {summary['unit_count']}",
        ),
        Evidence(
            "Shipments / customers reached",
            f"{summary['shipment_count']} / {summary['customer_count']}",
        ),
        Evidence("Consumptions not linked into a product", f"{unlinked} of {consumed}"),
    ]
    measured = {
        "seconds": round(seconds, 4),
        "affected": summary["affected_count"],
        "unlinked_consumptions": unlinked,
    }
    what = f"{lot.material.code} lot {lot.lot_number}"
    if seconds > RECALL_FAIL_SECONDS:
        status = CheckResult.FAIL
        text = f"The recall scope of {what} took {seconds / 60:.0f} min (more than 30 min)."
    elif seconds > RECALL_PASS_SECONDS or unlinked:
        status = CheckResult.WARNING
        text = (
            f"The recall scope of {what} took {seconds:.1f} s"
            + (
                f"; {unlinked} of its {consumed} consumptions are not linked into any product "
                "(a recall would miss where they went)"
                if unlinked
                else " (more than a minute)"
            )
            + "."
        )
    else:
        status = CheckResult.PASS
        text = (
            f"The recall scope of {what}, the most used raw-material lot, is answered in "
            f"{seconds * 1000:.0f} ms: {summary['finished_lot_count']} finished lots, "
            f"{summary['unit_count']} units, {summary['customer_count']} customers."
        )
    return CheckResult(status, text, evidence, measured)


def serialized_unit_count(period: Period) -> int:
    return Lot.objects.filter(kind=NodeKind.UNIT).count()


register_check(
    CapabilityCheck(
        key="genealogy.recall_in_minutes",
        title="Recall scope is answerable in minutes",
        model="process",
        evaluate=recall_in_minutes,
        symptom="slow_lot_recall",
        fixed_by="Forward and backward lot traceability with split and merge event tracking",
        order=30,
        tags=("traceability",),
    )
)
register_fact(
    InstallationFact(
        key="genealogy.serialized_units",
        title="Serialized units in the genealogy",
        indicates="discrete",
        count=serialized_unit_count,
        order=60,
    )
)
