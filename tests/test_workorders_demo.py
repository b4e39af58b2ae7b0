"""The workorders demo step: the packaging line PK with a 3-level BOM, a 5-operation routing,
a closed and an open work order with real time records, and the resin handoff rule; built
through the services (audited); a second run changes nothing."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from genealogy import selectors as genealogy_selectors
from workorders import selectors
from workorders.models import (
    DowntimeRecord,
    HandoffRule,
    LaborRecord,
    MachineRecord,
    QuantityReport,
    WorkOrder,
)

pytestmark = pytest.mark.django_db


def _load() -> str:
    out = StringIO()
    call_command("load_demo", "--no-input", stdout=out)
    return out.getvalue()


def test_demo_workorders():
    first = _load()

    assert "WO-DEMO-0002: 4 pails, 1 reworked (resealed), 1 scrapped (weight); closed" in first
    closed = WorkOrder.objects.get(number="WO-DEMO-0002")
    running = WorkOrder.objects.get(number="WO-DEMO-0003")
    assembly = WorkOrder.objects.get(number="WO-DEMO-0001")
    assert (closed.status, running.status, assembly.status) == ("closed", "released", "closed")
    assert closed.routing.operations.count() == 5
    assert closed.units.filter(status="finished").count() == 3
    assert closed.units.filter(status="scrapped").count() == 1
    kinds = set(
        QuantityReport.objects.filter(operation__work_order=closed).values_list("kind", flat=True)
    )
    assert kinds == {"good", "scrap", "rework", "rework_return"}
    assert DowntimeRecord.objects.filter(operation__work_order=closed, reason__code="JAM").count()
    assert LaborRecord.objects.filter(operation__work_order=closed, seconds__gt=0).count() == 6
    assert MachineRecord.objects.filter(operation__work_order=closed, seconds__gt=0).count() >= 4
    assert LaborRecord.objects.filter(operation__work_order=running, ended_at=None).count() == 1
    assert MachineRecord.objects.filter(operation__work_order=running, ended_at=None).count() == 1

    # three levels: pail ← pail assembly ← pail, lid, label; resin directly
    rows = selectors.explosion_flat(selectors.bom_explode(closed.bom, quantity=Decimal(1)))
    assert [(r.level, r.component.code) for r in rows] == [
        (1, "PAIL-ASM-20"),
        (2, "PAIL-20"),
        (2, "LID-20"),
        (2, "LBL-P20"),
        (1, "PS-RESIN"),
    ]
    # a finished unit's backward trace reaches the bought pail and the resin's raw materials
    unit = closed.units.filter(status="finished").first()
    backward = genealogy_selectors.lot_trace_backward(lot=unit.lot)
    codes = {node.material_code for node in backward.nodes.values()}
    assert {"PAIL-ASM-20", "PAIL-20", "PS-RESIN", "STY"} <= codes
    rule = HandoffRule.objects.get()
    assert (rule.material.code, rule.item.code, rule.area.code, rule.is_active) == (
        "PS-RESIN",
        "PS-RESIN-P20",
        "PK",
        True,
    )
    variance = selectors.variance_report(group_by="work_center")
    assert {r.key for r in variance} >= {"PK-ASM", "PK-FIL", "PK-INS"}

    counts = (WorkOrder.objects.count(), LaborRecord.objects.count(), HandoffRule.objects.count())
    second = _load()

    assert "nothing changed" in second
    assert (
        WorkOrder.objects.count(),
        LaborRecord.objects.count(),
        HandoffRule.objects.count(),
    ) == counts
