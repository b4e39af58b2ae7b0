"""The plant model (ISA-95): site → area → work center / process cell → unit; instruments,
calibration, preventive maintenance, cleaning rules and the equipment logbook.

Object-level scoping is by area: django-guardian grants `operate_in_area` (and the others
below) on an Area to a user or group; selectors ask `get_objects_for_user`.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from simple_history.models import HistoricalRecords

from equipment.choices import (
    EQUIPMENT_STATUS_TRANSITIONS,
    MAINTENANCE_OPEN_STATUSES,
    MAINTENANCE_WORK_ORDER_TRANSITIONS,
    CalibrationResult,
    CleaningType,
    EquipmentEventType,
    EquipmentStatus,
    InstrumentKind,
    InstrumentStatus,
    LogEntryType,
    MaintenanceKind,
    MaintenanceTrigger,
    MaintenanceWorkOrderStatus,
    WorkCenterKind,
)
from mes.audit.registry import audited


@audited()
class Site(models.Model):
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC")
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@audited()
class Area(models.Model):
    class Kind(models.TextChoices):
        PROCESS = "process", "Process (batch)"
        DISCRETE = "discrete", "Discrete (assembly/packaging)"
        WAREHOUSE = "warehouse", "Warehouse"
        LAB = "lab", "Laboratory"

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="areas")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PROCESS)
    history = HistoricalRecords()

    class Meta:
        ordering = ["site__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["site", "code"], name="equipment_area_code_per_site")
        ]
        permissions = [
            ("operate_in_area", "Can execute production in this area"),
            ("review_in_area", "Can review and release records of this area"),
            ("plan_in_area", "Can plan and schedule this area"),
        ]

    def __str__(self) -> str:
        return f"{self.site.code}/{self.code} {self.name}"


@audited()
class EquipmentClass(models.Model):
    """What recipes ask for: "reactor", "mixer", "filler" (ISA-88 equipment class)."""

    name = models.CharField(max_length=60, unique=True)
    description = models.TextField(blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "equipment classes"

    def __str__(self) -> str:
        return self.name


@audited()
class Capability(models.Model):
    """A tag a unit has ("glass-lined", "jacketed", "vacuum-rated")."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "capabilities"

    def __str__(self) -> str:
        return self.code


@audited()
class ProcessCell(models.Model):
    """Process side of the plant model: a group of units that run batches together."""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="process_cells")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["area__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["area", "code"], name="equipment_cell_code_per_area")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@audited()
class WorkCenter(models.Model):
    """Discrete side of the plant model: a line, cell or station with a capacity."""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="work_centers")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=WorkCenterKind.choices, default="line")
    capacity_per_hour = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="Rated output per hour."
    )
    capacity_uom = models.CharField(max_length=20, blank=True, default="ea")
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["area__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["area", "code"], name="equipment_wc_code_per_area"),
            models.CheckConstraint(
                condition=Q(capacity_per_hour__isnull=True) | Q(capacity_per_hour__gte=0),
                name="equipment_wc_capacity_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@audited(deletable=False)
class Unit(models.Model):
    """A piece of equipment that runs: a vessel, a filler. Status and usage counters are
    changed only by services (equipment.services)."""

    code = models.CharField(max_length=30, unique=True)
    name = models.CharField(max_length=200)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="units")
    process_cell = models.ForeignKey(
        ProcessCell, on_delete=models.PROTECT, null=True, blank=True, related_name="units"
    )
    work_center = models.ForeignKey(
        WorkCenter, on_delete=models.PROTECT, null=True, blank=True, related_name="units"
    )
    equipment_class = models.ForeignKey(
        EquipmentClass, on_delete=models.PROTECT, related_name="units"
    )
    working_volume_l = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="Working volume in L."
    )
    capabilities = models.ManyToManyField(Capability, blank=True, related_name="units")
    status = models.CharField(
        max_length=20, choices=EquipmentStatus.choices, default=EquipmentStatus.AVAILABLE
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    current_batch_ref = models.CharField(max_length=64, blank=True, default="")
    current_product_code = models.CharField(max_length=64, blank=True, default="")
    hours_run = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    batch_count = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(db_default=Now())
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=EquipmentStatus.values), name="equipment_unit_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(process_cell__isnull=True) | Q(work_center__isnull=True),
                name="equipment_unit_cell_or_work_center",
            ),
            models.CheckConstraint(
                condition=Q(working_volume_l__isnull=True) | Q(working_volume_l__gt=0),
                name="equipment_unit_volume_positive",
            ),
            models.CheckConstraint(
                condition=Q(hours_run__gte=0), name="equipment_unit_hours_non_negative"
            ),
        ]
        permissions = [
            ("use_unit", "Can start and end use of a unit and record its usage"),
            ("record_cleaning", "Can record a cleaning of a unit"),
            ("verify_cleaning", "Can verify a cleaning of a unit"),
            ("change_unit_status", "Can change the status of a unit"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def clean(self) -> None:
        errors = {}
        if self.process_cell_id and self.process_cell.area_id != self.area_id:
            errors["process_cell"] = "The process cell belongs to another area."
        if self.work_center_id and self.work_center.area_id != self.area_id:
            errors["work_center"] = "The work center belongs to another area."
        if errors:
            raise ValidationError(errors)

    def can_become(self, status: str) -> bool:
        return status in EQUIPMENT_STATUS_TRANSITIONS[self.status]


@audited(deletable=False)
class Instrument(models.Model):
    """A measuring device (scale, probe) with a calibration interval and a tolerance."""

    code = models.CharField(max_length=30, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=InstrumentKind.choices)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="instruments")
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="instruments"
    )
    serial_number = models.CharField(max_length=60, blank=True, default="")
    range_min = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    range_max = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    uom = models.CharField(max_length=20, help_text="Unit of measure of the readings.")
    tolerance = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        help_text="Largest accepted deviation from the reference, in the reading's unit.",
    )
    calibration_interval_days = models.PositiveIntegerField()
    last_calibrated_at = models.DateTimeField(null=True, blank=True)
    next_calibration_due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=InstrumentStatus.choices, default=InstrumentStatus.IN_SERVICE
    )
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=InstrumentStatus.values),
                name="equipment_instrument_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(calibration_interval_days__gt=0),
                name="equipment_instrument_interval_positive",
            ),
            models.CheckConstraint(
                condition=Q(tolerance__gte=0), name="equipment_instrument_tolerance_non_negative"
            ),
        ]
        permissions = [
            ("record_calibration", "Can record a calibration"),
            ("change_instrument_status", "Can take an instrument in or out of service"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def clean(self) -> None:
        if self.unit_id and self.unit.area_id != self.area_id:
            raise ValidationError({"unit": "The unit belongs to another area."})


@audited(append_only=True)
class CalibrationRecord(models.Model):
    """One calibration: as found (before adjustment) and as left (after)."""

    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, related_name="calibrations"
    )
    performed_at = models.DateTimeField()
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(db_default=Now())
    reference_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    as_found_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    as_left_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    as_found_result = models.CharField(max_length=4, choices=CalibrationResult.choices)
    as_left_result = models.CharField(max_length=4, choices=CalibrationResult.choices)
    certificate_ref = models.CharField(max_length=100, blank=True, default="")
    next_due_at = models.DateTimeField()
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-performed_at", "-id"]
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["instrument", "performed_at"], name="equipment_cal_instr_idx")
        ]

    def __str__(self) -> str:
        return f"{self.instrument.code} {self.performed_at:%Y-%m-%d} {self.as_left_result}"

    @property
    def passed(self) -> bool:
        return self.as_left_result == CalibrationResult.PASS


