"""The electronic batch record (EBR): the canonical content the signatures cover, the JSON
export and the PDF (reportlab; one table per phase so long records render fast)."""

import hashlib
import io
import json
from typing import Any
from xml.sax.saxutils import escape

from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch, Q

from batches.models import (
    BatchOrder,
    MaterialReturn,
    MaterialUse,
    ParameterValue,
    PhaseExecution,
)
from batches.selectors import batch_reconciliation
from mes.esign.models import Signature
from mes.pdf import numbered_canvas


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _user(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def value_row(value: Any) -> dict[str, Any]:
    return {
        "id": value.pk,
        "name": value.name,
        "value": value.value_text,
        "unit": value.unit,
        "is_out_of_limit": value.is_out_of_limit,
        "limits": value.limit_text,
        "instrument": value.instrument.code if value.instrument_id else None,
        "supersedes": value.supersedes_id,
        "reason": value.reason,
        "entered_by": _user(value.entered_by),
        "entered_at": _iso(value.entered_at),
    }


def use_row(use: Any) -> dict[str, Any]:
    row = {
        "id": use.pk,
        "material": use.material.code,
        "lot": use.lot.lot_number,
        "quantity": str(use.quantity),
        "uom": use.uom,
        "consumption_event": use.consumption_id,
        "dispensed_by": _user(use.dispensed_by),
        "dispensed_at": _iso(use.dispensed_at),
    }
    returns = [
        {
            "kind": r.kind,
            "quantity": str(r.quantity),
            "uom": r.uom,
            "reason": r.reason,
            "lot_event": r.lot_event_id,
            "recorded_by": _user(r.recorded_by),
            "recorded_at": _iso(r.recorded_at),
        }
        for r in use.returns.all()
    ]
    if returns:  # only then: the content (and hash) of a dispense without returns is unchanged
        row["returns"] = returns
    return row


def phase_content(phase: PhaseExecution) -> dict[str, Any]:
    """What a phase signature covers (not its status or verification, so that verifying does
    not invalidate the performer's signature)."""
    return {
        "batch": phase.batch.number,
        "sequence": phase.sequence,
        "path": phase.path,
        "name": phase.name,
        "started_at": _iso(phase.started_at),
        "started_by": _user(phase.started_by),
        "completed_at": _iso(phase.completed_at),
        "completed_by": _user(phase.completed_by),
        # .all(): uses a prefetch when the caller made one (the EBR), else Meta ordering (id)
        "values": [value_row(v) for v in phase.values.all()],
        "uses": [use_row(u) for u in phase.uses.all()],
    }


def batch_record_content(batch: BatchOrder) -> dict[str, Any]:
    """What the release signature covers: the order, every phase and every yield."""
    return batch_content_from(batch, record_phases(batch))


def record_phases(batch: BatchOrder) -> list[PhaseExecution]:
    """The phases with everything the record shows, prefetched (a fixed number of queries)."""
    phases = list(
        batch.phases.select_related("started_by", "completed_by", "verified_by")
        .prefetch_related(
            Prefetch(
                "values",
                queryset=ParameterValue.objects.select_related(
                    "instrument", "entered_by", "supersedes"
                ).order_by("id"),
            ),
            Prefetch(
                "uses",
                queryset=MaterialUse.objects.select_related(
                    "material", "lot", "dispensed_by"
                ).order_by("id"),
            ),
            Prefetch(
                "uses__returns",
                queryset=MaterialReturn.objects.select_related("recorded_by").order_by("id"),
            ),
        )
        .order_by("sequence")
    )
    for phase in phases:  # the batch once, not its (large) control recipe per phase
        phase.batch = batch
    return phases


def batch_content_from(batch: BatchOrder, phases: list[PhaseExecution]) -> dict[str, Any]:
    return {
        "number": batch.number,
        "recipe_version": batch.recipe_version_id,
        "control_recipe_hash": batch.control_recipe_hash,
        "batch_size": str(batch.batch_size),
        "batch_size_uom": batch.batch_size_uom,
        "unit": batch.unit.code if batch.unit_id else None,
        "output_lot": batch.output_lot.lot_number if batch.output_lot_id else None,
        "started_at": _iso(batch.started_at),
        "completed_at": _iso(batch.completed_at),
        "phases": [phase_content(p) for p in phases],
        "yields": [
            {
                "material": y.material.code,
                "lot": y.lot.lot_number,
                "quantity": str(y.quantity),
                "uom": y.uom,
                "yield_pct": str(y.yield_pct),
                "is_within_range": y.is_within_range,
            }
            for y in batch.yields.select_related("material", "lot").order_by("id")
        ],
    }


# --- export ----------------------------------------------------------------------------------


def content_hash(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _signatures(records: list[Any]) -> dict[tuple[int, str], list[dict[str, Any]]]:
    """The signatures of the records (one query), each checked against the record's current
    content hash (computed from the prefetched rows)."""
    from mes.esign.hashing import record_content_hash
    from mes.esign.selectors import format_signed_at

    by_type: dict[int, dict[str, Any]] = {}
    for record in records:
        ct = ContentType.objects.get_for_model(record._meta.concrete_model)
        by_type.setdefault(ct.pk, {})[str(record.pk)] = record
    query = Q()
    for ct_id, objs in by_type.items():
        query |= Q(content_type_id=ct_id, object_id__in=list(objs))
    result: dict[tuple[int, str], list[dict[str, Any]]] = {}
    if not by_type:
        return result
    hashes: dict[tuple[int, str], str] = {}
    for sig in Signature.objects.filter(query).order_by("signed_at", "id"):
        key = (sig.content_type_id, sig.object_id)
        if key not in hashes:
            hashes[key] = record_content_hash(by_type[sig.content_type_id][sig.object_id])
        result.setdefault(key, []).append(
            {
                "printed_name": sig.printed_name,
                "username": sig.username,
                "meaning": sig.get_meaning_display(),
                "signed_at": format_signed_at(sig.signed_at),
                "reason": sig.reason,
                "is_valid": hashes[key] == sig.record_hash,
            }
        )
    return result


def _sigs_for(sigs: dict[tuple[int, str], list[dict[str, Any]]], record: Any) -> list[dict]:
    ct = ContentType.objects.get_for_model(record._meta.concrete_model)
    return sigs.get((ct.pk, str(record.pk)), [])


def ebr_export(batch: BatchOrder) -> dict[str, Any]:
    """The whole record as JSON: the signed content, its hash, the control recipe, the
    signatures (with validity), the deviations and the event log."""
    from quality.models import Deviation

    phases = record_phases(batch)
    content = batch_content_from(batch, phases)
    digest = content_hash(content)
    sigs = _signatures([batch, *phases])
    content = json.loads(json.dumps(content))
    for row, phase in zip(content["phases"], phases, strict=True):
        row["status"] = phase.status
        row["verified_by"] = _user(phase.verified_by)
        row["verified_at"] = _iso(phase.verified_at)
        row["signatures"] = _sigs_for(sigs, phase)
    return {
        "schema": "mes.ebr.v1",
        "content_hash": digest,
        "status": batch.status,
        "released_at": _iso(batch.released_at),
        "record": content,
        "signatures": _sigs_for(sigs, batch),
        "deviations": [
            {"number": d.number, "title": d.title, "status": d.status}
            for d in Deviation.objects.filter(
                source_kind="batch", source_ref=batch.number
            ).order_by("id")
        ],
        "events": [
            {
                "type": e.type,
                "at": _iso(e.at),
                "actor": _user(e.actor),
                "phase": e.phase.path if e.phase_id else None,
                "data": e.data,
            }
            for e in batch.events.select_related("actor", "phase").order_by("id")
        ],
        "reconciliation": [
            {
                "material": r["material"],
                "uom": r["uom"],
                "planned": str(r["planned"]),
                "tolerance": [str(r["low"]), str(r["high"])],
                "dispensed": str(r["dispensed"]),
                "consumed": str(r["consumed"]),
                "returned": str(r["returned"]),
                "waste": str(r["waste"]),
                "difference": str(r["difference"]),
                "is_within_tolerance": r["is_within_tolerance"],
                "lots": r["lots"],
            }
            for r in batch_reconciliation(batch)
        ],
        "control_recipe": batch.control_recipe,
    }


# --- PDF -------------------------------------------------------------------------------------


AUDIT_ROWS_PER_TABLE = 40


def _event_data(data: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in data.items() if k not in ("value_id", "use_id"))


def ebr_pdf(batch: BatchOrder) -> bytes:
    """The EBR as PDF: a header table, then one section (heading + small tables) per phase so
    that a record of hundreds of phases lays out in linear time; corrected values marked †
    with the original entry shown; signature manifestations; yield, reconciliation,
    deviations, the batch's audit trail (its event log, in tables of 40 rows) and the
    release; the content hash."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    data = ebr_export(batch)
    record = data["record"]
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7.5, leading=9)
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
            ("FONTSIZE", (0, 0), (-1, -1), 7.5),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )

    from reportlab.pdfbase.pdfmetrics import stringWidth

    class _Cell(str):
        """Text for a table cell: laid out as a plain string when it fits its column on one
        line (cheap), as a wrapping Paragraph otherwise (about 20x the layout cost)."""

    def p(text: Any) -> _Cell:
        return _Cell(text if text is not None else "")

    def para(text: Any) -> Paragraph:
        return Paragraph(escape(str(text)), small)

    def fit(cell: Any, width: float) -> Any:
        if not isinstance(cell, _Cell):
            return cell
        if "\n" not in cell and stringWidth(cell, "Helvetica", 7.5) <= width - 6:
            return str(cell)
        return para(cell)

    def table(rows: list[list[Any]], widths: list[float]) -> Table:
        col = [w * mm for w in widths]
        rows = [[fit(c, col[i]) for i, c in enumerate(row)] for row in rows]
        t = Table(rows, colWidths=col, repeatRows=1)
        t.setStyle(grid)
        return t

    story: list[Any] = [
        Paragraph(escape(f"Electronic batch record {batch.number}"), styles["Title"]),
        table(
            [
                ["Field", "Value"],
                ["Product", p(f"{batch.product.code} {batch.product.name}")],
                [
                    "Recipe",
                    p(
                        f"{batch.control_recipe['recipe']['code']} version "
                        f"{batch.control_recipe['version']['number']}"
                    ),
                ],
                ["Batch size", p(f"{record['batch_size']} {record['batch_size_uom']}")],
                ["Unit", p(record["unit"] or "—")],
                ["Status", p(batch.get_status_display())],
                ["Output lot", p(record["output_lot"] or "—")],
                ["Control recipe hash", p(record["control_recipe_hash"])],
                ["Record content hash", p(data["content_hash"])],
            ],
            [45, 135],
        ),
        Spacer(1, 4 * mm),
    ]
    for phase in record["phases"]:
        story.append(
            Paragraph(
                escape(f"{phase['sequence']}. {phase['path']} {phase['name']} — {phase['status']}"),
                styles["Heading4"],
            )
        )
        values = phase["values"]
        replaced = {v["supersedes"] for v in values if v["supersedes"]}
        by_id = {v["id"]: v for v in values}
        if values:
            rows: list[list[Any]] = [["Parameter", "Value", "Limits", "By / at", "Note"]]
            for v in values:
                if v["id"] in replaced:
                    continue
                mark = " †" if v["supersedes"] else ""
                flag = " (OUT OF LIMIT)" if v["is_out_of_limit"] else ""
                note = ""
                if v["supersedes"]:
                    chain, prev = [], by_id.get(v["supersedes"])
                    while prev is not None:
                        chain.append(
                            f"{prev['value']} by {prev['entered_by']} {prev['entered_at']}"
                        )
                        prev = by_id.get(prev["supersedes"])
                    note = f"† corrected ({v['reason']}); original: " + "; ".join(reversed(chain))
                if v["instrument"]:
                    note = f"instrument {v['instrument']}. {note}"
                rows.append(
                    [
                        p(v["name"]),
                        p(f"{v['value']} {v['unit']}{mark}{flag}"),
                        p(v["limits"]),
                        p(f"{v['entered_by']} {v['entered_at']}"),
                        p(note),
                    ]
                )
            story.append(table(rows, [35, 30, 30, 40, 45]))
        if phase["uses"]:
            rows = [["Material", "Lot", "Quantity", "By / at"]]
            rows += [
                [
                    p(u["material"]),
                    p(u["lot"]),
                    p(f"{u['quantity']} {u['uom']}"),
                    p(f"{u['dispensed_by']} {u['dispensed_at']}"),
                ]
                for u in phase["uses"]
            ]
            rows += [
                [
                    p(f"  {'returned to stock' if r['kind'] == 'returned' else 'waste'}"),
                    p(f"{u['lot']}: {r['reason']}"),
                    p(f"-{r['quantity']} {r['uom']}"),
                    p(f"{r['recorded_by']} {r['recorded_at']}"),
                ]
                for u in phase["uses"]
                for r in u.get("returns", [])
            ]
            story.append(table(rows, [40, 40, 40, 60]))
        if phase["signatures"]:
            rows = [["Signature", "Meaning", "Date/time", "Valid"]]
            rows += [
                [
                    p(s["printed_name"]),
                    p(s["meaning"]),
                    p(s["signed_at"]),
                    p("yes" if s["is_valid"] else "NO — record changed"),
                ]
                for s in phase["signatures"]
            ]
            story.append(table(rows, [50, 35, 60, 35]))
        story.append(Spacer(1, 2 * mm))
    if record["yields"]:
        story.append(Paragraph("Yield", styles["Heading3"]))
        rows = [["Material", "Lot", "Quantity", "Yield %", "In range"]]
        rows += [
            [
                p(y["material"]),
                p(y["lot"]),
                p(f"{y['quantity']} {y['uom']}"),
                p(y["yield_pct"]),
                p("yes" if y["is_within_range"] else "NO"),
            ]
            for y in record["yields"]
        ]
        story.append(table(rows, [40, 40, 40, 30, 30]))
    if data["reconciliation"]:
        story.append(Paragraph("Material reconciliation", styles["Heading3"]))
        rows = [["Material", "Planned", "Dispensed = consumed", "Returned", "Waste", "Lots"]]
        rows += [
            [
                p(r["material"]),
                p(f"{r['planned']} {r['uom']} ({r['tolerance'][0]} … {r['tolerance'][1]})"),
                p(
                    f"{r['dispensed']} {r['uom']}"
                    + ("" if r["is_within_tolerance"] else " (OUTSIDE TOLERANCE)")
                ),
                p(r["returned"]),
                p(r["waste"]),
                p(", ".join(r["lots"]) or "—"),
            ]
            for r in data["reconciliation"]
        ]
        story.append(table(rows, [28, 40, 37, 18, 15, 42]))
    story.append(Paragraph("Deviations", styles["Heading3"]))
    if data["deviations"]:
        rows = [["Number", "Title", "Status"]]
        rows += [[p(d["number"]), p(d["title"]), p(d["status"])] for d in data["deviations"]]
        story.append(table(rows, [30, 120, 30]))
    else:
        story.append(para("None."))
    story.append(Paragraph("Audit trail of the batch (event log)", styles["Heading3"]))
    events = data["events"]
    for start in range(0, len(events), AUDIT_ROWS_PER_TABLE):  # small tables: linear layout
        rows = [["Time", "Event", "Phase", "By", "Data"]]
        rows += [
            [
                p(e["at"]),
                p(e["type"]),
                p(e["phase"] or ""),
                p(e["actor"] or ""),
                p(_event_data(e["data"])),
            ]
            for e in events[start : start + AUDIT_ROWS_PER_TABLE]
        ]
        story.append(table(rows, [38, 28, 27, 22, 65]))
    story.append(Paragraph("Release", styles["Heading3"]))
    if data["signatures"]:
        rows = [["Signature", "Meaning", "Date/time", "Reason", "Valid"]]
        rows += [
            [
                p(s["printed_name"]),
                p(s["meaning"]),
                p(s["signed_at"]),
                p(s["reason"]),
                p("yes" if s["is_valid"] else "NO — record changed"),
            ]
            for s in data["signatures"]
        ]
        story.append(table(rows, [40, 25, 45, 45, 25]))
    else:
        story.append(para("Not released."))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"EBR {batch.number}",
    )
    header = f"EBR {batch.number} · content {data['content_hash'][:23]}…"
    doc.build(story, canvasmaker=numbered_canvas(header))
    return buffer.getvalue()
