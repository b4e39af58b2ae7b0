"""Pages and API: the terminal renders, refusals reach the operator with the reason, the API
answers 409 with {code, detail} and writes nothing."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from mes.accounts.tests.factories import DEFAULT_PASSWORD
from workorders import services
from workorders.models import ComponentConsumption, QuantityReport, WorkOrder
from workorders.tests.conftest import op

pytestmark = pytest.mark.django_db


def test_terminal_lists_the_operations_of_a_work_center(client, released_wo, operator, line):
    client.force_login(operator)
    page = client.get(reverse("workorders:terminal"), {"work_center": line.centers["ASM"].pk})
    assert page.status_code == 200
    assert f"{released_wo.number}".encode() in page.content
    panel = client.get(reverse("workorders:operation", args=[op(released_wo, 10).pk]))
    assert b"KIT-" in panel.content
    assert b"Clock on" in panel.content


def test_terminal_shows_the_refusal_of_a_wrong_scan(client, released_wo, operator):
    client.force_login(operator)
    unit = released_wo.units.order_by("serial_number").first()
    services.unit_complete_operation(actor=operator, unit=unit)
    response = client.post(
        reverse("workorders:unit_action", args=[unit.pk, "scan"]),
        {"code": "LBL-LOT-1"},
        follow=True,
    )
    assert b"LBL-LOT-1 is LBL-20; this operation takes PAIL-20." in response.content
    assert not ComponentConsumption.objects.exists()


def test_variance_page_and_csv(client, supervisor):
    client.force_login(supervisor)
    assert client.get(reverse("workorders:variance")).status_code == 200
    csv = client.get(reverse("workorders:variance"), {"format": "csv", "group_by": "work_center"})
    assert csv.content.decode().splitlines()[0].startswith("work_center,label,std labor h")


def test_api_release_with_a_draft_bom_is_409(api_client, line, planner):
    draft = services.bom_create(
        actor=planner,
        item=line.kit,
        effective_from=timezone.localdate(),
        lines=[{"component": line.pail, "quantity_per": "1", "operation_seq": 20}],
    )
    wo = services.work_order_create(
        actor=planner,
        item=line.kit,
        quantity=1,
        due_date=timezone.localdate() + timedelta(days=1),
        bom=draft,
        routing=line.routing,
    )
    api_client.force_authenticate(planner)
    response = api_client.post(f"/api/v1/workorders/work-orders/{wo.pk}/release/")
    assert response.status_code == 409
    assert response.json()["code"] == "version_not_approved"
    assert "is draft, not approved" in response.json()["detail"]
    assert WorkOrder.objects.get(pk=wo.pk).status == "planned"


def test_api_create_release_and_over_report(api_client, line, planner, operator, qa_user):
    from workorders.tests.factories import approved_versions, kit_operations

    approved_versions(
        item=line.box,
        lines=[{"component": line.label, "quantity_per": "1", "operation_seq": 10}],
        operations=[kit_operations(line.centers)[0]],
        author=planner,
        approver=qa_user,
    )
    api_client.force_authenticate(planner)
    created = api_client.post(
        "/api/v1/workorders/work-orders/",
        {
            "item": "BOX-20",
            "quantity": "5",
            "due_date": "2030-01-01",
            "source": "erp",
            "external_ref": "SAP-4711",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert api_client.post(f"/api/v1/workorders/work-orders/{pk}/release/").status_code == 200
    op_id = WorkOrder.objects.get(pk=pk).operations.get().pk
    api_client.force_authenticate(operator)
    from guardian.shortcuts import assign_perm

    assign_perm("equipment.operate_in_area", operator, line.area)
    over = api_client.post(
        f"/api/v1/workorders/operations/{op_id}/report/", {"good": "6"}, format="json"
    )
    assert over.status_code == 409
    assert over.json()["code"] == "quantity_exceeded"
    assert not QuantityReport.objects.exists()
    ok = api_client.post(
        f"/api/v1/workorders/operations/{op_id}/report/", {"good": "5"}, format="json"
    )
    assert (ok.status_code, ok.json()["qty_good"]) == (200, "5.000000")


def test_api_bom_approval_is_signed(api_client, line, planner, qa_user):
    bom = services.bom_create(
        actor=planner,
        item=line.kit,
        effective_from=timezone.localdate(),
        lines=[{"component": line.pail, "quantity_per": "1", "operation_seq": 20}],
    )
    api_client.force_authenticate(qa_user)
    wrong = api_client.post(
        f"/api/v1/workorders/boms/{bom.pk}/approve/",
        {"username": "quinn.qa", "password": "wrong-password-1"},
        format="json",
    )
    assert (wrong.status_code, wrong.json()["code"]) == (403, "signature_bad_password")
    ok = api_client.post(
        f"/api/v1/workorders/boms/{bom.pk}/approve/",
        {"username": "quinn.qa", "password": DEFAULT_PASSWORD},
        format="json",
    )
    assert (ok.status_code, ok.json()["status"]) == (200, "approved")


def test_api_authors_a_bom_and_a_routing_then_approves_with_a_signature(
    api_client, line, planner, qa_user
):
    api_client.force_authenticate(planner)
    bom = api_client.post(
        "/api/v1/workorders/boms/",
        {
            "item": "BOX-20",
            "effective_from": timezone.localdate().isoformat(),
            "base_quantity": "10",
            "lines": [
                {"component": "LBL-20", "quantity_per": "10", "operation_seq": 10},
                {
                    "component": "PAIL-20",
                    "quantity_per": "10",
                    "scrap_factor": "0.01",
                    "operation_seq": 20,
                },
            ],
        },
        format="json",
    )
    assert bom.status_code == 201, bom.content
    assert [(x["component"], x["operation_seq"]) for x in bom.json()["lines"]] == [
        ("LBL-20", 10),
        ("PAIL-20", 20),
    ]
    routing = api_client.post(
        "/api/v1/workorders/routings/",
        {
            "item": "BOX-20",
            "effective_from": timezone.localdate().isoformat(),
            "operations": [
                {
                    "seq": 10,
                    "name": "Fold",
                    "work_center": "PK-ASM",
                    "alternative_work_centers": ["PK-FIL"],
                    "run_minutes_per_unit": "0.5",
                    "time_basis": "machine",
                },
                {
                    "seq": 20,
                    "name": "Check",
                    "work_center": "PK-QC",
                    "crew_size": 2,
                    "characteristics": [
                        {"name": "Weight", "kind": "measured", "lower_limit": "1", "unit": "kg"}
                    ],
                },
            ],
        },
        format="json",
    )
    assert routing.status_code == 201, routing.content
    assert [o["work_center"] for o in routing.json()["operations"]] == ["PK-ASM", "PK-QC"]

    api_client.force_authenticate(qa_user)
    approved = api_client.post(
        f"/api/v1/workorders/boms/{bom.json()['id']}/approve/",
        {"username": qa_user.username, "password": DEFAULT_PASSWORD, "reason": "ok"},
        format="json",
    )
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"


def test_api_bom_with_a_bad_line_is_400_and_writes_nothing(api_client, line, planner):
    from workorders.models import Bom

    api_client.force_authenticate(planner)
    response = api_client.post(
        "/api/v1/workorders/boms/",
        {
            "item": "BOX-20",
            "effective_from": timezone.localdate().isoformat(),
            "lines": [{"component": "LBL-20", "quantity_per": "0", "operation_seq": 10}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Line 1: the quantity per must be positive."
    assert not Bom.objects.filter(item=line.box).exists()