@audited(deletable=False)
class MaintenancePlan(models.Model):
    """Preventive maintenance of a unit by calendar (every N days) or by usage (hours run,
    batch count). `equipment.tasks.generate_preventive_maintenance` (Celery beat) creates the
    work orders."""

    code = models.CharField(max_length=30, unique=True)
    name = models.CharField(max_length=200)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="maintenance_plans")
    trigger = models.CharField(max_length=20, choices=MaintenanceTrigger.choices)
    interval_days = models.PositiveIntegerField(null=True, blank=True)
    interval_hours = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    interval_batches = models.PositiveIntegerField(null=True, blank=True)
    lead_days = models.PositiveIntegerField(
        default=0, help_text="Calendar plans: create the work order this many days early."
    )
    task_description = models.TextField(blank=True, default="")
    requires_cleaning_after = models.BooleanField(
        default=True, help_text="The unit must be cleaned after this maintenance."
    )
    starts_at = models.DateTimeField(help_text="Calendar basis until the first completion.")
    last_completed_at = models.DateTimeField(null=True, blank=True)
    hours_at_last_completion = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0")
    )
    batches_at_last_completion = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    # (isnull=False: a NULL comparison would let the CHECK pass)
                    Q(
                        trigger=MaintenanceTrigger.CALENDAR,
                        interval_days__isnull=False,
                        interval_days__gt=0,
                    )
                    | Q(
                        trigger=MaintenanceTrigger.HOURS,
                        interval_hours__isnull=False,
                        interval_hours__gt=0,
                    )
                    | Q(
                        trigger=MaintenanceTrigger.BATCHES,
                        interval_batches__isnull=False,
                        interval_batches__gt=0,
                    )
                ),
                name="equipment_plan_interval_for_trigger",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@audited(deletable=False)
