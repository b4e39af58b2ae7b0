"""The gates quality registers with genealogy (QualityConfig.ready()): only a lot QA released,
and not expired, may be consumed or shipped. Genealogy calls them inside its transaction with
the lot row locked; a refusal raises `LotNotReleased` and genealogy writes nothing."""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.utils import timezone

from genealogy.choices import LotStatus
from quality.exceptions import LotNotReleased


def _on_date(context: Mapping[str, Any]) -> Any:
    occurred_at = context.get("occurred_at")
    return timezone.localdate(occurred_at) if occurred_at else timezone.localdate()


def _lot_words(lot: Any) -> str:
    expiry = (
        f"expires {lot.expires_at.isoformat()}" if lot.expires_at is not None else "no expiry date"
    )
    return f"Lot {lot.lot_number} ({lot.material.code}) is {lot.get_status_display().lower()}, {expiry}"


def _check(lot: Any, context: Mapping[str, Any], what: str) -> None:
    if lot.status != LotStatus.RELEASED:
        raise LotNotReleased(
            f"{_lot_words(lot)}: only a lot released by QA may be {what}.",
            code="lot_not_released",
        )
    on = _on_date(context)
    if lot.expires_at is not None and lot.expires_at < on:
        raise LotNotReleased(
            f"{_lot_words(lot)}: it expired before {on.isoformat()} and may not be {what}.",
            code="lot_expired",
        )


def only_released_lots_consumed(lot: Any, quantity: Decimal, context: Mapping[str, Any]) -> None:
    _check(lot, context, "consumed")


def only_released_lots_shipped(lot: Any, quantity: Decimal, context: Mapping[str, Any]) -> None:
    _check(lot, context, "shipped")
