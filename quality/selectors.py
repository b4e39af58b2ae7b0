"""Reads of quality: the quality state of a lot (what blocks its release), the review queue,
open and overdue deviations and CAPA, SPC charts."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from genealogy.choices import LotStatus
from genealogy.models import Lot, Material
from quality import permissions as perms
from quality import spc
from quality.choices import (
    OPEN_DEVIATION_STATUSES,
    CapaStatus,
    ResultOutcome,
    SamplingBasis,
    SpecificationStatus,
)
from quality.models import (
    CapaAction,
    Characteristic,
    Deviation,
    LabResult,
    LotDisposition,
    Nonconformance,
    QualityEvent,
    ReleaseOverride,
    SpcValue,
    Specification,
    SpecTest,
)

# --- helpers ---------------------------------------------------------------------------------


def _can(actor: Any, perm: str) -> bool:
    return bool(
        actor is not None
        and getattr(actor, "is_authenticated", False)
        and actor.is_active
        and actor.has_perm(perm)
    )


def today() -> date:
    return timezone.localdate()


# --- specifications --------------------------------------------------------------------------


def specification_approved_for(material: Material | int) -> Specification | None:
    material_id = material if isinstance(material, int) else material.pk
    return (
        Specification.objects.filter(material_id=material_id, status=SpecificationStatus.APPROVED)
        .prefetch_related("tests")
        .first()
    )


def specification_list(*, actor: Any, material: Material | None = None) -> QuerySet[Specification]:
    if not _can(actor, perms.VIEW_SPECIFICATION):
        return Specification.objects.none()
    qs = Specification.objects.select_related("material", "created_by", "approved_by")
    qs = qs.annotate(test_count=Count("tests"))
    return qs.filter(material=material) if material is not None else qs


def specification_get(*, actor: Any, pk: int) -> Specification:
    """Raises Specification.DoesNotExist (also when the actor may not see specifications)."""
    return specification_list(actor=actor).prefetch_related("tests").get(pk=pk)


# --- the quality state of a lot --------------------------------------------------------------


@dataclass
class Requirement:
    """One required result: a test of the approved specification, for one sample."""

    test: SpecTest
    sample_no: int
    result: LabResult | None = None


@dataclass
class LotQuality:
    lot: Lot
    specification: Specification | None
    sampled_lot_ids: list[int]
    requirements: list[Requirement]
    results: list[LabResult]
    failing: list[LabResult]
    overrides: list[ReleaseOverride]
    open_deviations: list[Deviation]
    dispositions: list[LotDisposition]
    on: date
    blockers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def missing(self) -> list[Requirement]:
        return [r for r in self.requirements if r.result is None]

    @property
    def covered_result_ids(self) -> set[int]:
        covered: set[int] = set()
        for override in self.overrides:
            if override.is_signed:
                covered.update(override.result_ids)
        return covered

    @property
    def uncovered_failing(self) -> list[LabResult]:
        covered = self.covered_result_ids
        return [r for r in self.failing if r.pk not in covered]

    @property
    def signed_override_deviation_ids(self) -> set[int]:
        return {o.deviation_id for o in self.overrides if o.is_signed}

    @property
    def blocking_deviations(self) -> list[Deviation]:
        covered = self.signed_override_deviation_ids
        return [d for d in self.open_deviations if d.pk not in covered]

    @property
    def pending_override(self) -> ReleaseOverride | None:
        return next((o for o in self.overrides if not o.is_signed), None)

    @property
    def signed_override(self) -> ReleaseOverride | None:
        return next((o for o in self.overrides if o.is_signed), None)

    @property
    def is_expired(self) -> bool:
        return self.lot.expires_at is not None and self.lot.expires_at < self.on

    @property
    def can_release(self) -> bool:
        return not self.blockers

    @property
    def release_refusal(self) -> str:
        return " ".join(message for _, message in self.blockers)


def _sampled_lot_ids(lot: Lot, specification: Specification | None) -> list[int]:
    """The lots whose results count for `lot`: the lot itself, or (sampling per batch) every
    lot of the same material the same batch produced."""
    if (
        specification is not None
        and specification.sampling_basis == SamplingBasis.PER_BATCH
        and lot.source_kind == "batch"
        and lot.source_ref
    ):
        return sorted(
            Lot.objects.filter(
                material_id=lot.material_id, source_kind="batch", source_ref=lot.source_ref
            ).values_list("pk", flat=True)
        )
    return [lot.pk]


def _describe(result: LabResult) -> str:
    limits = result.spec_test.limits_text
    return (
        f"{result.spec_test.name} sample {result.sample_no} = {result.value_text} (limits {limits})"
    )


def lot_quality(lot: Lot, *, on: date | None = None) -> LotQuality:
    """Everything QA needs to dispose `lot`, and what blocks its release (`blockers`, each
    (code, message))."""
    on = on or today()
    specification = specification_approved_for(lot.material_id)
    sampled = _sampled_lot_ids(lot, specification)
    results = list(
        LabResult.objects.filter(lot_id__in=sampled)
        .select_related("spec_test", "spec_test__specification", "entered_by")
        .order_by("spec_test__specification__version", "spec_test__position", "sample_no", "id")
    )
    superseded = {r.supersedes_id for r in results if r.supersedes_id}
    current: dict[tuple[int, int], LabResult] = {}
    for result in results:
        result.is_current = result.pk not in superseded  # type: ignore[attr-defined]
        if result.is_current:  # type: ignore[attr-defined]
            current[(result.spec_test_id, result.sample_no)] = result
    requirements: list[Requirement] = []
    if specification is not None:
        for test in specification.tests.all():
            for sample_no in range(1, specification.sample_count + 1):
                requirements.append(Requirement(test, sample_no, current.get((test.pk, sample_no))))
    failing = [
        r
        for r in results
        if r.is_current and r.outcome == ResultOutcome.FAIL  # type: ignore[attr-defined]
    ]
    overrides = list(
        ReleaseOverride.objects.filter(lot=lot)
        .select_related("deviation", "requested_by", "signed_by")
        .order_by("-id")
    )
    open_deviations = list(
        Deviation.objects.filter(lot_links__lot=lot, status__in=OPEN_DEVIATION_STATUSES)
        .order_by("id")
        .distinct()
    )
    dispositions = list(
        LotDisposition.objects.filter(lot=lot).select_related("decided_by").order_by("-id")
    )
    state = LotQuality(
        lot=lot,
        specification=specification,
        sampled_lot_ids=sampled,
        requirements=requirements,
        results=results,
        failing=failing,
        overrides=overrides,
        open_deviations=open_deviations,
        dispositions=dispositions,
        on=on,
    )
    state.blockers = _release_blockers(state)
    return state


def _release_blockers(state: LotQuality) -> list[tuple[str, str]]:
    lot = state.lot
    name = f"Lot {lot.lot_number}"
    blockers: list[tuple[str, str]] = []
    if state.is_expired:
        blockers.append(
            (
                "lot_expired",
                f"{name} expired on {lot.expires_at.isoformat()}: it cannot be released.",
            )  # type: ignore[union-attr]
        )
    if state.specification is None:
        blockers.append(
            (
                "no_approved_specification",
                f"No approved specification for {lot.material.code}: {name} cannot be "
                "released against one.",
            )
        )
    elif state.missing:
        listed = ", ".join(f"{r.test.name} sample {r.sample_no}" for r in state.missing[:6])
        more = f" and {len(state.missing) - 6} more" if len(state.missing) > 6 else ""
        blockers.append(
            (
                "results_incomplete",
                f"{name} lacks {len(state.missing)} of {len(state.requirements)} required "
                f"results ({listed}{more}).",
            )
        )
    uncovered = state.uncovered_failing
    if uncovered:
        listed = "; ".join(_describe(r) for r in uncovered)
        blockers.append(
            (
                "failing_results",
                f"{name} has failing results ({listed}): release needs an override signed by "
                "QA and linked to a deviation.",
            )
        )
    blocking = state.blocking_deviations
    if blocking:
        listed = ", ".join(d.number for d in blocking)
        blockers.append(
            (
                "open_deviation",
                f"{name} has open deviations not covered by a signed override ({listed}).",
            )
        )
    return blockers


def lab_result_is_current(result: LabResult) -> bool:
    return not LabResult.objects.filter(supersedes=result).exists()


def lab_result_list(*, actor: Any, lot: Lot | None = None) -> QuerySet[LabResult]:
    if not _can(actor, perms.VIEW_LAB_RESULT):
        return LabResult.objects.none()
    qs = LabResult.objects.select_related("spec_test", "lot", "entered_by").annotate(
        superseded_by_result=Subquery(
            LabResult.objects.filter(supersedes=OuterRef("pk")).values("pk")[:1]
        )
    )
    return qs.filter(lot=lot) if lot is not None else qs


# --- the review queue ------------------------------------------------------------------------


def lots_awaiting_disposition(*, actor: Any) -> QuerySet[Lot]:
    """Lots in quarantine, oldest first, with their count of current and failing results."""
    if not _can(actor, perms.VIEW_DISPOSITION):
        return Lot.objects.none()
    current = LabResult.objects.filter(lot=OuterRef("pk"), superseded_by__isnull=True)
    return (
        Lot.objects.filter(status=LotStatus.QUARANTINE)
        .select_related("material")
        .annotate(
            result_count=Coalesce(
                Subquery(current.order_by().values("lot").annotate(n=Count("pk")).values("n")[:1]),
                0,
            ),
            failing_count=Coalesce(
                Subquery(
                    current.filter(outcome=ResultOutcome.FAIL)
                    .order_by()
                    .values("lot")
                    .annotate(n=Count("pk"))
                    .values("n")[:1]
                ),
                0,
            ),
        )
        .order_by("created_at", "pk")
    )


def lot_dispositions(*, actor: Any, lot: Lot | None = None) -> QuerySet[LotDisposition]:
    if not _can(actor, perms.VIEW_DISPOSITION):
        return LotDisposition.objects.none()
    qs = LotDisposition.objects.select_related("lot", "lot__material", "decided_by")
    return qs.filter(lot=lot) if lot is not None else qs


def override_list(*, actor: Any) -> QuerySet[ReleaseOverride]:
    if not _can(actor, perms.VIEW_DISPOSITION):
        return ReleaseOverride.objects.none()
    return ReleaseOverride.objects.select_related(
        "lot", "deviation", "requested_by", "signed_by"
    ).order_by("-id")


# --- deviations and CAPA ---------------------------------------------------------------------


def deviation_list(
    *, actor: Any, status: str | None = None, open_only: bool = False
) -> QuerySet[Deviation]:
    if not _can(actor, perms.VIEW_DEVIATION):
        return Deviation.objects.none()
    qs = Deviation.objects.select_related("opened_by", "classified_by", "closed_by")
    if open_only:
        qs = qs.filter(status__in=OPEN_DEVIATION_STATUSES)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def deviation_get(*, actor: Any, pk: int) -> Deviation:
    """Raises Deviation.DoesNotExist (also outside the actor's rights)."""
    return deviation_list(actor=actor).prefetch_related("lot_links__lot__material").get(pk=pk)


def deviations_open_for_lot(lot: Lot | int) -> QuerySet[Deviation]:
    lot_id = lot if isinstance(lot, int) else lot.pk
    return (
        Deviation.objects.filter(lot_links__lot_id=lot_id, status__in=OPEN_DEVIATION_STATUSES)
        .order_by("id")
        .distinct()
    )


def deviations_open_for_source(*, kind: str, ref: str) -> QuerySet[Deviation]:
    """Open deviations raised against a record of another app (batches ask this before a
    release: "any open deviation for batch B-1001?")."""
    return Deviation.objects.filter(
        source_kind=kind, source_ref=ref, status__in=OPEN_DEVIATION_STATUSES
    ).order_by("id")


def deviation_open_exists(*, kind: str, ref: str) -> bool:
    return deviations_open_for_source(kind=kind, ref=ref).exists()


AGEING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0–7 days", 0, 7),
    ("8–30 days", 8, 30),
    ("31–90 days", 31, 90),
    ("over 90 days", 91, None),
)


