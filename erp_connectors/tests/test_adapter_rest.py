"""The generic REST/webhook adapter against its simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
import pytest

from erp_connectors.adapters import signing
from erp_connectors.adapters.base import MESSAGE_KINDS, AdapterError
from erp_connectors.tests.adapter_payloads import PAYLOADS, message


@pytest.fixture
def sim(rest_simulator):
    rest_simulator.seed({"id": "4711", "material": "PELLET", "quantity": "100", "uom": "KG"})
    return rest_simulator


@pytest.fixture
def adapter(sim, adapter_for):
    return adapter_for(sim, uoms={"kg": "KG"}, work_centers={"WC-MIX": "MIX-01"}, timeout=0.5)


def test_fetch_orders_follows_every_page_and_maps_codes(erp_simulator, adapter_for):
    sim = erp_simulator("rest", page_size=2)
    sim.seed(
        *[
            {
                "id": f"O-{n}",
                "material": "ERP-P",
                "quantity": f"{n}.5",
                "uom": "KG",
                "operations": [{"operation": "0010", "work_center": "MIX-01"}],
            }
            for n in range(5)
        ]
    )
    adapter = adapter_for(
        sim, uoms={"kg": "KG"}, work_centers={"WC-MIX": "MIX-01"}, materials={"PELLET": "ERP-P"}
    )
    orders = list(adapter.fetch_orders())
    assert [o.erp_order_id for o in orders] == [f"O-{n}" for n in range(5)]
    first = orders[0]
    assert (first.material_code, first.uom, first.work_center) == ("PELLET", "kg", "WC-MIX")
    assert first.quantity == Decimal("0.5")
    assert first.version == "1"
    gets = [r for r in sim.state()["received"] if r["path"] == "/api/orders"]
    assert len(gets) == 3  # 2 + 2 + 1: the adapter followed next_cursor


def test_a_changed_order_comes_back_with_a_higher_version(sim, adapter):
    sim.seed({"id": "4711", "material": "PELLET", "quantity": "120", "uom": "KG"})
    (order,) = adapter.fetch_orders()
    assert (order.version, order.quantity) == ("2", Decimal("120"))


@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_each_kind_is_delivered_once_and_mapped(sim, adapter, kind):
    result = adapter.deliver(message(kind, f"mes:{kind}"))
    assert not result.duplicate
    assert result.external_ref.startswith("MSG-")
    state = sim.state()
    assert state["effective"] == {f"mes:{kind}": {"count": 1, "kinds": [kind]}}
    posted = state["effects"][0]["data"]["payload"]
    if "uom" in posted:
        assert posted["uom"] == "KG"
    if "work_center" in posted:
        assert posted["work_center"] == "MIX-01"


def test_read_back_sums_what_the_erp_holds(sim, adapter):
    adapter.deliver(message("order_start", "k1"))
    adapter.deliver(message("operation_confirmation", "k2", final=False))  # partial
    adapter.deliver(message("operation_confirmation", "k3", good="10", scrap="0"))  # final
    adapter.deliver(message("goods_issue", "k4"))
    adapter.deliver(message("goods_receipt", "k5"))
    back = adapter.read_back("4711")
    assert back == {
        "status": "started",
        "confirmed_good": Decimal("100"),
        "confirmed_scrap": Decimal("2.5"),
        "goods_receipts": Decimal("88"),
        "goods_issues": Decimal("40.5"),
        "idempotency_keys": {"k1", "k2", "k3", "k4", "k5"},
        "operations": {
            "0010": {
                "good": Decimal("100"),
                "scrap": Decimal("2.5"),
                "labor_hours": Decimal("3.0"),
                "machine_hours": Decimal("4"),
                "final": True,
            }
        },
    }


def test_timeout_is_retryable_and_nothing_was_posted(sim, adapter):
    sim.fault(path="^/api/messages$", kind="timeout", delay=2)
    started = time.monotonic()
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("goods_issue", "k-timeout"))
    assert exc.value.retryable
    assert "no answer within 0.5s" in exc.value.detail
    assert time.monotonic() - started < 1.5
    assert sim.state()["effective"] == {}
    assert not adapter.deliver(message("goods_issue", "k-timeout")).duplicate
    assert sim.state()["effective"]["k-timeout"]["count"] == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retryable(sim, adapter, status):
    sim.fault(path="^/api/messages$", kind="status", status=status)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("goods_issue", "k-5xx"))
    assert (exc.value.retryable, exc.value.status) == (True, status)
    assert sim.state()["effective"] == {}


def test_429_is_retryable_with_retry_after(sim, adapter):
    sim.fault(path="^/api/messages$", kind="throttle", retry_after=7)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("goods_issue", "k-429"))
    assert (exc.value.retryable, exc.value.status, exc.value.retry_after) == (True, 429, 7.0)


def test_validation_error_is_not_retryable_and_says_why(sim, adapter):
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("goods_issue", "k-bad", quantity="-3"))
    assert not exc.value.retryable
    assert exc.value.status == 422
    assert "quantity must not be negative" in exc.value.detail
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("goods_issue", "k-bad2", order="NOPE"))
    assert "unknown order 'NOPE'" in exc.value.detail
    assert sim.state()["effective"] == {}


@pytest.mark.parametrize("fault", ["lost", "lost_5xx", "timeout_after_commit"])
def test_lost_response_then_redelivery_is_a_duplicate_with_one_effect(sim, adapter, fault):
    sim.fault(path="^/api/messages$", kind=fault, delay=1.5)
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("operation_confirmation", "k-lost"))
    assert exc.value.retryable
    again = adapter.deliver(message("operation_confirmation", "k-lost"))
    assert again.duplicate
    assert sim.state()["effective"] == {"k-lost": {"count": 1, "kinds": ["operation_confirmation"]}}
    assert adapter.read_back("4711")["confirmed_good"] == Decimal("90")


def test_same_key_with_another_body_is_refused(sim, adapter):
    adapter.deliver(message("goods_issue", "k-same"))
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("goods_issue", "k-same", quantity="1"))
    assert not exc.value.retryable
    assert "reused with a different body" in exc.value.detail


def test_wrong_secret_is_refused(sim, adapter_for):
    adapter = adapter_for(sim, credentials={"secret": "not-the-secret"})
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("goods_issue", "k-sig"))
    assert (exc.value.retryable, exc.value.status) == (False, 401)
    assert "signature does not match" in exc.value.detail
    assert sim.state()["effective"] == {}


def _raw_post(sim, body: bytes, header: str | None, key: str = "k-raw"):
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    if header is not None:
        headers[signing.SIGNATURE_HEADER] = header
    return httpx.post(f"{sim.url}/api/messages", content=body, headers=headers)


def test_simulator_refuses_unsigned_stale_tampered_and_replayed_requests(sim):
    secret = sim.simulator.config["secret"]
    body = json.dumps(
        {
            "kind": "order_start",
            "idempotency_key": "k-raw",
            "erp_order_id": "4711",
            "payload": PAYLOADS["order_start"],
        }
    ).encode()
    assert _raw_post(sim, body, None).status_code == 401
    stale = signing.sign(secret, "POST", "/api/messages", body, timestamp=int(time.time()) - 301)
    response = _raw_post(sim, body, stale)
    assert response.status_code == 401
    assert "tolerance" in response.json()["error"]["message"]
    good = signing.sign(secret, "POST", "/api/messages", body)
    tampered = _raw_post(sim, body.replace(b"4711", b"4712"), good)
    assert "does not match" in tampered.json()["error"]["message"]
    other_path = signing.sign(secret, "POST", "/api/orders", body)
    assert _raw_post(sim, body, other_path).status_code == 401
    assert sim.state()["effective"] == {}
    assert _raw_post(sim, body, good).status_code == 201
    replay = _raw_post(sim, body, good)
    assert replay.status_code == 401
    assert "nonce already used" in replay.json()["error"]["message"]
    assert sim.state()["effective"]["k-raw"]["count"] == 1


def test_signing_verify_roundtrip():
    header = signing.sign("s3cret", "post", "/x?a=1", b"{}", timestamp=1000, nonce="n1")
    signing.verify("s3cret", header, "POST", "/x?a=1", b"{}", now=1100)
    with pytest.raises(signing.SignatureError, match="malformed"):
        signing.verify("s3cret", "garbage", "POST", "/x", b"", now=1000)
    with pytest.raises(signing.SignatureError, match="does not match"):
        signing.verify("s3cret", header, "POST", "/x?a=2", b"{}", now=1100)
    seen: dict[str, float] = {}
    signing.verify("s3cret", header, "POST", "/x?a=1", b"{}", now=1000, seen_nonces=seen)
    with pytest.raises(signing.SignatureError, match="nonce"):
        signing.verify("s3cret", header, "POST", "/x?a=1", b"{}", now=1001, seen_nonces=seen)


def test_each_delivery_carries_its_http_exchanges_for_the_audit_record(sim, adapter):
    result = adapter.deliver(message("goods_issue", "k-log"))
    (exchange,) = result.exchanges
    assert (exchange["method"], exchange["status"]) == ("POST", 201)
    assert exchange["url"].endswith("/api/messages")
    assert '"idempotency_key": "k-log"' in exchange["request"]
    assert '"status": "accepted"' in exchange["response"].replace('":"', '": "')
    sim.fault(path="^/api/messages$", kind="lost")
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("goods_issue", "k-log2"))
    (failed,) = exc.value.exchanges
    assert "RemoteProtocolError" in failed["error"]
    assert "status" not in failed


def test_strict_mapping_refuses_an_unmapped_code_without_retry(sim, adapter_for):
    adapter = adapter_for(sim, strict=True, uoms={"kg": "KG"})
    with pytest.raises(AdapterError) as exc:
        adapter.deliver(message("goods_issue", "k-map", uom="lb"))
    assert not exc.value.retryable
    assert exc.value.detail == "mapping 'uoms' has no entry for 'lb'"
    assert sim.state()["received"] == []


def test_retry_after_as_seconds_or_http_date():
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from erp_connectors.adapters.http import parse_retry_after

    assert parse_retry_after("12") == 12.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < parse_retry_after(later) <= 30
    assert parse_retry_after("soon") is None
