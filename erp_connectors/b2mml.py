"""B2MML (ISA-95 XML, V0701): a batch's or work order's performance as a
`ShowOperationsPerformance` message, and an `OperationsSchedule` imported into batch orders and
work orders through the same idempotent path as pushed orders (`inbound.order_receive`).

Element names and order follow `B2MML-OperationsPerformance.xsd` / `-OperationsSchedule.xsd`
of MESA International's B2MML-BatchML V0701 (note `Endtime`, with a lowercase t, in
OperationsPerformance). Quantities travel as strings with their unit, never floats.
The Business To Manufacturing Markup Language (B2MML) is used courtesy of MESA International.
"""

import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree import ElementTree as ET

from django.utils import timezone

from erp_connectors.adapters.base import InboundOrder
from erp_connectors.models import ErpConnection, ErpOrderLink
from mes.exceptions import InvalidInput

NS = "http://www.mesa.org/xml/B2MML"
ET.register_namespace("", NS)

REQUEST_STATES = {
    "released": "released",
    "ready": "released",
    "running": "released",
    "forecast": "planned",
    "waiting": "planned",
    "cancelled": "cancelled",
    "aborted": "cancelled",
}


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    element = ET.SubElement(parent, _q(tag))
    if text is not None:
        element.text = text.isoformat() if isinstance(text, datetime) else str(text)
    return element


def _quantity(parent: ET.Element, value: Any, uom: str) -> None:
    quantity = _sub(parent, "Quantity")
    _sub(quantity, "QuantityString", format(Decimal(str(value)).normalize(), "f"))
    _sub(quantity, "DataType", "decimal")
    _sub(quantity, "UnitOfMeasure", uom)


def _material(
    parent: ET.Element, *, ident: str, material: str, lot: str, use: str, quantity: Any, uom: str
) -> None:
    actual = _sub(parent, "MaterialActual")
    _sub(actual, "ID", ident)
    _sub(actual, "MaterialDefinitionID", material)
    _sub(actual, "MaterialLotID", lot)
    _sub(actual, "MaterialUse", use)
    _quantity(actual, quantity, uom)


def _segment_data(parent: ET.Element, ident: str, value: Any, uom: str) -> None:
    data = _sub(parent, "SegmentData")
    _sub(data, "ID", ident)
    val = _sub(data, "Value")
    _sub(val, "ValueString", format(Decimal(str(value)).normalize(), "f"))
    _sub(val, "DataType", "decimal")
    _sub(val, "UnitOfMeasure", uom)


def _message(site_code: str) -> tuple[ET.Element, ET.Element]:
    root = ET.Element(_q("ShowOperationsPerformance"), {"releaseID": "7.01"})
    area = _sub(root, "ApplicationArea")
    sender = _sub(area, "Sender")
    _sub(sender, "LogicalID", f"MES-{site_code}" if site_code else "MES")
    _sub(area, "CreationDateTime", timezone.now())
    _sub(area, "BODID", uuid.uuid4())
    data = _sub(root, "DataArea")
    _sub(data, "Show")
    return root, data


def _performance(
    data: ET.Element, *, ident: str, start: Any, end: Any, scope: str, schedule_id: str, state: str
) -> ET.Element:
    perf = _sub(data, "OperationsPerformance")
    _sub(perf, "ID", ident)
    _sub(perf, "PublishedDate", timezone.now())
    if start:
        _sub(perf, "StartTime", start)
    if end:
        _sub(perf, "Endtime", end)
    hs = _sub(perf, "HierarchyScope")
    _sub(hs, "EquipmentID", scope)
    _sub(hs, "EquipmentElementLevel", "WorkCenter")
    _sub(perf, "OperationsType", "Production")
    if schedule_id:
        _sub(perf, "OperationsScheduleID", schedule_id)
    _sub(perf, "PerformanceState", state)
    return perf


def _erp_id(**kw: Any) -> str:
    link = ErpOrderLink.objects.filter(**kw).first()
    return link.erp_order_id if link else ""


def _state(status: str) -> str:
    return {
        "created": "Ready",
        "planned": "Waiting",
        "started": "Running",
        "released": "Running",
        "completed": "Completed",
        "closed": "Completed",
        "cancelled": "Aborted",
    }.get(status, "Other")