@dataclass
class AgeingBucket:
    label: str
    deviations: list[Deviation]

    @property
    def count(self) -> int:
        return len(self.deviations)


def deviation_ageing(*, actor: Any, on: date | None = None) -> list[AgeingBucket]:
    """Open deviations by age (days since opened, in the plant's time zone)."""
    on = on or today()
    buckets = [AgeingBucket(label, []) for label, _, _ in AGEING_BUCKETS]
    for deviation in deviation_list(actor=actor, open_only=True).order_by("opened_at", "id"):
        age = (on - timezone.localdate(deviation.opened_at)).days
        deviation.age_days = age  # type: ignore[attr-defined]
        for bucket, (_, low, high) in zip(buckets, AGEING_BUCKETS, strict=True):
            if age >= low and (high is None or age <= high):
                bucket.deviations.append(deviation)
                break
    return buckets


def deviations_overdue(*, actor: Any, on: date | None = None) -> QuerySet[Deviation]:
    on = on or today()
    return (
        deviation_list(actor=actor, open_only=True).filter(due_at__lt=on).order_by("due_at", "id")
    )


def capa_list(*, actor: Any, open_only: bool = False) -> QuerySet[CapaAction]:
    if not _can(actor, perms.VIEW_DEVIATION):
        return CapaAction.objects.none()
    qs = CapaAction.objects.select_related("deviation", "owner")
    return qs.filter(status=CapaStatus.OPEN) if open_only else qs


