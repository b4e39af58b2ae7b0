"""The /_sim/ control surface every simulator shares, over HTTP."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from erp_connectors.adapters import signing


@pytest.mark.parametrize("kind", ["rest", "sap", "oracle", "d365"])
def test_seed_fault_state_and_reset_over_http(erp_simulator, kind):
    sim = erp_simulator(kind)
    seeded = httpx.post(f"{sim.url}/_sim/seed", json={"orders": [{"id": "4711"}]})
    assert seeded.status_code == 201
    assert seeded.json()["seeded"][0]["id"] == "4711"
    fault = httpx.post(
        f"{sim.url}/_sim/faults",
        json={"path": "^/nowhere", "kind": "status", "status": 500, "count": 2},
    )
    assert fault.json()["faults"][0]["count"] == 2
    assert httpx.get(f"{sim.url}/nowhere").status_code == 500
    assert httpx.get(f"{sim.url}/nowhere").status_code == 500
    assert httpx.get(f"{sim.url}/nowhere").status_code in {401, 404}  # the ERP again
    state = httpx.get(f"{sim.url}/_sim/state").json()
    assert [r["path"] for r in state["received"]] == ["/nowhere"] * 3
    assert state["kind"] == kind
    bad = httpx.post(f"{sim.url}/_sim/faults", json={"kind": "meteor"})
    assert bad.status_code == 400
    assert "unknown fault kind 'meteor'" in bad.json()["error"]
    assert (
        httpx.post(f"{sim.url}/_sim/config", json={"page_size": 3}).json()["config"]["page_size"]
        == 3
    )
    httpx.post(f"{sim.url}/_sim/reset")
    state = httpx.get(f"{sim.url}/_sim/state").json()
    assert state["received"] == []
    assert state["config"].get("page_size") != 3 or kind == "d365"


def test_a_fault_only_hits_its_method_and_path(erp_simulator):
    sim = erp_simulator("rest")
    sim.fault(path="^/api/messages$", method="POST", kind="throttle", retry_after=5)
    response = httpx.get(f"{sim.url}/api/messages")
    assert response.status_code != 429
    response = httpx.post(f"{sim.url}/api/messages")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "5")


class _Webhook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers[signing.SIGNATURE_HEADER], body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        return


def test_rest_simulator_pushes_signed_orders_to_a_webhook(erp_simulator):
    sim = erp_simulator("rest")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/erp-connectors/inbound/"
        result = httpx.post(f"{sim.url}/_sim/push", json={"url": url, "orders": [{"id": "W-1"}]})
        assert result.json()["pushed"] == [{"id": "W-1", "status": 202}]
        (path, header, body) = _Webhook.received[-1]
        assert json.loads(body)["id"] == "W-1"
        signing.verify(sim.simulator.config["secret"], header, "POST", path, body)
        with pytest.raises(signing.SignatureError):
            signing.verify("other-secret", header, "POST", path, body)
    finally:
        server.shutdown()
        server.server_close()


def test_frozen_time_gives_the_same_stamps_on_every_run(erp_simulator):
    runs = []
    for _ in range(2):
        sim = erp_simulator("sap", frozen_time=1795564800)
        first = sim.seed({"id": "1"})[0]["version"]
        second = sim.seed({"id": "1"})[0]["version"]
        runs.append((first, second))
    assert runs[0] == runs[1] == ("20261125000000", "20261125000001")
