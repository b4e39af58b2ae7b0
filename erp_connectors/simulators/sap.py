"""SAP S/4HANA simulator: OData V2 production/process orders, confirmations, material documents.

Services under `/sap/opu/odata/sap/` (reference §4.1):
- `API_PRODUCTION_ORDER_2_SRV`: `A_ProductionOrder_2` (GET collection/entity, PATCH/MERGE with
  If-Match), `A_ProductionOrderOperation_2` (GET), navigation `to_ProductionOrderOperation`,
  function imports `ReleaseOrder`, `OrderReleasedByMES`, `TechlyCmpltOrder` (If-Match) via POST.
- `API_PROCESS_ORDER_2_SRV`: the same for `A_ProcessOrder_2` / `to_ProcessOrderOperation`
  (process orders; the phase set's exact name is unverified, see the reference).
- `API_PROD_ORDER_CONFIRMATION_2_SRV` / `API_PROC_ORDER_CONFIRMATION_2_SRV`: `ProdnOrdConf2` /
  `ProcOrdConf2` (GET with $filter, POST). `ExternalSystemConfirmation` is stored; duplicates
  are accepted (mode B, the realistic worst case) unless `dedupe_external_confirmation`.
- `API_MATERIAL_DOCUMENT_SRV`: `A_MaterialDocumentHeader` (POST deep insert
  `to_MaterialDocumentItem`, GoodsMovementCode 02 = GR for order / 03 = GI: 261, or 262 to
  reverse an issue, never more of a material and batch than the order holds), `A_MaterialDocumentItem`
  (GET with $filter).

Protocol: Basic auth (401 + WWW-Authenticate), `x-csrf-token: Fetch` on a GET returns the token
and a `SAP_SESSIONID_<SID>_<client>` cookie; a POST/PATCH/MERGE/DELETE without that token *and*
its cookie is refused with 403 `x-csrf-token: Required` "CSRF token validation failed". JSON V2
envelopes `{"d": {...}}` / `{"d": {"results": [...], "__count", "__next"}}`, `__metadata` with
an `etag` (also the `ETag` header), `/Date(ms)/`, decimals as strings (a JSON number for an
Edm.Decimal is refused), `$filter/$top/$skip/$orderby/$inlinecount/$expand`, server paging with
`$skiptoken` after `page_size` rows, SAP's error body with `innererror.errordetails`.
Business errors (message codes are the simulator's, verify the real ones on the target system):
order unknown / not released / technically completed, operation already finally confirmed,
quantity over tolerance, posting period closed, order locked by another user (`locked_orders`;
the adapter treats its code as retryable), wrong movement type for the movement code.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote as urlquote
from urllib.parse import urlencode

from erp_connectors.adapters.odata import (
    decimal_literal,
    from_datetime_literal,
    to_datetime_literal,
)
from erp_connectors.simulators.base import (
    Request,
    Response,
    Simulator,
    json_response,
    seed_defaults,
    text_response,
)
from erp_connectors.simulators.odata_filter import FilterError, compile_filter

ROOT = "/sap/opu/odata/sap/"
PROD_SRV = "API_PRODUCTION_ORDER_2_SRV"
PROC_SRV = "API_PROCESS_ORDER_2_SRV"
CONF_SRV = "API_PROD_ORDER_CONFIRMATION_2_SRV"
PCONF_SRV = "API_PROC_ORDER_CONFIRMATION_2_SRV"
MATDOC_SRV = "API_MATERIAL_DOCUMENT_SRV"

ORDER_SERVICES = {
    PROD_SRV: {
        "set": "A_ProductionOrder_2",
        "ops": "A_ProductionOrderOperation_2",
        "nav": "to_ProductionOrderOperation",
        "kind": "discrete",
        "category": "10",
    },
    PROC_SRV: {
        "set": "A_ProcessOrder_2",
        "ops": "A_ProcessOrderOperation_2",
        "nav": "to_ProcessOrderOperation",
        "kind": "process",
        "category": "40",
    },
}
CONF_SERVICES = {CONF_SRV: "ProdnOrdConf2", PCONF_SRV: "ProcOrdConf2"}
CONF_DECIMALS = (
    "ConfirmationYieldQuantity",
    "ConfirmationScrapQuantity",
    "ConfirmationReworkQuantity",
    "OpConfirmedWorkQuantity1",
    "OpConfirmedWorkQuantity2",
    "OpConfirmedWorkQuantity3",
)
ORDER_FLAGS = (
    "OrderIsCreated",
    "OrderIsReleased",
    "OrderIsPartiallyConfirmed",
    "OrderIsConfirmed",
    "OrderIsTechnicallyCompleted",
    "OrderIsClosed",
    "OrderIsMarkedForDeletion",
    "OrderIsDeleted",
    "OrderIsLocked",
)
MOVEMENTS = {"02": {"101", "531"}, "03": {"261", "262"}}
_RESOURCE = re.compile(r"^(?P<name>[\w$]+)(?:\((?P<key>[^)]*)\))?(?:/(?P<nav>\w+))?$")
LOCK_CODE = "CO/469"  # "order locked by another user": retryable (the adapter's default list)


def sap_error(
    status: int, code: str, text: str, *, target: str = "", service: str = ""
) -> Response:
    now = datetime.now(UTC)
    detail = {
        "code": code,
        "message": text,
        "propertyref": "",
        "severity": "error",
        "target": target,
    }
    body = {
        "error": {
            "code": code,
            "message": {"lang": "en", "value": text},
            "innererror": {
                "application": {
                    "component_id": "PP-SFC",
                    "service_namespace": "/SAP/",
                    "service_id": service,
                    "service_version": "0001",
                },
                "transactionid": uuid.uuid4().hex.upper(),
                "timestamp": now.strftime("%Y%m%d%H%M%S.%f"),
                "Error_Resolution": {
                    "SAP_Transaction": "Run transaction /IWFND/ERROR_LOG on SAP Gateway hub system",
                    "SAP_Note": "See SAP Note 1797736 for error analysis",
                },
                "errordetails": [detail],
            },
        }
    }
    return json_response(status, body)


class SapError(Exception):
    def __init__(self, status: int, code: str, text: str, target: str = "") -> None:
        super().__init__(text)
        self.status, self.code, self.text, self.target = status, code, text, target


def _key_value(raw: str, name: str) -> str:
    """'1000206' or ManufacturingOrder='1000206' (composite keys: pick `name`)."""
    raw = (raw or "").strip()
    for part in raw.split(","):
        key, sep, value = part.partition("=")
        value = value if sep else key
        if sep and key.strip() != name:
            continue
        value = value.strip()
        if value.startswith("guid'"):
            value = value[4:]
        return value.strip("'").replace("''", "'")
    return ""


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two material document items of one material and batch."""
    return (a.get("Material"), str(a.get("Batch") or "")) == (
        b.get("Material"),
        str(b.get("Batch") or ""),
    )


