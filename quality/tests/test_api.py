"""The quality API: reads by permission, LIMS results with a token, signed release by API,
"any open deviation for batch X?", SPC values; refusals answer {"code", "detail"} and write
nothing."""

import pytest

from genealogy.choices import LotStatus
from genealogy.tests.factories import received_lot
from mes.accounts.services import api_token_create
from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.esign.models import Signature
from quality import services
from quality.models import LabResult, LotDisposition, SpcValue
from quality.tests.factories import (
    FAILING_ASSAY,
    PASSING,
    CharacteristicFactory,
    lot_with_results,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/quality"


@pytest.fixture
def lims_client(api_client, integration_user, admin_user):
    _, key = api_token_create(actor=admin_user, user=integration_user, name="LIMS")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("qa_user", "/lots/", 200),
        ("supervisor", "/lots/", 200),
        ("operator", "/lots/", 403),
        ("integration_user", "/lots/", 200),  # the ERP reads dispositions
        ("qa_user", "/deviations/", 200),
        ("operator", "/deviations/", 200),
        ("integration_user", "/deviations/", 403),
        ("integration_user", "/lab-results/", 200),
        ("operator", "/lab-results/", 403),
        ("operator", "/characteristics/", 200),
        ("planner", "/specifications/", 403),
        ("qa_user", "/specifications/", 200),
    ],
)
def test_read_permission_matrix(api_client, request, who, path, status):
    api_client.force_authenticate(request.getfixturevalue(who))

    response = api_client.get(API + path)

    assert response.status_code == status
    if status == 403:
        assert response.json()["code"] == "permission_denied"


def test_lims_posts_results_by_material_lot_number_and_test_name(lims_client, spec):
    lot = received_lot(material=spec.material, lot_number="LIMS-LOT")
    body = {
        "material": spec.material.code,
        "lot_number": "LIMS-LOT",
        "test": "Assay",
        "value": "97.2",
        "external_ref": "LIMS-000123",
        "tested_at": "2024-03-01T10:00:00+01:00",
    }

    response = lims_client.post(f"{API}/lab-results/", body, format="json")

    assert response.status_code == 201
    data = response.json()
    assert (data["lot"], data["test"], data["value_text"], data["outcome"], data["source"]) == (
        lot.pk,
        "Assay",
        "97.2",
        "fail",
        "lims",
    )
    assert data["entered_by"] == "erp.sap"
    assert data["is_current"] is True
    again = lims_client.post(f"{API}/lab-results/", body, format="json")
    assert again.status_code == 201
    assert again.json()["id"] == data["id"]
    assert LabResult.objects.count() == 1


def test_lims_cannot_post_for_an_unknown_test(lims_client, spec):
    received_lot(material=spec.material, lot_number="LIMS-2")

    response = lims_client.post(
        f"{API}/lab-results/",
        {"material": spec.material.code, "lot_number": "LIMS-2", "test": "Colour", "value": "1"},
        format="json",
    )

    assert response.status_code == 404
    assert response.json() == {
        "code": "test_not_found",
        "detail": "No such test in the approved specification.",
    }
    assert LabResult.objects.count() == 0


def test_an_operator_cannot_post_results(api_client, operator, spec):
    lot = received_lot(material=spec.material)
    api_client.force_authenticate(operator)

    response = api_client.post(
        f"{API}/lab-results/", {"lot": lot.pk, "test": "Assay", "value": "99"}, format="json"
    )

    assert response.status_code == 403
    assert response.json() == {
        "code": "not_authorized",
        "detail": "You lack the permission to enter lab results (quality.enter_labresult).",
    }
    assert LabResult.objects.count() == 0


def test_lot_quality_state_names_the_blockers(api_client, qa_user, spec):
    lot = lot_with_results(spec=spec, values=FAILING_ASSAY, actor=qa_user, lot_number="A-1")
    api_client.force_authenticate(qa_user)

    data = api_client.get(f"{API}/lots/{lot.pk}/").json()

    assert data["status"] == "quarantine"
    assert data["can_release"] is False
    assert data["required_results"] == 3
    assert data["missing_results"] == []
    assert [b["code"] for b in data["blockers"]] == ["failing_results"]