def batch_performance_xml(batch: Any) -> bytes:
    """The batch's performance: one segment response per phase (times, unit), the materials
    dispensed (Consumed: less what went back to stock, as the ERP's net goods issue) and the
    lot made (Produced), with quantities and units."""
    from batches.models import MaterialUse
    from genealogy.services import returned_quantities

    erp_id = _erp_id(batch=batch)
    unit_code = batch.unit.code if batch.unit_id else ""
    root, data = _message("")
    perf = _performance(
        data,
        ident=batch.number,
        start=batch.started_at,
        end=batch.completed_at,
        scope=unit_code or "-",
        schedule_id=erp_id,
        state=_state(batch.status),
    )
    response = _sub(perf, "OperationsResponse")
    _sub(response, "ID", batch.number)
    if erp_id:
        _sub(response, "OperationsRequestID", erp_id)
    _sub(response, "OperationsDefinitionID", batch.control_recipe["recipe"]["code"])
    _sub(response, "ResponseState", _state(batch.status))
    uses = {}
    for use in MaterialUse.objects.filter(phase__batch=batch).select_related("material", "lot"):
        uses.setdefault(use.phase_id, []).append(use)
    returned = returned_quantities([u.consumption_id for phase in uses.values() for u in phase])
    for phase in batch.phases.order_by("sequence"):
        seg = _sub(response, "SegmentResponse")
        _sub(seg, "ID", phase.path)
        if phase.started_at:
            _sub(seg, "ActualStartTime", phase.started_at)
        if phase.completed_at:
            _sub(seg, "ActualEndTime", phase.completed_at)
        _sub(seg, "ProcessSegmentID", phase.name)
        _sub(
            seg,
            "SegmentState",
            "Completed"
            if phase.status == "completed"
            else "Running"
            if phase.status == "active"
            else "Waiting",
        )
        if unit_code:
            eq = _sub(seg, "EquipmentActual")
            _sub(eq, "EquipmentID", unit_code)
        for use in uses.get(phase.pk, []):
            _material(
                seg,
                ident=f"use-{use.pk}",
                material=use.material.code,
                lot=use.lot.lot_number,
                use="Consumed",
                quantity=use.quantity - returned.get(use.consumption_id, 0),
                uom=use.uom,
            )
    for record in batch.yields.select_related("material", "lot"):
        seg = _sub(response, "SegmentResponse")
        _sub(seg, "ID", "yield")
        _sub(seg, "ActualEndTime", record.recorded_at)
        _sub(seg, "SegmentState", "Completed")
        _segment_data(seg, "yield_pct", record.yield_pct, "%")
        _segment_data(seg, "theoretical", record.expected_quantity, record.uom)
        _material(
            seg,
            ident=f"yield-{record.pk}",
            material=record.material.code,
            lot=record.lot.lot_number,
            use="Produced",
            quantity=record.quantity,
            uom=record.uom,
        )
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def work_order_performance_xml(work_order: Any) -> bytes:
    """The work order's performance: one segment response per operation (work center, good,
    scrap, labor and machine hours, components consumed) and the produced lot or units."""
    from workorders.models import ComponentConsumption, LaborRecord, MachineRecord

    erp_id = _erp_id(work_order=work_order)
    root, data = _message("")
    perf = _performance(
        data,
        ident=work_order.number,
        start=work_order.released_at,
        end=work_order.closed_at,
        scope=work_order.area.code,
        schedule_id=erp_id,
        state=_state(work_order.status),
    )
    response = _sub(perf, "OperationsResponse")
    _sub(response, "ID", work_order.number)
    if erp_id:
        _sub(response, "OperationsRequestID", erp_id)
    _sub(response, "ResponseState", _state(work_order.status))
    item = work_order.item
    for op in work_order.operations.select_related("work_center").order_by("seq"):
        seg = _sub(response, "SegmentResponse")
        _sub(seg, "ID", str(op.seq))
        _sub(seg, "ProcessSegmentID", op.name)
        _sub(seg, "SegmentState", "Completed" if work_order.status == "closed" else "Running")
        _segment_data(seg, "good", op.qty_good, item.uom)
        _segment_data(seg, "scrap", op.qty_scrap, item.uom)
        for label, model in (("labor_hours", LaborRecord), ("machine_hours", MachineRecord)):
            seconds = sum((r.seconds or 0 for r in model.objects.filter(operation=op)), 0)
            _segment_data(seg, label, (Decimal(seconds) / 3600).quantize(Decimal("0.0001")), "h")
        eq = _sub(seg, "EquipmentActual")
        _sub(eq, "EquipmentID", op.work_center.code)
        for use in ComponentConsumption.objects.filter(operation=op).select_related(
            "lot__material"
        ):
            _material(
                seg,
                ident=f"use-{use.pk}",
                material=use.lot.material.code,
                lot=use.lot.lot_number,
                use="Consumed",
                quantity=use.quantity,
                uom=use.lot.uom,
            )
        if op.is_last:
            if work_order.finished_lot_id:
                lot = work_order.finished_lot
                _material(
                    seg,
                    ident=f"made-{lot.pk}",
                    material=item.code,
                    lot=lot.lot_number,
                    use="Produced",
                    quantity=lot.quantity if lot.quantity else op.qty_good,
                    uom=lot.uom,
                )
            for unit in work_order.units.filter(status="finished").select_related("lot"):
                _material(
                    seg,
                    ident=f"unit-{unit.pk}",
                    material=item.code,
                    lot=unit.serial_number,
                    use="Produced",
                    quantity=1,
                    uom=item.uom,
                )
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# --- import ----------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _text(element: ET.Element | None, name: str, default: str = "") -> str:
    if element is None:
        return default
    child = _child(element, name)
    return (child.text or "").strip() if child is not None and child.text else default


