"""The signatures screen and the reusable signing/manifestation partials."""

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from mes.esign.forms import SignatureForm
from mes.esign.models import Meaning
from mes.esign.selectors import signatures_for_record
from mes.esign.services import record_sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_site(qa_user, site, approval_policy, authenticate_signer):
    record_sign(record=site, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED)
    return site


def test_signatures_screen_lists_manifestations_with_validity(client, qa_user, signed_site):
    """P11-S-01 in the UI: name, meaning, date/time with zone, VALID/INVALID."""
    client.force_login(qa_user)
    response = client.get(reverse("esign:signature_list"))
    assert response.status_code == 200
    html = response.content.decode()
    [sig] = signatures_for_record(signed_site)
    assert sig.signed_at_display in html
    assert "Quinn QA" in html
    assert "Approved" in html
    assert "VALID" in html
    assert "INVALID" not in html


def test_changed_record_shows_invalid_on_screen(client, qa_user, signed_site):
    signed_site.name = "tampered"
    signed_site.save()
    client.force_login(qa_user)
    html = client.get(reverse("esign:signature_list")).content.decode()
    assert "INVALID" in html
    assert "the record changed after signing" in html


def test_signatures_screen_filters_by_signer(client, qa_user, signed_site):
    client.force_login(qa_user)
    html = client.get(reverse("esign:signature_list"), {"signer": "someone.else"}).content.decode()
    assert "No signatures match." in html


def test_signatures_screen_htmx_returns_the_rows_partial(client, qa_user, signed_site):
    client.force_login(qa_user)
    response = client.get(reverse("esign:signature_list"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'data-testid="signature-table"' in html
    assert "<html" not in html


def test_operator_cannot_open_the_signatures_screen(client, operator):
    client.force_login(operator)
    assert client.get(reverse("esign:signature_list")).status_code == 403


def test_sign_form_partial_shows_meaning_and_asks_both_components():
    """P11-C2-01/02: user ID and password fields every time; the meaning is shown."""
    form = SignatureForm(meaning=Meaning.VERIFIED)
    html = render_to_string(
        "esign/_sign_form.html", {"form": form, "action": "/x/", "submit_label": "Verify"}
    )
    assert 'data-testid="sign-meaning">Verified<' in html
    assert 'name="username"' in html
    assert 'name="password" type="password"' in html
    assert 'name="reason"' in html
    assert ">Verify</button>" in html


def test_sign_form_validates_and_hands_credentials_over():
    form = SignatureForm(
        data={"username": "quinn.qa", "password": " secret ", "reason": ""},
        meaning=Meaning.APPROVED,
        reason_required=True,
    )
    assert form.is_valid() is False
    assert list(form.errors) == ["reason"]
    form = SignatureForm(
        data={"username": "quinn.qa", "password": " secret ", "reason": "ok"},
        meaning=Meaning.APPROVED,
    )
    assert form.is_valid() is True
    assert form.signer_kwargs() == {"username": "quinn.qa", "password": " secret "}
