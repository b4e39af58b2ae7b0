"""Statuses, kinds and the transition tables of the equipment app."""

from django.db import models


class EquipmentStatus(models.TextChoices):
    """The status of a unit. Changed only by services, each change an EquipmentEvent."""

    AVAILABLE = "available", "Available"
    IN_USE = "in_use", "In use"
    IN_MAINTENANCE = "in_maintenance", "In maintenance"
    OUT_OF_SERVICE = "out_of_service", "Out of service"


EQUIPMENT_STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    EquipmentStatus.AVAILABLE: frozenset(
        {EquipmentStatus.IN_USE, EquipmentStatus.IN_MAINTENANCE, EquipmentStatus.OUT_OF_SERVICE}
    ),
    EquipmentStatus.IN_USE: frozenset({EquipmentStatus.AVAILABLE, EquipmentStatus.OUT_OF_SERVICE}),
    EquipmentStatus.IN_MAINTENANCE: frozenset(
        {EquipmentStatus.AVAILABLE, EquipmentStatus.OUT_OF_SERVICE}
    ),
    EquipmentStatus.OUT_OF_SERVICE: frozenset(
        {EquipmentStatus.AVAILABLE, EquipmentStatus.IN_MAINTENANCE}
    ),
}

# A person may set these by hand (with a reason); IN_USE comes only from `unit_start_use`,
# IN_MAINTENANCE only from starting a maintenance work order.
MANUAL_STATUS_TARGETS: frozenset[str] = frozenset(
    {EquipmentStatus.AVAILABLE, EquipmentStatus.OUT_OF_SERVICE}
)


class InstrumentStatus(models.TextChoices):
    IN_SERVICE = "in_service", "In service"
    OUT_OF_SERVICE = "out_of_service", "Out of service"


INSTRUMENT_STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    InstrumentStatus.IN_SERVICE: frozenset({InstrumentStatus.OUT_OF_SERVICE}),
    InstrumentStatus.OUT_OF_SERVICE: frozenset({InstrumentStatus.IN_SERVICE}),
}


class InstrumentKind(models.TextChoices):
    SCALE = "scale", "Scale / balance"
    PH_PROBE = "ph_probe", "pH probe"
    TEMPERATURE_PROBE = "temperature_probe", "Temperature probe"
    THERMOMETER = "thermometer", "Thermometer"
    PRESSURE_GAUGE = "pressure_gauge", "Pressure gauge"
    FLOW_METER = "flow_meter", "Flow meter"
    LEVEL_PROBE = "level_probe", "Level probe"
    OTHER = "other", "Other"


class CalibrationResult(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"


class WorkCenterKind(models.TextChoices):
    LINE = "line", "Line"
    CELL = "cell", "Cell"
    STATION = "station", "Station"


class CleaningType(models.TextChoices):
    MINOR = "minor", "Minor (same product)"
    MAJOR = "major", "Major (product change)"


class CleaningState(models.TextChoices):
    """Derived, never stored: computed from the unit's logbook and its cleaning rule."""

    CLEAN = "clean", "Clean"
    AWAITING_VERIFICATION = "awaiting_verification", "Cleaned, awaiting verification"
    IN_USE = "in_use", "In use"
    DIRTY = "dirty", "Dirty"
    DIRTY_HOLD_EXCEEDED = "dirty_hold_exceeded", "Dirty hold time exceeded"
    CLEAN_HOLD_EXPIRED = "clean_hold_expired", "Clean hold time expired"
    NEVER_CLEANED = "never_cleaned", "No cleaning recorded"


class LogEntryType(models.TextChoices):
    """Lines of the equipment logbook (append-only)."""

    USE_STARTED = "use.started", "Use started"
    USE_ENDED = "use.ended", "Use ended"
    CLEANED = "cleaning.performed", "Cleaned"
    CLEANING_VERIFIED = "cleaning.verified", "Cleaning verified"
    MAINTENANCE_STARTED = "maintenance.started", "Maintenance started"
    MAINTENANCE_COMPLETED = "maintenance.completed", "Maintenance completed"
    STATUS_CHANGED = "status.changed", "Status changed"


class EquipmentEventType(models.TextChoices):
    UNIT_STATUS_CHANGED = "unit.status_changed", "Unit status changed"
    UNIT_USAGE_RECORDED = "unit.usage_recorded", "Unit usage recorded"
    INSTRUMENT_CALIBRATED = "instrument.calibrated", "Instrument calibrated"
    INSTRUMENT_STATUS_CHANGED = "instrument.status_changed", "Instrument status changed"
    MAINTENANCE_CREATED = "maintenance.created", "Maintenance work order created"
    MAINTENANCE_STARTED = "maintenance.started", "Maintenance work order started"
    MAINTENANCE_COMPLETED = "maintenance.completed", "Maintenance work order completed"
    MAINTENANCE_CANCELLED = "maintenance.cancelled", "Maintenance work order cancelled"


class MaintenanceTrigger(models.TextChoices):
    CALENDAR = "calendar", "Calendar (every N days)"
    HOURS = "hours", "Usage (hours run)"
    BATCHES = "batches", "Usage (batch count)"


class MaintenanceKind(models.TextChoices):
    PREVENTIVE = "preventive", "Preventive"
    CORRECTIVE = "corrective", "Corrective"


class MaintenanceWorkOrderStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


MAINTENANCE_WORK_ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    MaintenanceWorkOrderStatus.OPEN: frozenset(
        {MaintenanceWorkOrderStatus.IN_PROGRESS, MaintenanceWorkOrderStatus.CANCELLED}
    ),
    MaintenanceWorkOrderStatus.IN_PROGRESS: frozenset({MaintenanceWorkOrderStatus.COMPLETED}),
    MaintenanceWorkOrderStatus.COMPLETED: frozenset(),
    MaintenanceWorkOrderStatus.CANCELLED: frozenset(),
}

MAINTENANCE_OPEN_STATUSES: tuple[str, ...] = (
    MaintenanceWorkOrderStatus.OPEN,
    MaintenanceWorkOrderStatus.IN_PROGRESS,
)