def capa_overdue(*, actor: Any, on: date | None = None) -> QuerySet[CapaAction]:
    on = on or today()
    return capa_list(actor=actor, open_only=True).filter(due_at__lt=on).order_by("due_at", "id")


def capa_overdue_all(*, on: date | None = None) -> QuerySet[CapaAction]:
    """Every overdue open CAPA action (for the reminder task, not actor-scoped)."""
    on = on or today()
    return (
        CapaAction.objects.filter(status=CapaStatus.OPEN, due_at__lt=on)
        .select_related("deviation", "owner")
        .order_by("owner_id", "due_at", "id")
    )


def deviation_events(deviation: Deviation) -> QuerySet[QualityEvent]:
    return (
        QualityEvent.objects.filter(deviation=deviation)
        .select_related("actor")
        .order_by("at", "id")
    )


# --- nonconformances -------------------------------------------------------------------------


def nonconformance_list(*, actor: Any, open_only: bool = False) -> QuerySet[Nonconformance]:
    if not _can(actor, perms.VIEW_NONCONFORMANCE):
        return Nonconformance.objects.none()
    qs = Nonconformance.objects.select_related(
        "lot", "lot__material", "opened_by", "dispositioned_by", "deviation"
    )
    return qs.filter(status="open") if open_only else qs


