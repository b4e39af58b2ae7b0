"""Dynamics 365 Supply Chain Management simulator: the MES integration message processor.

(Reference §4.2.)
- `POST /<tenant>/oauth2/v2.0/token` (client credentials, stands in for Microsoft Entra ID) →
  `{"token_type": "Bearer", "access_token", "expires_in"}`; every other call needs that bearer
  token (401 + `WWW-Authenticate: Bearer` otherwise, or once it expired: `token_ttl`).
- `POST /api/services/SysMessageServices/SysMessageService/SendMessage`
  {"_companyId", "_messageQueue": "JmgMES3P", "_messageType", "_messageContent": JSON *string*}
  → 200 at once (queued). A nested object as `_messageContent`, an unknown company, queue or
  message type → 400. Types: ProdProductionOrderStart, ProdProductionOrderReportFinished,
  ProdProductionOrderPickingList, ProdProductionOrderRouteCard, ProdProductionOrderEnd.
- A background processor applies queued messages in arrival order (so per production order
  FIFO), `process_delay` seconds after receipt; a failing message is tried 3 times, then
  Failed with its Infolog. Validation: unknown order, wrong status (Released → StartedUp →
  ReportedFinished → Ended), mandatory field missing, negative quantity (except a picking-list
  line's ConsumptionBOMQuantity: a negative one returns to stock at most what the order picked
  of that item and batch), bad enum value
  (`"EndJob": "true"` instead of "Yes"), a Failed message of the same type for the order.
  `transient_failures: n` makes the next n attempts fail ("deadlock"), to show the retries.
- With `business_events_url`, each Processed/Failed message is POSTed there as the "Message
  processor message processed" business event (MessageState, MessageInfolog, MessageContent ...).
- OData v4 under `/data/`: `ProductionOrderHeaders` (`$filter` with enum literals,
  `cross-company=true`, `Prefer: odata.maxpagesize=N` → `@odata.nextLink`, `@odata.etag`),
  `ProductionOrderRouteOperations`, and `SysMessageProcessorMessages`: the processor's message
  log (MessageId, MessageQueue, MessageType, MessageContent, MessageState, MessageInfolog) —
  in a real environment a custom data entity over the log or the "Message processor message
  processed" business event (which carries MessageContent) gives the same information.
No idempotency: the same message sent twice is applied twice.
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.request
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode

from erp_connectors.simulators.base import (
    Request,
    Response,
    Simulator,
    json_response,
    seed_defaults,
)
from erp_connectors.simulators.odata_filter import FilterError, compile_filter

SEND = "/api/services/SysMessageServices/SysMessageService/SendMessage"
TYPES = {
    "ProdProductionOrderStart",
    "ProdProductionOrderReportFinished",
    "ProdProductionOrderPickingList",
    "ProdProductionOrderRouteCard",
    "ProdProductionOrderEnd",
}
ENUM_PREFIX = "Microsoft.Dynamics.DataEntities."
NOYES = {"Yes", "No"}


class Infolog(Exception):
    """A processing failure: the text goes to the message's Infolog."""


def _qty(line: dict[str, Any], name: str, *, signed: bool = False) -> Decimal:
    value = line.get(name, 0)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise Infolog(f"Field {name}: '{value}' is not a number.") from None
    if number < 0 and not signed:
        raise Infolog(f"Field {name}: the quantity can't be negative.")
    return number


def _noyes(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "No")
    if value not in NOYES:
        raise Infolog(f"Value '{value}' is not valid for field {name} (enum NoYes: Yes, No).")
    return value


