"""Inbound ERP orders: pushed to the API, pulled on the beat schedule or imported from a B2MML
OperationsSchedule, they all come through `order_receive`.

Idempotent on (connection, ERP order, version): the same version twice writes nothing. A higher
version changes what has not started (the batch order still created, the work order still
planned: it is cancelled with the reason and made again at the new quantity and due date; a
work order released to the floor on which nothing was executed is re-planned in place to the
new quantity and due date) and is refused where it has; the refusal is recorded, answered 409 to a push and sent back to the
ERP as an `order_rejection` outbox message. An older version than the one applied is stale
(recorded as refused, not sent back: ERPs deliver out of order).
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from batches import services as batch_services
from batches.choices import BatchStatus
from erp_connectors.adapters.base import ORDER_REJECTION, InboundOrder
from erp_connectors.models import (
    ErpConnection,
    ErpOrderLink,
    InboundOutcome,
    InboundReceipt,
    OrderKind,
)
from erp_connectors.outbox import message_write
from genealogy.models import Material
from mes.audit.context import acting_as
from mes.exceptions import Conflict, InvalidInput, NotAuthorized
from recipes.models import MasterRecipe
from recipes.selectors import recipe_version_current_approved
from workorders import services as wo_services
from workorders.choices import WorkOrderSource, WorkOrderStatus
from workorders.models import HandoffRule

PERM_RECEIVE = "erp_connectors.receive_erporder"
DUPLICATE = "duplicate"


@dataclass
class ReceiveResult:
    """What became of one received ERP order version. `outcome`: created, updated, refused
    or duplicate (this version was received before: `original` says what it did then)."""

    outcome: str
    erp_order_id: str
    version: str
    mes_number: str = ""
    reason: str = ""
    original: str = ""
    link: ErpOrderLink | None = None

    @property
    def is_refused(self) -> bool:
        return self.outcome == InboundOutcome.REFUSED or (
            self.outcome == DUPLICATE and self.original == InboundOutcome.REFUSED
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "erp_order_id": self.erp_order_id,
            "version": self.version,
            "mes_number": self.mes_number,
            "reason": self.reason,
            "original": self.original,
        }


def erp_user() -> Any:
    """The named system principal pulled orders and B2MML imports act as."""
    return get_user_model().objects.get(username="erp")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value


def order_payload(order: InboundOrder) -> dict[str, Any]:
    data = {
        "erp_order_id": order.erp_order_id,
        "version": order.version,
        "kind": order.kind,
        "material_code": order.material_code,
        "quantity": order.quantity,
        "uom": order.uom,
        "due": order.due,
        "start": order.start,
        "plant": order.plant,
        "recipe_code": order.recipe_code,
        "work_center": order.work_center,
        "expected_yield_pct": order.expected_yield_pct,
        "priority": order.priority,
        "status": order.status,
    }
    return _jsonable(data)


def _hash(payload: dict[str, Any], *, without_version: bool = False) -> str:
    data = {k: v for k, v in payload.items() if not (without_version and k == "version")}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _version_key(version: str) -> tuple[int, Any]:
    text = (version or "").strip()
    return (0, int(text)) if text.isdigit() else (1, text)


def _due(order: InboundOrder) -> date:
    value = order.due
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    return timezone.localdate() + timedelta(days=7)


def _validate(order: InboundOrder) -> Decimal:
    if not (order.erp_order_id or "").strip():
        raise InvalidInput("The ERP order has no id.", code="erp_order_id_missing")
    if not (order.version or "").strip():
        raise InvalidInput(
            f"ERP order {order.erp_order_id} has no version.", code="erp_version_missing"
        )
    if order.kind not in OrderKind.values:
        raise InvalidInput(
            f"ERP order {order.erp_order_id}: kind must be process or discrete, not "
            f"{order.kind!r}.",
            code="erp_kind_invalid",
        )
    if order.status not in ("planned", "released", "cancelled"):
        raise InvalidInput(
            f"ERP order {order.erp_order_id}: unknown status {order.status!r}.",
            code="erp_status_invalid",
        )
    try:
        qty = Decimal(str(order.quantity))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"ERP order {order.erp_order_id}: quantity is not a number.") from exc
    if not qty.is_finite() or qty <= 0:
        raise InvalidInput(
            f"ERP order {order.erp_order_id}: the quantity must be positive.",
            code="quantity_not_positive",
        )
    return qty


def _material(connection: ErpConnection, code: str) -> Material:
    """The MES material of an ERP material code: the same code, or the MES code whose
    `mapping["materials"]` entry (MES code -> ERP code) is `code`."""
    material = Material.objects.filter(code=code).first()
    if material is None:
        for mes_code, erp_code in (connection.mapping.get("materials") or {}).items():
            if str(erp_code) == code:
                material = Material.objects.filter(code=mes_code).first()
                break
    if material is None:
        raise InvalidInput(
            f"Material {code} is not in the MES material master (mapping of {connection.code}).",
            code="material_unknown",
        )
    return material


def _mes_code(connection: ErpConnection, code: str) -> str:
    try:
        return _material(connection, code).code
    except InvalidInput:
        return code


def _recipe_version(connection: ErpConnection, order: InboundOrder) -> Any:
    code = order.recipe_code or (connection.mapping.get("recipes") or {}).get(order.material_code)
    if code:
        recipe = MasterRecipe.objects.filter(code=code).first()
    else:
        material = _material(connection, order.material_code)
        recipe = MasterRecipe.objects.filter(product=material).order_by("id").first()
    if recipe is None:
        raise InvalidInput(
            f"ERP order {order.erp_order_id}: no master recipe "
            f"{code or 'for ' + order.material_code} in the MES.",
            code="recipe_unknown",
        )
    version = recipe_version_current_approved(recipe)
    if version is None:
        raise InvalidInput(
            f"ERP order {order.erp_order_id}: recipe {recipe.code} has no approved version.",
            code="recipe_not_approved",
        )
    return version


def _make_mes_order(
    *,
    actor: Any,
    connection: ErpConnection,
    order: InboundOrder,
    qty: Decimal,
    material: Material | None = None,
) -> tuple[Any, Any]:
    """(batch, work_order): one of them, made through the owning app's services. `material`:
    the discrete order's item when the caller resolved it already."""
    if order.kind == OrderKind.PROCESS:
        version = _recipe_version(connection, order)
        batch = batch_services.batch_order_create(
            actor=actor,
            recipe_version_id=version.pk,
            batch_size=qty,
            batch_size_uom=order.uom or None,
        )
        return batch, None
    material = material or _material(connection, order.material_code)
    if HandoffRule.objects.filter(item=material, is_active=True).exists():
        # mixed mode: the work order is made by the handoff when QA releases the lot it
        # packs; `handoff_work_order_attach` links it to this ERP order then
        return None, None
    work_order = wo_services.work_order_create(
        actor=actor,
        item=material,
        quantity=qty,
        due_date=_due(order),
        source=WorkOrderSource.ERP,
        external_ref=f"{connection.code}:{order.erp_order_id}:v{order.version}"[:100],
    )
    if order.status == "released":
        work_order = wo_services.work_order_release(actor=actor, work_order=work_order)
    return None, work_order


