"""The batch record: a batch order made from an approved recipe version (its control recipe
frozen at creation), its phase executions, captured values, material uses, yields and the
append-only event log. Every table is a GMP record (audited); value and event tables are
append-only: a correction is a new row that supersedes the previous one."""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from batches.choices import (
    BATCH_TRANSITIONS,
    PHASE_TRANSITIONS,
    BatchEventType,
    BatchStatus,
    MaterialReturnKind,
    PhaseStatus,
)
from mes.audit.registry import audited
from mes.exceptions import InvalidTransition

QTY = {"max_digits": 18, "decimal_places": 6}


@audited()
class BatchOrder(models.Model):
    number = models.CharField(max_length=40, unique=True)
    recipe_version = models.ForeignKey(
        "recipes.RecipeVersion", on_delete=models.PROTECT, related_name="+"
    )
    product = models.ForeignKey("genealogy.Material", on_delete=models.PROTECT, related_name="+")
    control_recipe = models.JSONField(help_text="Scaled snapshot, frozen at creation.")
    control_recipe_hash = models.CharField(max_length=80)
    batch_size = models.DecimalField(**QTY)
    batch_size_uom = models.CharField(max_length=16)
    status = models.CharField(
        max_length=20, choices=BatchStatus.choices, default=BatchStatus.CREATED
    )
    unit = models.ForeignKey(
        "equipment.Unit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    output_lot = models.ForeignKey(
        "genealogy.Lot", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True, default="")
    version_superseded_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the recipe version of this not-yet-started batch was superseded.",
    )
    superseded_by_version = models.ForeignKey(
        "recipes.RecipeVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The version that superseded it (the batch must be re-pointed or cancelled).",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("create_batchorder", "Can create and cancel batch orders"),
            ("execute_batchorder", "Can execute batch phases"),
            ("release_batchorder", "Can review and release batch records"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=BatchStatus.values), name="batches_order_status"
            ),
            models.CheckConstraint(
                condition=models.Q(batch_size__gt=0), name="batches_order_size_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def can_become(self, status: str) -> bool:
        return status in BATCH_TRANSITIONS[self.status]

    def ensure_can_become(self, status: str) -> None:
        if not self.can_become(status):
            raise InvalidTransition(
                f"Batch {self.number} is {self.get_status_display().lower()}; it cannot become "
                f"{BatchStatus(status).label.lower()}."
            )

    @property
    def needs_repoint(self) -> bool:
        """Not started and its recipe version superseded: it cannot start on the old version."""
        return self.status == BatchStatus.CREATED and self.version_superseded_at is not None

    def signature_author(self) -> Any:
        return self.created_by

    def signature_content(self) -> dict[str, Any]:
        """What the release signature covers: the order, every phase, value, use and yield."""
        from batches.ebr import batch_record_content

        return batch_record_content(self)


@audited()
class PhaseExecution(models.Model):
    batch = models.ForeignKey(BatchOrder, on_delete=models.PROTECT, related_name="phases")
    sequence = models.PositiveIntegerField()
    path = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    definition = models.JSONField(help_text="The phase of the control recipe.")
    status = models.CharField(
        max_length=20, choices=PhaseStatus.choices, default=PhaseStatus.PENDING
    )
    started_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["batch", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "sequence"], name="batches_phase_seq"),
            models.CheckConstraint(
                condition=models.Q(status__in=PhaseStatus.values), name="batches_phase_status"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.path} {self.name}"

    @property
    def requires_verification(self) -> bool:
        return bool(
            self.definition.get("requires_verification") or self.definition.get("is_critical")
        )

    def can_become(self, status: str) -> bool:
        return status in PHASE_TRANSITIONS[self.status]

    def signature_author(self) -> Any:
        return self.completed_by

    def signature_content(self) -> dict[str, Any]:
        from batches.ebr import phase_content

        return phase_content(self)


