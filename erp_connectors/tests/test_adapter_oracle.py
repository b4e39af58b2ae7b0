"""The Oracle Manufacturing Cloud adapter against the Oracle simulator, over real HTTP."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import httpx
import pytest

from erp_connectors.adapters.base import MESSAGE_KINDS, AdapterError
from erp_connectors.tests.adapter_payloads import message

WO = "M1-1208"
OPS = [{"operation": "10", "work_center": "ASSY-1"}, {"operation": "20", "work_center": "PACK-1"}]
MAPPING = {
    "plant": "M1",
    "uoms": {"kg": "kg", "ea": "Ea"},
    "work_centers": {"WC-ASSY": "ASSY-1", "WC-PACK": "PACK-1"},
    "materials": {"PELLET": "AS54888", "RESIN-A": "RM-100"},
    "subinventory": "Stores",
    "completion_subinventory": "FG",
}


@pytest.fixture
def sim(oracle_simulator):
    oracle_simulator.seed(
        {
            "id": WO,
            "plant": "M1",
            "material": "AS54888",
            "quantity": "100",
            "uom": "kg",
            "operations": OPS,
        },
        {
            "id": "M1-PROC",
            "plant": "M1",
            "kind": "process",
            "material": "RM-100",
            "quantity": "500",
            "uom": "kg",
            "recipe": "RESIN-WD",
            "expected_yield_pct": "96",
        },
    )
    return oracle_simulator


@pytest.fixture
def adapter(sim, adapter_for):
    return adapter_for(sim, timeout=0.5, **MAPPING)


def effective(sim):
    return {k: v["count"] for k, v in sim.state()["effective"].items()}


def test_fetch_pages_with_limit_and_offset_until_has_more_is_false(erp_simulator, adapter_for):
    sim = erp_simulator("oracle")
    sim.seed(
        *[
            {
                "id": f"M1-{n:03d}",
                "plant": "M1",
                "material": "AS54888",
                "quantity": n + 1,
                "uom": "Ea",
                "operations": OPS,
            }
            for n in range(7)
        ],
        {"id": "M2-001", "plant": "M2"},
        {"id": "M1-900", "plant": "M1", "status": "planned"},
        {"id": "M1-901", "plant": "M1", "status": "cancelled"},
        {
            "id": "M1-PROC",
            "plant": "M1",
            "kind": "process",
            "material": "RM-100",
            "quantity": "500",
            "uom": "kg",
            "recipe": "RESIN-WD",
            "expected_yield_pct": "96",
        },
    )
    adapter = adapter_for(sim, page_size=3, **MAPPING)
    orders = {o.erp_order_id: o for o in adapter.fetch_orders()}
    assert len(orders) == 10
    assert "M2-001" not in orders
    first = orders["M1-000"]
    assert (first.kind, first.material_code, first.uom, first.work_center, first.quantity) == (
        "discrete",
        "PELLET",
        "ea",
        "WC-ASSY",
        Decimal("1"),
    )
    assert (orders["M1-900"].status, orders["M1-901"].status) == ("planned", "cancelled")
    process = orders["M1-PROC"]
    assert (process.kind, process.recipe_code, process.expected_yield_pct) == (
        "process",
        "RESIN-WD",
        Decimal("96.0"),
    )
    pages = [r for r in sim.state()["received"] if r["path"].endswith("/workOrders")]
    assert [(p["query"]["limit"], p["query"]["offset"]) for p in pages] == [
        ("3", "0"),
        ("3", "3"),
        ("3", "6"),
        ("3", "9"),
    ]
    assert pages[0]["query"]["q"] == "OrganizationCode='M1'"


def test_collection_envelope_is_adf(sim):
    response = httpx.get(
        f"{sim.url}/fscmRestApi/resources/11.13.18.05/workOrders",
        params={"q": f"WorkOrderNumber='{WO}'", "totalResults": "true", "limit": 1},
        auth=("mes.integration", "sim-password"),
    )
    body = response.json()
    assert response.headers["content-type"].startswith(
        "application/vnd.oracle.adf.resourcecollection+json"
    )
    assert (
        body["count"],
        body["hasMore"],
        body["limit"],
        body["offset"],
        body["totalResults"],
    ) == (1, False, 1, 0, 1)
    assert body["items"][0]["links"][0]["rel"] == "self"
    assert httpx.get(f"{sim.url}/fscmRestApi/resources/11.13.18.05/workOrders").status_code == 401


def test_fetch_since_returns_only_later_changes(sim, adapter):
    before = sim.simulator.by_number("M1-PROC")["LastUpdateDate"]
    sim.seed(
        {
            "id": WO,
            "plant": "M1",
            "material": "AS54888",
            "quantity": "150",
            "uom": "kg",
            "operations": OPS,
        }
    )
    version = sim.simulator.by_number(WO)["LastUpdateDate"]
    assert version > before
    changed = list(adapter.fetch_orders(since=datetime.fromisoformat(version)))
    assert [(o.erp_order_id, o.quantity, o.version) for o in changed] == [
        (WO, Decimal("150"), version)
    ]


@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_each_kind_posts_once(sim, adapter, kind):
    order = "M1-PROC" if kind == "batch_yield" else WO
    result = adapter.deliver(message(kind, f"mes:{kind}", order, attempt=1, operation="10"))
    assert not result.duplicate
    assert effective(sim) == {f"mes:{kind}": 1}


def test_confirmation_moves_good_to_complete_and_scrap_to_scrap(sim, adapter):
    adapter.deliver(message("operation_confirmation", "c1", WO, attempt=1, operation="10"))
    (header,) = sim.simulator.operation_transactions
    assert header["SourceSystemCode"] == "MES"
    assert header["SourceHeaderReference"] == "c1"
    rows = header["OperationTransactionDetail"]
    assert [
        (r["FromDispatchState"], r["ToDispatchState"], r["TransactionQuantity"]) for r in rows
    ] == [("READY", "COMPLETE", 90), ("READY", "SCRAP", 2.5)]
    op10, op20 = sim.simulator.by_number(WO)["_ops"]
    assert (op10["ReadyQuantity"], op20["ReadyQuantity"]) == (Decimal("7.5"), Decimal("90"))


def test_read_back(sim, adapter):
    adapter.deliver(message("order_start", "s", WO, attempt=1))
    adapter.deliver(message("operation_confirmation", "c1", WO, attempt=1, operation="10"))
    adapter.deliver(
        message("operation_confirmation", "c2", WO, attempt=1, operation="20", good="85", scrap="5")
    )
    adapter.deliver(message("goods_issue", "gi", WO, attempt=1))
    adapter.deliver(message("goods_receipt", "gr", WO, attempt=1))
    back = adapter.read_back(WO)
    assert back["status"] == "started"
    assert (back["confirmed_good"], back["confirmed_scrap"]) == (Decimal("175"), Decimal("7.5"))
    assert (back["goods_issues"], back["goods_receipts"]) == (Decimal("40.5"), Decimal("88"))
    assert back["idempotency_keys"] == {"c1", "c2", "gi", "gr"}
    adapter.deliver(message("order_completion", "done", WO, attempt=1))
    assert adapter.read_back(WO)["status"] == "completed"


# ------------------------------------------------------------------ faults
def test_timeout_is_retryable_and_nothing_was_posted(sim, adapter):
    sim.fault(path="operationTransactions$", method="POST", kind="timeout", delay=2)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("operation_confirmation", "t1", WO, attempt=1, operation="10"))
    assert exc.value.retryable
    assert effective(sim) == {}
    assert not adapter.deliver(
        message("operation_confirmation", "t1", WO, attempt=2, operation="10")
    ).duplicate
    assert effective(sim) == {"t1": 1}


def test_5xx_and_429_are_retryable(sim, adapter):
    sim.fault(path="materialTransactions$", method="POST", kind="status", status=500)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("goods_issue", "g1", WO, attempt=1))
    assert (exc.value.retryable, exc.value.status) == (True, 500)
    sim.fault(path="materialTransactions$", method="POST", kind="throttle", retry_after=30)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("goods_issue", "g1", WO, attempt=2))
    assert (exc.value.retryable, exc.value.status, exc.value.retry_after) == (True, 429, 30.0)
    assert effective(sim) == {}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"operation": "30"}, "The operation sequence 30 doesn't exist in work order M1-1208."),
        (
            {"operation": "10", "good": "150"},
            "exceeds the quantity 100 in the Ready dispatch state",
        ),
        ({"operation": "10", "uom": "lb"}, "The unit of measure lb isn't valid"),
    ],
)
def test_per_row_errors_in_a_201_are_not_retryable(sim, adapter, overrides, expected):
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("operation_confirmation", "bad", WO, attempt=1, **overrides))
    assert (exc.value.retryable, exc.value.status) == (False, 201)
    assert expected in exc.value.detail
    assert '"ErrorsExistFlag": "Y"' in exc.value.body
    assert effective(sim) == {}
    assert sim.simulator.by_number(WO)["_ops"][0]["ReadyQuantity"] == Decimal("100")


def test_material_row_error_and_http_400_carry_oracle_s_message(sim, adapter):
    with pytest.raises(AdapterError, match="lot controlled: enter a lot number") as exc:
        adapter.deliver(message("goods_issue", "g1", WO, attempt=1, lot=""))
    assert not exc.value.retryable
    sim.configure(source_systems=["WIE"])
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("goods_issue", "g2", WO, attempt=1))
    assert (exc.value.status, exc.value.retryable) == (400, False)
    assert (
        "WIE-2001: The source system MES isn't registered in Trading Community." in exc.value.detail
    )
    sim.seed({"id": "M1-UNREL", "plant": "M1", "status": "planned"})
    with pytest.raises(
        AdapterError, match="can't be completed because its status is ORA_UNRELEASED"
    ):
        adapter.deliver(message("order_completion", "x", "M1-UNREL", attempt=1))


@pytest.mark.parametrize(
    ("kind", "path", "method"),
    [
        ("operation_confirmation", "operationTransactions$", "POST"),
        ("goods_issue", "materialTransactions$", "POST"),
        ("goods_receipt", "materialTransactions$", "POST"),
        ("order_start", r"workOrders/\d+$", "PATCH"),
        ("order_completion", r"workOrders/\d+$", "PATCH"),
        ("order_rejection", "WorkOrderDFF", "PATCH"),
    ],
)
@pytest.mark.parametrize("fault", ["lost", "lost_5xx", "timeout_after_commit"])
def test_lost_response_then_redelivery_is_a_duplicate_with_one_effect(
    sim, adapter, kind, path, method, fault
):
    sim.fault(path=path, method=method, kind=fault, delay=1.0)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message(kind, "k-lost", WO, attempt=1, operation="10"))
    assert exc.value.retryable
    assert adapter.deliver(message(kind, "k-lost", WO, attempt=2, operation="10")).duplicate
    assert effective(sim) == {"k-lost": 1}


def test_without_the_read_back_oracle_would_post_twice(sim, adapter):
    adapter.deliver(message("goods_issue", "dup", WO, attempt=1))
    adapter.deliver(message("goods_issue", "dup", WO, attempt=1))
    assert effective(sim) == {"dup": 2}
    assert adapter.deliver(message("goods_issue", "dup", WO)).duplicate  # attempt unknown: reads


def test_a_stale_etag_is_read_again(sim, adapter):
    real = adapter._work_order
    calls = []

    def stale_first(number):
        order, etag = real(number)
        calls.append(etag)
        return order, ('"0"' if len(calls) == 1 else etag)

    adapter._work_order = stale_first
    adapter.deliver(message("batch_yield", "y1", "M1-PROC", attempt=1))
    patches = [r for r in sim.state()["received"] if r["method"] == "PATCH"]
    assert len(patches) == 2
    assert sim.simulator.by_number("M1-PROC")["_dff"] == {
        "mesYieldPercent": "88.0",
        "mesActualYield": "88",
    }
    assert effective(sim) == {"y1": 1}


def test_wrong_password_is_refused(sim, adapter_for):
    adapter = adapter_for(
        sim, credentials={"username": "mes.integration", "password": "x"}, **MAPPING
    )
    with pytest.raises(AdapterError) as exc:
        list(adapter.fetch_orders())
    assert (exc.value.status, exc.value.retryable) == (401, False)


# ------------------------------------------------------- labor and machine time
NO_QUANTITY = {"good": "0", "scrap": "0"}


def charged(sim):
    return [
        (
            r["ResourceCode"],
            r["OperationSequenceNumber"],
            r["TransactionQuantity"],
            r["TransactionUnitOfMeasure"],
            r["SourceHeaderReference"],
            r["SourceLineReference"],
        )
        for r in sim.simulator.resource_transactions
    ]


def test_labor_and_machine_hours_are_charged_to_their_resources(sim, adapter):
    result = adapter.deliver(message("operation_confirmation", "c1", WO, attempt=1, operation="10"))
    assert (result.sent, result.duplicate) == (True, False)
    assert charged(sim) == [
        ("LABOR", 10, 1.5, "HR", "c1", "1"),
        ("MACHINE", 10, 2, "HR", "c1", "2"),
    ]
    assert sim.state()["effective"] == {
        "c1": {"count": 1, "kinds": ["operation_confirmation", "resource_transaction"]}
    }
    posts = [r for r in sim.state()["received"] if r["method"] == "POST"]
    assert [p["path"].rsplit("/", 1)[1] for p in posts] == [
        "operationTransactions",
        "resourceTransactions",
    ]
    assert set(posts[1]["body"]) == {
        "SourceSystemCode",
        "SourceSystemType",
        "ResourceTransactionDetail",
    }


def test_resource_codes_come_from_the_site_mapping(sim, adapter_for):
    sim.configure(resources=["ASSEMBLER", "PRESS-1", "MACHINE"])
    adapter = adapter_for(
        sim,
        labor_resource="ASSEMBLER",
        resources={"WC-PACK": {"machine": "PRESS-1"}},
        labor_resource_sequence=10,
        **MAPPING,
    )
    adapter.deliver(
        message(
            "operation_confirmation", "m1", WO, attempt=1, operation="10", work_center="WC-ASSY"
        )
    )
    adapter.deliver(
        message(
            "operation_confirmation",
            "m2",
            WO,
            attempt=1,
            operation="20",
            work_center="WC-PACK",
            **NO_QUANTITY,
        )
    )
    assert [(c[0], c[1], c[4]) for c in charged(sim)] == [
        ("ASSEMBLER", 10, "m1"),
        ("MACHINE", 10, "m1"),
        ("ASSEMBLER", 20, "m2"),
        ("PRESS-1", 20, "m2"),
    ]
    assert [r.get("ResourceSequenceNumber") for r in sim.simulator.resource_transactions] == [
        10,
        None,
        10,
        None,
    ]


def test_a_confirmation_with_only_time_is_sent(sim, adapter):
    only_labor = {**NO_QUANTITY, "labor_hours": "0.75", "machine_hours": "0"}
    result = adapter.deliver(
        message("operation_confirmation", "t-only", WO, attempt=1, operation="20", **only_labor)
    )
    assert (result.sent, result.duplicate) == (True, False)
    assert sim.simulator.operation_transactions == []
    assert charged(sim) == [("LABOR", 20, 0.75, "HR", "t-only", "1")]
    assert adapter.read_back(WO)["idempotency_keys"] == {"t-only"}


def test_a_confirmation_with_neither_quantity_nor_time_posts_nothing(sim, adapter):
    nothing = {**NO_QUANTITY, "labor_hours": "0", "machine_hours": "0"}
    result = adapter.deliver(
        message("operation_confirmation", "z", WO, attempt=1, operation="10", **nothing)
    )
    assert result.sent is False
    assert sim.state()["received"] == []


def test_read_back_sums_the_hours_per_operation(sim, adapter):
    adapter.deliver(message("operation_confirmation", "c1", WO, attempt=1, operation="10"))
    adapter.deliver(
        message(
            "operation_confirmation",
            "c2",
            WO,
            attempt=1,
            operation="10",
            good="5",
            scrap="0",
            labor_hours="0.25",
            machine_hours="0",
        )
    )
    back = adapter.read_back(WO)
    op10, op20 = back["operations"]["10"], back["operations"]["20"]
    assert (op10["good"], op10["labor_hours"], op10["machine_hours"]) == (
        Decimal("95"),
        Decimal("1.75"),
        Decimal("2"),
    )
    assert (op20["labor_hours"], op20["machine_hours"]) == (Decimal(0), Decimal(0))
    assert back["idempotency_keys"] == {"c1", "c2"}


@pytest.mark.parametrize("fault", ["lost", "lost_5xx", "timeout_after_commit"])
def test_a_lost_resource_transaction_response_is_not_posted_again(sim, adapter, fault):
    sim.fault(path="resourceTransactions$", method="POST", kind=fault, delay=1.0)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("operation_confirmation", "r-lost", WO, attempt=1, operation="10"))
    assert exc.value.retryable
    retry = adapter.deliver(
        message("operation_confirmation", "r-lost", WO, attempt=2, operation="10")
    )
    assert (retry.duplicate, retry.detail) == (
        True,
        "operation transaction already posted; resource transaction already posted",
    )
    assert len(sim.simulator.operation_transactions) == 1
    assert [c[0] for c in charged(sim)] == ["LABOR", "MACHINE"]
    assert sim.state()["effective"]["r-lost"]["kinds"] == [
        "operation_confirmation",
        "resource_transaction",
    ]


def test_after_the_operation_transaction_went_a_retry_posts_only_the_resource_transaction(
    sim, adapter
):
    sim.fault(path="resourceTransactions$", method="POST", kind="status", status=503)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("operation_confirmation", "half", WO, attempt=1, operation="10"))
    assert (exc.value.retryable, exc.value.status) == (True, 503)
    assert (len(sim.simulator.operation_transactions), charged(sim)) == (1, [])
    retry = adapter.deliver(message("operation_confirmation", "half", WO, operation="10"))
    assert retry.detail == (
        "operation transaction already posted; "
        "resource transaction posted (LABOR 1.5 HR, MACHINE 2 HR)"
    )
    assert len(sim.simulator.operation_transactions) == 1
    assert sim.simulator.by_number(WO)["_ops"][0]["ReadyQuantity"] == Decimal("7.5")
    assert [c[0] for c in charged(sim)] == ["LABOR", "MACHINE"]
    assert effective(sim) == {"half": 1}


def test_a_retry_posts_only_the_resource_rows_oracle_lacks(sim, adapter):
    adapter.deliver(
        message("operation_confirmation", "rows", WO, attempt=1, operation="10", machine_hours="0")
    )
    adapter.deliver(message("operation_confirmation", "rows", WO, attempt=2, operation="10"))
    assert [(c[0], c[5]) for c in charged(sim)] == [("LABOR", "1"), ("MACHINE", "2")]
    assert len(sim.simulator.operation_transactions) == 1


def test_without_the_read_back_the_resource_transaction_would_post_twice(sim, adapter):
    kwargs = {"operation": "10", **NO_QUANTITY}
    adapter.deliver(message("operation_confirmation", "dup", WO, attempt=1, **kwargs))
    adapter.deliver(message("operation_confirmation", "dup", WO, attempt=1, **kwargs))
    assert effective(sim) == {"dup": 2}
    assert adapter.deliver(message("operation_confirmation", "dup", WO, **kwargs)).duplicate
    assert len(charged(sim)) == 4


def test_a_resource_row_error_is_not_retryable_and_a_fixed_retry_posts_only_the_time(
    sim, adapter_for
):
    wrong = adapter_for(sim, machine_resource="PRESS-9", **MAPPING)
    with pytest.raises(AdapterError) as exc:
        wrong.deliver(message("operation_confirmation", "bad", WO, attempt=1, operation="10"))
    assert (exc.value.retryable, exc.value.status) == (False, 201)
    assert exc.value.detail == (
        f"Oracle resource transaction for {WO}/10 refused: "
        "The resource PRESS-9 doesn't exist in organization M1. "
        "(the operation transaction is posted: a retry posts only the resource transaction)"
    )
    assert '"ErrorsExistFlag": "Y"' in exc.value.body
    assert (len(sim.simulator.operation_transactions), charged(sim)) == (1, [])
    fixed = adapter_for(sim, **MAPPING)  # the mapping corrected, retried from the dead letters
    assert fixed.deliver(message("operation_confirmation", "bad", WO, operation="10")).duplicate
    assert len(sim.simulator.operation_transactions) == 1
    assert [c[0] for c in charged(sim)] == ["LABOR", "MACHINE"]


def test_time_on_an_unknown_operation_is_refused_with_oracle_s_message(sim, adapter):
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(
            message("operation_confirmation", "x", WO, attempt=1, operation="30", **NO_QUANTITY)
        )
    assert (exc.value.retryable, exc.value.status) == (False, 201)
    assert exc.value.detail == (
        f"Oracle resource transaction for {WO}/30 refused: "
        f"The operation sequence 30 doesn't exist in work order {WO}."
    )
    assert effective(sim) == {}
