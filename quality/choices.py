"""Value sets of quality, with the transition tables of specifications, deviations, CAPA
actions and nonconformances."""

from django.db import models


class SpecificationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    SUPERSEDED = "superseded", "Superseded"
    OBSOLETE = "obsolete", "Obsolete"


SPECIFICATION_TRANSITIONS: dict[str, frozenset[str]] = {
    SpecificationStatus.DRAFT: frozenset(
        {SpecificationStatus.APPROVED, SpecificationStatus.OBSOLETE}
    ),
    SpecificationStatus.APPROVED: frozenset(
        {SpecificationStatus.SUPERSEDED, SpecificationStatus.OBSOLETE}
    ),
    SpecificationStatus.SUPERSEDED: frozenset(),
    SpecificationStatus.OBSOLETE: frozenset(),
}


class SamplingBasis(models.TextChoices):
    """How many samples a lot needs: `sample_count` per lot, or per production batch (the lots
    one batch made share their samples)."""

    PER_LOT = "per_lot", "Per lot"
    PER_BATCH = "per_batch", "Per batch"


class TestKind(models.TextChoices):
    NUMERIC = "numeric", "Numeric (limits)"
    PASS_FAIL = "pass_fail", "Pass / fail"


class ResultOutcome(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"


class ResultSource(models.TextChoices):
    MANUAL = "manual", "Entered on screen"
    LIMS = "lims", "LIMS"


class Decision(models.TextChoices):
    """A lot disposition decision: the lot status it sets."""

    RELEASED = "released", "Released"
    REJECTED = "rejected", "Rejected"
    ON_HOLD = "on_hold", "On hold"
    QUARANTINE = "quarantine", "Returned to quarantine"


class DeviationStatus(models.TextChoices):
    OPEN = "open", "Open"
    INVESTIGATION = "investigation", "Under investigation"
    CLOSED = "closed", "Closed"


DEVIATION_TRANSITIONS: dict[str, frozenset[str]] = {
    DeviationStatus.OPEN: frozenset({DeviationStatus.INVESTIGATION, DeviationStatus.CLOSED}),
    DeviationStatus.INVESTIGATION: frozenset({DeviationStatus.CLOSED}),
    DeviationStatus.CLOSED: frozenset(),
}
OPEN_DEVIATION_STATUSES = (DeviationStatus.OPEN, DeviationStatus.INVESTIGATION)


class Classification(models.TextChoices):
    MINOR = "minor", "Minor"
    MAJOR = "major", "Major"
    CRITICAL = "critical", "Critical"


# Classifications whose closure needs a root cause and every CAPA action finished.
STRICT_CLASSIFICATIONS = frozenset({Classification.MAJOR, Classification.CRITICAL})


class SourceKind(models.TextChoices):
    """Where a deviation or a nonconformance comes from (records of higher apps by reference)."""

    MANUAL = "manual", "Reported by hand"
    BATCH = "batch", "Batch"
    BATCH_PHASE = "batch_phase", "Batch phase"
    WORK_ORDER = "work_order", "Work order"
    WO_OPERATION = "wo_operation", "Work-order operation"
    LOT = "lot", "Lot"
    LAB_RESULT = "lab_result", "Lab result"
    SPC = "spc", "SPC violation"
    EQUIPMENT = "equipment", "Equipment"
    NONCONFORMANCE = "ncr", "Nonconformance"
    OTHER = "other", "Other"


class CapaKind(models.TextChoices):
    CORRECTIVE = "corrective", "Corrective"
    PREVENTIVE = "preventive", "Preventive"


class CapaStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


CAPA_TRANSITIONS: dict[str, frozenset[str]] = {
    CapaStatus.OPEN: frozenset({CapaStatus.COMPLETED, CapaStatus.CANCELLED}),
    CapaStatus.COMPLETED: frozenset(),
    CapaStatus.CANCELLED: frozenset(),
}


class NcrStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISPOSITIONED = "dispositioned", "Dispositioned"


class NcrDisposition(models.TextChoices):
    SCRAP = "scrap", "Scrap"
    REWORK = "rework", "Rework"
    USE_AS_IS = "use_as_is", "Use as is"


class EventType(models.TextChoices):
    """One line of the quality ledger (`QualityEvent`)."""

    SPEC_CREATED = "specification.created", "Specification drafted"
    SPEC_APPROVED = "specification.approved", "Specification approved"
    SPEC_SUPERSEDED = "specification.superseded", "Specification superseded"
    RESULT_ENTERED = "lab_result.entered", "Lab result entered"
    RESULT_CORRECTED = "lab_result.corrected", "Lab result corrected"
    OVERRIDE_REQUESTED = "override.requested", "Override requested"
    OVERRIDE_SIGNED = "override.signed", "Override signed"
    LOT_DISPOSED = "lot.disposed", "Lot disposition"
    DEVIATION_OPENED = "deviation.opened", "Deviation opened"
    DEVIATION_LOT_LINKED = "deviation.lot_linked", "Lot linked to deviation"
    DEVIATION_CLASSIFIED = "deviation.classified", "Deviation classified"
    DEVIATION_INVESTIGATED = "deviation.investigated", "Investigation recorded"
    DEVIATION_CLOSED = "deviation.closed", "Deviation closed"
    CAPA_ADDED = "capa.added", "CAPA action added"
    CAPA_COMPLETED = "capa.completed", "CAPA action completed"
    CAPA_CANCELLED = "capa.cancelled", "CAPA action cancelled"
    NCR_OPENED = "ncr.opened", "Nonconformance opened"
    NCR_DISPOSITIONED = "ncr.dispositioned", "Nonconformance dispositioned"
    CHARACTERISTIC_CREATED = "characteristic.created", "SPC characteristic created"
