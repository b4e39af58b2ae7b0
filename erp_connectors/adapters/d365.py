"""Dynamics 365 Supply Chain Management adapter: the MES integration `SendMessage` messages.

credentials: {"client_id", "client_secret", "tenant", "token_url" (default Microsoft Entra ID's
`https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`), "scope" (default
`<base_url>/.default`)}: OAuth2 client credentials; the token is cached and fetched again on 401.
mapping (SiteMapping keys plus): company ("USMF"), queue ("JmgMES3P"), key_field
("MESMessageId": the MES key is put into the message content under this name; "" = don't, then
duplicates are recognised by identical content), route_card_journal / picking_list_journal /
report_finished_journal (JournalNameId, optional), labor_cost_category / machine_cost_category
(route-card HoursRouteCostCategoryId), bom_consumption_rule ("Never": the MES reports picking
lists itself), route_consumption_rule ("Never"), end_job_on_receipt (false),
auto_report_as_finished ("No"), statuses (["Released"]: what fetch_orders pulls), page_size
(`Prefer: odata.maxpagesize`), processing_wait (seconds to wait for the processor's verdict
after SendMessage; 0 = "queued" counts as delivered and read_back reports failures).

Outbound: order_start → ProdProductionOrderStart; operation_confirmation →
ProdProductionOrderRouteCard (one line with quantities and labor hours, one with machine hours);
goods_issue → ProdProductionOrderPickingList (a goods-issue reversal, material returned to stock:
a line with a negative ConsumptionBOMQuantity); goods_receipt → ProdProductionOrderReportFinished;
order_completion → ProdProductionOrderEnd. batch_yield and order_rejection have no D365 MES
message: they are not sent (DeliveryResult.detail says so).

Idempotency: D365 has none (the same message twice is applied twice). The key travels in the
content; on any attempt but the first, `deliver()` first looks for it in the message
processor's log (`SysMessageProcessorMessages`, Queued or Processed) and returns
`duplicate=True` if found. A 200 from SendMessage only means "queued".
"""

from __future__ import annotations

import json
import time
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

SEND = "/api/services/SysMessageServices/SysMessageService/SendMessage"
ENUM = "Microsoft.Dynamics.DataEntities.ProdStatus"
MESSAGE_TYPES = {
    ORDER_START: "ProdProductionOrderStart",
    OPERATION_CONFIRMATION: "ProdProductionOrderRouteCard",
    GOODS_ISSUE: "ProdProductionOrderPickingList",
    GOODS_RECEIPT: "ProdProductionOrderReportFinished",
    ORDER_COMPLETION: "ProdProductionOrderEnd",
}
NOT_SENT = {
    BATCH_YIELD: "D365 has no MES message for batch yield (it follows from report as finished)",
    ORDER_REJECTION: "D365 has no MES message to refuse an order change",
}
STATUSES = {
    "Released": "released",
    "StartedUp": "started",
    "ReportedFinished": "reported_finished",
    "Ended": "completed",
}


def d365_error_detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return (
            response.text.strip()[:500]
            or response.headers.get("WWW-Authenticate", "")
            or response.reason_phrase
        )
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)
    if isinstance(error, str):
        return f"{error}: {data.get('error_description', '')}"
    return str(data.get("Message") or data)[:500]


def literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _num(value: Any) -> int | float:
    number = Decimal(str(value or 0))
    return int(number) if number == number.to_integral_value() else float(number)


def _stamp(value: Any) -> str:
    if not value:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _date(value: Any) -> str:
    return _stamp(value)[:10]


