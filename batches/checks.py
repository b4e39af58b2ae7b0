"""What batches contributes to the production-model self-audit (mes.registry). Aggregate,
read-only queries over the batches of the period.

- "Only approved recipe versions were executed" (symptom old_recipe_versions): a batch started
  on a version that was not the approved one at that moment (never approved, already
  superseded or obsolete) fails; a batch that went on running after its version was
  superseded is a warning (an old version still in use).
- "Batch records are complete" (symptom paper_batch_records): every batch completed in the
  period has every phase completed and signed "performed" in the system, and every critical
  (requires-verification) phase signed "verified".
- "Every deviation documented and closed before release": no batch released in the period with
  a deviation still open or closed after the release, nor with an out-of-limit value and no
  deviation at all.
- Fact for step 1: batches executed in the period (process).
"""

from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.urls import reverse

from batches.choices import BatchStatus, PhaseStatus
from batches.models import BatchOrder, ParameterValue, PhaseExecution
from mes.esign.models import Meaning, Signature
from mes.registry import (
    CapabilityCheck,
    CheckResult,
    Evidence,
    InstallationFact,
    Period,
    register_check,
    register_fact,
)
from quality.choices import DeviationStatus
from quality.models import Deviation

EXAMPLES = 5  # offending batches named in the evidence, with links


def _examples(batches: QuerySet[BatchOrder], label: str) -> list[Evidence]:
    rows = batches.order_by("number").values_list("pk", "number")[:EXAMPLES]
    return [
        Evidence(label, number, reverse("batches:batch_detail", args=[pk])) for pk, number in rows
    ]


def _started_in(period: Period) -> QuerySet[BatchOrder]:
    return BatchOrder.objects.filter(started_at__gte=period.start, started_at__lt=period.end)


def approved_versions_only(period: Period) -> CheckResult:
    started = _started_in(period)
    # Not "approved_at > started_at": imported history and the demo plant carry batches dated
    # before the approval was recorded in this system (the service itself refuses a start on
    # an unapproved version). A version never approved, or replaced before the start, is the gap.
    not_approved_at_start = (
        Q(recipe_version__approved_at__isnull=True)
        | Q(recipe_version__superseded_at__lte=F("started_at"))
        | Q(recipe_version__obsoleted_at__lte=F("started_at"))
    )
    superseded_while_running = Q(recipe_version__superseded_at__gt=F("started_at")) & (
        Q(completed_at__isnull=True, status=BatchStatus.STARTED)
        | Q(recipe_version__superseded_at__lt=F("completed_at"))
    )
    counts = started.aggregate(
        total=Count("pk"),
        bad=Count("pk", filter=not_approved_at_start),
        stale=Count("pk", filter=superseded_while_running & ~not_approved_at_start),
    )
    total, bad, stale = counts["total"], counts["bad"], counts["stale"]
    if not total:
        return CheckResult(CheckResult.NOT_APPLICABLE, "No batch was started in the period.")
    evidence = [
        Evidence("Batches started in the period", total, reverse("batches:batch_list")),
        Evidence("Started on a version not approved at that time", bad),
        Evidence("Still running or completed after their version was superseded", stale),
    ]
    evidence += _examples(started.filter(not_approved_at_start), "Not approved at start")
    evidence += _examples(
        started.filter(superseded_while_running & ~not_approved_at_start), "Old version in use"
    )
    measured = {"batches": total, "not_approved": bad, "superseded_while_running": stale}
    if bad:
        return CheckResult(
            CheckResult.FAIL,
            f"{bad} of {total} batches ran on a recipe version that was not the approved one "
            "when they started.",
            evidence,
            measured,
        )
    if stale:
        return CheckResult(
            CheckResult.WARNING,
            f"{stale} of {total} batches went on after their recipe version was superseded "
            "(an old version still in use).",
            evidence,
            measured,
        )
    return CheckResult(
        CheckResult.PASS,
        f"All {total} batches ran on the recipe version approved at the time.",
        evidence,
        measured,
    )


def _signed(meaning: str) -> Exists:
    content_type = ContentType.objects.get_for_model(PhaseExecution)
    return Exists(
        Signature.objects.filter(
            content_type=content_type,
            meaning=meaning,
            object_id=Cast(OuterRef("pk"), output_field=CharField()),
        )
    )


