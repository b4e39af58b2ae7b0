"""The batch record as BatchML (B2MML V0701, `BatchML-BatchProductionRecord.xsd`): one
`BatchProductionRecord` in the namespace `http://www.mesa.org/xml/B2MML`, built from the same
data as the JSON export (`ebr.ebr_export`) with xml.etree (no extra dependency).

- header: ID, EntryID, ObjectType, TimeStamp, Description (incl. the content hash),
  CreationDate, BatchID, EquipmentID (the unit), LotID (the output lot),
  MaterialDefinitionID (the product), RecordStatus, Version (recipe code and version);
- `ChangeHistory`: one `Change` per corrected value (the previous value and the reason);
- `Comments`: one per deviation against the batch;
- `Events`: per phase its state changes with the signature manifestations ("Procedural
  Execution" / "State Change"), every entered value ("Parameter Data", with unit, limits,
  instrument, out-of-limit flag), every dispensed lot ("Material" / "Consume"), the yield
  ("Material" / "Produce") and the release ("Control Recipe" / "Status Change").

The Business To Manufacturing Markup Language (B2MML) is used courtesy of MESA International.
"""

from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from batches.ebr import ebr_export
from batches.models import BatchOrder

B2MML_NS = "http://www.mesa.org/xml/B2MML"
MES_NS = "urn:open-mes:batch-record"  # our own attributes (content hash), kept apart
ET.register_namespace("", B2MML_NS)
ET.register_namespace("mes", MES_NS)


def _q(tag: str) -> str:
    return f"{{{B2MML_NS}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: Any = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, _q(tag), attrs)
    if text is not None:
        element.text = str(text)
    return element


def _entry(parent: ET.Element, tag: str, entry_id: str, object_type: str, at: Any) -> ET.Element:
    """An element opening with the BatchProductionRecordEntryType group."""
    element = _sub(parent, tag)
    _sub(element, "EntryID", entry_id)
    if object_type in _OBJECT_TYPES:
        _sub(element, "ObjectType", object_type)
    else:
        _sub(element, "ObjectType", "Other", OtherValue=object_type)
    if at:
        _sub(element, "TimeStamp", at)
    return element


_OBJECT_TYPES = {"Batch Production Record", "Change", "Comment", "Event", "Control Recipe"}


def _value(parent: ET.Element, tag: str, text: Any, data_type: str, uom: str, key: str) -> None:
    value = _sub(parent, tag)
    _sub(value, "ValueString", text if text is not None else "")
    _sub(value, "DataType", data_type)
    _sub(value, "UnitOfMeasure", uom or "")
    _sub(value, "Key", key)


def _event(
    events: ET.Element,
    entry_id: str,
    at: Any,
    *,
    description: str,
    event_type: str,
    sub_type: str,
    value: tuple[Any, str, str, str],
    messages: list[str] | None = None,
    phase: str | None = None,
    person: str | None = None,
    equipment: str | None = None,
) -> ET.Element:
    """A SingleEventType, its elements in the schema's order; `value` is (text, data type,
    unit of measure, key)."""
    event = _entry(events, "Event", entry_id, "Event", at)
    _sub(event, "Description", description)
    _sub(event, "EventType", event_type)
    _sub(event, "EventSubType", sub_type)
    if equipment:
        _sub(event, "EquipmentID", equipment)
    _value(event, "Value", *value)
    for text in messages or []:
        _sub(event, "MessageText", text)
    if person:
        _sub(event, "PersonID", person)
    if phase:
        _sub(event, "ProceduralElementReference", phase)
    return event


def _data_type(param: dict[str, Any] | None) -> str:
    kind = (param or {}).get("data_type", "string")
    return {"number": "decimal", "yes_no": "boolean"}.get(kind, "string")