def _decimal(body: dict[str, Any], name: str, default: str = "0") -> Decimal:
    value = body.get(name, default)
    if not isinstance(value, str):
        raise SapError(
            400,
            "/IWBEP/CM_MGW_RT/020",
            f"Property '{name}' has invalid value '{value}': Edm.Decimal must be a JSON string",
            name,
        )
    try:
        return Decimal(value)
    except InvalidOperation:
        raise SapError(
            400, "/IWBEP/CM_MGW_RT/020", f"Property '{name}' has invalid value '{value}'", name
        ) from None


class SapSimulator(Simulator):
    kind = "sap"
    defaults = {
        "username": "MES_COMM",
        "password": "sim-password",
        "sid": "S4H",
        "client": "100",
        "page_size": 50,
        "dedupe_external_confirmation": False,
        "tolerance_pct": 10,
        "closed_before": "",  # "2026-11-01": postings dated earlier are in a closed period
        "locked_orders": [],
        "batch_required": True,
    }

    # ----------------------------------------------------------------- state
    def reset_erp(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.confirmations: list[dict[str, Any]] = []
        self.material_docs: list[dict[str, Any]] = []
        self.sessions: dict[str, str] = {}  # session id -> csrf token
        self.last_change = 0
        self.conf_groups = 0
        self.doc_numbers = 0

    def erp_state(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "confirmations": self.confirmations,
            "material_documents": self.material_docs,
        }

    @property
    def cookie_name(self) -> str:
        return f"SAP_SESSIONID_{self.config['sid']}_{self.config['client']}"

    def touch(self, order: dict[str, Any]) -> None:
        stamp = max(int(self.clock()), self.last_change + 1)
        self.last_change = stamp
        order["LastChangeDateTime"] = datetime.fromtimestamp(stamp, UTC).strftime("%Y%m%d%H%M%S")

    @staticmethod
    def etag(order: dict[str, Any]) -> str:
        return f"W/\"datetimeoffset'{order['LastChangeDateTime']}'\""

    def seed_order(self, order: dict[str, Any]) -> dict[str, Any]:
        spec = seed_defaults(order)
        number = spec["id"]
        old = self.orders.get(number)
        process = spec["kind"] == "process"
        status = spec["status"]
        row = old or {
            "ManufacturingOrder": number,
            "_kind": spec["kind"],
            "_mes_released": False,
            "_conf_group": f"{self._next_conf_group():010d}",
            "MfgOrderConfirmedYieldQty": "0.000",
        }
        row.update(
            {
                "ManufacturingOrderCategory": "40" if process else "10",
                "ManufacturingOrderType": spec.get("order_type") or ("PI01" if process else "PP01"),
                "ManufacturingOrderImportance": str(spec.get("priority") or ""),
                "Material": spec["material"],
                "ProductionPlant": spec["plant"],
                "Plant": spec["plant"],
                "TotalQuantity": decimal_literal(spec["quantity"]),
                "ProductionUnit": spec["uom"],
                "ProductionVersion": spec.get("production_version", "0001"),
                "MfgOrderPlannedStartDate": to_datetime_literal(spec["start"]),
                "MfgOrderPlannedEndDate": to_datetime_literal(spec["due"]),
                "MfgOrderScheduledStartDate": to_datetime_literal(spec["start"]),
                "MfgOrderScheduledEndDate": to_datetime_literal(spec["due"]),
                "OrderIsCreated": "X",
                "OrderIsReleased": "X" if status == "released" else "",
                "OrderIsMarkedForDeletion": "X" if status == "cancelled" else "",
                "YY1_MESRecipe_ORD": spec.get("recipe") or "",
                "YY1_MESExpectedYield_ORD": (
                    decimal_literal(spec["expected_yield_pct"], 2)
                    if spec.get("expected_yield_pct") is not None
                    else ""
                ),
            }
        )
        for flag in ORDER_FLAGS:
            row.setdefault(flag, "")
        ops = {op["ManufacturingOrderOperation"]: op for op in row.get("_ops", [])}
        row["_ops"] = [
            {
                "ManufacturingOrder": number,
                "ManufacturingOrderSequence": "0",
                "ManufacturingOrderOperation": op["operation"],
                "WorkCenter": op.get("work_center", ""),
                "Plant": spec["plant"],
                "MfgOrderOperationText": op.get("text", ""),
                "OpTotalConfirmedYieldQty": ops.get(op["operation"], {}).get(
                    "OpTotalConfirmedYieldQty", "0.000"
                ),
                "OpTotalConfirmedScrapQty": ops.get(op["operation"], {}).get(
                    "OpTotalConfirmedScrapQty", "0.000"
                ),
                "OperationIsFinallyConfirmed": ops.get(op["operation"], {}).get(
                    "OperationIsFinallyConfirmed", ""
                ),
            }
            for op in spec["operations"]
        ]
        self.touch(row)
        self.orders[number] = row
        return {"id": number, "version": row["LastChangeDateTime"]}

    def _next_conf_group(self) -> int:
        self.conf_groups += 1
        return self.conf_groups

    # -------------------------------------------------------------- protocol
    def error_response(self, status: int, message: str, code: str = "") -> Response:
        return sap_error(status, code or f"/IWFND/CM_BEC/{status}", message)

    def unauthorized(self, request: Request) -> Response | None:
        expected = f"{self.config['username']}:{self.config['password']}"
        header = request.header("authorization")
        ok = False
        if header.startswith("Basic "):
            try:
                ok = base64.b64decode(header[6:]).decode() == expected
            except ValueError:
                ok = False
        if ok:
            return None
        return text_response(
            401,
            "Logon failed",
            [
                (
                    "WWW-Authenticate",
                    f'Basic realm="SAP NetWeaver Application Server [{self.config["sid"]}/{self.config["client"]}]"',
                )
            ],
        )

    def csrf_refused(self, request: Request) -> Response | None:
        if request.method in {"GET", "HEAD"}:
            return None
        session = request.cookies().get(self.cookie_name, "")
        token = request.header("x-csrf-token")
        if session and token and self.sessions.get(session) == token:
            return None
        return text_response(403, "CSRF token validation failed", [("x-csrf-token", "Required")])

    def csrf_fetch(self, request: Request, response: Response) -> None:
        if (
            request.method not in {"GET", "HEAD"}
            or request.header("x-csrf-token").lower() != "fetch"
        ):
            return
        session = request.cookies().get(self.cookie_name, "")
        if session not in self.sessions:
            session = secrets.token_urlsafe(24)
            self.sessions[session] = secrets.token_urlsafe(16) + "=="
            response.headers.append(
                ("Set-Cookie", f"{self.cookie_name}={session}; path=/; HttpOnly")
            )
            response.headers.append(
                (
                    "Set-Cookie",
                    f"sap-XSRF_{self.config['sid']}_{self.config['client']}={secrets.token_hex(8)}; path=/",
                )
            )
        response.headers.append(("x-csrf-token", self.sessions[session]))

    def pre_commit_fault(self, fault: dict[str, Any], request: Request) -> Response:
        if fault["kind"] == "expire_token":  # the session timed out: token and cookie are void
            with self.lock:
                self.sessions.clear()
            return text_response(
                403, "CSRF token validation failed", [("x-csrf-token", "Required")]
            )
        return super().pre_commit_fault(fault, request)

    def route(self, request: Request) -> Response:
        with self.lock:
            refused = self.unauthorized(request)
            if refused:
                return refused
            refused = self.csrf_refused(request)
            if refused:
                return refused
            if not request.path.startswith(ROOT):
                return sap_error(
                    404,
                    "/IWFND/MED/170",
                    f"No service found for namespace '', name '{request.path}'",
                )
            service, _, resource = request.path[len(ROOT) :].partition("/")
            try:
                response = self.dispatch(request, service, resource)
            except SapError as exc:
                response = sap_error(
                    exc.status, exc.code, exc.text, target=exc.target, service=service
                )
            except FilterError as exc:
                response = sap_error(
                    400, "/IWBEP/CM_MGW_RT/004", f"Invalid $filter: {exc}", service=service
                )
            self.csrf_fetch(request, response)
            return response

    def dispatch(self, request: Request, service: str, resource: str) -> Response:
        resource = resource.strip("/")
        if service not in ORDER_SERVICES and service not in CONF_SERVICES and service != MATDOC_SRV:
            raise SapError(
                404,
                "/IWFND/MED/170",
                f"No service found for namespace '/SAP/', name '{service}', version '0001'",
            )
        if resource == "":
            return json_response(200, {"d": {"EntitySets": self.entity_sets(service)}})
        match = _RESOURCE.match(resource)
        if not match:
            raise SapError(
                404, "/IWBEP/CM_MGW_RT/021", f"Resource not found for segment '{resource}'"
            )
        name, key, nav = match.group("name"), match.group("key"), match.group("nav")
        if service in ORDER_SERVICES:
            return self.order_service(request, service, name, key, nav)
        if service in CONF_SERVICES:
            cancel = "CancelProdnOrdConf" if service == CONF_SRV else "CancelProcOrdConf"
            if name == cancel and request.method == "POST":
                return self.cancel_confirmation(request, service, cancel)
            if name != CONF_SERVICES[service]:
                raise SapError(
                    404, "/IWBEP/CM_MGW_RT/021", f"Resource not found for segment '{name}'"
                )
            if request.method == "POST" and key is None:
                return self.post_confirmation(request, service)
            if request.method == "GET":
                rows = self.confirmation_rows(service, key)
                return self.collection(
                    request, service, name, rows, render=lambda c: self.render_conf(service, c)
                )
            raise SapError(405, "/IWBEP/CM_MGW_RT/105", f"Method {request.method} not allowed")
        # material documents
        if name == "A_MaterialDocumentHeader" and request.method == "POST" and key is None:
            return self.post_material_document(request)
        if name == "A_MaterialDocumentItem" and request.method == "GET":
            items = [item for doc in self.material_docs for item in doc["_items"]]
            return self.collection(request, service, name, items, render=self.render_item)
        if name == "A_MaterialDocumentHeader" and request.method == "GET":
            docs = [self.render_doc(doc, expand=False) for doc in self.material_docs]
            return self.collection(request, service, name, docs)
        raise SapError(404, "/IWBEP/CM_MGW_RT/021", f"Resource not found for segment '{name}'")

    @staticmethod
    def entity_sets(service: str) -> list[str]:
        if service in ORDER_SERVICES:
            return [ORDER_SERVICES[service]["set"], ORDER_SERVICES[service]["ops"]]
        if service in CONF_SERVICES:
            return [CONF_SERVICES[service]]
        return ["A_MaterialDocumentHeader", "A_MaterialDocumentItem"]

    # ---------------------------------------------------------------- render
    def base_uri(self, request: Request, service: str) -> str:
        return f"http://{request.header('host', '127.0.0.1')}{ROOT}{service}/"

    def render_order(
        self, request: Request, service: str, order: dict[str, Any], expand: bool
    ) -> dict[str, Any]:
        meta = ORDER_SERVICES[service]
        uri = f"{self.base_uri(request, service)}{meta['set']}('{order['ManufacturingOrder']}')"
        out = {
            "__metadata": {
                "id": uri,
                "uri": uri,
                "type": f"{service}.{meta['set']}Type",
                "etag": self.etag(order),
            },
            **{k: v for k, v in order.items() if not k.startswith("_")},
        }
        if expand:
            out[meta["nav"]] = {
                "results": [self.render_op(request, service, op) for op in order["_ops"]]
            }
        else:
            out[meta["nav"]] = {"__deferred": {"uri": f"{uri}/{meta['nav']}"}}
        return out

    def render_op(self, request: Request, service: str, op: dict[str, Any]) -> dict[str, Any]:
        meta = ORDER_SERVICES[service]
        key = f"ManufacturingOrder='{op['ManufacturingOrder']}',ManufacturingOrderOperation='{op['ManufacturingOrderOperation']}'"
        uri = f"{self.base_uri(request, service)}{meta['ops']}({key})"
        return {"__metadata": {"id": uri, "uri": uri, "type": f"{service}.{meta['ops']}Type"}, **op}

    def render_item(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"__metadata": {"type": f"{MATDOC_SRV}.A_MaterialDocumentItemType"}, **item}

    def render_doc(self, doc: dict[str, Any], expand: bool = True) -> dict[str, Any]:
        out = {
            "__metadata": {"type": f"{MATDOC_SRV}.A_MaterialDocumentHeaderType"},
            **{k: v for k, v in doc.items() if not k.startswith("_")},
        }
        if expand:
            out["to_MaterialDocumentItem"] = {
                "results": [self.render_item(i) for i in doc["_items"]]
            }
        return out

    def collection(
        self,
        request: Request,
        service: str,
        name: str,
        rows: list[dict[str, Any]],
        render: Any = None,
    ) -> Response:
        """Filter, order and page `rows`; `render` (if given) dresses only the page's rows."""
        q = request.query
        if "$filter" in q:
            fields = set(rows[0]) if rows else set()  # one entity type: the same keys
            fields |= self.known_fields(name)
            predicate = compile_filter(q["$filter"], fields)
            rows = [r for r in rows if predicate(r)]
        if "$orderby" in q:
            for clause in reversed(q["$orderby"].split(",")):
                field, _, direction = clause.strip().partition(" ")
                rows.sort(
                    key=lambda r, f=field: str(r.get(f, "")), reverse=direction.strip() == "desc"
                )
        total = len(rows)
        skip = int(q.get("$skip") or 0) + int(q.get("$skiptoken") or 0)
        rows = rows[skip:]
        if "$top" in q:
            rows = rows[: int(q["$top"])]
        page_size = int(self.config["page_size"])
        page = rows[:page_size]
        body: dict[str, Any] = {"results": [render(r) for r in page] if render else page}
        if q.get("$inlinecount") == "allpages":
            body["__count"] = str(total)
        if len(rows) > page_size:
            params = {k: v for k, v in q.items() if k != "$skiptoken"}
            if "$top" in params:
                params["$top"] = str(int(params["$top"]) - page_size)
            params["$skiptoken"] = str(int(q.get("$skiptoken") or 0) + page_size)
            query = urlencode(params, quote_via=urlquote, safe="$',")
            body["__next"] = f"{self.base_uri(request, service)}{name}?{query}"
        return json_response(200, {"d": body})

    @staticmethod
    def known_fields(name: str) -> set[str]:
        common = {"ManufacturingOrder", "Material", "Plant", "LastChangeDateTime"}
        return common | {
            "ProductionPlant",
            "OrderIsReleased",
            "ExternalSystemConfirmation",
            "OrderID",
            "ConfirmationText",
            "ManufacturingOrderOperation",
            "MaterialDocumentItemText",
            "GoodsMovementType",
            "Batch",
        }

    # ---------------------------------------------------------------- orders
    def order_for(self, service: str, number: str) -> dict[str, Any]:
        order = self.orders.get(number)
        if not order or order["_kind"] != ORDER_SERVICES[service]["kind"]:
            raise SapError(404, "CO/004", f"Order {number} does not exist")
        return order

    def order_service(
        self, request: Request, service: str, name: str, key: str | None, nav: str | None
    ) -> Response:
        meta = ORDER_SERVICES[service]
        expand = meta["nav"] in request.query.get("$expand", "")
        if name == meta["set"]:
            if key is None and request.method == "GET":
                rows = [
                    self.render_order(request, service, o, expand)
                    for o in self.orders.values()
                    if o["_kind"] == meta["kind"]
                ]
                rows.sort(key=lambda r: r["ManufacturingOrder"])
                return self.collection(request, service, name, rows)
            if key is None:
                raise SapError(405, "/IWBEP/CM_MGW_RT/105", "Creating orders is not simulated")
            order = self.order_for(service, _key_value(key, "ManufacturingOrder"))
            if nav == meta["nav"] and request.method == "GET":
                rows = [self.render_op(request, service, op) for op in order["_ops"]]
                return self.collection(request, service, meta["ops"], rows)
            if nav:
                raise SapError(404, "/IWBEP/CM_MGW_RT/021", f"Navigation {nav} not found")
            if request.method == "GET":
                return json_response(
                    200,
                    {"d": self.render_order(request, service, order, expand)},
                    [("ETag", self.etag(order))],
                )
            if request.method in {"PATCH", "MERGE", "PUT"}:
                return self.patch_order(request, service, order)
            raise SapError(405, "/IWBEP/CM_MGW_RT/105", f"Method {request.method} not allowed")
        if name == meta["ops"] and request.method == "GET":
            rows = [
                self.render_op(request, service, op)
                for o in self.orders.values()
                if o["_kind"] == meta["kind"]
                for op in o["_ops"]
            ]
            return self.collection(request, service, name, rows)
        if name in {"ReleaseOrder", "OrderReleasedByMES", "TechlyCmpltOrder"}:
            if request.method != "POST":
                raise SapError(405, "/IWBEP/CM_MGW_RT/105", f"Function import {name} requires POST")
            return self.function_import(request, service, name)
        raise SapError(404, "/IWBEP/CM_MGW_RT/021", f"Resource not found for segment '{name}'")

    def check_if_match(self, request: Request, order: dict[str, Any]) -> None:
        sent = request.header("if-match")
        if not sent:
            raise SapError(
                428,
                "/IWBEP/CM_MGW_RT/162",
                "Precondition required: send If-Match with the entity's ETag",
            )
        if sent != "*" and sent != self.etag(order):
            raise SapError(
                412,
                "/IWBEP/CM_MGW_RT/161",
                f"Precondition failed: order {order['ManufacturingOrder']} was changed (ETag {self.etag(order)})",
            )

    def check_locked(self, number: str) -> None:
        if number in self.config["locked_orders"]:
            raise SapError(
                400, LOCK_CODE, f"Order {number} is currently being processed by user PLANNER01"
            )

    def patch_order(self, request: Request, service: str, order: dict[str, Any]) -> Response:
        self.check_if_match(request, order)
        self.check_locked(order["ManufacturingOrder"])
        body = request.json() or {}
        changes = {k: v for k, v in body.items() if k != "__metadata"}
        for name, value in changes.items():
            if not (name.startswith("YY1_") or name == "ManufacturingOrderImportance"):
                raise SapError(400, "/IWBEP/CM_MGW_RT/019", f"Property '{name}' is read-only", name)
            if not isinstance(value, str):
                raise SapError(
                    400, "/IWBEP/CM_MGW_RT/020", f"Property '{name}' must be a string", name
                )
        order.update(changes)
        self.touch(order)
        self.record_effect(
            request, "order_update", {"order": order["ManufacturingOrder"], **changes}
        )
        return Response(status=204, headers=[("ETag", self.etag(order))])

    def function_import(self, request: Request, service: str, name: str) -> Response:
        number = _key_value(request.query.get("ManufacturingOrder", ""), "ManufacturingOrder")
        order = self.order_for(service, number)
        self.check_locked(number)
        if name == "ReleaseOrder":
            order["OrderIsReleased"] = "X"
            text = f"Order {number} released"
        elif name == "OrderReleasedByMES":
            if order["OrderIsReleased"] != "X":
                raise SapError(400, "CO/016", f"Order {number} is not released")
            if order["_mes_released"]:
                raise SapError(400, "CO/017", f"Order {number} is already released by MES")
            order["_mes_released"] = True
            text = f"Order {number} released by MES"
        else:  # TechlyCmpltOrder
            self.check_if_match(request, order)
            if order["OrderIsTechnicallyCompleted"] == "X":
                raise SapError(400, "CO/018", f"Order {number} is already technically completed")
            if order["OrderIsReleased"] != "X":
                raise SapError(400, "CO/016", f"Order {number} is not released")
            order["OrderIsTechnicallyCompleted"] = "X"
            text = f"Order {number} technically completed"
        self.touch(order)
        kind = {"OrderReleasedByMES": "order_start", "TechlyCmpltOrder": "order_completion"}.get(
            name, "release"
        )
        self.record_effect(request, kind, {"order": number, "function": name})
        message = {
            "code": "CO/093",
            "message": text,
            "severity": "success",
            "target": "",
            "details": [],
        }
        body = {
            "d": {
                name: {
                    "__metadata": {"type": f"{service}.FunctionMessage"},
                    "ManufacturingOrder": number,
                    "Type": "S",
                    "Message": text,
                }
            }
        }
        return json_response(
            200, body, [("sap-message", json.dumps(message)), ("ETag", self.etag(order))]
        )

    # ---------------------------------------------------------- confirmations
    def confirmation_rows(self, service: str, key: str | None) -> list[dict[str, Any]]:
        rows = [c for c in self.confirmations if c["_service"] == service]
        if key is not None:
            group, count = (
                _key_value(key, "ConfirmationGroup"),
                _key_value(key, "ConfirmationCount"),
            )
            rows = [
                r
                for r in rows
                if r["ConfirmationGroup"] == group and r["ConfirmationCount"] == count
            ]
            if not rows:
                raise SapError(404, "RU/001", f"Confirmation {group}/{count} does not exist")
        return rows

    @staticmethod
    def render_conf(service: str, row: dict[str, Any]) -> dict[str, Any]:
        out = {"__metadata": {"type": f"{service}.{CONF_SERVICES[service]}Type"}}
        out.update({k: v for k, v in row.items() if k != "_service"})
        return out

    def cancel_confirmation(self, request: Request, service: str, name: str) -> Response:
        """Reverse a confirmation: a new row with IsReversal, the original IsReversed, the
        operation's totals taken back (the reversal of its goods movements is not simulated)."""
        group = _key_value(request.query.get("ConfirmationGroup", ""), "ConfirmationGroup")
        count = _key_value(request.query.get("ConfirmationCount", ""), "ConfirmationCount")
        if not group or not count:
            raise SapError(400, "RU/002", "ConfirmationGroup and ConfirmationCount are mandatory")
        original = next(
            (
                c
                for c in self.confirmations
                if c["_service"] == service
                and c["ConfirmationGroup"] == group
                and c["ConfirmationCount"] == count
            ),
            None,
        )
        if original is None:
            raise SapError(404, "RU/001", f"Confirmation {group}/{count} does not exist")
        if original["IsReversed"] or original["IsReversal"]:
            raise SapError(400, "RU/401", f"Confirmation {group}/{count} is already cancelled")
        order = self.orders[original["OrderID"]]
        op = next(
            o
            for o in order["_ops"]
            if o["ManufacturingOrderOperation"] == original["OrderOperation"]
        )
        yield_qty = Decimal(original["ConfirmationYieldQuantity"])
        op["OpTotalConfirmedYieldQty"] = decimal_literal(
            Decimal(op["OpTotalConfirmedYieldQty"]) - yield_qty
        )
        op["OpTotalConfirmedScrapQty"] = decimal_literal(
            Decimal(op["OpTotalConfirmedScrapQty"]) - Decimal(original["ConfirmationScrapQuantity"])
        )
        if original["FinalConfirmationType"] == "X":
            op["OperationIsFinallyConfirmed"] = ""
            order["OrderIsConfirmed"] = ""
        if op is order["_ops"][-1]:
            order["MfgOrderConfirmedYieldQty"] = decimal_literal(
                Decimal(order["MfgOrderConfirmedYieldQty"]) - yield_qty
            )
        original["IsReversed"] = True
        reversal = {
            **original,
            "ConfirmationCount": f"{1 + sum(1 for c in self.confirmations if c['ConfirmationGroup'] == group):08d}",
            "IsReversal": True,
            "IsReversed": False,
            "ConfirmationText": str(request.query.get("ConfirmationText", "")).strip("'"),
        }
        self.confirmations.append(reversal)
        self.touch(order)
        self.record_effect(request, "confirmation_cancel", {"group": group, "count": count})
        body = {"d": {name: self.render_conf(service, reversal)}}
        return json_response(200, body)

    def check_period(self, posting: Any, what: str) -> None:
        closed_before = self.config.get("closed_before") or ""
        when = (
            from_datetime_literal(posting) if posting else datetime.fromtimestamp(self.clock(), UTC)
        )
        if closed_before and when and when.date().isoformat() < closed_before:
            raise SapError(
                400,
                "M7/053",
                f"{what}: posting period {when:%m/%Y} is closed (open from {closed_before})",
                "PostingDate",
            )

    def post_confirmation(self, request: Request, service: str) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise SapError(400, "/IWBEP/CM_MGW_RT/000", "Request body is not a JSON object")
        number = str(body.get("OrderID") or "")
        order = self.orders.get(number)
        if not order:
            raise SapError(400, "RU/019", f"Order {number or '(empty)'} does not exist", "OrderID")
        quantities = {name: _decimal(body, name) for name in CONF_DECIMALS}
        if any(v < 0 for v in quantities.values()):
            raise SapError(400, "RU/033", "Quantities must not be negative")
        self.check_locked(number)
        if order["OrderIsTechnicallyCompleted"] == "X" or order["OrderIsClosed"] == "X":
            raise SapError(
                400, "RU/152", f"Order {number} is technically completed: no confirmation possible"
            )
        if order["OrderIsReleased"] != "X":
            raise SapError(400, "RU/153", f"Order {number} is not released")
        self.check_period(body.get("PostingDate"), "Confirmation")
        op_number = str(body.get("OrderOperation") or "")
        op = next((o for o in order["_ops"] if o["ManufacturingOrderOperation"] == op_number), None)
        if op is None:
            raise SapError(
                400,
                "RU/107",
                f"Operation {op_number or '(empty)'} does not exist in order {number}",
                "OrderOperation",
            )
        if op["OperationIsFinallyConfirmed"] == "X":
            raise SapError(
                400,
                "RU/138",
                f"Operation {op_number} of order {number} is already finally confirmed",
                "OrderOperation",
            )
        yield_qty = quantities["ConfirmationYieldQuantity"]
        confirmed = Decimal(op["OpTotalConfirmedYieldQty"]) + yield_qty
        limit = Decimal(order["TotalQuantity"]) * (
            1 + Decimal(str(self.config["tolerance_pct"])) / 100
        )
        if confirmed > limit:
            raise SapError(
                400,
                "RU/121",
                f"Confirmed yield {confirmed} exceeds the tolerance of order {number} ({limit:.3f})",
                "ConfirmationYieldQuantity",
            )
        guid = str(body.get("ExternalSystemConfirmation") or "")
        if (
            guid
            and self.config["dedupe_external_confirmation"]
            and any(c["ExternalSystemConfirmation"] == guid for c in self.confirmations)
        ):
            raise SapError(400, "RU/550", f"Confirmation with external ID {guid} already exists")
        # apply
        group = order["_conf_group"]
        count = 1 + sum(1 for c in self.confirmations if c["ConfirmationGroup"] == group)
        final = body.get("FinalConfirmationType", "") == "X"
        now = datetime.fromtimestamp(self.clock(), UTC)
        row = {
            "_service": service,
            "ConfirmationGroup": group,
            "ConfirmationCount": f"{count:08d}",
            "OrderID": number,
            "Sequence": str(body.get("Sequence") or "0"),
            "OrderOperation": op_number,
            "OrderType": order["ManufacturingOrderType"],
            "Material": order["Material"],
            "Plant": str(body.get("Plant") or order["Plant"]),
            "WorkCenter": str(body.get("WorkCenter") or op["WorkCenter"]),
            "ConfirmationUnit": str(body.get("ConfirmationUnit") or order["ProductionUnit"]),
            "FinalConfirmationType": "X" if final else "",
            "IsFinalConfirmation": final,
            "IsReversed": False,
            "IsReversal": False,
            "ExternalSystemConfirmation": guid,
            "ConfirmationText": str(body.get("ConfirmationText") or ""),
            "EnteredByExternalUser": str(body.get("EnteredByExternalUser") or ""),
            "PostingDate": body.get("PostingDate") or to_datetime_literal(now),
            "ConfirmationEntryDate": to_datetime_literal(now.date()),
            "ConfirmationEntryTime": f"PT{now:%H}H{now:%M}M{now:%S}S",
            "OpWorkQuantityUnit1": str(body.get("OpWorkQuantityUnit1") or ""),
            "OpWorkQuantityUnit2": str(body.get("OpWorkQuantityUnit2") or ""),
            **{name: decimal_literal(value) for name, value in quantities.items()},
        }
        self.confirmations.append(row)
        op["OpTotalConfirmedYieldQty"] = decimal_literal(confirmed)
        op["OpTotalConfirmedScrapQty"] = decimal_literal(
            Decimal(op["OpTotalConfirmedScrapQty"]) + quantities["ConfirmationScrapQuantity"]
        )
        if final:
            op["OperationIsFinallyConfirmed"] = "X"
        if op is order["_ops"][-1]:
            order["MfgOrderConfirmedYieldQty"] = decimal_literal(
                Decimal(order["MfgOrderConfirmedYieldQty"]) + yield_qty
            )
        if all(o["OperationIsFinallyConfirmed"] == "X" for o in order["_ops"]):
            order["OrderIsConfirmed"], order["OrderIsPartiallyConfirmed"] = "X", ""
        else:
            order["OrderIsPartiallyConfirmed"] = "X"
        self.touch(order)
        self.record_effect(
            request, "operation_confirmation", {k: v for k, v in row.items() if k != "_service"}
        )
        name = CONF_SERVICES[service]
        key = f"ConfirmationGroup='{group}',ConfirmationCount='{row['ConfirmationCount']}'"
        out = {
            "__metadata": {
                "type": f"{service}.{name}Type",
                "uri": f"{self.base_uri(request, service)}{name}({key})",
            }
        }
        out.update({k: v for k, v in row.items() if k != "_service"})
        return json_response(201, {"d": out}, [("Location", out["__metadata"]["uri"])])

    # ------------------------------------------------------ material documents
    def order_issued(self, number: str, item: dict[str, Any]) -> Decimal:
        """What of the item's material and batch the order holds: 261 - 262 posted."""
        total = Decimal(0)
        for doc in self.material_docs:
            for posted in doc["_items"]:
                if posted["ManufacturingOrder"] != number or not _same(posted, item):
                    continue
                sign = {"261": 1, "262": -1}.get(posted["GoodsMovementType"], 0)
                total += sign * Decimal(posted["QuantityInEntryUnit"])
        return total

    def post_material_document(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise SapError(400, "/IWBEP/CM_MGW_RT/000", "Request body is not a JSON object")
        code = str(body.get("GoodsMovementCode") or "")
        if code not in MOVEMENTS:
            raise SapError(
                400,
                "M7/001",
                f"GoodsMovementCode '{code}' is not supported (02 GR for order, 03 GI)",
                "GoodsMovementCode",
            )
        items = (body.get("to_MaterialDocumentItem") or {}).get("results") or []
        if not items:
            raise SapError(400, "M7/002", "Enter at least one material document item")
        self.check_period(body.get("PostingDate"), "Material document")
        checked = []
        for n, item in enumerate(items, start=1):
            target = f"to_MaterialDocumentItem({n})"
            movement = str(item.get("GoodsMovementType") or "")
            if movement not in MOVEMENTS[code]:
                raise SapError(
                    400,
                    "M7/003",
                    f"Movement type {movement or '(empty)'} is not allowed with GoodsMovementCode {code}",
                    target,
                )
            number = str(item.get("ManufacturingOrder") or "")
            order = self.orders.get(number)
            if not order:
                raise SapError(400, "KI/235", f"Order {number or '(empty)'} does not exist", target)
            self.check_locked(number)
            if order["OrderIsReleased"] != "X" or order["OrderIsTechnicallyCompleted"] == "X":
                raise SapError(
                    400,
                    "CO/016",
                    f"Order {number} is not released or already technically completed",
                    target,
                )
            if not item.get("Material"):
                raise SapError(400, "M7/018", "Enter a material", target)
            if str(item.get("Plant") or "") != order["Plant"]:
                raise SapError(
                    400,
                    "M7/019",
                    f"Plant {item.get('Plant')!r} differs from the order's plant {order['Plant']}",
                    target,
                )
            if self.config["batch_required"] and not item.get("Batch"):
                raise SapError(
                    400,
                    "M7/034",
                    f"Material {item['Material']} is batch-managed: enter a batch",
                    target,
                )
            quantity = _decimal(item, "QuantityInEntryUnit", "")
            if quantity <= 0:
                raise SapError(400, "M7/024", "Quantity must be greater than zero", target)
            if not item.get("EntryUnit"):
                raise SapError(400, "M7/025", "Enter a unit of entry", target)
            if movement == "262":
                # a reversal of goods issues to the order: never more of the material and
                # batch than the order holds (261 - 262 so far, this document's items too)
                issued = self.order_issued(number, item) - sum(
                    (q for i, q in checked if i["GoodsMovementType"] == "262" and _same(i, item)),
                    Decimal(0),
                )
                if quantity > issued:
                    raise SapError(
                        400,
                        "M7/062",
                        f"Quantity {decimal_literal(quantity)} to reverse exceeds the "
                        f"{decimal_literal(issued)} of material {item['Material']} batch "
                        f"{item.get('Batch') or '(none)'} issued to order {number}",
                        target,
                    )
            checked.append((item, quantity))
        self.doc_numbers += 1
        year = f"{datetime.fromtimestamp(self.clock(), UTC):%Y}"
        doc = {
            "MaterialDocumentYear": year,
            "MaterialDocument": f"49{self.doc_numbers:08d}",
            "GoodsMovementCode": code,
            "PostingDate": body.get("PostingDate")
            or to_datetime_literal(datetime.fromtimestamp(self.clock(), UTC)),
            "DocumentDate": body.get("DocumentDate") or "",
            "MaterialDocumentHeaderText": str(body.get("MaterialDocumentHeaderText") or "")[:25],
            "_items": [],
        }
        for n, (item, quantity) in enumerate(checked, start=1):
            doc["_items"].append(
                {
                    "MaterialDocumentYear": year,
                    "MaterialDocument": doc["MaterialDocument"],
                    "MaterialDocumentItem": f"{n:04d}",
                    "Material": item["Material"],
                    "Plant": item["Plant"],
                    "StorageLocation": str(item.get("StorageLocation") or ""),
                    "Batch": str(item.get("Batch") or ""),
                    "GoodsMovementType": item["GoodsMovementType"],
                    "ManufacturingOrder": item["ManufacturingOrder"],
                    "EntryUnit": item["EntryUnit"],
                    "QuantityInEntryUnit": decimal_literal(quantity),
                    "MaterialDocumentItemText": str(item.get("MaterialDocumentItemText") or "")[
                        :50
                    ],
                }
            )
        self.material_docs.append(doc)
        kind = "goods_receipt" if code == "02" else "goods_issue"
        self.record_effect(request, kind, self.render_doc(doc))
        return json_response(201, {"d": self.render_doc(doc)})