def records_complete(period: Period) -> CheckResult:
    completed = BatchOrder.objects.filter(
        completed_at__gte=period.start,
        completed_at__lt=period.end,
        status__in=[BatchStatus.COMPLETED, BatchStatus.RELEASED],
    )
    critical = Q(definition__is_critical=True) | Q(definition__requires_verification=True)
    phases = PhaseExecution.objects.filter(batch__in=completed).annotate(
        performed=_signed(Meaning.PERFORMED), verified=_signed(Meaning.VERIFIED)
    )
    not_done = ~Q(status=PhaseStatus.COMPLETED)
    unsigned = Q(performed=False)
    unverified = critical & Q(verified=False)
    counts = phases.aggregate(
        total=Count("pk"),
        not_done=Count("pk", filter=not_done),
        unsigned=Count("pk", filter=unsigned),
        unverified=Count("pk", filter=unverified),
    )
    batch_total = completed.count()
    if not batch_total:
        return CheckResult(CheckResult.NOT_APPLICABLE, "No batch was completed in the period.")
    bad_batch_ids = phases.filter(not_done | unsigned | unverified).values("batch_id")
    incomplete = completed.filter(pk__in=bad_batch_ids)
    bad = incomplete.count()
    evidence = [
        Evidence("Batches completed in the period", batch_total, reverse("batches:batch_list")),
        Evidence("Phases in their records", counts["total"]),
        Evidence("Phases not completed", counts["not_done"]),
        Evidence("Phases without a 'performed' e-signature", counts["unsigned"]),
        Evidence("Critical phases without a 'verified' e-signature", counts["unverified"]),
        *_examples(incomplete, "Incomplete record"),
    ]
    measured = {
        "batches": batch_total,
        "incomplete": bad,
        "phases": counts["total"],
        "unsigned_phases": counts["unsigned"],
        "unverified_phases": counts["unverified"],
    }
    if bad:
        return CheckResult(
            CheckResult.FAIL,
            f"{bad} of {batch_total} completed batch records have phases not signed (or not "
            "verified) in the system: they were completed elsewhere, on paper.",
            evidence,
            measured,
        )
    return CheckResult(
        CheckResult.PASS,
        f"All {batch_total} completed batch records have every phase signed, and every "
        "critical phase verified, in the electronic record.",
        evidence,
        measured,
    )


def deviations_closed_before_release(period: Period) -> CheckResult:
    released = BatchOrder.objects.filter(
        released_at__gte=period.start, released_at__lt=period.end, status=BatchStatus.RELEASED
    )
    deviations = Deviation.objects.filter(source_kind="batch", source_ref=OuterRef("number"))
    open_at_release = Exists(
        deviations.filter(
            ~Q(status=DeviationStatus.CLOSED) | Q(closed_at__gt=OuterRef("released_at"))
        )
    )
    out_of_limit = Exists(
        ParameterValue.objects.filter(
            phase__batch=OuterRef("pk"), is_out_of_limit=True, superseded_by__isnull=True
        )
    )
    undocumented = out_of_limit & ~Exists(deviations)
    counts = released.aggregate(
        total=Count("pk"),
        open_at_release=Count("pk", filter=Q(open_at_release)),
        undocumented=Count("pk", filter=Q(undocumented)),
        with_deviation=Count("pk", filter=Q(Exists(deviations))),
    )
    total = counts["total"]
    if not total:
        return CheckResult(CheckResult.NOT_APPLICABLE, "No batch was released in the period.")
    evidence = [
        Evidence("Batches released in the period", total, reverse("batches:batch_list")),
        Evidence("Released with a deviation", counts["with_deviation"]),
        Evidence(
            "Released while a deviation was open",
            counts["open_at_release"],
            reverse("quality:deviation_list"),
        ),
        Evidence("Out-of-limit values with no deviation", counts["undocumented"]),
        *_examples(released.filter(open_at_release), "Released with an open deviation"),
        *_examples(released.filter(undocumented), "Undocumented excursion"),
    ]
    measured = {
        "released": total,
        "open_at_release": counts["open_at_release"],
        "undocumented": counts["undocumented"],
    }
    bad = counts["open_at_release"] + counts["undocumented"]
    if bad:
        return CheckResult(
            CheckResult.FAIL,
            f"{bad} of {total} released batches had a deviation not closed before the release "
            "or an excursion without a deviation.",
            evidence,
            measured,
        )
    return CheckResult(
        CheckResult.PASS,
        f"All {total} batches released in the period had every deviation documented and "
        f"closed first ({counts['with_deviation']} had deviations).",
        evidence,
        measured,
    )


def batches_started(period: Period) -> int:
    return _started_in(period).count()


register_check(
    CapabilityCheck(
        key="batches.approved_versions_only",
        title="Only approved recipe versions were executed",
        model="process",
        evaluate=approved_versions_only,
        symptom="old_recipe_versions",
        fixed_by="MES-integrated recipe version management: only the approved current version "
        "is executable in production",
        order=10,
        tags=("recipes", "batches"),
    )
)
register_check(
    CapabilityCheck(
        key="batches.records_complete",
        title="Batch records are complete (every phase signed and verified)",
        model="process",
        evaluate=records_complete,
        symptom="paper_batch_records",
        fixed_by="Electronic batch record with step-level parameter capture and deviation "
        "documentation",
        order=20,
        tags=("ebr",),
    )
)
register_check(
    CapabilityCheck(
        key="batches.deviations_closed_before_release",
        title="Every deviation documented and closed before release",
        model="process",
        evaluate=deviations_closed_before_release,
        order=25,
        tags=("ebr", "quality"),
    )
)
register_fact(
    InstallationFact(
        key="batches.started",
        title="Batches executed in the period",
        indicates="process",
        count=batches_started,
        order=20,
        url_name="batches:batch_list",
    )
)
