"""Scheduling's item of the production-model self-audit: vessels are scheduled with their
changeovers and cleaning validity (symptom "vessel-blind scheduling").

A batch started in the period passes when (1) it was on the schedule published when it started,
on the vessel it ran in (a schedule built by the campaign solver: changeovers, cleaning and hold
times accounted for), and (2) the vessel's cleaning was valid when it started (equipment's
cleaning status just before the start: clean, verified, within the clean hold, and a major
clean after a product change)."""

from datetime import timedelta

from django.urls import reverse

from batches.models import BatchOrder
from equipment.choices import CleaningState
from equipment.selectors import unit_cleaning_status
from mes.registry import CapabilityCheck, CheckResult, Evidence, Period, register_check
from scheduling.models import EntryKind, Schedule, ScheduleEntry


def vessels_scheduled_with_changeovers(period: Period) -> CheckResult:
    batches = list(
        BatchOrder.objects.filter(
            started_at__gte=period.start, started_at__lt=period.end, unit__isnull=False
        )
        .select_related("unit")
        .order_by("started_at")
    )
    if not batches:
        return CheckResult(
            status=CheckResult.NOT_APPLICABLE, summary="No batch started in the period."
        )
    schedules = list(
        Schedule.objects.filter(published_at__isnull=False, published_at__lt=period.end).order_by(
            "published_at"
        )
    )
    unscheduled, before_go_live, invalid = [], [], []
    for batch in batches:
        published = None
        for s in schedules:
            if s.published_at <= batch.started_at:
                published = s
        if published is None:
            # No vessel schedule had ever been published: scheduling was not live yet.
            before_go_live.append(batch)
        elif not (
            bool((published.problem or {}).get("campaign"))
            and ScheduleEntry.objects.filter(
                schedule=published, kind=EntryKind.BATCH, batch=batch, unit=batch.unit
            ).exists()
        ):
            unscheduled.append(batch)
        product = (batch.control_recipe.get("product") or {}).get("code")
        status = unit_cleaning_status(
            batch.unit, at=batch.started_at - timedelta(seconds=1), product_code=product
        )
        if status.state != CleaningState.CLEAN or status.needs_major_for:
            invalid.append((batch, status.detail or status.label))
    evidence = [
        Evidence("batches started", len(batches)),
        Evidence("started before any vessel schedule was published", len(before_go_live)),
        Evidence(
            "not on the published schedule (on that vessel)",
            len(unscheduled),
            reverse("scheduling:schedule_list"),
        ),
        Evidence("started on a vessel whose cleaning was not valid", len(invalid)),
    ]
    evidence += [
        Evidence(f"{b.number} in {b.unit.code}", "not on the published schedule")
        for b in unscheduled[:10]
    ]
    evidence += [
        Evidence(f"{b.number} in {b.unit.code}", "started before scheduling went live")
        for b in before_go_live[:10]
    ]
    evidence += [Evidence(f"{b.number} in {b.unit.code}", why) for b, why in invalid[:10]]
    measured = {
        "batches": len(batches),
        "before_go_live": len(before_go_live),
        "unscheduled": len(unscheduled),
        "invalid_cleaning": len(invalid),
    }
    if not unscheduled and not invalid and before_go_live:
        return CheckResult(
            status=CheckResult.WARNING,
            summary=f"{len(before_go_live)} of {len(batches)} batches started before any vessel "
            "schedule was published (planned without changeovers or cleaning windows); the "
            "rest ran as published on validly cleaned vessels.",
            evidence=evidence,
            measured=measured,
        )
    if not unscheduled and not invalid:
        return CheckResult(
            status=CheckResult.PASS,
            summary=f"All {len(batches)} batches ran as published, on validly cleaned vessels.",
            evidence=evidence,
            measured=measured,
        )
    return CheckResult(
        status=CheckResult.FAIL,
        summary=f"{len(unscheduled)} of {len(batches)} batches ran off the published vessel "
        f"schedule and {len(invalid)} on a vessel whose cleaning was not valid.",
        evidence=evidence,
        measured=measured,
    )


register_check(
    CapabilityCheck(
        key="scheduling.vessels_scheduled_with_changeovers",
        title="Vessels scheduled with changeovers and cleaning validity",
        model="process",
        evaluate=vessels_scheduled_with_changeovers,
        symptom="vessel_blind_scheduling",
        fixed_by="Finite-capacity vessel scheduling with changeover matrices and cleaning "
        "hold times, published as each vessel's dispatch list",
        order=500,
        tags=("scheduling",),
    )
)
