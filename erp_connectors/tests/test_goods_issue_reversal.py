"""Material returned to stock (`lot.returned`): the goods issue of the consumption is reversed
in the ERP, in the transaction of the return, and reconciliation compares the net issue."""

from decimal import Decimal

import pytest
from django.db import transaction

from batches import services as batch_services
from batches.models import BatchOrder
from batches.tests import factories as bf
from erp_connectors import outbox, services
from erp_connectors.inbound import order_receive
from erp_connectors.models import OutboxMessage, ReconciliationFinding
from erp_connectors.tests import factories as f
from erp_connectors.tests.adapter_payloads import message
from genealogy import services as genealogy_services
from genealogy.choices import EventType
from genealogy.models import LotEvent

pytestmark = pytest.mark.django_db

SAP_ORDER = "1000301"
REST_ORDER = "PO-R1"


def _dispense(batch, operator, supervisor, qa, quantity="800"):
    """Start the batch, start its charge phase and dispense `quantity` kg of a MONO drum."""
    unit = bf.reactor(cleaned_by=operator, verified_by=supervisor)
    batch_services.batch_start(actor=operator, batch=batch, unit=unit)
    phase = batch_services.phase_start(actor=operator, phase=bf.phase(batch, 1))
    drum = bf.released_lot(material="RM-MONO", quantity="1000", qa=qa)
    batch_services.material_dispense(actor=operator, phase=phase, lot=drum, quantity=quantity)
    return LotEvent.objects.get(lot=drum, type=EventType.CONSUMED)


def _return(consumption, operator, quantity):
    """What `batches.services.material_return` does for a return to stock: genealogy's
    return of part of the consumption (same context as the consumption)."""
    return genealogy_services.lot_return(
        actor=operator, consumption=consumption, quantity=quantity, reason="drum remainder"
    )


def _drain():
    for _ in range(5):
        outbox.outbox_drain(budget_seconds=20)
    messages = OutboxMessage.objects.order_by("id")
    assert {m.status for m in messages} == {"delivered"}, [
        (m.kind, m.last_error) for m in messages if m.status != "delivered"
    ]
    return messages


# ------------------------------------------------------------------ the outbox
@pytest.fixture
def erp_batch(admin_user, recipe_author, qa_user, integration_user):
    conn = f.connection(actor=admin_user)
    bf.recipe(author=recipe_author, reviewer=qa_user)
    order_receive(actor=integration_user, connection=conn, order=f.process_order())
    return BatchOrder.objects.get()


def test_a_return_to_stock_writes_the_reversal_of_its_goods_issue(
    erp_batch, operator, supervisor, qa_user
):
    consumption = _dispense(erp_batch, operator, supervisor, qa_user)
    issue = OutboxMessage.objects.get(kind="goods_issue")

    returned = _return(consumption, operator, "150")

    reversal = OutboxMessage.objects.exclude(pk=issue.pk).get(kind="goods_issue")
    assert reversal.source == f"lotevent:{returned.pk}"
    assert reversal.payload == {
        **{k: issue.payload[k] for k in ("material", "lot", "uom")},
        "quantity": "150",
        "posted_at": reversal.payload["posted_at"],
        "reversal": True,
        "reverses": issue.idempotency_key,
    }
    assert issue.payload["quantity"] == "800"
    assert "reversal" not in issue.payload


def test_a_rolled_back_return_leaves_no_reversal(erp_batch, operator, supervisor, qa_user):
    consumption = _dispense(erp_batch, operator, supervisor, qa_user)
    before = OutboxMessage.objects.count()

    def return_then_lose_power():
        with transaction.atomic():
            _return(consumption, operator, "150")
            assert OutboxMessage.objects.count() == before + 1
            raise RuntimeError("the terminal lost power")

    with pytest.raises(RuntimeError):
        return_then_lose_power()

    assert OutboxMessage.objects.count() == before


def test_a_return_of_an_order_not_from_the_erp_writes_nothing(
    recipe_author, qa_user, planner, operator, supervisor
):
    version = bf.recipe(author=recipe_author, reviewer=qa_user)
    unit = bf.reactor(cleaned_by=operator, verified_by=supervisor)
    batch = bf.started_batch(planner=planner, operator=operator, version=version, unit=unit)
    phase = batch_services.phase_start(actor=operator, phase=bf.phase(batch, 1))
    drum = bf.released_lot(material="RM-MONO", quantity="1000", qa=qa_user)
    batch_services.material_dispense(actor=operator, phase=phase, lot=drum, quantity="800")
    _return(LotEvent.objects.get(lot=drum, type=EventType.CONSUMED), operator, "100")
    assert OutboxMessage.objects.count() == 0