@audited(append_only=True)
class ParameterValue(models.Model):
    phase = models.ForeignKey(PhaseExecution, on_delete=models.PROTECT, related_name="values")
    name = models.CharField(max_length=120)
    value_text = models.CharField(max_length=200)
    value_number = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    unit = models.CharField(max_length=30, blank=True, default="")
    is_out_of_limit = models.BooleanField(default=False)
    limit_text = models.CharField(max_length=120, blank=True, default="")
    instrument = models.ForeignKey(
        "equipment.Instrument", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    reason = models.TextField(blank=True, default="")
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["phase", "id"]

    def __str__(self) -> str:
        return f"{self.name} = {self.value_text}"


@audited(append_only=True)
class MaterialUse(models.Model):
    """A dispense of a lot into a phase (genealogy consumption event linked)."""

    phase = models.ForeignKey(PhaseExecution, on_delete=models.PROTECT, related_name="uses")
    material = models.ForeignKey("genealogy.Material", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey("genealogy.Lot", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QTY)
    uom = models.CharField(max_length=16)
    consumption = models.ForeignKey(
        "genealogy.LotEvent", on_delete=models.PROTECT, related_name="+"
    )
    dispensed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    dispensed_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["phase", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="batches_use_qty_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.quantity} {self.uom} of {self.lot_id}"


@audited(append_only=True)
class MaterialReturn(models.Model):
    """Part of a dispense that did not go into the batch: returned to its lot (a genealogy
    return event) or written off as waste (the lot keeps its consumption), with the reason."""

    use = models.ForeignKey(MaterialUse, on_delete=models.PROTECT, related_name="returns")
    kind = models.CharField(max_length=10, choices=MaterialReturnKind.choices)
    quantity = models.DecimalField(**QTY)
    uom = models.CharField(max_length=16)
    reason = models.TextField()
    lot_event = models.ForeignKey(
        "genealogy.LotEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["use", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="batches_return_qty_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=MaterialReturnKind.values),
                name="batches_return_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.quantity} {self.uom} of use #{self.use_id}"


@audited(append_only=True)
class YieldRecord(models.Model):
    batch = models.ForeignKey(BatchOrder, on_delete=models.PROTECT, related_name="yields")
    material = models.ForeignKey("genealogy.Material", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey("genealogy.Lot", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QTY)
    uom = models.CharField(max_length=16)
    expected_quantity = models.DecimalField(**QTY)
    low_quantity = models.DecimalField(**QTY)
    high_quantity = models.DecimalField(**QTY)
    yield_pct = models.DecimalField(max_digits=10, decimal_places=3)
    is_within_range = models.BooleanField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["batch", "id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "material"], name="batches_yield_once")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} {self.uom} ({self.yield_pct} %)"

    @staticmethod
    def percent(quantity: Decimal, expected: Decimal) -> Decimal:
        return (quantity * 100 / expected).quantize(Decimal("0.001")) if expected else Decimal(0)


@audited(append_only=True)
class BatchRepoint(models.Model):
    """A batch not yet started moved (signed) from a superseded recipe version to the current
    approved one: its control recipe re-snapshotted with the same batch size."""

    batch = models.ForeignKey(BatchOrder, on_delete=models.PROTECT, related_name="repoints")
    from_version = models.ForeignKey(
        "recipes.RecipeVersion", on_delete=models.PROTECT, related_name="+"
    )
    to_version = models.ForeignKey(
        "recipes.RecipeVersion", on_delete=models.PROTECT, related_name="+"
    )
    from_control_recipe_hash = models.CharField(max_length=80)
    to_control_recipe_hash = models.CharField(max_length=80)
    batch_size = models.DecimalField(**QTY)
    batch_size_uom = models.CharField(max_length=16)
    reason = models.TextField()
    repointed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    repointed_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["batch", "id"]

    def __str__(self) -> str:
        return f"{self.batch_id}: version {self.from_version_id} → {self.to_version_id}"

    def signature_author(self) -> Any:
        return self.repointed_by

    def signature_content(self) -> dict[str, Any]:
        return {
            "batch": self.batch.number,
            "from_version": self.from_version_id,
            "to_version": self.to_version_id,
            "from_control_recipe_hash": self.from_control_recipe_hash,
            "to_control_recipe_hash": self.to_control_recipe_hash,
            "batch_size": str(self.batch_size),
            "batch_size_uom": self.batch_size_uom,
            "reason": self.reason,
            "repointed_by": self.repointed_by.get_username(),
            "repointed_at": self.repointed_at.isoformat(),
        }


@audited(append_only=True)
class BatchEvent(models.Model):
    batch = models.ForeignKey(BatchOrder, on_delete=models.PROTECT, related_name="events")
    phase = models.ForeignKey(
        PhaseExecution, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    type = models.CharField(max_length=40, choices=BatchEventType.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now, editable=False)
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["batch", "id"]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.type}"
