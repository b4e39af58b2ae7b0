"""The SAP S/4HANA adapter against the SAP simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from erp_connectors.adapters.base import MESSAGE_KINDS, AdapterError
from erp_connectors.tests.adapter_payloads import message

ORDER = "1000206"
OPS = [
    {"operation": "0010", "work_center": "MIX01"},
    {"operation": "0020", "work_center": "PACK01"},
]
MAPPING = {
    "plant": "1010",
    "uoms": {"kg": "KG", "ea": "PC"},
    "work_centers": {"WC-MIX": "MIX01", "WC-PACK": "PACK01"},
    "materials": {"PELLET": "FG-1001", "RESIN-A": "RM-2001"},
    "storage_location": "0001",
}


@pytest.fixture
def sim(sap_simulator):
    sap_simulator.seed(
        {"id": ORDER, "material": "FG-1001", "quantity": "100", "uom": "KG", "operations": OPS},
        {
            "id": "2000001",
            "kind": "process",
            "material": "RM-2001",
            "quantity": "500",
            "uom": "KG",
            "recipe": "R-RESIN",
            "expected_yield_pct": "95",
        },
    )
    return sap_simulator


@pytest.fixture
def adapter(sim, adapter_for):
    return adapter_for(sim, timeout=0.5, **MAPPING)


def effective(sim):
    return {k: v["count"] for k, v in sim.state()["effective"].items()}


def test_fetch_follows_next_links_and_translates_both_order_kinds(erp_simulator, adapter_for):
    sim = erp_simulator("sap", page_size=2)
    sim.seed(
        *[
            {
                "id": f"10000{n}",
                "material": "FG-1001",
                "quantity": f"{n}0.5",
                "uom": "KG",
                "operations": OPS,
            }
            for n in range(5)
        ],
        {"id": "1999999", "plant": "2020"},  # another plant: not ours
        {"id": "1000900", "status": "planned"},
        {"id": "1000901", "status": "cancelled"},
        {
            "id": "2000001",
            "kind": "process",
            "material": "RM-2001",
            "quantity": "500",
            "uom": "KG",
            "recipe": "R-RESIN",
            "expected_yield_pct": "95.5",
            "priority": 3,
        },
    )
    adapter = adapter_for(sim, **MAPPING)
    orders = {o.erp_order_id: o for o in adapter.fetch_orders()}
    assert sorted(orders) == [
        "100000",
        "100001",
        "100002",
        "100003",
        "100004",
        "1000900",
        "1000901",
        "2000001",
    ]
    first = orders["100001"]
    assert (first.kind, first.material_code, first.uom, first.work_center) == (
        "discrete",
        "PELLET",
        "kg",
        "WC-MIX",
    )
    assert first.quantity == Decimal("10.500")
    assert first.start == datetime(2026, 11, 25, tzinfo=UTC)
    assert len(first.version) == 14  # LastChangeDateTime yyyymmddhhmmss
    assert (orders["1000900"].status, orders["1000901"].status) == ("planned", "cancelled")
    process = orders["2000001"]
    assert (process.kind, process.recipe_code, process.expected_yield_pct, process.priority) == (
        "process",
        "R-RESIN",
        Decimal("95.50"),
        3,
    )
    pages = [r for r in sim.state()["received"] if r["path"].endswith("A_ProductionOrder_2")]
    assert len(pages) == 4  # 7 production orders of plant 1010 at 2 a page: 3 __next links
    assert all("$skiptoken" in r["query"] for r in pages[1:])


def test_fetch_since_only_returns_orders_changed_since(sim, adapter):
    since = datetime.now(UTC).replace(microsecond=0)
    assert {o.erp_order_id for o in adapter.fetch_orders(since=since.replace(year=2020))} == {
        ORDER,
        "2000001",
    }
    sim.simulator.last_change += 100  # the next change is clearly later
    sim.seed(
        {"id": ORDER, "material": "FG-1001", "quantity": "120", "uom": "KG", "operations": OPS}
    )
    stamp = sim.simulator.orders[ORDER]["LastChangeDateTime"] + "+0000"
    later = datetime.strptime(stamp, "%Y%m%d%H%M%S%z")
    changed = list(adapter.fetch_orders(since=later))
    assert [(o.erp_order_id, o.quantity) for o in changed] == [(ORDER, Decimal("120.000"))]


def test_technically_completed_orders_are_not_offered(sim, adapter):
    adapter.deliver(message("order_completion", "k-teco", ORDER))
    assert [o.erp_order_id for o in adapter.fetch_orders()] == ["2000001"]


@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_each_kind_posts_once(sim, adapter, kind):
    order_kind = "process" if kind == "batch_yield" else "discrete"
    order = "2000001" if order_kind == "process" else ORDER
    result = adapter.deliver(message(kind, f"mes:{kind}", order, order_kind=order_kind, attempt=1))
    assert not result.duplicate
    assert effective(sim) == {f"mes:{kind}": 1}


def test_confirmation_is_translated_to_prodnordconf2(sim, adapter):
    result = adapter.deliver(message("operation_confirmation", "mes:c1", ORDER, attempt=1))
    assert result.external_ref == f"{sim.simulator.orders[ORDER]['_conf_group']}/00000001"
    (posted,) = sim.simulator.confirmations
    assert posted["OrderOperation"] == "0010"
    assert posted["WorkCenter"] == "MIX01"
    assert posted["ConfirmationYieldQuantity"] == "90.000"
    assert posted["ConfirmationScrapQuantity"] == "2.500"
    assert posted["OpConfirmedWorkQuantity1"] == "1.500"  # labor hours
    assert posted["OpConfirmedWorkQuantity2"] == "2.000"  # machine hours
    assert posted["FinalConfirmationType"] == "X"
    assert posted["PostingDate"] == "/Date(1795564800000)/"
    assert posted["ConfirmationText"] == "mes:c1"
    (request,) = [r for r in sim.state()["received"] if r["path"].endswith("ProdnOrdConf2")]
    assert request["body"]["ConfirmationYieldQuantity"] == "90.000"  # Edm.Decimal as a string


def test_goods_movements_are_material_documents_with_the_right_movement_types(sim, adapter):
    adapter.deliver(message("goods_issue", "gi", ORDER, attempt=1))
    adapter.deliver(message("goods_receipt", "gr", ORDER, attempt=1))
    issue, receipt = sim.simulator.material_docs
    assert issue["GoodsMovementCode"] == "03"
    assert (
        issue["_items"][0].items()
        >= {
            "GoodsMovementType": "261",
            "Material": "RM-2001",
            "Batch": "L-1",
            "EntryUnit": "KG",
            "QuantityInEntryUnit": "40.500",
        }.items()
    )
    assert receipt["GoodsMovementCode"] == "02"
    assert receipt["_items"][0]["GoodsMovementType"] == "101"


def test_read_back(sim, adapter):
    adapter.deliver(message("operation_confirmation", "c1", ORDER, attempt=1, final=False))
    adapter.deliver(message("operation_confirmation", "c2", ORDER, attempt=1, good="5", scrap="0"))
    adapter.deliver(
        message(
            "operation_confirmation",
            "c3",
            ORDER,
            attempt=1,
            operation="0020",
            good="94",
            scrap="1",
            final=False,
        )
    )
    adapter.deliver(message("goods_issue", "gi", ORDER, attempt=1))
    adapter.deliver(message("goods_receipt", "gr", ORDER, attempt=1))
    back = adapter.read_back(ORDER)
    assert back["status"] == "partially_confirmed"
    assert (back["confirmed_good"], back["confirmed_scrap"]) == (Decimal("189"), Decimal("3.5"))
    assert (back["goods_issues"], back["goods_receipts"]) == (Decimal("40.5"), Decimal("88"))
    assert back["idempotency_keys"] == {"c1", "c2", "c3", "gi", "gr"}
    assert back["operations"]["0010"]["final"] is True
    assert back["order_confirmed_yield"] == Decimal("94")  # SAP counts the last operation
    assert adapter.read_back("2000001")["status"] == "released"
    with pytest.raises(AdapterError) as exc:
        adapter.read_back("404")
    assert (exc.value.status, exc.value.retryable) == (404, False)


# ------------------------------------------------------------------ faults
def test_timeout_is_retryable_and_nothing_was_posted(sim, adapter):
    sim.fault(path="ProdnOrdConf2$", method="POST", kind="timeout", delay=2)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("operation_confirmation", "t1", ORDER, attempt=1))
    assert exc.value.retryable
    assert "outcome unknown" in exc.value.detail
    assert effective(sim) == {}
    assert not adapter.deliver(message("operation_confirmation", "t1", ORDER, attempt=2)).duplicate
    assert effective(sim) == {"t1": 1}


def test_5xx_is_retryable_with_the_gateway_text(sim, adapter):
    sim.fault(
        path="A_MaterialDocumentHeader$",
        kind="status",
        status=503,
        message="Service unavailable: backend system not reachable",
    )
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("goods_issue", "g1", ORDER, attempt=1))
    assert (exc.value.retryable, exc.value.status) == (True, 503)
    assert "backend system not reachable" in exc.value.detail


def test_429_is_retryable_with_retry_after(sim, adapter):
    sim.fault(path="ProdnOrdConf2$", method="POST", kind="throttle", retry_after=12)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("operation_confirmation", "r1", ORDER, attempt=1))
    assert (exc.value.retryable, exc.value.retry_after) == (True, 12.0)


@pytest.mark.parametrize(
    ("overrides", "config", "expected"),
    [
        (
            {"operation": "0099"},
            {},
            "RU/107: Operation 0099 does not exist in order 1000206 (field OrderOperation)",
        ),
        ({"good": "150"}, {}, "RU/121: Confirmed yield 150.000 exceeds the tolerance"),
        (
            {},
            {"closed_before": "2026-12-01"},
            "M7/053: Confirmation: posting period 11/2026 is closed",
        ),
        ({"good": "-1"}, {}, "RU/033: Quantities must not be negative"),
    ],
)
def test_business_errors_are_not_retryable_and_carry_sap_s_message(
    sim, adapter, overrides, config, expected
):
    sim.configure(**config)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("operation_confirmation", "v1", ORDER, attempt=1, **overrides))
    assert not exc.value.retryable
    assert exc.value.status == 400
    assert expected in exc.value.detail
    assert '"innererror"' in exc.value.body
    assert effective(sim) == {}


def test_operation_already_finally_confirmed_is_refused(sim, adapter):
    adapter.deliver(message("operation_confirmation", "f1", ORDER, attempt=1))
    with pytest.raises(
        AdapterError, match="RU/138: Operation 0010 of order 1000206 is already finally confirmed"
    ) as exc:
        adapter.deliver(message("operation_confirmation", "f2", ORDER, attempt=1, good="1"))
    assert not exc.value.retryable


def test_missing_batch_and_unreleased_order_are_refused(sim, adapter):
    with pytest.raises(AdapterError, match="M7/034: Material RM-2001 is batch-managed") as exc:
        adapter.deliver(message("goods_issue", "g1", ORDER, attempt=1, lot=""))
    assert not exc.value.retryable
    sim.seed({"id": "1000300", "status": "planned", "operations": OPS})
    with pytest.raises(AdapterError, match="RU/153: Order 1000300 is not released"):
        adapter.deliver(message("operation_confirmation", "c9", "1000300", attempt=1))


def test_order_locked_by_another_user_is_retryable(sim, adapter):
    sim.configure(locked_orders=[ORDER])
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("operation_confirmation", "l1", ORDER, attempt=1))
    assert exc.value.retryable
    assert "being processed by user PLANNER01" in exc.value.detail
    sim.configure(locked_orders=[])
    assert not adapter.deliver(message("operation_confirmation", "l1", ORDER, attempt=2)).duplicate
    assert effective(sim) == {"l1": 1}


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("operation_confirmation", "ProdnOrdConf2$"),
        ("goods_issue", "A_MaterialDocumentHeader$"),
        ("goods_receipt", "A_MaterialDocumentHeader$"),
        ("order_start", "OrderReleasedByMES$"),
        ("order_completion", "TechlyCmpltOrder$"),
        ("order_rejection", "A_ProductionOrder_2"),
    ],
)
@pytest.mark.parametrize("fault", ["lost", "lost_5xx", "timeout_after_commit"])
def test_lost_response_then_redelivery_is_a_duplicate_with_one_effect(
    sim, adapter, kind, path, fault
):
    sim.fault(
        path=path, method="PATCH" if kind == "order_rejection" else "POST", kind=fault, delay=1.0
    )
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message(kind, "k-lost", ORDER, attempt=1))
    assert exc.value.retryable
    again = adapter.deliver(message(kind, "k-lost", ORDER, attempt=2))
    assert again.duplicate
    assert effective(sim) == {"k-lost": 1}


def test_without_the_read_back_sap_would_post_twice(sim, adapter):
    """Mode B (the realistic worst case): SAP accepts a second confirmation with the same
    ExternalSystemConfirmation; only the adapter's read-back on attempt > 1 prevents it."""
    adapter.deliver(
        message("operation_confirmation", "dup", ORDER, attempt=1, final=False, good="40")
    )
    adapter.deliver(
        message("operation_confirmation", "dup", ORDER, attempt=1, final=False, good="40")
    )
    assert effective(sim) == {"dup": 2}
    assert adapter.deliver(message("operation_confirmation", "dup", ORDER, attempt=2)).duplicate
    assert adapter.deliver(message("operation_confirmation", "dup", ORDER)).duplicate  # unknown
    assert effective(sim) == {"dup": 2}


