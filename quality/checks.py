"""What quality contributes to the production-model self-audit (mes.registry).

- "Deviations are closed and CAPA done on time": deviations of the period closed by their due
  date (or still open but not yet due); no CAPA action open past its due date.
- "SPC is in use": the active SPC characteristics receive values in the period.
"""

from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from mes.registry import CapabilityCheck, CheckResult, Evidence, Period, register_check
from quality.choices import CapaStatus, DeviationStatus
from quality.models import CapaAction, Characteristic, Deviation


def deviations_on_time(period: Period) -> CheckResult:
    today = timezone.localdate()
    opened = Deviation.objects.filter(opened_at__gte=period.start, opened_at__lt=period.end)
    overdue_open = ~Q(status=DeviationStatus.CLOSED) & Q(due_at__lt=today)
    closed_late = Q(status=DeviationStatus.CLOSED) & Q(closed_on__gt=F("due_at"))
    counts = opened.annotate(closed_on=TruncDate("closed_at")).aggregate(
        total=Count("pk"),
        closed=Count("pk", filter=Q(status=DeviationStatus.CLOSED)),
        overdue_open=Count("pk", filter=overdue_open),
        closed_late=Count("pk", filter=closed_late),
    )
    capa_overdue = CapaAction.objects.filter(status=CapaStatus.OPEN, due_at__lt=today).count()
    total = counts["total"]
    if not total and not capa_overdue:
        return CheckResult(
            CheckResult.NOT_APPLICABLE,
            "No deviation was opened in the period and no CAPA action is overdue.",
        )
    evidence = [
        Evidence("Deviations opened in the period", total, reverse("quality:deviation_list")),
        Evidence("Closed", counts["closed"]),
        Evidence("Open past their due date", counts["overdue_open"]),
        Evidence("Closed after their due date", counts["closed_late"]),
        Evidence("CAPA actions open past their due date", capa_overdue),
    ]
    measured = {
        "deviations": total,
        "closed": counts["closed"],
        "overdue_open": counts["overdue_open"],
        "closed_late": counts["closed_late"],
        "capa_overdue": capa_overdue,
    }
    late = counts["overdue_open"] + counts["closed_late"]
    if late or capa_overdue:
        return CheckResult(
            CheckResult.WARNING,
            f"{late} of {total} deviations of the period are (or were closed) past their due "
            f"date; {capa_overdue} CAPA action(s) are overdue.",
            evidence,
            measured,
        )
    return CheckResult(
        CheckResult.PASS,
        f"All {total} deviations of the period were closed on time or are not yet due; no "
        "CAPA action is overdue.",
        evidence,
        measured,
    )


def spc_in_use(period: Period) -> CheckResult:
    active = Characteristic.objects.filter(is_active=True)
    counts = active.aggregate(
        total=Count("pk", distinct=True),
        charted=Count(
            "pk",
            distinct=True,
            filter=Q(values__at__gte=period.start, values__at__lt=period.end),
        ),
        values=Count("values", filter=Q(values__at__gte=period.start, values__at__lt=period.end)),
    )
    total, charted = counts["total"], counts["charted"]
    if not total:
        return CheckResult(
            CheckResult.WARNING,
            "No SPC characteristic is defined: captured values are not charted.",
            [Evidence("Active SPC characteristics", 0, reverse("quality:spc_list"))],
            {"characteristics": 0, "charted": 0, "values": 0},
        )
    evidence = [
        Evidence("Active SPC characteristics", total, reverse("quality:spc_list")),
        Evidence("With values in the period", charted),
        Evidence("Values charted in the period", counts["values"]),
    ]
    measured = {"characteristics": total, "charted": charted, "values": counts["values"]}
    if charted < total:
        return CheckResult(
            CheckResult.WARNING,
            f"{total - charted} of {total} active SPC characteristics received no value in "
            "the period.",
            evidence,
            measured,
        )
    return CheckResult(
        CheckResult.PASS,
        f"All {total} active SPC characteristics were charted in the period "
        f"({counts['values']} values).",
        evidence,
        measured,
    )


register_check(
    CapabilityCheck(
        key="quality.deviations_on_time",
        title="Deviations closed and CAPA done on time",
        model="shared",
        evaluate=deviations_on_time,
        order=60,
        tags=("quality",),
    )
)
register_check(
    CapabilityCheck(
        key="quality.spc_in_use",
        title="SPC is in use on captured values",
        model="shared",
        evaluate=spc_in_use,
        order=65,
        tags=("quality",),
    )
)
