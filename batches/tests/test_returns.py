"""Dispensed material not charged into the batch: returned to its lot or written off as
waste, with a reason, while the phase is active; the reconciliation and the phase's tolerance
check count what was charged."""

from decimal import Decimal

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from batches import ebr, selectors, services
from batches.choices import BatchEventType
from batches.exceptions import PhaseNotActive
from batches.models import BatchEvent, MaterialReturn
from batches.tests import factories as f
from batches.tests.test_services import _close_phase, _deviation_titles
from genealogy.models import Lot, LotEvent
from mes.exceptions import Conflict, InvalidInput

pytestmark = pytest.mark.django_db


def _dispensed(batch, operator, qa_user, quantity="810"):
    lot = f.released_lot(material="RM-MONO", quantity="1000", qa=qa_user)
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    services.parameter_value_record(actor=operator, phase=ph, name="Charge temperature", value="25")
    use = services.material_dispense(actor=operator, phase=ph, lot=lot, quantity=quantity)
    return lot, ph, use


def _row(batch, material="RM-MONO"):
    row = {r["material"]: r for r in selectors.batch_reconciliation(batch)}[material]
    return {k: row[k] for k in ("dispensed", "returned", "waste", "consumed", "difference")} | {
        "ok": row["is_within_tolerance"]
    }


def test_a_return_goes_back_to_the_lot_and_the_phase_charged_the_rest(batch, operator, qa_user):
    lot, ph, use = _dispensed(batch, operator, qa_user)

    back = services.material_return(
        actor=operator, use=use, quantity="10", kind="returned", reason="drum rest"
    )
    _close_phase(ph, operator)

    assert Lot.objects.get(pk=lot.pk).quantity == Decimal("200")
    assert back.lot_event.type == "lot.returned"
    assert back.lot_event.data == {"consumption": use.consumption_id}
    assert _deviation_titles(batch) == []  # 800 charged: inside 796 … 804
    assert _row(batch) == {
        "dispensed": Decimal("810"),
        "returned": Decimal("10"),
        "waste": Decimal("0"),
        "consumed": Decimal("800"),
        "difference": Decimal("0"),
        "ok": True,
    }
    event = BatchEvent.objects.get(type=BatchEventType.MATERIAL_RETURNED)
    assert (event.data["quantity"], event.data["reason"]) == ("10", "drum rest")


def test_waste_stays_out_of_the_lot_and_out_of_the_charge(batch, operator, qa_user):
    lot, ph, use = _dispensed(batch, operator, qa_user, quantity="800")

    services.material_return(actor=operator, use=use, quantity="5", kind="waste", reason="spill")
    _close_phase(ph, operator)

    assert Lot.objects.get(pk=lot.pk).quantity == Decimal("200")
    assert not LotEvent.objects.filter(type="lot.returned").exists()
    assert _row(batch)["waste"] == Decimal("5")
    assert _row(batch)["consumed"] == Decimal("795")
    assert _deviation_titles(batch) == [f"{batch.number}: RM-MONO dispensing outside tolerance"]


def test_more_than_is_left_of_the_dispense_is_refused_and_nothing_written(batch, operator, qa_user):
    lot, _, use = _dispensed(batch, operator, qa_user)
    services.material_return(actor=operator, use=use, quantity="800", kind="returned", reason="a")

    with pytest.raises(Conflict) as exc:
        services.material_return(actor=operator, use=use, quantity="11", kind="waste", reason="b")

    assert exc.value.status_code == 409
    assert "Only 10 kg of lot" in exc.value.detail
    assert MaterialReturn.objects.count() == 1
    assert Lot.objects.get(pk=lot.pk).quantity == Decimal("990")


def test_a_reason_and_a_known_kind_are_needed(batch, operator, qa_user):
    _, _, use = _dispensed(batch, operator, qa_user)

    with pytest.raises(InvalidInput, match="Say why"):
        services.material_return(actor=operator, use=use, quantity="1", kind="waste", reason=" ")
    with pytest.raises(InvalidInput, match="not a kind of return"):
        services.material_return(actor=operator, use=use, quantity="1", kind="lost", reason="x")

    assert MaterialReturn.objects.count() == 0


def test_after_the_phase_is_completed_nothing_can_be_returned(batch, operator, qa_user):
    lot, ph, use = _dispensed(batch, operator, qa_user, quantity="800")
    _close_phase(ph, operator)

    with pytest.raises(PhaseNotActive):
        services.material_return(actor=operator, use=use, quantity="1", kind="returned", reason="x")

    assert Lot.objects.get(pk=lot.pk).quantity == Decimal("200")


def test_the_api_records_a_return_and_answers_409_with_the_reason(
    api_client, operator, batch, qa_user
):
    assign_perm("equipment.operate_in_area", operator, batch.unit.area)
    api_client.force_authenticate(operator)
    _, ph, use = _dispensed(batch, operator, qa_user)
    url = f"/api/v1/batches/phases/{ph.pk}/returns/"

    ok = api_client.post(
        url, {"use": use.pk, "kind": "returned", "quantity": "10", "reason": "rest"}, format="json"
    )
    too_much = api_client.post(
        url, {"use": use.pk, "kind": "waste", "quantity": "801", "reason": "spill"}, format="json"
    )
    bad = api_client.post(url, {"use": use.pk, "kind": "lost", "quantity": "1"}, format="json")

    assert ok.status_code == 201
    assert (ok.json()["kind"], ok.json()["quantity"]) == ("returned", "10.000000")
    assert too_much.status_code == 409
    assert "Only 800 kg of lot" in too_much.json()["detail"]
    assert bad.status_code == 400
    assert MaterialReturn.objects.count() == 1


def test_the_terminal_records_waste_with_a_reason(client, operator, batch, qa_user):
    assign_perm("equipment.operate_in_area", operator, batch.unit.area)
    client.force_login(operator)
    _, ph, use = _dispensed(batch, operator, qa_user)

    page = client.post(
        reverse("batches:phase_return", args=[batch.pk, ph.pk]),
        {"use": use.pk, "kind": "waste", "quantity": "10", "reason": "spilled at the manway"},
        follow=True,
    ).content.decode()

    assert "10 recorded as waste." in page
    assert "Waste (written off): 10 kg — spilled at the manway" in page
    assert MaterialReturn.objects.get().kind == "waste"


def test_the_record_carries_the_return_and_the_signature_stays_valid(batch, operator, qa_user):
    _, ph, use = _dispensed(batch, operator, qa_user)
    services.material_return(actor=operator, use=use, quantity="10", kind="returned", reason="r")
    _close_phase(ph, operator)

    data = ebr.ebr_export(batch)

    phase = next(p for p in data["record"]["phases"] if p["path"] == "UP1/OP1/PH1")
    assert [(r["kind"], r["quantity"], r["reason"]) for r in phase["uses"][0]["returns"]] == [
        ("returned", "10.000000", "r")
    ]
    assert [s["is_valid"] for s in phase["signatures"]] == [True]
    assert Decimal(data["reconciliation"][0]["returned"]) == Decimal("10")
    assert ebr.ebr_pdf(batch).startswith(b"%PDF")