# --- SPC -------------------------------------------------------------------------------------


def characteristic_list(*, actor: Any) -> QuerySet[Characteristic]:
    if not _can(actor, perms.VIEW_CHARACTERISTIC):
        return Characteristic.objects.none()
    return Characteristic.objects.select_related("material").annotate(value_count=Count("values"))


@dataclass
class ChartPoint:
    index: int
    y: float
    at: datetime
    label: str
    source_ref: str
    source_url: str
    value_ids: list[int]
    secondary: float | None = None  # moving range or subgroup range
    rules: list[int] = field(default_factory=list)


@dataclass
class SpcChart:
    characteristic: Characteristic
    points: list[ChartPoint]
    total_values: int
    center: float | None = None
    ucl: float | None = None
    lcl: float | None = None
    sigma: float | None = None
    secondary_center: float | None = None
    secondary_ucl: float | None = None
    secondary_lcl: float | None = None
    sigma_within: float | None = None
    limits_basis: str = ""
    capability: spc.Capability | None = None
    violations: list[spc.Violation] = field(default_factory=list)
    message: str = ""

    @property
    def is_subgrouped(self) -> bool:
        return self.characteristic.subgroup_size > 1

    @property
    def has_limits(self) -> bool:
        return self.center is not None


def _baseline(characteristic: Characteristic, total: int) -> list[float] | None:
    size = characteristic.baseline_size
    if not size or total < size:
        return None
    values = (
        SpcValue.objects.filter(characteristic=characteristic)
        .order_by("at", "id")
        .values_list("value", flat=True)[:size]
    )
    return [float(v) for v in values]


