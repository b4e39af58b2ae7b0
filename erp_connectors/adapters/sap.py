"""SAP S/4HANA adapter: OData V2 production/process orders, confirmations, material documents.

credentials: {"username", "password"} (communication user, Basic auth; SAP_COM_0522/0104/0108).
mapping (SiteMapping keys plus):
    plant ("1010"), sap_client (on premise: sent as `sap-client`), storage_location ("0001"),
    order_sources (["production", "process"]), labor_unit / machine_unit ("H"),
    recipe_field ("YY1_MESRecipe_ORD"), yield_field ("YY1_MESYieldPct_ORD"),
    actual_yield_field ("YY1_MESActualYield_ORD"), rejection_field ("YY1_MESRejection_ORD")
    (key-user custom fields on the order), external_user ("MES"),
    retryable_codes (SAP message codes that may succeed later; default: order locked).

Outbound: order_start → function import `OrderReleasedByMES`; operation_confirmation → POST
`ProdnOrdConf2`/`ProcOrdConf2`; goods_issue / goods_receipt → POST `A_MaterialDocumentHeader`
(GoodsMovementCode 03/261, 02/101; a goods-issue reversal, material returned to stock: 03/262); batch_yield / order_rejection → PATCH of the order's custom
fields with If-Match; order_completion → `TechlyCmpltOrder` with If-Match.

Idempotency (SAP offers no idempotency header, and whether S/4HANA enforces a unique
`ExternalSystemConfirmation` is not verified): the adapter de-duplicates by reading back
before re-posting. The key goes into `ConfirmationText` (40 chars) and a GUID derived from it
into `ExternalSystemConfirmation`; for goods movements into `MaterialDocumentItemText` (50).
On any attempt but the first (`OutboundMessage.attempt != 1`), `deliver()` first queries
`...?$filter=OrderID eq '…' and ExternalSystemConfirmation eq guid'…'` (or the material document
items by text) and returns `duplicate=True` when the posting is already there. Order-level
actions are idempotent by state: "already released by MES" / "already technically completed" /
custom fields already holding the values → `duplicate=True`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from erp_connectors.adapters.base import (
    BATCH_YIELD,
    GOODS_ISSUE,
    GOODS_RECEIPT,
    OPERATION_CONFIRMATION,
    ORDER_COMPLETION,
    ORDER_REJECTION,
    ORDER_START,
    AdapterError,
    DeliveryResult,
    InboundOrder,
    OutboundMessage,
    is_reversal,
    register_adapter,
)
from erp_connectors.adapters.http import ErpHttp
from erp_connectors.adapters.mapping import SiteMapping
from erp_connectors.adapters.odata import (
    decimal_literal,
    from_datetime_literal,
    parse_iso,
    quote,
    to_datetime_literal,
    to_time_literal,
)

ROOT = "/sap/opu/odata/sap/"
SERVICES = {
    "discrete": {
        "orders": "API_PRODUCTION_ORDER_2_SRV",
        "set": "A_ProductionOrder_2",
        "nav": "to_ProductionOrderOperation",
        "conf": "API_PROD_ORDER_CONFIRMATION_2_SRV",
        "conf_set": "ProdnOrdConf2",
    },
    "process": {
        "orders": "API_PROCESS_ORDER_2_SRV",
        "set": "A_ProcessOrder_2",
        "nav": "to_ProcessOrderOperation",
        "conf": "API_PROC_ORDER_CONFIRMATION_2_SRV",
        "conf_set": "ProcOrdConf2",
    },
}
SOURCES = {"production": "discrete", "process": "process"}
MATDOC = "API_MATERIAL_DOCUMENT_SRV"
KEY_NAMESPACE = uuid.UUID("6f1c7a52-5a0e-4d55-9c1e-8f0b1e2f3a40")
ALREADY_MES_RELEASED = "CO/017"
ALREADY_TECO = "CO/018"
DEFAULT_RETRYABLE_CODES = ("CO/469",)  # order locked by another user


def sap_error_parts(response: httpx.Response) -> tuple[str, str]:
    """(code, readable text) from SAP's error body; plain text bodies pass through."""
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return "", response.text.strip()[:500] or response.reason_phrase
    code = str(error.get("code", ""))
    message = error.get("message")
    text = message.get("value", "") if isinstance(message, dict) else str(message or "")
    details = (error.get("innererror") or {}).get("errordetails") or []
    extra = [
        f"{d.get('code', '')} {d.get('message', '')}".strip()
        for d in details
        if d.get("message") and d.get("message") != text
    ]
    targets = [d.get("target") for d in details if d.get("target")]
    readable = f"{code}: {text}" if code else text
    if targets:
        readable += f" (field {', '.join(targets)})"
    if extra:
        readable += " [" + "; ".join(extra) + "]"
    return code, readable


