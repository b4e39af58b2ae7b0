"""The Oracle simulator's resourceTransactions collection, spoken to over plain HTTP."""

from __future__ import annotations

import httpx
import pytest

ROOT = "/fscmRestApi/resources/11.13.18.05/"
AUTH = ("mes.integration", "sim-password")
WO = "M1-77"


@pytest.fixture
def sim(oracle_simulator):
    oracle_simulator.seed(
        {
            "id": WO,
            "plant": "M1",
            "uom": "Ea",
            "operations": [{"operation": "10"}, {"operation": "20"}],
        }
    )
    return oracle_simulator


def row(**overrides):
    return {
        "OrganizationCode": "M1",
        "WorkOrderNumber": WO,
        "OperationSequenceNumber": 10,
        "ResourceCode": "LABOR",
        "TransactionQuantity": 1.5,
        "TransactionUnitOfMeasure": "HR",
        "TransactionDate": "2026-11-25T08:00:00+00:00",
        "SourceHeaderReference": "k1",
        "SourceLineReference": "1",
        **overrides,
    }


def post(sim, *rows, key="k1", source="MES"):
    return httpx.post(
        f"{sim.url}{ROOT}resourceTransactions",
        json={"SourceSystemCode": source, "ResourceTransactionDetail": list(rows)},
        headers={"X-MES-Message-Id": key, "REST-Framework-Version": "4"},
        auth=AUTH,
    )


def get(sim, **params):
    return httpx.get(f"{sim.url}{ROOT}resourceTransactions", params=params, auth=AUTH).json()


def test_a_valid_post_applies_every_row_and_answers_201_with_ids(sim):
    machine = sim.simulator.resource_id("MACHINE")
    response = post(sim, row(), row(ResourceCode=None, ResourceId=machine, SourceLineReference="2"))
    body = response.json()
    assert (response.status_code, body["ErrorsExistFlag"], body["SourceSystemType"]) == (
        201,
        "N",
        "EXTERNAL",
    )
    details = body["ResourceTransactionDetail"]
    assert [(d["ResourceCode"], d["InterfaceStatusCode"], d["MessageDetail"]) for d in details] == [
        ("LABOR", "SUCCESS", None),
        ("MACHINE", "SUCCESS", None),
    ]
    assert all(isinstance(d["ResourceTransactionId"], int) for d in details)
    erp = sim.state()["erp"]["resource_transactions"]
    assert [(r["ResourceCode"], r["SourceSystemCode"], r["TransactionHeaderId"]) for r in erp] == [
        ("LABOR", "MES", body["TransactionHeaderId"]),
        ("MACHINE", "MES", body["TransactionHeaderId"]),
    ]
    assert sim.state()["effective"] == {"k1": {"count": 1, "kinds": ["resource_transaction"]}}


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"WorkOrderNumber": "M1-404"}, "The work order M1-404 doesn't exist in organization M1."),
        (
            {"OperationSequenceNumber": 30},
            f"The operation sequence 30 doesn't exist in work order {WO}.",
        ),
        ({"ResourceCode": "CRANE"}, "The resource CRANE doesn't exist in organization M1."),
        ({"ResourceCode": None}, "The attribute ResourceCode or ResourceId is required."),
        ({"ResourceCode": None, "ResourceId": 1}, "The resource ID 1 isn't valid."),
        ({"TransactionQuantity": 0}, "The transaction quantity must be greater than zero."),
        (
            {"TransactionUnitOfMeasure": "MIN"},
            "The unit of measure MIN isn't valid for resource LABOR.",
        ),
    ],
)
def test_a_row_error_is_a_201_with_errors_exist_and_applies_no_row(sim, bad, expected):
    response = post(sim, row(SourceLineReference="2", ResourceCode="MACHINE"), row(**bad))
    body = response.json()
    assert (response.status_code, body["ErrorsExistFlag"]) == (201, "Y")
    first, second = body["ResourceTransactionDetail"]
    assert (first["InterfaceStatusCode"], first["MessageDetail"]) == ("SUCCESS", None)
    assert (second["InterfaceStatusCode"], second["MessageDetail"]) == ("ERROR", expected)
    assert sim.simulator.resource_transactions == []
    assert sim.state()["effective"] == {}


def test_an_unreleased_work_order_is_refused(sim):
    sim.seed({"id": "M1-PLAN", "plant": "M1", "status": "planned"})
    body = post(sim, row(WorkOrderNumber="M1-PLAN")).json()
    assert body["ResourceTransactionDetail"][0]["MessageDetail"] == (
        "The work order M1-PLAN has status ORA_UNRELEASED: only released work orders can be transacted."
    )


def test_header_errors_are_http_400(sim):
    empty = post(sim)
    assert (empty.status_code, empty.json()["o:errorDetails"][0]["detail"]) == (
        400,
        "At least one ResourceTransactionDetail row is required.",
    )
    unknown = post(sim, row(), source="NOPE")
    assert unknown.status_code == 400
    assert "The source system NOPE isn't registered" in unknown.text


def test_get_filters_with_q_and_pages(sim):
    for n in range(5):
        post(sim, row(SourceHeaderReference=f"k{n}", TransactionQuantity=n + 1), key=f"k{n}")
    post(sim, row(OperationSequenceNumber=20, SourceHeaderReference="k9"), key="k9")
    found = get(sim, q="SourceSystemCode='MES';SourceHeaderReference='k3'")
    assert [(i["SourceHeaderReference"], i["TransactionQuantity"]) for i in found["items"]] == [
        ("k3", 4)
    ]
    page = get(sim, q=f"WorkOrderNumber='{WO}';OperationSequenceNumber=10", limit=2, offset=2)
    assert (page["count"], page["hasMore"], page["offset"]) == (2, True, 2)
    assert [i["SourceHeaderReference"] for i in page["items"]] == ["k2", "k3"]
    last = get(sim, q="OperationSequenceNumber=10", limit=2, offset=4, totalResults="true")
    assert (last["count"], last["hasMore"], last["totalResults"]) == (1, False, 5)


def test_fault_injection_applies_to_resource_transactions(sim):
    sim.fault(path="resourceTransactions$", method="POST", kind="status", status=503)
    assert post(sim, row()).status_code == 503
    assert sim.simulator.resource_transactions == []
    sim.fault(path="resourceTransactions$", method="POST", kind="lost_5xx")
    assert post(sim, row()).status_code == 502
    assert len(sim.simulator.resource_transactions) == 1  # applied, the answer lost


def test_effective_counts_a_message_applied_twice_once_per_repeat_of_a_kind(sim):
    post(sim, row(), key="k")
    post(sim, row(), key="k")
    assert sim.state()["effective"]["k"] == {
        "count": 2,
        "kinds": ["resource_transaction", "resource_transaction"],
    }
    sim.reset()
    assert sim.state()["erp"]["resource_transactions"] == []
