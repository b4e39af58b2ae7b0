"""Statuses of batches and phases, with their transition tables, and the batch event types."""

from django.db import models


class BatchStatus(models.TextChoices):
    CREATED = "created", "Created"
    STARTED = "started", "Started"
    COMPLETED = "completed", "Completed"
    RELEASED = "released", "Released"
    CANCELLED = "cancelled", "Cancelled"


BATCH_TRANSITIONS: dict[str, frozenset[str]] = {
    BatchStatus.CREATED: frozenset({BatchStatus.STARTED, BatchStatus.CANCELLED}),
    BatchStatus.STARTED: frozenset({BatchStatus.COMPLETED, BatchStatus.CANCELLED}),
    BatchStatus.COMPLETED: frozenset({BatchStatus.RELEASED}),
    BatchStatus.RELEASED: frozenset(),
    BatchStatus.CANCELLED: frozenset(),
}


class PhaseStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"


PHASE_TRANSITIONS: dict[str, frozenset[str]] = {
    PhaseStatus.PENDING: frozenset({PhaseStatus.ACTIVE}),
    PhaseStatus.ACTIVE: frozenset({PhaseStatus.COMPLETED}),
    PhaseStatus.COMPLETED: frozenset(),
}


class MaterialReturnKind(models.TextChoices):
    """What became of dispensed material that did not go into the batch."""

    RETURNED = "returned", "Returned to stock"
    WASTE = "waste", "Waste (written off)"


class BatchEventType(models.TextChoices):
    CREATED = "batch.created", "Batch created"
    STARTED = "batch.started", "Batch started"
    PHASE_STARTED = "phase.started", "Phase started"
    VALUE_RECORDED = "value.recorded", "Value recorded"
    VALUE_CORRECTED = "value.corrected", "Value corrected"
    MATERIAL_DISPENSED = "material.dispensed", "Material dispensed"
    MATERIAL_RETURNED = "material.returned", "Material returned to stock"
    MATERIAL_WASTED = "material.wasted", "Material written off as waste"
    PHASE_COMPLETED = "phase.completed", "Phase completed"
    PHASE_VERIFIED = "phase.verified", "Phase verified"
    YIELD_RECORDED = "yield.recorded", "Yield recorded"
    DEVIATION_OPENED = "deviation.opened", "Deviation opened"
    COMPLETED = "batch.completed", "Batch completed"
    RELEASED = "batch.released", "Batch released"
    CANCELLED = "batch.cancelled", "Batch cancelled"
    VERSION_SUPERSEDED = "batch.version_superseded", "Recipe version superseded"
    REPOINTED = "batch.repointed", "Re-pointed to the current recipe version"
    LOT_RELEASED = "lot.released", "Output lot released"
