"""The SAP simulator speaks OData V2 as S/4HANA does (checked with raw HTTP, no adapter)."""

from __future__ import annotations

import re

import httpx
import pytest

AUTH = ("MES_COMM", "sim-password")
SRV = "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV"
CONF = "/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV/ProdnOrdConf2"


@pytest.fixture
def sim(erp_simulator):
    sim = erp_simulator("sap", page_size=2)
    sim.seed(*[{"id": f"100020{n}", "quantity": "100", "uom": "KG"} for n in range(3)])
    return sim


@pytest.fixture
def client(sim):
    with httpx.Client(base_url=sim.url, auth=AUTH) as client:
        yield client


def token(client) -> str:
    response = client.get(f"{SRV}/", headers={"x-csrf-token": "Fetch"})
    assert response.status_code == 200
    return response.headers["x-csrf-token"]


def confirmation(**overrides):
    return {
        "OrderID": "1000200",
        "OrderOperation": "0010",
        "ConfirmationYieldQuantity": "1.000",
        **overrides,
    }


def test_collection_envelope_paging_and_value_formats(client):
    first = client.get(f"{SRV}/A_ProductionOrder_2", params={"$inlinecount": "allpages"}).json()
    page = first["d"]
    assert page["__count"] == "3"
    assert [r["ManufacturingOrder"] for r in page["results"]] == ["1000200", "1000201"]
    assert "$skiptoken=2" in page["__next"]
    order = page["results"][0]
    assert order["TotalQuantity"] == "100.000"  # Edm.Decimal as a string
    assert re.fullmatch(r"/Date\(\d+\)/", order["MfgOrderPlannedStartDate"])
    assert order["OrderIsReleased"] == "X"
    assert order["__metadata"]["etag"].startswith("W/")
    assert order["to_ProductionOrderOperation"] == {
        "__deferred": {"uri": order["__metadata"]["uri"] + "/to_ProductionOrderOperation"}
    }
    second = client.get(page["__next"]).json()["d"]
    assert [r["ManufacturingOrder"] for r in second["results"]] == ["1000202"]
    assert "__next" not in second
    single = client.get(f"{SRV}/A_ProductionOrder_2('1000200')")
    assert set(single.json()) == {"d"}
    assert single.headers["ETag"] == order["__metadata"]["etag"]


def test_unauthenticated_requests_get_401_with_basic_challenge(sim):
    response = httpx.get(f"{sim.url}{SRV}/A_ProductionOrder_2")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="SAP NetWeaver')


def test_csrf_token_is_required_and_only_valid_with_its_session_cookie(sim, client):
    refused = client.post(CONF, json=confirmation())
    assert (refused.status_code, refused.text, refused.headers["x-csrf-token"]) == (
        403,
        "CSRF token validation failed",
        "Required",
    )
    csrf = token(client)
    assert any(c.startswith("SAP_SESSIONID_S4H_100") for c in client.cookies)
    without_cookie = httpx.post(
        f"{sim.url}{CONF}", json=confirmation(), auth=AUTH, headers={"x-csrf-token": csrf}
    )
    assert without_cookie.status_code == 403
    assert client.post(CONF, json=confirmation(), headers={"x-csrf-token": csrf}).status_code == 201
    assert sim.state()["erp"]["confirmations"][0]["ConfirmationYieldQuantity"] == "1.000"
    assert len(sim.state()["erp"]["confirmations"]) == 1


