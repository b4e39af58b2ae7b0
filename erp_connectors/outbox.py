"""The outbound outbox: what the plant did, for the ERP.

Writing: receivers of `post_save` on the plant's event rows (`batches.BatchEvent`,
`workorders.WorkOrderEvent`, `genealogy.LotEvent`, and the execution rows of work orders:
quantity reports, labor and machine records) run inside the service's transaction; for an
order that came from an ERP (it has an `ErpOrderLink`) they write one `OutboxMessage` per fact,
with a stable idempotency key. A rolled-back plant action leaves no message.

Delivering: `outbox_drain` claims due messages with `SELECT ... FOR UPDATE SKIP LOCKED` (only
the oldest undelivered message of each ERP order, so an order's messages arrive in order),
marks them in flight (a lease), calls the adapter, and records the outcome: delivered,
retry later (exponential backoff with jitter, never sooner than the ERP's Retry-After) or dead
after `MES_ERP_OUTBOX_MAX_ATTEMPTS`. A worker killed mid-delivery leaves the message in flight;
once its lease expires another drain claims it again and re-sends it with the same
idempotency key, which the ERP (or the adapter) treats as a duplicate.
"""

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Exists, F, Min, OuterRef, Q
from django.utils import timezone

from erp_connectors.adapters.base import (
    BATCH_YIELD,
    GOODS_ISSUE,
    GOODS_RECEIPT,
    OPERATION_CONFIRMATION,
    ORDER_COMPLETION,
    ORDER_START,
    AdapterError,
    OutboundMessage,
    decimal_str,
    get_adapter,
)
from erp_connectors.models import (
    AttemptOutcome,
    ConfirmedTime,
    ErpConnection,
    ErpOrderLink,
    OutboxAttempt,
    OutboxMessage,
    OutboxStatus,
)
from mes.prepared import prepared

logger = logging.getLogger(__name__)
ZERO = Decimal(0)
# `external_ref` of a message the adapter delivered without posting anything (e.g. D365 has
# no batch-yield message; an Oracle confirmation with no quantity and no time)
NOT_SENT_REF = "(not sent)"


# --- writing ---------------------------------------------------------------------------------


def _num(value: Any) -> str:
    """A quantity as the ERP wants it: a plain decimal string without trailing zeros."""
    text = decimal_str(Decimal(str(value)).normalize())
    return "0" if text in ("-0", "") else text


def _iso(value: Any) -> str:
    if value is None:
        value = timezone.now()
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def message_write(
    *, link: ErpOrderLink, kind: str, source: str, payload: dict[str, Any]
) -> OutboxMessage:
    """One message for the ERP order of `link`, in the caller's transaction. `source` names
    the plant fact (e.g. "lotevent:812"): the idempotency key is derived from it, so the same
    fact never makes two messages (a second write returns the first)."""
    connection = link.connection
    key = f"mes:{connection.code}:{link.erp_order_id}:{kind}:{source}"[:200]
    with transaction.atomic():
        message, created = OutboxMessage.objects.get_or_create(
            idempotency_key=key,
            defaults={
                "connection": connection,
                "link": link,
                "kind": kind,
                "order_kind": link.kind,
                "erp_order_id": link.erp_order_id,
                "payload": payload,
                "source": source[:120],
            },
        )
    if created:
        transaction.on_commit(kick)
    return message


def kick() -> None:
    """Ask a worker to drain the outbox now (after the plant transaction committed). Eager
    Celery (the embedded default) delivers in-process; with a broker, the kicks of one second
    collapse into one task."""
    if not getattr(settings, "MES_ERP_DELIVER_ON_COMMIT", True):
        return
    from erp_connectors.tasks import deliver_outbox

    try:
        if deliver_outbox.app.conf.task_always_eager:
            deliver_outbox.apply()
            return
        if cache.add("erp_connectors:kick", 1, timeout=1):
            deliver_outbox.apply_async()
    except Exception:  # the beat task drains anyway; the plant action is committed
        logger.exception("could not kick the ERP outbox")


