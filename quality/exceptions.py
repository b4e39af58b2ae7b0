"""Refusals of quality. Each one means: nothing was written."""

from genealogy.exceptions import LotNotConsumable
from mes.exceptions import Conflict, InvalidInput, NotFound


class LotNotReleased(LotNotConsumable):
    """The consumption (or shipment) gate of quality: the lot is not released, or expired."""

    code = "lot_not_released"


class LotNotReleasable(Conflict):
    """A release was refused: results missing or failing without a signed override, an open
    deviation, no approved specification. `code` names which."""

    code = "lot_not_releasable"


class SpecificationNotUsable(Conflict):
    code = "specification_not_usable"


class ResultAlreadyRecorded(Conflict):
    """A current result exists for that test and sample: enter a correction instead."""

    code = "result_exists"


class InvalidResultValue(InvalidInput):
    code = "invalid_result_value"


class DeviationNotClosable(Conflict):
    code = "deviation_not_closable"


class OverrideRefused(Conflict):
    code = "override_refused"


class CharacteristicNotFound(NotFound):
    code = "characteristic_not_found"
