"""The audit event table and the chain head, written only by database functions.

On PostgreSQL the rows are inserted by the `audit_capture()` trigger on every GMP table and
sealed (gapless `seq`, `prev_hash`, `hash`) at commit; guard triggers refuse UPDATE, DELETE
and TRUNCATE. The application never writes these models itself (see mes/audit/pg.py; the
embedded SQLite demo does the same with SQLite triggers, mes/audit/sqlite.py).

`hash = sha256(prev_hash || payload)` where payload is the text of
`jsonb_build_array(seq, id, table_name, record_pk, action, old_values, new_values, user_id,
user_name, roles, reason, request_id, app_version, on_behalf_of, occurred_at in epoch
microseconds, txid)` (mes/audit/payload.py).
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
    # (table_name, record_pk, id) is indexed below; table_name alone is its prefix.
    table_name = models.CharField(max_length=120, editable=False)
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
    on_behalf_of = models.CharField(max_length=150, blank=True, default="", editable=False)
    txid = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "audit_event"
        ordering = ["seq", "id"]
        indexes = [
            models.Index(fields=["table_name", "record_pk", "id"], name="audit_event_record_idx"),
            # the sealer's work list: events not yet chained, from ChainHead.low_txid on
            models.Index(
                fields=["txid", "id"],
                condition=models.Q(seq__isnull=True),
                name="audit_event_unsealed_idx",
            ),
        ]
        default_permissions = ("view",)
        permissions = [("export_auditevent", "Can export the audit trail")]

    def __str__(self) -> str:
        return f"#{self.seq or '?'} {self.action} {self.table_name}:{self.record_pk} by {self.user_name}"

    @property
    def record_type(self) -> str:
        """ "app.Model" of the table (for display)."""
        from mes.audit.selectors import record_type_label

        return record_type_label(self.table_name)

    @property
    def changes(self) -> list[tuple[str, str, str]]:
        """(field, old, new) rows for display; no queries."""
        from mes.audit.selectors import event_changes

        return event_changes(self)


class ChainHead(models.Model):
    """One row: the last sealed event. Locked at commit by the sealing trigger."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)
    # PostgreSQL: every event of a transaction below this id is sealed, so the sealer looks
    # for unsealed events from here on (its cost does not grow with the trail).
    low_txid = models.BigIntegerField(default=0)

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