class MaintenanceWorkOrder(models.Model):
    """Preventive (from a plan) or corrective maintenance of a unit. Start puts the unit in
    maintenance; completion makes it available again."""

    number = models.CharField(max_length=20, unique=True)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="maintenance_work_orders")
    plan = models.ForeignKey(
        MaintenancePlan,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="work_orders",
    )
    kind = models.CharField(max_length=20, choices=MaintenanceKind.choices)
    status = models.CharField(
        max_length=20,
        choices=MaintenanceWorkOrderStatus.choices,
        default=MaintenanceWorkOrderStatus.OPEN,
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    due_at = models.DateTimeField(null=True, blank=True)
    requires_cleaning_after = models.BooleanField(default=True)
    hours_run_at_creation = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0")
    )
    batch_count_at_creation = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(db_default=Now())
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completion_note = models.TextField(blank=True, default="")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancel_reason = models.TextField(blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=MaintenanceWorkOrderStatus.values),
                name="equipment_mwo_status_valid",
            ),
            models.UniqueConstraint(
                fields=["plan"],
                condition=Q(status__in=["open", "in_progress"]),
                name="equipment_mwo_one_open_per_plan",
            ),
        ]
        permissions = [
            ("execute_maintenanceworkorder", "Can start and complete maintenance work orders"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def can_become(self, status: str) -> bool:
        return status in MAINTENANCE_WORK_ORDER_TRANSITIONS[self.status]

    @property
    def is_open(self) -> bool:
        return self.status in MAINTENANCE_OPEN_STATUSES


@audited()
class CleaningRule(models.Model):
    """Hold-time limits for a unit (or every unit of an equipment class), for one product
    (`product_code`) or any (blank). Clean hold: cleaned → use; dirty hold: use → cleaning.
    The most specific active rule applies: unit+product, unit, class+product, class."""

    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="cleaning_rules"
    )
    equipment_class = models.ForeignKey(
        EquipmentClass,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cleaning_rules",
    )
    product_code = models.CharField(max_length=64, blank=True, default="")
    clean_hold_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Blank: no limit."
    )
    dirty_hold_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Blank: no limit."
    )
    major_clean_on_product_change = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(unit__isnull=False, equipment_class__isnull=True)
                    | Q(unit__isnull=True, equipment_class__isnull=False)
                ),
                name="equipment_cleaning_rule_unit_xor_class",
            ),
            models.UniqueConstraint(
                fields=["unit", "product_code"],
                condition=Q(is_active=True, unit__isnull=False),
                name="equipment_cleaning_rule_one_per_unit_product",
            ),
            models.UniqueConstraint(
                fields=["equipment_class", "product_code"],
                condition=Q(is_active=True, equipment_class__isnull=False),
                name="equipment_cleaning_rule_one_per_class_product",
            ),
        ]

    def __str__(self) -> str:
        target = self.unit.code if self.unit_id else f"class {self.equipment_class}"
        return f"{target} / {self.product_code or 'any product'}"


@audited(append_only=True)
class UnitLogEntry(models.Model):
    """A line of the equipment logbook: used for batch X of product P, cleaned (minor/major)
    by, verified by (a later line pointing at the cleaning), maintenance, status changes."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="log_entries")
    type = models.CharField(max_length=30, choices=LogEntryType.choices)
    at = models.DateTimeField(help_text="When it happened.")
    recorded_at = models.DateTimeField(db_default=Now())
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    product_code = models.CharField(max_length=64, blank=True, default="")
    batch_ref = models.CharField(max_length=64, blank=True, default="")
    batch_url = models.CharField(max_length=500, blank=True, default="")
    cleaning_type = models.CharField(
        max_length=10, choices=CleaningType.choices, blank=True, default=""
    )
    verifies = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="verifications"
    )
    maintenance_work_order = models.ForeignKey(
        MaintenanceWorkOrder,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="log_entries",
    )
    note = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        default_permissions = ("view",)
        verbose_name_plural = "unit log entries"
        indexes = [models.Index(fields=["unit", "at"], name="equipment_log_unit_at_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["verifies"],
                condition=Q(verifies__isnull=False),
                name="equipment_log_one_verification_per_cleaning",
            ),
            models.CheckConstraint(
                condition=(
                    Q(type=LogEntryType.CLEANED, cleaning_type__in=CleaningType.values)
                    | (~Q(type=LogEntryType.CLEANED) & Q(cleaning_type=""))
                ),
                name="equipment_log_cleaning_type_iff_cleaned",
            ),
            models.CheckConstraint(
                condition=(
                    Q(type=LogEntryType.CLEANING_VERIFIED, verifies__isnull=False)
                    | (~Q(type=LogEntryType.CLEANING_VERIFIED) & Q(verifies__isnull=True))
                ),
                name="equipment_log_verification_points_at_cleaning",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit.code} {self.at:%Y-%m-%d %H:%M} {self.get_type_display()}"


@audited(append_only=True)
class EquipmentEvent(models.Model):
    """Append-only record of every status change and service action on a unit, instrument
    or maintenance work order."""

    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    maintenance_work_order = models.ForeignKey(
        MaintenanceWorkOrder,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
    )
    type = models.CharField(max_length=40, choices=EquipmentEventType.choices, db_index=True)
    from_status = models.CharField(max_length=20, blank=True, default="")
    to_status = models.CharField(max_length=20, blank=True, default="")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(db_default=Now(), db_index=True)
    reason = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(
                condition=Q(unit__isnull=False) | Q(instrument__isnull=False),
                name="equipment_event_has_subject",
            ),
        ]

    def __str__(self) -> str:
        subject = self.unit or self.instrument
        return f"{self.type} {subject}"
