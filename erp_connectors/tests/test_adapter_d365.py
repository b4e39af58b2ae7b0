"""The Dynamics 365 SCM adapter against the D365 simulator (asynchronous message processor)."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
import pytest

from erp_connectors.adapters.base import AdapterError
from erp_connectors.tests.adapter_payloads import message

ORDER = "P000123"
OPS = [{"operation": "10", "work_center": "R-ASSY"}, {"operation": "20", "work_center": "R-PACK"}]
MAPPING = {
    "company": "USMF",
    "uoms": {"ea": "pcs", "kg": "kg"},
    "work_centers": {"WC-ASSY": "R-ASSY", "WC-PACK": "R-PACK"},
    "materials": {"PELLET": "D0001", "RESIN-A": "M0001"},
    "labor_cost_category": "Labor",
    "machine_cost_category": "Machine",
}
SENT_KINDS = {
    "order_start": "ProdProductionOrderStart",
    "operation_confirmation": "ProdProductionOrderRouteCard",
    "goods_issue": "ProdProductionOrderPickingList",
    "goods_receipt": "ProdProductionOrderReportFinished",
    "order_completion": "ProdProductionOrderEnd",
}


@pytest.fixture
def sim(d365_simulator):
    d365_simulator.seed(
        {"id": ORDER, "material": "D0001", "quantity": "100", "uom": "pcs", "operations": OPS}
    )
    return d365_simulator


@pytest.fixture
def adapter(sim, adapter_for):
    return adapter_for(sim, timeout=0.5, **MAPPING)


def settled(sim, timeout: float = 5.0) -> list[dict]:
    """The message log once nothing is queued any more."""
    deadline = time.monotonic() + timeout
    while True:
        messages = sim.state()["erp"]["messages"]
        if all(m["MessageState"] != "Queued" for m in messages) or time.monotonic() > deadline:
            return messages
        time.sleep(0.02)


def effective(sim):
    settled(sim)
    return {k: v["count"] for k, v in sim.state()["effective"].items()}


def test_fetch_follows_next_links_and_reads_route_and_kind(erp_simulator, adapter_for):
    sim = erp_simulator("d365")
    sim.seed(
        *[
            {
                "id": f"P{n:06d}",
                "material": "D0001",
                "quantity": n + 1,
                "uom": "pcs",
                "operations": OPS,
            }
            for n in range(5)
        ],
        {"id": "P900000", "status": "planned"},
        {
            "id": "B000001",
            "kind": "process",
            "material": "M0001",
            "quantity": "500",
            "uom": "kg",
            "recipe": "F-RESIN",
            "operations": [{"operation": "10", "work_center": "R-MIX"}],
        },
        {"id": "P800000", "company": "DEMF"},
    )
    sim.configure(companies=["USMF", "DEMF"])
    adapter = adapter_for(sim, page_size=2, **MAPPING)
    orders = {o.erp_order_id: o for o in adapter.fetch_orders()}
    assert sorted(orders) == ["B000001", *[f"P{n:06d}" for n in range(5)]]
    first = orders["P000000"]
    assert (first.kind, first.material_code, first.uom, first.work_center, first.quantity) == (
        "discrete",
        "PELLET",
        "ea",
        "WC-ASSY",
        Decimal("1"),
    )
    assert first.version.startswith('W/"')
    batch = orders["B000001"]
    assert (batch.kind, batch.recipe_code, batch.material_code) == ("process", "F-RESIN", "RESIN-A")
    pages = [r for r in sim.state()["received"] if r["path"] == "/data/ProductionOrderHeaders"]
    assert len(pages) == 3  # 6 released USMF orders, 2 a page
    assert "ProdStatus'Released'" in pages[0]["query"]["$filter"]


def _start(adapter, sim):
    adapter.deliver(message("order_start", "start", ORDER, attempt=1))
    settled(sim)


@pytest.mark.parametrize("kind", sorted(SENT_KINDS))
def test_each_kind_is_one_message_processed_once(sim, adapter_for, kind):
    adapter = adapter_for(sim, auto_report_as_finished="Yes", **MAPPING)
    if kind != "order_start":
        _start(adapter, sim)
    result = adapter.deliver(message(kind, f"mes:{kind}", ORDER, attempt=1, operation="10"))
    assert (result.duplicate, result.detail) == (False, "queued")
    messages = settled(sim)
    sent = messages[-1]
    assert (sent["MessageType"], sent["MessageState"]) == (SENT_KINDS[kind], "Processed")
    assert json.loads(sent["MessageContent"])["MESMessageId"] == f"mes:{kind}"
    assert effective(sim)[f"mes:{kind}"] == 1


@pytest.mark.parametrize("kind", ["batch_yield", "order_rejection"])
def test_kinds_without_a_d365_message_are_not_sent(sim, adapter, kind):
    result = adapter.deliver(message(kind, "k", ORDER, attempt=1))
    assert result.detail.startswith("not sent: D365 has no MES message")
    assert not [r for r in sim.state()["received"] if r["path"].endswith("SendMessage")]


def test_message_content_is_a_json_string_and_a_nested_object_is_refused(sim, adapter):
    _start(adapter, sim)
    adapter.deliver(
        message(
            "operation_confirmation", "rc", ORDER, attempt=1, operation="10", work_center="WC-ASSY"
        )
    )
    (request,) = [
        r
        for r in sim.state()["received"]
        if isinstance(r["body"], dict)
        and r["body"].get("_messageType") == "ProdProductionOrderRouteCard"
    ]
    envelope = request["body"]
    assert (envelope["_companyId"], envelope["_messageQueue"]) == ("USMF", "JmgMES3P")
    content = json.loads(envelope["_messageContent"])
    labor, machine = content["RouteCardLines"]
    assert (labor["OperationNumber"], labor["OperationsResourceId"]) == (
        10,
        "R-ASSY",
    )
    assert (labor["GoodQuantity"], labor["ErrorQuantity"], labor["Hours"]) == (90, 2.5, 1.5)
    assert (labor["HoursRouteCostCategoryId"], labor["OperationCompleted"]) == ("Labor", "Yes")
    assert (machine["Hours"], machine["HoursRouteCostCategoryId"], machine["GoodQuantity"]) == (
        2,
        "Machine",
        0,
    )
    nested = dict(envelope, _messageContent=content)
    response = httpx.post(
        f"{sim.url}/api/services/SysMessageServices/SysMessageService/SendMessage",
        json=nested,
        headers={"Authorization": f"Bearer {adapter.token}"},
    )
    assert response.status_code == 400
    assert "must be a string" in response.json()["error"]["message"]


def test_200_means_queued_the_processor_applies_later_in_order(sim, adapter):
    sim.configure(paused=True)
    adapter.deliver(message("order_start", "s", ORDER, attempt=1))
    adapter.deliver(message("operation_confirmation", "c", ORDER, attempt=1, operation="10"))
    back = adapter.read_back(ORDER)
    assert (back["status"], back["queued_messages"], back["confirmed_good"]) == ("released", 2, 0)
    assert back["idempotency_keys"] == {"s", "c"}
    sim.configure(paused=False)
    assert [m["MessageState"] for m in settled(sim)] == ["Processed", "Processed"]
    back = adapter.read_back(ORDER)
    assert (back["status"], back["confirmed_good"], back["confirmed_scrap"]) == (
        "started",
        Decimal("90"),
        Decimal("2.5"),
    )


def test_a_failing_message_is_tried_three_times_and_holds_back_its_order(sim, adapter):
    sim.configure(paused=True, transient_failures=2)
    adapter.deliver(message("order_start", "s", ORDER, attempt=1))
    adapter.deliver(message("operation_confirmation", "c", ORDER, attempt=1, operation="10"))
    sim.configure(paused=False)
    start, card = settled(sim)
    assert (start["MessageState"], start["Attempts"]) == ("Processed", 3)
    assert (card["MessageState"], card["Attempts"]) == ("Processed", 1)


def test_validation_failures_end_failed_with_the_infolog(sim, adapter):
    adapter.deliver(message("operation_confirmation", "early", ORDER, attempt=1, operation="10"))
    (failed,) = settled(sim)
    assert (failed["MessageState"], failed["Attempts"]) == ("Failed", 3)
    assert (
        failed["MessageInfolog"]
        == f"Production order {ORDER} has status Released: it must be started first."
    )
    back = adapter.read_back(ORDER)
    assert back["failed_messages"] == [
        {
            "key": "early",
            "type": "ProdProductionOrderRouteCard",
            "infolog": failed["MessageInfolog"],
        }
    ]
    assert "early" not in back["idempotency_keys"]


def test_processing_wait_turns_a_failed_message_into_a_non_retryable_error(sim, adapter_for):
    adapter = adapter_for(sim, processing_wait=3, **MAPPING)
    assert adapter.deliver(message("order_start", "s", ORDER, attempt=1)).detail == "processed"
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(
            message("operation_confirmation", "bad-op", ORDER, attempt=1, operation="99")
        )
    assert not exc.value.retryable
    assert (
        "Operation 99 does not exist on the route of production order P000123" in exc.value.detail
    )


def test_bad_enum_and_negative_quantity_fail_in_the_processor(sim, adapter):
    _start(adapter, sim)
    send = f"{sim.url}/api/services/SysMessageServices/SysMessageService/SendMessage"
    for content in (
        {
            "ProductionOrderNumber": ORDER,
            "ReportFinishedLines": [
                {"ItemNumber": "D0001", "ReportedGoodQuantity": 1, "EndJob": "true"}
            ],
        },
        {
            "ProductionOrderNumber": ORDER,
            "PickingListLines": [{"ItemNumber": "M0001", "ConsumptionBOMQuantity": -1}],
        },
    ):
        kind = (
            "ProdProductionOrderReportFinished"
            if "ReportFinishedLines" in content
            else "ProdProductionOrderPickingList"
        )
        response = httpx.post(
            send,
            headers={"Authorization": f"Bearer {adapter.token}"},
            json={
                "_companyId": "USMF",
                "_messageQueue": "JmgMES3P",
                "_messageType": kind,
                "_messageContent": json.dumps(content),
            },
        )
        assert response.status_code == 200
    infologs = [m["MessageInfolog"] for m in settled(sim) if m["MessageState"] == "Failed"]
    assert infologs == [
        "Value 'true' is not valid for field EndJob (enum NoYes: Yes, No).",
        # a negative picking-list line is a return to stock: not more than was picked
        "Field ConsumptionBOMQuantity: 1 can't be returned, only 0 of item M0001 batch '' was "
        f"picked for production order {ORDER}.",
    ]


# ------------------------------------------------------------------ faults
def test_timeout_5xx_and_429_are_retryable(sim, adapter):
    path = "SendMessage$"
    sim.fault(path=path, kind="timeout", delay=2)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("order_start", "s", ORDER, attempt=1))
    assert exc.value.retryable
    sim.fault(path=path, kind="status", status=503)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("order_start", "s", ORDER, attempt=2))
    assert (exc.value.retryable, exc.value.status) == (True, 503)
    sim.fault(path=path, kind="throttle", retry_after=17)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("order_start", "s", ORDER, attempt=3))
    assert (exc.value.retryable, exc.value.status, exc.value.retry_after) == (True, 429, 17.0)
    assert effective(sim) == {}
    assert not adapter.deliver(message("order_start", "s", ORDER, attempt=4)).duplicate
    assert effective(sim) == {"s": 1}


def test_envelope_errors_are_not_retryable(sim, adapter_for):
    adapter = adapter_for(sim, **{**MAPPING, "company": "XXXX"})
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("order_start", "s", ORDER, attempt=1))
    assert (exc.value.retryable, exc.value.status) == (False, 400)
    assert "Company 'XXXX' does not exist." in exc.value.detail


@pytest.mark.parametrize("fault", ["lost", "lost_5xx", "timeout_after_commit"])
@pytest.mark.parametrize("kind", ["order_start", "goods_issue"])
def test_lost_response_then_redelivery_is_a_duplicate_with_one_effect(sim, adapter, fault, kind):
    if kind != "order_start":
        _start(adapter, sim)
    sim.fault(path="SendMessage$", kind=fault, delay=1.0)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message(kind, "k-lost", ORDER, attempt=1))
    assert exc.value.retryable
    assert adapter.deliver(message(kind, "k-lost", ORDER, attempt=2)).duplicate
    assert effective(sim)["k-lost"] == 1


def test_without_the_read_back_d365_applies_twice(sim, adapter):
    _start(adapter, sim)
    adapter.deliver(message("goods_issue", "dup", ORDER, attempt=1))
    adapter.deliver(message("goods_issue", "dup", ORDER, attempt=1))
    assert effective(sim)["dup"] == 2
    assert adapter.deliver(message("goods_issue", "dup", ORDER)).duplicate  # attempt unknown
    assert adapter.read_back(ORDER)["goods_issues"] == Decimal("81")


def test_bearer_token_is_required_fetched_and_refreshed(sim, adapter, adapter_for):
    assert httpx.get(f"{sim.url}/data/ProductionOrderHeaders").status_code == 401
    adapter.deliver(message("order_start", "s", ORDER, attempt=1))
    sim.fault(path="SendMessage$", kind="expire_token")
    adapter.deliver(message("goods_issue", "g", ORDER, attempt=1))
    tokens = [r for r in sim.state()["received"] if r["path"].endswith("/token")]
    assert len(tokens) == 2
    assert effective(sim) == {"s": 1, "g": 1}
    bad = adapter_for(
        sim,
        credentials={
            "client_id": "mes-client",
            "client_secret": "wrong",
            "token_url": f"{sim.url}/t/oauth2/v2.0/token",
        },
    )
    with pytest.raises(AdapterError) as exc:
        list(bad.fetch_orders())
    assert (exc.value.status, exc.value.retryable) == (401, False)
    assert "AADSTS7000215: Invalid client secret provided." in exc.value.detail


def test_exchanges_never_keep_the_client_secret(sim, adapter):
    result = adapter.deliver(message("order_start", "s", ORDER, attempt=1))
    token, send = result.exchanges
    assert token["request"] == "<credentials not kept>"
    assert token["response"] == "<token not kept>"
    assert "sim-secret" not in json.dumps(result.exchanges)
    assert adapter.token not in json.dumps(result.exchanges)
    assert send["url"].endswith("SendMessage")
    assert json.loads(send["request"])["_messageType"] == "ProdProductionOrderStart"


def test_without_a_key_field_identical_content_is_the_duplicate_test(sim, adapter_for):
    adapter = adapter_for(sim, timeout=0.5, key_field="", **MAPPING)
    sim.fault(path="SendMessage$", kind="lost")
    with pytest.raises(AdapterError):
        adapter.deliver(message("order_start", "s", ORDER, attempt=1))
    assert adapter.deliver(message("order_start", "s", ORDER, attempt=2)).duplicate
    (logged,) = settled(sim)
    assert "MESMessageId" not in json.loads(logged["MessageContent"])
    assert effective(sim) == {"s": 1}


def test_processed_and_failed_messages_are_pushed_as_business_events(sim, adapter):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sim.configure(business_events_url=f"http://127.0.0.1:{server.server_address[1]}/events")
        adapter.deliver(message("order_start", "s", ORDER, attempt=1))
        adapter.deliver(message("order_completion", "end", ORDER, attempt=1))
        settled(sim)
        deadline = time.monotonic() + 5
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.shutdown()
        server.server_close()
    states = sorted((e["MessageType"], e["MessageState"]) for e in received)
    assert states == [
        ("ProdProductionOrderEnd", "Failed"),
        ("ProdProductionOrderStart", "Processed"),
    ]
    failed = next(e for e in received if e["MessageState"] == "Failed")
    assert "must be reported as finished" in failed["MessageInfolog"]
    assert json.loads(failed["MessageContent"])["MESMessageId"] == "end"