class D365Simulator(Simulator):
    kind = "d365"
    defaults = {
        "client_id": "mes-client",
        "client_secret": "sim-secret",
        "companies": ["USMF"],
        "queues": ["JmgMES3P"],
        "token_ttl": 3600,
        "process_delay": 0.0,
        "process_interval": 0.01,
        "paused": False,
        "transient_failures": 0,
        "max_attempts": 3,
        "page_size": 10000,
        "business_events_url": "",  # where "message processed" business events are POSTed
    }

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.processor = threading.Thread(
            target=self._process_loop, daemon=True, name="d365-processor"
        )
        self.processor.start()

    def reset_erp(self) -> None:
        self.orders: dict[tuple[str, str], dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.tokens: dict[str, float] = {}
        self.etags = 0
        self.business_events: list[dict[str, Any]] = []

    def erp_state(self) -> dict[str, Any]:
        return {
            "orders": {f"{c}/{n}": o for (c, n), o in self.orders.items()},
            "messages": self.messages,
            "business_events": self.business_events,
        }

    def _etag(self, order: dict[str, Any]) -> None:
        self.etags += 1
        order["@odata.etag"] = f'W/"{self.etags:012d}"'

    def seed_order(self, order: dict[str, Any]) -> dict[str, Any]:
        spec = seed_defaults(order)
        company = str(spec.get("company") or self.config["companies"][0]).lower()
        key = (company, spec["id"])
        row = self.orders.get(key) or {"_totals": {"started": Decimal(0), "finished": Decimal(0)}}
        status = {"released": "Released", "planned": "Scheduled", "cancelled": "Canceled"}.get(
            spec["status"], "Released"
        )
        row.update(
            {
                "dataAreaId": company,
                "ProductionOrderNumber": spec["id"],
                "ProductionOrderName": spec.get("name") or spec["material"],
                "ItemNumber": spec["material"],
                "ProductionOrderStatus": row.get("ProductionOrderStatus")
                if row.get("ProductionOrderStatus") in {"StartedUp", "ReportedFinished", "Ended"}
                else status,
                "ProductionType": "Process" if spec["kind"] == "process" else "Standard",
                "ScheduledQuantity": float(Decimal(spec["quantity"])),
                "ProductionUnitSymbol": spec["uom"],
                "ScheduledStartDate": f"{spec['start']}T00:00:00Z"
                if "T" not in spec["start"]
                else spec["start"],
                "ScheduledEndDate": f"{spec['due']}T00:00:00Z"
                if "T" not in spec["due"]
                else spec["due"],
                "ProductionSiteId": spec["plant"],
                "ProductionWarehouseId": spec.get("warehouse", "11"),
                "FormulaId": spec.get("recipe") or "",
                "ProductionPriority": int(spec.get("priority") or 0),
                "_ops": [
                    {
                        "dataAreaId": company,
                        "ProductionOrderNumber": spec["id"],
                        "OperationNumber": int(op["operation"]),
                        "OperationId": op.get("text", f"OP{op['operation']}"),
                        "OperationsResourceId": op.get("work_center", ""),
                        "OperationPriority": "Primary",
                    }
                    for op in spec["operations"]
                ],
            }
        )
        self._etag(row)
        self.orders[key] = row
        return {"id": spec["id"], "version": row["@odata.etag"]}

    # -------------------------------------------------------------- protocol
    def error_response(self, status: int, message: str, code: str = "") -> Response:
        return json_response(
            status,
            {
                "error": {
                    "code": code,
                    "message": message,
                    "innererror": {
                        "message": message,
                        "type": "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataException",
                    },
                }
            },
        )

    def unauthorized(self, request: Request) -> Response | None:
        header = request.header("authorization")
        token = header[7:] if header.startswith("Bearer ") else ""
        expiry = self.tokens.get(token)
        if expiry is not None and expiry > self.clock():
            return None
        reason = "token expired" if expiry is not None else "no valid bearer token"
        return Response(
            status=401,
            headers=[
                ("WWW-Authenticate", f'Bearer error="invalid_token", error_description="{reason}"')
            ],
        )

    def pre_commit_fault(self, fault: dict[str, Any], request: Request) -> Response:
        if fault["kind"] == "expire_token":
            with self.lock:
                self.tokens = dict.fromkeys(self.tokens, 0.0)
            return self.unauthorized(request) or Response(status=401)
        return super().pre_commit_fault(fault, request)

    def route(self, request: Request) -> Response:
        with self.lock:
            if request.method == "POST" and request.path.endswith("/oauth2/v2.0/token"):
                return self.issue_token(request)
            refused = self.unauthorized(request)
            if refused:
                return refused
            if request.path == SEND and request.method == "POST":
                return self.send_message(request)
            if request.path.startswith("/data/") and request.method == "GET":
                try:
                    return self.odata(request, request.path[len("/data/") :])
                except FilterError as exc:
                    return self.error_response(
                        400, f"The query specified in the URI is not valid. {exc}"
                    )
            return self.error_response(
                404, f"No HTTP resource was found that matches the request URI '{request.path}'."
            )

    def issue_token(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode()))
        if form.get("grant_type") != "client_credentials":
            return json_response(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "AADSTS70003: app requested an unsupported grant type",
                },
            )
        if (
            form.get("client_id") != self.config["client_id"]
            or form.get("client_secret") != self.config["client_secret"]
        ):
            return json_response(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                },
            )
        if not str(form.get("scope", "")).endswith("/.default"):
            return json_response(
                400,
                {
                    "error": "invalid_scope",
                    "error_description": "AADSTS70011: The provided value for scope is not valid.",
                },
            )
        token = secrets.token_urlsafe(32)
        ttl = int(self.config["token_ttl"])
        self.tokens[token] = self.clock() + ttl
        return json_response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": ttl,
                "ext_expires_in": ttl,
                "access_token": token,
            },
        )

    def send_message(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return self.error_response(400, "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return self.error_response(400, "The request body must be a JSON object.")
        missing = [
            k
            for k in ("_companyId", "_messageQueue", "_messageType", "_messageContent")
            if k not in body
        ]
        if missing:
            return self.error_response(
                400, f"Parameter(s) {', '.join(missing)} missing for SendMessage."
            )
        if not isinstance(body["_messageContent"], str):
            return self.error_response(
                400,
                "An exception occured when deserializing a parameters - Exception occurred when parsing and deserializing parameter '_messageContent' - 'Parameter '_messageContent' must be a string.'",
            )
        if str(body["_companyId"]).upper() not in [c.upper() for c in self.config["companies"]]:
            return self.error_response(400, f"Company '{body['_companyId']}' does not exist.")
        if body["_messageQueue"] not in self.config["queues"]:
            return self.error_response(
                400, f"Message queue '{body['_messageQueue']}' does not exist."
            )
        if body["_messageType"] not in TYPES:
            return self.error_response(
                400,
                f"Message type '{body['_messageType']}' is not registered for queue {body['_messageQueue']}.",
            )
        try:
            order_number = str(
                json.loads(body["_messageContent"]).get("ProductionOrderNumber") or ""
            )
        except (ValueError, AttributeError):
            order_number = ""
        self.messages.append(
            {
                "MessageId": len(self.messages) + 1,
                "dataAreaId": str(body["_companyId"]).lower(),
                "MessageQueue": body["_messageQueue"],
                "MessageType": body["_messageType"],
                "MessageContent": body["_messageContent"],
                "MessageState": "Queued",
                "MessageInfolog": "",
                "Attempts": 0,
                "ProductionOrderNumber": order_number,
                "ReceivedAt": self.clock(),
                "_key": request.header("x-mes-message-id"),
            }
        )
        return Response(status=200)

    # ------------------------------------------------------------- processor
    def _process_loop(self) -> None:
        while not self.stopping.wait(float(self.config["process_interval"])):
            try:
                self.process_pending()
            except Exception:  # noqa: S112 (keep the processor alive; the state shows the message)
                continue

    def process_pending(self) -> int:
        """Apply every queued message that is due, in arrival order; returns how many ran."""
        ran = 0
        with self.lock:
            if self.config["paused"]:
                return 0
            blocked: set[tuple[str, str]] = set()
            due = self.clock() - float(self.config["process_delay"])
            for message in self.messages:
                if message["MessageState"] != "Queued":
                    continue
                order_key = (message["dataAreaId"], message["ProductionOrderNumber"])
                if order_key in blocked or message["ReceivedAt"] > due:
                    blocked.add(order_key)  # per-order FIFO: later ones wait for this one
                    continue
                self.process(message)
                ran += 1
                if message["MessageState"] == "Queued":
                    blocked.add(order_key)
        return ran

    def process(self, message: dict[str, Any]) -> None:
        message["Attempts"] += 1
        try:
            if self.config["transient_failures"] > 0:
                self.config["transient_failures"] -= 1
                raise Infolog(
                    "Deadlock, where one or more users have simultaneously locked the whole table or part of it."
                )
            effect = self.apply(message)
        except Infolog as exc:
            message["MessageInfolog"] = str(exc)
            if message["Attempts"] >= int(self.config["max_attempts"]):
                message["MessageState"] = "Failed"
                self.business_event(message)
            return
        message["MessageState"] = "Processed"
        message["MessageInfolog"] = ""
        message["ProcessedAt"] = self.clock()
        self.business_event(message)
        self.effects.append(
            {
                "key": message["_key"],
                "kind": effect,
                "data": {"MessageId": message["MessageId"], "MessageType": message["MessageType"]},
                "at": self.clock(),
            }
        )

    def business_event(self, message: dict[str, Any]) -> None:
        """The "Message processor message processed" business event, POSTed (outside the lock)
        to `business_events_url` when one is configured, and kept in the state."""
        if not self.config["business_events_url"]:
            return
        event = {
            "BusinessEventId": "SysMessageProcessorMessageProcessedBusinessEvent",
            "ControlNumber": len(self.business_events) + 1,
            "EventId": secrets.token_hex(16).upper(),
            "EventTime": f"/Date({int(self.clock() * 1000)})/",
            "MajorVersion": 0,
            "MinorVersion": 0,
            "LegalEntity": message["dataAreaId"],
            "MessageQueue": message["MessageQueue"],
            "MessageType": message["MessageType"],
            "MessageState": message["MessageState"],
            "MessageProcessingResult": "Success"
            if message["MessageState"] == "Processed"
            else "Error",
            "MessageInfolog": message["MessageInfolog"],
            "MessageContent": message["MessageContent"],
        }
        record = {"event": event, "status": None}
        self.business_events.append(record)
        threading.Thread(target=self._post_event, args=(record,), daemon=True).start()

    def _post_event(self, record: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 (http URL the test configured)
            self.config["business_events_url"],
            data=json.dumps(record["event"]).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                record["status"] = response.status
        except OSError as exc:
            record["status"] = getattr(exc, "code", 0) or str(exc)

    def apply(self, message: dict[str, Any]) -> str:
        try:
            content = json.loads(message["MessageContent"])
        except ValueError:
            raise Infolog("The message content is not valid JSON.") from None
        if not isinstance(content, dict):
            raise Infolog("The message content must be a JSON object.")
        number = content.get("ProductionOrderNumber")
        if not number:
            raise Infolog("Field ProductionOrderNumber must be filled in.")
        order = self.orders.get((message["dataAreaId"], str(number)))
        if order is None:
            raise Infolog(
                f"Production order {number} does not exist in company {message['dataAreaId'].upper()}."
            )
        kind = message["MessageType"]
        if any(
            m["MessageState"] == "Failed"
            and m["MessageType"] == kind
            and m["ProductionOrderNumber"] == str(number)
            and m is not message
            for m in self.messages
        ) and kind in {"ProdProductionOrderReportFinished", "ProdProductionOrderRouteCard"}:
            raise Infolog(
                f"A failed {kind} message exists for production order {number}: cancel or fix it first."
            )
        status = order["ProductionOrderStatus"]
        totals = order["_totals"]
        if kind == "ProdProductionOrderStart":
            if status not in {"Released", "StartedUp"}:
                raise Infolog(
                    f"Production order {number} has status {status}: it can't be started."
                )
            rule = content.get("AutomaticBOMConsumptionRule", "FlushingPrincip")
            if rule not in {"FlushingPrincip", "Always", "Never"}:
                raise Infolog(f"Value '{rule}' is not valid for AutomaticBOMConsumptionRule.")
            totals["started"] += _qty(content, "StartedQuantity")
            order["ProductionOrderStatus"] = "StartedUp"
            effect = "order_start"
        elif kind in {
            "ProdProductionOrderRouteCard",
            "ProdProductionOrderPickingList",
            "ProdProductionOrderReportFinished",
        }:
            if status not in {"StartedUp", "ReportedFinished"}:
                raise Infolog(
                    f"Production order {number} has status {status}: it must be started first."
                )
            lines_key = {
                "ProdProductionOrderRouteCard": "RouteCardLines",
                "ProdProductionOrderPickingList": "PickingListLines",
                "ProdProductionOrderReportFinished": "ReportFinishedLines",
            }[kind]
            lines = content.get(lines_key)
            if not isinstance(lines, list) or not lines:
                raise Infolog(f"Field {lines_key} must contain at least one line.")
            for line in lines:
                self.check_line(kind, line, order)
            if kind == "ProdProductionOrderPickingList":
                self.pick(order, lines)
            if kind == "ProdProductionOrderReportFinished":
                for line in lines:
                    totals["finished"] += _qty(line, "ReportedGoodQuantity")
                if any(line.get("EndJob") == "Yes" for line in lines):
                    order["ProductionOrderStatus"] = "ReportedFinished"
            effect = {
                "ProdProductionOrderRouteCard": "operation_confirmation",
                "ProdProductionOrderPickingList": "goods_issue",
                "ProdProductionOrderReportFinished": "goods_receipt",
            }[kind]
        else:  # End
            auto = _noyes(content, "AutoReportAsFinished")
            _noyes(content, "UseTimeAndAttendanceCost")
            if status == "Ended":
                raise Infolog(f"Production order {number} is already ended.")
            if status != "ReportedFinished" and not (status == "StartedUp" and auto == "Yes"):
                raise Infolog(
                    f"Production order {number} has status {status}: it must be reported as finished before it is ended."
                )
            order["ProductionOrderStatus"] = "Ended"
            effect = "order_completion"
        self._etag(order)
        return effect

    def pick(self, order: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        """Consume the picking-list lines: a negative line returns to stock at most what the
        order picked of that item and batch."""
        picked = dict(order["_totals"].get("picked", {}))
        for line in lines:
            key = f"{line['ItemNumber']}/{line.get('ItemBatchNumber') or ''}"
            quantity = _qty(line, "ConsumptionBOMQuantity", signed=True)
            if picked.get(key, Decimal(0)) + quantity < 0:
                raise Infolog(
                    f"Field ConsumptionBOMQuantity: {-quantity} can't be returned, only "
                    f"{picked.get(key, Decimal(0))} of item {line['ItemNumber']} batch "
                    f"'{line.get('ItemBatchNumber') or ''}' was picked for production order "
                    f"{order['ProductionOrderNumber']}."
                )
            picked[key] = picked.get(key, Decimal(0)) + quantity
        order["_totals"]["picked"] = picked

    def check_line(self, kind: str, line: Any, order: dict[str, Any]) -> None:
        if not isinstance(line, dict):
            raise Infolog("Each line must be a JSON object.")
        if kind == "ProdProductionOrderRouteCard":
            if "OperationNumber" not in line:
                raise Infolog("Field OperationNumber must be filled in.")
            if int(line["OperationNumber"]) not in {op["OperationNumber"] for op in order["_ops"]}:
                raise Infolog(
                    f"Operation {line['OperationNumber']} does not exist on the route of production order {order['ProductionOrderNumber']}."
                )
            for name in ("Hours", "GoodQuantity", "ErrorQuantity"):
                _qty(line, name)
            _noyes(line, "OperationCompleted")
        elif kind == "ProdProductionOrderPickingList":
            if not line.get("ItemNumber"):
                raise Infolog("Field ItemNumber must be filled in.")
            # a negative picking-list line returns material from the order to stock
            _qty(line, "ConsumptionBOMQuantity", signed=True)
            _noyes(line, "IsConsumptionEnded")
        else:
            for name in ("ReportedGoodQuantity", "ReportedErrorQuantity"):
                _qty(line, name)
            for name in ("EndJob", "EndPickingList", "EndRouteCard"):
                _noyes(line, name)

    # ----------------------------------------------------------------- OData
    def odata(self, request: Request, entity: str) -> Response:
        company_filter = request.query.get("cross-company") != "true"
        if entity.startswith("ProductionOrderHeaders(") and entity.endswith(")"):
            keys = dict(
                part.split("=", 1)
                for part in entity[len("ProductionOrderHeaders(") : -1].split(",")
            )
            key = (
                keys.get("dataAreaId", "").strip("'").lower(),
                keys.get("ProductionOrderNumber", "").strip("'"),
            )
            order = self.orders.get(key)
            if order is None:
                return self.error_response(
                    404, "Resource not found for the segment 'ProductionOrderHeaders'."
                )
            return json_response(
                200,
                {
                    "@odata.context": f"{self.base(request)}/data/$metadata#ProductionOrderHeaders/$entity",
                    **self.public(order),
                },
                [("ETag", order["@odata.etag"])],
            )
        if entity == "ProductionOrderHeaders":
            rows = [self.public(o) for o in self.orders.values()]
        elif entity == "ProductionOrderRouteOperations":
            rows = [dict(op) for o in self.orders.values() for op in o["_ops"]]
        elif entity == "SysMessageProcessorMessages":
            rows = self.messages  # stripped of the private keys after filtering
        else:
            return self.error_response(404, f"Resource not found for the segment '{entity}'.")
        if company_filter:
            default = self.config["companies"][0].lower()
            rows = [r for r in rows if r.get("dataAreaId") == default]
        if request.query.get("$filter"):
            text = request.query["$filter"].replace(f"{ENUM_PREFIX}ProdStatus", "ProdStatus")
            fields = set(rows[0]) if rows else set()
            fields |= {"dataAreaId", "ProductionOrderStatus", "ProductionOrderNumber"}
            fields |= {"MessageContent", "MessageQueue", "MessageState", "MessageType"}
            predicate = compile_filter(text, fields)
            rows = [r for r in rows if predicate(r)]
        page_size = int(self.config["page_size"])
        prefer = request.header("prefer")
        if "odata.maxpagesize=" in prefer:
            page_size = min(page_size, int(prefer.split("odata.maxpagesize=")[1].split(",")[0]))
        skip = int(request.query.get("$skiptoken") or 0)
        page = [self.public(r) for r in rows[skip : skip + page_size]]
        body: dict[str, Any] = {
            "@odata.context": f"{self.base(request)}/data/$metadata#{entity}",
            "value": page,
        }
        headers = []
        if skip + page_size < len(rows):
            params = {k: v for k, v in request.query.items() if k != "$skiptoken"}
            params["$skiptoken"] = str(skip + page_size)
            body["@odata.nextLink"] = f"{self.base(request)}/data/{entity}?{urlencode(params)}"
            headers.append(("Preference-Applied", f"odata.maxpagesize={page_size}"))
        return json_response(
            200, body, headers, content_type="application/json; odata.metadata=minimal"
        )

    def base(self, request: Request) -> str:
        return f"http://{request.header('host', '127.0.0.1')}"

    @staticmethod
    def public(order: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in order.items() if not k.startswith("_")}
