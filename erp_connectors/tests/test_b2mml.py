"""B2MML both ways: a batch's and a work order's OperationsPerformance exported and parsed
back; an OperationsSchedule parsed into canonical orders (process and discrete)."""

from decimal import Decimal
from xml.etree import ElementTree as ET

import pytest

from batches import services as batch_services
from batches.models import BatchOrder
from batches.tests import factories as bf
from batches.tests.test_services import run_batch
from erp_connectors import b2mml
from erp_connectors.inbound import order_receive
from erp_connectors.tests import factories as f
from mes.exceptions import InvalidInput
from workorders.models import WorkOrder
from workorders.tests import conftest as workorders_conftest

pytestmark = pytest.mark.django_db
line = workorders_conftest.line
NS = {"b": b2mml.NS}


def test_a_batch_performance_parses_back_with_its_materials(
    admin_user, recipe_author, qa_user, integration_user, operator, operator2, supervisor
):
    version = bf.recipe(author=recipe_author, reviewer=qa_user)
    conn = f.connection(actor=admin_user)
    order_receive(actor=integration_user, connection=conn, order=f.process_order("PO-9"))
    batch = BatchOrder.objects.get(recipe_version=version)
    batch_services.batch_start(
        actor=operator, batch=batch, unit=bf.reactor(cleaned_by=operator, verified_by=supervisor)
    )
    run_batch(batch, operator, operator2, qa_user, yield_qty="1950")
    batch_services.batch_complete(actor=operator, batch=batch)
    batch.refresh_from_db()

    root = ET.fromstring(b2mml.batch_performance_xml(batch))  # noqa: S314 (our own output)

    assert root.tag == f"{{{b2mml.NS}}}ShowOperationsPerformance"
    assert root.find("b:ApplicationArea/b:BODID", NS).text
    perf = root.find("b:DataArea/b:OperationsPerformance", NS)
    assert perf.find("b:ID", NS).text == batch.number
    assert perf.find("b:OperationsScheduleID", NS).text == "PO-9"
    assert perf.find("b:PerformanceState", NS).text == "Completed"
    assert perf.find("b:Endtime", NS) is not None  # sic, as in the V0701 XSD
    segments = perf.findall("b:OperationsResponse/b:SegmentResponse", NS)
    assert len(segments) == batch.phases.count() + 1
    actuals = perf.findall(".//b:MaterialActual", NS)
    consumed = [
        (a.find("b:MaterialDefinitionID", NS).text, a.find("b:Quantity/b:QuantityString", NS).text)
        for a in actuals
        if a.find("b:MaterialUse", NS).text == "Consumed"
    ]
    produced = [a for a in actuals if a.find("b:MaterialUse", NS).text == "Produced"]
    assert sorted(consumed) == [
        ("RM-AID", "5"),
        ("RM-INIT", "10"),
        ("RM-MONO", "800"),
        ("RM-SOLV", "1200"),
    ]
    assert produced[0].find("b:MaterialLotID", NS).text == batch.output_lot.lot_number
    assert produced[0].find("b:Quantity/b:UnitOfMeasure", NS).text == "kg"


def test_a_work_order_performance_has_one_segment_per_operation(admin_user, line, integration_user):
    conn = f.connection(actor=admin_user)
    order_receive(actor=integration_user, connection=conn, order=f.discrete_order("WO-9"))
    wo = WorkOrder.objects.get()

    root = ET.fromstring(b2mml.work_order_performance_xml(wo))  # noqa: S314 (our own output)

    perf = root.find("b:DataArea/b:OperationsPerformance", NS)
    assert perf.find("b:OperationsScheduleID", NS).text == "WO-9"
    segments = perf.findall("b:OperationsResponse/b:SegmentResponse", NS)
    assert [s.find("b:ID", NS).text for s in segments] == ["10", "20", "30", "40", "50"]
    data = {
        d.find("b:ID", NS).text: d.find("b:Value/b:ValueString", NS).text
        for d in segments[0].findall("b:SegmentData", NS)
    }
    assert data == {"good": "0", "scrap": "0", "labor_hours": "0", "machine_hours": "0"}


SCHEDULE = """<?xml version="1.0"?>
<b:OperationsSchedule xmlns:b="http://www.mesa.org/xml/B2MML">
  <b:ID>S-7</b:ID><b:Version>4</b:Version>
  <b:OperationsRequest>
    <b:ID>P-1</b:ID><b:Priority>2</b:Priority><b:RequestState>Forecast</b:RequestState>
    <b:OperationsDefinitionID>RESIN-T</b:OperationsDefinitionID>
    <b:SegmentRequirement><b:ID>1</b:ID>
      <b:MaterialRequirement><b:MaterialDefinitionID>RM-MONO</b:MaterialDefinitionID>
        <b:MaterialUse>Consumed</b:MaterialUse>
        <b:Quantity><b:QuantityString>800</b:QuantityString><b:UnitOfMeasure>kg</b:UnitOfMeasure></b:Quantity>
      </b:MaterialRequirement>
      <b:MaterialRequirement><b:MaterialDefinitionID>RESIN-T</b:MaterialDefinitionID>
        <b:MaterialUse>Produced</b:MaterialUse>
        <b:Quantity><b:QuantityString>2000.500</b:QuantityString><b:UnitOfMeasure>kg</b:UnitOfMeasure></b:Quantity>
      </b:MaterialRequirement>
    </b:SegmentRequirement>
  </b:OperationsRequest>
  <b:OperationsRequest>
    <b:ID>D-1</b:ID><b:EndTime>2026-12-01T12:00:00+00:00</b:EndTime>
    <b:SegmentRequirement><b:ID>1</b:ID>
      <b:EquipmentRequirement><b:EquipmentID>ASM</b:EquipmentID></b:EquipmentRequirement>
      <b:MaterialRequirement><b:MaterialDefinitionID>KIT-20</b:MaterialDefinitionID>
        <b:MaterialUse>Produced</b:MaterialUse>
        <b:Quantity><b:QuantityString>12</b:QuantityString><b:UnitOfMeasure>ea</b:UnitOfMeasure></b:Quantity>
      </b:MaterialRequirement>
    </b:SegmentRequirement>
  </b:OperationsRequest>
</b:OperationsSchedule>"""


def test_an_operations_schedule_becomes_canonical_orders():
    process, discrete = b2mml.schedule_orders(SCHEDULE)

    assert (process.erp_order_id, process.version, process.kind, process.status) == (
        "P-1",
        "4",
        "process",
        "planned",
    )
    assert (process.material_code, process.quantity, process.uom, process.recipe_code) == (
        "RESIN-T",
        Decimal("2000.500"),
        "kg",
        "RESIN-T",
    )
    assert process.priority == 2
    assert (discrete.kind, discrete.material_code, discrete.quantity, discrete.work_center) == (
        "discrete",
        "KIT-20",
        Decimal("12"),
        "ASM",
    )
    assert discrete.due.isoformat() == "2026-12-01T12:00:00+00:00"


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("<nope", "not well-formed"),
        ("<x/>", "No OperationsSchedule"),
        (
            '<OperationsSchedule xmlns="http://www.mesa.org/xml/B2MML"><OperationsRequest>'
            "<ID>X</ID></OperationsRequest></OperationsSchedule>",
            "names no produced material",
        ),
    ],
)
def test_a_bad_schedule_is_refused_with_a_reason(xml, message):
    with pytest.raises(InvalidInput, match=message):
        b2mml.schedule_orders(xml)
