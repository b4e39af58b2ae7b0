"""Quantities: Decimal with a unit of measure, 6 decimal places, converted within a dimension."""

from decimal import Decimal, InvalidOperation
from typing import Any

from genealogy.choices import UOM_DIMENSIONS
from genealogy.exceptions import UnitOfMeasureMismatch
from mes.exceptions import InvalidInput

PLACES = Decimal("0.000001")
MAX_QUANTITY = Decimal("999999999999")


def to_decimal(value: Any, *, what: str = "quantity") -> Decimal:
    """A finite Decimal of at most 6 decimal places (a float is read through its repr)."""
    if isinstance(value, Decimal):
        number = value
    else:
        try:
            number = Decimal(str(value).strip())
        except (InvalidOperation, ValueError) as exc:
            raise InvalidInput(f"The {what} {value!r} is not a number.") from exc
    if not number.is_finite():
        raise InvalidInput(f"The {what} {value!r} is not a finite number.")
    if number != number.quantize(PLACES):
        raise InvalidInput(f"The {what} {value} has more than 6 decimal places.")
    if abs(number) > MAX_QUANTITY:
        raise InvalidInput(f"The {what} {value} is too large.")
    return number.quantize(PLACES)


def convert(quantity: Decimal, from_uom: str, to_uom: str) -> Decimal:
    """`quantity` in `from_uom` expressed in `to_uom` (same dimension only)."""
    if from_uom == to_uom:
        return quantity
    try:
        dim_from, f_from = UOM_DIMENSIONS[from_uom]
        dim_to, f_to = UOM_DIMENSIONS[to_uom]
    except KeyError as exc:
        raise UnitOfMeasureMismatch(f"Unknown unit of measure {exc.args[0]!r}.") from exc
    if dim_from != dim_to:
        raise UnitOfMeasureMismatch(
            f"Cannot convert {from_uom} ({dim_from}) to {to_uom} ({dim_to})."
        )
    converted = quantity * f_from / f_to
    if converted != converted.quantize(PLACES):
        raise InvalidInput(f"{quantity} {from_uom} in {to_uom} needs more than 6 decimal places.")
    return converted.quantize(PLACES)


def in_uom(value: Any, uom: str | None, target_uom: str, *, what: str = "quantity") -> Decimal:
    """Parse `value` given in `uom` (default: `target_uom`) and express it in `target_uom`."""
    return convert(to_decimal(value, what=what), uom or target_uom, target_uom)
