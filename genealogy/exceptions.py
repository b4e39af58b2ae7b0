"""Refusals of genealogy. Each one means: nothing was written."""

from mes.exceptions import Conflict, DomainError, InvalidInput, NotFound


class InsufficientQuantity(Conflict):
    """The lot does not hold the quantity asked for (another consumption may have won)."""

    code = "insufficient_quantity"


class LotNotConsumable(Conflict):
    """A consumption gate refused the lot (expired, not released, ...)."""

    code = "lot_not_consumable"


class GenealogyCycle(Conflict):
    """The link would make a lot its own ancestor."""

    code = "genealogy_cycle"


class UnitOfMeasureMismatch(InvalidInput):
    code = "uom_mismatch"


class DuplicateLot(Conflict):
    code = "duplicate_lot"


class LotNotFound(NotFound):
    code = "lot_not_found"


class ImportRefused(DomainError):
    """A genealogy file was refused; `line` names the first bad line. Nothing was loaded."""

    code = "import_refused"
    status_code = 400

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason
