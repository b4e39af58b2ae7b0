"""Value sets of the self-audit: production models, item statuses, symptom states."""

from django.db import models


class ProductionModel(models.TextChoices):
    PROCESS = "process", "Process"
    DISCRETE = "discrete", "Discrete"
    MIXED = "mixed", "Mixed (process feeding discrete)"
    UNKNOWN = "unknown", "Not determined"


class ItemStatus(models.TextChoices):
    PASS = "pass", "Pass"
    WARNING = "warning", "Warning"
    FAIL = "fail", "Fail"
    NOT_APPLICABLE = "not_applicable", "Not applicable"
    ERROR = "error", "Check failed to run"


class SymptomState(models.TextChoices):
    PRESENT = "present", "Present"
    NOT_PRESENT = "not_present", "Not present"
    NOT_EVALUATED = "not_evaluated", "Not evaluated"


# The checklist sections: Step 2 (process), Step 3 (discrete), and what both need.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("process", "Step 2 · Process manufacturing checklist"),
    ("discrete", "Step 3 · Discrete manufacturing checklist"),
    ("shared", "Both models · platform and quality"),
)
