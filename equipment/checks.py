"""What equipment contributes to the production-model self-audit (mes.registry).

- "Used equipment was clean": every use of a unit started in the period was preceded by a
  cleaning, verified by a second person, recorded in the logbook since the unit's previous use.
- "Instruments are calibrated": no active, in-service instrument is past its calibration due
  date (or never calibrated); those on units used in the period are named apart.
"""

from datetime import UTC, datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from equipment.choices import InstrumentStatus, LogEntryType
from equipment.models import Instrument, UnitLogEntry
from mes.registry import CapabilityCheck, CheckResult, Evidence, Period, register_check

EXAMPLES = 5
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


def _uses_with_cleaning(period: Period) -> QuerySet[UnitLogEntry]:
    """The uses started in the period, each with `clean`: a verified cleaning of the unit lies
    between the end of its previous use and its start."""
    previous_end = (
        UnitLogEntry.objects.filter(
            unit_id=OuterRef("unit_id"), type=LogEntryType.USE_ENDED, at__lte=OuterRef("at")
        )
        .order_by("-at", "-id")
        .values("at")[:1]
    )
    verified = UnitLogEntry.objects.filter(
        verifies_id=OuterRef("pk"), type=LogEntryType.CLEANING_VERIFIED
    )
    cleaning = UnitLogEntry.objects.filter(
        unit_id=OuterRef("unit_id"),
        type=LogEntryType.CLEANED,
        at__lte=OuterRef("at"),
        at__gte=OuterRef("previous_end"),
    ).filter(Exists(verified))
    return (
        UnitLogEntry.objects.filter(
            type=LogEntryType.USE_STARTED, at__gte=period.start, at__lt=period.end
        )
        .annotate(previous_end=Coalesce(Subquery(previous_end), _BEGINNING))
        .annotate(clean=Exists(cleaning))
    )


def cleaning_before_use(period: Period) -> CheckResult:
    uses = _uses_with_cleaning(period)
    counts = uses.aggregate(total=Count("pk"), unclean=Count("pk", filter=Q(clean=False)))
    total, unclean = counts["total"], counts["unclean"]
    if not total:
        return CheckResult(CheckResult.NOT_APPLICABLE, "No unit was used in the period.")
    evidence = [
        Evidence("Unit uses started in the period", total, reverse("equipment:plant")),
        Evidence("Without a verified cleaning since the previous use", unclean),
    ]
    examples = (
        uses.filter(clean=False).order_by("at").values_list("unit_id", "unit__code", "batch_ref")
    )
    for unit_id, code, ref in examples[:EXAMPLES]:
        evidence.append(
            Evidence(
                "Used without verified cleaning",
                f"{code} ({ref or 'no batch'})",
                reverse("equipment:unit_detail", args=[unit_id]),
            )
        )
    measured = {"uses": total, "unclean": unclean}
    if unclean:
        return CheckResult(
            CheckResult.FAIL,
            f"{unclean} of {total} unit uses started without a verified cleaning since the "
            "previous use.",
            evidence,
            measured,
        )
    return CheckResult(
        CheckResult.PASS,
        f"All {total} unit uses of the period started after a verified cleaning.",
        evidence,
        measured,
    )


def instruments_calibrated(period: Period) -> CheckResult:
    now = timezone.now()
    in_service = Instrument.objects.filter(is_active=True, status=InstrumentStatus.IN_SERVICE)
    overdue = Q(next_calibration_due_at__lt=now) | Q(next_calibration_due_at__isnull=True)
    used_units = UnitLogEntry.objects.filter(
        type=LogEntryType.USE_STARTED, at__gte=period.start, at__lt=period.end
    ).values("unit_id")
    counts = in_service.aggregate(
        total=Count("pk"),
        overdue=Count("pk", filter=overdue),
        overdue_on_used=Count("pk", filter=overdue & Q(unit_id__in=used_units)),
    )
    total, late = counts["total"], counts["overdue"]
    if not total:
        return CheckResult(CheckResult.NOT_APPLICABLE, "No instrument is in service.")
    evidence = [
        Evidence("Instruments in service", total, reverse("equipment:instrument_list")),
        Evidence("Past their calibration due date (or never calibrated)", late),
        Evidence("Of those, on a unit used in the period", counts["overdue_on_used"]),
    ]
    for pk, code, unit_code in (
        in_service.filter(overdue)
        .order_by("code")
        .values_list("pk", "code", "unit__code")[:EXAMPLES]
    ):
        evidence.append(
            Evidence(
                "Calibration overdue",
                f"{code}" + (f" on {unit_code}" if unit_code else ""),
                reverse("equipment:instrument_detail", args=[pk]),
            )
        )
    measured = {"instruments": total, "overdue": late, "overdue_on_used": counts["overdue_on_used"]}
    if late:
        return CheckResult(
            CheckResult.WARNING,
            f"{late} of {total} instruments in service are past their calibration due date "
            "(the equipment gate refuses them, but they should be calibrated or taken out of "
            "service).",
            evidence,
            measured,
        )
    return CheckResult(
        CheckResult.PASS,
        f"All {total} instruments in service are within their calibration interval.",
        evidence,
        measured,
    )


register_check(
    CapabilityCheck(
        key="equipment.cleaning_before_use",
        title="Used equipment was cleaned and verified before use",
        model="process",
        evaluate=cleaning_before_use,
        order=40,
        tags=("equipment",),
    )
)
register_check(
    CapabilityCheck(
        key="equipment.instruments_calibrated",
        title="Instruments in service are calibrated",
        model="shared",
        evaluate=instruments_calibrated,
        order=45,
        tags=("equipment",),
    )
)
