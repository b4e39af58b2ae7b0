"""Celery entry points of the ERP connectors: thin, calling the outbox, inbound and
reconciliation services. Every task acknowledges late and is requeued when its worker is
lost (`acks_late`, `reject_on_worker_lost`); the broker's visibility timeout
(`CELERY_BROKER_TRANSPORT_OPTIONS`) is above the longest task (`MES_ERP_TASK_TIME_LIMIT`)."""

from typing import Any

from celery import shared_task
from django.conf import settings

from mes.audit.context import system_context

TASK_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "time_limit": settings.MES_ERP_TASK_TIME_LIMIT,
    "soft_time_limit": settings.MES_ERP_TASK_TIME_LIMIT - 10,
}


@shared_task(name="erp_connectors.deliver_outbox", **TASK_OPTIONS)
def deliver_outbox() -> dict[str, int]:
    """Drain the outbox for up to MES_ERP_DRAIN_SECONDS; queue another drain if messages
    are still due."""
    from erp_connectors.outbox import outbox_drain
    from erp_connectors.selectors import outbox_due_count

    with system_context("erp-outbox", reason="deliver ERP messages"):
        result = outbox_drain()
        again = outbox_due_count() > 0 and result.handled > 0
    if again and not deliver_outbox.app.conf.task_always_eager:
        deliver_outbox.apply_async()
    return {
        "delivered": result.delivered,
        "duplicates": result.duplicates,
        "retried": result.retried,
        "dead": result.dead,
        "lost_claims": result.lost_claims,
    }


@shared_task(name="erp_connectors.pull_orders", **TASK_OPTIONS)
def pull_orders(connection_id: int) -> dict[str, int]:
    """Pull the planned/released orders of one ERP connection."""
    from erp_connectors.inbound import orders_pull
    from erp_connectors.models import ErpConnection

    with system_context("erp-pull", reason=f"pull ERP orders ({connection_id})"):
        connection = ErpConnection.objects.get(pk=connection_id)
        results = orders_pull(connection=connection)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return counts


@shared_task(name="erp_connectors.pull_all", acks_late=True)
def pull_all() -> int:
    """Beat: one pull task per active connection that pulls."""
    from erp_connectors.selectors import connections_to_pull

    ids = list(connections_to_pull().values_list("id", flat=True))
    for pk in ids:
        pull_orders.delay(pk)
    return len(ids)


@shared_task(name="erp_connectors.reconcile", **TASK_OPTIONS)
def reconcile() -> dict[str, int]:
    """Beat: read every recent ERP order back and flag the differences."""
    from erp_connectors.services import reconciliation_run

    with system_context("erp-reconcile", reason="reconcile ERP orders"):
        return reconciliation_run()
