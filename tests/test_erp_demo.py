"""The ERP demo step: SAP simulator → pulled process order → resin batch in R-103 → QA release
→ handoff work order for PS-RESIN-P20 (linked to SAP's pail order) → serialized pails → closed
→ every outbox message delivered back to the simulator; the connection is left inactive; a
second load_demo changes nothing."""

import re
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from batches.models import BatchOrder
from erp_connectors.demo import CONNECTION, CREDENTIALS_REF, PACKAGING_ORDER, PROCESS_ORDER
from erp_connectors.models import ErpConnection, ErpOrderLink, OutboxMessage
from genealogy import selectors as genealogy_selectors
from workorders.models import LaborRecord, WorkOrder, WorkOrderUnit

pytestmark = pytest.mark.django_db


def _load() -> str:
    out = StringIO()
    call_command("load_demo", "--no-input", stdout=out)
    return out.getvalue()


def test_demo_erp_chain():
    first = _load()

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

    counts = (
        BatchOrder.objects.count(),
        WorkOrder.objects.count(),
        OutboxMessage.objects.count(),
        ErpOrderLink.objects.count(),
    )

    second = _load()

    assert "nothing changed" in second
    assert counts == (
        BatchOrder.objects.count(),
        WorkOrder.objects.count(),
        OutboxMessage.objects.count(),
        ErpOrderLink.objects.count(),
    )