def _link_for_batch(batch_id: int) -> ErpOrderLink | None:
    return ErpOrderLink.objects.select_related("connection").filter(batch_id=batch_id).first()


def _link_for_work_order(work_order_id: int) -> ErpOrderLink | None:
    return (
        ErpOrderLink.objects.select_related("connection")
        .filter(work_order_id=work_order_id)
        .first()
    )


def _link_for_operation(operation: Any) -> ErpOrderLink | None:
    """The ERP order an operation's work order fulfils. Only an order the ERP sent (inbound
    makes its link) or the handoff made (`handoff_work_order_attach` links it) can have one:
    for a planner's or an API order, the terminal's hot path, this costs no query (the work
    order is loaded with the operation's lock)."""
    from workorders.choices import WorkOrderSource

    if operation.work_order.source not in (WorkOrderSource.ERP, WorkOrderSource.HANDOFF):
        return None
    return _link_for_work_order(operation.work_order_id)


def _ensure_started(link: ErpOrderLink, at: Any) -> None:
    """The first execution fact of a work order announces its start (once)."""
    message_write(link=link, kind=ORDER_START, source="start", payload={"started_at": _iso(at)})


def on_batch_event(sender: Any, instance: Any, created: bool, raw: bool = False, **kw: Any) -> None:
    from batches.choices import BatchEventType

    if not created or raw:
        return
    if instance.type not in (
        BatchEventType.STARTED,
        BatchEventType.YIELD_RECORDED,
        BatchEventType.COMPLETED,
    ):
        return
    link = _link_for_batch(instance.batch_id)
    if link is None:
        return
    source = f"batchevent:{instance.pk}"
    if instance.type == BatchEventType.STARTED:
        message_write(
            link=link, kind=ORDER_START, source="start", payload={"started_at": _iso(instance.at)}
        )
    elif instance.type == BatchEventType.YIELD_RECORDED:
        record = instance.batch.yields.order_by("-id").first()
        message_write(
            link=link,
            kind=BATCH_YIELD,
            source=source,
            payload={
                "theoretical": _num(record.expected_quantity),
                "actual": _num(record.quantity),
                "uom": record.uom,
                "yield_pct": _num(record.yield_pct),
            },
        )
    else:
        made = sum((y.quantity for y in instance.batch.yields.all()), start=ZERO)
        message_write(
            link=link,
            kind=ORDER_COMPLETION,
            source=source,
            payload={
                "good": _num(made),
                "scrap": "0",
                "completed_at": _iso(instance.at),
            },
        )


def handoff_work_order_attach(work_order: Any) -> ErpOrderLink | None:
    """Mixed mode: a work order the handoff made (QA released the lot it packs) fulfils the
    oldest ERP order for its item that waits for it (received while a handoff rule for the
    item was active). Runs in the handoff's transaction."""
    link = (
        ErpOrderLink.objects.select_for_update(of=("self",))
        .filter(
            kind="discrete",
            batch__isnull=True,
            work_order__isnull=True,
            material_code=work_order.item.code,
        )
        .exclude(erp_status="cancelled")
        .order_by("id")
        .first()
    )
    if link is None:
        return None
    link.work_order = work_order
    link.save(update_fields=["work_order", "updated_at"])
    return link


def _time_to_confirm(operation_id: int) -> list[tuple[str, int, Decimal]]:
    """The closed labor and machine records of an operation that no confirmation carried
    yet: [(kind, record id, seconds)]. Open records wait for a later confirmation. The
    callers hold the operation's row lock (workorders locks it to report, clock and close), so
    two confirmations of one operation cannot take the same record."""
    from workorders.models import LaborRecord, MachineRecord

    found: list[tuple[str, int, Decimal]] = []
    for kind, model in (("labor", LaborRecord), ("machine", MachineRecord)):
        confirmed = ConfirmedTime.objects.filter(record_kind=kind, record_id=OuterRef("pk"))
        found += [
            (kind, pk, seconds or ZERO)
            for pk, seconds in model.objects.filter(
                operation_id=operation_id, ended_at__isnull=False
            )
            .exclude(Exists(confirmed))
            .order_by("pk")
            .values_list("pk", "seconds")
        ]
    return found


