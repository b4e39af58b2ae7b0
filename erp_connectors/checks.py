"""What the ERP connectors contribute to the production-model self-audit (mes.registry).

"ERP write-back": what the plant did reaches the ERP. Messages created in the period that are
dead letters fail the check; undelivered messages older than MES_ERP_BACKLOG_WARN_MINUTES
make it a warning; open reconciliation findings are a warning. Read-only.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils import timezone

from erp_connectors.models import (
    ErpConnection,
    FindingStatus,
    OutboxMessage,
    OutboxStatus,
    ReconciliationFinding,
)
from mes.registry import CapabilityCheck, CheckResult, Evidence, Period, register_check


def erp_write_back(period: Period) -> CheckResult:
    if not ErpConnection.objects.filter(is_active=True).exists():
        return CheckResult(CheckResult.NOT_APPLICABLE, "No ERP connection is active.")
    in_period = OutboxMessage.objects.filter(
        created_at__gte=period.start, created_at__lt=period.end
    )
    agg = in_period.aggregate(
        total=Count("id"),
        delivered=Count("id", filter=Q(status=OutboxStatus.DELIVERED)),
        dead=Count("id", filter=Q(status=OutboxStatus.DEAD)),
    )
    now = timezone.now()
    stale_before = now - timedelta(minutes=settings.MES_ERP_BACKLOG_WARN_MINUTES)
    backlog = OutboxMessage.objects.filter(
        status__in=[OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT]
    ).aggregate(
        n=Count("id"),
        oldest=Min("created_at"),
        stale=Count("id", filter=Q(created_at__lt=stale_before)),
    )
    findings = ReconciliationFinding.objects.filter(status=FindingStatus.OPEN).count()
    oldest_min = (now - backlog["oldest"]).total_seconds() / 60 if backlog["oldest"] else 0.0
    url = reverse("erp_connectors:outbox")
    evidence = [
        Evidence("Messages created in the period", agg["total"], url),
        Evidence("Delivered", agg["delivered"], url),
        Evidence("Dead letters", agg["dead"], url + "#dead"),
        Evidence("Undelivered now", backlog["n"], url),
        Evidence("Oldest undelivered (minutes)", round(oldest_min, 1), url),
        Evidence("Open reconciliation differences", findings, url + "#findings"),
    ]
    measured = {
        "messages": agg["total"],
        "delivered": agg["delivered"],
        "dead": agg["dead"],
        "backlog": backlog["n"],
        "oldest_backlog_minutes": round(oldest_min, 1),
        "open_findings": findings,
    }
    if agg["total"] == 0 and backlog["n"] == 0:
        return CheckResult(
            CheckResult.NOT_APPLICABLE, "No ERP message in the period.", evidence, measured
        )
    if agg["dead"]:
        status, summary = (
            CheckResult.FAIL,
            f"{agg['dead']} of {agg['total']} ERP messages of the period are dead letters: the "
            "ERP does not know what the plant did until they are fixed and retried.",
        )
    elif backlog["stale"] or findings:
        status, summary = (
            CheckResult.WARNING,
            f"{backlog['stale']} ERP message(s) wait for more than "
            f"{settings.MES_ERP_BACKLOG_WARN_MINUTES} min; {findings} reconciliation "
            "difference(s) are open.",
        )
    else:
        status, summary = (
            CheckResult.PASS,
            f"{agg['delivered']} of {agg['total']} ERP messages of the period are delivered; "
            "none is dead, none waits too long.",
        )
    return CheckResult(status, summary, evidence, measured)


register_check(
    CapabilityCheck(
        key="erp_connectors.write_back",
        title="ERP write-back",
        model="shared",
        evaluate=erp_write_back,
        fixed_by="A transactional outbox delivered by Celery with retries, dead letters and "
        "reconciliation",
        order=900,
        tags=("erp",),
    )
)