def _started(link: ErpOrderLink) -> str:
    """Why the MES order can no longer be changed ("" if it can)."""
    if not link.batch_id and not link.work_order_id:
        return ""  # waiting for its mixed-mode handoff
    if link.batch_id:
        batch = link.batch
        if batch.status != BatchStatus.CREATED:
            return f"batch {batch.number} is already {batch.get_status_display().lower()}"
        return ""
    wo = link.work_order
    if wo.status != WorkOrderStatus.PLANNED:
        return (
            f"work order {wo.number} is already {wo.get_status_display().lower()} "
            "(released to the floor)"
        )
    return ""


def _replan(
    *, actor: Any, connection: ErpConnection, order: InboundOrder, qty: Decimal, link: ErpOrderLink
) -> str:
    """A work order released to the floor on which nothing was executed takes the ERP's new
    quantity and due date (`workorders.services.work_order_replan`, its own checks and event,
    with the reason). Returns why it cannot ("" when applied or nothing to apply): execution
    has started, or the change is not one of quantity or due date (a released work order is
    neither cancelled nor given another item)."""
    wo = link.work_order
    if order.status == "cancelled":
        return f"work order {wo.number} is already released to the floor and cannot be cancelled"
    if _mes_code(connection, order.material_code) != link.material_code:
        return (
            f"work order {wo.number} is already released to the floor: its item "
            f"{link.material_code} cannot become {order.material_code}"
        )
    changes: dict[str, Any] = {}
    if qty != wo.quantity:
        changes["quantity"] = qty
    due = _due(order)
    if due != wo.due_date:
        changes["due_date"] = due
    if not changes:
        return ""
    try:
        link.work_order = wo_services.work_order_replan(
            actor=actor,
            work_order=wo,
            reason=f"ERP order {connection.code}:{order.erp_order_id} changed to version "
            f"{order.version}",
            **changes,
        )
    except (Conflict, InvalidInput) as exc:
        return exc.detail.rstrip(".")
    return ""


