"""Oracle Fusion Cloud Manufacturing simulator (ADF REST, reference §4.3).

Base `/fscmRestApi/resources/11.13.18.05/`, Basic auth (401 otherwise):
- `GET workOrders` with `q=Name='v';Name>'v'`, `limit` (default 25, max 500), `offset`,
  `totalResults=true`, `expand=WorkOrderOperation`, `onlyData=true`, `orderBy=Field:asc` →
  `{"items", "count", "hasMore", "limit", "offset", "links", "totalResults"?}`.
- `GET/PATCH workOrders/{WorkOrderId}` (ETag from `ObjectVersionNumber`; a stale `If-Match`
  → 412). PATCH may set `WorkOrderStatusCode` (ORA_COMPLETED from ORA_RELEASED),
  `ActualStartDate`, `ActualCompletionDate`. `GET/PATCH workOrders/{id}/child/WorkOrderDFF/{id}`:
  the descriptive flexfield (any camelCase attribute).
- `POST operationTransactions` {SourceSystemCode, SourceSystemType, SourceHeaderReference,
  OperationTransactionDetail: [{OrganizationCode, WorkOrderNumber, OperationSequenceNumber,
  FromDispatchState (required), ToDispatchState, TransactionQuantity, TransactionUnitOfMeasure,
  TransactionDate, SourceLineReference}]} → 201 with per-row `InterfaceStatusCode` /
  `MessageDetail` and `ErrorsExistFlag` "Y" when a row fails (the simulator then applies no
  row of that POST). Moving quantity READY → COMPLETE at an operation makes it READY at the next.
  `GET operationTransactions?q=SourceSystemCode='MES';SourceHeaderReference='…'`.
- `POST materialTransactions` {SourceSystemCode, SourceHeaderReference, TransactionTypeCode
  (MATERIAL_ISSUE | PRODUCT_COMPLETION | MATERIAL_RETURN | PRODUCT_RETURN), OrganizationCode,
  WorkOrderNumber, ItemNumber, TransactionQuantity, TransactionUnitOfMeasure, SubinventoryCode,
  LotNumber, TransactionDate} → 201 {InvTransactionId, ErrorsExistFlag, MessageDetail}; GET with q.
- `POST resourceTransactions` {SourceSystemCode, SourceSystemType, ResourceTransactionDetail:
  [{OrganizationCode, WorkOrderNumber, OperationSequenceNumber, ResourceCode (or ResourceId),
  ResourceSequenceNumber, TransactionQuantity, TransactionUnitOfMeasure (`resource_uoms`, "HR"),
  TransactionDate, SourceHeaderReference, SourceLineReference}]} → 201 with per-row
  `ResourceTransactionId` / `InterfaceStatusCode` / `MessageDetail` and `ErrorsExistFlag` "Y" when
  a row fails (unknown work order, operation or resource — `resources` config — quantity not
  above zero, other unit): then no row of that POST is applied. `GET resourceTransactions?q=…`
  lists the applied rows (one item per row, with the header's SourceSystemCode/Type).
None of the transaction resources dedupes: the adapter reads back by SourceHeaderReference.
An operation confirmation with time posts two transactions under one `X-MES-Message-Id`
(kinds `operation_confirmation` and `resource_transaction`): in `state()["effective"]` its
`count` is how many times the message was applied, i.e. the most times any one kind was.
Errors: 400 plain text, or `{"title", "status", "o:errorDetails": [{"detail", "o:errorCode"}]}`
when the client sends `REST-Framework-Version` ≥ 4.
"""

from __future__ import annotations

import base64
import hashlib
import operator
import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from erp_connectors.simulators.base import (
    Request,
    Response,
    Simulator,
    json_response,
    seed_defaults,
    text_response,
)

