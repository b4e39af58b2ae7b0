"""The machinery every ERP simulator shares: an HTTP server, fault injection, state, control.

A simulator is a `Simulator` subclass with a `route(request) -> Response` method holding the ERP's
behaviour, run by `serve()` on a `ThreadingHTTPServer`. Everything under `/_sim/` is the test
control surface (never part of the ERP's API):

- `POST /_sim/seed`    {"orders": [{...}]}: orders the ERP offers (see `Simulator.seed_order`).
- `POST /_sim/faults`  {"path": regex, "method": "POST", "count": N, "kind": ..., ...}: the next N
  matching requests fail. Kinds: `timeout` (sleep `delay` s, nothing applied, drop the
  connection), `timeout_after_commit` (apply, sleep `delay` s, then answer), `status` (answer
  `status` with the ERP's error body, nothing applied), `throttle` (429 + `Retry-After:
  retry_after`), `lost` (apply, then drop the connection without answering), `lost_5xx` (apply,
  then answer `status`, default 502), `expire_token` (the bearer/session is refused: 401).
- `POST /_sim/config`  {...}: change settings (page size, dedupe mode, processing delay ...).
  `frozen_time` (epoch seconds, at start only) freezes the simulator's clock: with sequential
  ids, change stamps and ETags are then the same on every run (each change still moves the
  stamp on by one tick).
- `GET  /_sim/state`   every received request, every applied effect, `effective` = effects per
  idempotency key ({"count": n, "kinds": [...]}), plus the ERP's own state.
- `POST /_sim/reset`   forget everything (orders, faults, log); config back to what it started with.

An effect is "what the ERP posted" (a confirmation, a goods movement, a status change). The key
of an effect is the `X-MES-Message-Id` header the adapters send (observational only: the
simulators never dedupe by it, except the generic REST one whose contract is the
`Idempotency-Key` header), so a test can assert "every message exactly once in effect".
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MESSAGE_ID_HEADER = "X-MES-Message-Id"
FAULT_KINDS = (
    "timeout",
    "timeout_after_commit",
    "status",
    "throttle",
    "lost",
    "lost_5xx",
    "expire_token",
)
PRE_COMMIT = {"timeout", "status", "throttle", "expire_token"}


@dataclass
class Request:
    method: str
    target: str  # path + query as sent
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8") or "null")

    def cookies(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in self.header("cookie").split(";"):
            if "=" in part:
                name, _, value = part.strip().partition("=")
                out[name] = value
        return out


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


DROP = Response(status=0)  # sentinel: close the connection without answering


def json_response(
    status: int, obj: Any, headers: list[tuple[str, str]] | None = None, content_type: str = ""
) -> Response:
    body = json.dumps(obj, default=str).encode("utf-8")
    hdrs = [("Content-Type", content_type or "application/json; charset=utf-8")]
    return Response(status=status, body=body, headers=hdrs + list(headers or []))


def text_response(status: int, text: str, headers: list[tuple[str, str]] | None = None) -> Response:
    hdrs = [("Content-Type", "text/plain; charset=utf-8")]
    return Response(status=status, body=text.encode("utf-8"), headers=hdrs + list(headers or []))


class Simulator:
    """Base of every ERP simulator. Subclasses implement `route`, `seed_order`, `error_response`."""

    kind = "base"
    defaults: dict[str, Any] = {}

    def __init__(self, **config: Any) -> None:
        self.lock = threading.RLock()
        self.initial_config = {**self.defaults, **config}
        self.config = dict(self.initial_config)
        self.stopping = threading.Event()
        self.clock: Callable[[], float] = time.time
        if self.initial_config.get("frozen_time") is not None:  # deterministic stamps for CI
            frozen = float(self.initial_config["frozen_time"])
            self.clock = lambda: frozen
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        with self.lock:
            self.config = dict(self.initial_config)
            self.faults: list[dict[str, Any]] = []
            self.received: list[dict[str, Any]] = []
            self.effects: list[dict[str, Any]] = []
            self.seq = 0
            self.reset_erp()

    def reset_erp(self) -> None:
        """Forget the ERP's own data (orders, postings)."""

    def next_id(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    def record_effect(
        self, request: Request | None, kind: str, data: dict[str, Any], key: str = ""
    ):
        with self.lock:
            key = key or (request.header(MESSAGE_ID_HEADER) if request else "")
            self.effects.append({"key": key, "kind": kind, "data": data, "at": self.clock()})

    def state(self) -> dict[str, Any]:
        with self.lock:
            effective: dict[str, dict[str, Any]] = {}
            for effect in self.effects:
                if not effect["key"]:
                    continue
                slot = effective.setdefault(effect["key"], {"count": 0, "kinds": []})
                slot["count"] += 1
                slot["kinds"].append(effect["kind"])
            return {
                "kind": self.kind,
                "config": self.config,
                "received": list(self.received),
                "effects": list(self.effects),
                "effective": effective,
                "erp": self.erp_state(),
            }

    def erp_state(self) -> dict[str, Any]:
        return {}

    # -------------------------------------------------------------- contract
    def route(self, request: Request) -> Response:
        raise NotImplementedError

    def seed_order(self, order: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def error_response(self, status: int, message: str, code: str = "") -> Response:
        return json_response(status, {"error": {"code": code or str(status), "message": message}})

    def unauthorized(self, request: Request) -> Response | None:
        """A 401 response when the request's credentials are refused, else None."""
        return None

    # ---------------------------------------------------------------- faults
    def add_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        kind = spec.get("kind", "")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        fault = {
            "path": spec.get("path", ".*"),
            "method": (spec.get("method") or "").upper(),
            "count": int(spec.get("count", 1)),
            "kind": kind,
            "status": int(spec.get("status", 503 if kind == "status" else 502)),
            "retry_after": spec.get("retry_after", 1),
            "delay": float(spec.get("delay", 2.0)),
            "message": spec.get("message", ""),
            "code": spec.get("code", ""),
        }
        re.compile(fault["path"])
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, request: Request) -> dict[str, Any] | None:
        with self.lock:
            for fault in self.faults:
                if fault["count"] <= 0:
                    continue
                if fault["method"] and fault["method"] != request.method:
                    continue
                if not re.search(fault["path"], request.path):
                    continue
                fault["count"] -= 1
                return dict(fault)
        return None

    def sleep(self, seconds: float) -> None:
        self.stopping.wait(seconds)

    # -------------------------------------------------------------- dispatch
    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_sim/"):
            return self.control(request)
        with self.lock:
            self.received.append(
                {
                    "n": len(self.received) + 1,
                    "at": self.clock(),
                    "method": request.method,
                    "path": request.path,
                    "query": request.query,
                    "message_id": request.header(MESSAGE_ID_HEADER),
                    "body": _body_for_log(request.body),
                }
            )
        fault = self.take_fault(request)
        if fault and fault["kind"] in PRE_COMMIT:
            return self.pre_commit_fault(fault, request)
        response = self.route(request)
        if not fault:
            return response
        if fault["kind"] == "lost":
            return DROP
        if fault["kind"] == "lost_5xx":
            return self.error_response(fault["status"], fault["message"] or "Bad gateway")
        # timeout_after_commit: the effect is applied, the answer comes after the client gave up
        self.sleep(fault["delay"])
        return response

    def pre_commit_fault(self, fault: dict[str, Any], request: Request) -> Response:
        kind = fault["kind"]
        if kind == "timeout":
            self.sleep(fault["delay"])
            return DROP
        if kind == "throttle":
            return self.throttled(fault)
        if kind == "expire_token":
            return self.error_response(401, fault["message"] or "Token expired", "401")
        return self.error_response(
            fault["status"], fault["message"] or "Service unavailable", fault["code"]
        )

    def throttled(self, fault: dict[str, Any]) -> Response:
        response = self.error_response(429, fault["message"] or "Too many requests")
        response.headers.append(("Retry-After", str(fault["retry_after"])))
        return response

    def control(self, request: Request) -> Response:
        name = request.path[len("/_sim/") :].strip("/")
        try:
            if name == "state" and request.method == "GET":
                return json_response(200, self.state())
            if name == "reset" and request.method == "POST":
                self.reset()
                return json_response(200, {"reset": True})
            if name == "seed" and request.method == "POST":
                body = request.json() or {}
                with self.lock:
                    seeded = [self.seed_order(order) for order in body.get("orders", [])]
                return json_response(201, {"seeded": seeded})
            if name == "faults" and request.method == "POST":
                body = request.json() or {}
                specs = body.get("faults", [body])
                return json_response(201, {"faults": [self.add_fault(s) for s in specs]})
            if name == "config" and request.method == "POST":
                with self.lock:
                    self.config.update(request.json() or {})
                return json_response(200, {"config": self.config})
        except (ValueError, KeyError, TypeError, re.error) as exc:
            return json_response(400, {"error": f"{type(exc).__name__}: {exc}"})
        return json_response(404, {"error": f"no control endpoint {request.method} {request.path}"})


def seed_defaults(order: dict[str, Any]) -> dict[str, Any]:
    """A seeded order in the simulators' common (canonical) shape, with defaults filled in.

    {"id", "kind": "discrete"|"process", "material", "quantity", "uom", "plant", "start", "due",
     "status": "released"|"planned"|"cancelled", "recipe", "expected_yield_pct", "priority",
     "operations": [{"operation": "0010", "work_center": "..."}]}; each simulator renders it in
    its ERP's own fields. Seeding an existing id again is a change of that order.
    """
    out = {
        "kind": "discrete",
        "material": "MAT-1",
        "quantity": "100",
        "uom": "EA",
        "plant": "1010",
        "start": "2026-11-25",
        "due": "2026-11-27",
        "status": "released",
        "recipe": "",
        "expected_yield_pct": None,
        "priority": 0,
        "operations": [{"operation": "0010", "work_center": "WC1"}],
        **order,
    }
    out["id"] = str(out["id"])
    out["quantity"] = str(out["quantity"])
    return out


def _body_for_log(body: bytes) -> Any:
    if not body:
        return None
    text = body.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


# --------------------------------------------------------------------- server
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024  # headers and body leave in one write (flushed per request)
    simulator: Simulator  # set on the subclass made by `make_server`

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            target=self.path,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            response = self.simulator.handle(request)
        except Exception as exc:  # a simulator bug answers 500 instead of hanging the client
            response = text_response(500, f"simulator error: {type(exc).__name__}: {exc}")
        if response is DROP:
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_MERGE = do_HEAD = _serve  # noqa: N815


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128


def make_server(simulator: Simulator, host: str = "127.0.0.1", port: int = 0) -> SimulatorServer:
    handler = type(f"{type(simulator).__name__}Handler", (_Handler,), {"simulator": simulator})
    return SimulatorServer((host, port), handler)


class RunningSimulator:
    """A simulator served from a thread of this process (`start_simulator`)."""

    def __init__(self, simulator: Simulator, server: SimulatorServer) -> None:
        self.simulator = simulator
        self.server = server
        self.host, self.port = server.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self.thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> RunningSimulator:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.simulator.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    # direct access for tests in the same process (the same as the /_sim/ endpoints)
    def seed(self, *orders: dict[str, Any]) -> list[dict[str, Any]]:
        with self.simulator.lock:
            return [self.simulator.seed_order(o) for o in orders]

    def fault(self, **spec: Any) -> dict[str, Any]:
        return self.simulator.add_fault(spec)

    def configure(self, **config: Any) -> None:
        with self.simulator.lock:
            self.simulator.config.update(config)

    def state(self) -> dict[str, Any]:
        return self.simulator.state()

    def reset(self) -> None:
        self.simulator.reset()

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
