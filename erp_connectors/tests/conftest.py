"""Fixtures: ERP simulators on 127.0.0.1 (F1 owns this file; F2's tests use these fixtures).

- `erp_simulator(kind, **config)` → RunningSimulator (thread in the test process; `.url`,
  `.seed(...)`, `.fault(...)`, `.configure(...)`, `.state()`, `.reset()`), stopped after the test.
- `rest_simulator`, `sap_simulator`, `oracle_simulator`, `d365_simulator`: one of each, defaults.
- `erp_simulator_process(kind, **config)` → SimulatorProcess (`python -m erp_connectors.simulators`,
  same methods over HTTP), for tests that kill worker processes; terminated after the test.
- `adapter_for(sim, **mapping)` → the registered adapter of `sim.kind` pointed at it with the
  credentials the simulator accepts (short timeout: 1 s; pass timeout=... to change).
"""

from __future__ import annotations

from typing import Any

import pytest

from erp_connectors.adapters.base import get_adapter
from erp_connectors.simulators import spawn_simulator, start_simulator
from erp_connectors.simulators.base import RunningSimulator


@pytest.fixture
def erp_simulator():
    running: list[RunningSimulator] = []

    def start(kind: str, **config: Any) -> RunningSimulator:
        sim = start_simulator(kind, **config)
        running.append(sim)
        return sim

    yield start
    for sim in running:
        sim.stop()


@pytest.fixture
def rest_simulator(erp_simulator):
    return erp_simulator("rest")


@pytest.fixture
def sap_simulator(erp_simulator):
    return erp_simulator("sap")


@pytest.fixture
def oracle_simulator(erp_simulator):
    return erp_simulator("oracle")


@pytest.fixture
def d365_simulator(erp_simulator):
    return erp_simulator("d365")


@pytest.fixture
def erp_simulator_process():
    processes = []

    def spawn(kind: str, **config: Any):
        process = spawn_simulator(kind, **config)
        processes.append(process)
        return process

    yield spawn
    for process in processes:
        process.stop()


def simulator_credentials(kind: str, config: dict[str, Any], url: str = "") -> dict[str, str]:
    """The credentials a simulator of `kind` with `config` (served at `url`) accepts."""
    if kind == "rest":
        return {"secret": config["secret"]}
    if kind == "d365":
        return {
            "client_id": config["client_id"],
            "client_secret": config["client_secret"],
            "tenant": "sim",
            "token_url": f"{url}/sim/oauth2/v2.0/token",
        }
    return {"username": config["username"], "password": config["password"]}


@pytest.fixture
def adapter_for():
    adapters = []

    def make(
        sim, *, timeout: float = 1.0, credentials: dict[str, str] | None = None, **mapping: Any
    ):
        simulator = getattr(sim, "simulator", None)
        kind = simulator.kind if simulator else sim.kind
        config = simulator.config if simulator else sim.state()["config"]
        adapter = get_adapter(
            kind,
            base_url=sim.url,
            credentials=credentials or simulator_credentials(kind, config, sim.url),
            mapping=mapping,
            timeout=timeout,
        )
        adapters.append(adapter)
        return adapter

    yield make
    for adapter in adapters:
        adapter.close()
