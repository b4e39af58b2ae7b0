"""A generic REST/webhook ERP: the contract the `rest` adapter speaks (HMAC-signed JSON).

- `GET  /api/orders?since=<iso>&cursor=<n>&limit=<n>` → {"orders": [...], "next_cursor": str|null}
- `POST /api/messages` {"kind", "idempotency_key", "erp_order_id", "order_kind", "payload"} with
  `Idempotency-Key`: 201 {"id", "status": "accepted"}; the same key and body again → 200 with the
  first answer and `Idempotent-Replayed: true` (no second effect); the same key with another
  body → 422; a validation error → 422 {"error": {"code", "message"}}.
  A goods_issue with `"reversal": true` (material returned to stock) subtracts its quantity
  from the order's goods issues (never more than was issued: 422).
- `GET  /api/orders/<id>/state` → the order's totals (the adapter's `read_back`).
Every request must carry a valid `X-MES-Signature` (401 with the reason otherwise).
`POST /_sim/push` {"url", "orders": [...]} makes the ERP push orders, signed, to a webhook.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from erp_connectors.adapters import signing
from erp_connectors.simulators.base import (
    Request,
    Response,
    Simulator,
    json_response,
    seed_defaults,
)

REQUIRED = {
    "order_start": ["started_at"],
    "operation_confirmation": ["operation", "good", "scrap"],
    "goods_issue": ["material", "lot", "quantity", "uom"],
    "goods_receipt": ["material", "lot", "quantity", "uom"],
    "batch_yield": ["theoretical", "actual", "yield_pct"],
    "order_completion": ["good", "scrap"],
    "order_rejection": ["reason"],
}


class RestSimulator(Simulator):
    kind = "rest"
    defaults = {"secret": "sim-secret", "page_size": 50, "tolerance": 300, "verify": True}

    def reset_erp(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, dict[str, Any]] = {}  # idempotency key -> {"body", "response"}
        self.nonces: dict[str, float] = {}
        self.order_seq = 0

    def error_response(self, status: int, message: str, code: str = "") -> Response:
        return json_response(status, {"error": {"code": code or str(status), "message": message}})

    def seed_order(self, order: dict[str, Any]) -> dict[str, Any]:
        order = seed_defaults(order)
        self.order_seq += 1
        old = self.orders.get(order["id"])
        version = int(old["version"]) + 1 if old else 1
        order = {**order, "version": str(order.get("version") or version), "seq": self.order_seq}
        order["changed"] = datetime.fromtimestamp(self.clock(), UTC).isoformat()
        order["totals"] = old["totals"] if old else _empty_totals()
        self.orders[order["id"]] = order
        return {"id": order["id"], "version": order["version"]}

    def erp_state(self) -> dict[str, Any]:
        return {"orders": self.orders}

    def unauthorized(self, request: Request) -> Response | None:
        if not self.config["verify"]:
            return None
        try:
            signing.verify(
                self.config["secret"],
                request.header(signing.SIGNATURE_HEADER.lower()),
                request.method,
                request.target,
                request.body,
                tolerance=int(self.config["tolerance"]),
                seen_nonces=self.nonces,  # the window uses the real clock, never frozen_time
            )
        except signing.SignatureError as exc:
            return self.error_response(401, f"signature refused: {exc.reason}", "bad_signature")
        return None

    def route(self, request: Request) -> Response:
        with self.lock:
            refused = self.unauthorized(request)
            if refused:
                return refused
            parts = request.path.strip("/").split("/")
            if request.method == "GET" and parts == ["api", "orders"]:
                return self.list_orders(request)
            if request.method == "POST" and parts == ["api", "messages"]:
                return self.post_message(request)
            if request.method == "GET" and len(parts) == 4 and parts[:2] == ["api", "orders"]:
                order = self.orders.get(parts[2])
                if not order or parts[3] != "state":
                    return self.error_response(404, f"no order {parts[2]}", "not_found")
                return json_response(200, {"erp_order_id": order["id"], **order["totals"]})
        return self.error_response(404, f"no route {request.method} {request.path}", "not_found")

    def list_orders(self, request: Request) -> Response:
        since = request.query.get("since", "")
        limit = int(request.query.get("limit") or self.config["page_size"])
        limit = min(limit, int(self.config["page_size"]))
        cursor = int(request.query.get("cursor") or 0)
        rows = sorted(self.orders.values(), key=lambda o: o["seq"])
        rows = [
            o for o in rows if o["seq"] > cursor and (not since or o.get("changed", "") >= since)
        ]
        page = rows[:limit]
        more = len(rows) > limit
        return json_response(
            200,
            {
                "orders": [
                    {k: v for k, v in o.items() if k not in {"totals", "seq"}} for o in page
                ],
                "next_cursor": str(page[-1]["seq"]) if more else None,
            },
        )

    def post_message(self, request: Request) -> Response:
        key = request.header("idempotency-key")
        if not key:
            return self.error_response(400, "Idempotency-Key header is required", "no_key")
        if key in self.by_key:
            first = self.by_key[key]
            if first["body"] != request.body:
                return self.error_response(
                    422, "Idempotency-Key reused with a different body", "idempotency_mismatch"
                )
            _status, body = first["response"]
            return json_response(200, body, [("Idempotent-Replayed", "true")])
        try:
            message = request.json()
        except ValueError:
            return self.error_response(400, "body is not JSON", "bad_json")
        problem = self.validate(message, key)
        if problem:
            return self.error_response(422, problem, "validation")
        self.apply(message)
        self.record_effect(request, message["kind"], message, key=key)
        body = {"id": f"MSG-{self.next_id():08d}", "status": "accepted"}
        self.by_key[key] = {"body": request.body, "response": (201, body)}
        return json_response(201, body)

    def validate(self, message: Any, key: str) -> str:
        if not isinstance(message, dict):
            return "body must be a JSON object"
        kind = message.get("kind")
        if kind not in REQUIRED:
            return f"unknown message kind {kind!r}"
        if message.get("idempotency_key") != key:
            return "idempotency_key in the body differs from the Idempotency-Key header"
        if message.get("erp_order_id") not in self.orders:
            return f"unknown order {message.get('erp_order_id')!r}"
        payload = message.get("payload") or {}
        missing = [f for f in REQUIRED[kind] if f not in payload]
        if missing:
            return f"{kind}: missing {', '.join(missing)}"
        if kind == "goods_issue" and payload.get("reversal"):
            issued = Decimal(self.orders[message["erp_order_id"]]["totals"]["goods_issues"])
            try:
                back = Decimal(str(payload.get("quantity")))
            except InvalidOperation:
                back = Decimal(0)  # reported as not a number below
            if back > issued:
                return (
                    f"goods_issue reversal of {back} exceeds the {issued} issued to order "
                    f"{message.get('erp_order_id')}"
                )
        if kind == "operation_confirmation":
            done = self.orders[message["erp_order_id"]]["totals"]["operations"].get(
                str(payload.get("operation"))
            )
            if done and done["final"]:
                return (
                    f"operation {payload.get('operation')} of order "
                    f"{message.get('erp_order_id')} is already finally confirmed"
                )
        for name in (
            "good",
            "scrap",
            "rework",
            "labor_hours",
            "machine_hours",
            "quantity",
            "actual",
        ):
            if name in payload:
                try:
                    if Decimal(str(payload[name])) < 0:
                        return f"{kind}: {name} must not be negative"
                except InvalidOperation:
                    return f"{kind}: {name} is not a number: {payload[name]!r}"
        return ""

    def apply(self, message: dict[str, Any]) -> None:
        totals = self.orders[message["erp_order_id"]]["totals"]
        payload, kind = message["payload"], message["kind"]
        add = {
            "operation_confirmation": [("confirmed_good", "good"), ("confirmed_scrap", "scrap")],
            "goods_issue": [("goods_issues", "quantity")],
            "goods_receipt": [("goods_receipts", "quantity")],
        }.get(kind, [])
        # a goods-issue reversal (material returned to stock) takes back what it names
        sign = -1 if kind == "goods_issue" and payload.get("reversal") else 1
        for total, field in add:
            totals[total] = str(Decimal(totals[total]) + sign * Decimal(str(payload[field])))
        if kind == "operation_confirmation":
            # partial confirmations add up per operation; the final one closes the operation
            op = totals["operations"].setdefault(
                str(payload["operation"]),
                {
                    **dict.fromkeys(
                        ("good", "scrap", "rework", "labor_hours", "machine_hours"), "0"
                    ),
                    "final": False,
                    "confirmations": 0,
                },
            )
            for name in ("good", "scrap", "rework", "labor_hours", "machine_hours"):
                op[name] = str(Decimal(op[name]) + Decimal(str(payload.get(name) or "0")))
            op["final"] = bool(payload.get("final"))
            op["confirmations"] += 1
        if kind == "order_start":
            totals["status"] = "started"
        elif kind == "order_completion":
            totals["status"] = "completed"
        elif kind == "order_rejection":
            totals["rejections"].append(payload["reason"])
        elif kind == "batch_yield":
            totals["yield_pct"] = str(payload["yield_pct"])
        totals["idempotency_keys"].append(message["idempotency_key"])

    def control(self, request: Request) -> Response:
        if request.path.rstrip("/") == "/_sim/push" and request.method == "POST":
            return self.push(request.json() or {})
        return super().control(request)

    def push(self, spec: dict[str, Any]) -> Response:
        """Push orders to the MES webhook, signed like every request of this integration."""
        results = []
        for order in spec.get("orders", []):
            body = json.dumps(seed_defaults(order)).encode()
            url = spec["url"]
            target = url.split("://", 1)[-1]
            target = "/" + target.split("/", 1)[1] if "/" in target else "/"
            header = signing.sign(self.config["secret"], "POST", target, body)
            req = urllib.request.Request(  # noqa: S310 (http(s) URL given by the test)
                url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", signing.SIGNATURE_HEADER: header},
            )
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
                    results.append({"id": order.get("id"), "status": resp.status})
            except OSError as exc:
                results.append({"id": order.get("id"), "status": getattr(exc, "code", 0)})
        return json_response(200, {"pushed": results})


def _empty_totals() -> dict[str, Any]:
    return {
        "status": "released",
        "confirmed_good": "0",
        "confirmed_scrap": "0",
        "goods_issues": "0",
        "goods_receipts": "0",
        "yield_pct": None,
        "rejections": [],
        "idempotency_keys": [],
        "operations": {},
    }
