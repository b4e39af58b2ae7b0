"""Generic REST/webhook ERP adapter (HMAC-SHA256 signed JSON; see simulators/rest.py).

credentials: {"secret": shared HMAC secret, "token": optional bearer token}
mapping: SiteMapping keys plus {"orders_path": "/api/orders", "messages_path": "/api/messages",
"state_path": "/api/orders/{id}/state", "page_size": 100}.
A goods issue with `"reversal": true` (material returned to stock) is sent as it is: the ERP
subtracts it from the order's goods issues.
Idempotency: the ERP dedupes by the `Idempotency-Key` header (a replay answers 200 with
`Idempotent-Replayed: true` → DeliveryResult(duplicate=True)); no read-back needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx

from erp_connectors.adapters import signing
from erp_connectors.adapters.base import (
    AdapterError,
    DeliveryResult,
    InboundOrder,
    OutboundMessage,
    register_adapter,
)
from erp_connectors.adapters.http import ErpHttp
from erp_connectors.adapters.mapping import SiteMapping


def _error_detail(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        return f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    except (ValueError, AttributeError):
        return response.text[:500]


def _parse_when(value: Any) -> date | datetime | None:
    if not value:
        return None
    text = str(value)
    try:
        return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
    except ValueError:
        return None


class RestAdapter:
    kind = "rest"

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Mapping[str, str],
        mapping: Mapping[str, Any],
        timeout: float = 10.0,
    ) -> None:
        self.secret = credentials.get("secret", "")
        if not self.secret:
            raise AdapterError("rest adapter: credentials need a 'secret'", retryable=False)
        self.mapping = SiteMapping(mapping)
        headers = {"Accept": "application/json"}
        if credentials.get("token"):
            headers["Authorization"] = f"Bearer {credentials['token']}"
        self.http = ErpHttp(
            base_url=base_url,
            timeout=timeout,
            error_detail=_error_detail,
            headers=headers,
            erp="REST ERP",
        )

    def close(self) -> None:
        self.http.close()

    def _signed(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        what: str = "",
    ) -> httpx.Response:
        """Sign exactly what goes on the wire (method, raw path and query, body)."""
        if params:
            query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
            path = f"{path}?{query}" if query else path
        all_headers = dict(headers or {})
        if body:
            all_headers["Content-Type"] = "application/json"
        request = self.http.client.build_request(method, path, content=body, headers=all_headers)
        target = request.url.raw_path.decode("ascii")
        request.headers[signing.SIGNATURE_HEADER] = signing.sign(self.secret, method, target, body)
        response = self.http.send_request(request)
        self.http.raise_for(response, what or f"{method} {path}")
        return response

    # ---------------------------------------------------------------- inbound
    def fetch_orders(self, *, since: datetime | None = None) -> Iterator[InboundOrder]:
        cursor = ""
        path = self.mapping.get("orders_path", "/api/orders")
        while True:
            params = {
                "since": since.isoformat() if since else "",
                "cursor": cursor,
                "limit": self.mapping.get("page_size", 100),
            }
            data = self._signed("GET", path, params=params, what="order list").json()
            for row in data.get("orders", []):
                yield self.to_inbound(row)
            cursor = data.get("next_cursor") or ""
            if not cursor:
                return

    def to_inbound(self, row: Mapping[str, Any]) -> InboundOrder:
        operations = row.get("operations") or []
        work_center = row.get("work_center") or (
            operations[0].get("work_center", "") if operations else ""
        )
        expected = row.get("expected_yield_pct")
        return InboundOrder(
            erp_order_id=str(row["id"]),
            version=str(row.get("version", "1")),
            kind=row.get("kind", "discrete"),
            material_code=self.mapping.material_from_erp(str(row["material"])),
            quantity=Decimal(str(row["quantity"])),
            uom=self.mapping.uom_from_erp(str(row.get("uom", ""))),
            due=_parse_when(row.get("due")),
            start=_parse_when(row.get("start")),
            plant=str(row.get("plant", "")),
            recipe_code=str(row.get("recipe") or ""),
            work_center=self.mapping.work_center_from_erp(str(work_center)),
            expected_yield_pct=Decimal(str(expected)) if expected not in (None, "") else None,
            priority=int(row.get("priority") or 0),
            status=row.get("status", "released"),
            raw=dict(row),
        )

    # --------------------------------------------------------------- outbound
    def to_erp_payload(self, message: OutboundMessage) -> dict[str, Any]:
        payload = dict(message.payload)
        if "work_center" in payload:
            payload["work_center"] = self.mapping.work_center_to_erp(payload["work_center"])
        if "uom" in payload:
            payload["uom"] = self.mapping.uom_to_erp(payload["uom"])
        if "material" in payload:
            payload["material"] = self.mapping.material_to_erp(payload["material"])
        return payload

    def deliver(self, message: OutboundMessage) -> DeliveryResult:
        """Send one message (see the module docstring); the result carries the exchanges."""
        return self.http.traced(lambda: self._deliver(message))

    def _deliver(self, message: OutboundMessage) -> DeliveryResult:
        body = json.dumps(
            {
                "kind": message.kind,
                "idempotency_key": message.idempotency_key,
                "erp_order_id": message.erp_order_id,
                "order_kind": message.order_kind,
                "payload": self.to_erp_payload(message),
            },
            sort_keys=True,
            default=str,
        ).encode()
        response = self._signed(
            "POST",
            self.mapping.get("messages_path", "/api/messages"),
            body=body,
            headers={
                "Idempotency-Key": message.idempotency_key,
                "X-MES-Message-Id": message.idempotency_key,
            },
            what=f"{message.kind} for order {message.erp_order_id}",
        )
        data = response.json()
        replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"
        return DeliveryResult(
            external_ref=str(data.get("id", "")),
            duplicate=replayed,
            detail="already accepted under this idempotency key" if replayed else "accepted",
        )

    def read_back(self, erp_order_id: str) -> dict[str, Any]:
        path = self.mapping.get("state_path", "/api/orders/{id}/state").format(id=erp_order_id)
        data = self._signed("GET", path, what=f"state of order {erp_order_id}").json()
        return {
            "status": data.get("status", ""),
            "confirmed_good": Decimal(str(data.get("confirmed_good", "0"))),
            "confirmed_scrap": Decimal(str(data.get("confirmed_scrap", "0"))),
            "goods_receipts": Decimal(str(data.get("goods_receipts", "0"))),
            "goods_issues": Decimal(str(data.get("goods_issues", "0"))),
            "idempotency_keys": set(data.get("idempotency_keys", [])),
            "operations": {
                str(number): {
                    **{
                        name: Decimal(str(op.get(name, "0")))
                        for name in ("good", "scrap", "labor_hours", "machine_hours")
                    },
                    "final": bool(op.get("final")),
                }
                for number, op in (data.get("operations") or {}).items()
            },
        }


register_adapter("rest", RestAdapter)
