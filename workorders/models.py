"""Discrete manufacturing: BOMs and routings (versioned, approved by signature), work orders
and their operations (standards snapshotted at release), serialized units, labor and machine
time, downtime, quantity reports and per-unit inspection.

Counters on an operation (`qty_received`, `qty_good`, `qty_scrap`, `qty_rework`,
`qty_rework_returned`) are changed only by the services, in the same transaction as the
append-only `QuantityReport` that explains them; work in progress is
received - good - scrap - rework (rework returned is counted in received again).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from simple_history.models import HistoricalRecords

from mes.audit.registry import audited
from workorders.choices import (
    CharacteristicKind,
    QuantityKind,
    ReasonKind,
    SerialIssue,
    TimeBasis,
    UnitStatus,
    VersionStatus,
    WorkOrderEventType,
    WorkOrderSource,
    WorkOrderStatus,
)

QTY = {"max_digits": 18, "decimal_places": 6}
MINUTES = {"max_digits": 12, "decimal_places": 4}
MONEY = {"max_digits": 12, "decimal_places": 2}


@audited()
class ReasonCode(models.Model):
    """Scrap, rework and downtime reason codes (master data)."""

    kind = models.CharField(max_length=10, choices=ReasonKind.choices)
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "code"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "code"], name="workorders_reason_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=ReasonKind.values), name="workorders_reason_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@audited()
class WorkCenterRate(models.Model):
    """Cost rates of a work center, per hour: people's time and the machine's."""

    work_center = models.OneToOneField(
        "equipment.WorkCenter", on_delete=models.PROTECT, related_name="+"
    )
    labor_rate = models.DecimalField(**MONEY, default=Decimal(0))
    machine_rate = models.DecimalField(**MONEY, default=Decimal(0))
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(labor_rate__gte=0) & Q(machine_rate__gte=0),
                name="workorders_rate_not_negative",
            )
        ]

    def __str__(self) -> str:
        return f"{self.work_center_id}: {self.labor_rate}/{self.machine_rate}"


class _Version(models.Model):
    item = models.ForeignKey("genealogy.Material", on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=12, choices=VersionStatus.choices, default=VersionStatus.DRAFT, editable=False
    )
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    def signature_author(self) -> object:
        return self.created_by

    def is_effective(self, on) -> bool:  # type: ignore[no-untyped-def]
        return (
            self.status == VersionStatus.APPROVED
            and self.effective_from <= on
            and (self.effective_to is None or on <= self.effective_to)
        )


@audited(deletable=False)
class Bom(_Version):
    """One version of an item's bill of materials (for `base_quantity` of the item)."""

    base_quantity = models.DecimalField(**QTY, default=Decimal(1))
    history = HistoricalRecords()

    class Meta:
        ordering = ["item__code", "-version"]
        verbose_name = "BOM version"
        permissions = [("approve_bom", "Can approve a BOM version (signed)")]
        constraints = [
            models.UniqueConstraint(fields=["item", "version"], name="workorders_bom_version"),
            models.CheckConstraint(
                condition=Q(status__in=VersionStatus.values), name="workorders_bom_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(base_quantity__gt=0), name="workorders_bom_base_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"BOM {self.item.code} v{self.version}"


@audited(deletable=False)
class BomLine(models.Model):
    bom = models.ForeignKey(Bom, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField()
    component = models.ForeignKey("genealogy.Material", on_delete=models.PROTECT, related_name="+")
    quantity_per = models.DecimalField(**QTY)
    scrap_factor = models.DecimalField(
        max_digits=6, decimal_places=4, default=Decimal(0), help_text="0.02 = 2 % extra."
    )
    operation_seq = models.PositiveIntegerField(
        help_text="Sequence number of the routing operation that consumes the component."
    )

    class Meta:
        ordering = ["bom", "position"]
        constraints = [
            models.UniqueConstraint(fields=["bom", "position"], name="workorders_bomline_pos"),
            models.CheckConstraint(
                condition=Q(quantity_per__gt=0), name="workorders_bomline_qty_positive"
            ),
            models.CheckConstraint(
                condition=Q(scrap_factor__gte=0) & Q(scrap_factor__lt=1),
                name="workorders_bomline_scrap_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bom} #{self.position} {self.component.code} × {self.quantity_per}"

    @property
    def gross_quantity_per(self) -> Decimal:
        return self.quantity_per * (1 + self.scrap_factor)


@audited(deletable=False)
class Routing(_Version):
    history = HistoricalRecords()

    class Meta:
        ordering = ["item__code", "-version"]
        verbose_name = "routing version"
        permissions = [("approve_routing", "Can approve a routing version (signed)")]
        constraints = [
            models.UniqueConstraint(fields=["item", "version"], name="workorders_routing_version"),
            models.CheckConstraint(
                condition=Q(status__in=VersionStatus.values),
                name="workorders_routing_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Routing {self.item.code} v{self.version}"


@audited(deletable=False)
class RoutingOperation(models.Model):
    routing = models.ForeignKey(Routing, on_delete=models.PROTECT, related_name="operations")
    seq = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    work_center = models.ForeignKey(
        "equipment.WorkCenter", on_delete=models.PROTECT, related_name="+"
    )
    alternative_work_centers = models.ManyToManyField(
        "equipment.WorkCenter", blank=True, related_name="+"
    )
    setup_minutes = models.DecimalField(**MINUTES, default=Decimal(0))
    run_minutes_per_unit = models.DecimalField(**MINUTES, default=Decimal(0))
    time_basis = models.CharField(max_length=10, choices=TimeBasis.choices, default=TimeBasis.BOTH)
    crew_size = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["routing", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["routing", "seq"], name="workorders_routingop_seq"),
            models.CheckConstraint(
                condition=Q(setup_minutes__gte=0) & Q(run_minutes_per_unit__gte=0),
                name="workorders_routingop_times_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(crew_size__gte=1), name="workorders_routingop_crew_min"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.seq} {self.name}"


@audited(deletable=False)
class InspectionCharacteristic(models.Model):
    """One line of an operation's inspection plan."""

    operation = models.ForeignKey(
        RoutingOperation, on_delete=models.PROTECT, related_name="characteristics"
    )
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=CharacteristicKind.choices)
    lower_limit = models.DecimalField(**QTY, null=True, blank=True)
    upper_limit = models.DecimalField(**QTY, null=True, blank=True)
    unit = models.CharField(max_length=20, blank=True, default="")
    spc_key = models.CharField(
        max_length=100, blank=True, default="", help_text="quality SPC characteristic key"
    )

    class Meta:
        ordering = ["operation", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "position"], name="workorders_characteristic_pos"
            ),
            models.CheckConstraint(
                condition=Q(kind=CharacteristicKind.PASS_FAIL)
                | Q(lower_limit__isnull=False)
                | Q(upper_limit__isnull=False),
                name="workorders_characteristic_measured_has_limit",
            ),
        ]

    def __str__(self) -> str:
        return self.name


@audited(deletable=False)
class WorkOrder(models.Model):
    number = models.CharField(max_length=30, unique=True)
    item = models.ForeignKey("genealogy.Material", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QTY)
    due_date = models.DateField()
    area = models.ForeignKey("equipment.Area", on_delete=models.PROTECT, related_name="+")
    bom = models.ForeignKey(Bom, on_delete=models.PROTECT, related_name="work_orders")
    routing = models.ForeignKey(Routing, on_delete=models.PROTECT, related_name="work_orders")
    status = models.CharField(
        max_length=12,
        choices=WorkOrderStatus.choices,
        default=WorkOrderStatus.PLANNED,
        editable=False,
    )
    source = models.CharField(
        max_length=10, choices=WorkOrderSource.choices, default=WorkOrderSource.PLANNER
    )
    external_ref = models.CharField(max_length=100, blank=True, default="")
    serial_pattern = models.CharField(max_length=100, blank=True, default="")
    serial_issue = models.CharField(
        max_length=16, choices=SerialIssue.choices, default=SerialIssue.AT_RELEASE
    )
    finished_lot = models.ForeignKey(
        "genealogy.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())
    released_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("release_workorder", "Can release a work order"),
            ("execute_workorder", "Can execute work-order operations on a terminal"),
            ("close_workorder", "Can close a work order"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=WorkOrderStatus.values), name="workorders_wo_status_valid"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="workorders_wo_qty_positive"),
            models.UniqueConstraint(
                fields=["source", "external_ref"],
                condition=~Q(external_ref=""),
                name="workorders_wo_external_ref_unique",
            ),
        ]
        indexes = [models.Index(fields=["status", "closed_at"], name="workorders_wo_status_idx")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_serialized(self) -> bool:
        return self.item.is_serialized


@audited(deletable=False)
class WorkOrderOperation(models.Model):
    """One operation of a work order: the routing's standards as they were at release."""

    work_order = models.ForeignKey(WorkOrder, on_delete=models.PROTECT, related_name="operations")
    seq = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    work_center = models.ForeignKey(
        "equipment.WorkCenter", on_delete=models.PROTECT, related_name="+"
    )
    routing_operation = models.ForeignKey(
        RoutingOperation, on_delete=models.PROTECT, related_name="+"
    )
    is_first = models.BooleanField(default=False)
    is_last = models.BooleanField(default=False)
    # the standard, snapshot at release
    setup_minutes = models.DecimalField(**MINUTES)
    run_minutes_per_unit = models.DecimalField(**MINUTES)
    time_basis = models.CharField(max_length=10, choices=TimeBasis.choices)
    crew_size = models.PositiveSmallIntegerField()
    labor_rate = models.DecimalField(**MONEY, default=Decimal(0))
    machine_rate = models.DecimalField(**MONEY, default=Decimal(0))
    # counters
    qty_received = models.DecimalField(**QTY, default=Decimal(0))
    qty_good = models.DecimalField(**QTY, default=Decimal(0))
    qty_scrap = models.DecimalField(**QTY, default=Decimal(0))
    qty_rework = models.DecimalField(**QTY, default=Decimal(0))
    qty_rework_returned = models.DecimalField(**QTY, default=Decimal(0))
    # frozen at close: the standard hours earned
    std_labor_hours = models.DecimalField(**QTY, null=True, blank=True)
    std_machine_hours = models.DecimalField(**QTY, null=True, blank=True)

    class Meta:
        ordering = ["work_order", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["work_order", "seq"], name="workorders_woop_seq"),
            models.CheckConstraint(
                condition=Q(qty_received__gte=F("qty_good") + F("qty_scrap") + F("qty_rework")),
                name="workorders_woop_wip_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(qty_rework__gte=F("qty_rework_returned")),
                name="workorders_woop_rework_returned_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.work_order.number}/op {self.seq}"

    @property
    def wip(self) -> Decimal:
        return self.qty_received - self.qty_good - self.qty_scrap - self.qty_rework

    @property
    def in_rework(self) -> Decimal:
        return self.qty_rework - self.qty_rework_returned

    @property
    def ref(self) -> str:
        return f"{self.work_order.number}/op {self.seq}"


@audited(deletable=False)
class WorkOrderUnit(models.Model):
    """One serialized unit of a work order; `lot` is its node in genealogy."""

    work_order = models.ForeignKey(WorkOrder, on_delete=models.PROTECT, related_name="units")
    serial_number = models.CharField(max_length=64)
    lot = models.OneToOneField("genealogy.Lot", on_delete=models.PROTECT, related_name="+")
    operation = models.ForeignKey(
        WorkOrderOperation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="units",
        help_text="Where the unit is now (the last one once finished).",
    )
    status = models.CharField(
        max_length=12, choices=UnitStatus.choices, default=UnitStatus.IN_PROCESS
    )
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["work_order", "serial_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["work_order", "serial_number"], name="workorders_unit_serial"
            ),
            models.CheckConstraint(
                condition=Q(status__in=UnitStatus.values), name="workorders_unit_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.serial_number


@audited(append_only=True)
class ComponentConsumption(models.Model):
    """A component lot or serial consumed at an operation, into a unit (serialized item) or
    into the work order's finished lot at close (genealogy has the event and link; this row
    says which BOM line it fulfils). A serial is used once."""

    unit = models.ForeignKey(
        WorkOrderUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="components"
    )
    operation = models.ForeignKey(WorkOrderOperation, on_delete=models.PROTECT, related_name="+")
    bom_line = models.ForeignKey(BomLine, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey("genealogy.Lot", on_delete=models.PROTECT, related_name="+")
    is_serial = models.BooleanField(default=False)
    quantity = models.DecimalField(**QTY)
    lot_event = models.ForeignKey("genealogy.LotEvent", on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["id"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["lot"], condition=Q(is_serial=True), name="workorders_serial_used_once"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="workorders_component_qty_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lot_id} → {self.unit_id}"


class _TimeRecord(models.Model):
    operation = models.ForeignKey(WorkOrderOperation, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    seconds = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)

    class Meta:
        abstract = True


@audited(deletable=False)
class LaborRecord(_TimeRecord):
    """One operator clocked on one operation. A person holds at most one open record."""

    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["operator"],
                condition=Q(ended_at__isnull=True),
                name="workorders_labor_one_open_per_person",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="workorders_labor_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["operation", "seconds"], name="workorders_labor_op_idx")]

    def __str__(self) -> str:
        return f"{self.operator_id} on {self.operation_id}"


@audited(deletable=False)
class MachineRecord(_TimeRecord):
    """One machine run of an operation. An operation runs at most one at a time."""

    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["operation"],
                condition=Q(ended_at__isnull=True),
                name="workorders_machine_one_open_per_op",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="workorders_machine_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["operation", "seconds"], name="workorders_machine_op_idx")]

    def __str__(self) -> str:
        return f"machine on {self.operation_id}"


@audited(deletable=False)
class DowntimeRecord(_TimeRecord):
    """A pause of an operation, with its downtime reason."""

    reason = models.ForeignKey(ReasonCode, on_delete=models.PROTECT, related_name="+")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["operation"],
                condition=Q(ended_at__isnull=True),
                name="workorders_downtime_one_open_per_op",
            ),
        ]

    def __str__(self) -> str:
        return f"downtime {self.reason_id} on {self.operation_id}"


@audited(append_only=True)
class QuantityReport(models.Model):
    operation = models.ForeignKey(
        WorkOrderOperation, on_delete=models.PROTECT, related_name="quantity_reports"
    )
    unit = models.ForeignKey(
        WorkOrderUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=14, choices=QuantityKind.choices)
    quantity = models.DecimalField(**QTY)
    reason = models.ForeignKey(
        ReasonCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True, default="")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["id"]
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="workorders_qr_positive"),
            models.CheckConstraint(
                condition=Q(kind__in=QuantityKind.values), name="workorders_qr_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity} at {self.operation_id}"


@audited(append_only=True)
class InspectionResult(models.Model):
    operation = models.ForeignKey(
        WorkOrderOperation, on_delete=models.PROTECT, related_name="inspection_results"
    )
    unit = models.ForeignKey(
        WorkOrderUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    characteristic = models.ForeignKey(
        InspectionCharacteristic, on_delete=models.PROTECT, related_name="+"
    )
    value = models.DecimalField(**QTY, null=True, blank=True)
    passed = models.BooleanField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["id"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.characteristic_id}: {'pass' if self.passed else 'fail'}"


@audited(append_only=True)
class WorkOrderEvent(models.Model):
    work_order = models.ForeignKey(WorkOrder, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=40, choices=WorkOrderEventType.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(db_default=Now())
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.type} {self.work_order_id}"


@audited(deletable=False)
class HandoffRule(models.Model):
    """Mixed mode: when QA releases a lot of `material`, a work order for `item` is created
    and released on `area` (the line) for the released quantity converted by the BOM's
    quantity per, with the lot reserved for it."""

    material = models.ForeignKey("genealogy.Material", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("genealogy.Material", on_delete=models.PROTECT, related_name="+")
    area = models.ForeignKey("equipment.Area", on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)
    serial_pattern = models.CharField(max_length=100, blank=True, default="")
    note = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())
    history = HistoricalRecords()

    class Meta:
        ordering = ["material__code", "item__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["material", "item"],
                condition=Q(is_active=True),
                name="workorders_handoff_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.material.code} released → {self.item.code} on {self.area.code}"


@audited(deletable=False)
class LotReservation(models.Model):
    """A lot held for one work order: no other work order or batch may consume it while the
    reservation is open (a genealogy consumption gate registered by workorders). It ends when
    the work order closes or is cancelled. One per lot and handoff rule (idempotency)."""

    lot = models.ForeignKey("genealogy.Lot", on_delete=models.PROTECT, related_name="+")
    work_order = models.ForeignKey(WorkOrder, on_delete=models.PROTECT, related_name="reservations")
    rule = models.ForeignKey(
        HandoffRule, null=True, blank=True, on_delete=models.PROTECT, related_name="reservations"
    )
    quantity = models.DecimalField(**QTY)
    created_at = models.DateTimeField(db_default=Now())
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "lot"],
                condition=Q(rule__isnull=False),
                name="workorders_reservation_once_per_rule",
            ),
            models.UniqueConstraint(
                fields=["lot", "work_order"], name="workorders_reservation_lot_wo"
            ),
        ]
        indexes = [models.Index(fields=["lot", "ended_at"], name="workorders_resv_lot_idx")]

    def __str__(self) -> str:
        return f"{self.lot_id} reserved for {self.work_order_id}"
