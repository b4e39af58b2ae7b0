"""Canonical outbound payloads for the adapter tests (one per message kind)."""

from __future__ import annotations

from erp_connectors.adapters.base import OutboundMessage

PAYLOADS = {
    "order_start": {"started_at": "2026-11-25T06:00:00Z"},
    "operation_confirmation": {
        "operation": "0010",
        "work_center": "WC-MIX",
        "good": "90",
        "scrap": "2.5",
        "rework": "0",
        "labor_hours": "1.5",
        "machine_hours": "2",
        "final": True,
        "posted_at": "2026-11-25T08:00:00Z",
    },
    "goods_issue": {
        "material": "RESIN-A",
        "lot": "L-1",
        "quantity": "40.5",
        "uom": "kg",
        "posted_at": "2026-11-25T07:00:00Z",
    },
    "goods_receipt": {
        "material": "PELLET",
        "lot": "L-2",
        "quantity": "88",
        "uom": "kg",
        "posted_at": "2026-11-25T09:00:00Z",
    },
    "batch_yield": {"theoretical": "100", "actual": "88", "uom": "kg", "yield_pct": "88.0"},
    "order_completion": {"good": "88", "scrap": "2.5", "completed_at": "2026-11-25T10:00:00Z"},
    "order_rejection": {"reason": "order already started", "version": "2"},
}


def message(
    kind: str,
    key: str,
    order: str = "4711",
    *,
    attempt: int | None = None,
    order_kind: str = "discrete",
    **payload,
) -> OutboundMessage:
    return OutboundMessage(
        kind=kind,
        idempotency_key=key,
        erp_order_id=order,
        payload={**PAYLOADS[kind], **payload},
        order_kind=order_kind,
        attempt=attempt,
    )