def spc_chart(characteristic: Characteristic, *, limit: int = 100) -> SpcChart:
    """The last `limit` points (values, or subgroups of `subgroup_size` consecutive values
    counted from the first value ever recorded), their control limits, the Western Electric
    violations and the capability against the characteristic's spec limits."""
    n = characteristic.subgroup_size
    base = SpcValue.objects.filter(characteristic=characteristic).order_by("at", "id")
    total = base.count()
    start = max(0, total - limit * n)
    start -= start % n
    rows = list(base.values_list("pk", "value", "at", "source_ref", "source_url")[start:])
    chart = SpcChart(characteristic=characteristic, points=[], total_values=total)
    if n == 1:
        for i, (pk, value, at, ref, url) in enumerate(rows):
            chart.points.append(
                ChartPoint(i, float(value), at, f"{value.normalize():f}", ref, url, [pk])
            )
        for point, mr in zip(
            chart.points[1:], spc.moving_ranges([p.y for p in chart.points]), strict=True
        ):
            point.secondary = mr
    else:
        for i in range(0, len(rows) - n + 1, n):
            group = rows[i : i + n]
            values = [float(r[1]) for r in group]
            point = ChartPoint(
                index=len(chart.points),
                y=spc.mean(values),
                at=group[-1][2],
                label=f"{spc.mean(values):.4g}",
                source_ref=group[-1][3],
                source_url=group[-1][4],
                value_ids=[r[0] for r in group],
                secondary=max(values) - min(values),
            )
            chart.points.append(point)
    ys = [p.y for p in chart.points]
    baseline = _baseline(characteristic, total)
    try:
        if n == 1:
            limits = spc.individuals_limits(baseline or ys)
            chart.center, chart.ucl, chart.lcl = limits.center, limits.ucl, limits.lcl
            chart.sigma = limits.sigma
            chart.secondary_center, chart.secondary_ucl = limits.mr_bar, limits.mr_ucl
            chart.secondary_lcl = limits.mr_lcl
            chart.sigma_within = limits.mr_bar / spc.D2[2]
        else:
            groups = (
                spc.split_subgroups(baseline, n)
                if baseline
                else [
                    [float(r[1]) for r in rows[i : i + n]] for i in range(0, len(rows) - n + 1, n)
                ]
            )
            xr = spc.xbar_r_limits(groups)
            chart.center, chart.ucl, chart.lcl = xr.grand_mean, xr.ucl, xr.lcl
            chart.sigma = xr.sigma
            chart.secondary_center, chart.secondary_ucl = xr.r_bar, xr.r_ucl
            chart.secondary_lcl = xr.r_lcl
            chart.sigma_within = xr.sigma_within
    except spc.SpcInputError as exc:
        chart.message = f"No control limits yet: {exc}."
        return chart
    chart.limits_basis = (
        f"limits from the first {characteristic.baseline_size} values (baseline)"
        if baseline
        else f"limits from the {len(chart.points)} points charted"
    )
    chart.violations = spc.violations(ys, center=chart.center, sigma=chart.sigma)
    for violation in chart.violations:
        chart.points[violation.index].rules.append(violation.rule)
    has_spec = characteristic.lsl is not None or characteristic.usl is not None
    if has_spec and chart.sigma_within:
        chart.capability = spc.capability(
            mean=chart.center,
            sigma=chart.sigma_within,
            lsl=characteristic.lsl,
            usl=characteristic.usl,
        )
    return chart


def quality_events(*, lot: Lot | None = None) -> Iterable[QualityEvent]:
    qs = QualityEvent.objects.select_related("actor").order_by("at", "id")
    return qs.filter(lot=lot) if lot is not None else qs


def open_counts(*, actor: Any) -> dict[str, int]:
    """Counts for the review queue headline."""
    on = today()
    return {
        "lots": lots_awaiting_disposition(actor=actor).count(),
        "deviations": deviation_list(actor=actor, open_only=True).count(),
        "overdue_capa": capa_overdue(actor=actor, on=on).count(),
        "pending_overrides": override_list(actor=actor).filter(signed_at__isnull=True).count(),
    }


@dataclass(frozen=True)
class Reminder:
    """One e-mail to one CAPA owner listing their overdue actions."""

    to: str
    owner: str
    subject: str
    body: str
    capa_ids: tuple[int, ...]


def overdue_capa_reminders(*, on: date | None = None) -> list[Reminder]:
    """One reminder per owner (with an e-mail address) of overdue open CAPA actions."""
    on = on or today()
    by_owner: dict[int, list[CapaAction]] = {}
    for action in capa_overdue_all(on=on):
        by_owner.setdefault(action.owner_id, []).append(action)
    reminders = []
    for actions in by_owner.values():
        owner = actions[0].owner
        if not owner.email:
            continue
        lines = [
            f"- {a.number} ({a.deviation.number} {a.deviation.title}): {a.description} "
            f"— due {a.due_at.isoformat()}, {(on - a.due_at).days} day(s) overdue"
            for a in actions
        ]
        reminders.append(
            Reminder(
                to=owner.email,
                owner=owner.username,
                subject=f"{len(actions)} overdue CAPA action(s)",
                body=f"Dear {owner.printed_name},\n\nThese CAPA actions you own are overdue:\n\n"
                + "\n".join(lines)
                + "\n\nRecord what was done on the deviation page, or ask QA to re-plan.\n",
                capa_ids=tuple(a.pk for a in actions),
            )
        )
    return reminders