def confirmation_guid(idempotency_key: str) -> str:
    return str(uuid.uuid5(KEY_NAMESPACE, idempotency_key))


class SapKeys(frozenset):
    """The MES keys SAP shows: `ConfirmationText` (40 characters) and
    `MaterialDocumentItemText` (50), so a longer key is cut. `key in SapKeys` also recognises
    a full MES key: a confirmation by the GUID derived from it (`ExternalSystemConfirmation`),
    a goods movement by its cut text. Order-level messages (start, yield, rejection,
    completion) change the order and leave no key in SAP: they count as present (their
    effect is checked by state, not by key)."""

    guids: frozenset[str]

    def __new__(cls, texts: set[str], guids: set[str]) -> SapKeys:
        keys = super().__new__(cls, texts)
        keys.guids = frozenset(guids)
        return keys

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        if frozenset.__contains__(self, key):
            return True
        if f":{OPERATION_CONFIRMATION}:" in key:
            return confirmation_guid(key) in self.guids
        if f":{GOODS_ISSUE}:" in key or f":{GOODS_RECEIPT}:" in key:
            return frozenset.__contains__(self, key[:50])
        return True


def _when(value: Any) -> datetime:
    if not value:
        return datetime.now(UTC)
    return value if isinstance(value, datetime) else parse_iso(str(value))