def test_the_mes_side_of_reconciliation_is_the_net_issue(erp_batch, operator, supervisor, qa_user):
    consumption = _dispense(erp_batch, operator, supervisor, qa_user)
    _return(consumption, operator, "150")
    _return(consumption, operator, "50")
    OutboxMessage.objects.update(status="delivered")

    link = OutboxMessage.objects.first().link
    assert services.mes_view(link)["goods_issues"] == Decimal("600")


# ------------------------------------------------------------ end to end: SAP
@pytest.fixture
def sap_batch(sap_simulator, settings, admin_user, recipe_author, qa_user, integration_user):
    config = sap_simulator.simulator.config
    settings.MES_ERP_CREDENTIALS = {
        "sap": {"username": config["username"], "password": config["password"]}
    }
    settings.MES_ERP_DELIVER_ON_COMMIT = False
    sap_simulator.seed(
        {
            "id": SAP_ORDER,
            "kind": "process",
            "material": "RESIN-T",
            "recipe": "RESIN-T",
            "quantity": "2000",
            "uom": "KG",
        }
    )
    conn = f.connection(
        actor=admin_user,
        code="SAP",
        kind="sap",
        base_url=sap_simulator.url,
        credentials_ref="sap",
        mapping={"plant": "1010", "uoms": {"kg": "KG", "ea": "EA"}},
    )
    bf.recipe(author=recipe_author, reviewer=qa_user)
    order_receive(actor=integration_user, connection=conn, order=f.process_order(SAP_ORDER))
    return BatchOrder.objects.get()


def test_sap_gets_movement_262_and_reconciliation_agrees_on_the_net_issue(
    sap_batch, sap_simulator, operator, supervisor, qa_user
):
    consumption = _dispense(sap_batch, operator, supervisor, qa_user)
    _return(consumption, operator, "150")

    _drain()

    items = [i for doc in sap_simulator.simulator.material_docs for i in doc["_items"]]
    assert [(i["GoodsMovementType"], Decimal(i["QuantityInEntryUnit"])) for i in items] == [
        ("261", Decimal(800)),
        ("262", Decimal(150)),
    ]
    assert items[1]["Batch"] == consumption.lot.lot_number
    conn = sap_batch_connection()
    adapter = outbox.adapter_for(conn)
    try:
        assert adapter.read_back(SAP_ORDER)["goods_issues"] == Decimal(650)
    finally:
        adapter.close()
    assert services.reconciliation_run(connection=conn) == {
        "orders": 1,
        "findings": 0,
        "errors": 0,
    }
    assert not ReconciliationFinding.objects.exists()


def sap_batch_connection():
    return OutboxMessage.objects.select_related("connection").first().connection


# ----------------------------------------------------------- end to end: REST
def test_rest_subtracts_the_reversal_and_reconciliation_agrees_on_the_net_issue(
    rest_simulator,
    settings,
    admin_user,
    recipe_author,
    qa_user,
    integration_user,
    operator,
    supervisor,
):
    settings.MES_ERP_CREDENTIALS = {"sim": {"secret": rest_simulator.simulator.config["secret"]}}
    settings.MES_ERP_DELIVER_ON_COMMIT = False
    rest_simulator.seed(
        {"id": REST_ORDER, "kind": "process", "material": "RESIN-T", "quantity": "2000"}
    )
    conn = f.connection(actor=admin_user, base_url=rest_simulator.url, credentials_ref="sim")
    bf.recipe(author=recipe_author, reviewer=qa_user)
    order_receive(actor=integration_user, connection=conn, order=f.process_order(REST_ORDER))
    batch = BatchOrder.objects.get()
    consumption = _dispense(batch, operator, supervisor, qa_user)
    _return(consumption, operator, "150")
    _return(consumption, operator, "25.5")

    _drain()

    totals = rest_simulator.state()["erp"]["orders"][REST_ORDER]["totals"]
    assert Decimal(totals["goods_issues"]) == Decimal("624.5")
    assert services.reconciliation_run(connection=conn) == {
        "orders": 1,
        "findings": 0,
        "errors": 0,
    }
    # and a difference would be found: the ERP holding the gross issue is a finding
    back = outbox.adapter_for(conn).read_back(REST_ORDER)
    back["goods_issues"] = Decimal(800)
    link = OutboxMessage.objects.first().link
    (finding,) = services.order_reconcile(link=link, erp=back)
    assert (finding.field, finding.mes_value, finding.erp_value) == ("goods_issues", "624.5", "800")


# ------------------------------------------------------- each adapter's mapping
def _reversal(key, order, quantity="10.5"):
    return message(
        "goods_issue", key, order, attempt=1, reversal=True, reverses="gi", quantity=quantity
    )