def _hours_of(records: list[tuple[str, int, Decimal]], kind: str) -> Decimal:
    seconds = sum((s for k, _, s in records if k == kind), start=ZERO)
    return (seconds / Decimal(3600)).quantize(Decimal("0.0001"))


def confirmation_write(
    *,
    link: ErpOrderLink,
    operation: Any,
    source: str,
    good: Decimal,
    scrap: Decimal,
    rework: Decimal,
    final: bool,
    posted_at: str,
) -> OutboxMessage:
    """One operation confirmation (partial, or final with `final`) carrying the quantities
    given and the time of the operation's labor and machine records closed since the earlier
    confirmations (each record is confirmed once: `ConfirmedTime`)."""
    records = _time_to_confirm(operation.pk)
    message = message_write(
        link=link,
        kind=OPERATION_CONFIRMATION,
        source=source,
        payload={
            "operation": f"{operation.seq:04d}",
            "work_center": operation.work_center.code,
            "good": _num(good),
            "scrap": _num(scrap),
            "rework": _num(rework),
            "labor_hours": _num(_hours_of(records, "labor")),
            "machine_hours": _num(_hours_of(records, "machine")),
            "final": final,
            "posted_at": posted_at,
        },
    )
    if records and not message.confirmed_time.exists():
        ConfirmedTime.objects.bulk_create(
            ConfirmedTime(message=message, record_kind=kind, record_id=pk, seconds=seconds)
            for kind, pk, seconds in records
        )
    return message


def on_quantity_report(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kw: Any
) -> None:
    """A quantity report (lot-made report, or one unit completed / scrapped / sent to rework)
    is confirmed to the ERP at once, as a partial confirmation of its operation: the reported
    quantity, and the labor and machine time closed on that operation since the previous
    confirmation. A rework return is not a confirmation (the units come back into work in
    progress). A work order no ERP order can be linked to costs no query."""
    from workorders.choices import QuantityKind

    if not created or raw:
        return
    operation = instance.operation
    link = _link_for_operation(operation)
    if link is None:
        return
    now = _iso(None)
    _ensure_started(link, now)
    if instance.kind == QuantityKind.REWORK_RETURN:
        return
    quantity = Decimal(str(instance.quantity))
    confirmation_write(
        link=link,
        operation=operation,
        source=f"op:{operation.seq}:qr:{instance.pk}",
        good=quantity if instance.kind == QuantityKind.GOOD else ZERO,
        scrap=quantity if instance.kind == QuantityKind.SCRAP else ZERO,
        rework=quantity if instance.kind == QuantityKind.REWORK else ZERO,
        final=False,
        posted_at=now,
    )


def _confirmed_so_far(link: ErpOrderLink) -> dict[str, dict[str, Decimal]]:
    """Per operation ("0010"), the good / scrap / rework the written confirmations carry."""
    totals: dict[str, dict[str, Decimal]] = {}
    for payload in OutboxMessage.objects.filter(link=link, kind=OPERATION_CONFIRMATION).values_list(
        "payload", flat=True
    ):
        op = totals.setdefault(str(payload.get("operation")), dict.fromkeys(_QTY, ZERO))
        for name in _QTY:
            op[name] += Decimal(str(payload.get(name) or "0"))
    return totals


_QTY = ("good", "scrap", "rework")


