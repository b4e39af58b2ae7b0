"""The consumption gate of lot reservations (registered in WorkordersConfig.ready): a lot
reserved for a work order (mixed-mode handoff) may be consumed only by that work order's
operations; any other work order or batch is refused with the reason."""

import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import connection

from genealogy.exceptions import LotNotConsumable
from mes.prepared import prepared
from workorders.models import LotReservation, WorkOrder


def _work_order_number(context: Mapping[str, Any]) -> str | None:
    if context.get("kind") != "wo_operation":
        return None
    return str(context.get("ref") or "").split("/op", 1)[0].strip() or None


@functools.cache
def _holders_sql() -> str:
    """The work orders holding an open reservation of a lot. Asked at every consumption (each
    component scan): written by hand and prepared, as the terminal's other hot reads."""
    q = connection.ops.quote_name
    held, wo = q(LotReservation._meta.db_table), q(WorkOrder._meta.db_table)
    return (
        f"SELECT {wo}.number FROM {held} INNER JOIN {wo} ON {wo}.id = {held}.work_order_id "
        f"WHERE {held}.lot_id = %s AND {held}.ended_at IS NULL"
    )


def reserved_lot_gate(lot: Any, quantity: Decimal, context: Mapping[str, Any]) -> None:
    with prepared("mes_wo_lot_reserved"), connection.cursor() as cursor:
        cursor.execute(_holders_sql(), [lot.pk])
        holders = [number for (number,) in cursor.fetchall()]
    if not holders or _work_order_number(context) in holders:
        return
    raise LotNotConsumable(
        f"Lot {lot.lot_number} is reserved for work order {', '.join(sorted(holders))}; "
        f"it cannot be consumed by {context.get('kind', '?')} {context.get('ref', '?')}.",
        code="lot_reserved",
    )
