"""The whole mixed-mode chain against the SAP S/4HANA simulator (F1's, on 127.0.0.1):

SAP process order → pulled → resin batch → executed, completed → QA releases the batch and its
lot → the handoff rule makes the packaging work order with the lot reserved (it fulfils SAP's
packaging production order, pulled earlier and waiting for it) → serialized pails → closed →
the outbox delivers start, goods issues, goods receipts, yield, confirmations of every
operation and the completions of both orders back to SAP, each exactly once in effect.
"""

from decimal import Decimal

import pytest

from batches import services as batch_services
from batches.models import BatchOrder
from batches.tests import factories as bf
from batches.tests.test_services import run_batch
from erp_connectors import outbox
from erp_connectors.inbound import erp_user, orders_pull
from erp_connectors.models import ErpOrderLink, OutboxMessage
from erp_connectors.simulators import start_simulator
from erp_connectors.tests import factories as f
from genealogy import selectors as genealogy_selectors
from genealogy.models import Material
from genealogy.tests.factories import SerializedMaterialFactory
from workorders import services as wo_services
from workorders.choices import WorkOrderSource
from workorders.models import WorkOrder
from workorders.tests import conftest as workorders_conftest
from workorders.tests.factories import approved_versions, kit_operations

pytestmark = pytest.mark.django_db
line = workorders_conftest.line  # the packaging line of workorders' tests (ASM, LBL, QC ...)

KIT_OPS = ("0010", "0020", "0030", "0040", "0050")


@pytest.fixture
def sap(settings):
    sim = start_simulator("sap")
    settings.MES_ERP_CREDENTIALS = {
        "sap": {
            "username": sim.simulator.config["username"],
            "password": sim.simulator.config["password"],
        }
    }
    settings.MES_ERP_DELIVER_ON_COMMIT = False
    yield sim
    sim.stop()


def _run_units(wo, operator, label_lot, resin_lot):
    for unit in wo.units.order_by("serial_number"):
        wo_services.unit_complete_operation(actor=operator, unit=unit)  # 10 prepare
        wo_services.unit_scan_component(actor=operator, unit=unit, code=resin_lot.lot_number)
        wo_services.unit_complete_operation(actor=operator, unit=unit)  # 20 fill
        wo_services.unit_scan_component(actor=operator, unit=unit, code=label_lot.lot_number)
        wo_services.unit_complete_operation(actor=operator, unit=unit)  # 30 label
        chars = {
            c.name: c.pk
            for c in workorders_conftest.op(wo, 40).routing_operation.characteristics.all()
        }
        wo_services.unit_inspect(
            actor=operator,
            unit=unit,
            results={chars["Seal intact"]: "pass", chars["Lid torque"]: "3.0"},
        )
        wo_services.unit_complete_operation(actor=operator, unit=unit)  # 40 inspect
        wo_services.unit_complete_operation(actor=operator, unit=unit)  # 50 pack


