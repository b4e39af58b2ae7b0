"""Operation confirmations as the plant reports them (issue 8): a partial confirmation per
quantity report, in its transaction, with the labor and machine time closed on the operation
since the previous confirmation; a final confirmation at close with only what was not yet
confirmed; the ERPs sum them; reconciliation compares the sums per operation."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from erp_connectors import outbox, services
from erp_connectors.adapters import base as adapter_base
from erp_connectors.adapters.base import get_adapter
from erp_connectors.inbound import order_receive
from erp_connectors.models import ConfirmedTime, OutboxMessage, ReconciliationFinding
from erp_connectors.tests import factories as f
from erp_connectors.tests.adapter_payloads import message
from workorders import services as wo_services
from workorders.models import WorkOrder
from workorders.tests import conftest as workorders_conftest

pytestmark = pytest.mark.django_db
line = workorders_conftest.line
op = workorders_conftest.op
box_routing = workorders_conftest.box_routing
D = Decimal


@pytest.fixture
def script(monkeypatch):
    from erp_connectors.adapters import d365, oracle, rest, sap  # noqa: F401 (registered)

    s = f.Script()
    monkeypatch.setitem(adapter_base._adapters, "rest", f.fake_adapter_class(s))
    return s


@pytest.fixture
def erp_box_wo(box_routing, admin_user, integration_user):
    conn = f.connection(actor=admin_user)
    order_receive(
        actor=integration_user,
        connection=conn,
        order=f.discrete_order(erp_id="WO-7", material_code="BOX-20", quantity=D(10)),
    )
    return WorkOrder.objects.get()


def _confirmations(seq):
    return [
        m.payload
        for m in OutboxMessage.objects.filter(kind="operation_confirmation").order_by("id")
        if m.payload["operation"] == f"{seq:04d}"
    ]


def _clocked(person, operation, start, minutes):
    wo_services.labor_clock_on(actor=person, operation=operation, at=start)
    wo_services.labor_clock_off(
        actor=person, operation=operation, at=start + timedelta(minutes=minutes)
    )


def test_each_report_is_confirmed_at_once_with_the_time_closed_since_the_last_one(
    erp_box_wo, operator, operator2, supervisor, line
):
    op10, op20 = op(erp_box_wo, 10), op(erp_box_wo, 20)
    t0 = timezone.now() - timedelta(hours=5)
    _clocked(operator, op10, t0, 30)  # 0.5 h, closed before the first report

    wo_services.operation_report(actor=operator, operation=op10, good=6)

    [first] = _confirmations(10)
    assert (first["good"], first["scrap"], first["labor_hours"], first["final"]) == (
        "6",
        "0",
        "0.5",
        False,
    )
    assert OutboxMessage.objects.filter(kind="order_start").count() == 1

    # operator2 is still clocked on: an open record waits for a later confirmation
    wo_services.labor_clock_on(actor=operator2, operation=op10, at=t0 + timedelta(hours=1))
    wo_services.operation_report(
        actor=operator, operation=op10, good=3, scrap=1, scrap_reason=line.scrap
    )
    good, scrap = _confirmations(10)[1:]
    assert (good["good"], good["scrap"], good["labor_hours"]) == ("3", "0", "0")
    assert (scrap["good"], scrap["scrap"], scrap["labor_hours"]) == ("0", "1", "0")
    wo_services.labor_clock_off(
        actor=operator2, operation=op10, at=t0 + timedelta(hours=1, minutes=45)
    )

    # op 20: machine and labor time, labels consumed, everything reported
    wo_services.machine_start(actor=operator, operation=op20, at=t0 + timedelta(hours=2))
    wo_services.machine_stop(actor=operator, operation=op20, at=t0 + timedelta(hours=3))
    wo_services.operation_consume(actor=operator, operation=op20, code="LBL-LOT-1", quantity=9)
    wo_services.operation_report(actor=operator, operation=op20, good=9)
    [op20_first] = _confirmations(20)
    assert (op20_first["good"], op20_first["machine_hours"], op20_first["labor_hours"]) == (
        "9",
        "1",
        "0",
    )

    wo_services.work_order_close(actor=supervisor, work_order=erp_box_wo)

    # the final confirmation carries only what was not confirmed yet, and the final flag
    final10 = _confirmations(10)[-1]
    assert (final10["good"], final10["scrap"], final10["labor_hours"], final10["final"]) == (
        "0",
        "0",
        "0.75",  # operator2's 45 minutes, closed after the last report
        True,
    )
    final20 = _confirmations(20)[-1]
    assert (final20["good"], final20["machine_hours"], final20["final"]) == ("0", "0", True)
    # summed, the confirmations hold exactly what the plant did, each record once
    for seq, good_total, scrap_total, labor, machine in (
        (10, 9, 1, "1.25", "0"),
        (20, 9, 0, "0", "1"),
    ):
        payloads = _confirmations(seq)
        assert sum(D(p["good"]) for p in payloads) == op(erp_box_wo, seq).qty_good == good_total
        assert sum(D(p["scrap"]) for p in payloads) == scrap_total
        assert sum(D(p["labor_hours"]) for p in payloads) == D(labor)
        assert sum(D(p["machine_hours"]) for p in payloads) == D(machine)
        assert [p["final"] for p in payloads].count(True) == 1
    assert ConfirmedTime.objects.count() == 3  # two labor records, one machine run
    keys = list(OutboxMessage.objects.values_list("idempotency_key", flat=True))
    assert len(keys) == len(set(keys))
    assert "mes:ERP1:WO-7:operation_confirmation:op:10:final" in keys


def test_a_refused_report_writes_no_confirmation(erp_box_wo, operator):
    from workorders.exceptions import QuantityExceeded

    with pytest.raises(QuantityExceeded):
        wo_services.operation_report(actor=operator, operation=op(erp_box_wo, 10), good=11)
    assert not OutboxMessage.objects.filter(kind="operation_confirmation").exists()


def test_serialized_units_are_confirmed_one_by_one(
    script, admin_user, line, integration_user, operator
):
    conn = f.connection(actor=admin_user, code="ERP2")
    order_receive(actor=integration_user, connection=conn, order=f.discrete_order(quantity=2))
    wo = WorkOrder.objects.get()
    first, second = wo.units.order_by("serial_number")
    wo_services.unit_complete_operation(actor=operator, unit=first)
    wo_services.unit_scrap(actor=operator, unit=second, reason_code=line.scrap)

    assert [(p["good"], p["scrap"], p["final"]) for p in _confirmations(10)] == [
        ("1", "0", False),
        ("0", "1", False),
    ]


def test_the_receiver_costs_no_query_for_a_planners_work_order(
    box_routing, line, planner, operator, admin_user
):
    """Only an order from the ERP or from the handoff can be linked to an ERP order: the
    terminal's reports on a planner's order do not look for a link."""
    f.connection(actor=admin_user)  # an ERP is connected, but this order is not from it
    wo = wo_services.work_order_create(
        actor=planner, item=line.box, quantity=5, due_date=timezone.localdate()
    )
    wo = wo_services.work_order_release(actor=planner, work_order=wo)

    with CaptureQueriesContext(connection) as ctx:
        wo_services.operation_report(actor=operator, operation=op(wo, 10), good=2, scrap=0)

    assert [q["sql"] for q in ctx.captured_queries if "erp_connectors" in q["sql"]] == []
    assert OutboxMessage.objects.count() == 0


def test_the_erp_sums_partial_and_final_confirmations_and_reconciliation_agrees(
    erp_simulator, settings, box_routing, admin_user, integration_user, operator, supervisor
):
    """Delivered to the REST simulator: its per-operation sums equal the MES's (no finding);
    a difference in one operation opens a finding named after that operation."""
    sim = erp_simulator("rest")
    sim.seed({"id": "WO-9", "kind": "discrete", "material": "BOX-20", "quantity": "4", "uom": "ea"})
    settings.MES_ERP_CREDENTIALS = {"sim": {"secret": sim.simulator.config["secret"]}}
    settings.MES_ERP_DELIVER_ON_COMMIT = False
    conn = f.connection(actor=admin_user, base_url=sim.url, credentials_ref="sim")
    order_receive(
        actor=integration_user,
        connection=conn,
        order=f.discrete_order(erp_id="WO-9", material_code="BOX-20", quantity=D(4)),
    )
    wo = WorkOrder.objects.get()
    t0 = timezone.now() - timedelta(hours=3)
    _clocked(operator, op(wo, 10), t0, 90)
    wo_services.operation_report(actor=operator, operation=op(wo, 10), good=1)
    wo_services.operation_report(actor=operator, operation=op(wo, 10), good=3)
    wo_services.operation_consume(
        actor=operator, operation=op(wo, 20), code="LBL-LOT-1", quantity=4
    )
    wo_services.operation_report(actor=operator, operation=op(wo, 20), good=4)
    wo_services.work_order_close(actor=supervisor, work_order=wo)

    result = outbox.outbox_drain(budget_seconds=20)
    assert (result.dead, result.retried) == (0, 0), result.errors
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"delivered"}

    back = get_adapter(
        "rest", base_url=sim.url, credentials={"secret": sim.simulator.config["secret"]}
    ).read_back("WO-9")
    assert back["operations"]["0010"] == {
        "good": D(4),
        "scrap": D(0),
        "labor_hours": D("1.5"),
        "machine_hours": D(0),
        "final": True,
    }
    assert back["operations"]["0020"]["good"] == D(4)
    assert back["confirmed_good"] == D(8)
    assert services.reconciliation_run() == {"orders": 1, "findings": 0, "errors": 0}, list(
        ReconciliationFinding.objects.values_list("field", "mes_value", "erp_value")
    )

    # the ERP lost labor time of op 10: reconciliation names the operation and the figure
    erp = {**back, "operations": {**back["operations"]}}
    erp["operations"]["10"] = {**back["operations"]["0010"], "labor_hours": D("1")}
    del erp["operations"]["0010"]  # ("10" and "0010" name the same operation)
    link = conn.links.get()
    [finding] = services.order_reconcile(link=link, erp=erp)
    assert (finding.field, finding.mes_value, finding.erp_value) == (
        "op 0010 labor_hours",
        "1.5",
        "1",
    )


def test_the_rest_simulator_refuses_a_confirmation_after_the_final_one(erp_simulator, adapter_for):
    sim = erp_simulator("rest")
    sim.seed({"id": "R-1", "kind": "discrete", "material": "BOX-20", "quantity": "4", "uom": "ea"})
    adapter = adapter_for(sim)
    adapter.deliver(message("operation_confirmation", "p1", "R-1", good="3", final=False))
    adapter.deliver(message("operation_confirmation", "f1", "R-1", good="1", final=True))
    with pytest.raises(adapter_base.AdapterError, match="already finally confirmed"):
        adapter.deliver(message("operation_confirmation", "late", "R-1", good="1", final=False))
    op10 = adapter.read_back("R-1")["operations"]["0010"]
    assert (op10["good"], op10["scrap"], op10["labor_hours"], op10["final"]) == (
        D(4),
        D("5.0"),
        D("3.0"),
        True,
    )


def test_sap_sums_partial_confirmations_and_final_closes_the_operation(sap_simulator, adapter_for):
    sap_simulator.seed(
        {
            "id": "1000300",
            "material": "BOX-20",
            "quantity": "10",
            "uom": "EA",
            "operations": [{"operation": "0010", "work_center": "ASM"}],
        }
    )
    adapter = adapter_for(sap_simulator, plant="1010")
    long = "mes:SAP-PLANT-1010:1000300:operation_confirmation:op:10"  # cut to 40 in SAP
    for key, good, final in (
        (f"{long}:qr:1", "6", False),
        (f"{long}:qr:2", "3", False),
        (f"{long}:final", "0", True),
    ):
        adapter.deliver(
            message(
                "operation_confirmation",
                key,
                "1000300",
                attempt=1,
                good=good,
                scrap="0",
                labor_hours="0.5",
                machine_hours="0",
                final=final,
            )
        )
    sent = [c["FinalConfirmationType"] for c in sap_simulator.simulator.confirmations]
    assert sent == ["", "", "X"]  # partial, partial, final
    back = adapter.read_back("1000300")
    assert back["operations"]["0010"] == {
        "good": D(9),
        "scrap": D(0),
        "labor_hours": D("1.5"),
        "machine_hours": D(0),
        "final": True,
    }
    assert back["status"] == "confirmed"
    # reconciliation recognises each full key (by its GUID), not only the 40 characters
    assert all(f"{long}:{k}" in back["idempotency_keys"] for k in ("qr:1", "qr:2", "final"))
    assert f"{long}:qr:3" not in back["idempotency_keys"]


def test_d365_route_cards_mark_only_the_final_one_completed():
    adapter = get_adapter("d365", base_url="http://127.0.0.1:9", credentials={}, mapping={})
    partial = adapter.content(message("operation_confirmation", "p", "P-1", final=False))
    final = adapter.content(message("operation_confirmation", "f", "P-1", final=True))
    assert [line["OperationCompleted"] for line in partial["RouteCardLines"]] == ["No", "No"]
    assert final["RouteCardLines"][0]["OperationCompleted"] == "Yes"
    assert partial["RouteCardLines"][0]["GoodQuantity"] == 90


def test_an_oracle_confirmation_with_nothing_to_move_is_not_posted_nor_expected_back():
    adapter = get_adapter(
        "oracle",
        base_url="http://127.0.0.1:9",
        credentials={"username": "u", "password": "p"},
        mapping={"plant": "M1"},
    )
    result = adapter.deliver(
        message(
            "operation_confirmation",
            "z",
            "W-1",
            attempt=1,
            good="0",
            scrap="0",
            labor_hours="0",
            machine_hours="0",
            final=True,
        )
    )
    assert result.sent is False
