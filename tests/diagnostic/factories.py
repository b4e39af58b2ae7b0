"""Builders of installations with and without each gap. The plant's own records are made
through the services; a gap that the services refuse to make (a record kept on paper, a
counter keyed in at close, a unit marked finished on a traveler) is written the way an import
or another system would: straight into the table, with the audit context of the test."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

from batches.choices import BatchStatus, PhaseStatus
from batches.models import BatchOrder, PhaseExecution
from workorders import services as wo
from workorders.choices import UnitStatus
from workorders.models import WorkOrderOperation, WorkOrderUnit


class PaperBatchFactory(factory.django.DjangoModelFactory):
    """A batch record written by another system (no e-signatures, no events)."""

    class Meta:
        model = BatchOrder

    number = factory.Sequence(lambda n: f"PAPER-{n:04d}")
    control_recipe = factory.LazyFunction(dict)
    control_recipe_hash = "sha256:paper"
    batch_size = Decimal("2000")
    batch_size_uom = "kg"
    status = BatchStatus.COMPLETED
    started_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=6))
    completed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))


class PaperPhaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PhaseExecution

    sequence = factory.Sequence(lambda n: n + 1)
    path = factory.LazyAttribute(lambda o: f"UP1/OP1/PH{o.sequence}")
    name = "Charge"
    definition = factory.LazyFunction(lambda: {"is_critical": True})
    status = PhaseStatus.COMPLETED


def paper_batch(*, version: Any, created_by: Any, phases: int = 2, **kwargs: Any) -> BatchOrder:
    batch = PaperBatchFactory(
        recipe_version=version,
        product=version.recipe.product,
        created_by=created_by,
        **kwargs,
    )
    for _ in range(phases):
        PaperPhaseFactory(batch=batch, completed_at=batch.completed_at, completed_by=created_by)
    return batch


def op(work_order: Any, seq: int) -> WorkOrderOperation:
    return work_order.operations.get(seq=seq)


def box_shift(box_wo: Any, operator: Any, *, labor_on: tuple[int, ...] = (10, 20)) -> None:
    """Two hours ago: the operator clocks labor on the given operations and reports 10 good
    boxes at both (one label consumed per box at op 20)."""
    t0 = timezone.now() - timedelta(hours=3)
    for index, seq in enumerate(labor_on):
        start = t0 + timedelta(minutes=60 * index)
        wo.labor_clock_on(actor=operator, operation=op(box_wo, seq), at=start)
        wo.labor_clock_off(
            actor=operator, operation=op(box_wo, seq), at=start + timedelta(minutes=50)
        )
    wo.operation_report(actor=operator, operation=op(box_wo, 10), good=10)
    wo.operation_consume(actor=operator, operation=op(box_wo, 20), code="LBL-LOT-1", quantity=10)
    wo.operation_report(actor=operator, operation=op(box_wo, 20), good=10)


def scrap_keyed_at_close(operation: WorkOrderOperation, quantity: int) -> None:
    """The gap: scrap typed into the counters as a total, no report at the operation."""
    WorkOrderOperation.objects.filter(pk=operation.pk).update(
        qty_received=operation.qty_received + quantity, qty_scrap=operation.qty_scrap + quantity
    )


def mark_finished_on_paper(unit: WorkOrderUnit) -> None:
    """The gap: a unit declared finished from a paper traveler, no component scanned."""
    WorkOrderUnit.objects.filter(pk=unit.pk).update(status=UnitStatus.FINISHED)


def unit_through(work_order: Any, unit: WorkOrderUnit, actor: Any, *, pail: str) -> None:
    """Take a kit unit through all five operations the way the terminal does."""
    chars = {c.name: c.pk for c in op(work_order, 40).routing_operation.characteristics.all()}
    for seq in (10, 20, 30, 40, 50):
        unit.refresh_from_db()
        if seq == 20:
            wo.unit_scan_component(actor=actor, unit=unit, code=pail)
        if seq == 30:
            wo.unit_scan_component(actor=actor, unit=unit, code="LBL-LOT-1")
        if seq == 40:
            wo.unit_inspect(
                actor=actor,
                unit=unit,
                results={chars["Seal intact"]: "pass", chars["Lid torque"]: "3.1"},
            )
        wo.unit_complete_operation(actor=actor, unit=unit)