def _cancel(*, link: ErpOrderLink, reason: str) -> None:
    """The ERP changed or cancelled the order: the MES order not yet started is cancelled by
    the `erp` system principal (unsigned: it is the ERP's decision, recorded with the reason
    and the receipt of the version that asked for it)."""
    actor = erp_user()
    if not link.batch_id and not link.work_order_id:
        return
    if link.batch_id:
        batch_services.batch_cancel(actor=actor, batch=link.batch, reason=reason)
    else:
        wo_services.work_order_cancel(actor=actor, work_order=link.work_order, reason=reason)


def _receipt(
    *,
    actor: Any,
    connection: ErpConnection,
    order: InboundOrder,
    payload: dict[str, Any],
    outcome: str,
    channel: str,
    link: ErpOrderLink | None,
    reason: str = "",
) -> InboundReceipt:
    return InboundReceipt.objects.create(
        connection=connection,
        erp_order_id=order.erp_order_id,
        version=order.version,
        outcome=outcome,
        reason=reason,
        link=link,
        mes_number=link.mes_number if link else "",
        channel=channel,
        payload=payload,
        payload_hash=_hash(payload),
        actor=actor,
    )


def _refuse(
    *,
    actor: Any,
    connection: ErpConnection,
    order: InboundOrder,
    payload: dict[str, Any],
    channel: str,
    link: ErpOrderLink,
    reason: str,
    send_back: bool,
) -> ReceiveResult:
    _receipt(
        actor=actor,
        connection=connection,
        order=order,
        payload=payload,
        outcome=InboundOutcome.REFUSED,
        channel=channel,
        link=link,
        reason=reason,
    )
    if send_back:
        message_write(
            link=link,
            kind=ORDER_REJECTION,
            source=f"receipt:{order.erp_order_id}:v{order.version}",
            payload={"reason": reason, "version": order.version},
        )
    return ReceiveResult(
        outcome=InboundOutcome.REFUSED,
        erp_order_id=order.erp_order_id,
        version=order.version,
        mes_number=link.mes_number,
        reason=reason,
        link=link,
    )


def _duplicate(receipt: InboundReceipt) -> ReceiveResult:
    return ReceiveResult(
        outcome=DUPLICATE,
        erp_order_id=receipt.erp_order_id,
        version=receipt.version,
        mes_number=receipt.mes_number,
        reason=receipt.reason,
        original=receipt.outcome,
        link=receipt.link,
    )


def order_receive(
    *, actor: Any, connection: ErpConnection, order: InboundOrder, channel: str = "push"
) -> ReceiveResult:
    """Receive one ERP order version (see the module docstring). One transaction; of two
    concurrent receipts of the same version, one applies it and the other is a duplicate."""
    try:
        return _order_receive(actor=actor, connection=connection, order=order, channel=channel)
    except IntegrityError:
        receipt = InboundReceipt.objects.filter(
            connection=connection, erp_order_id=order.erp_order_id, version=order.version
        ).first()
        if receipt is None:
            raise
        return _duplicate(receipt)


@transaction.atomic
def _order_receive(
    *, actor: Any, connection: ErpConnection, order: InboundOrder, channel: str
) -> ReceiveResult:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise NotAuthorized("Only an active, authenticated integration account may send orders.")
    if not actor.has_perm(PERM_RECEIVE):
        raise NotAuthorized(f"You lack the permission to send ERP orders ({PERM_RECEIVE}).")
    if not connection.is_active:
        raise InvalidInput(f"ERP connection {connection.code} is not active.", code="inactive")
    qty = _validate(order)
    payload = order_payload(order)
    existing = InboundReceipt.objects.filter(
        connection=connection, erp_order_id=order.erp_order_id, version=order.version
    ).first()
    if existing is not None:
        return _duplicate(existing)
    with acting_as(
        actor, reason=f"ERP order {connection.code}:{order.erp_order_id} v{order.version}"
    ):
        link = (
            ErpOrderLink.objects.select_for_update(of=("self",))
            .select_related("batch", "work_order")
            .filter(connection=connection, erp_order_id=order.erp_order_id)
            .first()
        )
        if link is None:
            return _create(
                actor=actor,
                connection=connection,
                order=order,
                qty=qty,
                payload=payload,
                channel=channel,
            )
        return _change(
            actor=actor,
            connection=connection,
            order=order,
            qty=qty,
            payload=payload,
            channel=channel,
            link=link,
        )