class SapAdapter:
    kind = "sap"

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Mapping[str, str],
        mapping: Mapping[str, Any],
        timeout: float = 10.0,
    ) -> None:
        self.mapping = SiteMapping(mapping)
        self.http = ErpHttp(
            base_url=base_url,
            timeout=timeout,
            error_detail=lambda r: sap_error_parts(r)[1],
            headers={"Accept": "application/json"},
            auth=(credentials.get("username", ""), credentials.get("password", "")),
            erp="SAP",
        )
        self.token = ""
        self.retryable_codes = set(self.mapping.get("retryable_codes") or DEFAULT_RETRYABLE_CODES)
        self.external_user = self.mapping.get("external_user", "MES")

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------ transport
    def _params(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        out = {"$format": "json", **(params or {})}
        if self.mapping.get("sap_client"):
            out["sap-client"] = self.mapping.get("sap_client")
        return out

    def _check(self, response: httpx.Response, what: str) -> httpx.Response:
        try:
            self.http.raise_for(response, what)
        except AdapterError as exc:
            code = sap_error_parts(response)[0]
            exc.sap_code = code  # type: ignore[attr-defined]
            if code in self.retryable_codes:
                exc.retryable = True
            raise
        return response

    def _get(
        self, url: str, params: Mapping[str, Any] | None = None, what: str = ""
    ) -> httpx.Response:
        return self._check(
            self.http.send("GET", url, params=self._params(params)), what or f"GET {url}"
        )

    def _fetch_token(self) -> None:
        service = SERVICES["discrete"]["orders"]
        response = self.http.send(
            "GET", f"{ROOT}{service}/", params=self._params(), headers={"x-csrf-token": "Fetch"}
        )
        self._check(response, "CSRF token fetch")
        self.token = response.headers.get("x-csrf-token", "")
        if not self.token:
            raise AdapterError(
                "SAP: no x-csrf-token in the answer to the token fetch", retryable=False
            )

    def _write(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """A modifying request with the CSRF token (fetched once, re-fetched once when refused)."""
        for attempt in (1, 2):
            if not self.token:
                self._fetch_token()
            headers = {"x-csrf-token": self.token, **kwargs.pop("headers", {})}
            response = self.http.send(
                method, url, params=self._params(params), headers=headers, **kwargs
            )
            if (
                response.status_code == 403
                and response.headers.get("x-csrf-token", "").lower() == "required"
            ):
                self.token = ""
                if attempt == 1:
                    kwargs["headers"] = {k: v for k, v in headers.items() if k != "x-csrf-token"}
                    continue
            return self._check(response, what)
        raise AssertionError("unreachable")  # pragma: no cover

    def _collect(self, url: str, params: Mapping[str, Any], what: str) -> Iterator[dict[str, Any]]:
        """Every row of a collection, following `__next` (server-driven paging)."""
        response = self._get(url, params, what)
        while True:
            data = response.json()["d"]
            yield from data.get("results", [])
            next_url = data.get("__next")
            if not next_url:
                return
            response = self._check(self.http.send("GET", next_url), what)

    # -------------------------------------------------------------- inbound
    def fetch_orders(self, *, since: datetime | None = None) -> Iterator[InboundOrder]:
        for source in self.mapping.get("order_sources", ["production", "process"]):
            kind = SOURCES[source]
            svc = SERVICES[kind]
            clauses = []
            if self.mapping.get("plant"):
                clauses.append(f"ProductionPlant eq {quote(self.mapping.get('plant'))}")
            if since:
                stamp = since.astimezone(UTC) if since.tzinfo else since
                clauses.append(f"LastChangeDateTime ge {quote(f'{stamp:%Y%m%d%H%M%S}')}")
            params = {"$expand": svc["nav"], "$orderby": "ManufacturingOrder"}
            if clauses:
                params["$filter"] = " and ".join(clauses)
            url = f"{ROOT}{svc['orders']}/{svc['set']}"
            for row in self._collect(url, params, f"{svc['set']} list"):
                order = self.to_inbound(row, kind, svc["nav"])
                if order is not None:
                    yield order

    def to_inbound(self, row: Mapping[str, Any], kind: str, nav: str) -> InboundOrder | None:
        if row.get("OrderIsTechnicallyCompleted") == "X" or row.get("OrderIsClosed") == "X":
            return None  # no longer actionable on the shop floor
        if row.get("OrderIsMarkedForDeletion") == "X" or row.get("OrderIsDeleted") == "X":
            status = "cancelled"
        elif row.get("OrderIsReleased") == "X":
            status = "released"
        else:
            status = "planned"
        ops = (row.get(nav) or {}).get("results") or []
        material = self.mapping.material_from_erp(str(row.get("Material", "")))
        recipe = row.get(self.mapping.get("recipe_field", "YY1_MESRecipe_ORD")) or (
            self.mapping.get("recipes") or {}
        ).get(material, material if kind == "process" else "")
        expected = row.get(self.mapping.get("expected_yield_field", "YY1_MESExpectedYield_ORD"))
        importance = str(row.get("ManufacturingOrderImportance") or "0")
        return InboundOrder(
            erp_order_id=str(row["ManufacturingOrder"]),
            version=str(row.get("LastChangeDateTime", "")),
            kind=kind,
            material_code=material,
            quantity=Decimal(str(row.get("TotalQuantity", "0"))),
            uom=self.mapping.uom_from_erp(str(row.get("ProductionUnit", ""))),
            start=from_datetime_literal(row.get("MfgOrderPlannedStartDate")),
            due=from_datetime_literal(row.get("MfgOrderPlannedEndDate")),
            plant=str(row.get("ProductionPlant", "")),
            recipe_code=str(recipe or ""),
            work_center=self.mapping.work_center_from_erp(str(ops[0].get("WorkCenter", "")))
            if ops
            else "",
            expected_yield_pct=Decimal(expected) if expected else None,
            priority=int(importance) if importance.isdigit() else 0,
            status=status,
            raw={k: v for k, v in row.items() if k != "__metadata"},
        )

    # ------------------------------------------------------------- outbound
    def deliver(self, message: OutboundMessage) -> DeliveryResult:
        """Send one message (see the module docstring); the result carries the exchanges."""
        return self.http.traced(lambda: self._deliver(message))

    def _deliver(self, message: OutboundMessage) -> DeliveryResult:
        svc = SERVICES["process" if message.order_kind == "process" else "discrete"]
        handler = {
            ORDER_START: self._order_start,
            OPERATION_CONFIRMATION: self._confirm,
            GOODS_ISSUE: self._goods_movement,
            GOODS_RECEIPT: self._goods_movement,
            BATCH_YIELD: self._patch_fields,
            ORDER_REJECTION: self._patch_fields,
            ORDER_COMPLETION: self._complete,
        }.get(message.kind)
        if handler is None:
            raise AdapterError(
                f"SAP adapter: unknown message kind {message.kind!r}", retryable=False
            )
        return handler(message, svc)

    def _headers(self, message: OutboundMessage) -> dict[str, str]:
        return {"X-MES-Message-Id": message.idempotency_key}

    def _order_start(self, message: OutboundMessage, svc: dict[str, str]) -> DeliveryResult:
        try:
            self._write(
                "POST",
                f"{ROOT}{svc['orders']}/OrderReleasedByMES",
                params={"ManufacturingOrder": quote(message.erp_order_id)},
                headers=self._headers(message),
                what=f"order start (OrderReleasedByMES) of {message.erp_order_id}",
            )
        except AdapterError as exc:
            if getattr(exc, "sap_code", "") == ALREADY_MES_RELEASED:
                return DeliveryResult(
                    external_ref=message.erp_order_id, duplicate=True, detail=exc.detail
                )
            raise
        return DeliveryResult(external_ref=message.erp_order_id, detail="released by MES")

    def _order(self, svc: dict[str, str], number: str) -> tuple[dict[str, Any], str]:
        response = self._get(
            f"{ROOT}{svc['orders']}/{svc['set']}({quote(number)})", what=f"order {number}"
        )
        entity = response.json()["d"]
        return entity, response.headers.get("ETag") or entity["__metadata"].get("etag", "")

    def _complete(self, message: OutboundMessage, svc: dict[str, str]) -> DeliveryResult:
        for attempt in (1, 2):
            order, etag = self._order(svc, message.erp_order_id)
            if order.get("OrderIsTechnicallyCompleted") == "X":
                return DeliveryResult(
                    external_ref=message.erp_order_id,
                    duplicate=True,
                    detail="already technically completed",
                )
            try:
                self._write(
                    "POST",
                    f"{ROOT}{svc['orders']}/TechlyCmpltOrder",
                    params={"ManufacturingOrder": quote(message.erp_order_id)},
                    headers={"If-Match": etag, **self._headers(message)},
                    what=f"completion (TechlyCmpltOrder) of {message.erp_order_id}",
                )
            except AdapterError as exc:
                if getattr(exc, "sap_code", "") == ALREADY_TECO:
                    return DeliveryResult(
                        external_ref=message.erp_order_id, duplicate=True, detail=exc.detail
                    )
                if exc.status == 412 and attempt == 1:
                    continue  # changed meanwhile: read the new ETag, try once more
                raise
            return DeliveryResult(external_ref=message.erp_order_id, detail="technically completed")
        raise AssertionError("unreachable")  # pragma: no cover

    def _patch_fields(self, message: OutboundMessage, svc: dict[str, str]) -> DeliveryResult:
        p = message.payload
        if message.kind == BATCH_YIELD:
            fields = {
                self.mapping.get("yield_field", "YY1_MESYieldPct_ORD"): decimal_literal(
                    p["yield_pct"], 2
                ),
                self.mapping.get("actual_yield_field", "YY1_MESActualYield_ORD"): decimal_literal(
                    p["actual"]
                ),
            }
        else:
            text = f"v{p.get('version', '')}: {p['reason']}"[:255]
            fields = {self.mapping.get("rejection_field", "YY1_MESRejection_ORD"): text}
        url = f"{ROOT}{svc['orders']}/{svc['set']}({quote(message.erp_order_id)})"
        for attempt in (1, 2):
            order, etag = self._order(svc, message.erp_order_id)
            if all(order.get(k) == v for k, v in fields.items()):
                return DeliveryResult(
                    external_ref=message.erp_order_id,
                    duplicate=True,
                    detail="order already holds these values",
                )
            try:
                self._write(
                    "PATCH",
                    url,
                    json=fields,
                    headers={"If-Match": etag, **self._headers(message)},
                    what=f"{message.kind} on order {message.erp_order_id}",
                )
            except AdapterError as exc:
                if exc.status == 412 and attempt == 1:
                    continue
                raise
            return DeliveryResult(external_ref=message.erp_order_id, detail="order updated")
        raise AssertionError("unreachable")  # pragma: no cover

    def _confirm(self, message: OutboundMessage, svc: dict[str, str]) -> DeliveryResult:
        guid = confirmation_guid(message.idempotency_key)
        url = f"{ROOT}{svc['conf']}/{svc['conf_set']}"
        if message.attempt != 1:
            found = list(
                self._collect(
                    url,
                    {
                        "$filter": f"OrderID eq {quote(message.erp_order_id)} and ExternalSystemConfirmation eq guid'{guid}'"
                    },
                    "confirmation read-back",
                )
            )
            if found:
                ref = f"{found[0]['ConfirmationGroup']}/{found[0]['ConfirmationCount']}"
                return DeliveryResult(
                    external_ref=ref, duplicate=True, detail="confirmation already posted"
                )
        p = message.payload
        when = _when(p.get("posted_at"))
        body = {
            "OrderID": message.erp_order_id,
            "Sequence": "0",
            "OrderOperation": str(p["operation"]),
            "WorkCenter": self.mapping.work_center_to_erp(p.get("work_center", "")),
            "Plant": self.mapping.get("plant", ""),
            "ConfirmationYieldQuantity": decimal_literal(p.get("good", 0)),
            "ConfirmationScrapQuantity": decimal_literal(p.get("scrap", 0)),
            "ConfirmationReworkQuantity": decimal_literal(p.get("rework", 0)),
            "FinalConfirmationType": "X" if p.get("final") else "",
            "PostingDate": to_datetime_literal(when.date()),
            "ConfirmedExecutionEndDate": to_datetime_literal(when.date()),
            "ConfirmedExecutionEndTime": to_time_literal(when.astimezone(UTC)),
            "OpConfirmedWorkQuantity1": decimal_literal(p.get("labor_hours", 0)),
            "OpWorkQuantityUnit1": self.mapping.get("labor_unit", "H"),
            "OpConfirmedWorkQuantity2": decimal_literal(p.get("machine_hours", 0)),
            "OpWorkQuantityUnit2": self.mapping.get("machine_unit", "H"),
            "ExternalSystemConfirmation": guid,
            "ConfirmationText": message.idempotency_key[:40],
            "EnteredByExternalUser": self.external_user,
        }
        if p.get("uom"):
            body["ConfirmationUnit"] = self.mapping.uom_to_erp(p["uom"])
        response = self._write(
            "POST",
            url,
            json=body,
            headers=self._headers(message),
            what=f"confirmation of {message.erp_order_id}/{p['operation']}",
        )
        d = response.json()["d"]
        return DeliveryResult(
            external_ref=f"{d['ConfirmationGroup']}/{d['ConfirmationCount']}",
            detail="confirmation posted",
        )

    def _goods_movement(self, message: OutboundMessage, svc: dict[str, str]) -> DeliveryResult:
        receipt = message.kind == GOODS_RECEIPT
        # 262 reverses 261 (material returned from the order to stock)
        movement = "101" if receipt else "262" if is_reversal(message) else "261"
        key_text = message.idempotency_key[:50]
        if message.attempt != 1:
            found = list(
                self._collect(
                    f"{ROOT}{MATDOC}/A_MaterialDocumentItem",
                    {
                        "$filter": f"ManufacturingOrder eq {quote(message.erp_order_id)} and MaterialDocumentItemText eq {quote(key_text)}"
                    },
                    "goods movement read-back",
                )
            )
            if found:
                ref = f"{found[0]['MaterialDocument']}/{found[0]['MaterialDocumentYear']}"
                return DeliveryResult(
                    external_ref=ref, duplicate=True, detail="goods movement already posted"
                )
        p = message.payload
        when = _when(p.get("posted_at"))
        body = {
            "GoodsMovementCode": "02" if receipt else "03",
            "PostingDate": to_datetime_literal(when.date()),
            "DocumentDate": to_datetime_literal(when.date()),
            "to_MaterialDocumentItem": {
                "results": [
                    {
                        "Material": self.mapping.material_to_erp(p["material"]),
                        "Plant": self.mapping.get("plant", ""),
                        "StorageLocation": self.mapping.get("storage_location", ""),
                        "Batch": str(p.get("lot", "")),
                        "GoodsMovementType": movement,
                        "ManufacturingOrder": message.erp_order_id,
                        "EntryUnit": self.mapping.uom_to_erp(p["uom"]),
                        "QuantityInEntryUnit": decimal_literal(p["quantity"]),
                        "MaterialDocumentItemText": key_text,
                    }
                ]
            },
        }
        response = self._write(
            "POST",
            f"{ROOT}{MATDOC}/A_MaterialDocumentHeader",
            json=body,
            headers=self._headers(message),
            what=f"{message.kind} for {message.erp_order_id}",
        )
        d = response.json()["d"]
        return DeliveryResult(
            external_ref=f"{d['MaterialDocument']}/{d['MaterialDocumentYear']}",
            detail="material document posted",
        )

    # --------------------------------------------------------- reconciliation
    def read_back(self, erp_order_id: str) -> dict[str, Any]:
        order = svc = None
        for kind in ("discrete", "process"):
            try:
                order, _ = self._order(SERVICES[kind], erp_order_id)
                svc = SERVICES[kind]
                break
            except AdapterError as exc:
                if exc.status != 404:
                    raise
        if order is None or svc is None:
            raise AdapterError(
                f"SAP: order {erp_order_id} does not exist", retryable=False, status=404
            )
        confirmations = list(
            self._collect(
                f"{ROOT}{svc['conf']}/{svc['conf_set']}",
                {"$filter": f"OrderID eq {quote(erp_order_id)}"},
                "confirmations",
            )
        )
        items = list(
            self._collect(
                f"{ROOT}{MATDOC}/A_MaterialDocumentItem",
                {"$filter": f"ManufacturingOrder eq {quote(erp_order_id)}"},
                "material document items",
            )
        )
        live = [c for c in confirmations if not c.get("IsReversed") and not c.get("IsReversal")]
        operations: dict[str, dict[str, Any]] = {}
        for c in live:
            op = operations.setdefault(
                c["OrderOperation"],
                {
                    "good": Decimal(0),
                    "scrap": Decimal(0),
                    "labor_hours": Decimal(0),
                    "machine_hours": Decimal(0),
                    "final": False,
                },
            )
            op["good"] += Decimal(c["ConfirmationYieldQuantity"])
            op["scrap"] += Decimal(c["ConfirmationScrapQuantity"])
            # the activities as the adapter posts them: 1 = labor, 2 = machine (hours)
            op["labor_hours"] += Decimal(c.get("OpConfirmedWorkQuantity1") or "0")
            op["machine_hours"] += Decimal(c.get("OpConfirmedWorkQuantity2") or "0")
            op["final"] = op["final"] or c.get("FinalConfirmationType") == "X"
        keys = {
            c["ConfirmationText"]
            for c in live
            if c.get("EnteredByExternalUser") == self.external_user and c.get("ConfirmationText")
        }
        keys |= {i["MaterialDocumentItemText"] for i in items if i.get("MaterialDocumentItemText")}
        guids = {
            str(c.get("ExternalSystemConfirmation") or "").lower()
            for c in live
            if c.get("EnteredByExternalUser") == self.external_user
        }

        def moved(*types: str) -> Decimal:
            return sum(
                (
                    Decimal(i["QuantityInEntryUnit"])
                    for i in items
                    if i["GoodsMovementType"] in types
                ),
                Decimal(0),
            )

        if order.get("OrderIsMarkedForDeletion") == "X":
            status = "cancelled"
        elif order.get("OrderIsTechnicallyCompleted") == "X":
            status = "completed"
        elif order.get("OrderIsConfirmed") == "X":
            status = "confirmed"
        elif order.get("OrderIsPartiallyConfirmed") == "X":
            status = "partially_confirmed"
        else:
            status = "released" if order.get("OrderIsReleased") == "X" else "created"
        return {
            "status": status,
            "confirmed_good": sum((o["good"] for o in operations.values()), Decimal(0)),
            "confirmed_scrap": sum((o["scrap"] for o in operations.values()), Decimal(0)),
            "goods_receipts": moved("101", "531") - moved("102"),
            "goods_issues": moved("261") - moved("262"),
            "idempotency_keys": SapKeys(keys, guids),
            "operations": operations,
            "order_confirmed_yield": Decimal(str(order.get("MfgOrderConfirmedYieldQty", "0"))),
        }


register_adapter("sap", SapAdapter)
