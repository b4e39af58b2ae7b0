"""Refusals of the batch record."""

from mes.exceptions import Conflict, NotFound


class BatchNotFound(NotFound):
    code = "batch_not_found"


class PhaseNotActive(Conflict):
    """The phase is not active (pending, or another terminal completed it)."""

    code = "phase_not_active"


class PhaseOutOfSequence(Conflict):
    code = "phase_out_of_sequence"


class BatchNotReleasable(Conflict):
    code = "batch_not_releasable"


class BatchIncomplete(Conflict):
    code = "batch_incomplete"
