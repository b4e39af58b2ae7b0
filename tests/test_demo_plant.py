"""The whole demo plant, as `make run` loads it: each app's demo step, then a second
`load_demo` that changes nothing.

The demo is loaded once for this module (about a minute on PostgreSQL: it runs batches, packs
a hundred pails and delivers every message to the SAP simulator) inside a transaction that is
rolled back when the module ends; each test runs in its own savepoint inside it, so what one
test does is gone before the next one starts.
"""

import re
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

from batches import ebr
from batches.models import BatchOrder
from erp_connectors.demo import CONNECTION, CREDENTIALS_REF, PACKAGING_ORDER, PROCESS_ORDER
from erp_connectors.models import ErpConnection, ErpOrderLink, OutboxMessage
from genealogy import selectors as genealogy_selectors
from quality.models import Deviation
from scheduling import services as scheduling_services
from scheduling.models import Schedule
from workorders import selectors as workorders_selectors
from workorders.models import (
    DowntimeRecord,
    HandoffRule,
    LaborRecord,
    MachineRecord,
    QuantityReport,
    WorkOrder,
    WorkOrderUnit,
)

pytestmark = pytest.mark.django_db


def _load() -> str:
    out = StringIO()
    call_command("load_demo", "--no-input", stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def first(django_db_setup, django_db_blocker):
    """What the first `load_demo` printed; the plant it built stays until the module ends."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _load()
        transaction.set_rollback(True)


def test_batches(first):
    assert "batch B-DEMO-0001 of RESIN-PA: executed, deviation closed, released" in first
    released = BatchOrder.objects.get(number="B-DEMO-0001")
    running = BatchOrder.objects.get(number="B-DEMO-0002")
    assert (released.status, released.unit.code) == ("released", "R-101")
    assert released.output_lot.lot_number == "B-DEMO-0001-P"
    assert released.output_lot.status == "released"  # by QA's batch release signature
    assert list(
        Deviation.objects.filter(source_kind="batch", source_ref="B-DEMO-0001").values_list(
            "title", "status"
        )
    ) == [("B-DEMO-0001: Charge temperature out of limits", "closed")]
    statuses = list(running.phases.order_by("sequence").values_list("status", flat=True))
    assert statuses[:5] == ["completed", "completed", "completed", "active", "pending"]
    assert running.status == "started"
    data = ebr.ebr_export(released)
    assert [s["is_valid"] for s in data["signatures"]] == [True]
    assert all(s["is_valid"] for p in data["record"]["phases"] for s in p["signatures"])


def test_workorders(first):
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
    rows = workorders_selectors.explosion_flat(
        workorders_selectors.bom_explode(closed.bom, quantity=Decimal(1))
    )
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
    variance = workorders_selectors.variance_report(group_by="work_center")
    assert {r.key for r in variance} >= {"PK-ASM", "PK-FIL", "PK-INS"}


def test_schedules(first):
    assert "solved and published" in first
    published = Schedule.objects.get(status="published")
    proposed = Schedule.objects.get(status="proposed")
    assert proposed.based_on == published
    for schedule in (published, proposed):
        assert schedule.solver_status == "done"
        assert scheduling_services.schedule_conflicts(schedule) == ([], {})
        assert schedule.entries.filter(kind="batch").count() >= 2
        assert schedule.entries.filter(kind="operation").exists()


def test_erp_chain(first):
    """SAP simulator → pulled process order → resin batch in R-103 → QA release → handoff work
    order for PS-RESIN-P20 (linked to SAP's pail order) → serialized pails → closed → every
    outbox message delivered back to the simulator; the connection is left inactive."""
    conn = ErpConnection.objects.get(code=CONNECTION)
    assert (conn.kind, conn.is_active) == ("sap", False)  # its simulator is gone
    assert CREDENTIALS_REF not in getattr(settings, "MES_ERP_CREDENTIALS", {})

    # SAP's process order became a batch that ran, completed and was released by QA
    batch = ErpOrderLink.objects.get(connection=conn, erp_order_id=PROCESS_ORDER).batch
    assert (batch.status, batch.unit.code) == ("released", "R-103")
    resin = batch.output_lot
    assert (resin.material.code, resin.status) == ("PS-RESIN", "released")

    # the handoff made the pail order that fulfils SAP's discrete order; it is closed
    wo = ErpOrderLink.objects.get(connection=conn, erp_order_id=PACKAGING_ORDER).work_order
    assert (wo.item.code, wo.source, wo.status) == ("PS-RESIN-P20", "handoff", "closed")
    assert wo.reservations.get().lot == resin
    units = WorkOrderUnit.objects.filter(work_order=wo)
    assert units.count() == int(wo.quantity) > 0
    assert set(units.values_list("status", flat=True)) == {"finished"}
    clocked = set(
        LaborRecord.objects.filter(operation__work_order=wo).values_list("operation", flat=True)
    )
    assert clocked == set(wo.operations.values_list("pk", flat=True))  # labor on every operation
    for unit in (units.order_by("serial_number").first(), units.order_by("serial_number").last()):
        reached = {
            n.lot_number
            for n in genealogy_selectors.lot_trace_backward(lot=unit.lot).nodes.values()
        }
        assert resin.lot_number in reached
        assert any(number.startswith("PAIL-20-ERP-DEMO") for number in reached)

    # everything went back to SAP, in order, each order completed
    messages = OutboxMessage.objects.filter(connection=conn).order_by("id")
    assert messages.count() > 0
    assert set(messages.values_list("status", flat=True)) == {"delivered"}
    kinds = {
        order: list(messages.filter(erp_order_id=order).values_list("kind", flat=True))
        for order in (PROCESS_ORDER, PACKAGING_ORDER)
    }
    assert kinds[PROCESS_ORDER][0] == "order_start"
    assert kinds[PROCESS_ORDER][-2:] == ["batch_yield", "order_completion"]
    # a partial confirmation per pail and operation as reported, one final per operation
    assert kinds[PACKAGING_ORDER].count("operation_confirmation") == 5 * units.count() + 5
    assert kinds[PACKAGING_ORDER].count("goods_issue") == 2 * units.count()  # resin, assembly
    assert kinds[PACKAGING_ORDER][-1] == "order_completion"
    for order in (PROCESS_ORDER, PACKAGING_ORDER):
        assert f"SAP order {order}: {len(kinds[order])} message(s) delivered" in first
    assert f"confirmed good {5 * units.count()}.000" in first  # every pail at 5 operations
    assert f"goods receipts {units.count()}.000" in first

    # the self-audit (after this step) still sees the mixed model and nothing failing
    assert re.search(
        r"self-audit assessment #\d+: Mixed \(process feeding discrete\).*, 0 fail", first
    )


def test_a_second_load_changes_nothing(first):
    def counts():
        return (
            BatchOrder.objects.count(),
            WorkOrder.objects.count(),
            LaborRecord.objects.count(),
            HandoffRule.objects.count(),
            Schedule.objects.count(),
            OutboxMessage.objects.count(),
            ErpOrderLink.objects.count(),
        )

    before = counts()
    second = _load()
    assert "nothing changed" in second
    assert "solved and published" not in second
    assert counts() == before
