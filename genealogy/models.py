"""Lot genealogy: materials, the nodes of the graph (lots, sub-lots, serialized units), the
lot ledger (events) and the parent -> child links.

The graph is TWO tables so that a trace is one recursive query:
- `Lot` holds every traceable thing (kind lot / sublot / unit); a serialized unit is a row
  whose `lot_number` is its serial number;
- `Link` holds every parent -> child relation (consumed, split, merged, component, reworked),
  with covering indexes (parent, child) and (child, parent).
A lot's `quantity` is a column, changed only by the services in the same transaction as the
`LotEvent` that explains it: it always equals the sum of its events' `quantity_delta`.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from simple_history.models import HistoricalRecords

from genealogy.choices import (
    ContextKind,
    EventType,
    LinkKind,
    LotStatus,
    MaterialKind,
    NodeKind,
    RecallJobStatus,
    UnitOfMeasure,
)
from mes.audit.registry import audited

QUANTITY = {"max_digits": 18, "decimal_places": 6}


@audited(deletable=False)
class Material(models.Model):
    """The material master (ISA-95 material definition)."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=16, choices=MaterialKind.choices, default=MaterialKind.RAW)
    uom = models.CharField(max_length=8, choices=UnitOfMeasure.choices)
    is_lot_controlled = models.BooleanField(default=True)
    is_serialized = models.BooleanField(default=False)
    shelf_life_days = models.PositiveIntegerField(null=True, blank=True)
    retest_interval_days = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(db_default=Now())
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        default_permissions = ("add", "change", "view")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=MaterialKind.values), name="genealogy_material_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(uom__in=UnitOfMeasure.values), name="genealogy_material_uom_valid"
            ),
            models.CheckConstraint(
                condition=Q(is_serialized=False) | Q(is_lot_controlled=True),
                name="genealogy_material_serialized_is_lot_controlled",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@audited(deletable=False)
class Lot(models.Model):
    """One node of the genealogy: a lot, a sub-lot or a serialized unit."""

    kind = models.CharField(max_length=8, choices=NodeKind.choices, default=NodeKind.LOT)
    material = models.ForeignKey(
        Material, on_delete=models.PROTECT, related_name="lots", db_index=False
    )
    lot_number = models.CharField(
        max_length=64, help_text="Unique per material; the serial number of a unit."
    )
    parent_lot = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sublots",
        db_index=False,
        help_text="For a sub-lot: the lot it was split from.",
    )
    quantity = models.DecimalField(**QUANTITY, default=0)
    uom = models.CharField(max_length=8, choices=UnitOfMeasure.choices)
    status = models.CharField(
        max_length=12, choices=LotStatus.choices, default=LotStatus.QUARANTINE, editable=False
    )
    supplier = models.CharField(max_length=200, blank=True, default="")
    supplier_lot_number = models.CharField(max_length=100, blank=True, default="")
    expires_at = models.DateField(null=True, blank=True)
    retest_at = models.DateField(null=True, blank=True)
    container = models.CharField(max_length=100, blank=True, default="")
    location = models.CharField(max_length=100, blank=True, default="")
    source_kind = models.CharField(
        max_length=16, choices=ContextKind.choices, blank=True, default=""
    )
    source_ref = models.CharField(max_length=200, blank=True, default="")
    source_url = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        default_permissions = ("view",)
        permissions = [
            ("receive_lot", "Can receive lots from a supplier"),
            ("produce_lot", "Can record production of a lot or unit"),
            ("consume_lot", "Can record consumption of a lot"),
            ("split_lot", "Can split a lot into sub-lots"),
            ("merge_lot", "Can merge lots"),
            ("transfer_lot", "Can transfer a lot"),
            ("ship_lot", "Can ship lots and units"),
            ("adjust_lot", "Can adjust a lot's quantity (signed)"),
            ("trace_lot", "Can trace the genealogy of a lot"),
            ("recall_lot", "Can compute a recall scope"),
            ("import_genealogy", "Can import genealogy history"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["material", "lot_number"], name="genealogy_lot_number_per_material"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=0), name="genealogy_lot_quantity_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(status__in=LotStatus.values), name="genealogy_lot_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=NodeKind.values), name="genealogy_lot_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(uom__in=UnitOfMeasure.values), name="genealogy_lot_uom_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["lot_number"], name="genealogy_lot_number_idx"),
            models.Index(
                fields=["supplier_lot_number"],
                name="genealogy_lot_supplier_lot_idx",
                condition=~Q(supplier_lot_number=""),
            ),
            models.Index(
                fields=["parent_lot"],
                name="genealogy_lot_parent_lot_idx",
                condition=Q(parent_lot__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lot_number} ({self.material.code})"

    @property
    def is_unit(self) -> bool:
        return self.kind == NodeKind.UNIT


@audited(append_only=True)
class LotEvent(models.Model):
    """One line of the lot ledger: immutable. `quantity_delta` is signed; `quantity_after` is
    the lot's quantity once this event applied. Events of one operation share
    `operation_id`."""

    type = models.CharField(max_length=24, choices=EventType.choices)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="events")
    quantity_delta = models.DecimalField(**QUANTITY, default=0)
    quantity_after = models.DecimalField(**QUANTITY)
    uom = models.CharField(max_length=8, choices=UnitOfMeasure.choices)
    operation_id = models.UUIDField()
    occurred_at = models.DateTimeField(help_text="When it happened on the floor.")
    recorded_at = models.DateTimeField(db_default=Now())
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    context_kind = models.CharField(
        max_length=16, choices=ContextKind.choices, blank=True, default=""
    )
    context_ref = models.CharField(max_length=200, blank=True, default="")
    context_url = models.CharField(max_length=500, blank=True, default="")
    customer = models.CharField(max_length=200, blank=True, default="")
    shipment_ref = models.CharField(max_length=100, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["occurred_at", "id"]
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=EventType.values), name="genealogy_event_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(quantity_after__gte=0),
                name="genealogy_event_quantity_after_not_negative",
            ),
        ]
        # + genealogy_event_shipped_idx (lot) WHERE type = 'lot.shipped', INCLUDE (customer,
        #   shipment_ref) on PostgreSQL: created by migration 0001, kept out of the model state
        #   (0003) because SQLite cannot include columns and would warn on every command.

    def __str__(self) -> str:
        return f"{self.type} {self.quantity_delta:+} {self.uom} on lot #{self.lot_id}"

    def signature_author(self) -> object:
        """Who recorded the event (for signature policies that keep author and signer apart)."""
        return self.actor