def test_erp_order_to_resin_batch_to_packaged_units_and_back_to_sap(
    sap,
    line,
    admin_user,
    planner,
    recipe_author,
    qa_user,
    operator,
    operator2,
    supervisor,
    django_capture_on_commit_callbacks,
):
    # master data: the resin recipe, the pail packed from it, the handoff rule
    version = bf.recipe(author=recipe_author, reviewer=qa_user)
    resin = Material.objects.get(code="RESIN-T")
    pail = SerializedMaterialFactory(code="PAIL-650", name="Resin, 650 kg drum")
    approved_versions(
        item=pail,
        lines=[
            {"component": resin, "quantity_per": "650", "operation_seq": 20},
            {"component": line.label, "quantity_per": "1", "operation_seq": 30},
        ],
        operations=kit_operations(line.centers),
        author=planner,
        approver=qa_user,
    )
    wo_services.handoff_rule_create(
        actor=planner, material=resin, item=pail, area=line.area, serial_pattern="D650-{seq:04d}"
    )
    sap.seed(
        {
            "id": "1000001",
            "kind": "process",
            "material": "RESIN-T",
            "recipe": "RESIN-T",
            "quantity": "2000",
            "uom": "KG",
            "expected_yield_pct": "97.5",
        },
        {
            "id": "1000002",
            "kind": "discrete",
            "material": "PAIL-650",
            "quantity": "3",
            "uom": "EA",
            "operations": [{"operation": op, "work_center": "WC" + op} for op in KIT_OPS],
        },
    )
    conn = f.connection(
        actor=admin_user,
        code="SAP",
        kind="sap",
        base_url=sap.url,
        credentials_ref="sap",
        mapping={"plant": "1010", "uoms": {"kg": "KG", "ea": "EA"}},
    )

    # the ERP's orders: the resin batch now, the packaging order waits for its handoff
    results = orders_pull(connection=conn, actor=erp_user())
    assert sorted((r.erp_order_id, r.outcome) for r in results) == [
        ("1000001", "created"),
        ("1000002", "created"),
    ]
    batch = BatchOrder.objects.get()
    assert (batch.batch_size, batch.recipe_version) == (Decimal("2000"), version)
    waiting = ErpOrderLink.objects.get(erp_order_id="1000002")
    assert (waiting.work_order, waiting.material_code) == (None, "PAIL-650")

    # the resin batch runs, completes and is released by QA with its lot
    unit = bf.reactor(cleaned_by=operator, verified_by=supervisor)
    batch_services.batch_start(actor=operator, batch=batch, unit=unit)
    run_batch(batch, operator, operator2, qa_user, yield_qty="1950")
    batch_services.batch_complete(actor=operator, batch=batch)
    with django_capture_on_commit_callbacks(execute=True):
        batch_services.batch_release(
            actor=qa_user, batch=batch, signer=bf.signer_for(qa_user), reason="record reviewed"
        )

    # the handoff made the packaging work order and it fulfils SAP's order 1000002
    wo = WorkOrder.objects.get(item=pail)
    assert (wo.source, wo.quantity) == (WorkOrderSource.HANDOFF, Decimal(3))  # 1950 // 650
    waiting.refresh_from_db()
    assert waiting.work_order == wo
    resin_lot = BatchOrder.objects.get(pk=batch.pk).output_lot
    _run_units(wo, operator, line.labels, resin_lot)
    wo_services.work_order_close(actor=supervisor, work_order=wo)

    # the genealogy reaches from a pail back to the raw materials of the batch
    serials = sorted(wo.units.values_list("serial_number", flat=True))
    assert serials == ["D650-0001", "D650-0002", "D650-0003"]

    # everything goes back to SAP
    for _ in range(5):
        outbox.outbox_drain(budget_seconds=20)
    messages = OutboxMessage.objects.order_by("id")
    assert {m.status for m in messages} == {"delivered"}, [
        (m.kind, m.erp_order_id, m.last_error) for m in messages if m.status != "delivered"
    ]
    by_order = {}
    for m in messages:
        by_order.setdefault(m.erp_order_id, []).append(m.kind)
    assert by_order["1000001"][0] == "order_start"
    assert by_order["1000001"][-2:] == ["batch_yield", "order_completion"]
    # each pail confirmed at each operation as it was done (3 × 5 partial), then the final
    # confirmation of each operation at close
    assert by_order["1000002"].count("operation_confirmation") == 3 * 5 + 5
    assert by_order["1000002"].count("goods_issue") == 6  # 3 × 650 kg resin, 3 labels
    assert by_order["1000002"][-2:] == ["goods_receipt", "order_completion"]

    state = sap.state()
    keys = set(messages.values_list("idempotency_key", flat=True))
    effective = state["effective"]
    assert {k: effective[k]["count"] for k in keys if k in effective} == dict.fromkeys(
        [k for k in keys if k in effective], 1
    )
    from erp_connectors.outbox import adapter_for

    sap_adapter = adapter_for(conn)
    packaging = sap_adapter.read_back("1000002")
    resin_order = sap_adapter.read_back("1000001")
    sap_adapter.close()
    assert packaging["confirmed_good"] == Decimal(15)  # 3 pails at each of 5 operations
    assert {
        op: (o["good"], o["final"]) for op, o in packaging["operations"].items()
    } == dict.fromkeys(KIT_OPS, (Decimal(3), True))
    assert packaging["goods_issues"] == Decimal(1953)  # 1950 kg resin + 3 labels
    assert resin_order["goods_receipts"] == Decimal(1950)
    # reconciliation reads both orders back: SAP's sums (per operation too) and keys agree
    from erp_connectors import services as erp_services
    from erp_connectors.models import ReconciliationFinding

    assert erp_services.reconciliation_run() == {"orders": 2, "findings": 0, "errors": 0}, list(
        ReconciliationFinding.objects.values_list("erp_order_id", "field", "mes_value", "erp_value")
    )
    trace = genealogy_selectors.lot_trace_backward(lot=wo.units.get(serial_number="D650-0001").lot)
    reached = {node.lot_number for node in trace.nodes.values()}
    assert resin_lot.lot_number in reached
    assert {"LBL-LOT-1"} <= reached
