"""Oracle Fusion Cloud Manufacturing adapter (ADF REST: workOrders, operationTransactions,
resourceTransactions, materialTransactions).

credentials: {"username", "password"} (Basic over HTTPS; an OAuth bearer can be given as "token").
mapping (SiteMapping keys plus): plant (the OrganizationCode, e.g. "M1"), source_system ("MES":
a source system registered in Trading Community), source_system_type ("EXTERNAL"), page_size
(`limit`, default 25), subinventory / completion_subinventory, issue_type ("MATERIAL_ISSUE"),
return_type ("MATERIAL_RETURN": a goods-issue reversal), receipt_type ("PRODUCT_COMPLETION"), dff_yield ("mesYieldPercent"), dff_actual_yield
("mesActualYield"), dff_rejection ("mesRejectionReason"), labor_resource ("LABOR") and
machine_resource ("MACHINE": the resource codes charged with labor and machine hours),
resources ({MES work-center code: {"labor": code, "machine": code}}: per work center, before
the two defaults), labor_resource_sequence / machine_resource_sequence (ResourceSequenceNumber,
sent only when given), hour_uom ("HR").

Outbound: operation_confirmation → POST operationTransactions (good: READY→COMPLETE, scrap:
READY→SCRAP) and POST resourceTransactions (one ResourceTransactionDetail row per kind of
time: labor hours on the labor resource, machine hours on the machine resource, in hour_uom);
a confirmation with neither quantity nor time posts nothing (`sent=False`);
goods_issue / goods_receipt → POST materialTransactions; order_start → PATCH workOrders
ActualStartDate; order_completion → PATCH WorkOrderStatusCode=ORA_COMPLETED; batch_yield /
order_rejection → PATCH the WorkOrderDFF flexfield. PATCHes carry If-Match (412 → re-read once).

Per-row errors: Oracle answers 201 with `ErrorsExistFlag: "Y"` and a `MessageDetail` per row →
a non-retryable AdapterError with those messages.
Idempotency: Oracle offers no key; the MES key is sent as `SourceHeaderReference` and, on any
attempt but the first, `deliver()` first looks it up (`q=SourceSystemCode='MES';
SourceHeaderReference='…'`) and returns `duplicate=True` when found. A confirmation's two
transactions are read back one by one (resource rows by their SourceLineReference: 1 labor,
2 machine) and only what is missing is posted: if the operation transaction went and the
resource transaction failed, the retry posts only the resource transaction (`duplicate=True`:
an earlier attempt was applied; `detail` says what was completed). Order-level PATCHes are
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
            OPERATION_CONFIRMATION: self._operation_confirmation,
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

    def _posted(self, resource: str, message: OutboundMessage) -> list[dict[str, Any]]:
        """What `resource` holds under this message's key; nothing is read on a first attempt."""
        if message.attempt == 1:
            return []
        q = f"SourceSystemCode={q_literal(self.source_system)};SourceHeaderReference={q_literal(message.idempotency_key)}"
        return list(self._collect(resource, {"q": q}, f"{resource} read-back"))

    def _already_posted(self, resource: str, message: OutboundMessage) -> dict[str, Any] | None:
        found = self._posted(resource, message)
        return found[0] if found else None

    def _post_transaction(
        self,
        resource: str,
        body: dict[str, Any],
        message: OutboundMessage,
        *,
        what: str,
        rows_key: str = "",
        note: str = "",
    ) -> dict[str, Any]:
        """POST one transaction; a 201 with `ErrorsExistFlag: Y` is a non-retryable error
        carrying the rows' messages (and `note`)."""
        data = self._write("POST", resource, body, headers=self._headers(message), what=what).json()
        if data.get("ErrorsExistFlag") == "Y":
            raise AdapterError(
                f"Oracle {what} refused: {self._row_errors(data, rows_key)}{note}",
                retryable=False,
                status=201,
                body=json.dumps(data)[:4000],
            )
        return data

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

    def _operation_confirmation(self, message: OutboundMessage) -> DeliveryResult:
        """Quantities as an operation transaction, then labor and machine time as a resource
        transaction; each is read back on a retry and posted only if Oracle lacks it."""
        moves, charges = self._operation_rows(message), self._resource_rows(message)
        if not moves and not charges:
            return DeliveryResult(detail="no quantity to move and no time to charge", sent=False)
        parts: list[tuple[str, bool, str]] = []  # (external ref, already posted, what)
        if moves:
            parts.append(self._operation_transaction(message, moves))
        if charges:
            note = " (the operation transaction is posted: a retry posts only the resource transaction)"
            parts.append(self._resource_transaction(message, charges, note=note if moves else ""))
        return DeliveryResult(
            external_ref=",".join(ref for ref, _, _ in parts if ref),
            duplicate=any(found for _, found, _ in parts),
            detail="; ".join(what for _, _, what in parts),
        )

    def _operation_rows(self, message: OutboundMessage) -> list[dict[str, Any]]:
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
        return rows

    def _operation_transaction(
        self, message: OutboundMessage, rows: list[dict[str, Any]]
    ) -> tuple[str, bool, str]:
        found = self._already_posted("operationTransactions", message)
        if found:
            return (
                str(found.get("TransactionHeaderId", "")),
                True,
                "operation transaction already posted",
            )
        body = {**self._source(message), "OperationTransactionDetail": rows}
        data = self._post_transaction(
            "operationTransactions",
            body,
            message,
            what=f"operation transaction for {message.erp_order_id}/{message.payload['operation']}",
            rows_key="OperationTransactionDetail",
        )
        return str(data.get("TransactionHeaderId", "")), False, "operation transaction posted"

    def _resource_code(self, kind: str, work_center: str) -> str:
        per_work_center = (self.mapping.get("resources") or {}).get(work_center) or {}
        return str(per_work_center.get(kind) or self.mapping.get(f"{kind}_resource", kind.upper()))

    def _resource_rows(self, message: OutboundMessage) -> list[dict[str, Any]]:
        """One ResourceTransactionDetail row per kind of time the confirmation carries."""
        p = message.payload
        rows = []
        for n, kind in enumerate(("labor", "machine"), start=1):
            hours = Decimal(str(p.get(f"{kind}_hours") or 0))
            if hours <= 0:
                continue
            row = {
                "OrganizationCode": self.organization,
                "WorkOrderNumber": message.erp_order_id,
                "OperationSequenceNumber": int(p["operation"]),
                "ResourceCode": self._resource_code(kind, str(p.get("work_center", ""))),
                "TransactionQuantity": _number(hours),
                "TransactionUnitOfMeasure": self.mapping.get("hour_uom", "HR"),
                "TransactionDate": _iso(p.get("posted_at")),
                "SourceHeaderReference": message.idempotency_key,
                "SourceLineReference": str(n),
            }
            sequence = self.mapping.get(f"{kind}_resource_sequence")
            if sequence:
                row["ResourceSequenceNumber"] = int(sequence)
            rows.append(row)
        return rows

    def _resource_transaction(
        self, message: OutboundMessage, rows: list[dict[str, Any]], *, note: str = ""
    ) -> tuple[str, bool, str]:
        """Only the rows Oracle does not hold yet (read back by key and SourceLineReference)."""
        held = {
            str(r.get("SourceLineReference")): r
            for r in self._posted("resourceTransactions", message)
        }
        missing = [r for r in rows if r["SourceLineReference"] not in held]
        if not missing:
            ref = next(iter(held.values())).get("TransactionHeaderId", "")
            return str(ref), True, "resource transaction already posted"
        body = {
            "SourceSystemCode": self.source_system,
            "SourceSystemType": self.mapping.get("source_system_type", "EXTERNAL"),
            "ResourceTransactionDetail": missing,
        }
        data = self._post_transaction(
            "resourceTransactions",
            body,
            message,
            what=f"resource transaction for {message.erp_order_id}/{message.payload['operation']}",
            rows_key="ResourceTransactionDetail",
            note=note,
        )
        charged = ", ".join(
            f"{r['ResourceCode']} {r['TransactionQuantity']} {r['TransactionUnitOfMeasure']}"
            for r in missing
        )
        return (
            str(data.get("TransactionHeaderId", "")),
            bool(held),
            f"resource transaction posted ({charged})",
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
        data = self._post_transaction(
            "materialTransactions", body, message, what=f"{message.kind} for {message.erp_order_id}"
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
        resources = [
            r
            for r in self._collect("resourceTransactions", {"q": q}, "resource transactions")
            if r.get("SourceSystemCode") == self.source_system
        ]

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
            for t in operations + materials + resources
            if t.get("SourceSystemCode") == self.source_system and t.get("SourceHeaderReference")
        }
        labor_codes = {self._resource_code("labor", "")} | {
            str(codes.get("labor"))
            for codes in (self.mapping.get("resources") or {}).values()
            if codes.get("labor")
        }

        def hours(op: dict[str, Any], labor: bool) -> Decimal:
            """The time the MES charged to the operation (labor or machine resources)."""
            return sum(
                (
                    Decimal(str(r["TransactionQuantity"]))
                    for r in resources
                    if str(r.get("OperationSequenceNumber")) == str(op["OperationSequenceNumber"])
                    and (r.get("ResourceCode") in labor_codes) == labor
                ),
                Decimal(0),
            )

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
                    "labor_hours": hours(o, labor=True),
                    "machine_hours": hours(o, labor=False),
                }
                for o in ops
            },
        }


register_adapter("oracle", OracleAdapter)