@audited(append_only=True)
class Link(models.Model):
    """An edge of the genealogy: material of `parent` is in `child`. Immutable."""

    parent = models.ForeignKey(
        Lot, on_delete=models.PROTECT, related_name="child_links", db_index=False
    )
    child = models.ForeignKey(
        Lot, on_delete=models.PROTECT, related_name="parent_links", db_index=False
    )
    kind = models.CharField(max_length=12, choices=LinkKind.choices)
    quantity = models.DecimalField(**QUANTITY)
    uom = models.CharField(max_length=8, choices=UnitOfMeasure.choices)
    event = models.ForeignKey(
        LotEvent, on_delete=models.PROTECT, related_name="links", db_index=False
    )
    context_kind = models.CharField(
        max_length=16, choices=ContextKind.choices, blank=True, default=""
    )
    context_ref = models.CharField(max_length=200, blank=True, default="")
    context_url = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["id"]
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(
                condition=~Q(parent=F("child")), name="genealogy_link_not_to_itself"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="genealogy_link_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=LinkKind.values), name="genealogy_link_kind_valid"
            ),
        ]
        # The two covering indexes the traces walk, created by migration 0001 and kept out
        # of the model state (0003; SQLite cannot include columns):
        #   genealogy_link_down_idx (parent_id, child_id) INCLUDE (quantity)
        #   genealogy_link_up_idx   (child_id, parent_id) INCLUDE (quantity)

    def __str__(self) -> str:
        return f"#{self.parent_id} -[{self.kind} {self.quantity} {self.uom}]-> #{self.child_id}"


@audited()
class RecallJob(models.Model):
    """A recall scope computed in the background (for the lots that reach a large part of the
    graph). Progress is stored here; the result files live under VAR_DIR."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    lot = models.ForeignKey(
        Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    supplier_lot_number = models.CharField(max_length=100, blank=True, default="")
    status = models.CharField(
        max_length=8, choices=RecallJobStatus.choices, default=RecallJobStatus.QUEUED
    )
    stage = models.CharField(max_length=100, blank=True, default="")
    progress = models.PositiveSmallIntegerField(default=0)
    node_count = models.PositiveIntegerField(default=0)
    finished_lot_count = models.PositiveIntegerField(default=0)
    unit_count = models.PositiveIntegerField(default=0)
    shipment_count = models.PositiveIntegerField(default=0)
    customer_count = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    csv_path = models.CharField(max_length=500, blank=True, default="")
    pdf_path = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="genealogy_recalljob_progress_max"
            ),
            models.CheckConstraint(
                condition=Q(lot__isnull=False) | ~Q(supplier_lot_number=""),
                name="genealogy_recalljob_has_subject",
            ),
        ]

    def __str__(self) -> str:
        subject = self.supplier_lot_number or f"lot #{self.lot_id}"
        return f"recall {subject} ({self.status})"
