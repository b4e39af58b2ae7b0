import base64
import json
import re
import zlib

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from batches import ebr, services
from batches.tests import factories as f
from batches.tests.test_services import run_batch

pytestmark = pytest.mark.django_db


def test_json_export_marks_corrections_and_hashes_the_content(batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    first = services.parameter_value_record(
        actor=operator, phase=ph, name="Charge temperature", value="24"
    )
    services.parameter_value_correct(actor=operator, value=first, new_value="26", reason="misread")

    data = ebr.ebr_export(batch)

    values = data["record"]["phases"][0]["values"]
    assert [(v["value"], v["supersedes"], v["reason"]) for v in values] == [
        ("24", None, ""),
        ("26", first.pk, "misread"),
    ]
    assert data["content_hash"] == ebr.content_hash(ebr.batch_record_content(batch))
    assert data["record"]["control_recipe_hash"] == batch.control_recipe_hash


def test_pdf_of_a_released_record(batch, operator, operator2, qa_user):
    run_batch(batch, operator, operator2, qa_user, yield_qty="1950")
    services.batch_complete(actor=operator, batch=batch)
    services.batch_release(actor=qa_user, batch=batch, signer=f.signer_for(qa_user))

    batch.refresh_from_db()
    pdf = ebr.ebr_pdf(batch)

    assert pdf.startswith(b"%PDF")
    data = ebr.ebr_export(batch)
    assert [s["meaning"] for s in data["signatures"]] == ["Released"]
    assert data["signatures"][0]["is_valid"] is True
    assert [s["meaning"] for s in data["record"]["phases"][2]["signatures"]] == [
        "Performed",
        "Verified",
    ]


def test_pdf_and_json_pages(client, operator, batch):
    assign_perm("equipment.operate_in_area", operator, batch.unit.area)
    client.force_login(operator)

    pdf = client.get(reverse("batches:batch_ebr_pdf", args=[batch.pk]))
    js = client.get(reverse("batches:batch_ebr_json", args=[batch.pk]))

    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert json.loads(js.content)["record"]["number"] == batch.number


def _pdf_text(pdf: bytes) -> str:
    """The decoded content streams (reportlab writes ASCII85 over Flate)."""
    chunks = re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S)
    return "\n".join(
        zlib.decompress(base64.a85decode(b"<~" + c.strip(), adobe=True)).decode("latin-1")
        for c in chunks
        if c.strip().endswith(b"~>")
    )


def test_pdf_pages_are_numbered_and_show_the_hash(batch):
    pdf = ebr.ebr_pdf(batch)

    text = _pdf_text(pdf)
    pages = int(re.search(rb"/Count (\d+)", pdf).group(1))
    assert f"Page 1 of {pages}" in text
    assert ebr.ebr_export(batch)["content_hash"][:23] in text


def test_pdf_marks_a_corrected_value_and_shows_the_original(batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    first = services.parameter_value_record(
        actor=operator, phase=ph, name="Charge temperature", value="24"
    )
    services.parameter_value_correct(actor=operator, value=first, new_value="26", reason="misread")

    text = _pdf_text(ebr.ebr_pdf(batch))

    # reportlab writes † (WinAnsi 0x86) and ° (0xB0) as octal escapes
    assert "(26 \\260C \\206)" in text
    assert "(\\206 corrected \\(misread\\); original: 24)" in text


def test_pdf_holds_the_audit_trail_reconciliation_and_every_event(batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    services.parameter_value_record(actor=operator, phase=ph, name="Charge temperature", value="24")

    text = _pdf_text(ebr.ebr_pdf(batch))

    assert "(Audit trail of the batch \\(event log\\))" in text
    assert "(Material reconciliation)" in text
    for event in ebr.ebr_export(batch)["events"]:
        assert f"({event['type']})" in text
