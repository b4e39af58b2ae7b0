"""An assessment: one run of the production-model self-audit, kept as it was (append-only:
the database refuses UPDATE and DELETE). Signatures (mes.esign) are separate rows."""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Now

from mes.audit.registry import audited
from mes.diagnostic.choices import ProductionModel


@audited(append_only=True)
class Assessment(models.Model):
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    answers = models.JSONField(default=dict, blank=True, help_text="The step-1 questionnaire.")
    facts = models.JSONField(default=list, blank=True, help_text="What the installation holds.")
    mode = models.CharField(max_length=12, choices=ProductionModel.choices)
    mode_reasons = models.JSONField(default=list, blank=True)
    disagreements = models.JSONField(default=list, blank=True)
    items = models.JSONField(default=list, help_text="Every checklist item's result and evidence.")
    symptoms = models.JSONField(default=list, help_text="The step-4 gap diagnostic.")
    pass_count = models.PositiveIntegerField(default=0)
    warning_count = models.PositiveIntegerField(default=0)
    fail_count = models.PositiveIntegerField(default=0)
    not_applicable_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    content_hash = models.CharField(max_length=80)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("run_assessment", "Can run the production-model self-audit"),
            ("sign_assessment", "Can sign a self-audit assessment report"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_start__lt=models.F("period_end")),
                name="diagnostic_assessment_period_order",
            ),
            models.CheckConstraint(
                condition=models.Q(mode__in=ProductionModel.values),
                name="diagnostic_assessment_mode_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Assessment #{self.pk} ({self.period_start:%Y-%m-%d} – {self.period_end:%Y-%m-%d})"

    def signature_author(self) -> Any:
        return self.created_by

    def signature_content(self) -> dict[str, Any]:
        """What a signature vouches for: the report's content hash and its headline."""
        return {
            "content_hash": self.content_hash,
            "period": [self.period_start.isoformat(), self.period_end.isoformat()],
            "mode": self.mode,
            "counts": [self.pass_count, self.warning_count, self.fail_count],
        }
