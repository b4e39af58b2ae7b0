"""The contract every ERP adapter keeps.

The MES speaks one canonical language (`InboundOrder`, `OutboundMessage`); an adapter
translates it to and from one ERP's API (SAP S/4HANA OData V2, Dynamics 365 SCM's MES
integration messages, Oracle Manufacturing Cloud REST, a generic HMAC-signed webhook) using a
per-site `mapping` (plant codes, work-center codes, units of measure, order types ...).

Adapters are plain Python over `httpx`: no Django models, no database. The outbox task calls
`deliver()`; the pull task calls `fetch_orders()`; the reconciliation job calls `read_back()`.

Errors: an adapter raises `AdapterError(retryable=True)` for what may succeed later (timeout,
connection refused, 5xx, 429 with `retry_after`), `AdapterError(retryable=False)` for what
never will as sent (4xx validation error: fix the mapping, then retry from the dead-letter
screen). "Committed but the response was lost" is handled by the idempotency key: the ERP (or
the adapter, by reading back before re-posting) must treat a second delivery of the same key as
a duplicate, and `deliver()` then returns `DeliveryResult(duplicate=True)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

# Outbound message kinds (what the plant did).
ORDER_START = "order_start"
OPERATION_CONFIRMATION = "operation_confirmation"
GOODS_ISSUE = "goods_issue"
GOODS_RECEIPT = "goods_receipt"
BATCH_YIELD = "batch_yield"
ORDER_COMPLETION = "order_completion"
ORDER_REJECTION = "order_rejection"  # an inbound change refused, with the reason

MESSAGE_KINDS = (
    ORDER_START,
    OPERATION_CONFIRMATION,
    GOODS_ISSUE,
    GOODS_RECEIPT,
    BATCH_YIELD,
    ORDER_COMPLETION,
    ORDER_REJECTION,
)


@dataclass
class InboundOrder:
    """A planned or released ERP order, in the MES's words.

    kind: "process" (becomes a batch order: `recipe_code`, quantity = batch size) or
    "discrete" (becomes a work order: item, quantity, BOM/routing taken as approved in the MES).
    (erp_order_id, version) identify it: the same pair twice is a no-op; a higher version is a
    change.
    """

    erp_order_id: str
    version: str
    kind: str
    material_code: str
    quantity: Decimal
    uom: str
    due: date | datetime | None = None
    start: date | datetime | None = None
    plant: str = ""
    recipe_code: str = ""
    work_center: str = ""
    expected_yield_pct: Decimal | None = None
    priority: int = 0
    status: str = "released"  # "planned", "released", "cancelled"
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class OutboundMessage:
    """One fact for the ERP. `payload` keys by kind (all values JSON-able, decimals as str):

    - order_start: {"started_at"}
    - operation_confirmation: {"operation", "work_center", "good", "scrap", "rework",
      "labor_hours", "machine_hours", "final": bool, "posted_at"}
    - goods_issue: {"material", "lot", "quantity", "uom", "posted_at"}; a return to stock of
      part of an issue is a goods issue with "reversal": true and "reverses" (the key of the
      issue it reverses), the quantity still positive: the ERP subtracts it (`is_reversal`)
    - goods_receipt: {"material", "lot", "quantity", "uom", "posted_at"}
    - batch_yield: {"theoretical", "actual", "uom", "yield_pct"}
    - order_completion: {"good", "scrap", "completed_at"}
    - order_rejection: {"reason", "version"}
    """

    kind: str
    idempotency_key: str
    erp_order_id: str
    payload: dict[str, Any]
    order_kind: str = "discrete"  # or "process"
    # Delivery attempt, 1 = first. None = unknown: adapters whose ERP does not dedupe by key
    # (SAP, Oracle, D365) then read back before posting, as they do on every attempt > 1.
    attempt: int | None = None


@dataclass
class DeliveryResult:
    external_ref: str = ""
    duplicate: bool = False
    detail: str = ""
    # False: delivered without posting anything (the ERP keeps nothing of this message, so
    # reconciliation will not find its key there)
    sent: bool = True
    # The HTTP exchanges of this delivery, for the outbox's audit record: [{"method", "url",
    # "status" | "error", "request", "response", "ms"}] (bodies truncated, secrets never kept).
    exchanges: list[dict[str, Any]] = field(default_factory=list)


class AdapterError(Exception):
    def __init__(
        self,
        detail: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
        body: str = "",
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.body = body
        self.exchanges: list[dict[str, Any]] = []  # as DeliveryResult.exchanges


class Adapter(Protocol):
    """What every adapter module provides (a class registered with `register_adapter`)."""

    kind: str  # "sap", "d365", "oracle", "rest"

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Mapping[str, str],
        mapping: Mapping[str, Any],
        timeout: float = 10.0,
    ) -> None: ...

    def fetch_orders(self, *, since: datetime | None = None) -> Iterable[InboundOrder]:
        """Every planned/released order changed since `since` (all pages)."""

    def deliver(self, message: OutboundMessage) -> DeliveryResult:
        """Send one message; raise AdapterError on failure."""

    def read_back(self, erp_order_id: str) -> dict[str, Any]:
        """The ERP's view of an order for reconciliation, canonical keys:
        {"status", "confirmed_good", "confirmed_scrap", "goods_receipts": Decimal,
         "goods_issues": Decimal, "idempotency_keys": set[str]}, optionally "operations":
        {"0010": {"good", "scrap", "labor_hours", "machine_hours": Decimal, "final": bool}}
        with only the figures that ERP keeps (summed over partial and final confirmations)."""


_adapters: dict[str, Callable[..., Adapter]] = {}


def register_adapter(kind: str, factory: Callable[..., Adapter]) -> None:
    _adapters[kind] = factory


def get_adapter(
    kind: str,
    *,
    base_url: str,
    credentials: Mapping[str, str] | None = None,
    mapping: Mapping[str, Any] | None = None,
    timeout: float = 10.0,
) -> Adapter:
    if not _adapters:
        # Importing the modules registers them.
        from erp_connectors.adapters import d365, oracle, rest, sap  # noqa: F401
    try:
        factory = _adapters[kind]
    except KeyError:
        raise AdapterError(f"No ERP adapter of kind {kind!r}", retryable=False) from None
    return factory(
        base_url=base_url, credentials=credentials or {}, mapping=mapping or {}, timeout=timeout
    )


def is_reversal(message: OutboundMessage | Mapping[str, Any]) -> bool:
    """A goods issue that reverses (part of) an earlier one: material returned to stock."""
    payload = message.payload if isinstance(message, OutboundMessage) else message
    return bool(payload.get("reversal"))


def decimal_str(value: Decimal | int | float | str) -> str:
    """A decimal as the plain string most ERPs want ("12.500" stays "12.500")."""
    return format(Decimal(str(value)), "f")
