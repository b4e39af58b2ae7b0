"""Oracle Fusion Cloud Manufacturing adapter (ADF REST: workOrders, operationTransactions,
materialTransactions).

credentials: {"username", "password"} (Basic over HTTPS; an OAuth bearer can be given as "token").
mapping (SiteMapping keys plus): plant (the OrganizationCode, e.g. "M1"), source_system ("MES":
a source system registered in Trading Community), source_system_type ("EXTERNAL"), page_size
(`limit`, default 25), subinventory / completion_subinventory, issue_type ("MATERIAL_ISSUE"),
return_type ("MATERIAL_RETURN": a goods-issue reversal), receipt_type ("PRODUCT_COMPLETION"), dff_yield ("mesYieldPercent"), dff_actual_yield
("mesActualYield"), dff_rejection ("mesRejectionReason").

Outbound: operation_confirmation → POST operationTransactions (good: READY→COMPLETE, scrap:
READY→SCRAP; labor and machine time are resource transactions, not sent in this version);
goods_issue / goods_receipt → POST materialTransactions; order_start → PATCH workOrders
ActualStartDate; order_completion → PATCH WorkOrderStatusCode=ORA_COMPLETED; batch_yield /
order_rejection → PATCH the WorkOrderDFF flexfield. PATCHes carry If-Match (412 → re-read once).

Per-row errors: Oracle answers 201 with `ErrorsExistFlag: "Y"` and a `MessageDetail` per row →
a non-retryable AdapterError with those messages.
Idempotency: Oracle offers no key; the MES key is sent as `SourceHeaderReference` and, on any
attempt but the first, `deliver()` first looks it up (`q=SourceSystemCode='MES';
SourceHeaderReference='…'`) and returns `duplicate=True` when found. Order-level PATCHes are
idempotent by state (already started / completed / holding the values → `duplicate=True`).
"""

from __future__ import annotations

import json
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

ROOT = "/fscmRestApi/resources/11.13.18.05/"
ITEM_TYPE = "application/vnd.oracle.adf.resourceitem+json"
STATUSES = {"ORA_RELEASED": "released", "ORA_UNRELEASED": "planned", "ORA_CANCELED": "cancelled"}


def oracle_error_detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    details = data.get("o:errorDetails") if isinstance(data, dict) else None
    if details:
        return "; ".join(
            f"{d.get('o:errorCode', '')}: {d.get('detail', '')}".strip(": ") for d in details
        )
    return str(data.get("detail") or data.get("title") or data)[:500]


def q_literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _number(value: Any) -> int | float:
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


def _iso(value: Any) -> str:
    if not value:
        return datetime.now(UTC).isoformat(timespec="seconds")
    return str(value).replace("Z", "+00:00")