ROOT = "/fscmRestApi/resources/11.13.18.05/"
ITEM_TYPE = "application/vnd.oracle.adf.resourceitem+json"
COLLECTION_TYPE = "application/vnd.oracle.adf.resourcecollection+json"
DISPATCH_STATES = {"READY", "COMPLETE", "SCRAP", "REJECT"}
MATERIAL_TYPES = {"MATERIAL_ISSUE", "MATERIAL_RETURN", "PRODUCT_COMPLETION", "PRODUCT_RETURN"}
COMPARE = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_Q = re.compile(r"^\s*(\w+)\s*(>=|<=|!=|=|>|<|\s+LIKE\s+)\s*(.+?)\s*$", re.IGNORECASE)


class OracleError(Exception):
    def __init__(self, status: int, detail: str, code: str = "") -> None:
        super().__init__(detail)
        self.status, self.detail, self.code = status, detail, code


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    text = str(value)
    return text if "T" in text else f"{text}T00:00:00+00:00"


def _number(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise OracleError(400, f"The value of the attribute {name} is not valid.")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise OracleError(
            400, f"The value of the attribute {name} is not a number: {value!r}."
        ) from None


def _as_json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def compile_q(text: str) -> list[tuple[str, str, str]]:
    """`Name='v';Name>'v'` → [(name, op, value)] (ADF `q` expressions joined by `;` = AND)."""
    clauses = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = _Q.match(part)
        if not match:
            raise OracleError(400, f"The query parameter q has an invalid expression: {part}")
        name, op, value = match.group(1), match.group(2).strip().upper(), match.group(3)
        if value.startswith("'") and value.endswith("'"):
            value = value[1:-1].replace("''", "'")
        clauses.append((name, op, value))
    return clauses


def matches(row: dict[str, Any], clauses: list[tuple[str, str, str]]) -> bool:
    for name, op, value in clauses:
        have = row.get(name)
        if have is None:
            return False
        if isinstance(have, int | float) and not isinstance(have, bool):
            try:
                left, right = Decimal(str(have)), Decimal(value)
            except InvalidOperation:
                return False
        else:
            left, right = str(have), value
        if op == "LIKE":
            pattern = "^" + re.escape(str(right)).replace("%", ".*") + "$"
            ok = re.match(pattern, str(left)) is not None
        else:
            ok = COMPARE[op](left, right)
        if not ok:
            return False
    return True


class OracleSimulator(Simulator):
    kind = "oracle"
    defaults = {
        "username": "mes.integration",
        "password": "sim-password",
        "default_limit": 25,
        "max_limit": 500,
        "source_systems": ["MES", "WIE"],
        "lot_required": True,
        "resources": ["LABOR", "MACHINE"],  # resource codes of the organization
        "resource_uoms": ["HR"],
    }

    def reset_erp(self) -> None:
        self.work_orders: dict[str, dict[str, Any]] = {}  # WorkOrderId -> row
        self.operation_transactions: list[dict[str, Any]] = []
        self.material_transactions: list[dict[str, Any]] = []
        self.resource_transactions: list[dict[str, Any]] = []  # one per applied detail row
        self.ids = 300100112987000
        self.last_ms = 0

    def erp_state(self) -> dict[str, Any]:
        return {
            "work_orders": self.work_orders,
            "operation_transactions": self.operation_transactions,
            "material_transactions": self.material_transactions,
            "resource_transactions": self.resource_transactions,
        }

    def state(self) -> dict[str, Any]:
        state = super().state()
        for slot in state["effective"].values():
            # one message = one posting per kind (an operation confirmation with time: an
            # operation and a resource transaction): applied n times = its most repeated kind
            slot["count"] = max(Counter(slot["kinds"]).values())
        return state

    def _id(self) -> int:
        self.ids += 1
        return self.ids

    def touch(self, row: dict[str, Any]) -> None:
        """A change: new ObjectVersionNumber (ETag) and a strictly later LastUpdateDate."""
        row["ObjectVersionNumber"] += 1
        ms = max(int(self.clock() * 1000), self.last_ms + 1)
        self.last_ms = ms
        row["LastUpdateDate"] = datetime.fromtimestamp(ms / 1000, UTC).isoformat(
            timespec="milliseconds"
        )

    def by_number(self, number: str, organization: str = "") -> dict[str, Any] | None:
        for row in self.work_orders.values():
            if row["WorkOrderNumber"] == number and (
                not organization or row["OrganizationCode"] == organization
            ):
                return row
        return None

    def seed_order(self, order: dict[str, Any]) -> dict[str, Any]:
        spec = seed_defaults(order)
        row = self.by_number(spec["id"])
        if row is None:
            work_order_id = self._id()
            row = {"WorkOrderId": work_order_id, "ObjectVersionNumber": 0, "_dff": {}, "_ops": []}
            self.work_orders[str(work_order_id)] = row
        status = {
            "released": "ORA_RELEASED",
            "planned": "ORA_UNRELEASED",
            "cancelled": "ORA_CANCELED",
        }
        quantity = Decimal(spec["quantity"])
        row.update(
            {
                "WorkOrderNumber": spec["id"],
                "OrganizationCode": spec["plant"],
                "OrganizationId": 300000047274444,
                "ItemNumber": spec["material"],
                "InventoryItemId": int(
                    hashlib.sha256(spec["material"].encode()).hexdigest()[:10], 16
                ),
                "WorkMethodCode": "PROCESS_MANUFACTURING"
                if spec["kind"] == "process"
                else "DISCRETE_MANUFACTURING",
                "WorkDefinitionCode": spec.get("recipe") or "ORA_MAIN",
                "PlannedStartQuantity": _as_json_number(quantity),
                "UOMCode": spec["uom"],
                "PlannedStartDate": _iso(spec["start"]),
                "PlannedCompletionDate": _iso(spec["due"]),
                "WorkOrderStatusCode": status.get(spec["status"], "ORA_RELEASED"),
                "WorkOrderPriority": spec.get("priority") or None,
                "ActualStartDate": row.get("ActualStartDate"),
                "ActualCompletionDate": row.get("ActualCompletionDate"),
                "ExpectedYieldPercent": (
                    float(spec["expected_yield_pct"])
                    if spec.get("expected_yield_pct") is not None
                    else None
                ),
            }
        )
        old_ops = {op["OperationSequenceNumber"]: op for op in row["_ops"]}
        row["_ops"] = []
        for n, op in enumerate(spec["operations"]):
            seq = int(op["operation"])
            keep = old_ops.get(seq, {})
            row["_ops"].append(
                {
                    "OperationSequenceNumber": seq,
                    "WorkCenterCode": op.get("work_center", ""),
                    "OperationName": op.get("text", f"OP{seq}"),
                    "ReadyQuantity": keep.get("ReadyQuantity", quantity if n == 0 else Decimal(0)),
                    "CompletedQuantity": keep.get("CompletedQuantity", Decimal(0)),
                    "ScrappedQuantity": keep.get("ScrappedQuantity", Decimal(0)),
                    "RejectedQuantity": keep.get("RejectedQuantity", Decimal(0)),
                    "_uniq": hashlib.sha256(f"{row['WorkOrderId']}:{seq}".encode())
                    .hexdigest()[:40]
                    .upper(),
                }
            )
        self.touch(row)
        return {
            "id": spec["id"],
            "version": row["LastUpdateDate"],
            "WorkOrderId": row["WorkOrderId"],
        }

    # -------------------------------------------------------------- protocol
    def wants_json_errors(self, request: Request | None) -> bool:
        try:
            return request is not None and int(request.header("rest-framework-version") or 0) >= 4
        except ValueError:
            return False

    def oracle_error(
        self, request: Request | None, status: int, detail: str, code: str = ""
    ) -> Response:
        if self.wants_json_errors(request):
            body = {
                "title": {400: "Bad Request", 404: "Not Found", 412: "Precondition Failed"}.get(
                    status, "Error"
                ),
                "status": str(status),
                "o:errorDetails": [{"detail": detail, "o:errorCode": code or str(status)}],
            }
            return json_response(status, body, content_type="application/vnd.oracle.adf.error+json")
        return text_response(status, detail)

    def error_response(self, status: int, message: str, code: str = "") -> Response:
        return text_response(status, message)

    def unauthorized(self, request: Request) -> Response | None:
        expected = f"{self.config['username']}:{self.config['password']}"
        header = request.header("authorization")
        try:
            ok = header.startswith("Basic ") and base64.b64decode(header[6:]).decode() == expected
        except ValueError:
            ok = False
        return (
            None
            if ok
            else Response(status=401, headers=[("WWW-Authenticate", 'Basic realm="Oracle Fusion"')])
        )

    def route(self, request: Request) -> Response:
        with self.lock:
            refused = self.unauthorized(request)
            if refused:
                return refused
            if not request.path.startswith(ROOT):
                return self.oracle_error(request, 404, f"Resource {request.path} not found")
            parts = request.path[len(ROOT) :].strip("/").split("/")
            try:
                response = self.dispatch(request, parts)
            except OracleError as exc:
                return self.oracle_error(request, exc.status, exc.detail, exc.code)
            response.headers.append(("REST-Framework-Version", "4"))
            return response

    def dispatch(self, request: Request, parts: list[str]) -> Response:
        resource, method = parts[0], request.method
        if resource == "workOrders":
            if len(parts) == 1 and method == "GET":
                rows = [self.render_order(request, r) for r in self.work_orders.values()]
                return self.collection(request, rows, "workOrders")
            row = self.work_orders.get(parts[1]) if len(parts) > 1 else None
            if row is None:
                raise OracleError(
                    404,
                    f"The requested resource workOrders/{parts[1] if len(parts) > 1 else ''} was not found.",
                )
            if len(parts) == 2:
                if method == "GET":
                    return self.item(request, self.render_order(request, row), row)
                if method == "PATCH":
                    return self.patch_order(request, row)
            if len(parts) >= 4 and parts[2] == "child" and parts[3] == "WorkOrderDFF":
                if method == "GET":
                    return self.item(request, self.render_dff(row), row)
                if method == "PATCH":
                    return self.patch_dff(request, row)
            if (
                len(parts) >= 4
                and parts[2] == "child"
                and parts[3] == "WorkOrderOperation"
                and method == "GET"
            ):
                ops = [self.render_op(request, row, op) for op in row["_ops"]]
                return self.collection(
                    request, ops, f"workOrders/{parts[1]}/child/WorkOrderOperation"
                )
            raise OracleError(405, f"Method {method} is not allowed on {'/'.join(parts)}.")
        transactions = {
            "operationTransactions": (self.post_operation_transaction, self.operation_transactions),
            "materialTransactions": (self.post_material_transaction, self.material_transactions),
            "resourceTransactions": (self.post_resource_transaction, self.resource_transactions),
        }
        if resource in transactions and len(parts) == 1:
            post, stored = transactions[resource]
            if method == "POST":
                return post(request)
            if method == "GET":
                return self.collection(request, [dict(t) for t in stored], resource)
        raise OracleError(404, f"The requested resource {'/'.join(parts)} was not found.")

    # ---------------------------------------------------------------- render
    def href(self, request: Request, path: str) -> str:
        return f"http://{request.header('host', '127.0.0.1')}{ROOT}{path}"

    def etag(self, row: dict[str, Any]) -> str:
        return f'"{row["ObjectVersionNumber"]}"'

    def render_op(
        self, request: Request, row: dict[str, Any], op: dict[str, Any]
    ) -> dict[str, Any]:
        out = {
            k: (_as_json_number(v) if isinstance(v, Decimal) else v)
            for k, v in op.items()
            if not k.startswith("_")
        }
        out["WorkOrderOperationId"] = op["_uniq"]
        out["links"] = [
            {
                "rel": "self",
                "href": self.href(
                    request,
                    f"workOrders/{row['WorkOrderId']}/child/WorkOrderOperation/{op['_uniq']}",
                ),
                "name": "WorkOrderOperation",
                "kind": "item",
            }
        ]
        return out

    def render_order(self, request: Request, row: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if not k.startswith("_")}
        if (
            "WorkOrderOperation" in request.query.get("expand", "")
            or request.query.get("expand") == "all"
        ):
            out["WorkOrderOperation"] = [self.render_op(request, row, op) for op in row["_ops"]]
        out["links"] = [
            {
                "rel": "self",
                "href": self.href(request, f"workOrders/{row['WorkOrderId']}"),
                "name": "workOrders",
                "kind": "item",
                "properties": {"changeIndicator": str(row["ObjectVersionNumber"])},
            },
            {
                "rel": "child",
                "href": self.href(
                    request, f"workOrders/{row['WorkOrderId']}/child/WorkOrderOperation"
                ),
                "name": "WorkOrderOperation",
                "kind": "collection",
            },
            {
                "rel": "child",
                "href": self.href(request, f"workOrders/{row['WorkOrderId']}/child/WorkOrderDFF"),
                "name": "WorkOrderDFF",
                "kind": "collection",
            },
        ]
        return out

    def render_dff(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"WorkOrderId": row["WorkOrderId"], "__FLEX_Context": "MES", **row["_dff"]}

    def item(self, request: Request, body: dict[str, Any], row: dict[str, Any]) -> Response:
        if request.query.get("onlyData") == "true":
            body = {k: v for k, v in body.items() if k != "links"}
        return json_response(200, body, [("ETag", self.etag(row))], content_type=ITEM_TYPE)

    def collection(self, request: Request, rows: list[dict[str, Any]], path: str) -> Response:
        q = request.query
        if q.get("q"):
            clauses = compile_q(q["q"])
            rows = [r for r in rows if matches(r, clauses)]
        if q.get("orderBy"):
            for clause in reversed(q["orderBy"].split(",")):
                name, _, direction = clause.partition(":")
                rows.sort(key=lambda r, n=name: str(r.get(n, "")), reverse=direction == "desc")
        try:
            limit = min(
                int(q.get("limit") or self.config["default_limit"]), int(self.config["max_limit"])
            )
            offset = int(q.get("offset") or 0)
        except ValueError:
            raise OracleError(
                400, "The limit and offset query parameters must be integers."
            ) from None
        page = rows[offset : offset + limit]
        if q.get("onlyData") == "true":
            page = [{k: v for k, v in r.items() if k != "links"} for r in page]
        body: dict[str, Any] = {
            "items": page,
            "count": len(page),
            "hasMore": offset + limit < len(rows),
            "limit": limit,
            "offset": offset,
            "links": [
                {
                    "rel": "self",
                    "href": self.href(request, path),
                    "name": path,
                    "kind": "collection",
                }
            ],
        }
        if q.get("totalResults") == "true":
            body["totalResults"] = len(rows)
        return json_response(200, body, content_type=COLLECTION_TYPE)

    # --------------------------------------------------------------- updates
    def check_if_match(self, request: Request, row: dict[str, Any]) -> None:
        sent = request.header("if-match")
        if sent and sent != "*" and sent != self.etag(row):
            raise OracleError(
                412,
                f"The work order {row['WorkOrderNumber']} was updated by another user (If-Match {sent}, current {self.etag(row)}).",
            )

    def patch_order(self, request: Request, row: dict[str, Any]) -> Response:
        self.check_if_match(request, row)
        body = request.json() or {}
        allowed = {
            "WorkOrderStatusCode",
            "ActualStartDate",
            "ActualCompletionDate",
            "WorkOrderPriority",
        }
        for name in body:
            if name not in allowed:
                raise OracleError(
                    400, f"Attribute {name} in resource workOrders cannot be updated."
                )
        new_status = body.get("WorkOrderStatusCode")
        if new_status and new_status != row["WorkOrderStatusCode"]:
            if new_status not in {"ORA_COMPLETED", "ORA_ON_HOLD", "ORA_RELEASED", "ORA_CLOSED"}:
                raise OracleError(
                    400, f"The value {new_status} is not valid for WorkOrderStatusCode.", "WIE-1001"
                )
            if new_status == "ORA_COMPLETED" and row["WorkOrderStatusCode"] != "ORA_RELEASED":
                raise OracleError(
                    400,
                    f"The work order {row['WorkOrderNumber']} can't be completed because its status is {row['WorkOrderStatusCode']}.",
                    "WIE-1002",
                )
        if "ActualStartDate" in body and row["WorkOrderStatusCode"] != "ORA_RELEASED":
            raise OracleError(
                400, f"The work order {row['WorkOrderNumber']} is not released.", "WIE-1003"
            )
        row.update(body)
        self.touch(row)
        kind = (
            "order_completion"
            if new_status == "ORA_COMPLETED"
            else "order_start"
            if "ActualStartDate" in body
            else "order_update"
        )
        self.record_effect(request, kind, {"WorkOrderNumber": row["WorkOrderNumber"], **body})
        return self.item(request, self.render_order(request, row), row)

    def patch_dff(self, request: Request, row: dict[str, Any]) -> Response:
        self.check_if_match(request, row)
        body = request.json() or {}
        for name in body:
            if not re.match(r"^[a-z][A-Za-z0-9]*$", name):
                raise OracleError(
                    400, f"Attribute {name} is not defined in the WorkOrderDFF flexfield."
                )
        row["_dff"].update(body)
        self.touch(row)
        self.record_effect(
            request, "order_update", {"WorkOrderNumber": row["WorkOrderNumber"], **body}
        )
        return self.item(request, self.render_dff(row), row)

    # ---------------------------------------------------------- transactions
    def check_source(self, body: dict[str, Any]) -> None:
        code = body.get("SourceSystemCode")
        if not code:
            raise OracleError(400, "The attribute SourceSystemCode is required.")
        if code not in self.config["source_systems"]:
            raise OracleError(
                400, f"The source system {code} isn't registered in Trading Community.", "WIE-2001"
            )
        if body.get("SourceSystemType", "EXTERNAL") not in {"INTERNAL", "EXTERNAL"}:
            raise OracleError(400, "SourceSystemType must be INTERNAL or EXTERNAL.")

    def order_problem(self, detail: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """A detail row's work order: ("", order) when it exists and is released."""
        order = self.by_number(
            str(detail.get("WorkOrderNumber") or ""), str(detail.get("OrganizationCode") or "")
        )
        if order is None:
            return (
                f"The work order {detail.get('WorkOrderNumber')} doesn't exist in organization {detail.get('OrganizationCode')}.",
                None,
            )
        if order["WorkOrderStatusCode"] != "ORA_RELEASED":
            return (
                f"The work order {order['WorkOrderNumber']} has status {order['WorkOrderStatusCode']}: only released work orders can be transacted.",
                order,
            )
        return "", order

    @staticmethod
    def operation_problem(
        order: dict[str, Any], detail: dict[str, Any]
    ) -> tuple[str, dict[str, Any] | None]:
        """A detail row's operation of `order`: ("", operation) when it exists."""
        try:
            seq = int(detail.get("OperationSequenceNumber"))
        except (TypeError, ValueError):
            return "The attribute OperationSequenceNumber is required.", None
        op = next((o for o in order["_ops"] if o["OperationSequenceNumber"] == seq), None)
        if op is None:
            return (
                f"The operation sequence {seq} doesn't exist in work order {order['WorkOrderNumber']}.",
                None,
            )
        return "", op

    @staticmethod
    def quantity_problem(detail: dict[str, Any]) -> str:
        try:
            quantity = _number(detail.get("TransactionQuantity"), "TransactionQuantity")
        except OracleError as exc:
            return exc.detail
        return "" if quantity > 0 else "The transaction quantity must be greater than zero."

    def row_problem(
        self, detail: dict[str, Any]
    ) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
        problem, order = self.order_problem(detail)
        if problem or order is None:
            return problem, order, None
        if not detail.get("FromDispatchState"):
            return "The attribute FromDispatchState is required.", order, None
        states = (detail.get("FromDispatchState"), detail.get("ToDispatchState"))
        if any(s not in DISPATCH_STATES for s in states):
            return (
                f"The dispatch state {states} is not a valid value of ORA_WIE_DISPATCH_STATE.",
                order,
                None,
            )
        problem, op = self.operation_problem(order, detail)
        if problem:
            return problem, order, None
        problem = self.quantity_problem(detail)
        if problem:
            return problem, order, op
        if (
            detail.get("TransactionUnitOfMeasure")
            and detail["TransactionUnitOfMeasure"] != order["UOMCode"]
        ):
            return (
                f"The unit of measure {detail['TransactionUnitOfMeasure']} isn't valid for item {order['ItemNumber']}.",
                order,
                op,
            )
        return "", order, op

    def transaction_rows(
        self, request: Request, rows_key: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A transaction POST's header (source checked) and its detail rows (at least one)."""
        body = request.json()
        if not isinstance(body, dict):
            raise OracleError(400, "The request payload is not a JSON object.")
        self.check_source(body)
        rows = body.get(rows_key) or []
        if not rows:
            raise OracleError(400, f"At least one {rows_key} row is required.")
        return body, rows

    def post_operation_transaction(self, request: Request) -> Response:
        body, rows = self.transaction_rows(request, "OperationTransactionDetail")
        results, checked, ready_left = [], [], {}
        for detail in rows:
            problem, order, op = self.row_problem(detail)
            if not problem and op is not None and detail["FromDispatchState"] == "READY":
                key = (order["WorkOrderId"], op["OperationSequenceNumber"])
                left = ready_left.setdefault(key, op["ReadyQuantity"])
                quantity = Decimal(str(detail["TransactionQuantity"]))
                if quantity > left:
                    problem = f"The transaction quantity {quantity} exceeds the quantity {left} in the Ready dispatch state of operation {op['OperationSequenceNumber']}."
                else:
                    ready_left[key] = left - quantity
            results.append(
                {
                    **detail,
                    "InterfaceStatusCode": "ERROR" if problem else "SUCCESS",
                    "MessageDetail": problem or None,
                }
            )
            checked.append((detail, order, op))
        errors = any(r["InterfaceStatusCode"] == "ERROR" for r in results)
        transaction_id = self._id()
        header = {
            "TransactionHeaderId": transaction_id,
            "SourceSystemCode": body["SourceSystemCode"],
            "SourceSystemType": body.get("SourceSystemType", "EXTERNAL"),
            "SourceHeaderReference": body.get("SourceHeaderReference"),
            "WorkOrderNumber": rows[0].get("WorkOrderNumber"),
            "ErrorsExistFlag": "Y" if errors else "N",
            "OperationTransactionDetail": results,
        }
        if not errors:
            for detail, order, op in checked:
                self.move(order, op, detail)
                self.touch(order)
            self.operation_transactions.append(header)
            self.record_effect(request, "operation_confirmation", header)
        return json_response(201, header, content_type=ITEM_TYPE)

    @staticmethod
    def move(order: dict[str, Any], op: dict[str, Any], detail: dict[str, Any]) -> None:
        quantity = Decimal(str(detail["TransactionQuantity"]))
        source, target = detail["FromDispatchState"], detail.get("ToDispatchState") or "COMPLETE"
        if source == "READY":
            op["ReadyQuantity"] -= quantity
        column = {
            "COMPLETE": "CompletedQuantity",
            "SCRAP": "ScrappedQuantity",
            "REJECT": "RejectedQuantity",
            "READY": "ReadyQuantity",
        }[target]
        op[column] += quantity
        if target == "COMPLETE":
            later = [
                o
                for o in order["_ops"]
                if o["OperationSequenceNumber"] > op["OperationSequenceNumber"]
            ]
            if later:
                later[0]["ReadyQuantity"] += quantity

    def post_material_transaction(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise OracleError(400, "The request payload is not a JSON object.")
        self.check_source(body)
        problem = ""
        order = self.by_number(
            str(body.get("WorkOrderNumber") or ""), str(body.get("OrganizationCode") or "")
        )
        kind = body.get("TransactionTypeCode")
        if kind not in MATERIAL_TYPES:
            problem = (
                f"The transaction type {kind} is not valid for a work order material transaction."
            )
        elif order is None:
            problem = f"The work order {body.get('WorkOrderNumber')} doesn't exist in organization {body.get('OrganizationCode')}."
        elif order["WorkOrderStatusCode"] != "ORA_RELEASED":
            problem = f"The work order {order['WorkOrderNumber']} has status {order['WorkOrderStatusCode']}."
        elif not body.get("ItemNumber"):
            problem = "The attribute ItemNumber is required."
        elif self.config["lot_required"] and not body.get("LotNumber"):
            problem = f"The item {body['ItemNumber']} is lot controlled: enter a lot number."
        else:
            try:
                if _number(body.get("TransactionQuantity"), "TransactionQuantity") <= 0:
                    problem = "The transaction quantity must be greater than zero."
            except OracleError as exc:
                problem = exc.detail
        row = {
            **body,
            "InvTransactionId": None if problem else self._id(),
            "ErrorsExistFlag": "Y" if problem else "N",
            "MessageDetail": problem or None,
        }
        if not problem:
            self.material_transactions.append(row)
            effect = "goods_receipt" if kind in {"PRODUCT_COMPLETION"} else "goods_issue"
            self.record_effect(request, effect, row)
        return json_response(201, row, content_type=ITEM_TYPE)

    # ------------------------------------------------------ resource transactions
    @staticmethod
    def resource_id(code: str) -> int:
        return int(hashlib.sha256(f"resource:{code}".encode()).hexdigest()[:10], 16)

    def resource_problem(self, detail: dict[str, Any]) -> tuple[str, str]:
        """("", resource code) when a ResourceTransactionDetail row can be applied."""
        problem, order = self.order_problem(detail)
        if problem or order is None:
            return problem, ""
        problem, _ = self.operation_problem(order, detail)
        if problem:
            return problem, ""
        known = {self.resource_id(c): c for c in self.config["resources"]}
        code = str(detail.get("ResourceCode") or "")
        if not code and detail.get("ResourceId") is not None:
            code = known.get(detail["ResourceId"], "")
            if not code:
                return f"The resource ID {detail['ResourceId']} isn't valid.", ""
        if not code:
            return "The attribute ResourceCode or ResourceId is required.", ""
        if code not in known.values():
            return (
                f"The resource {code} doesn't exist in organization {order['OrganizationCode']}.",
                code,
            )
        problem = self.quantity_problem(detail)
        if problem:
            return problem, code
        uom = detail.get("TransactionUnitOfMeasure")
        if uom and uom not in self.config["resource_uoms"]:
            return f"The unit of measure {uom} isn't valid for resource {code}.", code
        return "", code

    def post_resource_transaction(self, request: Request) -> Response:
        body, rows = self.transaction_rows(request, "ResourceTransactionDetail")
        results = []
        for detail in rows:
            problem, code = self.resource_problem(detail)
            results.append(
                {
                    **detail,
                    "ResourceCode": code or detail.get("ResourceCode"),
                    "ResourceTransactionId": None,
                    "InterfaceStatusCode": "ERROR" if problem else "SUCCESS",
                    "MessageDetail": problem or None,
                }
            )
        errors = any(r["InterfaceStatusCode"] == "ERROR" for r in results)
        source = {
            "SourceSystemCode": body["SourceSystemCode"],
            "SourceSystemType": body.get("SourceSystemType", "EXTERNAL"),
        }
        header = {
            "TransactionHeaderId": self._id(),
            **source,
            "ErrorsExistFlag": "Y" if errors else "N",
            "ResourceTransactionDetail": results,
        }
        if not errors:
            for row in results:
                row["ResourceTransactionId"] = self._id()
                self.resource_transactions.append(
                    {"TransactionHeaderId": header["TransactionHeaderId"], **source, **row}
                )
            self.record_effect(request, "resource_transaction", header)
        return json_response(201, header, content_type=ITEM_TYPE)