def on_work_order_event(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kw: Any
) -> None:
    from workorders.choices import UnitStatus, WorkOrderEventType, WorkOrderSource

    if created and not raw and instance.type == WorkOrderEventType.CREATED:
        if instance.work_order.source == WorkOrderSource.HANDOFF:
            handoff_work_order_attach(instance.work_order)
        return
    if not created or raw or instance.type != WorkOrderEventType.CLOSED:
        return
    link = _link_for_work_order(instance.work_order_id)
    if link is None:
        return
    wo = instance.work_order
    at = _iso(instance.at if not hasattr(instance.at, "resolve_expression") else None)
    _ensure_started(link, at)
    ops = list(wo.operations.select_related("work_center").order_by("seq"))
    so_far = _confirmed_so_far(link)
    for op in ops:
        done = so_far.get(f"{op.seq:04d}", dict.fromkeys(_QTY, ZERO))
        # the final confirmation carries what the partial ones did not, and the final flag
        confirmation_write(
            link=link,
            operation=op,
            source=f"op:{op.seq}:final",
            good=op.qty_good - done["good"],
            scrap=op.qty_scrap - done["scrap"],
            rework=op.qty_rework - done["rework"],
            final=True,
            posted_at=at,
        )
    good = ops[-1].qty_good if ops else ZERO
    scrap = sum((op.qty_scrap for op in ops), start=ZERO)
    if wo.is_serialized:
        serials = list(
            wo.units.filter(status=UnitStatus.FINISHED)
            .order_by("serial_number")
            .values_list("serial_number", flat=True)
        )
        if serials:
            message_write(
                link=link,
                kind=GOODS_RECEIPT,
                source="units",
                payload={
                    "material": wo.item.code,
                    "lot": wo.number,
                    "quantity": _num(len(serials)),
                    "uom": wo.item.uom,
                    "serials": serials,
                    "posted_at": at,
                },
            )
    message_write(
        link=link,
        kind=ORDER_COMPLETION,
        source="completion",
        payload={"good": _num(good), "scrap": _num(scrap), "completed_at": at},
    )


def on_execution_row(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kw: Any
) -> None:
    """A labor or machine record: the work order has started."""
    if not created or raw:
        return
    link = _link_for_operation(instance.operation)
    if link is not None:
        _ensure_started(link, getattr(instance, "started_at", None))


def _order_of_lot_event(event: Any) -> ErpOrderLink | None:
    from genealogy.choices import ContextKind

    kind, ref = event.context_kind, event.context_ref
    if not ref:
        return None
    number = ref.split("/")[0].strip()
    if kind in (ContextKind.BATCH, ContextKind.BATCH_PHASE):
        return (
            ErpOrderLink.objects.select_related("connection").filter(batch__number=number).first()
        )
    if kind in (ContextKind.WORK_ORDER, ContextKind.WO_OPERATION):
        return _link_for_work_order_number(number)
    return None


def _link_for_work_order_number(number: str) -> ErpOrderLink | None:
    """The link of the work order numbered `number`: a prepared one-column probe first (every
    component scan asks, and most orders have no link), the link itself only if there is one."""
    from workorders.models import WorkOrder

    q = connection.ops.quote_name
    link, wo = q(ErpOrderLink._meta.db_table), q(WorkOrder._meta.db_table)
    with prepared("mes_erp_wo_link"), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {link}.id FROM {link} INNER JOIN {wo} ON {wo}.id = {link}.work_order_id "
            f"WHERE {wo}.number = %s",
            [number],
        )
        found = cursor.fetchone()
    if found is None:
        return None
    return ErpOrderLink.objects.select_related("connection").get(pk=found[0])


def _goods_movement_payload(event: Any, **extra: Any) -> dict[str, Any]:
    """The payload of a goods issue or receipt made from a lot event (a consumption, a
    production, or a return to stock: the quantity is always positive), plus `extra` (a
    reversal's "reversal" and "reverses")."""
    lot = event.lot
    return {
        "material": lot.material.code,
        "lot": lot.lot_number,
        "quantity": _num(abs(event.quantity_delta)),
        "uom": event.uom,
        "posted_at": _iso(event.occurred_at),
        **extra,
    }


