"""The printable equipment logbook (PDF, reportlab): every line of a unit's logbook, the
calibration state of its instruments and its maintenance orders; "page X of Y" on every
page with the unit, the time of printing and who printed it."""

from datetime import datetime
from io import BytesIO
from typing import Any

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from equipment.models import Unit
from equipment.selectors import (
    calibration_due_state,
    unit_cleaning_status,
    unit_logbook,
)
from mes.pdf import numbered_canvas


def _fmt(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def unit_logbook_pdf(
    *, unit: Unit, printed_by: Any, at: datetime | None = None, compress: bool = True
) -> bytes:
    at = at or timezone.now()
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"Equipment logbook {unit.code}",
        author=printed_by.printed_name,
        pageCompression=1 if compress else 0,
    )
    cleaning = unit_cleaning_status(unit, at=at)
    story: list[Any] = [
        Paragraph(f"Equipment logbook: {unit.code} {unit.name}", styles["Title"]),
        Paragraph(
            f"Area {unit.area.site.code}/{unit.area.code} · class {unit.equipment_class.name}"
            + (
                f" · working volume {format(unit.working_volume_l.normalize(), 'f')} L"
                if unit.working_volume_l
                else ""
            )
            + f" · status {unit.get_status_display()} · cleaning: {cleaning.label}"
            + f" · {unit.hours_run} h run, {unit.batch_count} batches",
            styles["BodyText"],
        ),
        Spacer(1, 4 * mm),
    ]
    header = ["When", "Entry", "Product", "Batch", "Cleaning", "By", "Verified by", "Note"]
    rows: list[list[Any]] = [header]
    for line in unit_logbook(unit=unit):
        entry = line.entry
        verified = (
            f"{line.verified_by.printed_name} {_fmt(line.verified_at)}" if line.verified_by else ""
        )
        rows.append(
            [
                _fmt(entry.at),
                entry.get_type_display(),
                entry.product_code,
                entry.batch_ref,
                entry.cleaning_type,
                entry.actor.printed_name,
                verified,
                Paragraph(entry.note or "", small),
            ]
        )
    if len(rows) == 1:
        rows.append(["", "No entries", "", "", "", "", "", ""])
    story.append(_table(rows, [30, 34, 26, 26, 18, 38, 48, 47]))

    instruments = list(unit.instruments.filter(is_active=True).order_by("code"))
    if instruments:
        story += [Spacer(1, 6 * mm), Paragraph("Instruments", styles["Heading2"])]
        irows: list[list[Any]] = [["Instrument", "Kind", "Last calibrated", "Next due", "State"]]
        for instrument in instruments:
            irows.append(
                [
                    f"{instrument.code} {instrument.name}",
                    instrument.get_kind_display(),
                    _fmt(instrument.last_calibrated_at),
                    _fmt(instrument.next_calibration_due_at),
                    calibration_due_state(instrument, at=at).replace("_", " "),
                ]
            )
        story.append(_table(irows, [80, 45, 40, 40, 30]))

    orders = list(unit.maintenance_work_orders.select_related("completed_by").order_by("id"))
    if orders:
        story += [Spacer(1, 6 * mm), Paragraph("Maintenance", styles["Heading2"])]
        mrows: list[list[Any]] = [["Order", "Title", "Kind", "Status", "Due", "Completed"]]
        for order in orders:
            done = (
                f"{_fmt(order.completed_at)} {order.completed_by.printed_name}"
                if order.completed_by
                else ""
            )
            mrows.append(
                [
                    order.number,
                    Paragraph(order.title, small),
                    order.get_kind_display(),
                    order.get_status_display(),
                    _fmt(order.due_at),
                    done,
                ]
            )
        story.append(_table(mrows, [26, 90, 26, 26, 30, 60]))

    footer = f"{unit.code} logbook · printed {_fmt(at)} by {printed_by.printed_name}"

    doc.build(story, canvasmaker=numbered_canvas(footer, font_size=8))
    return buffer.getvalue()


def _table(rows: list[list[Any]], widths_mm: list[int]) -> Table:
    table = Table(rows, colWidths=[w * mm for w in widths_mm], repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e5e7eb")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table