def batchml_document(batch: BatchOrder) -> ET.Element:
    data = ebr_export(batch)
    record = data["record"]
    recipe = batch.control_recipe["recipe"]["code"]
    version = batch.control_recipe["version"]["number"]
    root = ET.Element(_q("BatchProductionRecord"))
    root.set(f"{{{MES_NS}}}contentHash", data["content_hash"])
    _sub(root, "ID", batch.number)
    _sub(root, "EntryID", f"{batch.number}")
    _sub(root, "ObjectType", "Batch Production Record")
    _sub(root, "TimeStamp", datetime.now(UTC).isoformat())
    _sub(root, "Description", f"Electronic batch record {batch.number} of {recipe}")
    _sub(root, "Description", f"content hash {data['content_hash']}")
    _sub(root, "CreationDate", batch.created_at.isoformat())
    _sub(root, "BatchID", batch.number)
    if record["unit"]:
        _sub(root, "EquipmentID", record["unit"])
    if record["output_lot"]:
        _sub(root, "LotID", record["output_lot"])
    _sub(root, "MaterialDefinitionID", batch.control_recipe["product"]["code"])
    _sub(root, "RecordStatus", batch.get_status_display())
    _sub(root, "Version", f"{recipe} version {version}")

    params = {
        (ph["path"], p["name"]): p
        for up in batch.control_recipe["unit_procedures"]
        for op in up["operations"]
        for ph in op["phases"]
        for p in ph.get("parameters", [])
    }
    changes = _sub(root, "ChangeHistory")
    for phase in record["phases"]:
        by_id = {v["id"]: v for v in phase["values"]}
        for v in phase["values"]:
            if not v["supersedes"]:
                continue
            before = by_id.get(v["supersedes"], {})
            change = _entry(changes, "Change", f"change-{v['id']}", "Change", v["entered_at"])
            _sub(
                change, "Description", f"{phase['path']} {v['name']} corrected by {v['entered_by']}"
            )
            _sub(change, "RecordReference", f"value-{v['supersedes']}")
            _value(
                change,
                "PrechangeData",
                before.get("value"),
                _data_type(params.get((phase["path"], v["name"]))),
                v["unit"],
                v["name"],
            )
            _sub(change, "Reason", v["reason"])

    comments = _sub(root, "Comments")
    for d in data["deviations"]:
        comment = _entry(comments, "Comment", f"deviation-{d['number']}", "Comment", None)
        _sub(comment, "RecordReference", batch.number)
        _sub(comment, "CommentText", f"Deviation {d['number']} ({d['status']}): {d['title']}")

    events = _sub(root, "Events")
    for phase in record["phases"]:
        path = phase["path"]
        label = f"{phase['sequence']}. {path} {phase['name']}"
        if phase["started_at"]:
            _event(
                events,
                f"phase-{phase['sequence']}-started",
                phase["started_at"],
                description=f"{label} started",
                event_type="Procedural Execution",
                sub_type="State Change",
                value=("Running", "string", "", "state"),
                phase=path,
                person=phase["started_by"],
                equipment=record["unit"],
            )
        for v in phase["values"]:
            notes = [f"limits {v['limits']}"] if v["limits"] else []
            if v["is_out_of_limit"]:
                notes.append("OUT OF LIMIT")
            if v["supersedes"]:
                notes.append(f"corrects value-{v['supersedes']}: {v['reason']}")
            _event(
                events,
                f"value-{v['id']}",
                v["entered_at"],
                description=f"{label}: {v['name']}",
                event_type="Procedural Execution",
                sub_type="Parameter Data",
                value=(
                    v["value"],
                    _data_type(params.get((path, v["name"]))),
                    v["unit"],
                    v["name"],
                ),
                messages=notes,
                phase=path,
                person=v["entered_by"],
                equipment=v["instrument"],
            )
        for u in phase["uses"]:
            _event(
                events,
                f"use-{u['id']}",
                u["dispensed_at"],
                description=f"{label}: {u['material']} lot {u['lot']} dispensed",
                event_type="Material",
                sub_type="Consume",
                value=(u["quantity"], "decimal", u["uom"], f"{u['material']}/{u['lot']}"),
                phase=path,
                person=u["dispensed_by"],
            )
        if phase["completed_at"]:
            _event(
                events,
                f"phase-{phase['sequence']}-completed",
                phase["completed_at"],
                description=f"{label} completed",
                event_type="Procedural Execution",
                sub_type="State Change",
                value=("Complete", "string", "", "state"),
                messages=[
                    f"signed {s['meaning']} by {s['printed_name']} at {s['signed_at']}"
                    + ("" if s["is_valid"] else " (INVALID: record changed)")
                    for s in phase["signatures"]
                ],
                phase=path,
                person=phase["completed_by"],
                equipment=record["unit"],
            )
    for y in record["yields"]:
        _event(
            events,
            f"yield-{y['lot']}",
            batch.completed_at.isoformat() if batch.completed_at else None,
            description=f"{y['material']} lot {y['lot']} produced ({y['yield_pct']} %)",
            event_type="Material",
            sub_type="Produce",
            value=(y["quantity"], "decimal", y["uom"], f"{y['material']}/{y['lot']}"),
            messages=[] if y["is_within_range"] else ["yield outside range"],
        )
    for n, s in enumerate(data["signatures"], start=1):
        _event(
            events,
            f"batch-signature-{n}",
            None,  # the manifestation's own time (with zone) is in MessageText
            description=f"batch record {s['meaning'].lower()}",
            event_type="Control Recipe",
            sub_type="Status Change",
            value=(s["meaning"], "string", "", "signature"),
            messages=[
                f"signed {s['meaning']} by {s['printed_name']} at {s['signed_at']}: {s['reason']}"
            ],
            person=s["printed_name"],
        )
    return root


def batchml_export(batch: BatchOrder) -> bytes:
    """The BatchML document, UTF-8 with an XML declaration."""
    root = batchml_document(batch)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