def test_mode_a_sap_refuses_a_duplicate_external_confirmation(erp_simulator, adapter_for):
    sim = erp_simulator("sap", dedupe_external_confirmation=True)
    sim.seed({"id": ORDER, "operations": OPS})
    adapter = adapter_for(sim, **MAPPING)
    adapter.deliver(
        message("operation_confirmation", "a1", ORDER, attempt=1, final=False, good="40")
    )
    with pytest.raises(AdapterError, match="RU/550: Confirmation with external ID"):
        adapter.deliver(
            message("operation_confirmation", "a1", ORDER, attempt=1, final=False, good="40")
        )


def test_an_expired_csrf_session_is_fetched_again(sim, adapter):
    adapter.deliver(message("goods_issue", "g1", ORDER, attempt=1))
    sim.fault(path="A_MaterialDocumentHeader$", method="POST", kind="expire_token")
    adapter.deliver(message("goods_issue", "g2", ORDER, attempt=1))
    fetches = [r for r in sim.state()["received"] if r["path"].endswith("_SRV/")]
    assert len(fetches) == 2
    assert effective(sim) == {"g1": 1, "g2": 1}


def test_a_stale_etag_is_read_again_and_the_update_applied_once(sim, adapter):
    real = adapter._order
    calls = []

    def stale_first(svc, number):
        entity, etag = real(svc, number)
        calls.append(etag)
        return entity, ("W/\"datetimeoffset'19990101000000'\"" if len(calls) == 1 else etag)

    adapter._order = stale_first
    adapter.deliver(message("batch_yield", "y1", "2000001", order_kind="process", attempt=1))
    patches = [r for r in sim.state()["received"] if r["method"] == "PATCH"]
    assert len(patches) == 2  # 412, then with the fresh ETag
    assert sim.simulator.orders["2000001"]["YY1_MESYieldPct_ORD"] == "88.00"
    assert effective(sim) == {"y1": 1}


