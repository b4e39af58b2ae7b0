"""The recall scope as CSV and as PDF (reportlab; one table per page, so a 1,000-page
report is laid out page by page instead of as one huge splittable table)."""

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import IO, Any

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from genealogy.selectors import RecallScope

CSV_HEADER = [
    "record",
    "lot_id",
    "kind",
    "lot_number",
    "material",
    "status",
    "quantity",
    "uom",
    "customer",
    "shipment_ref",
    "shipped_at",
]
ROWS_PER_PAGE = 38


def recall_csv_rows(scope: RecallScope) -> Iterator[list[str]]:
    yield CSV_HEADER
    for record, rows in (("finished_lot", scope.finished_lots), ("unit", scope.units)):
        for r in rows:
            yield [
                record,
                str(r.id),
                r.kind,
                r.lot_number,
                r.material_code,
                r.status,
                str(r.quantity),
                r.uom,
                "",
                "",
                "",
            ]
    for s in scope.shipments:
        yield [
            "shipment",
            str(s.lot_id),
            s.kind,
            s.lot_number,
            s.material_code,
            "",
            str(s.quantity),
            s.uom,
            s.customer,
            s.shipment_ref,
            s.shipped_at.isoformat() if s.shipped_at else "",
        ]


def write_recall_csv(scope: RecallScope, out: IO[str]) -> None:
    writer = csv.writer(out)
    for row in recall_csv_rows(scope):
        writer.writerow([_safe_cell(v) for v in row])


def recall_csv(scope: RecallScope) -> str:
    buffer = io.StringIO()
    write_recall_csv(scope, buffer)
    return buffer.getvalue()


def _safe_cell(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in text that came from users."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") and not _is_number(value) else value


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 7.5),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 7.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf1")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2),
    ]
)


def _pages(title: str, header: list[str], rows: list[list[str]], widths: list[float]) -> list[Any]:
    styles = getSampleStyleSheet()
    flow: list[Any] = []
    if not rows:
        return [Paragraph(f"{title}: none", styles["Heading3"])]
    total = len(rows)
    for start in range(0, total, ROWS_PER_PAGE):
        flow.append(PageBreak())
        end = min(total, start + ROWS_PER_PAGE)
        flow.append(Paragraph(f"{title} ({start + 1}–{end} of {total})", styles["Heading3"]))
        table = Table([header, *rows[start:end]], colWidths=widths, repeatRows=0)
        table.setStyle(_STYLE)
        flow.append(table)
    return flow


def estimated_pages(scope: RecallScope) -> int:
    rows = len(scope.finished_lots) + len(scope.units) + len(scope.shipments)
    return 1 + rows // ROWS_PER_PAGE + 3


def write_recall_pdf(
    scope: RecallScope,
    out: IO[bytes],
    *,
    generated_by: str = "",
    at: datetime | None = None,
    on_page: Callable[[int], None] | None = None,
) -> None:
    at = at or timezone.now()
    styles = getSampleStyleSheet()
    summary = scope.summary()
    flow: list[Any] = [
        Paragraph(f"Recall scope: {_esc(scope.subject)}", styles["Title"]),
        Paragraph(
            f"Generated {timezone.localtime(at):%Y-%m-%d %H:%M %Z}"
            + (f" by {_esc(generated_by)}" if generated_by else ""),
            styles["Normal"],
        ),
        Spacer(1, 4 * mm),
        Table(
            [
                ["Lots and units reached", str(summary["affected_count"])],
                ["Finished lots", str(summary["finished_lot_count"])],
                ["Serialized units", str(summary["unit_count"])],
                ["Shipments", str(summary["shipment_count"])],
                ["Customers", str(summary["customer_count"])],
            ],
            colWidths=[60 * mm, 40 * mm],
        ),
        Spacer(1, 4 * mm),
        Paragraph("Customers: " + _esc(", ".join(scope.customers) or "none"), styles["Normal"]),
    ]
    lot_header = ["Lot / serial", "Material", "Kind", "Status", "Quantity", "Unit"]
    lot_widths = [70 * mm, 45 * mm, 25 * mm, 30 * mm, 35 * mm, 20 * mm]
    for title, rows in (("Finished lots", scope.finished_lots), ("Serialized units", scope.units)):
        flow += _pages(
            title,
            lot_header,
            [
                [
                    r.lot_number,
                    r.material_code,
                    r.kind,
                    r.status,
                    str(r.quantity.normalize()),
                    r.uom,
                ]
                for r in rows
            ],
            lot_widths,
        )
    flow += _pages(
        "Shipments",
        ["Customer", "Shipment", "Lot / serial", "Material", "Quantity", "Unit", "Shipped"],
        [
            [
                s.customer,
                s.shipment_ref,
                s.lot_number,
                s.material_code,
                str(s.quantity.normalize()),
                s.uom,
                f"{timezone.localtime(s.shipped_at):%Y-%m-%d}" if s.shipped_at else "",
            ]
            for s in scope.shipments
        ],
        [55 * mm, 35 * mm, 55 * mm, 40 * mm, 25 * mm, 15 * mm, 30 * mm],
    )

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(12 * mm, 7 * mm, f"Recall scope: {scope.subject}")
        canvas.drawRightString(285 * mm, 7 * mm, f"page {doc.page}")
        canvas.restoreState()
        if on_page is not None:
            on_page(doc.page)

    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=10 * mm,
        bottomMargin=12 * mm,
        title=f"Recall scope {scope.subject}",
    )
    doc.build(flow, onFirstPage=footer, onLaterPages=footer)


def recall_pdf(scope: RecallScope, *, generated_by: str = "") -> bytes:
    buffer = io.BytesIO()
    write_recall_pdf(scope, buffer, generated_by=generated_by)
    return buffer.getvalue()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
