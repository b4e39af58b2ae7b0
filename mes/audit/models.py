"""The audit event table and the chain head, written only by database functions.

On PostgreSQL the rows are inserted by the `audit_capture()` trigger on every GMP table and
sealed (gapless `seq`, `prev_hash`, `hash`) at commit; guard triggers refuse UPDATE, DELETE
and TRUNCATE. The application never writes these models itself.
"""

from django.db import models


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        INSERT = "INSERT", "created"
        UPDATE = "UPDATE", "changed"
        DELETE = "DELETE", "deleted"

    id = models.BigAutoField(primary_key=True)
    seq = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    occurred_at = models.DateTimeField(editable=False, db_index=True)
    table_name = models.CharField(max_length=120, db_index=True, editable=False)
    record_pk = models.CharField(max_length=64, db_index=True, editable=False)
    action = models.CharField(max_length=6, choices=Action.choices, editable=False)
    old_values = models.JSONField(null=True, blank=True, editable=False)
    new_values = models.JSONField(null=True, blank=True, editable=False)
    user_id = models.BigIntegerField(null=True, blank=True, db_index=True, editable=False)
    user_name = models.CharField(max_length=150, editable=False)
    roles = models.JSONField(default=list, editable=False)
    reason = models.TextField(blank=True, default="", editable=False)
    request_id = models.CharField(max_length=64, blank=True, default="", editable=False)
    app_version = models.CharField(max_length=40, blank=True, default="", editable=False)
    txid = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "audit_event"
        ordering = ["seq", "id"]
        indexes = [
            models.Index(fields=["table_name", "record_pk", "id"], name="audit_event_record_idx")
        ]
        default_permissions = ("view",)
        permissions = [("export_auditevent", "Can export the audit trail")]

    def __str__(self) -> str:
        return f"#{self.seq or '?'} {self.action} {self.table_name}:{self.record_pk} by {self.user_name}"


class ChainHead(models.Model):
    """One row: the last sealed event. Locked at commit by the sealing trigger."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        db_table = "audit_chain_head"
        default_permissions = ()

    def __str__(self) -> str:
        return f"head seq={self.seq}"


class Checkpoint(models.Model):
    """A signed statement of the chain head (Ed25519, key kept outside the database). A copy
    is appended to an external log; the verifier checks both."""

    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    signature = models.TextField()
    public_key = models.TextField()

    class Meta:
        db_table = "audit_checkpoint"
        ordering = ["seq"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"checkpoint seq={self.seq}"
