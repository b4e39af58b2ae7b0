"""Factories of the ERP-connector tests (F2): a connection, canonical inbound orders, and a
scripted test-double adapter for the unit tests (the end-to-end tests use F1's simulators)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from equipment.tests.factories import SiteFactory
from erp_connectors import services
from erp_connectors.adapters.base import (
    AdapterError,
    DeliveryResult,
    InboundOrder,
    OutboundMessage,
)
from erp_connectors.models import ErpConnection


def connection(*, actor: Any, code: str = "ERP1", kind: str = "rest", **kw: Any) -> ErpConnection:
    return services.connection_create(
        actor=actor,
        site=kw.pop("site", None) or SiteFactory(),
        code=code,
        kind=kind,
        base_url=kw.pop("base_url", "http://127.0.0.1:9"),
        credentials_ref=kw.pop("credentials_ref", ""),
        mapping=kw.pop("mapping", {}),
        **kw,
    )


def process_order(erp_id: str = "PO-1", version: str = "1", **kw: Any) -> InboundOrder:
    data = {
        "erp_order_id": erp_id,
        "version": version,
        "kind": "process",
        "material_code": "RESIN-T",
        "quantity": Decimal("2000"),
        "uom": "kg",
        "due": timezone.localdate() + timedelta(days=5),
        "recipe_code": "RESIN-T",
        "expected_yield_pct": Decimal("97.5"),
        "status": "released",
    }
    data.update(kw)
    return InboundOrder(**data)


def discrete_order(erp_id: str = "WO-1", version: str = "1", **kw: Any) -> InboundOrder:
    data = {
        "erp_order_id": erp_id,
        "version": version,
        "kind": "discrete",
        "material_code": "KIT-20",
        "quantity": Decimal("3"),
        "uom": "ea",
        "due": timezone.localdate() + timedelta(days=5),
        "status": "released",
    }
    data.update(kw)
    return InboundOrder(**data)


@dataclass
class Script:
    """What the fake ERP does: `steps` are consumed one per delivery (an AdapterError to raise,
    or "ok"); when empty, every delivery succeeds. `seen` lists every message received;
    `applied` the idempotency keys with an effect (a key seen twice is a duplicate)."""

    steps: list[Any] = field(default_factory=list)
    seen: list[OutboundMessage] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    erp_view: dict[str, dict[str, Any]] = field(default_factory=dict)
    on_deliver: Callable[[OutboundMessage], None] | None = None


def fake_adapter_class(script: Script) -> type:
    class FakeAdapter:
        kind = "rest"

        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

        def deliver(self, message: OutboundMessage) -> DeliveryResult:
            script.seen.append(message)
            if script.on_deliver is not None:
                script.on_deliver(message)
            step = script.steps.pop(0) if script.steps else "ok"
            if isinstance(step, AdapterError):
                raise step
            if message.idempotency_key in script.applied:
                return DeliveryResult(external_ref="dup", duplicate=True)
            script.applied.append(message.idempotency_key)
            return DeliveryResult(external_ref=f"ERP-{len(script.applied)}")

        def fetch_orders(self, *, since: Any = None) -> list[InboundOrder]:
            return list(script.erp_view.get("__orders__", []))  # type: ignore[arg-type]

        def read_back(self, erp_order_id: str) -> dict[str, Any]:
            return script.erp_view[erp_order_id]

        def close(self) -> None:
            pass

    return FakeAdapter


def retryable(detail: str = "503 Service Unavailable", **kw: Any) -> AdapterError:
    return AdapterError(detail, retryable=True, status=kw.pop("status", 503), **kw)


def permanent(detail: str = "422 unknown work center", **kw: Any) -> AdapterError:
    return AdapterError(detail, retryable=False, status=kw.pop("status", 422), **kw)