def test_decimal_as_json_number_is_refused_with_sap_s_error_body(client):
    csrf = token(client)
    response = client.post(
        CONF, json=confirmation(ConfirmationYieldQuantity=1), headers={"x-csrf-token": csrf}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "/IWBEP/CM_MGW_RT/020"
    assert error["message"]["lang"] == "en"
    assert "Edm.Decimal must be a JSON string" in error["message"]["value"]
    (detail,) = error["innererror"]["errordetails"]
    assert (detail["target"], detail["severity"]) == ("ConfirmationYieldQuantity", "error")


def test_patch_needs_a_current_etag(client):
    csrf = token(client)
    url = f"{SRV}/A_ProductionOrder_2('1000200')"
    etag = client.get(url).headers["ETag"]
    body = {"YY1_MESRejection_ORD": "v2: started"}
    assert client.patch(url, json=body, headers={"x-csrf-token": csrf}).status_code == 428
    ok = client.patch(url, json=body, headers={"x-csrf-token": csrf, "If-Match": etag})
    assert ok.status_code == 204
    assert ok.headers["ETag"] != etag
    stale = client.patch(url, json=body, headers={"x-csrf-token": csrf, "If-Match": etag})
    assert stale.status_code == 412
    read_only = client.patch(
        url,
        json={"TotalQuantity": "5.000"},
        headers={"x-csrf-token": csrf, "If-Match": ok.headers["ETag"]},
    )
    assert read_only.status_code == 400
    assert "read-only" in read_only.json()["error"]["message"]["value"]


def test_filter_errors_and_unknown_entities_use_the_error_body(client):
    bad = client.get(f"{SRV}/A_ProductionOrder_2", params={"$filter": "Nope eq 'x'"})
    assert bad.status_code == 400
    assert "Property Nope not found" in bad.json()["error"]["message"]["value"]
    missing = client.get(f"{SRV}/A_ProductionOrder_2('999')")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "CO/004"


def test_final_confirmation_marks_the_operation_and_the_order(sim, client):
    csrf = token(client)
    sim.seed(
        {
            "id": "1000300",
            "quantity": "10",
            "uom": "KG",
            "operations": [{"operation": "0010"}, {"operation": "0020"}],
        }
    )
    post = client.post(
        CONF,
        json=confirmation(
            OrderID="1000300", ConfirmationYieldQuantity="10.000", FinalConfirmationType="X"
        ),
        headers={"x-csrf-token": csrf},
    )
    assert post.status_code == 201
    order = client.get(
        f"{SRV}/A_ProductionOrder_2('1000300')", params={"$expand": "to_ProductionOrderOperation"}
    ).json()["d"]
    assert (order["OrderIsPartiallyConfirmed"], order["OrderIsConfirmed"]) == ("X", "")
    ops = order["to_ProductionOrderOperation"]["results"]
    assert [o["OperationIsFinallyConfirmed"] for o in ops] == ["X", ""]
    client.post(
        CONF,
        json=confirmation(
            OrderID="1000300",
            OrderOperation="0020",
            ConfirmationYieldQuantity="9.000",
            FinalConfirmationType="X",
        ),
        headers={"x-csrf-token": csrf},
    )
    order = client.get(f"{SRV}/A_ProductionOrder_2('1000300')").json()["d"]
    assert (order["OrderIsConfirmed"], order["MfgOrderConfirmedYieldQty"]) == ("X", "9.000")


def test_cancelling_a_confirmation_reverses_it_and_read_back_ignores_both(sim, adapter_for):
    from erp_connectors.tests.adapter_payloads import message

    adapter = adapter_for(sim, plant="1010")
    ref = adapter.deliver(
        message("operation_confirmation", "c1", "1000200", attempt=1)
    ).external_ref
    adapter.deliver(message("operation_confirmation", "c2", "1000201", attempt=1, good="5"))
    group, count = ref.split("/")
    with httpx.Client(base_url=sim.url, auth=AUTH) as client:
        csrf = token(client)
        cancel = "/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV/CancelProdnOrdConf"
        params = {"ConfirmationGroup": f"'{group}'", "ConfirmationCount": f"'{count}'"}
        response = client.post(cancel, params=params, headers={"x-csrf-token": csrf})
        assert response.status_code == 200
        assert response.json()["d"]["CancelProdnOrdConf"]["IsReversal"] is True
        again = client.post(cancel, params=params, headers={"x-csrf-token": csrf})
        assert again.status_code == 400
        assert "already cancelled" in again.json()["error"]["message"]["value"]
    back = adapter.read_back("1000200")
    assert (back["confirmed_good"], back["idempotency_keys"]) == (0, set())
    order = sim.simulator.orders["1000200"]
    assert order["_ops"][0]["OperationIsFinallyConfirmed"] == ""
    assert order["_ops"][0]["OpTotalConfirmedYieldQty"] == "0.000"
