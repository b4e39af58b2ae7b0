"""The API (list, run, retrieve, PDF, sign; no change, no delete) and the PDF report."""

import base64
import re
import zlib

import pytest

from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.diagnostic import services
from mes.diagnostic.models import Assessment
from mes.diagnostic.pdf import assessment_pdf
from mes.diagnostic.tests.factories import period, sign_as
from mes.esign.models import Signature

pytestmark = pytest.mark.django_db
URL = "/api/v1/diagnostic/assessments/"


def _pages(pdf: bytes) -> int:
    return int(re.search(rb"/Count (\d+)", pdf).group(1))


def _text(pdf: bytes) -> str:
    """The decoded content streams (reportlab writes ASCII85 over Flate)."""
    chunks = re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S)
    return "\n".join(
        zlib.decompress(base64.a85decode(b"<~" + c.strip(), adobe=True)).decode("latin-1")
        for c in chunks
        if c.strip().endswith(b"~>")
    )


def test_the_pdf_has_page_x_of_y_and_the_content_hash(qa_user):
    a = services.assessment_run(actor=qa_user, period=period(), answers={"materials": "both"})
    services.assessment_sign(actor=qa_user, assessment=a, signer=sign_as(qa_user))

    pdf = assessment_pdf(a)

    pages, text = _pages(pdf), _text(pdf)
    assert pdf.startswith(b"%PDF")
    assert pages >= 2
    assert f"Page 1 of {pages}" in text
    assert f"Page {pages} of {pages}" in text
    assert a.content_hash in text  # in every page's footer
    assert "Quinn QA" in text  # the signature manifestation
    assert "Mixed \\(process feeding discrete\\)" in text  # "both": recipes and BOMs


def test_qa_runs_lists_and_retrieves_through_the_api(api_client, qa_user):
    api_client.force_authenticate(qa_user)

    made = api_client.post(URL, {"days": 30, "answers": {"output": "both"}}, format="json")
    listed = api_client.get(URL)
    one = api_client.get(f"{URL}{made.data['id']}/")

    assert made.status_code == 201
    assert made.data["answers"] == {"output": "both"}
    assert [row["id"] for row in listed.data["results"]] == [made.data["id"]]
    assert listed.data["results"][0]["created_by"] == qa_user.username
    assert one.status_code == 200
    assert {i["key"] for i in one.data["items"]} >= {
        "batches.records_complete",
        "mes.audit_trail_intact",
    }
    assert len(one.data["symptoms"]) == 7


def test_an_operator_is_refused_and_nothing_is_written(api_client, operator):
    api_client.force_authenticate(operator)

    made = api_client.post(URL, {"days": 30}, format="json")
    listed = api_client.get(URL)

    assert (made.status_code, made.data["code"]) == (403, "not_authorized")
    assert listed.status_code == 403
    assert Assessment.objects.count() == 0


def test_a_bad_period_is_400_with_a_reason(api_client, qa_user):
    api_client.force_authenticate(qa_user)

    response = api_client.post(URL, {"period_start": "2026-01-01T00:00:00Z"}, format="json")

    assert response.status_code == 400
    assert Assessment.objects.count() == 0


def test_update_and_delete_are_refused(api_client, qa_user):
    a = services.assessment_run(actor=qa_user, period=period())
    api_client.force_authenticate(qa_user)

    put = api_client.put(f"{URL}{a.pk}/", {"mode": "discrete"}, format="json")
    patch = api_client.patch(f"{URL}{a.pk}/", {"mode": "discrete"}, format="json")
    delete = api_client.delete(f"{URL}{a.pk}/")

    assert (put.status_code, patch.status_code, delete.status_code) == (405, 405, 405)
    assert Assessment.objects.get(pk=a.pk).mode == a.mode


def test_sign_through_the_api_and_a_wrong_password_writes_nothing(api_client, qa_user):
    a = services.assessment_run(actor=qa_user, period=period())
    api_client.force_authenticate(qa_user)

    wrong = api_client.post(
        f"{URL}{a.pk}/sign/",
        {"username": qa_user.username, "password": "wrong"},
        format="json",
    )
    assert (wrong.status_code, wrong.data["code"]) == (403, "signature_bad_password")
    assert Signature.objects.count() == 0

    right = api_client.post(
        f"{URL}{a.pk}/sign/",
        {"username": qa_user.username, "password": DEFAULT_PASSWORD, "reason": "ok"},
        format="json",
    )
    assert right.status_code == 200
    assert [(s["meaning"], s["is_valid"]) for s in right.data["signatures"]] == [("assessed", True)]


def test_the_pdf_through_the_api(api_client, qa_user):
    a = services.assessment_run(actor=qa_user, period=period())
    api_client.force_authenticate(qa_user)

    response = api_client.get(f"{URL}{a.pk}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert a.content_hash in _text(response.content)