def _goods_issue_reversal(link: ErpOrderLink, event: Any) -> None:
    """A return to stock (`lot.returned`) of part of what a consumption took: the reversal of
    that consumption's goods issue, in the same transaction. Only a goods issue the outbox
    wrote is reversed (the ERP never heard of any other consumption)."""
    consumption_id = (event.data or {}).get("consumption")
    if consumption_id is None:
        return
    issue = (
        OutboxMessage.objects.filter(
            link=link, kind=GOODS_ISSUE, source=f"lotevent:{int(consumption_id)}"
        )
        .only("idempotency_key")
        .first()
    )
    if issue is None:
        logger.warning(
            "lot event #%s returns consumption #%s, which sent %s no goods issue: not reversed",
            event.pk,
            consumption_id,
            link,
        )
        return
    message_write(
        link=link,
        kind=GOODS_ISSUE,
        source=f"lotevent:{event.pk}",
        payload=_goods_movement_payload(event, reversal=True, reverses=issue.idempotency_key),
    )


def on_lot_event(sender: Any, instance: Any, created: bool, raw: bool = False, **kw: Any) -> None:
    from genealogy.choices import EventType, NodeKind

    if not created or raw:
        return
    if instance.type == EventType.RETURNED:
        link = _order_of_lot_event(instance)
        if link is not None:
            _goods_issue_reversal(link, instance)
        return
    if instance.type not in (EventType.CONSUMED, EventType.PRODUCED):
        return
    lot = instance.lot
    if instance.type == EventType.PRODUCED and lot.kind == NodeKind.UNIT:
        return  # serialized units are received at close, when they are finished
    link = _order_of_lot_event(instance)
    if link is None:
        return
    kind = GOODS_ISSUE if instance.type == EventType.CONSUMED else GOODS_RECEIPT
    if link.kind == "discrete" and kind == GOODS_ISSUE:
        _ensure_started(link, instance.occurred_at)
    message_write(
        link=link,
        kind=kind,
        source=f"lotevent:{instance.pk}",
        payload=_goods_movement_payload(instance),
    )


def connect_receivers() -> None:
    from django.db.models.signals import post_save

    from batches.models import BatchEvent
    from genealogy.models import LotEvent
    from workorders.models import LaborRecord, MachineRecord, QuantityReport, WorkOrderEvent

    post_save.connect(on_batch_event, sender=BatchEvent, dispatch_uid="erp_batch_event")
    post_save.connect(on_work_order_event, sender=WorkOrderEvent, dispatch_uid="erp_wo_event")
    post_save.connect(on_lot_event, sender=LotEvent, dispatch_uid="erp_lot_event")
    post_save.connect(on_quantity_report, sender=QuantityReport, dispatch_uid="erp_exec_qr")
    for model in (LaborRecord, MachineRecord):
        post_save.connect(
            on_execution_row, sender=model, dispatch_uid=f"erp_exec_{model._meta.model_name}"
        )


# --- delivering ------------------------------------------------------------------------------


@dataclass
class DrainResult:
    delivered: int = 0
    duplicates: int = 0
    retried: int = 0
    dead: int = 0
    lost_claims: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.delivered + self.duplicates + self.retried + self.dead


def adapter_for(connection: ErpConnection) -> Any:
    return get_adapter(
        connection.kind,
        base_url=connection.base_url,
        credentials=connection.credentials,
        mapping=connection.mapping,
        timeout=float(connection.timeout_seconds),
    )


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter in [50 %, 100 %], capped, never sooner than the
    ERP's Retry-After."""
    base = float(settings.MES_ERP_BACKOFF_BASE_SECONDS)
    cap = float(settings.MES_ERP_BACKOFF_CAP_SECONDS)
    delay = min(cap, base * (2 ** max(attempts - 1, 0)))
    delay *= random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not cryptography)
    return max(delay, float(retry_after or 0))


