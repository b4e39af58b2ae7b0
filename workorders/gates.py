"""The consumption gate of lot reservations (registered in WorkordersConfig.ready): a lot
reserved for a work order (mixed-mode handoff) may be consumed only by that work order's
operations; any other work order or batch is refused with the reason."""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from genealogy.exceptions import LotNotConsumable
from mes.prepared import prepared
from workorders.models import LotReservation


def _work_order_number(context: Mapping[str, Any]) -> str | None:
    if context.get("kind") != "wo_operation":
        return None
    return str(context.get("ref") or "").split("/op", 1)[0].strip() or None


def reserved_lot_gate(lot: Any, quantity: Decimal, context: Mapping[str, Any]) -> None:
    with prepared("mes_wo_lot_reserved"):  # asked at every consumption (each scan)
        holders = list(
            LotReservation.objects.filter(lot_id=lot.pk, ended_at__isnull=True).values_list(
                "work_order__number", flat=True
            )
        )
    if not holders or _work_order_number(context) in holders:
        return
    raise LotNotConsumable(
        f"Lot {lot.lot_number} is reserved for work order {', '.join(sorted(holders))}; "
        f"it cannot be consumed by {context.get('kind', '?')} {context.get('ref', '?')}.",
        code="lot_reserved",
    )
