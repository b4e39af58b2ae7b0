"""The equipment API: read-only viewsets scoped to the actor's areas, POST commands that
call one service each, errors as {"code", "detail"}."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from equipment.models import CalibrationRecord, UnitLogEntry
from equipment.tests.conftest import HOUR, clean, snapshot
from equipment.tests.factories import InstrumentFactory, UnitFactory

pytestmark = pytest.mark.django_db
BASE = "/api/v1/equipment"


@pytest.fixture
def reactor_rx(db):
    return UnitFactory(code="R-101", capabilities=["glass-lined"])


def test_units_list_is_scoped_to_the_actor(api_client, reactor_rx, operator, supervisor):
    api_client.force_authenticate(operator)
    assert api_client.get(f"{BASE}/units/").json()["results"] == []

    assign_perm("equipment.operate_in_area", operator, reactor_rx.area)
    body = api_client.get(f"{BASE}/units/").json()
    assert [u["code"] for u in body["results"]] == ["R-101"]
    assert body["results"][0] | {"status_changed_at": None} == {
        "id": reactor_rx.pk,
        "code": "R-101",
        "name": reactor_rx.name,
        "area": "RX",
        "process_cell": None,
        "work_center": None,
        "equipment_class": "reactor",
        "working_volume_l": "4000.00",
        "capabilities": ["glass-lined"],
        "status": "available",
        "status_changed_at": None,
        "current_batch_ref": "",
        "current_product_code": "",
        "hours_run": "0.00",
        "batch_count": 0,
        "is_active": True,
    }


def test_units_list_query_budget(api_client, supervisor, django_assert_max_num_queries):
    for _ in range(5):
        UnitFactory(capabilities=["glass-lined", "jacketed"])
    api_client.force_authenticate(supervisor)
    with django_assert_max_num_queries(10):
        response = api_client.get(f"{BASE}/units/")
    assert response.status_code == 200
    assert response.json()["count"] == 5


def test_unit_of_another_area_is_not_found(api_client, reactor_rx, operator):
    api_client.force_authenticate(operator)
    response = api_client.get(f"{BASE}/units/{reactor_rx.pk}/")
    assert response.status_code == 404
    assert set(response.json()) == {"code", "detail"}


def test_usability_lists_reasons(api_client, reactor_rx, supervisor, now):
    InstrumentFactory(code="TT-101", unit=reactor_rx, next_calibration_due_at=now - HOUR)
    api_client.force_authenticate(supervisor)

    body = api_client.get(
        f"{BASE}/units/{reactor_rx.pk}/usability/",
        {"product_code": "RES-100", "min_volume_l": "5000"},
    ).json()

    assert body["ok"] is False
    assert body["cleaning_state"] == "never_cleaned"
    assert [r["code"] for r in body["reasons"]] == [
        "cleaning_required",
        "instrument_past_due",
        "volume_too_small",
    ]


def test_matching_units(api_client, reactor_rx, supervisor):
    UnitFactory(code="R-102", working_volume_l=2500)
    api_client.force_authenticate(supervisor)
    body = api_client.get(
        f"{BASE}/units/matching/",
        {"equipment_class": "reactor", "min_volume_l": "2000", "capabilities": "glass-lined"},
    ).json()
    assert [u["code"] for u in body] == ["R-101"]


def test_record_and_verify_cleaning(api_client, reactor_rx, operator, operator2):
    assign_perm("equipment.operate_in_area", operator, reactor_rx.area)
    assign_perm("equipment.operate_in_area", operator2, reactor_rx.area)
    api_client.force_authenticate(operator)
    response = api_client.post(
        f"{BASE}/units/{reactor_rx.pk}/record-cleaning/",
        {"cleaning_type": "major", "note": "CIP"},
        format="json",
    )
    assert response.status_code == 201
    assert (response.json()["type"], response.json()["cleaning_type"]) == (
        "cleaning.performed",
        "major",
    )

    same = api_client.post(f"{BASE}/units/{reactor_rx.pk}/verify-cleaning/", {}, format="json")
    assert same.status_code == 403
    assert same.json() == {
        "code": "verifier_is_performer",
        "detail": "Olivia Operator performed this cleaning; another person must verify it.",
    }
    assert UnitLogEntry.objects.count() == 1

    api_client.force_authenticate(operator2)
    other = api_client.post(f"{BASE}/units/{reactor_rx.pk}/verify-cleaning/", {}, format="json")
    assert other.status_code == 201
    assert other.json()["verifies"] == response.json()["id"]


@pytest.mark.parametrize(
    ("role_fixture", "expected"),
    [
        ("operator", 403),
        ("qa_user", 403),
        ("planner", 403),
        ("supervisor", 200),
        ("maintenance_user", 200),
    ],
)
def test_change_status_permission_matrix(api_client, reactor_rx, request, role_fixture, expected):
    user = request.getfixturevalue(role_fixture)
    assign_perm("equipment.operate_in_area", user, reactor_rx.area)
    api_client.force_authenticate(user)
    before = snapshot(reactor_rx)

    response = api_client.post(
        f"{BASE}/units/{reactor_rx.pk}/change-status/",
        {"to_status": "out_of_service", "reason": "leak"},
        format="json",
    )

    assert response.status_code == expected
    if expected == 403:
        assert response.json()["code"] == "permission_denied"
        assert snapshot(reactor_rx) == before
    else:
        assert response.json()["status"] == "out_of_service"


def test_change_status_validation_error(api_client, reactor_rx, supervisor):
    api_client.force_authenticate(supervisor)
    before = snapshot(reactor_rx)
    response = api_client.post(
        f"{BASE}/units/{reactor_rx.pk}/change-status/", {"to_status": "broken"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert set(response.json()["errors"]) == {"to_status", "reason"}
    assert snapshot(reactor_rx) == before


def test_record_calibration(api_client, maintenance_user, now):
    probe = InstrumentFactory(code="TT-101", next_calibration_due_at=now - HOUR)
    api_client.force_authenticate(maintenance_user)
    assert api_client.get(f"{BASE}/instruments/{probe.pk}/usability/").json() == {
        "ok": False,
        "reasons": [
            {
                "code": "calibration_past_due",
                "message": "TT-101 calibration past due since "
                f"{timezone.localtime(now - HOUR):%Y-%m-%d %H:%M}",
            }
        ],
    }

    response = api_client.post(
        f"{BASE}/instruments/{probe.pk}/record-calibration/",
        {"reference_value": "25.00", "as_found_value": "25.20", "certificate_ref": "C-1"},
        format="json",
    )

    assert response.status_code == 201
    assert (response.json()["as_found_result"], response.json()["performed_by"]) == (
        "pass",
        "max.maint",
    )
    assert api_client.get(f"{BASE}/instruments/{probe.pk}/usability/").json() == {
        "ok": True,
        "reasons": [],
    }
    past_due = api_client.get(f"{BASE}/instruments/", {"past_due": "1"}).json()
    assert past_due["count"] == 0


def test_operator_cannot_record_calibration(api_client, operator, now):
    probe = InstrumentFactory()
    assign_perm("equipment.operate_in_area", operator, probe.area)
    api_client.force_authenticate(operator)
    response = api_client.post(
        f"{BASE}/instruments/{probe.pk}/record-calibration/",
        {"as_found_passed": True},
        format="json",
    )
    assert response.status_code == 403
    assert CalibrationRecord.objects.count() == 0


def test_maintenance_work_order_commands(api_client, maintenance_user, reactor_rx):
    from equipment import services

    order = services.maintenance_work_order_create(
        actor=maintenance_user, unit=reactor_rx, title="Seal"
    )
    api_client.force_authenticate(maintenance_user)

    listed = api_client.get(f"{BASE}/maintenance-work-orders/", {"open": "1"}).json()
    assert [o["number"] for o in listed["results"]] == [order.number]
    started = api_client.post(f"{BASE}/maintenance-work-orders/{order.pk}/start/")
    assert started.json()["status"] == "in_progress"
    refused = api_client.post(f"{BASE}/maintenance-work-orders/{order.pk}/start/")
    assert refused.status_code == 409
    assert refused.json() == {
        "code": "invalid_transition",
        "detail": f"{order.number} is in progress.",
    }
    done = api_client.post(
        f"{BASE}/maintenance-work-orders/{order.pk}/complete/", {"note": "ok"}, format="json"
    )
    assert done.json()["status"] == "completed"
    assert api_client.get(f"{BASE}/units/{reactor_rx.pk}/").json()["status"] == "available"


def test_record_usage_by_the_integration(api_client, integration_user, reactor_rx):
    api_client.force_authenticate(integration_user)
    response = api_client.post(
        f"{BASE}/units/{reactor_rx.pk}/record-usage/",
        {"hours": "7.25", "batches": 1, "ref": "RB-9"},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["hours_run"], response.json()["batch_count"]) == ("7.25", 1)


def test_logbook_endpoint(api_client, supervisor, operator, reactor_rx, now):
    clean(reactor_rx, by=operator, verified_by=supervisor, at=now - timedelta(hours=2))
    api_client.force_authenticate(supervisor)
    body = api_client.get(f"{BASE}/units/{reactor_rx.pk}/logbook/").json()
    assert [(e["type"], e["actor"]) for e in body] == [
        ("cleaning.performed", "olivia.operator"),
        ("cleaning.verified", "sam.supervisor"),
    ]


def test_anonymous_is_refused(api_client, reactor_rx):
    response = api_client.get(f"{BASE}/units/")
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"code", "detail"}


def test_reference_lists(api_client, supervisor, reactor_rx):
    api_client.force_authenticate(supervisor)
    assert [a["code"] for a in api_client.get(f"{BASE}/areas/").json()["results"]] == ["RX"]
    assert [s["code"] for s in api_client.get(f"{BASE}/sites/").json()["results"]] == ["RPP"]
    classes = api_client.get(f"{BASE}/equipment-classes/").json()["results"]
    assert [c["name"] for c in classes] == ["reactor"]
    assert Decimal(reactor_rx.working_volume_l) == Decimal("4000")


def test_signed_completion(api_client, maintenance_user, reactor_rx):
    from equipment import services
    from mes.accounts.tests.factories import DEFAULT_PASSWORD
    from mes.esign.models import Signature

    order = services.maintenance_work_order_create(
        actor=maintenance_user, unit=reactor_rx, title="Seal"
    )
    services.maintenance_work_order_start(actor=maintenance_user, work_order=order)
    api_client.force_authenticate(maintenance_user)

    wrong = api_client.post(
        f"{BASE}/maintenance-work-orders/{order.pk}/complete/",
        {"note": "seal replaced", "username": "max.maint", "password": "wrong-password-1"},
        format="json",
    )
    assert wrong.status_code == 403
    assert wrong.json()["code"].startswith("signature")
    order.refresh_from_db()
    assert order.status == "in_progress"
    assert Signature.objects.count() == 0

    signed = api_client.post(
        f"{BASE}/maintenance-work-orders/{order.pk}/complete/",
        {
            "note": "seal replaced",
            "username": "max.maint",
            "password": DEFAULT_PASSWORD,
            "reason": "work done as per SOP-MT-7",
        },
        format="json",
    )
    assert signed.status_code == 200
    assert signed.json()["status"] == "completed"
    signature = Signature.objects.get()
    assert (signature.meaning, signature.signer, signature.object_id, signature.reason) == (
        "performed",
        maintenance_user,
        str(order.pk),
        "work done as per SOP-MT-7",
    )
