"""The genealogy API: permission matrix, the trace and the recall scope, the commands, the
error body, query budgets."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from genealogy import services
from genealogy.choices import MaterialKind
from genealogy.models import Link, Lot, RecallJob
from genealogy.tests.factories import (
    MaterialFactory,
    SerializedMaterialFactory,
    produced_lot,
    q,
    received_lot,
)
from mes.accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

BASE = "/api/v1/genealogy"


@pytest.fixture
def chain(operator):
    raw = received_lot(
        quantity="100", lot_number="RAW-1", supplier_lot_number="SLN-7", actor=operator
    )
    fg = MaterialFactory(code="FG", kind=MaterialKind.FINISHED)
    batch = produced_lot(
        material=fg, quantity="50", lot_number="FG-1", inputs=[(raw, "40")], actor=operator
    )
    unit = services.unit_create(
        actor=operator,
        material=SerializedMaterialFactory(code="PAIL"),
        serial_number="SN-1",
        components=[{"lot": batch, "quantity": "20"}],
    )
    services.lot_ship(actor=operator, units=[unit], customer="Acme", shipment_ref="SH-1")
    return {"raw": raw, "batch": batch, "unit": unit}


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("qa_user", 200),
        ("supervisor", 200),
        ("operator", 200),
        ("planner", 200),
        ("maintenance_user", 403),
    ],
)
def test_trace_permission_matrix(api_client, chain, request, who, status):
    api_client.force_authenticate(request.getfixturevalue(who))

    response = api_client.get(f"{BASE}/lots/{chain['raw'].pk}/trace/?direction=forward")

    assert response.status_code == status


def test_trace_needs_authentication(api_client, chain):
    response = api_client.get(f"{BASE}/lots/{chain['raw'].pk}/trace/")

    assert response.status_code in (401, 403)
    assert set(response.json()) == {"code", "detail"}


def test_forward_trace_body(api_client, qa_user, chain):
    api_client.force_authenticate(qa_user)

    body = api_client.get(f"{BASE}/lots/{chain['raw'].pk}/trace/?direction=forward").json()

    assert body["direction"] == "forward"
    assert body["root"]["lot_number"] == "RAW-1"
    assert (body["count"], body["truncated"]) == (2, False)
    assert sorted((n["lot_number"], n["kind"], n["depth"]) for n in body["nodes"]) == [
        ("FG-1", "lot", 1),
        ("SN-1", "unit", 2),
    ]
    assert sorted((e["kind"], e["quantity"]) for e in body["edges"]) == [
        ("component", "20.000000"),
        ("consumed", "40.000000"),
    ]
    consumed = next(e for e in body["edges"] if e["kind"] == "consumed")
    assert consumed["context"]["ref"].endswith("/phase 1")
    fg = next(n for n in body["nodes"] if n["lot_number"] == "FG-1")
    assert fg["source"]["kind"] == "batch"


def test_backward_trace_is_the_default_and_a_bad_direction_is_refused(api_client, qa_user, chain):
    api_client.force_authenticate(qa_user)

    body = api_client.get(f"{BASE}/lots/{chain['unit'].pk}/trace/").json()
    refused = api_client.get(f"{BASE}/lots/{chain['unit'].pk}/trace/?direction=up")

    assert body["direction"] == "backward"
    assert sorted(n["lot_number"] for n in body["nodes"]) == ["FG-1", "RAW-1"]
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_input"


def test_trace_of_an_unknown_lot_is_404(api_client, qa_user):
    api_client.force_authenticate(qa_user)

    response = api_client.get(f"{BASE}/lots/999999/trace/")

    assert response.status_code == 404
    assert set(response.json()) == {"code", "detail"}


def test_trace_costs_a_fixed_number_of_queries(api_client, qa_user, chain, operator):
    api_client.force_authenticate(qa_user)
    url = f"{BASE}/lots/{chain['raw'].pk}/trace/?direction=forward"
    api_client.get(url)
    with CaptureQueriesContext(connection) as small:
        api_client.get(url)
    for i in range(5):
        services.lot_split(
            actor=operator, lot=chain["raw"], quantities=["1"], lot_numbers=[f"S{i}"]
        )
    with CaptureQueriesContext(connection) as large:
        body = api_client.get(url).json()

    assert body["count"] == 7
    assert len(large.captured_queries) == len(small.captured_queries)
    assert len(small.captured_queries) <= 4


def test_recall_scope_of_a_lot(api_client, qa_user, chain):
    api_client.force_authenticate(qa_user)

    body = api_client.get(f"{BASE}/lots/{chain['raw'].pk}/recall-scope/").json()

    assert (body["affected_count"], body["finished_lot_count"], body["unit_count"]) == (3, 1, 1)
    assert body["customers"] == ["Acme"]
    assert [(s["customer"], s["shipment_ref"], s["lot_number"]) for s in body["shipments"]] == [
        ("Acme", "SH-1", "SN-1")
    ]


def test_recall_scope_page_of_rows(api_client, qa_user, chain):
    api_client.force_authenticate(qa_user)

    body = api_client.get(f"{BASE}/lots/{chain['raw'].pk}/recall-scope/?limit=0").json()

    assert (body["unit_count"], body["units"], body["shipments"], body["complete"]) == (
        1,
        [],
        [],
        False,
    )
    assert body["customers"] == ["Acme"]


def test_recall_scope_by_supplier_lot_and_its_permission(api_client, qa_user, operator, chain):
    api_client.force_authenticate(operator)
    denied = api_client.get(f"{BASE}/recall-scope/?supplier_lot_number=SLN-7")
    api_client.force_authenticate(qa_user)
    body = api_client.get(f"{BASE}/recall-scope/?supplier_lot_number=SLN-7").json()
    missing = api_client.get(f"{BASE}/recall-scope/?supplier_lot_number=NOPE")

    assert denied.status_code == 403
    assert (body["subject"], body["unit_count"]) == ("supplier lot SLN-7", 1)
    assert missing.status_code == 404
    assert missing.json()["code"] == "lot_not_found"


def test_receive_command(api_client, operator):
    MaterialFactory(code="STY")
    api_client.force_authenticate(operator)

    response = api_client.post(
        f"{BASE}/lots/receive/",
        {
            "material": "STY",
            "lot_number": "STY-9",
            "quantity": "250.5",
            "supplier": "Styrolution",
            "supplier_lot_number": "SLN-9",
        },
        format="json",
    )

    assert response.status_code == 201
    assert (
        response.json()["lot_number"],
        response.json()["quantity"],
        response.json()["status"],
    ) == (
        "STY-9",
        "250.500000",
        "quarantine",
    )
    assert Lot.objects.get(lot_number="STY-9").quantity == q("250.5")


def test_receive_is_refused_to_qa_and_nothing_is_written(api_client, qa_user, unchanged):
    MaterialFactory(code="STY")
    api_client.force_authenticate(qa_user)
    before = unchanged()

    response = api_client.post(
        f"{BASE}/lots/receive/",
        {
            "material": "STY",
            "lot_number": "X",
            "quantity": "1",
            "supplier": "S",
            "supplier_lot_number": "L",
        },
        format="json",
    )

    assert response.status_code == 403
    assert unchanged() == before


def test_consume_command_refusal_body(api_client, operator, chain, unchanged):
    api_client.force_authenticate(operator)
    before = unchanged()

    response = api_client.post(
        f"{BASE}/lots/{chain['raw'].pk}/consume/",
        {"quantity": "61", "context": {"kind": "batch_phase", "ref": "B-2/phase 1"}},
        format="json",
    )

    assert response.status_code == 409
    assert response.json() == {
        "code": "insufficient_quantity",
        "detail": "Lot RAW-1 holds 60.000000 kg; 61.000000 kg cannot be taken from it.",
    }
    assert unchanged() == before


def test_split_merge_and_ship_commands(api_client, supervisor, operator):
    lot = received_lot(quantity="100", lot_number="R-1", actor=operator)
    api_client.force_authenticate(supervisor)

    split = api_client.post(
        f"{BASE}/lots/{lot.pk}/split/", {"quantities": ["30", "20"]}, format="json"
    )
    a, b = (x["id"] for x in split.json())
    merged = api_client.post(
        f"{BASE}/lots/merge/", {"lots": [a, b], "lot_number": "R-M"}, format="json"
    )
    shipped = api_client.post(
        f"{BASE}/lots/ship/",
        {"lot": merged.json()["id"], "quantity": "5", "customer": "Acme", "shipment_ref": "SH-4"},
        format="json",
    )

    assert [x["lot_number"] for x in split.json()] == ["R-1-01", "R-1-02"]
    assert (merged.status_code, merged.json()["quantity"]) == (201, "50.000000")
    assert (shipped.status_code, shipped.json()[0]["quantity_delta"]) == (201, "-5.000000")
    assert Lot.objects.get(lot_number="R-M").quantity == q(45)
    assert Link.objects.filter(child__lot_number="R-M").count() == 2


def test_produce_command_with_inputs(api_client, operator):
    raw = received_lot(quantity="10", actor=operator)
    MaterialFactory(code="RES")
    api_client.force_authenticate(operator)

    response = api_client.post(
        f"{BASE}/lots/produce/",
        {
            "material": "RES",
            "quantity": "9",
            "lot_number": "RES-1",
            "source": {"kind": "batch", "ref": "B-5", "url": "/batches/5/"},
            "inputs": [
                {
                    "lot": raw.pk,
                    "quantity": "10",
                    "context": {"kind": "batch_phase", "ref": "B-5/p1"},
                }
            ],
        },
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["source"] == {"kind": "batch", "ref": "B-5", "url": "/batches/5/"}
    assert Lot.objects.get(pk=raw.pk).quantity == q(0)


def test_adjust_command_needs_the_callers_password(api_client, supervisor, unchanged):
    lot = received_lot(quantity="10", actor=supervisor)
    api_client.force_authenticate(supervisor)
    before = unchanged()

    wrong = api_client.post(
        f"{BASE}/lots/{lot.pk}/adjust/",
        {"delta": "-1", "reason": "spill", "username": supervisor.username, "password": "nope"},
        format="json",
    )
    after_wrong = unchanged()
    right = api_client.post(
        f"{BASE}/lots/{lot.pk}/adjust/",
        {
            "delta": "-1",
            "reason": "spill",
            "username": supervisor.username,
            "password": DEFAULT_PASSWORD,
        },
        format="json",
    )

    assert (wrong.status_code, wrong.json()["code"]) == (403, "signature_bad_password")
    assert after_wrong == before
    assert (right.status_code, right.json()["quantity_delta"], right.json()["approved_by"]) == (
        201,
        "-1.000000",
        supervisor.username,
    )


def test_recall_job_runs_and_reports(
    api_client, qa_user, chain, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.VAR_DIR = tmp_path
    api_client.force_authenticate(qa_user)

    with django_capture_on_commit_callbacks(execute=True):
        created = api_client.post(f"{BASE}/recall-jobs/", {"lot": chain["raw"].pk}, format="json")
    job = RecallJob.objects.get()
    shown = api_client.get(f"{BASE}/recall-jobs/{job.pk}/").json()

    assert created.status_code == 202
    assert (shown["status"], shown["progress"], shown["node_count"], shown["unit_count"]) == (
        "done",
        100,
        3,
        1,
    )
    assert (tmp_path / "genealogy" / "recall" / f"recall-{job.pk}.csv").read_text().count(
        "\n"
    ) == 1 + 1 + 1 + 1


def test_materials_are_listed(api_client, recipe_author):
    MaterialFactory(code="STY", name="Styrene")
    api_client.force_authenticate(recipe_author)

    body = api_client.get(f"{BASE}/materials/").json()

    assert [(m["code"], m["name"], m["uom"]) for m in body["results"]] == [("STY", "Styrene", "kg")]
