"""Faithful ERP simulators on 127.0.0.1 for the adapters' tests, the end-to-end tests and benchmarks.

Usage (kinds: "rest", "sap", "oracle", "d365"; config keys: see each simulator's `defaults`):
    sim = start_simulator("sap", page_size=2)          # thread in this process; sim.url, sim.stop()
    sim.seed({"id": "1000206", "material": "RESIN-A", "quantity": "500", "uom": "KG"})
    sim.fault(path="ProdnOrdConf2$", method="POST", kind="lost", count=1)
    sim.state()["effective"]  # {idempotency key: {"count": n, "kinds": [...]}}
    proc = spawn_simulator("rest", port=8765)            # subprocess that outlives a Celery worker
    proc.post("/_sim/seed", {"orders": [...]}); proc.get("/_sim/state"); proc.stop()
    CLI: python -m erp_connectors.simulators sap --port 8765 [--config '{"page_size": 2}']
pytest: fixtures `erp_simulator` (factory: erp_simulator("sap", **config)), `rest_simulator`,
`sap_simulator`, `oracle_simulator`, `d365_simulator`, `erp_simulator_process` in
erp_connectors/tests/conftest.py. Control endpoints under /_sim/ (seed, faults, config, state,
reset) are described in erp_connectors/simulators/base.py and README.md here.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from erp_connectors.simulators.base import RunningSimulator, Simulator, make_server

SIMULATORS = {
    "rest": "erp_connectors.simulators.rest:RestSimulator",
    "sap": "erp_connectors.simulators.sap:SapSimulator",
    "oracle": "erp_connectors.simulators.oracle:OracleSimulator",
    "d365": "erp_connectors.simulators.d365:D365Simulator",
}


def simulator_class(kind: str) -> type[Simulator]:
    try:
        module, _, name = SIMULATORS[kind].partition(":")
    except KeyError:
        raise ValueError(f"no simulator {kind!r}; one of {', '.join(SIMULATORS)}") from None
    return getattr(importlib.import_module(module), name)


def start_simulator(kind: str, *, host: str = "127.0.0.1", port: int = 0, **config: Any):
    """Serve a simulator from a daemon thread of this process (port 0 = a free port)."""
    simulator = simulator_class(kind)(**config)
    return RunningSimulator(simulator, make_server(simulator, host, port)).start()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class SimulatorProcess:
    """A simulator in its own process (`python -m erp_connectors.simulators <kind> --port N`)."""

    def __init__(self, kind: str, port: int, process: subprocess.Popen, host: str = "127.0.0.1"):
        self.kind, self.port, self.process, self.host = kind, port, process, host
        self.url = f"http://{host}:{port}"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 (our own http://127.0.0.1 URL)
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return json.loads(resp.read() or b"null")

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self._call("POST", path, body if body is not None else {})

    def seed(self, *orders: dict[str, Any]) -> Any:
        return self.post("/_sim/seed", {"orders": list(orders)})["seeded"]

    def fault(self, **spec: Any) -> Any:
        return self.post("/_sim/faults", spec)

    def configure(self, **config: Any) -> Any:
        return self.post("/_sim/config", config)

    def state(self) -> dict[str, Any]:
        return self.get("/_sim/state")

    def reset(self) -> Any:
        return self.post("/_sim/reset")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def spawn_simulator(
    kind: str,
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    startup: float = 15.0,
    **config: Any,
) -> SimulatorProcess:
    """Start a simulator subprocess and wait until it answers /_sim/state."""
    port = port or free_port(host)
    cmd = [
        sys.executable,
        "-m",
        "erp_connectors.simulators",
        kind,
        "--host",
        host,
        "--port",
        str(port),
    ]
    if config:
        cmd += ["--config", json.dumps(config)]
    root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(cmd, cwd=root, env=env)  # noqa: S603 (our own interpreter and module)
    sim = SimulatorProcess(kind, port, process, host)
    deadline = time.monotonic() + startup
    while True:
        try:
            sim.get("/_sim/state")
            return sim
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                sim.stop()
                raise RuntimeError(f"simulator {kind} did not start on {host}:{port}") from None
            time.sleep(0.05)


__all__ = [
    "SIMULATORS",
    "RunningSimulator",
    "SimulatorProcess",
    "free_port",
    "simulator_class",
    "spawn_simulator",
    "start_simulator",
]
