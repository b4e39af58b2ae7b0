"""Refusals of work orders. Each one means: nothing was written."""

from mes.exceptions import Conflict, InvalidInput


class VersionNotApproved(Conflict):
    """A BOM or routing is not approved, or not effective, for the action."""

    code = "version_not_approved"


class QuantityExceeded(Conflict):
    """More good (or scrap, rework) than reached the operation."""

    code = "quantity_exceeded"


class WrongComponent(InvalidInput):
    """The scanned lot or serial is not what the BOM asks for at this operation."""

    code = "wrong_component"


class SerialAlreadyUsed(Conflict):
    code = "serial_already_used"


class WorkInProgress(Conflict):
    """The work order still has units or quantities in progress."""

    code = "work_in_progress"


class ClockConflict(Conflict):
    """A labor or machine clock is not in the state the action needs."""

    code = "clock_conflict"
