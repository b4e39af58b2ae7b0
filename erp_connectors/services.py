"""Writes of the ERP connectors besides inbound orders (`inbound.py`) and the outbox
(`outbox.py`): connections and their mapping, dead-letter retries, reconciliation."""

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from erp_connectors.adapters.base import (
    GOODS_ISSUE,
    GOODS_RECEIPT,
    OPERATION_CONFIRMATION,
    AdapterError,
    is_reversal,
)
from erp_connectors.models import (
    ConnectionKind,
    DeadLetterRetry,
    ErpConnection,
    ErpOrderLink,
    FindingStatus,
    OutboxMessage,
    OutboxStatus,
    ReconciliationFinding,
)
from erp_connectors.outbox import NOT_SENT_REF, adapter_for, kick
from mes.audit.context import acting_as, change_reason, current_context, system_context
from mes.exceptions import Conflict, InvalidInput, NotAuthorized

PERM_MANAGE = "erp_connectors.manage_outbox"
PERM_CHANGE_CONNECTION = "erp_connectors.change_erpconnection"


def _require(actor: Any, perm: str, action: str) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise NotAuthorized(f"Only an active, logged-in user may {action}.")
    if not actor.has_perm(perm):
        raise NotAuthorized(f"You lack the permission to {action} ({perm}).")


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if len(text) < 3:
        raise InvalidInput("Say why (a reason of at least 3 characters).", code="reason_required")
    return text


@transaction.atomic
def connection_create(
    *,
    actor: Any,
    site: Any,
    code: str,
    kind: str,
    base_url: str,
    credentials_ref: str = "",
    mapping: dict[str, Any] | None = None,
    name: str = "",
    pull_enabled: bool = True,
) -> ErpConnection:
    _require(actor, "erp_connectors.add_erpconnection", "add ERP connections")
    code = (code or "").strip().upper()
    if not code:
        raise InvalidInput("An ERP connection needs a code.")
    if kind not in ConnectionKind.values:
        raise InvalidInput(f"Unknown ERP kind {kind!r}.")
    if not (base_url or "").startswith(("http://", "https://")):
        raise InvalidInput("The base URL must start with http:// or https://.")
    if ErpConnection.objects.filter(code=code).exists():
        raise Conflict(f"ERP connection {code} exists.", code="duplicate_connection")
    with acting_as(actor, reason=f"ERP connection {code} added"):
        return ErpConnection.objects.create(
            site=site,
            code=code,
            name=(name or "")[:200],
            kind=kind,
            base_url=base_url,
            credentials_ref=(credentials_ref or "").strip(),
            mapping=mapping or {},
            pull_enabled=pull_enabled,
        )


@transaction.atomic
def connection_mapping_set(
    *, actor: Any, connection: ErpConnection, mapping: dict[str, Any], reason: str
) -> ErpConnection:
    """Replace the connection's mapping (plant, work-center, material, unit codes), with a
    reason: the audit trail keeps the old and new mapping."""
    _require(actor, PERM_CHANGE_CONNECTION, "change an ERP mapping")
    if not isinstance(mapping, dict):
        raise InvalidInput("The mapping must be a JSON object.")
    text = _reason(reason)
    locked = ErpConnection.objects.select_for_update().get(pk=connection.pk)
    with acting_as(actor, reason=f"mapping of {locked.code}: {text}"):
        locked.mapping = mapping
        locked._change_reason = text
        locked.save(update_fields=["mapping"])
    return locked


@transaction.atomic
def dead_letter_retry(*, actor: Any, message: OutboxMessage, reason: str) -> OutboxMessage:
    """Put a dead message back in the queue (typically after fixing the mapping): recorded
    with who, why, the last error and the mapping it will be sent with."""
    _require(actor, PERM_MANAGE, "retry dead ERP messages")
    text = _reason(reason)
    locked = (
        OutboxMessage.objects.select_for_update().select_related("connection").get(pk=message.pk)
    )
    if locked.status != OutboxStatus.DEAD:
        raise Conflict(
            f"Message #{locked.pk} is {locked.get_status_display().lower()}, not a dead letter.",
            code="not_dead",
        )
    with acting_as(actor, reason=f"retry ERP message #{locked.pk}: {text}"):
        DeadLetterRetry.objects.create(
            message=locked,
            actor=actor,
            reason=text,
            last_error=locked.last_error,
            mapping=locked.connection.mapping,
        )
        locked.status = OutboxStatus.PENDING
        locked.attempts = 0
        locked.next_attempt_at = timezone.now()
        locked.claimed_at = None
        locked.save(update_fields=["status", "attempts", "next_attempt_at", "claimed_at"])
    transaction.on_commit(kick)
    return locked


