"""Read-only signature API at /api/v1/mes/signatures/ (P11-S-01 in the API JSON)."""

import pytest
from django.utils import timezone

from mes.esign.models import Meaning, Signature
from mes.esign.services import record_sign
from mes.esign.tests.factories import SignatureFactory, SiteFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/mes/signatures/"


@pytest.fixture
def signed_site(qa_user, site, approval_policy, authenticate_signer):
    record_sign(
        record=site, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED, reason="ok"
    )
    return site


def test_list_includes_manifestation_and_validity(api_client, qa_user, signed_site):
    api_client.force_authenticate(qa_user)
    response = api_client.get(URL)
    assert response.status_code == 200
    [row] = response.json()["results"]
    signature = Signature.objects.get()
    expected_time = timezone.localtime(signature.signed_at).strftime("%Y-%m-%d %H:%M:%S")
    assert row["record_type"] == "equipment.site"
    assert row["object_id"] == str(signed_site.pk)
    assert row["printed_name"] == "Quinn QA"
    assert row["username"] == "quinn.qa"
    assert row["meaning"] == "approved"
    assert row["meaning_display"] == "Approved"
    assert row["reason"] == "ok"
    assert row["is_valid"] is True
    assert row["invalid_reason"] == ""
    assert row["manifestation"] == f"Quinn QA — Approved — {expected_time} UTC+00:00"


def test_changed_record_shows_invalid_in_the_api(api_client, qa_user, signed_site):
    signed_site.name = "changed"
    signed_site.save()
    api_client.force_authenticate(qa_user)
    row = api_client.get(f"{URL}{Signature.objects.get().pk}/").json()
    assert row["is_valid"] is False


def test_filters(api_client, qa_user, qa_user2, signed_site):
    other = SiteFactory()
    SignatureFactory(record=other, signer=qa_user2, meaning=Meaning.REVIEWED)
    api_client.force_authenticate(qa_user)
    assert [
        r["username"] for r in api_client.get(URL, {"signer": "QUEENIE.QA"}).json()["results"]
    ] == ["queenie.qa"]
    assert [
        r["meaning"] for r in api_client.get(URL, {"meaning": "approved"}).json()["results"]
    ] == ["approved"]
    assert api_client.get(URL, {"record_type": "equipment.area"}).json()["results"] == []
    assert len(api_client.get(URL, {"record_type": "equipment.site"}).json()["results"]) == 2


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("qa_user", 200),
        ("supervisor", 200),
        ("admin_user", 200),
        ("operator", 403),
        ("planner", 403),
    ],
)
def test_permission_matrix(request, api_client, signed_site, who, status):
    api_client.force_authenticate(request.getfixturevalue(who))
    assert api_client.get(URL).status_code == status


def test_anonymous_is_refused(api_client, signed_site):
    response = api_client.get(URL)
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_signatures_cannot_be_written_through_the_api(api_client, qa_user, signed_site, method):
    """P11-S-04: append-only, and never through the API."""
    api_client.force_authenticate(qa_user)
    pk = Signature.objects.get().pk
    url = URL if method == "post" else f"{URL}{pk}/"
    response = getattr(api_client, method)(url, {"meaning": "rejected"}, format="json")
    assert response.status_code == 405
    assert Signature.objects.get().meaning == "approved"


def test_list_query_count_does_not_grow_with_rows(
    api_client, qa_user, signed_site, django_assert_max_num_queries
):
    for _ in range(10):
        SignatureFactory(record=SiteFactory(), signer=qa_user)
    api_client.force_authenticate(qa_user)
    with django_assert_max_num_queries(8):
        response = api_client.get(URL)
    assert len(response.json()["results"]) == 11