def _create(
    *,
    actor: Any,
    connection: ErpConnection,
    order: InboundOrder,
    qty: Decimal,
    payload: dict[str, Any],
    channel: str,
) -> ReceiveResult:
    if order.status == "cancelled":
        raise InvalidInput(
            f"ERP order {order.erp_order_id} is cancelled and unknown to the MES.",
            code="erp_order_cancelled",
        )
    # a discrete order's item is looked up once (it names the work order's item and the link)
    material = (
        _material(connection, order.material_code) if order.kind == OrderKind.DISCRETE else None
    )
    batch, work_order = _make_mes_order(
        actor=actor, connection=connection, order=order, qty=qty, material=material
    )
    link = ErpOrderLink.objects.create(
        connection=connection,
        erp_order_id=order.erp_order_id,
        version=order.version,
        kind=order.kind,
        material_code=material.code if material else _mes_code(connection, order.material_code),
        quantity=qty,
        uom=order.uom,
        due=_due(order),
        expected_yield_pct=order.expected_yield_pct,
        erp_status=order.status,
        batch=batch,
        work_order=work_order,
        payload_hash=_hash(payload, without_version=True),
    )
    _receipt(
        actor=actor,
        connection=connection,
        order=order,
        payload=payload,
        outcome=InboundOutcome.CREATED,
        channel=channel,
        link=link,
    )
    return ReceiveResult(
        outcome=InboundOutcome.CREATED,
        erp_order_id=order.erp_order_id,
        version=order.version,
        mes_number=link.mes_number,
        link=link,
    )


def _change(
    *,
    actor: Any,
    connection: ErpConnection,
    order: InboundOrder,
    qty: Decimal,
    payload: dict[str, Any],
    channel: str,
    link: ErpOrderLink,
) -> ReceiveResult:
    common = {
        "actor": actor,
        "connection": connection,
        "order": order,
        "payload": payload,
        "channel": channel,
        "link": link,
    }
    if _version_key(order.version) <= _version_key(link.version):
        return _refuse(
            **common,
            reason=f"Version {order.version} is not newer than the applied version "
            f"{link.version}: ignored as stale.",
            send_back=False,
        )
    if order.kind != link.kind:
        return _refuse(
            **common,
            reason=f"A {link.kind} order cannot become {order.kind} (version {order.version}).",
            send_back=True,
        )
    same_content = _hash(payload, without_version=True) == link.payload_hash
    replan = (
        not same_content
        and link.work_order_id is not None
        and link.work_order.status == WorkOrderStatus.RELEASED
    )
    started = "" if replan else _started(link)
    if replan:
        started = _replan(actor=actor, connection=connection, order=order, qty=qty, link=link)
    if not same_content and started:
        return _refuse(
            **common,
            reason=f"ERP order {order.erp_order_id} version {order.version} refused: {started};"
            " the MES order can no longer be changed.",
            send_back=True,
        )
    if not same_content and not replan:
        text = f"ERP order {order.erp_order_id} changed to version {order.version}" + (
            " (cancelled in the ERP)" if order.status == "cancelled" else ""
        )
        released_only = (
            order.kind == OrderKind.DISCRETE
            and order.status == "released"
            and link.erp_status == "planned"
            and _hash({**payload, "status": "planned"}, without_version=True) == link.payload_hash
        )
        if released_only:
            link.work_order = wo_services.work_order_release(
                actor=actor, work_order=link.work_order
            )
        else:
            _cancel(link=link, reason=text)
            if order.status != "cancelled":
                link.batch, link.work_order = _make_mes_order(
                    actor=actor, connection=connection, order=order, qty=qty
                )
    link.version = order.version
    link.material_code = _mes_code(connection, order.material_code)
    link.quantity = qty
    link.uom = order.uom
    link.due = _due(order)
    link.expected_yield_pct = order.expected_yield_pct
    link.erp_status = order.status
    link.payload_hash = _hash(payload, without_version=True)
    link.save()
    _receipt(
        actor=actor,
        connection=connection,
        order=order,
        payload=payload,
        outcome=InboundOutcome.UPDATED,
        channel=channel,
        link=link,
    )
    return ReceiveResult(
        outcome=InboundOutcome.UPDATED,
        erp_order_id=order.erp_order_id,
        version=order.version,
        mes_number=link.mes_number,
        link=link,
    )


def orders_pull(*, connection: ErpConnection, actor: Any | None = None) -> list[ReceiveResult]:
    """Fetch every order changed since the last pull and receive each one (own transaction
    each: one bad order does not stop the others; its refusal is in the result)."""
    from erp_connectors.outbox import adapter_for

    actor = actor or erp_user()
    started = timezone.now()
    adapter = adapter_for(connection)
    results = []
    for order in adapter.fetch_orders(since=connection.last_pulled_at):
        try:
            results.append(
                order_receive(actor=actor, connection=connection, order=order, channel="pull")
            )
        except (InvalidInput, NotAuthorized) as exc:
            results.append(
                ReceiveResult(
                    outcome="invalid",
                    erp_order_id=order.erp_order_id,
                    version=order.version,
                    reason=exc.detail,
                )
            )
    with acting_as(actor, reason=f"pulled orders from {connection.code}"):
        ErpConnection.objects.filter(pk=connection.pk).update(last_pulled_at=started)
    return results
