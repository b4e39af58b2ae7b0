"""Value sets of genealogy: units of measure, material kinds, node kinds, lot status (with its
transition table), event types and link kinds."""

from decimal import Decimal

from django.db import models


class UnitOfMeasure(models.TextChoices):
    KILOGRAM = "kg", "kilogram"
    GRAM = "g", "gram"
    TONNE = "t", "tonne"
    LITRE = "L", "litre"
    MILLILITRE = "mL", "millilitre"
    CUBIC_METRE = "m3", "cubic metre"
    METRE = "m", "metre"
    EACH = "ea", "each"


# uom -> (dimension, factor to the dimension's base unit)
UOM_DIMENSIONS: dict[str, tuple[str, Decimal]] = {
    "kg": ("mass", Decimal("1")),
    "g": ("mass", Decimal("0.001")),
    "t": ("mass", Decimal("1000")),
    "L": ("volume", Decimal("1")),
    "mL": ("volume", Decimal("0.001")),
    "m3": ("volume", Decimal("1000")),
    "m": ("length", Decimal("1")),
    "ea": ("count", Decimal("1")),
}


class MaterialKind(models.TextChoices):
    RAW = "raw", "Raw material"
    INTERMEDIATE = "intermediate", "Intermediate / bulk"
    FINISHED = "finished", "Finished good"
    PACKAGING = "packaging", "Packaging"
    COMPONENT = "component", "Component"


class NodeKind(models.TextChoices):
    """Every traceable thing is one row of the lot table (one node of the genealogy graph)."""

    LOT = "lot", "Lot"
    SUBLOT = "sublot", "Sub-lot"
    UNIT = "unit", "Serialized unit"


class LotStatus(models.TextChoices):
    """Owned by `quality`: only `lot_set_status` changes it, and only quality calls that."""

    QUARANTINE = "quarantine", "Quarantine"
    RELEASED = "released", "Released"
    REJECTED = "rejected", "Rejected"
    ON_HOLD = "on_hold", "On hold"


LOT_STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    LotStatus.QUARANTINE: frozenset({LotStatus.RELEASED, LotStatus.REJECTED, LotStatus.ON_HOLD}),
    LotStatus.RELEASED: frozenset({LotStatus.ON_HOLD, LotStatus.REJECTED, LotStatus.QUARANTINE}),
    LotStatus.ON_HOLD: frozenset({LotStatus.RELEASED, LotStatus.REJECTED, LotStatus.QUARANTINE}),
    LotStatus.REJECTED: frozenset({LotStatus.ON_HOLD}),
}


class EventType(models.TextChoices):
    """One row of the lot ledger: the change of ONE lot's quantity (or status/location).
    An operation that touches several lots (a split) writes one event per lot, sharing
    `operation_id`."""

    RECEIVED = "lot.received", "Received"
    PRODUCED = "lot.produced", "Produced"
    CONSUMED = "lot.consumed", "Consumed"
    SPLIT = "lot.split", "Split"
    MERGED = "lot.merged", "Merged"
    TRANSFERRED = "lot.transferred", "Transferred"
    SHIPPED = "lot.shipped", "Shipped"
    ADJUSTED = "lot.adjusted", "Adjusted"
    RETURNED = "lot.returned", "Returned to stock"
    STATUS_CHANGED = "lot.status_changed", "Status changed"


class LinkKind(models.TextChoices):
    """Why material of the parent node is in the child node."""

    CONSUMED = "consumed", "Consumed into"
    SPLIT = "split", "Split into"
    MERGED = "merged", "Merged into"
    COMPONENT = "component", "Component of"
    REWORKED = "reworked", "Reworked into"


class ContextKind(models.TextChoices):
    """Where a consumption or a production happened (a record of a higher app, by reference)."""

    BATCH = "batch", "Batch"
    BATCH_PHASE = "batch_phase", "Batch phase"
    WORK_ORDER = "work_order", "Work order"
    WO_OPERATION = "wo_operation", "Work-order operation"
    PACKAGING = "packaging", "Packaging run"
    IMPORT = "import", "Imported history"
    OTHER = "other", "Other"


class Direction(models.TextChoices):
    BACKWARD = "backward", "Backward (what went into it)"
    FORWARD = "forward", "Forward (what was made from it)"


class RecallJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
