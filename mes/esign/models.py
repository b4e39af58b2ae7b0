"""A signature is bound to its record by the record's canonical content hash."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.functions import Now

from mes.audit.registry import audited


class Meaning(models.TextChoices):
    AUTHORED = "authored", "Authored"
    SUBMITTED = "submitted", "Submitted for review"
    REVIEWED = "reviewed", "Reviewed"
    APPROVED = "approved", "Approved"
    PERFORMED = "performed", "Performed"
    VERIFIED = "verified", "Verified"
    RELEASED = "released", "Released"
    REJECTED = "rejected", "Rejected"
    ON_HOLD = "on_hold", "Put on hold"
    OVERRIDE = "override", "Override approved"
    CANCELLED = "cancelled", "Cancelled"
    CLOSED = "closed", "Closed"
    ADJUSTED = "adjusted", "Adjustment approved"
    CORRECTED = "corrected", "Correction approved"
    ASSESSED = "assessed", "Assessment signed"


@audited()
class SignaturePolicy(models.Model):
    """Who may sign what: for a record type and meaning, the roles allowed, whether the
    record's author may sign, and which other meanings need a different signer."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    meaning = models.CharField(max_length=20, choices=Meaning.choices)
    allowed_roles = models.ManyToManyField(Group, related_name="+")
    author_may_sign = models.BooleanField(default=True)
    distinct_from = models.JSONField(
        default=list,
        blank=True,
        help_text="Meanings on the same record that must have been signed by someone else "
        "(e.g. 'verified' distinct from 'performed').",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "signature policies"
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "meaning"], name="esign_policy_one_per_type_meaning"
            )
        ]

    def __str__(self) -> str:
        return f"{self.content_type.app_labeled_name}: {self.meaning}"


@audited(append_only=True)
class Signature(models.Model):
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signatures"
    )
    printed_name = models.CharField(max_length=200)
    username = models.CharField(max_length=150)
    meaning = models.CharField(max_length=20, choices=Meaning.choices)
    reason = models.TextField(blank=True, default="")
    signed_at = models.DateTimeField(db_default=Now())
    record_hash = models.CharField(max_length=64)
    hash_alg = models.CharField(max_length=20, default="sha256-c14n-v1")

    class Meta:
        ordering = ["signed_at", "id"]
        indexes = [models.Index(fields=["content_type", "object_id"], name="esign_sig_record_idx")]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.printed_name} — {self.get_meaning_display()}"