def _parse(xml: bytes | str) -> ET.Element:
    raw = xml.encode() if isinstance(xml, str) else xml
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise InvalidInput("DTDs and entities are not accepted in B2MML documents.")
    try:
        return ET.fromstring(raw)  # noqa: S314 (no DTD: entity expansion refused above)
    except ET.ParseError as exc:
        raise InvalidInput(f"The document is not well-formed XML: {exc}.") from exc


def find_first(root: ET.Element, name: str) -> ET.Element | None:
    """The first element named `name` (any namespace) in the tree, `root` included."""
    for element in root.iter():
        if _local(element.tag) == name:
            return element
    return None


def _find_schedule(root: ET.Element) -> ET.Element:
    schedule = find_first(root, "OperationsSchedule")
    if schedule is None:
        raise InvalidInput("No OperationsSchedule element in the document.")
    return schedule


def schedule_orders(xml: bytes | str) -> list[InboundOrder]:
    """The operations requests of an OperationsSchedule as canonical inbound orders. A request
    naming an OperationsDefinitionID is a process order on that recipe; otherwise discrete.
    The produced material is the MaterialRequirement with MaterialUse Produced."""
    schedule = _find_schedule(_parse(xml))
    version = _text(schedule, "Version", "1")
    orders = []
    for request in _children(schedule, "OperationsRequest"):
        erp_id = _text(request, "ID")
        if not erp_id:
            raise InvalidInput("An OperationsRequest has no ID.")
        recipe = _text(request, "OperationsDefinitionID")
        produced = None
        work_center = ""
        for seg in _children(request, "SegmentRequirement"):
            recipe = recipe or _text(seg, "OperationsDefinitionID")
            for eq in _children(seg, "EquipmentRequirement"):
                work_center = work_center or _text(eq, "EquipmentID")
            for mat in _children(seg, "MaterialRequirement"):
                if _text(mat, "MaterialUse").lower() in ("produced", "material produced"):
                    produced = mat
        if produced is None:
            raise InvalidInput(f"Operations request {erp_id} names no produced material.")
        quantity = _child(produced, "Quantity")
        try:
            qty = Decimal(_text(quantity, "QuantityString"))
        except (InvalidOperation, ValueError) as exc:
            raise InvalidInput(f"Operations request {erp_id}: the quantity is no number.") from exc
        end = _text(request, "EndTime")
        start = _text(request, "StartTime")
        state = _text(request, "RequestState", "Released").lower()
        orders.append(
            InboundOrder(
                erp_order_id=erp_id,
                version=version,
                kind="process" if recipe else "discrete",
                material_code=_text(produced, "MaterialDefinitionID"),
                quantity=qty,
                uom=_text(quantity, "UnitOfMeasure"),
                due=datetime.fromisoformat(end) if end else None,
                start=datetime.fromisoformat(start) if start else None,
                recipe_code=recipe,
                work_center=work_center,
                priority=int(_text(request, "Priority", "0") or 0),
                status=REQUEST_STATES.get(state, "released"),
            )
        )
    return orders


def schedule_import(*, actor: Any, connection: ErpConnection, xml: bytes | str) -> list[Any]:
    """Import an OperationsSchedule: every request through `inbound.order_receive`."""
    from erp_connectors.inbound import order_receive

    return [
        order_receive(actor=actor, connection=connection, order=order, channel="b2mml")
        for order in schedule_orders(xml)
    ]
