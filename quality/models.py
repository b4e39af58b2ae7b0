"""Quality records: specifications (versioned, approved by QA signature) with their tests and
sampling plan, lab results (append-only; a correction supersedes), release overrides, lot
dispositions (append-only, signed), deviations with CAPA actions, nonconformances, SPC
characteristics with their captured values, and the quality ledger (`QualityEvent`).

Lot status itself lives on `genealogy.Lot`; quality owns it and changes it only through
`genealogy.services.lot_set_status`, in the same transaction as the signed `LotDisposition`.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from simple_history.models import HistoricalRecords

from mes.audit.registry import audited
from quality.choices import (
    CapaKind,
    CapaStatus,
    Classification,
    Decision,
    DeviationStatus,
    EventType,
    NcrDisposition,
    NcrStatus,
    ResultOutcome,
    ResultSource,
    SamplingBasis,
    SourceKind,
    SpecificationStatus,
    TestKind,
)

VALUE = {"max_digits": 18, "decimal_places": 6}
USER = settings.AUTH_USER_MODEL


# --- specifications --------------------------------------------------------------------------


@audited(deletable=False)
class Specification(models.Model):
    """One version of the specification of a material: its tests and its sampling plan.
    Drafts are edited; an approved version (QA signature, not by its author) is frozen; at
    most one version per material is approved at a time."""

    material = models.ForeignKey(
        "genealogy.Material", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    sample_count = models.PositiveSmallIntegerField(
        default=1, help_text="Samples to test: per lot, or per batch (see the basis)."
    )
    sampling_basis = models.CharField(
        max_length=12, choices=SamplingBasis.choices, default=SamplingBasis.PER_LOT
    )
    status = models.CharField(
        max_length=12,
        choices=SpecificationStatus.choices,
        default=SpecificationStatus.DRAFT,
        editable=False,
    )
    notes = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=Now())
    approved_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["material_id", "-version"]
        default_permissions = ("add", "change", "view")
        permissions = [("approve_specification", "Can approve (sign) a specification version")]
        constraints = [
            models.UniqueConstraint(
                fields=["material", "version"], name="quality_spec_version_per_material"
            ),
            models.UniqueConstraint(
                fields=["material"],
                condition=Q(status=SpecificationStatus.APPROVED),
                name="quality_spec_one_approved_per_material",
            ),
            models.CheckConstraint(
                condition=Q(status__in=SpecificationStatus.values),
                name="quality_spec_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(sampling_basis__in=SamplingBasis.values),
                name="quality_spec_basis_valid",
            ),
            models.CheckConstraint(
                condition=Q(sample_count__gte=1), name="quality_spec_sample_count_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"

    def signature_author(self):  # type: ignore[no-untyped-def]
        return self.created_by

    def signature_content(self) -> dict:
        """What an approval vouches for: the version, its sampling plan and every test (not
        the status, which moves on to superseded later)."""
        return {
            "material_id": self.material_id,
            "version": self.version,
            "title": self.title,
            "sample_count": self.sample_count,
            "sampling_basis": self.sampling_basis,
            "notes": self.notes,
            "tests": [t.signature_content() for t in self.tests.order_by("position", "id")],
        }


@audited(deletable=False)
class SpecTest(models.Model):
    """A test of a specification: numeric within [low, high] (either may be open), or
    pass/fail."""

    specification = models.ForeignKey(Specification, on_delete=models.PROTECT, related_name="tests")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=100)
    unit = models.CharField(max_length=20, blank=True, default="")
    method = models.CharField(max_length=100, blank=True, default="")
    kind = models.CharField(max_length=10, choices=TestKind.choices, default=TestKind.NUMERIC)
    low = models.DecimalField(**VALUE, null=True, blank=True)
    high = models.DecimalField(**VALUE, null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["specification_id", "position", "id"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["specification", "name"], name="quality_spectest_name_per_spec"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=TestKind.values), name="quality_spectest_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind=TestKind.PASS_FAIL, low__isnull=True, high__isnull=True)
                | Q(kind=TestKind.NUMERIC) & (Q(low__isnull=False) | Q(high__isnull=False)),
                name="quality_spectest_limits_match_kind",
            ),
            models.CheckConstraint(
                condition=Q(low__isnull=True) | Q(high__isnull=True) | Q(low__lte=F("high")),
                name="quality_spectest_low_not_above_high",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.limits_text})"

    @property
    def limits_text(self) -> str:
        if self.kind == TestKind.PASS_FAIL:
            return "pass/fail"
        unit = f" {self.unit}" if self.unit else ""
        if self.low is not None and self.high is not None:
            return f"{self.low.normalize():f}–{self.high.normalize():f}{unit}"
        if self.low is not None:
            return f"≥ {self.low.normalize():f}{unit}"
        return f"≤ {self.high.normalize():f}{unit}"  # type: ignore[union-attr]

    def signature_content(self) -> dict:
        return {
            "id": self.pk,
            "position": self.position,
            "name": self.name,
            "unit": self.unit,
            "method": self.method,
            "kind": self.kind,
            "low": self.low,
            "high": self.high,
        }


# --- lab results -----------------------------------------------------------------------------


@audited(append_only=True)
class LabResult(models.Model):
    """One result of one test on one sample of a lot, evaluated against the test's limits at
    entry (the limits are copied). Never edited: a correction is a new row that `supersedes`
    this one, with a reason. The current result of (lot, test, sample) is the one no row
    supersedes."""

    lot = models.ForeignKey(
        "genealogy.Lot", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    spec_test = models.ForeignKey(SpecTest, on_delete=models.PROTECT, related_name="results")
    sample_no = models.PositiveSmallIntegerField(default=1)
    value = models.DecimalField(**VALUE, null=True, blank=True)
    value_text = models.CharField(max_length=50, help_text="The value as entered.")
    outcome = models.CharField(max_length=4, choices=ResultOutcome.choices)
    low = models.DecimalField(**VALUE, null=True, blank=True)
    high = models.DecimalField(**VALUE, null=True, blank=True)
    unit = models.CharField(max_length=20, blank=True, default="")
    source = models.CharField(max_length=8, choices=ResultSource.choices)
    external_ref = models.CharField(
        max_length=100, blank=True, default="", help_text="The LIMS sample/result ID."
    )
    note = models.TextField(blank=True, default="")
    tested_at = models.DateTimeField(null=True, blank=True)
    entered_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(db_default=Now())
    supersedes = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="superseded_by",
        help_text="The result this one corrects.",
    )
    correction_reason = models.TextField(blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["lot_id", "spec_test_id", "sample_no", "id"]
        default_permissions = ("view",)
        permissions = [
            ("enter_labresult", "Can enter lab results"),
            ("correct_labresult", "Can correct a lab result (a superseding result)"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=ResultOutcome.values), name="quality_result_outcome_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=ResultSource.values), name="quality_result_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(sample_no__gte=1), name="quality_result_sample_positive"
            ),
            models.CheckConstraint(
                condition=Q(supersedes__isnull=True) | ~Q(correction_reason=""),
                name="quality_result_correction_has_reason",
            ),
            models.UniqueConstraint(
                fields=["external_ref"],
                condition=~Q(external_ref=""),
                name="quality_result_external_ref_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["lot", "spec_test", "sample_no"], name="quality_result_lot_idx")
        ]

    def __str__(self) -> str:
        return f"{self.spec_test.name} #{self.sample_no} = {self.value_text} ({self.outcome})"

    @property
    def is_failing(self) -> bool:
        return self.outcome == ResultOutcome.FAIL


# --- deviations and CAPA ---------------------------------------------------------------------


@audited(deletable=False)
class Deviation(models.Model):
    """A departure from an approved instruction or specification. Opened by anyone (or by a
    service of another app, whose record is referenced by kind/ref/url), classified and
    investigated by QA, closed by a QA signature."""

    title = models.CharField(max_length=200)
    description = models.TextField()
    status = models.CharField(
        max_length=14,
        choices=DeviationStatus.choices,
        default=DeviationStatus.OPEN,
        editable=False,
    )
    classification = models.CharField(
        max_length=10, choices=Classification.choices, blank=True, default=""
    )
    source_kind = models.CharField(
        max_length=16, choices=SourceKind.choices, default=SourceKind.MANUAL
    )
    source_ref = models.CharField(max_length=200, blank=True, default="")
    source_url = models.CharField(max_length=500, blank=True, default="")
    lots = models.ManyToManyField(
        "genealogy.Lot", through="DeviationLot", related_name="+", blank=True
    )
    opened_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(db_default=Now())
    due_at = models.DateField(help_text="Investigation due date.")
    classified_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    classified_at = models.DateTimeField(null=True, blank=True)
    investigation = models.TextField(blank=True, default="")
    root_cause = models.TextField(blank=True, default="")
    closure_summary = models.TextField(blank=True, default="")
    closed_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        default_permissions = ("add", "view")
        permissions = [
            ("manage_deviation", "Can classify, investigate, plan CAPA and close deviations")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeviationStatus.values),
                name="quality_deviation_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(classification="") | Q(classification__in=Classification.values),
                name="quality_deviation_classification_valid",
            ),
            models.CheckConstraint(
                condition=Q(source_kind__in=SourceKind.values),
                name="quality_deviation_source_kind_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status=DeviationStatus.CLOSED)
                | (~Q(classification="") & Q(closed_at__isnull=False)),
                name="quality_deviation_closed_is_classified",
            ),
        ]
        indexes = [
            models.Index(fields=["source_kind", "source_ref"], name="quality_deviation_src_idx"),
            models.Index(fields=["status", "due_at"], name="quality_deviation_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def number(self) -> str:
        return f"DEV-{self.pk:05d}" if self.pk else "DEV-(new)"

    @property
    def is_open(self) -> bool:
        return self.status != DeviationStatus.CLOSED

    def signature_author(self):  # type: ignore[no-untyped-def]
        return self.opened_by


@audited(append_only=True)
class DeviationLot(models.Model):
    """A lot concerned by a deviation."""

    deviation = models.ForeignKey(Deviation, on_delete=models.PROTECT, related_name="lot_links")
    lot = models.ForeignKey("genealogy.Lot", on_delete=models.PROTECT, related_name="+")
    linked_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    linked_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["id"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(fields=["deviation", "lot"], name="quality_deviation_lot_once")
        ]

    def __str__(self) -> str:
        return f"deviation #{self.deviation_id} - lot #{self.lot_id}"


@audited(deletable=False)
class CapaAction(models.Model):
    """A corrective or preventive action of a deviation: an owner and a due date."""

    deviation = models.ForeignKey(Deviation, on_delete=models.PROTECT, related_name="capa_actions")
    kind = models.CharField(max_length=10, choices=CapaKind.choices)
    description = models.TextField()
    owner = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateField()
    status = models.CharField(
        max_length=10, choices=CapaStatus.choices, default=CapaStatus.OPEN, editable=False
    )
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=Now())
    completed_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    completion_note = models.TextField(blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        ordering = ["due_at", "id"]
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=CapaKind.values), name="quality_capa_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=CapaStatus.values), name="quality_capa_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=CapaStatus.OPEN)
                | (Q(completed_at__isnull=False) & ~Q(completion_note="")),
                name="quality_capa_done_has_note",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="quality_capa_status_idx")]

    def __str__(self) -> str:
        return f"CAPA-{self.pk or 0:05d} {self.get_kind_display()}: {self.description[:60]}"

    @property
    def number(self) -> str:
        return f"CAPA-{self.pk:05d}" if self.pk else "CAPA-(new)"


# --- overrides and dispositions --------------------------------------------------------------


@audited(deletable=False)
class ReleaseOverride(models.Model):
    """A request to release a lot despite failing results, with its justification and the
    deviation that investigates them. It covers the failing results listed in `result_ids`;
    it counts once another QA reviewer (not the requester) signed it 'override'."""

    lot = models.ForeignKey("genealogy.Lot", on_delete=models.PROTECT, related_name="+")
    deviation = models.ForeignKey(Deviation, on_delete=models.PROTECT, related_name="overrides")
    justification = models.TextField()
    result_ids = models.JSONField(default=list, help_text="The failing results it covers.")
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(db_default=Now())
    signed_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        default_permissions = ("view",)
        permissions = [("request_override", "Can request a release override")]

    def __str__(self) -> str:
        return f"override #{self.pk} of lot #{self.lot_id}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    def signature_author(self):  # type: ignore[no-untyped-def]
        return self.requested_by

    def signature_content(self) -> dict:
        return {
            "lot_id": self.lot_id,
            "deviation_id": self.deviation_id,
            "justification": self.justification,
            "result_ids": sorted(self.result_ids),
            "requested_by_id": self.requested_by_id,
            "requested_at": self.requested_at,
        }


@audited(append_only=True)
class LotDisposition(models.Model):
    """A signed QA decision on a lot: released, rejected, on hold, back to quarantine. The
    lot's status changes in the same transaction; `summary` keeps what QA saw (results,
    deviations) when deciding."""

    lot = models.ForeignKey("genealogy.Lot", on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=12, choices=Decision.choices)
    from_status = models.CharField(max_length=12)
    reason = models.TextField(blank=True, default="")
    specification = models.ForeignKey(
        Specification, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    override = models.ForeignKey(
        ReleaseOverride, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    summary = models.JSONField(default=dict, blank=True)
    decided_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(db_default=Now())
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-decided_at", "-id"]
        default_permissions = ("view",)
        permissions = [("dispose_lot", "Can release, reject, hold or quarantine a lot (signed)")]
        constraints = [
            models.CheckConstraint(
                condition=Q(decision__in=Decision.values), name="quality_disposition_valid"
            ),
        ]
        indexes = [models.Index(fields=["lot", "-id"], name="quality_disposition_lot_idx")]

    def __str__(self) -> str:
        return f"lot #{self.lot_id} {self.decision}"

    def signature_author(self):  # type: ignore[no-untyped-def]
        return self.decided_by


# --- nonconformance --------------------------------------------------------------------------


@audited(deletable=False)
class Nonconformance(models.Model):
    """A nonconforming item or quantity (discrete: scrap, rework, use as is), dispositioned
    by a QA signature."""

    description = models.TextField()
    defect_code = models.CharField(max_length=40, blank=True, default="")
    lot = models.ForeignKey(
        "genealogy.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.DecimalField(**VALUE, null=True, blank=True)
    uom = models.CharField(max_length=8, blank=True, default="")
    source_kind = models.CharField(
        max_length=16, choices=SourceKind.choices, default=SourceKind.MANUAL
    )
    source_ref = models.CharField(max_length=200, blank=True, default="")
    source_url = models.CharField(max_length=500, blank=True, default="")
    status = models.CharField(
        max_length=14, choices=NcrStatus.choices, default=NcrStatus.OPEN, editable=False
    )
    disposition = models.CharField(
        max_length=10, choices=NcrDisposition.choices, blank=True, default=""
    )
    justification = models.TextField(blank=True, default="")
    deviation = models.ForeignKey(
        Deviation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(db_default=Now())
    dispositioned_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dispositioned_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        default_permissions = ("add", "view")
        permissions = [("disposition_nonconformance", "Can disposition a nonconformance (signed)")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=NcrStatus.values), name="quality_ncr_status_valid"
            ),
            models.CheckConstraint(
                condition=(Q(status=NcrStatus.OPEN) & Q(disposition=""))
                | (Q(status=NcrStatus.DISPOSITIONED) & Q(disposition__in=NcrDisposition.values)),
                name="quality_ncr_disposition_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | Q(quantity__gt=0),
                name="quality_ncr_quantity_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.description[:60]}"

    @property
    def number(self) -> str:
        return f"NCR-{self.pk:05d}" if self.pk else "NCR-(new)"

    def signature_author(self):  # type: ignore[no-untyped-def]
        return self.opened_by


# --- SPC -------------------------------------------------------------------------------------


@audited(deletable=False)
class Characteristic(models.Model):
    """A measured characteristic charted with SPC. Other apps send values by `key`
    (`services.spc_record_value`). `subgroup_size` 1 is an individuals/moving-range chart;
    2..10 an X̄-R chart over consecutive values. Control limits come from the first
    `baseline_size` values (phase I) when that many exist, else from every value charted."""

    key = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=20, blank=True, default="")
    description = models.TextField(blank=True, default="")
    material = models.ForeignKey(
        "genealogy.Material",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    subgroup_size = models.PositiveSmallIntegerField(default=1)
    lsl = models.DecimalField(**VALUE, null=True, blank=True, help_text="Lower spec limit")
    usl = models.DecimalField(**VALUE, null=True, blank=True, help_text="Upper spec limit")
    target = models.DecimalField(**VALUE, null=True, blank=True)
    baseline_size = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=Now())
    history = HistoricalRecords()

    class Meta:
        ordering = ["key"]
        default_permissions = ("add", "change", "view")
        permissions = [("record_spc_value", "Can record SPC values")]
        constraints = [
            models.CheckConstraint(
                condition=Q(subgroup_size__gte=1) & Q(subgroup_size__lte=10),
                name="quality_characteristic_subgroup_1_10",
            ),
            models.CheckConstraint(
                condition=Q(lsl__isnull=True) | Q(usl__isnull=True) | Q(lsl__lt=F("usl")),
                name="quality_characteristic_lsl_below_usl",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.name}"


@audited(append_only=True)
class SpcValue(models.Model):
    """One captured value of a characteristic (immutable)."""

    characteristic = models.ForeignKey(
        Characteristic, on_delete=models.PROTECT, related_name="values", db_index=False
    )
    value = models.DecimalField(**VALUE)
    at = models.DateTimeField(help_text="When it was measured.")
    source_ref = models.CharField(max_length=200, blank=True, default="")
    source_url = models.CharField(max_length=500, blank=True, default="")
    recorded_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    recorded_at = models.DateTimeField(db_default=Now())
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["characteristic_id", "at", "id"]
        default_permissions = ("view",)
        indexes = [models.Index(fields=["characteristic", "at", "id"], name="quality_spc_at_idx")]

    def __str__(self) -> str:
        return f"{self.characteristic_id}: {self.value} at {self.at:%Y-%m-%d %H:%M}"


# --- the quality ledger ----------------------------------------------------------------------


@audited(append_only=True)
class QualityEvent(models.Model):
    """One line of the quality ledger: every transition of a quality record (dotted type,
    actor, time, data), written in the transaction of the change."""

    type = models.CharField(max_length=32, choices=EventType.choices)
    at = models.DateTimeField(db_default=Now())
    actor = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", db_index=False)
    lot = models.ForeignKey(
        "genealogy.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deviation = models.ForeignKey(
        Deviation, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    specification = models.ForeignKey(
        Specification, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    nonconformance = models.ForeignKey(
        Nonconformance, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=EventType.values), name="quality_event_type_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} by #{self.actor_id}"
