"""ERP connections, the link between an ERP order and the batch or work order made from it,
the inbound receipts (one per ERP order version), the outbound outbox with its delivery log,
dead-letter retries and reconciliation findings.

Credentials are never stored here: `credentials_ref` names an entry of the
`MES_ERP_CREDENTIALS` setting (filled from the environment), see `ErpConnection.credentials`.

The outbox (`OutboxMessage`) and its delivery log (`OutboxAttempt`) are a transport queue, not
GMP records: the facts they carry are in the plant's audited event tables, written in the same
transaction. Connections, order links, inbound receipts, retries and findings are audited.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from simple_history.models import HistoricalRecords

from mes.audit.registry import audited


class ConnectionKind(models.TextChoices):
    SAP = "sap", "SAP S/4HANA (OData V2)"
    D365 = "d365", "Dynamics 365 Supply Chain (MES integration)"
    ORACLE = "oracle", "Oracle Manufacturing Cloud (REST)"
    REST = "rest", "Generic REST / webhook (HMAC)"


class OrderKind(models.TextChoices):
    PROCESS = "process", "Process (batch order)"
    DISCRETE = "discrete", "Discrete (work order)"


class InboundOutcome(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    REFUSED = "refused", "Refused"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    DELIVERED = "delivered", "Delivered"
    DEAD = "dead", "Dead letter"


class AttemptOutcome(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    DUPLICATE = "duplicate", "Already in the ERP (duplicate)"
    RETRY = "retry", "Failed, will retry"
    DEAD = "dead", "Failed, dead letter"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


@audited()
class ErpConnection(models.Model):
    """One ERP a site talks to. `mapping` is the per-site translation the adapter uses (plant
    codes, work centers, materials, units of measure, order types)."""

    site = models.ForeignKey("equipment.Site", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200, blank=True, default="")
    kind = models.CharField(max_length=10, choices=ConnectionKind.choices)
    base_url = models.URLField(max_length=500)
    credentials_ref = models.CharField(
        max_length=80,
        blank=True,
        default="",
        help_text="Name of the entry in the MES_ERP_CREDENTIALS setting (from the environment); "
        "the secrets themselves are never stored in the database.",
    )
    mapping = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    pull_enabled = models.BooleanField(
        default=True, help_text="Pull planned/released orders on the beat schedule."
    )
    last_pulled_at = models.DateTimeField(null=True, blank=True)
    timeout_seconds = models.DecimalField(max_digits=6, decimal_places=2, default=10)
    created_at = models.DateTimeField(db_default=Now())
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = "ERP connection"
        permissions = [
            ("receive_erporder", "Can push ERP orders into the MES (integration)"),
            ("manage_outbox", "Can inspect and retry dead ERP messages, reconcile"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ConnectionKind.values), name="erp_connection_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.get_kind_display()})"

    @property
    def credentials(self) -> dict[str, str]:
        """The secrets of this connection, read from settings (never from the database)."""
        if not self.credentials_ref:
            return {}
        return dict(getattr(settings, "MES_ERP_CREDENTIALS", {}).get(self.credentials_ref, {}))


@audited()
class ErpOrderLink(models.Model):
    """An ERP order and what the MES made of it (one batch order or one work order). When a
    change replaces a not-yet-started order, the link moves to the new one (the old one is
    cancelled with the reason)."""

    # no index of its own: the unique (connection, erp_order_id) leads with it. A second index
    # on connection alone let PostgreSQL, with the statistics of a table growing fast, scan
    # every link of the connection on each lookup (inbound throughput fell with every order)
    connection = models.ForeignKey(
        ErpConnection, on_delete=models.PROTECT, related_name="links", db_index=False
    )
    erp_order_id = models.CharField(max_length=80)
    version = models.CharField(max_length=40)
    kind = models.CharField(max_length=10, choices=OrderKind.choices)
    material_code = models.CharField(max_length=40)
    quantity = models.DecimalField(max_digits=18, decimal_places=6)
    uom = models.CharField(max_length=16)
    due = models.DateField(null=True, blank=True)
    expected_yield_pct = models.DecimalField(max_digits=7, decimal_places=3, null=True, blank=True)
    erp_status = models.CharField(max_length=20, default="released")
    batch = models.OneToOneField(
        "batches.BatchOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    work_order = models.OneToOneField(
        "workorders.WorkOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payload_hash = models.CharField(max_length=80, blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        verbose_name = "ERP order link"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "erp_order_id"], name="erp_link_order_once"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=OrderKind.values), name="erp_link_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.connection.code}:{self.erp_order_id} v{self.version}"

    @property
    def mes_order(self) -> Any:
        return self.batch if self.batch_id else self.work_order

    @property
    def mes_number(self) -> str:
        order = self.mes_order
        return order.number if order is not None else ""


@audited(append_only=True)
class InboundReceipt(models.Model):
    """One ERP order version as received (pushed or pulled), and what the MES did with it.
    The same (connection, order, version) is received once: a second time writes nothing."""

    # indexed by the unique (connection, erp_order_id, version) only (see ErpOrderLink)
    connection = models.ForeignKey(
        ErpConnection, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    erp_order_id = models.CharField(max_length=80)
    version = models.CharField(max_length=40)
    outcome = models.CharField(max_length=10, choices=InboundOutcome.choices)
    reason = models.TextField(blank=True, default="")
    link = models.ForeignKey(
        ErpOrderLink, null=True, blank=True, on_delete=models.PROTECT, related_name="receipts"
    )
    mes_number = models.CharField(max_length=40, blank=True, default="")
    channel = models.CharField(max_length=10, default="push")  # push, pull, b2mml
    payload = models.JSONField(default=dict)
    payload_hash = models.CharField(max_length=80)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "erp_order_id", "version"], name="erp_receipt_version_once"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=InboundOutcome.values), name="erp_receipt_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.erp_order_id} v{self.version}: {self.outcome}"


class OutboxMessage(models.Model):
    """One fact for the ERP, written in the transaction of the plant event that caused it."""

    connection = models.ForeignKey(ErpConnection, on_delete=models.PROTECT, related_name="messages")
    link = models.ForeignKey(
        ErpOrderLink, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    kind = models.CharField(max_length=30)
    order_kind = models.CharField(max_length=10, choices=OrderKind.choices)
    erp_order_id = models.CharField(max_length=80)
    payload = models.JSONField(default=dict)
    idempotency_key = models.CharField(max_length=200, unique=True)
    source = models.CharField(max_length=120, blank=True, default="")
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_default=Now())
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    external_ref = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=OutboxStatus.values), name="erp_outbox_status_valid"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="erp_outbox_due_idx"),
            models.Index(fields=["connection", "erp_order_id", "id"], name="erp_outbox_order_idx"),
            # the open messages only, grouped by order: the head of each order's queue
            # (`outbox._due_messages`), however many messages were delivered before
            models.Index(
                fields=["connection", "erp_order_id", "id"],
                condition=~Q(status=OutboxStatus.DELIVERED),
                name="erp_outbox_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.erp_order_id} ({self.status})"


class OutboxAttempt(models.Model):
    """One delivery attempt of a message: the interaction log kept with the outbox record."""

    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=10, choices=AttemptOutcome.choices)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True, default="")
    at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["message", "id"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"#{self.message_id} attempt {self.number}: {self.outcome}"


@audited(append_only=True)
class DeadLetterRetry(models.Model):
    """A person put a dead message back in the queue (after fixing the mapping), with a reason.
    `mapping_before`/`mapping_after` record what the mapping was when the retry was asked."""

    message = models.ForeignKey(OutboxMessage, on_delete=models.PROTECT, related_name="retries")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    last_error = models.TextField(blank=True, default="")
    mapping = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"retry of #{self.message_id} by {self.actor_id}"


@audited()
class ReconciliationFinding(models.Model):
    """A difference between what the MES sent and what the ERP holds for one order."""

    connection = models.ForeignKey(ErpConnection, on_delete=models.PROTECT, related_name="+")
    link = models.ForeignKey(
        ErpOrderLink, null=True, blank=True, on_delete=models.PROTECT, related_name="findings"
    )
    erp_order_id = models.CharField(max_length=80)
    field = models.CharField(max_length=40)
    mes_value = models.CharField(max_length=200)
    erp_value = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    detected_at = models.DateTimeField(db_default=Now())
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "erp_order_id", "field"],
                condition=Q(status="open"),
                name="erp_finding_open_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.erp_order_id} {self.field}: MES {self.mes_value} / ERP {self.erp_value}"


class ConfirmedTime(models.Model):
    """A closed labor or machine record whose time an operation confirmation carried to the
    ERP. Each record is confirmed once (unique): by the first confirmation of its operation
    written after the record closed (a quantity report's partial confirmation, or the final
    confirmation at close). Part of the outbox (transport bookkeeping): the time itself is in
    the audited workorders records."""

    message = models.ForeignKey(
        OutboxMessage, on_delete=models.PROTECT, related_name="confirmed_time"
    )
    record_kind = models.CharField(max_length=10)  # "labor" or "machine"
    record_id = models.BigIntegerField()
    seconds = models.DecimalField(max_digits=14, decimal_places=3)

    class Meta:
        ordering = ["id"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["record_kind", "record_id"], name="erp_time_confirmed_once"
            ),
            models.CheckConstraint(
                condition=Q(record_kind__in=["labor", "machine"]),
                name="erp_time_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.record_kind} #{self.record_id} in message #{self.message_id}"
