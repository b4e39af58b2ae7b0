"""Reads of the ERP connectors that more than one view, the API or a task needs."""

from datetime import datetime
from typing import Any

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from erp_connectors.models import (
    ErpConnection,
    ErpOrderLink,
    FindingStatus,
    InboundReceipt,
    OutboxMessage,
    OutboxStatus,
    ReconciliationFinding,
)


def connections_to_pull() -> QuerySet[ErpConnection]:
    return ErpConnection.objects.filter(is_active=True, pull_enabled=True)


def connection_list() -> QuerySet[ErpConnection]:
    return ErpConnection.objects.select_related("site").order_by("code")


def outbox_list(*, status: str | None = None, connection_id: int | None = None) -> QuerySet:
    qs = OutboxMessage.objects.select_related("connection", "link").order_by("-id")
    if status:
        qs = qs.filter(status=status)
    if connection_id:
        qs = qs.filter(connection_id=connection_id)
    return qs


def dead_letters() -> QuerySet[OutboxMessage]:
    return (
        OutboxMessage.objects.filter(status=OutboxStatus.DEAD)
        .select_related("connection", "link")
        .prefetch_related("log", "retries")
        .order_by("connection__code", "id")
    )


def outbox_due_count() -> int:
    return OutboxMessage.objects.filter(
        Q(status=OutboxStatus.PENDING, next_attempt_at__lte=timezone.now())
        | Q(status=OutboxStatus.IN_FLIGHT)
    ).count()


def outbox_backlog(*, now: datetime | None = None) -> dict[str, Any]:
    """Undelivered messages: how many, the age of the oldest (seconds), dead letters."""
    now = now or timezone.now()
    open_qs = OutboxMessage.objects.filter(
        status__in=[OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT]
    )
    agg = open_qs.aggregate(n=Count("id"), oldest=Min("created_at"))
    dead = OutboxMessage.objects.filter(status=OutboxStatus.DEAD).count()
    oldest = agg["oldest"]
    return {
        "pending": agg["n"],
        "oldest_age_seconds": (now - oldest).total_seconds() if oldest else 0.0,
        "dead": dead,
    }


def outbox_counts() -> dict[str, int]:
    rows = OutboxMessage.objects.values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(OutboxStatus.values, 0)
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


def findings_open() -> QuerySet[ReconciliationFinding]:
    return (
        ReconciliationFinding.objects.filter(status=FindingStatus.OPEN)
        .select_related("connection", "link")
        .order_by("-id")
    )


def link_list() -> QuerySet[ErpOrderLink]:
    return ErpOrderLink.objects.select_related("connection", "batch", "work_order")


def receipt_list() -> QuerySet[InboundReceipt]:
    return InboundReceipt.objects.select_related("connection", "link").order_by("-id")
