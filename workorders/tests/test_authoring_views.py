"""Authoring pages: a planner drafts a BOM and a routing version in the back office (rows
added by HTMX), a QA reviewer approves each with an electronic signature; refusals come back
with the reason and write nothing; the handoff-rule page creates and switches rules."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.esign.models import Signature
from workorders.choices import VersionStatus
from workorders.models import (
    Bom,
    BomLine,
    HandoffRule,
    InspectionCharacteristic,
    Routing,
    RoutingOperation,
)

pytestmark = pytest.mark.django_db


def test_planner_drafts_a_bom_and_qa_approves_it_with_a_signature(client, line, planner, qa_user):
    client.force_login(planner)
    page = client.get(reverse("workorders:bom_new"))
    assert page.status_code == 200
    assert b'data-testid="add-line"' in page.content
    row = client.get(reverse("workorders:authoring_row", args=["bom-line"]), HTTP_HX_REQUEST="true")
    assert b'name="component"' in row.content
    assert b"<html" not in row.content

    response = client.post(
        reverse("workorders:bom_new"),
        {
            "item": "BOX-20",
            "base_quantity": "10",
            "effective_from": timezone.localdate().isoformat(),
            "description": "carton of ten",
            "component": ["LBL-20", "PAIL-20", ""],
            "quantity_per": ["10", "10", ""],
            "scrap_factor": ["0.05", "", ""],
            "operation_seq": ["10", "10", ""],
        },
    )
    bom = Bom.objects.get(item=line.box)
    assert response.status_code == 302
    assert response["Location"] == reverse("workorders:bom_detail", args=[bom.pk])
    assert (bom.status, bom.base_quantity, bom.created_by) == ("draft", Decimal(10), planner)
    assert list(bom.lines.values_list("component__code", "quantity_per", "scrap_factor")) == [
        ("LBL-20", Decimal(10), Decimal("0.05")),
        ("PAIL-20", Decimal(10), Decimal(0)),
    ]

    client.force_login(qa_user)
    detail = client.get(reverse("workorders:bom_detail", args=[bom.pk]))
    assert b'data-testid="approve-form"' in detail.content
    wrong = client.post(
        reverse("workorders:bom_detail", args=[bom.pk]),
        {"username": qa_user.username, "password": "wrong"},
        follow=True,
    )
    assert Bom.objects.get(pk=bom.pk).status == VersionStatus.DRAFT
    assert b"Sign: approved" in wrong.content
    client.post(
        reverse("workorders:bom_detail", args=[bom.pk]),
        {"username": qa_user.username, "password": DEFAULT_PASSWORD, "reason": "checked"},
    )
    bom.refresh_from_db()
    assert (bom.status, bom.approved_by) == (VersionStatus.APPROVED, qa_user)
    signature = Signature.objects.get(object_id=str(bom.pk), meaning="approved")
    assert (signature.signer, signature.reason) == (qa_user, "checked")


def test_the_author_cannot_approve_their_own_bom(client, line, planner, supervisor):
    client.force_login(supervisor)
    client.post(
        reverse("workorders:bom_new"),
        {
            "item": "BOX-20",
            "component": ["LBL-20"],
            "quantity_per": ["1"],
            "scrap_factor": [""],
            "operation_seq": ["10"],
        },
    )
    bom = Bom.objects.get(item=line.box)
    page = client.post(
        reverse("workorders:bom_detail", args=[bom.pk]),
        {"username": supervisor.username, "password": DEFAULT_PASSWORD},
        follow=True,
    )
    assert Bom.objects.get(pk=bom.pk).status == VersionStatus.DRAFT
    assert not Signature.objects.filter(object_id=str(bom.pk), meaning="approved").exists()
    assert b"msg-error" in page.content


def test_a_refused_bom_keeps_the_rows_and_writes_nothing(client, line, planner):
    client.force_login(planner)
    before = (Bom.objects.count(), BomLine.objects.count())
    response = client.post(
        reverse("workorders:bom_new"),
        {
            "item": "BOX-20",
            "component": ["LBL-20", "PAIL-20"],
            "quantity_per": ["2", "-1"],
            "scrap_factor": ["", ""],
            "operation_seq": ["10", "10"],
        },
    )
    assert response.status_code == 400
    assert b"Line 2: the quantity per must be positive." in response.content
    assert b'value="-1"' in response.content
    assert (Bom.objects.count(), BomLine.objects.count()) == before


def test_an_operator_may_not_author(client, line, operator):
    client.force_login(operator)
    response = client.post(
        reverse("workorders:bom_new"),
        {"item": "BOX-20", "component": ["LBL-20"], "quantity_per": ["1"], "operation_seq": ["1"]},
    )
    assert response.status_code == 403
    assert b"You lack the permission to author BOMs" in response.content
    assert not Bom.objects.filter(item=line.box).exists()


def test_planner_drafts_a_routing_with_alternatives_and_an_inspection_plan(
    client, line, planner, qa_user
):
    client.force_login(planner)
    response = client.post(
        reverse("workorders:routing_new"),
        {
            "item": "BOX-20",
            "effective_from": timezone.localdate().isoformat(),
            "seq": ["10", "20", ""],
            "name": ["Fold", "Check", ""],
            "work_center": ["PK-ASM", "PK-QC", ""],
            "alternatives": ["PK-FIL, PK-LBL", "", ""],
            "setup_minutes": ["5", "0", ""],
            "run_minutes_per_unit": ["0.5", "1", ""],
            "time_basis": ["machine", "labor", "both"],
            "crew_size": ["1", "2", "1"],
            "char_seq": ["20", "20", ""],
            "char_name": ["Flaps closed", "Weight", ""],
            "char_kind": ["pass_fail", "measured", "pass_fail"],
            "char_low": ["", "1.9", ""],
            "char_high": ["", "2.1", ""],
            "char_unit": ["", "kg", ""],
            "char_spc": ["", "box-weight", ""],
        },
    )
    routing = Routing.objects.get(item=line.box)
    assert response.status_code == 302
    ops = list(routing.operations.order_by("seq"))
    assert [(o.seq, o.work_center.code, o.time_basis, o.crew_size) for o in ops] == [
        (10, "PK-ASM", "machine", 1),
        (20, "PK-QC", "labor", 2),
    ]
    assert sorted(c.code for c in ops[0].alternative_work_centers.all()) == ["PK-FIL", "PK-LBL"]
    assert list(
        InspectionCharacteristic.objects.filter(operation=ops[1]).values_list(
            "name", "kind", "lower_limit", "upper_limit", "spc_key"
        )
    ) == [
        ("Flaps closed", "pass_fail", None, None, ""),
        ("Weight", "measured", Decimal("1.9"), Decimal("2.1"), "box-weight"),
    ]
    copy = client.get(reverse("workorders:routing_new"), {"from": routing.pk})
    assert b'value="PK-FIL, PK-LBL"' in copy.content

    client.force_login(qa_user)
    client.post(
        reverse("workorders:routing_detail", args=[routing.pk]),
        {"username": qa_user.username, "password": DEFAULT_PASSWORD},
    )
    assert Routing.objects.get(pk=routing.pk).status == VersionStatus.APPROVED


def test_a_characteristic_on_a_missing_operation_is_refused(client, line, planner):
    client.force_login(planner)
    before = (Routing.objects.count(), RoutingOperation.objects.count())
    response = client.post(
        reverse("workorders:routing_new"),
        {
            "item": "BOX-20",
            "seq": ["10"],
            "name": ["Fold"],
            "work_center": ["PK-ASM"],
            "alternatives": [""],
            "setup_minutes": ["0"],
            "run_minutes_per_unit": ["1"],
            "time_basis": ["labor"],
            "crew_size": ["1"],
            "char_seq": ["30"],
            "char_name": ["Weight"],
            "char_kind": ["pass_fail"],
            "char_low": [""],
            "char_high": [""],
            "char_unit": [""],
            "char_spc": [""],
        },
    )
    assert response.status_code == 400
    assert b"refer to operation(s) 30 that the routing lacks" in response.content
    assert (Routing.objects.count(), RoutingOperation.objects.count()) == before


def test_handoff_rule_page_creates_and_switches_off(client, line, planner, qa_user):
    from workorders.tests.factories import approved_versions, kit_operations

    approved_versions(
        item=line.box,
        lines=[{"component": line.label, "quantity_per": "4", "operation_seq": 10}],
        operations=[kit_operations(line.centers)[0]],
        author=planner,
        approver=qa_user,
    )
    client.force_login(planner)
    url = reverse("workorders:handoff_rules")
    client.post(url, {"material": "LBL-20", "item": "BOX-20", "area": line.area.code})
    rule = HandoffRule.objects.get()
    assert (rule.material.code, rule.item.code, rule.is_active) == ("LBL-20", "BOX-20", True)
    refused = client.post(url, {"rule": rule.pk, "is_active": "0", "reason": ""})
    assert refused.status_code == 400
    assert HandoffRule.objects.get().is_active is True
    client.post(url, {"rule": rule.pk, "is_active": "0", "reason": "line converted"})
    assert HandoffRule.objects.get().is_active is False
    page = client.get(url)
    assert b"LBL-20" in page.content
