"""The simulators also run as their own process (they must outlive a killed Celery worker)."""

from __future__ import annotations

import pytest

from erp_connectors.adapters.base import OutboundMessage


def test_subprocess_simulator_serves_the_adapter_and_its_control_endpoints(
    erp_simulator_process, adapter_for
):
    sim = erp_simulator_process("rest", page_size=1)
    assert sim.seed({"id": "A1"}, {"id": "A2"}) == [
        {"id": "A1", "version": "1"},
        {"id": "A2", "version": "1"},
    ]
    adapter = adapter_for(sim)
    assert [o.erp_order_id for o in adapter.fetch_orders()] == ["A1", "A2"]
    sim.fault(path="/api/messages", kind="lost")
    msg = OutboundMessage(
        kind="order_start",
        idempotency_key="k1",
        erp_order_id="A1",
        payload={"started_at": "2026-11-25T06:00:00Z"},
    )
    with pytest.raises(Exception, match="outcome unknown"):
        adapter.deliver(msg)
    assert adapter.deliver(msg).duplicate
    assert sim.state()["effective"] == {"k1": {"count": 1, "kinds": ["order_start"]}}
    sim.reset()
    assert sim.state()["received"] == []
    sim.stop()
    assert sim.process.poll() is not None


@pytest.mark.parametrize("kind", ["sap", "oracle", "d365"])
def test_every_simulator_runs_as_a_process(kind, erp_simulator_process, adapter_for):
    sim = erp_simulator_process(kind)
    sim.seed({"id": "4711", "plant": "1010"})
    adapter = adapter_for(sim, plant="1010", company="USMF")
    assert [o.erp_order_id for o in adapter.fetch_orders()] == ["4711"]