# --- reconciliation --------------------------------------------------------------------------


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def mes_view(link: ErpOrderLink) -> dict[str, Any]:
    """What the MES delivered for the order: the same keys as an adapter's read_back, plus
    per operation ("0010") the summed good, scrap, labor and machine hours of its partial and
    final confirmations and whether the final one went."""
    delivered = list(
        OutboxMessage.objects.filter(link=link, status=OutboxStatus.DELIVERED).values(
            "kind", "payload", "idempotency_key", "external_ref"
        )
    )
    total = {
        GOODS_ISSUE: Decimal(0),
        GOODS_RECEIPT: Decimal(0),
        "good": Decimal(0),
        "scrap": Decimal(0),
    }
    operations: dict[str, dict[str, Any]] = {}
    for m in delivered:
        p = m["payload"]
        if m["kind"] in (GOODS_ISSUE, GOODS_RECEIPT):
            # a goods-issue reversal (material returned to stock) takes back what it names:
            # the ERP holds the net issue (SAP 261 - 262, Oracle issue - return, ...)
            sign = -1 if m["kind"] == GOODS_ISSUE and is_reversal(p) else 1
            total[m["kind"]] += sign * Decimal(str(p.get("quantity", "0")))
        if m["kind"] == OPERATION_CONFIRMATION:
            total["good"] += Decimal(str(p.get("good", "0")))
            total["scrap"] += Decimal(str(p.get("scrap", "0")))
            op = operations.setdefault(
                str(p.get("operation")),
                {**dict.fromkeys(OPERATION_SUMS, Decimal(0)), "final": False},
            )
            for name in OPERATION_SUMS:
                op[name] += Decimal(str(p.get(name) or "0"))
            op["final"] = op["final"] or bool(p.get("final"))
    return {
        "confirmed_good": total["good"],
        "confirmed_scrap": total["scrap"],
        "goods_issues": total[GOODS_ISSUE],
        "goods_receipts": total[GOODS_RECEIPT],
        # a message the adapter did not post (nothing in it the ERP records) leaves no key
        "idempotency_keys": {
            m["idempotency_key"] for m in delivered if m["external_ref"] != NOT_SENT_REF
        },
        "operations": operations,
    }


OPERATION_SUMS = ("good", "scrap", "labor_hours", "machine_hours")


def _compare(mes: dict[str, Any], erp: dict[str, Any]) -> dict[str, tuple[str, str]]:
    diffs: dict[str, tuple[str, str]] = {}
    for key in ("confirmed_good", "confirmed_scrap", "goods_issues", "goods_receipts"):
        ours, theirs = mes.get(key), _dec(erp.get(key))
        if ours is None or key not in erp:
            continue
        if theirs is None or theirs != ours:
            diffs[key] = (format(ours, "f"), "" if theirs is None else format(theirs, "f"))
    # per operation, what the ERP sums of the partial and final confirmations (each ERP reports
    # what it keeps: SAP quantities, hours and the final flag, Oracle quantities, REST all)
    erp_ops = erp.get("operations")
    if isinstance(erp_ops, dict):
        theirs_by_op = {_op_key(k): v for k, v in erp_ops.items()}
        for number, ours_op in sorted(mes.get("operations", {}).items()):
            theirs_op = theirs_by_op.get(_op_key(number)) or {}
            for name in (*OPERATION_SUMS, "final"):
                if name not in theirs_op and theirs_op:
                    continue
                if name == "final":
                    if ours_op["final"] and not theirs_op.get("final"):
                        diffs[f"op {number} final"] = ("final", "not final")
                    continue
                theirs = _dec(theirs_op.get(name, "0"))
                if theirs is None or theirs.normalize() != ours_op[name].normalize():
                    diffs[f"op {number} {name}"] = (
                        format(ours_op[name], "f"),
                        "" if theirs is None else format(theirs, "f"),
                    )
    keys = erp.get("idempotency_keys")
    if keys is not None:
        # `in`, not a set difference: an adapter may recognise a key it only keeps cut short
        # or as a digest (SAP: `SapKeys`)
        missing = sorted(k for k in mes["idempotency_keys"] if k not in keys)
        if missing:
            diffs["missing_messages"] = (str(len(missing)), ", ".join(missing)[:200])
    return diffs


def _op_key(number: Any) -> str:
    """ "0010", "10" and 10 name the same operation."""
    text = str(number).strip()
    return str(int(text)) if text.isdigit() else text


@transaction.atomic
def order_reconcile(*, link: ErpOrderLink, erp: dict[str, Any]) -> list[ReconciliationFinding]:
    """Compare the ERP's view of one order (`read_back`) with what the MES delivered: a
    difference opens a finding (once per field), a finding that no longer differs is
    resolved. Returns the open findings of the order."""
    diffs = _compare(mes_view(link), erp)
    now = timezone.now()
    text = f"reconcile {link}"
    with change_reason(text) if current_context() else system_context("erp", reason=text):
        for finding in ReconciliationFinding.objects.select_for_update().filter(
            link=link, status=FindingStatus.OPEN
        ):
            if finding.field not in diffs:
                finding.status = FindingStatus.RESOLVED
                finding.resolved_at = now
                finding.save(update_fields=["status", "resolved_at"])
        for field, (ours, theirs) in diffs.items():
            ReconciliationFinding.objects.get_or_create(
                connection=link.connection,
                erp_order_id=link.erp_order_id,
                field=field,
                status=FindingStatus.OPEN,
                defaults={"link": link, "mes_value": ours[:200], "erp_value": theirs[:200]},
            )
    return list(ReconciliationFinding.objects.filter(link=link, status=FindingStatus.OPEN))


def reconciliation_run(
    *, connection: ErpConnection | None = None, days: int = 30
) -> dict[str, int]:
    """Read back every order with delivered messages in the last `days` days."""
    since = timezone.now() - timedelta(days=days)
    links = ErpOrderLink.objects.select_related("connection").filter(
        Q(messages__delivered_at__gte=since), connection__is_active=True
    )
    if connection is not None:
        links = links.filter(connection=connection)
    counts = {"orders": 0, "findings": 0, "errors": 0}
    adapters: dict[int, Any] = {}
    for link in links.distinct().order_by("id"):
        try:
            adapter = adapters.get(link.connection_id) or adapters.setdefault(
                link.connection_id, adapter_for(link.connection)
            )
            erp = adapter.read_back(link.erp_order_id)
        except AdapterError:
            counts["errors"] += 1
            continue
        counts["orders"] += 1
        counts["findings"] += len(order_reconcile(link=link, erp=erp))
    for adapter in adapters.values():
        close = getattr(adapter, "close", None)
        if callable(close):
            close()
    return counts
