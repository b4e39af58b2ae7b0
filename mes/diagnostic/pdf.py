"""The assessment report as PDF (reportlab): step 1 to step 4, the evidence, the signature
manifestations with their validity, the content hash, "page X of Y" on every page."""

import io
from typing import Any
from xml.sax.saxutils import escape

from mes.diagnostic.choices import SECTIONS, ItemStatus, ProductionModel, SymptomState
from mes.diagnostic.derivation import QUESTIONS
from mes.diagnostic.models import Assessment
from mes.esign.selectors import signatures_for_record
from mes.pdf import numbered_canvas


def assessment_pdf(assessment: Assessment, *, site_name: str = "MES") -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

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

    def p(text: Any) -> Paragraph:
        return Paragraph(escape(str(text if text is not None else "")), small)

    def table(rows: list[list[Any]], widths: list[float]) -> Table:
        t = Table(rows, colWidths=[w * mm for w in widths], repeatRows=1)
        t.setStyle(grid)
        return t

    status_label = dict(ItemStatus.choices)
    symptom_label = dict(SymptomState.choices)
    a = assessment
    story: list[Any] = [
        Paragraph(escape(f"{site_name}: production-model self-audit #{a.pk}"), styles["Title"]),
        table(
            [
                ["Field", "Value"],
                [
                    "Period",
                    p(f"{a.period_start:%Y-%m-%d %H:%M} – {a.period_end:%Y-%m-%d %H:%M} UTC"),
                ],
                [
                    "Run by / at",
                    p(
                        f"{a.created_by.printed_name} ({a.created_by.get_username()}), {a.created_at:%Y-%m-%d %H:%M:%S %Z}"
                    ),
                ],
                ["Production model", p(ProductionModel(a.mode).label)],
                [
                    "Result",
                    p(
                        f"{a.pass_count} pass, {a.warning_count} warning, {a.fail_count} fail, {a.not_applicable_count} not applicable, {a.error_count} error"
                    ),
                ],
                ["Duration", p(f"{a.duration_ms} ms")],
                ["Content hash", p(a.content_hash)],
            ],
            [40, 140],
        ),
        Spacer(1, 4 * mm),
        Paragraph("Step 1 · Production model", styles["Heading2"]),
    ]
    rows: list[list[Any]] = [["Question", "Answer"]]
    for key, (question, options) in QUESTIONS.items():
        value = a.answers.get(key)
        rows.append([p(question), p(options[value][0] if value in options else "not answered")])
    story.append(table(rows, [120, 60]))
    rows = [["Installation holds", "Count", "Indicates"]]
    rows += [[p(f["title"]), p(f["count"]), p(f["indicates"])] for f in a.facts]
    story += [Spacer(1, 2 * mm), table(rows, [110, 25, 45]), Spacer(1, 2 * mm)]
    story += [p(f"Reason: {r}") for r in a.mode_reasons]
    story += [p(f"DISAGREEMENT: {d}") for d in a.disagreements]
    for section, heading in SECTIONS:
        items = [i for i in a.items if i["model"] == section]
        if not items:
            continue
        story += [Paragraph(escape(heading), styles["Heading2"])]
        rows = [["Item", "Status", "Finding", "Evidence", "ms"]]
        for i in items:
            evidence = "; ".join(f"{e['label']}: {e['value']}" for e in i["evidence"])
            rows.append(
                [
                    p(i["title"]),
                    p(status_label.get(i["status"], i["status"]).upper()),
                    p(i["summary"]),
                    p(evidence),
                    p(i["duration_ms"]),
                ]
            )
        story.append(table(rows, [35, 17, 55, 63, 10]))
    story.append(Paragraph("Step 4 · Architecture gap diagnostic", styles["Heading2"]))
    rows = [["Symptom", "State", "Root cause", "Capability that fixes it", "Why"]]
    for s in a.symptoms:
        rows.append(
            [
                p(f"{s['title']} ({s['model']})"),
                p(symptom_label.get(s["state"], s["state"])),
                p(s["root_cause"]),
                p(s["fixed_by"]),
                p(s["why"]),
            ]
        )
    story.append(table(rows, [28, 20, 45, 42, 45]))
    story.append(Paragraph("Signatures", styles["Heading2"]))
    signatures = signatures_for_record(a)
    if signatures:
        rows = [["Signature", "Meaning", "Date/time", "Reason", "Valid"]]
        rows += [
            [
                p(s.printed_name),
                p(s.get_meaning_display()),
                p(s.signed_at_display),
                p(s.reason),
                p("yes" if s.is_valid else f"NO — {s.invalid_reason}"),
            ]
            for s in signatures
        ]
        story.append(table(rows, [40, 30, 45, 40, 25]))
    else:
        story.append(p("Not signed."))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"Self-audit #{a.pk}",
    )
    footer = f"Self-audit #{a.pk} · content {a.content_hash}"
    doc.build(story, canvasmaker=numbered_canvas(footer))
    return buffer.getvalue()