def _due_messages(now: Any) -> Any:
    """Messages due for delivery: the head of each order's queue (its oldest message not yet
    delivered), if it is pending and due or its claim's lease ran out. The heads are one
    grouped scan of the open messages (`erp_outbox_open_idx`), whatever the plan: a per-row
    "no earlier open message" probe walked every queued message of a long order per claim."""
    lease = now - timedelta(seconds=settings.MES_ERP_OUTBOX_LEASE_SECONDS)
    heads = (
        OutboxMessage.objects.exclude(status=OutboxStatus.DELIVERED)
        .order_by()
        .values("connection_id", "erp_order_id")
        .annotate(head=Min("id"))
        .values("head")
    )
    return OutboxMessage.objects.filter(
        Q(status=OutboxStatus.PENDING, next_attempt_at__lte=now)
        | Q(status=OutboxStatus.IN_FLIGHT, claimed_at__lt=lease),
        connection__is_active=True,
        id__in=heads,
    ).order_by("id")


def _relaxed_commit() -> None:
    """Outbox bookkeeping may skip the wait for the WAL flush: a claim or an outcome lost in
    a database crash only makes a message be sent again, with the same idempotency key."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def outbox_claim(*, limit: int) -> list[OutboxMessage]:
    """Claim up to `limit` due messages for this worker (committed before delivering)."""
    now = timezone.now()
    with transaction.atomic():
        _relaxed_commit()
        ids = list(
            _due_messages(now)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        OutboxMessage.objects.filter(id__in=ids).update(
            status=OutboxStatus.IN_FLIGHT, claimed_at=now, attempts=F("attempts") + 1
        )
    return list(
        OutboxMessage.objects.filter(id__in=ids).select_related("connection").order_by("id")
    )


@dataclass
class Outcome:
    """What one delivery attempt ended with, to be recorded with its batch."""

    message: OutboxMessage
    outcome: str
    fields: dict[str, Any]
    counter: str
    log: dict[str, Any] = field(default_factory=dict)


def outbox_record(outcomes: list[Outcome], result: DrainResult) -> None:
    """Record the outcomes of a batch in one transaction (one commit for the batch). A row is
    changed only if this worker still holds its claim: a worker whose lease expired and whose
    message another worker re-claimed must not overwrite it. A crash before this commit
    leaves the batch in flight: it is re-sent with the same idempotency keys."""
    if not outcomes:
        return
    with transaction.atomic():
        _relaxed_commit()
        held = {
            (pk, claimed_at)
            for pk, claimed_at in OutboxMessage.objects.select_for_update()
            .filter(pk__in=[o.message.pk for o in outcomes], status=OutboxStatus.IN_FLIGHT)
            .values_list("pk", "claimed_at")
        }
        won, fields = [], set()
        for o in outcomes:
            if (o.message.pk, o.message.claimed_at) not in held:
                result.lost_claims += 1
                continue
            for name, value in o.fields.items():
                setattr(o.message, name, value)
            fields.update(o.fields)
            won.append(o.message)
            setattr(result, o.counter, getattr(result, o.counter) + 1)
        if won:
            OutboxMessage.objects.bulk_update(won, sorted(fields))
        OutboxAttempt.objects.bulk_create(
            OutboxAttempt(
                message_id=o.message.pk, number=o.message.attempts, outcome=o.outcome, **o.log
            )
            for o in outcomes
        )


def outbox_send(message: OutboxMessage, adapter: Any) -> Outcome:
    """Send one claimed message (no database write): what happened, to record."""
    outbound = OutboundMessage(
        kind=message.kind,
        idempotency_key=message.idempotency_key,
        erp_order_id=message.erp_order_id,
        payload=message.payload,
        order_kind=message.order_kind,
        # After a failure (a retry, or a dead letter put back with its counter reset) the
        # earlier send may have been applied with its answer lost: "unknown" makes the
        # adapters of ERPs that do not dedupe by key read back before posting.
        attempt=None if message.last_error else message.attempts,
    )
    now = timezone.now
    max_attempts = settings.MES_ERP_OUTBOX_MAX_ATTEMPTS
    try:
        delivery = adapter.deliver(outbound)
    except AdapterError as exc:
        detail = f"{exc.detail}" + (f" — {exc.body[:500]}" if exc.body else "")
        if exc.retryable and message.attempts < max_attempts:
            wait = backoff_seconds(message.attempts, exc.retry_after)
            return Outcome(
                message,
                AttemptOutcome.RETRY,
                {
                    "status": OutboxStatus.PENDING,
                    "next_attempt_at": now() + timedelta(seconds=wait),
                    "last_error": detail,
                    "claimed_at": None,
                },
                "retried",
                {"http_status": exc.status, "detail": f"{detail} (retry in {wait:.1f} s)"},
            )
        why = "" if not exc.retryable else f" after {message.attempts} attempts"
        return Outcome(
            message,
            AttemptOutcome.DEAD,
            {"status": OutboxStatus.DEAD, "last_error": detail + why},
            "dead",
            {"http_status": exc.status, "detail": detail + why},
        )
    except Exception as exc:  # a bug or an unexpected network error: retry, keep the trace
        logger.exception("ERP delivery of outbox message %s failed", message.pk)
        wait = backoff_seconds(message.attempts)
        dead = message.attempts >= max_attempts
        return Outcome(
            message,
            AttemptOutcome.DEAD if dead else AttemptOutcome.RETRY,
            {
                "status": OutboxStatus.DEAD if dead else OutboxStatus.PENDING,
                "next_attempt_at": now() + timedelta(seconds=wait),
                "last_error": repr(exc)[:2000],
                "claimed_at": message.claimed_at if dead else None,
            },
            "dead" if dead else "retried",
            {"detail": repr(exc)[:2000]},
        )
    return Outcome(
        message,
        AttemptOutcome.DUPLICATE if delivery.duplicate else AttemptOutcome.DELIVERED,
        {
            "status": OutboxStatus.DELIVERED,
            "delivered_at": now(),
            "external_ref": (delivery.external_ref or "")[:200] if delivery.sent else NOT_SENT_REF,
            "last_error": "",
        },
        "duplicates" if delivery.duplicate else "delivered",
        {"detail": (delivery.detail or "")[:2000]},
    )


def outbox_deliver(message: OutboxMessage, adapter: Any, result: DrainResult) -> None:
    """Send one claimed message and record what happened."""
    outbox_record([outbox_send(message, adapter)], result)


def outbox_drain(
    *, budget_seconds: float | None = None, batch_size: int | None = None
) -> DrainResult:
    """Deliver due messages until none is left or the time budget is spent."""
    budget = settings.MES_ERP_DRAIN_SECONDS if budget_seconds is None else budget_seconds
    size = batch_size or settings.MES_ERP_DRAIN_BATCH
    deadline = time.monotonic() + budget
    result = DrainResult()
    adapters: dict[int, Any] = {}
    try:
        while time.monotonic() < deadline:
            claimed = outbox_claim(limit=size)
            if not claimed:
                break
            outcomes: list[Outcome] = []
            for index, message in enumerate(claimed):
                if time.monotonic() >= deadline:  # the budget is spent: give the rest back
                    _release(claimed[index:])
                    break
                conn = message.connection
                try:
                    adapter = adapters.get(conn.pk) or adapters.setdefault(
                        conn.pk, adapter_for(conn)
                    )
                except AdapterError as exc:
                    result.errors.append(exc.detail)
                    adapter = _Broken(exc)
                outcomes.append(outbox_send(message, adapter))
            outbox_record(outcomes, result)
    finally:
        for adapter in adapters.values():
            close = getattr(adapter, "close", None)
            if callable(close):
                close()
    return result


def _release(messages: list[OutboxMessage]) -> None:
    """Claimed but not sent: back to pending at once (the attempt did not happen)."""
    for message in messages:
        OutboxMessage.objects.filter(
            pk=message.pk, status=OutboxStatus.IN_FLIGHT, claimed_at=message.claimed_at
        ).update(status=OutboxStatus.PENDING, claimed_at=None, attempts=F("attempts") - 1)


class _Broken:
    """Stands for an adapter that could not be made (unknown kind): every delivery fails."""

    def __init__(self, exc: AdapterError) -> None:
        self.exc = exc

    def deliver(self, message: OutboundMessage) -> Any:
        raise self.exc
