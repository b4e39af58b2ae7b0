"""Value sets of work orders, with their transition tables."""

from django.db import models


class VersionStatus(models.TextChoices):
    """A BOM or routing version: drafted, approved by signature, superseded by a newer one."""

    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    SUPERSEDED = "superseded", "Superseded"


class TimeBasis(models.TextChoices):
    """What an operation's standard time is: people's time, a machine's, or both."""

    LABOR = "labor", "Labor"
    MACHINE = "machine", "Machine"
    BOTH = "both", "Labor and machine"


class CharacteristicKind(models.TextChoices):
    PASS_FAIL = "pass_fail", "Pass / fail"
    MEASURED = "measured", "Measured (with limits)"


class ReasonKind(models.TextChoices):
    SCRAP = "scrap", "Scrap"
    REWORK = "rework", "Rework"
    DOWNTIME = "downtime", "Downtime"


class SerialIssue(models.TextChoices):
    AT_RELEASE = "release", "At release"
    AT_FIRST_OPERATION = "first_operation", "At the first operation"


class WorkOrderSource(models.TextChoices):
    PLANNER = "planner", "Planner"
    API = "api", "API"
    ERP = "erp", "ERP"
    HANDOFF = "handoff", "Mixed-mode handoff"


class WorkOrderStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    RELEASED = "released", "Released"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


WORK_ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    WorkOrderStatus.PLANNED: frozenset({WorkOrderStatus.RELEASED, WorkOrderStatus.CANCELLED}),
    WorkOrderStatus.RELEASED: frozenset({WorkOrderStatus.CLOSED}),
    WorkOrderStatus.CLOSED: frozenset(),
    WorkOrderStatus.CANCELLED: frozenset(),
}


class UnitStatus(models.TextChoices):
    """Where one serialized unit of a work order is."""

    IN_PROCESS = "in_process", "In process"
    REWORK = "rework", "In rework"
    SCRAPPED = "scrapped", "Scrapped"
    FINISHED = "finished", "Finished"
    VOIDED = "voided", "Voided (never made: order re-planned)"


class QuantityKind(models.TextChoices):
    GOOD = "good", "Good"
    SCRAP = "scrap", "Scrapped"
    REWORK = "rework", "Sent to rework"
    REWORK_RETURN = "rework_return", "Back from rework"


class WorkOrderEventType(models.TextChoices):
    CREATED = "work_order.created", "Created"
    RELEASED = "work_order.released", "Released"
    CANCELLED = "work_order.cancelled", "Cancelled"
    CLOSED = "work_order.closed", "Closed"
    REPLANNED = "work_order.replanned", "Re-planned"
    SERIAL_ISSUED = "unit.serial_issued", "Serial issued"
    SERIAL_VOIDED = "unit.serial_voided", "Serial voided"
    COMPONENT_CONSUMED = "unit.component_consumed", "Component consumed"
    INSPECTED = "unit.inspected", "Inspected"
    LOT_RESERVED = "lot.reserved", "Lot reserved"
    RESERVATION_ENDED = "lot.reservation_ended", "Lot reservation ended"