class OracleAdapter:
    kind = "oracle"

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Mapping[str, str],
        mapping: Mapping[str, Any],
        timeout: float = 10.0,
    ) -> None:
        self.mapping = SiteMapping(mapping)
        headers = {"Accept": "application/json", "REST-Framework-Version": "4"}
        auth = None
        if credentials.get("token"):
            headers["Authorization"] = f"Bearer {credentials['token']}"
        else:
            auth = (credentials.get("username", ""), credentials.get("password", ""))
        self.http = ErpHttp(
            base_url=base_url,
            timeout=timeout,
            error_detail=oracle_error_detail,
            headers=headers,
            auth=auth,
            erp="Oracle",
        )
        self.organization = self.mapping.get("plant", "")
        self.source_system = self.mapping.get("source_system", "MES")
        self._ids: dict[str, str] = {}

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------ transport
    def _collect(
        self, resource: str, params: dict[str, Any], what: str
    ) -> Iterator[dict[str, Any]]:
        """Every item, page by page (`limit`/`offset` until `hasMore` is false)."""
        limit = int(self.mapping.get("page_size", 25))
        offset = 0
        while True:
            page = {**params, "limit": limit, "offset": offset, "onlyData": "true"}
            data = self.http.call("GET", f"{ROOT}{resource}", params=page, what=what).json()
            items = data.get("items", [])
            yield from items
            if not data.get("hasMore") or not items:
                return
            offset += len(items)

    def _write(
        self,
        method: str,
        path: str,
        body: dict[str, Any],
        *,
        what: str,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return self.http.call(
            method,
            f"{ROOT}{path}",
            content=json.dumps(body).encode(),
            headers={"Content-Type": ITEM_TYPE, **(headers or {})},
            what=what,
        )

    def _work_order(self, number: str) -> tuple[dict[str, Any], str]:
        """The work order (with operations) and its ETag, found by number."""
        work_order_id = self._ids.get(number)
        if not work_order_id:
            q = f"WorkOrderNumber={q_literal(number)}"
            if self.organization:
                q += f";OrganizationCode={q_literal(self.organization)}"
            found = list(
                self._collect(
                    "workOrders",
                    {"q": q, "fields": "WorkOrderId,WorkOrderNumber"},
                    f"work order {number}",
                )
            )
            if not found:
                raise AdapterError(
                    f"Oracle: work order {number} does not exist in {self.organization or 'any organization'}",
                    retryable=False,
                    status=404,
                )
            work_order_id = str(found[0]["WorkOrderId"])
            self._ids[number] = work_order_id
        response = self.http.call(
            "GET",
            f"{ROOT}workOrders/{work_order_id}",
            params={"expand": "WorkOrderOperation", "onlyData": "true"},
            what=f"work order {number}",
        )
        return response.json(), response.headers.get("ETag", "")

    # -------------------------------------------------------------- inbound
    def fetch_orders(self, *, since: datetime | None = None) -> Iterator[InboundOrder]:
        clauses = []
        if self.organization:
            clauses.append(f"OrganizationCode={q_literal(self.organization)}")
        if since:
            stamp = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
            clauses.append(f"LastUpdateDate>={q_literal(stamp.isoformat(timespec='milliseconds'))}")
        params = {"expand": "WorkOrderOperation", "orderBy": "WorkOrderNumber:asc"}
        if clauses:
            params["q"] = ";".join(clauses)
        for row in self._collect("workOrders", params, "work order list"):
            order = self.to_inbound(row)
            if order is not None:
                yield order

    def to_inbound(self, row: Mapping[str, Any]) -> InboundOrder | None:
        status = STATUSES.get(str(row.get("WorkOrderStatusCode", "")))
        if status is None:
            return None  # completed, closed, on hold: nothing for the shop floor to start
        process = row.get("WorkMethodCode") == "PROCESS_MANUFACTURING"
        ops = sorted(
            row.get("WorkOrderOperation") or [], key=lambda o: o.get("OperationSequenceNumber", 0)
        )
        expected = row.get("ExpectedYieldPercent")
        material = self.mapping.material_from_erp(str(row.get("ItemNumber", "")))

        def when(value: Any) -> datetime | None:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None

        return InboundOrder(
            erp_order_id=str(row["WorkOrderNumber"]),
            version=str(row.get("LastUpdateDate", "")),
            kind="process" if process else "discrete",
            material_code=material,
            quantity=Decimal(str(row.get("PlannedStartQuantity", 0))),
            uom=self.mapping.uom_from_erp(str(row.get("UOMCode", ""))),
            start=when(row.get("PlannedStartDate")),
            due=when(row.get("PlannedCompletionDate")),
            plant=str(row.get("OrganizationCode", "")),
            recipe_code=str(row.get("WorkDefinitionCode") or "") if process else "",
            work_center=self.mapping.work_center_from_erp(str(ops[0].get("WorkCenterCode", "")))
            if ops
            else "",
            expected_yield_pct=Decimal(str(expected)) if expected is not None else None,
            priority=int(row.get("WorkOrderPriority") or 0),
            status=status,
            raw=dict(row),
        )

    # ------------------------------------------------------------- outbound
    def deliver(self, message: OutboundMessage) -> DeliveryResult:
        """Send one message (see the module docstring); the result carries the exchanges."""
        return self.http.traced(lambda: self._deliver(message))

    def _deliver(self, message: OutboundMessage) -> DeliveryResult:
        handler = {
            ORDER_START: self._patch_order,
            ORDER_COMPLETION: self._patch_order,
            OPERATION_CONFIRMATION: self._operation_transaction,
            GOODS_ISSUE: self._material_transaction,
            GOODS_RECEIPT: self._material_transaction,
            BATCH_YIELD: self._patch_dff,
            ORDER_REJECTION: self._patch_dff,
        }.get(message.kind)
        if handler is None:
            raise AdapterError(
                f"Oracle adapter: unknown message kind {message.kind!r}", retryable=False
            )
        return handler(message)

    def _headers(self, message: OutboundMessage) -> dict[str, str]:
        return {"X-MES-Message-Id": message.idempotency_key}

    def _already_posted(self, resource: str, message: OutboundMessage) -> dict[str, Any] | None:
        if message.attempt == 1:
            return None
        q = f"SourceSystemCode={q_literal(self.source_system)};SourceHeaderReference={q_literal(message.idempotency_key)}"
        found = list(self._collect(resource, {"q": q}, f"{resource} read-back"))
        return found[0] if found else None

    @staticmethod
    def _row_errors(body: dict[str, Any], rows_key: str = "") -> str:
        rows = body.get(rows_key) or [] if rows_key else [body]
        messages = [str(r.get("MessageDetail")) for r in rows if r.get("MessageDetail")]
        return "; ".join(dict.fromkeys(messages))

    def _source(self, message: OutboundMessage) -> dict[str, Any]:
        return {
            "SourceSystemCode": self.source_system,
            "SourceSystemType": self.mapping.get("source_system_type", "EXTERNAL"),
            "SourceHeaderReference": message.idempotency_key,
        }

    def _operation_transaction(self, message: OutboundMessage) -> DeliveryResult:
        found = self._already_posted("operationTransactions", message)
        if found:
            return DeliveryResult(
                external_ref=str(found.get("TransactionHeaderId", "")),
                duplicate=True,
                detail="operation transaction already posted",
            )
        p = message.payload
        base = {
            "OrganizationCode": self.organization,
            "WorkOrderNumber": message.erp_order_id,
            "OperationSequenceNumber": int(p["operation"]),
            "FromDispatchState": "READY",
            "TransactionDate": _iso(p.get("posted_at")),
        }
        if p.get("uom"):
            base["TransactionUnitOfMeasure"] = self.mapping.uom_to_erp(p["uom"])
        rows = []
        for n, (to_state, field) in enumerate((("COMPLETE", "good"), ("SCRAP", "scrap")), start=1):
            if Decimal(str(p.get(field) or 0)) > 0:
                rows.append(
                    {
                        **base,
                        "ToDispatchState": to_state,
                        "TransactionQuantity": _number(p[field]),
                        "SourceLineReference": str(n),
                    }
                )
        if not rows:
            return DeliveryResult(
                detail="no quantity to move (labor/machine time are not sent to Oracle)",
                sent=False,
            )
        body = {**self._source(message), "OperationTransactionDetail": rows}
        data = self._write(
            "POST",
            "operationTransactions",
            body,
            headers=self._headers(message),
            what=f"operation transaction for {message.erp_order_id}/{p['operation']}",
        ).json()
        if data.get("ErrorsExistFlag") == "Y":
            raise AdapterError(
                f"Oracle operation transaction for {message.erp_order_id}/{p['operation']} refused: {self._row_errors(data, 'OperationTransactionDetail')}",
                retryable=False,
                status=201,
                body=json.dumps(data)[:4000],
            )
        return DeliveryResult(
            external_ref=str(data.get("TransactionHeaderId", "")),
            detail="operation transaction posted",
        )

    def _material_transaction(self, message: OutboundMessage) -> DeliveryResult:
        found = self._already_posted("materialTransactions", message)
        if found:
            return DeliveryResult(
                external_ref=str(found.get("InvTransactionId", "")),
                duplicate=True,
                detail="material transaction already posted",
            )
        p = message.payload
        receipt = message.kind == GOODS_RECEIPT
        if receipt:
            transaction_type = self.mapping.get("receipt_type", "PRODUCT_COMPLETION")
        elif is_reversal(message):  # material returned from the work order to stock
            transaction_type = self.mapping.get("return_type", "MATERIAL_RETURN")
        else:
            transaction_type = self.mapping.get("issue_type", "MATERIAL_ISSUE")
        body = {
            **self._source(message),
            "TransactionTypeCode": transaction_type,
            "OrganizationCode": self.organization,
            "WorkOrderNumber": message.erp_order_id,
            "ItemNumber": self.mapping.material_to_erp(p["material"]),
            "TransactionQuantity": _number(p["quantity"]),
            "TransactionUnitOfMeasure": self.mapping.uom_to_erp(p["uom"]),
            "SubinventoryCode": self.mapping.get(
                "completion_subinventory" if receipt else "subinventory", ""
            ),
            "LotNumber": str(p.get("lot", "")),
            "TransactionDate": _iso(p.get("posted_at")),
        }
        data = self._write(
            "POST",
            "materialTransactions",
            body,
            headers=self._headers(message),
            what=f"{message.kind} for {message.erp_order_id}",
        ).json()
        if data.get("ErrorsExistFlag") == "Y":
            raise AdapterError(
                f"Oracle {message.kind} for {message.erp_order_id} refused: {self._row_errors(data)}",
                retryable=False,
                status=201,
                body=json.dumps(data)[:4000],
            )
        return DeliveryResult(
            external_ref=str(data.get("InvTransactionId", "")), detail="material transaction posted"
        )

    def _patch(
        self, message: OutboundMessage, path_of: Any, current_of: Any, changes: dict[str, Any]
    ) -> DeliveryResult:
        for attempt in (1, 2):
            order, etag = self._work_order(message.erp_order_id)
            current = current_of(order)
            if all(current.get(k) == v for k, v in changes.items()):
                return DeliveryResult(
                    external_ref=str(order["WorkOrderId"]),
                    duplicate=True,
                    detail="work order already holds these values",
                )
            try:
                self._write(
                    "PATCH",
                    path_of(order),
                    changes,
                    headers={"If-Match": etag, **self._headers(message)},
                    what=f"{message.kind} on work order {message.erp_order_id}",
                )
            except AdapterError as exc:
                if exc.status == 412 and attempt == 1:
                    continue
                raise
            return DeliveryResult(
                external_ref=str(order["WorkOrderId"]), detail="work order updated"
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _patch_order(self, message: OutboundMessage) -> DeliveryResult:
        p = message.payload
        if message.kind == ORDER_START:
            order, _ = self._work_order(message.erp_order_id)
            if order.get("ActualStartDate"):
                return DeliveryResult(
                    external_ref=str(order["WorkOrderId"]),
                    duplicate=True,
                    detail="work order already started",
                )
            changes = {"ActualStartDate": _iso(p.get("started_at"))}
        else:
            order, _ = self._work_order(message.erp_order_id)
            if order.get("WorkOrderStatusCode") == "ORA_COMPLETED":
                return DeliveryResult(
                    external_ref=str(order["WorkOrderId"]),
                    duplicate=True,
                    detail="work order already completed",
                )
            changes = {
                "WorkOrderStatusCode": "ORA_COMPLETED",
                "ActualCompletionDate": _iso(p.get("completed_at")),
            }
        return self._patch(
            message, lambda o: f"workOrders/{o['WorkOrderId']}", lambda o: o, changes
        )

    def _patch_dff(self, message: OutboundMessage) -> DeliveryResult:
        p = message.payload
        if message.kind == BATCH_YIELD:
            changes = {
                self.mapping.get("dff_yield", "mesYieldPercent"): str(p["yield_pct"]),
                self.mapping.get("dff_actual_yield", "mesActualYield"): str(p["actual"]),
            }
        else:
            changes = {
                self.mapping.get(
                    "dff_rejection", "mesRejectionReason"
                ): f"v{p.get('version', '')}: {p['reason']}"[:240]
            }

        def dff(order: dict[str, Any]) -> dict[str, Any]:
            path = (
                f"{ROOT}workOrders/{order['WorkOrderId']}/child/WorkOrderDFF/{order['WorkOrderId']}"
            )
            return self.http.call(
                "GET", path, params={"onlyData": "true"}, what="work order flexfield"
            ).json()

        return self._patch(
            message,
            lambda o: f"workOrders/{o['WorkOrderId']}/child/WorkOrderDFF/{o['WorkOrderId']}",
            dff,
            changes,
        )

    # --------------------------------------------------------- reconciliation
    def read_back(self, erp_order_id: str) -> dict[str, Any]:
        order, _ = self._work_order(erp_order_id)
        ops = order.get("WorkOrderOperation") or []
        q = f"WorkOrderNumber={q_literal(erp_order_id)}"
        operations = list(
            self._collect("operationTransactions", {"q": q}, "operation transactions")
        )
        materials = list(self._collect("materialTransactions", {"q": q}, "material transactions"))

        def moved(*types: str) -> Decimal:
            return sum(
                (
                    Decimal(str(m["TransactionQuantity"]))
                    for m in materials
                    if m.get("TransactionTypeCode") in types
                ),
                Decimal(0),
            )

        status = {
            "ORA_COMPLETED": "completed",
            "ORA_CLOSED": "closed",
            "ORA_CANCELED": "cancelled",
            "ORA_UNRELEASED": "planned",
            "ORA_ON_HOLD": "on_hold",
        }.get(order.get("WorkOrderStatusCode", ""))
        if status is None:
            status = "started" if order.get("ActualStartDate") else "released"
        keys = {
            t["SourceHeaderReference"]
            for t in operations + materials
            if t.get("SourceSystemCode") == self.source_system and t.get("SourceHeaderReference")
        }
        return {
            "status": status,
            "confirmed_good": sum(
                (Decimal(str(o.get("CompletedQuantity", 0))) for o in ops), Decimal(0)
            ),
            "confirmed_scrap": sum(
                (Decimal(str(o.get("ScrappedQuantity", 0))) for o in ops), Decimal(0)
            ),
            "goods_receipts": moved("PRODUCT_COMPLETION") - moved("PRODUCT_RETURN"),
            "goods_issues": moved("MATERIAL_ISSUE") - moved("MATERIAL_RETURN"),
            "idempotency_keys": keys,
            "operations": {
                str(o["OperationSequenceNumber"]): {
                    "good": Decimal(str(o.get("CompletedQuantity", 0))),
                    "scrap": Decimal(str(o.get("ScrappedQuantity", 0))),
                    "ready": Decimal(str(o.get("ReadyQuantity", 0))),
                }
                for o in ops
            },
        }


register_adapter("oracle", OracleAdapter)