def test_sap_maps_a_reversal_to_movement_262_and_refuses_more_than_was_issued(
    sap_simulator, adapter_for
):
    from erp_connectors.adapters.base import AdapterError

    sap_simulator.seed({"id": "1000206", "material": "FG-1001", "quantity": "100", "uom": "KG"})
    adapter = adapter_for(sap_simulator, plant="1010", uoms={"kg": "KG"})
    adapter.deliver(message("goods_issue", "gi", "1000206", attempt=1))
    adapter.deliver(_reversal("gr-1", "1000206"))
    _issue, reversal = sap_simulator.simulator.material_docs
    assert reversal["GoodsMovementCode"] == "03"
    assert (
        reversal["_items"][0].items()
        >= {
            "GoodsMovementType": "262",
            "Batch": "L-1",
            "QuantityInEntryUnit": "10.500",
            "MaterialDocumentItemText": "gr-1",
        }.items()
    )
    assert adapter.read_back("1000206")["goods_issues"] == Decimal(30)  # 40.5 - 10.5
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(_reversal("gr-2", "1000206", quantity="30.5"))
    assert not exc.value.retryable
    assert "exceeds" in exc.value.detail


def test_oracle_maps_a_reversal_to_a_material_return(oracle_simulator, adapter_for):
    oracle_simulator.seed(
        {"id": "M1-1208", "plant": "M1", "material": "AS54888", "quantity": "100", "uom": "kg"}
    )
    adapter = adapter_for(oracle_simulator, plant="M1", subinventory="Stores")
    adapter.deliver(message("goods_issue", "gi", "M1-1208", attempt=1))
    adapter.deliver(_reversal("gr-1", "M1-1208"))
    issue, reversal = oracle_simulator.simulator.material_transactions
    assert (issue["TransactionTypeCode"], reversal["TransactionTypeCode"]) == (
        "MATERIAL_ISSUE",
        "MATERIAL_RETURN",
    )
    assert (reversal["TransactionQuantity"], reversal["LotNumber"]) == (10.5, "L-1")
    assert adapter.read_back("M1-1208")["goods_issues"] == Decimal(30)


def test_d365_maps_a_reversal_to_a_negative_picking_list_line(d365_simulator, adapter_for):
    import json
    import time

    d365_simulator.seed({"id": "P000123", "material": "D0001", "quantity": "100", "uom": "pcs"})
    adapter = adapter_for(d365_simulator, company="USMF", uoms={"kg": "kg"})
    adapter.deliver(message("order_start", "s", "P000123", attempt=1))
    adapter.deliver(message("goods_issue", "gi", "P000123", attempt=1))
    adapter.deliver(_reversal("gr-1", "P000123"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        log = d365_simulator.state()["erp"]["messages"]
        if len(log) == 3 and all(m["MessageState"] != "Queued" for m in log):
            break
        time.sleep(0.02)
    assert [m["MessageState"] for m in log] == ["Processed"] * 3, log
    (line,) = json.loads(log[2]["MessageContent"])["PickingListLines"]
    assert (line["ConsumptionBOMQuantity"], line["ItemBatchNumber"]) == (-10.5, "L-1")
    assert adapter.read_back("P000123")["goods_issues"] == Decimal(30)


def test_rest_sends_the_reversal_flag_and_the_erp_subtracts_it(rest_simulator, adapter_for):
    rest_simulator.seed({"id": "4711", "material": "PELLET", "quantity": "100", "uom": "KG"})
    adapter = adapter_for(rest_simulator, uoms={"kg": "KG"})
    adapter.deliver(message("goods_issue", "gi", "4711"))
    adapter.deliver(_reversal("gr-1", "4711"))
    posted = rest_simulator.state()["effects"][1]["data"]["payload"]
    assert (posted["reversal"], posted["reverses"], posted["quantity"]) == (True, "gi", "10.5")
    assert adapter.read_back("4711")["goods_issues"] == Decimal(30)
    from erp_connectors.adapters.base import AdapterError

    with pytest.raises(AdapterError) as exc:
        adapter.deliver(_reversal("gr-2", "4711", quantity="30.5"))
    assert not exc.value.retryable
    assert "exceeds" in exc.value.detail


def test_the_b2mml_performance_reports_the_net_consumption(
    erp_batch, operator, supervisor, qa_user
):
    from xml.etree import ElementTree as ET

    from erp_connectors import b2mml

    consumption = _dispense(erp_batch, operator, supervisor, qa_user)
    _return(consumption, operator, "150")

    root = ET.fromstring(b2mml.batch_performance_xml(erp_batch))  # noqa: S314 (our own output)

    ns = {"b": b2mml.NS}
    consumed = [
        (a.find("b:MaterialDefinitionID", ns).text, a.find("b:Quantity/b:QuantityString", ns).text)
        for a in root.findall(".//b:MaterialActual", ns)
        if a.find("b:MaterialUse", ns).text == "Consumed"
    ]
    assert consumed == [("RM-MONO", "650")]
