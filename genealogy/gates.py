"""Gates that may veto a consumption or a shipment, without genealogy knowing who asks.

`quality` (a higher layer) registers "only released lots may be consumed" here in its
AppConfig.ready(); genealogy calls every gate inside the consuming transaction, after the lot
row is locked, so a gate sees the lot as it is at that moment.

    from genealogy.gates import register_consumption_gate

    def only_released(lot, quantity, context):
        if lot.status != "released":
            raise LotNotConsumable(f"Lot {lot.lot_number} is {lot.status}, not released.")

    register_consumption_gate(only_released)

A gate is `fn(lot, quantity, context) -> None`; it raises a `DomainError` to refuse. `context`
is a mapping with `kind`, `ref`, `url` (where the material goes) and `occurred_at`.
Built-in gates (always first): the quantity is positive and available; the lot has not expired
and its retest date has not passed.
"""

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.utils import timezone

from genealogy.exceptions import InsufficientQuantity, LotNotConsumable
from mes.exceptions import InvalidInput

Gate = Callable[[Any, Decimal, Mapping[str, Any]], None]

_consumption_gates: list[Gate] = []
_shipment_gates: list[Gate] = []


def _on_date(context: Mapping[str, Any]) -> Any:
    occurred_at = context.get("occurred_at")
    return timezone.localdate(occurred_at) if occurred_at else timezone.localdate()


def gate_quantity_available(lot: Any, quantity: Decimal, context: Mapping[str, Any]) -> None:
    if quantity <= 0:
        raise InvalidInput(f"The quantity must be positive (got {quantity}).")
    if quantity > lot.quantity:
        raise InsufficientQuantity(
            f"Lot {lot.lot_number} holds {lot.quantity} {lot.uom}; "
            f"{quantity} {lot.uom} cannot be taken from it."
        )


def gate_not_expired(lot: Any, quantity: Decimal, context: Mapping[str, Any]) -> None:
    on = _on_date(context)
    if lot.expires_at is not None and lot.expires_at < on:
        raise LotNotConsumable(
            f"Lot {lot.lot_number} expired on {lot.expires_at.isoformat()}.", code="lot_expired"
        )
    if lot.retest_at is not None and lot.retest_at < on:
        raise LotNotConsumable(
            f"Lot {lot.lot_number} passed its retest date {lot.retest_at.isoformat()}; "
            "it must be retested before use.",
            code="lot_retest_due",
        )


BUILTIN_CONSUMPTION_GATES: tuple[Gate, ...] = (gate_quantity_available, gate_not_expired)
BUILTIN_SHIPMENT_GATES: tuple[Gate, ...] = (gate_quantity_available,)


def register_consumption_gate(fn: Gate) -> Gate:
    """Add a gate called for every consumption (idempotent; usable as a decorator)."""
    if fn not in _consumption_gates:
        _consumption_gates.append(fn)
    return fn


def unregister_consumption_gate(fn: Gate) -> None:
    if fn in _consumption_gates:
        _consumption_gates.remove(fn)


def register_shipment_gate(fn: Gate) -> Gate:
    """Add a gate called for every shipment (e.g. quality: only released lots ship)."""
    if fn not in _shipment_gates:
        _shipment_gates.append(fn)
    return fn


def unregister_shipment_gate(fn: Gate) -> None:
    if fn in _shipment_gates:
        _shipment_gates.remove(fn)


def check_consumption(lot: Any, quantity: Decimal, context: Mapping[str, Any]) -> None:
    for gate in (*BUILTIN_CONSUMPTION_GATES, *_consumption_gates):
        gate(lot, quantity, context)


def check_shipment(lot: Any, quantity: Decimal, context: Mapping[str, Any]) -> None:
    for gate in (*BUILTIN_SHIPMENT_GATES, *_shipment_gates):
        gate(lot, quantity, context)