def test_release_by_api_refused_then_signed(api_client, qa_user, spec):
    failing = lot_with_results(spec=spec, values=FAILING_ASSAY, actor=qa_user, lot_number="A-2")
    passing = lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="A-3")
    api_client.force_login(qa_user)
    sign = {"username": "quinn.qa", "password": DEFAULT_PASSWORD, "reason": "Conforms"}

    refused = api_client.post(f"{API}/lots/{failing.pk}/release/", sign, format="json")
    released = api_client.post(f"{API}/lots/{passing.pk}/release/", sign, format="json")

    assert refused.status_code == 409
    assert refused.json()["code"] == "failing_results"
    assert refused.json()["detail"].startswith("Lot A-2 has failing results (Assay sample 1 = 96.5")
    assert released.status_code == 201
    body = released.json()
    assert (body["decision"], body["reason"], body["decided_by"]) == (
        "released",
        "Conforms",
        "quinn.qa",
    )
    assert [s["meaning"] for s in body["signatures"]] == ["released"]
    assert body["signatures"][0]["is_valid"] is True
    assert LotDisposition.objects.count() == 1
    failing.refresh_from_db()
    assert failing.status == LotStatus.QUARANTINE


def test_release_by_api_with_a_wrong_password(api_client, qa_user, spec):
    lot = lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="A-4")
    api_client.force_login(qa_user)

    response = api_client.post(
        f"{API}/lots/{lot.pk}/release/",
        {"username": "quinn.qa", "password": "guess-guess-1"},
        format="json",
    )

    assert response.status_code == 403
    assert response.json() == {
        "code": "signature_bad_password",
        "detail": "Wrong password; nothing was signed. Repeated failures lock your user ID.",
    }
    assert (
        LotDisposition.objects.count(),
        Signature.objects.filter(meaning="released").count(),
    ) == (0, 0)


def test_batches_ask_for_open_deviations_of_a_batch(api_client, operator, supervisor):
    services.deviation_open(
        actor=operator,
        title="Phase 3 excursion",
        description="d",
        source={"kind": "batch", "ref": "B-1001", "url": "/batches/1/"},
    )
    services.deviation_open(actor=operator, title="Other", description="d")
    api_client.force_authenticate(supervisor)

    data = api_client.get(f"{API}/deviations/?open=1&source_kind=batch&source_ref=B-1001").json()

    assert [d["title"] for d in data["results"]] == ["Phase 3 excursion"]


def test_open_a_deviation_by_api(api_client, operator):
    lot = received_lot(lot_number="D-1")
    api_client.force_authenticate(operator)

    response = api_client.post(
        f"{API}/deviations/",
        {
            "title": "Label mix-up",
            "description": "Wrong label on drum 3",
            "source": {"kind": "lot", "ref": "D-1"},
            "lots": [lot.pk],
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["source_kind"], body["lots"], body["opened_by"]) == (
        "open",
        "lot",
        [lot.pk],
        "olivia.operator",
    )


def test_spc_values_by_api(api_client, operator, planner):
    CharacteristicFactory(key="visc")
    api_client.force_authenticate(operator)

    created = api_client.post(
        f"{API}/characteristics/visc/values/", {"value": "12.5", "source_ref": "B-1"}, format="json"
    )
    chart = api_client.get(f"{API}/characteristics/visc/chart/")
    api_client.force_authenticate(planner)
    refused = api_client.post(f"{API}/characteristics/visc/values/", {"value": "1"}, format="json")

    assert created.status_code == 201
    assert created.json()["value"] == "12.500000"
    assert chart.json()["total_values"] == 1
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_authorized"
    assert SpcValue.objects.count() == 1


def test_delete_is_refused(api_client, qa_user):
    deviation = services.deviation_open(actor=qa_user, title="t", description="d")
    api_client.force_authenticate(qa_user)

    response = api_client.delete(f"{API}/deviations/{deviation.pk}/")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_deviation_list_query_budget(api_client, qa_user, django_assert_max_num_queries):
    for i in range(5):
        services.deviation_open(actor=qa_user, title=f"d{i}", description="d")
    api_client.force_authenticate(qa_user)

    with django_assert_max_num_queries(20):
        response = api_client.get(f"{API}/deviations/")

    assert response.json()["count"] == 5


def test_qa_defines_a_characteristic_and_an_operator_may_not(api_client, qa_user, operator):
    body = {"key": "rx-temp", "name": "Reactor temperature", "unit": "°C", "usl": "95"}
    api_client.force_authenticate(operator)
    refused = api_client.post(f"{API}/characteristics/", body, format="json")
    api_client.force_authenticate(qa_user)

    created = api_client.post(f"{API}/characteristics/", body, format="json")

    assert refused.status_code == 403
    assert refused.json() == {
        "code": "not_authorized",
        "detail": "You lack the permission to define SPC characteristics "
        "(quality.add_characteristic).",
    }
    assert created.status_code == 201
    assert (created.json()["key"], created.json()["usl"]) == ("rx-temp", "95.000000")