def test_wrong_password_is_refused(sim, adapter_for):
    adapter = adapter_for(sim, credentials={"username": "MES_COMM", "password": "nope"})
    with pytest.raises(AdapterError) as exc:
        list(adapter.fetch_orders())
    assert (exc.value.status, exc.value.retryable) == (401, False)


def test_process_orders_use_the_process_order_confirmation_service(sim, adapter):
    sim.seed(
        {
            "id": "2000001",
            "kind": "process",
            "material": "RM-2001",
            "quantity": "500",
            "uom": "KG",
            "operations": [{"operation": "0010", "work_center": "MIX01"}],
        }
    )
    confirm = message(
        "operation_confirmation",
        "pc",
        "2000001",
        order_kind="process",
        attempt=1,
        good="480",
        scrap="5",
    )
    adapter.deliver(confirm)
    (posted,) = sim.simulator.confirmations
    assert posted["_service"] == "API_PROC_ORDER_CONFIRMATION_2_SRV"
    paths = {r["path"].rsplit("/", 1)[-1] for r in sim.state()["received"]}
    assert "ProcOrdConf2" in paths
    assert "ProdnOrdConf2" not in paths
    assert adapter.deliver(
        message("operation_confirmation", "pc", "2000001", order_kind="process", attempt=2)
    ).duplicate
    back = adapter.read_back("2000001")
    assert (back["confirmed_good"], back["idempotency_keys"]) == (Decimal("480"), {"pc"})