class D365Adapter:
    kind = "d365"

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Mapping[str, str],
        mapping: Mapping[str, Any],
        timeout: float = 10.0,
    ) -> None:
        self.mapping = SiteMapping(mapping)
        self.base_url = base_url.rstrip("/")
        self.credentials = dict(credentials)
        tenant = credentials.get("tenant", "common")
        self.token_url = (
            credentials.get("token_url")
            or f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
        )
        self.scope = credentials.get("scope") or f"{self.base_url}/.default"
        self.http = ErpHttp(
            base_url=base_url,
            timeout=timeout,
            error_detail=d365_error_detail,
            headers={"Accept": "application/json"},
            erp="D365",
        )
        self.token = ""
        self.token_expires = 0.0
        self.company = self.mapping.get("company", "USMF")
        self.queue = self.mapping.get("queue", "JmgMES3P")
        self.key_field = self.mapping.get("key_field", "MESMessageId")

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------ transport
    def _fetch_token(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.credentials.get("client_id", ""),
            "client_secret": self.credentials.get("client_secret", ""),
            "scope": self.scope,
        }
        response = self.http.call("POST", self.token_url, data=form, what="Entra ID token")
        data = response.json()
        self.token = data["access_token"]
        self.token_expires = time.monotonic() + float(data.get("expires_in", 3600)) - 60

    def _call(self, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
        for attempt in (1, 2):
            if not self.token or time.monotonic() > self.token_expires:
                self._fetch_token()
            headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
            response = self.http.send(method, url, headers=headers, **kwargs)
            if response.status_code == 401 and attempt == 1:
                self.token = ""  # expired or revoked: one more try with a fresh token
                kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
                continue
            self.http.raise_for(response, what)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _collect(self, entity: str, filter_: str, what: str) -> Iterator[dict[str, Any]]:
        """Every row, following `@odata.nextLink`."""
        params = {"cross-company": "true", "$filter": filter_}
        headers = {"Prefer": f"odata.maxpagesize={int(self.mapping.get('page_size', 1000))}"}
        response = self._call(
            "GET", f"/data/{entity}", params=params, headers=dict(headers), what=what
        )
        while True:
            data = response.json()
            yield from data.get("value", [])
            next_link = data.get("@odata.nextLink")
            if not next_link:
                return
            response = self._call("GET", next_link, headers=dict(headers), what=what)

    # -------------------------------------------------------------- inbound
    def fetch_orders(self, *, since: datetime | None = None) -> Iterator[InboundOrder]:
        """Released production/batch orders of the company (D365's header entity has no change
        stamp to filter on: `since` is ignored, `@odata.etag` is the version)."""
        area = literal(self.company.lower())
        statuses = " or ".join(
            f"ProductionOrderStatus eq {ENUM}'{s}'"
            for s in self.mapping.get("statuses", ["Released"])
        )
        headers = list(
            self._collect(
                "ProductionOrderHeaders",
                f"dataAreaId eq {area} and ({statuses})",
                "production order headers",
            )
        )
        first_ops: dict[str, dict[str, Any]] = {}
        if headers:
            for op in self._collect(
                "ProductionOrderRouteOperations", f"dataAreaId eq {area}", "route operations"
            ):
                number = op["ProductionOrderNumber"]
                if (
                    number not in first_ops
                    or op["OperationNumber"] < first_ops[number]["OperationNumber"]
                ):
                    first_ops[number] = op
        for row in headers:
            yield self.to_inbound(row, first_ops.get(row["ProductionOrderNumber"]))

    def to_inbound(
        self, row: Mapping[str, Any], first_op: Mapping[str, Any] | None
    ) -> InboundOrder:
        process = row.get("ProductionType") == "Process"
        status = {"Released": "released", "Canceled": "cancelled"}.get(
            str(row.get("ProductionOrderStatus")), "planned"
        )

        def when(value: Any) -> datetime | None:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None

        return InboundOrder(
            erp_order_id=str(row["ProductionOrderNumber"]),
            version=str(row.get("@odata.etag", "")),
            kind="process" if process else "discrete",
            material_code=self.mapping.material_from_erp(str(row.get("ItemNumber", ""))),
            quantity=Decimal(str(row.get("ScheduledQuantity", 0))),
            uom=self.mapping.uom_from_erp(str(row.get("ProductionUnitSymbol", ""))),
            start=when(row.get("ScheduledStartDate")),
            due=when(row.get("ScheduledEndDate")),
            plant=str(row.get("ProductionSiteId", "")),
            recipe_code=str(row.get("FormulaId") or "") if process else "",
            work_center=self.mapping.work_center_from_erp(
                str(first_op.get("OperationsResourceId", ""))
            )
            if first_op
            else "",
            priority=int(row.get("ProductionPriority") or 0),
            status=status,
            raw=dict(row),
        )

    # ------------------------------------------------------------- outbound
    def content(self, message: OutboundMessage) -> dict[str, Any]:
        p, m = message.payload, self.mapping
        number = message.erp_order_id
        if message.kind == ORDER_START:
            body: dict[str, Any] = {
                "ProductionOrderNumber": number,
                "StartedDate": _date(p.get("started_at")),
                "AutomaticBOMConsumptionRule": m.get("bom_consumption_rule", "Never"),
            }
        elif message.kind == OPERATION_CONFIRMATION:
            resource = m.work_center_to_erp(p.get("work_center", ""))
            line = {
                "OperationNumber": int(p["operation"]),
                "OperationPriority": "Primary",
                "OperationsResourceId": resource,
                "Hours": _num(p.get("labor_hours")),
                "GoodQuantity": _num(p.get("good")),
                "ErrorQuantity": _num(p.get("scrap")),
                "ConsumptionDate": _date(p.get("posted_at")),
                "OperationCompleted": "Yes" if p.get("final") else "No",
                "TaskType": "Process",
            }
            if m.get("labor_cost_category"):
                line["HoursRouteCostCategoryId"] = m.get("labor_cost_category")
            lines = [line]
            if Decimal(str(p.get("machine_hours") or 0)) > 0:
                machine = {
                    "OperationNumber": int(p["operation"]),
                    "OperationPriority": "Primary",
                    "OperationsResourceId": resource,
                    "Hours": _num(p.get("machine_hours")),
                    "GoodQuantity": 0,
                    "ErrorQuantity": 0,
                    "ConsumptionDate": _date(p.get("posted_at")),
                    "OperationCompleted": "No",
                    "TaskType": "Process",
                }
                if m.get("machine_cost_category"):
                    machine["HoursRouteCostCategoryId"] = m.get("machine_cost_category")
                lines.append(machine)
            body = {"ProductionOrderNumber": number, "RouteCardLines": lines}
            if m.get("route_card_journal"):
                body["JournalNameId"] = m.get("route_card_journal")
        elif message.kind == GOODS_ISSUE:
            body = {
                "ProductionOrderNumber": number,
                "PickingListLines": [
                    {
                        "ItemNumber": m.material_to_erp(p["material"]),
                        # a return to stock is a negative picking-list line
                        "ConsumptionBOMQuantity": _num(
                            -Decimal(str(p["quantity"])) if is_reversal(message) else p["quantity"]
                        ),
                        "BOMUnitSymbol": m.uom_to_erp(p["uom"]),
                        "ConsumptionDate": _date(p.get("posted_at")),
                        "ItemBatchNumber": str(p.get("lot", "")),
                        "IsConsumptionEnded": "No",
                    }
                ],
            }
            if m.get("picking_list_journal"):
                body["JournalNameId"] = m.get("picking_list_journal")
        elif message.kind == GOODS_RECEIPT:
            line = {
                "ItemNumber": m.material_to_erp(p["material"]),
                "ProductionType": "MainItem",
                "ReportedGoodQuantity": _num(p["quantity"]),
                "ReportedErrorQuantity": 0,
                "ReportAsFinishedDate": _date(p.get("posted_at")),
                "ItemBatchNumber": str(p.get("lot", "")),
                "EndJob": "Yes" if m.get("end_job_on_receipt") else "No",
                "AutomaticBOMConsumptionRule": m.get("bom_consumption_rule", "Never"),
                "AutomaticRouteConsumptionRule": m.get("route_consumption_rule", "Never"),
            }
            if m.get("report_finished_journal"):
                line["JournalNameId"] = m.get("report_finished_journal")
            body = {"ProductionOrderNumber": number, "ReportFinishedLines": [line]}
        else:  # ORDER_COMPLETION
            body = {
                "ProductionOrderNumber": number,
                "ExecutedDateTime": _stamp(p.get("completed_at")),
                "EndedDate": _date(p.get("completed_at")),
                "AutoReportAsFinished": m.get("auto_report_as_finished", "No"),
                "UseTimeAndAttendanceCost": "No",
                "AutoUpdate": "Yes",
            }
        if self.key_field:
            body[self.key_field] = message.idempotency_key
        return body

    def _logged(self, message: OutboundMessage, content: str) -> list[dict[str, Any]]:
        if self.key_field:
            pair = json.dumps({self.key_field: message.idempotency_key}, separators=(",", ":"))
            needle = pair[1:-1]  # '"MESMessageId":"<key>"' as it appears in the content
            match = f"contains(MessageContent,{literal(needle)})"
        else:
            match = f"MessageContent eq {literal(content)}"
        filter_ = f"MessageQueue eq {literal(self.queue)} and MessageType eq {literal(MESSAGE_TYPES[message.kind])} and {match}"
        return list(self._collect("SysMessageProcessorMessages", filter_, "message processor log"))

    def deliver(self, message: OutboundMessage) -> DeliveryResult:
        """Send one message (see the module docstring); the result carries the exchanges."""
        return self.http.traced(lambda: self._deliver(message))

    def _deliver(self, message: OutboundMessage) -> DeliveryResult:
        if message.kind in NOT_SENT:
            return DeliveryResult(detail=f"not sent: {NOT_SENT[message.kind]}", sent=False)
        if message.kind not in MESSAGE_TYPES:
            raise AdapterError(
                f"D365 adapter: unknown message kind {message.kind!r}", retryable=False
            )
        content = json.dumps(self.content(message), sort_keys=True, separators=(",", ":"))
        if message.attempt != 1:
            live = [
                m
                for m in self._logged(message, content)
                if m.get("MessageState") in {"Queued", "Processed"}
            ]
            if live:
                return DeliveryResult(
                    external_ref=str(live[0].get("MessageId", "")),
                    duplicate=True,
                    detail=f"already in the message processor ({live[0].get('MessageState')})",
                )
        envelope = {
            "_companyId": self.company,
            "_messageQueue": self.queue,
            "_messageType": MESSAGE_TYPES[message.kind],
            "_messageContent": content,
        }
        self._call(
            "POST",
            SEND,
            json=envelope,
            headers={"X-MES-Message-Id": message.idempotency_key},
            what=f"{MESSAGE_TYPES[message.kind]} for {message.erp_order_id}",
        )
        wait = float(self.mapping.get("processing_wait", 0) or 0)
        if wait <= 0:
            return DeliveryResult(detail="queued")
        return self._await_processing(message, content, wait)

    def _await_processing(
        self, message: OutboundMessage, content: str, wait: float
    ) -> DeliveryResult:
        deadline = time.monotonic() + wait
        while True:
            logged = self._logged(message, content)
            last = logged[-1] if logged else {}
            state = last.get("MessageState")
            if state == "Processed":
                return DeliveryResult(
                    external_ref=str(last.get("MessageId", "")), detail="processed"
                )
            if state == "Failed":
                raise AdapterError(
                    f"D365 {MESSAGE_TYPES[message.kind]} for {message.erp_order_id} failed: {last.get('MessageInfolog', '')}",
                    retryable=False,
                    body=json.dumps(last)[:4000],
                )
            if time.monotonic() > deadline:
                return DeliveryResult(
                    external_ref=str(last.get("MessageId", "")),
                    detail=f"queued, not processed within {wait}s",
                )
            time.sleep(0.05)

    # --------------------------------------------------------- reconciliation
    def read_back(self, erp_order_id: str) -> dict[str, Any]:
        url = f"/data/ProductionOrderHeaders(dataAreaId={literal(self.company.lower())},ProductionOrderNumber={literal(erp_order_id)})"
        header = self._call(
            "GET", url, params={"cross-company": "true"}, what=f"production order {erp_order_id}"
        ).json()
        needle = json.dumps({"ProductionOrderNumber": erp_order_id}, separators=(",", ":"))[1:-1]
        logged = list(
            self._collect(
                "SysMessageProcessorMessages",
                f"MessageQueue eq {literal(self.queue)} and contains(MessageContent,{literal(needle)})",
                "message processor log",
            )
        )
        totals = {
            "good": Decimal(0),
            "scrap": Decimal(0),
            "receipts": Decimal(0),
            "issues": Decimal(0),
        }
        keys, failed, queued = set(), [], 0
        for entry in logged:
            content = json.loads(entry.get("MessageContent") or "{}")
            state = entry.get("MessageState")
            if state == "Failed":
                failed.append(
                    {
                        "key": content.get(self.key_field, ""),
                        "type": entry.get("MessageType"),
                        "infolog": entry.get("MessageInfolog", ""),
                    }
                )
                continue
            if self.key_field and content.get(self.key_field) and state in {"Queued", "Processed"}:
                keys.add(content[self.key_field])
            if state != "Processed":
                queued += state == "Queued"
                continue
            for line in content.get("RouteCardLines", []):
                totals["good"] += Decimal(str(line.get("GoodQuantity", 0)))
                totals["scrap"] += Decimal(str(line.get("ErrorQuantity", 0)))
            for line in content.get("ReportFinishedLines", []):
                totals["receipts"] += Decimal(str(line.get("ReportedGoodQuantity", 0)))
            for line in content.get("PickingListLines", []):
                totals["issues"] += Decimal(str(line.get("ConsumptionBOMQuantity", 0)))
        status = str(header.get("ProductionOrderStatus", ""))
        return {
            "status": STATUSES.get(status, status.lower()),
            "confirmed_good": totals["good"],
            "confirmed_scrap": totals["scrap"],
            "goods_receipts": totals["receipts"],
            "goods_issues": totals["issues"],
            "idempotency_keys": keys,
            "failed_messages": failed,
            "queued_messages": queued,
        }


register_adapter("d365", D365Adapter)
