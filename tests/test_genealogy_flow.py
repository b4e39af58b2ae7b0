"""Genealogy end to end, with the other apps installed (quality's gates are live): supplier
lots arrive through the API, quality's "released only" gate stops a quarantined lot, the batch
consumes released lots, the lot is split, packaged into serialized units and shipped; the
recall scope and the trace find everything, through the API, the pages and the command."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from genealogy import services
from genealogy.choices import LotStatus, MaterialKind
from genealogy.models import Lot
from genealogy.selectors import lots_with_ledger_mismatch
from genealogy.tests.factories import MaterialFactory, SerializedMaterialFactory, ledger_state

pytestmark = pytest.mark.django_db
API = "/api/v1/genealogy"


def test_supplier_lot_to_customer(api_client, client, operator, supervisor, qa_user):
    MaterialFactory(code="STY")
    MaterialFactory(code="BPO")
    MaterialFactory(code="PS", kind=MaterialKind.FINISHED)
    pail = SerializedMaterialFactory(code="PS-P20")
    api_client.force_authenticate(operator)
    ids = {}
    for material, number, qty, supplier_lot in (
        ("STY", "STY-1", "900", "SLN-1"),
        ("BPO", "BPO-1", "10", "NRY-1"),
    ):
        response = api_client.post(
            f"{API}/lots/receive/",
            {
                "material": material,
                "lot_number": number,
                "quantity": qty,
                "supplier": "Supplier",
                "supplier_lot_number": supplier_lot,
            },
            format="json",
        )
        assert response.status_code == 201
        ids[number] = response.json()["id"]

    # quality's gate: a quarantined lot is not consumed, and nothing is written
    before = ledger_state()
    refused = api_client.post(
        f"{API}/lots/{ids['STY-1']}/consume/",
        {"quantity": "1", "context": {"kind": "batch_phase", "ref": "B-1/phase 1"}},
        format="json",
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "lot_not_released")
    assert ledger_state() == before

    for number in ("STY-1", "BPO-1"):
        services.lot_set_status(
            actor=qa_user,
            lot=Lot.objects.get(pk=ids[number]),
            status=LotStatus.RELEASED,
            reason="incoming inspection passed",
        )
    produced = api_client.post(
        f"{API}/lots/produce/",
        {
            "material": "PS",
            "quantity": "880",
            "lot_number": "PS-1",
            "source": {"kind": "batch", "ref": "B-1", "url": "/batches/B-1/"},
            "inputs": [
                {
                    "lot": ids["STY-1"],
                    "quantity": "870",
                    "context": {"kind": "batch_phase", "ref": "B-1/phase 1"},
                },
                {
                    "lot": ids["BPO-1"],
                    "quantity": "9",
                    "context": {"kind": "batch_phase", "ref": "B-1/phase 2"},
                },
            ],
        },
        format="json",
    )
    assert produced.status_code == 201
    batch = Lot.objects.get(pk=produced.json()["id"])
    services.lot_set_status(
        actor=qa_user, lot=batch, status=LotStatus.RELEASED, reason="EBR reviewed"
    )
    (sub,) = services.lot_split(actor=supervisor, lot=batch, quantities=["100"])
    units = [
        services.unit_create(
            actor=operator,
            material=pail,
            serial_number=f"P-{i}",
            components=[{"lot": sub, "quantity": "20"}],
        )
        for i in range(3)
    ]
    for unit in units:
        services.lot_set_status(actor=qa_user, lot=unit, status=LotStatus.RELEASED, reason="ok")
    api_client.force_authenticate(supervisor)
    shipped = api_client.post(
        f"{API}/lots/ship/",
        {"units": [u.pk for u in units[:2]], "customer": "Acme", "shipment_ref": "SH-1"},
        format="json",
    )
    assert shipped.status_code == 201

    api_client.force_authenticate(qa_user)
    scope = api_client.get(f"{API}/recall-scope/?supplier_lot_number=SLN-1").json()
    assert (scope["affected_count"], scope["unit_count"], scope["customers"]) == (6, 3, ["Acme"])
    trace = api_client.get(f"{API}/lots/{units[0].pk}/trace/?direction=backward").json()
    assert sorted(n["lot_number"] for n in trace["nodes"]) == ["BPO-1", "PS-1", "PS-1-01", "STY-1"]
    client.force_login(qa_user)
    page = client.get(reverse("genealogy:recall"), {"supplier_lot": "SLN-1"})
    assert page.status_code == 200
    out = io.StringIO()
    call_command("trace", "STY-1", "--direction", "forward", stdout=out)
    assert out.getvalue().splitlines()[-1] == "forward trace of STY-1: 5 lot(s)/unit(s), 5 link(s)."
    assert lots_with_ledger_mismatch() == []
