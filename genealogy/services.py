"""Every change to materials and lots. The ONLY way to change a lot: other apps call these.

Each service runs in one transaction, locks the lots it changes (`select_for_update`, in id
order so that two operations never deadlock), checks the rules, writes one `LotEvent` per lot
whose quantity (or status, or place) changes, the `Link`s that explain where material went,
and updates `Lot.quantity` so that it always equals the sum of its events. Refusals raise a
`DomainError` subclass and write nothing. News goes out on commit (genealogy.signals).
"""

import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from genealogy import importer, signals
from genealogy.choices import (
    LOT_STATUS_TRANSITIONS,
    ContextKind,
    EventType,
    LinkKind,
    LotStatus,
    MaterialKind,
    NodeKind,
    RecallJobStatus,
    UnitOfMeasure,
)
from genealogy.exceptions import DuplicateLot, GenealogyCycle, InsufficientQuantity, LotNotFound
from genealogy.gates import check_consumption, check_shipment
from genealogy.models import Link, Lot, LotEvent, Material, RecallJob
from genealogy.quantities import in_uom
from genealogy.selectors import (
    RecallScope,
    lot_is_ancestor,
    lots_by_supplier_lot,
    lots_with_material,
    recall_scope_for_lot,
    recall_scope_for_supplier_lot,
)
from mes.accounts.models import User
from mes.audit.context import acting_as, current_context
from mes.esign.models import Meaning
from mes.esign.services import AuthenticatedSigner, record_sign
from mes.exceptions import (
    Conflict,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotAuthorized,
    SignatureRefused,
)
from mes.history import update_with_history

FUTURE_TOLERANCE = timedelta(minutes=5)
logger = logging.getLogger(__name__)


# --- helpers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A record of a higher app, by reference: kind (ContextKind), ref and a URL to open it."""

    kind: str = ""
    ref: str = ""
    url: str = ""

    @classmethod
    def parse(cls, value: Mapping[str, Any] | None, *, what: str, required: bool) -> "Ref":
        if not value:
            if required:
                raise InvalidInput(f"The {what} is required (kind and ref).")
            return cls()
        kind = str(value.get("kind") or "").strip()
        ref = str(value.get("ref") or "").strip()
        url = str(value.get("url") or "").strip()
        if kind not in ContextKind.values:
            raise InvalidInput(
                f"The {what} kind {kind!r} is not one of {', '.join(ContextKind.values)}."
            )
        if not ref:
            raise InvalidInput(f"The {what} needs a reference (ref).")
        if len(ref) > 200 or len(url) > 500:
            raise InvalidInput(f"The {what} reference or URL is too long.")
        if url and not (
            (url.startswith("/") and not url.startswith("//"))
            or url.startswith(("https://", "http://"))
        ):
            raise InvalidInput(f"The {what} URL must be a path or an http(s) address.")
        return cls(kind=kind, ref=ref, url=url)

    def as_gate_context(self, occurred_at: datetime) -> dict[str, Any]:
        return {"kind": self.kind, "ref": self.ref, "url": self.url, "occurred_at": occurred_at}


def _occurred(occurred_at: datetime | None) -> datetime:
    if occurred_at is None:
        return timezone.now()
    if timezone.is_naive(occurred_at):
        raise InvalidInput("occurred_at must carry a time zone.")
    if occurred_at > timezone.now() + FUTURE_TOLERANCE:
        raise InvalidInput("An event cannot be recorded in the future.")
    return occurred_at


def _request_id() -> str:
    ctx = current_context()
    return ctx.request_id if ctx is not None else ""


def _text(value: str, *, what: str, max_length: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"The {what} is required.")
    if len(value) > max_length:
        raise InvalidInput(f"The {what} is longer than {max_length} characters.")
    return value


def _lock(lots: Iterable[Lot]) -> dict[int, Lot]:
    """Lock the lot rows (in id order) and return fresh copies by id, with their material."""
    ids = sorted({lot.pk for lot in lots})
    locked = {lot.pk: lot for lot in lots_with_material(column="id", values=ids, lock=True)}
    missing = set(ids) - set(locked)
    if missing:
        raise InvalidInput(f"Unknown lot id(s): {sorted(missing)}.")
    return locked


def _save_lot(lot: Lot, actor: User, reason: str, fields: list[str]) -> None:
    """The lot's changed `fields` and its history row (by `actor`, with `reason`): one
    statement on PostgreSQL (mes.history.update_with_history; nothing but simple-history
    listens to lot saves, which genealogy's tests check)."""
    lot._change_reason = reason  # type: ignore[attr-defined]
    update_with_history(lot, [*fields, "updated_at"], user=actor)


def _create_lot(lot: Lot, actor: User, reason: str) -> Lot:
    if Lot.objects.filter(material_id=lot.material_id, lot_number=lot.lot_number).exists():
        raise DuplicateLot(f"{lot.material.code} lot {lot.lot_number} already exists.")
    lot._history_user = actor  # type: ignore[attr-defined]
    lot._change_reason = reason  # type: ignore[attr-defined]
    try:
        with transaction.atomic():
            lot.save()
    except IntegrityError as exc:
        raise DuplicateLot(f"{lot.material.code} lot {lot.lot_number} already exists.") from exc
    return lot


def _event(
    *,
    type: str,
    lot: Lot,
    delta: Decimal,
    actor: User,
    operation_id: uuid.UUID,
    occurred_at: datetime,
    ref: Ref = Ref(),
    created: bool = False,
    **fields: Any,
) -> LotEvent:
    """Apply `delta` to the (locked) lot in memory and write its ledger line. For a lot
    `created` by this operation, its quantity already holds `delta` (saved once)."""
    after = lot.quantity if created else lot.quantity + delta
    if after < 0:
        raise InsufficientQuantity(
            f"Lot {lot.lot_number} holds {lot.quantity} {lot.uom}; {-delta} cannot be taken."
        )
    lot.quantity = after
    return LotEvent.objects.create(
        type=type,
        lot=lot,
        quantity_delta=delta,
        quantity_after=after,
        uom=lot.uom,
        operation_id=operation_id,
        occurred_at=occurred_at,
        actor=actor,
        context_kind=ref.kind,
        context_ref=ref.ref,
        context_url=ref.url,
        request_id=_request_id(),
        **fields,
    )


def _link(
    *, parent: Lot, child: Lot, kind: str, quantity: Decimal, event: LotEvent, ref: Ref
) -> Link:
    if parent.pk == child.pk:
        raise GenealogyCycle(f"Lot {parent.lot_number} cannot be linked to itself.")
    return Link.objects.create(
        parent=parent,
        child=child,
        kind=kind,
        quantity=quantity,
        uom=parent.uom,
        event=event,
        context_kind=ref.kind,
        context_ref=ref.ref,
        context_url=ref.url,
    )


def _refuse_cycle(parent: Lot, child: Lot) -> None:
    """A link parent -> child into an EXISTING child closes a cycle when the child is
    already an ancestor of the parent."""
    if parent.pk == child.pk:
        raise GenealogyCycle(f"Lot {parent.lot_number} cannot be linked to itself.")
    if lot_is_ancestor(ancestor_id=child.pk, of_id=parent.pk):
        raise GenealogyCycle(
            f"Linking {parent.lot_number} into {child.lot_number} would make a cycle: "
            f"{child.lot_number} is already an ancestor of {parent.lot_number}."
        )


def _dates_for(material: Material, occurred_at: datetime) -> tuple[date | None, date | None]:
    day = timezone.localdate(occurred_at)
    expires = day + timedelta(days=material.shelf_life_days) if material.shelf_life_days else None
    retest = (
        day + timedelta(days=material.retest_interval_days)
        if material.retest_interval_days
        else None
    )
    return expires, retest


def _next_lot_number(material: Material, infix: str, occurred_at: datetime) -> str:
    """`<CODE>-<infix><yymmdd>-<nnn>`, serialised per material by locking its row."""
    Material.objects.select_for_update().filter(pk=material.pk).first()
    prefix = f"{material.code}-{infix}{timezone.localdate(occurred_at):%y%m%d}-"
    n = Lot.objects.filter(material=material, lot_number__startswith=prefix).count() + 1
    while Lot.objects.filter(material=material, lot_number=f"{prefix}{n:03d}").exists():
        n += 1
    return f"{prefix}{n:03d}"


def _common_status(statuses: Iterable[str]) -> str:
    found = set(statuses)
    return found.pop() if len(found) == 1 else LotStatus.QUARANTINE


def _on_commit(signal: Any, **kwargs: Any) -> None:
    transaction.on_commit(lambda: signal.send(sender=Lot, **kwargs))


@dataclass(frozen=True)
class _Input:
    lot: Lot
    quantity: Decimal
    ref: Ref
    kind: str


def _parse_inputs(
    inputs: Sequence[Mapping[str, Any]], *, default_ref: Ref, default_kind: str
) -> list[_Input]:
    parsed = []
    for item in inputs:
        lot = item.get("lot")
        if not isinstance(lot, Lot):
            raise InvalidInput("Each input needs a lot.")
        ref = (
            Ref.parse(item["context"], what="consumption context", required=True)
            if item.get("context")
            else default_ref
        )
        kind = item.get("kind") or default_kind
        if kind not in (LinkKind.CONSUMED, LinkKind.COMPONENT, LinkKind.REWORKED):
            raise InvalidInput(f"An input cannot be linked as {kind!r}.")
        quantity = in_uom(item.get("quantity"), item.get("uom"), lot.uom)
        if quantity <= 0:
            raise InvalidInput("Every input quantity must be positive.")
        parsed.append(_Input(lot=lot, quantity=quantity, ref=ref, kind=kind))
    return parsed


def _consume_inputs(
    *,
    inputs: list[_Input],
    into: Lot,
    actor: User,
    operation_id: uuid.UUID,
    occurred_at: datetime,
    check_cycles: bool,
) -> list[LotEvent]:
    locked = _lock([i.lot for i in inputs])
    events = []
    for item in inputs:
        lot = locked[item.lot.pk]
        check_consumption(lot, item.quantity, item.ref.as_gate_context(occurred_at))
        if check_cycles:
            _refuse_cycle(lot, into)
        event = _event(
            type=EventType.CONSUMED,
            lot=lot,
            delta=-item.quantity,
            actor=actor,
            operation_id=operation_id,
            occurred_at=occurred_at,
            ref=item.ref,
            data={"into": into.pk},
        )
        _link(
            parent=lot,
            child=into,
            kind=item.kind,
            quantity=item.quantity,
            event=event,
            ref=item.ref,
        )
        events.append(event)
    for lot in locked.values():
        _save_lot(lot, actor, f"consumed into {into.lot_number}", ["quantity"])
    return events


# --- materials -------------------------------------------------------------------------------


@transaction.atomic
def material_create(
    *,
    actor: User,
    code: str,
    name: str,
    uom: str,
    kind: str = MaterialKind.RAW,
    is_lot_controlled: bool = True,
    is_serialized: bool = False,
    shelf_life_days: int | None = None,
    retest_interval_days: int | None = None,
    description: str = "",
) -> Material:
    """Add a material to the master. Serialized materials are counted in `ea`."""
    code = _text(code, what="material code", max_length=40)
    name = _text(name, what="material name", max_length=200)
    if uom not in UnitOfMeasure.values:
        raise InvalidInput(f"Unknown unit of measure {uom!r}.")
    if kind not in MaterialKind.values:
        raise InvalidInput(f"Unknown material kind {kind!r}.")
    if is_serialized and (not is_lot_controlled or uom != UnitOfMeasure.EACH):
        raise InvalidInput("A serialized material is lot-controlled and counted in ea.")
    for days, what in ((shelf_life_days, "shelf life"), (retest_interval_days, "retest interval")):
        if days is not None and days <= 0:
            raise InvalidInput(f"The {what} must be a positive number of days.")
    if Material.objects.filter(code__iexact=code).exists():
        raise Conflict(f"Material {code} already exists.", code="duplicate_material")
    with acting_as(actor, reason=f"create material {code}"):
        material = Material(
            code=code,
            name=name,
            uom=uom,
            kind=kind,
            is_lot_controlled=is_lot_controlled,
            is_serialized=is_serialized,
            shelf_life_days=shelf_life_days,
            retest_interval_days=retest_interval_days,
            description=description,
        )
        material._history_user = actor  # type: ignore[attr-defined]
        material.save()
    return material


def _usable_material(material: Material, *, serialized: bool | None) -> None:
    if not material.is_active:
        raise Conflict(f"Material {material.code} is inactive.", code="material_inactive")
    if not material.is_lot_controlled:
        raise InvalidInput(f"Material {material.code} is not lot-controlled: it has no lots.")
    if serialized is True and not material.is_serialized:
        raise InvalidInput(f"Material {material.code} is not serialized.")
    if serialized is False and material.is_serialized:
        raise InvalidInput(
            f"Material {material.code} is serialized: create units (unit_create) instead."
        )


# --- lots ------------------------------------------------------------------------------------


@transaction.atomic
def lot_receive(
    *,
    actor: User,
    material: Material,
    lot_number: str,
    quantity: Any,
    supplier: str,
    supplier_lot_number: str,
    uom: str | None = None,
    expires_at: date | None = None,
    retest_at: date | None = None,
    container: str = "",
    location: str = "",
    occurred_at: datetime | None = None,
    reference: str = "",
) -> Lot:
    """A lot arrives from a supplier. It starts in quarantine (quality releases it). A
    serialized material arrives as one unit per serial number (quantity 1)."""
    occurred_at = _occurred(occurred_at)
    _usable_material(material, serialized=None)
    lot_number = _text(lot_number, what="lot number", max_length=64)
    supplier = _text(supplier, what="supplier", max_length=200)
    supplier_lot_number = _text(supplier_lot_number, what="supplier lot number", max_length=100)
    qty = in_uom(quantity, uom, material.uom)
    if qty <= 0:
        raise InvalidInput("A received quantity must be positive.")
    if material.is_serialized and qty != 1:
        raise InvalidInput(f"{material.code} is serialized: receive one unit per serial number.")
    default_expires, default_retest = _dates_for(material, occurred_at)
    reason = f"received {lot_number} from {supplier}"
    with acting_as(actor, reason=reason):
        lot = _create_lot(
            Lot(
                kind=NodeKind.UNIT if material.is_serialized else NodeKind.LOT,
                material=material,
                lot_number=lot_number,
                quantity=qty,
                uom=material.uom,
                supplier=supplier,
                supplier_lot_number=supplier_lot_number,
                expires_at=expires_at or default_expires,
                retest_at=retest_at or default_retest,
                container=_text(container, what="container", max_length=100, required=False),
                location=_text(location, what="location", max_length=100, required=False),
            ),
            actor,
            reason,
        )
        _event(
            type=EventType.RECEIVED,
            lot=lot,
            delta=qty,
            actor=actor,
            operation_id=uuid.uuid4(),
            occurred_at=occurred_at,
            data={
                "supplier": supplier,
                "supplier_lot_number": supplier_lot_number,
                "reference": reference,
            },
            created=True,
        )
    _on_commit(signals.lot_received, lot_id=lot.pk)
    return lot


@transaction.atomic
def lot_produce(
    *,
    actor: User,
    material: Material,
    quantity: Any,
    source: Mapping[str, Any],
    lot_number: str | None = None,
    uom: str | None = None,
    inputs: Sequence[Mapping[str, Any]] = (),
    consumptions: Sequence[LotEvent] = (),
    expires_at: date | None = None,
    container: str = "",
    location: str = "",
    occurred_at: datetime | None = None,
) -> Lot:
    """A batch or a work order made a lot. `source` = {"kind": "batch"|"work_order"|...,
    "ref": "B-1001", "url": "/batches/1001/"}. `inputs` = [{"lot", "quantity", "uom"?,
    "context"?, "kind"?}] are consumed into it now (through the consumption gates);
    `consumptions` are earlier consumption events (`lot_consume` without `into`, e.g.
    dispensed in a batch phase) whose material went into this lot: they are linked to it.
    The new lot starts in quarantine."""
    occurred_at = _occurred(occurred_at)
    _usable_material(material, serialized=False)
    src = Ref.parse(source, what="source", required=True)
    qty = in_uom(quantity, uom, material.uom)
    if qty <= 0:
        raise InvalidInput("A produced quantity must be positive.")
    parsed = _parse_inputs(inputs, default_ref=src, default_kind=LinkKind.CONSUMED)
    for event in consumptions:
        if event.type != EventType.CONSUMED:
            raise InvalidInput(f"Event #{event.pk} is not a consumption.")
    default_expires, default_retest = _dates_for(material, occurred_at)
    operation_id = uuid.uuid4()
    with acting_as(actor, reason=f"produced by {src.kind} {src.ref}"):
        number = (
            _text(lot_number, what="lot number", max_length=64)
            if lot_number
            else _next_lot_number(material, "", occurred_at)
        )
        reason = f"produced {number} by {src.kind} {src.ref}"
        lot = _create_lot(
            Lot(
                kind=NodeKind.LOT,
                material=material,
                lot_number=number,
                quantity=qty,
                uom=material.uom,
                expires_at=expires_at or default_expires,
                retest_at=default_retest,
                container=_text(container, what="container", max_length=100, required=False),
                location=_text(location, what="location", max_length=100, required=False),
                source_kind=src.kind,
                source_ref=src.ref,
                source_url=src.url,
            ),
            actor,
            reason,
        )
        _consume_inputs(
            inputs=parsed,
            into=lot,
            actor=actor,
            operation_id=operation_id,
            occurred_at=occurred_at,
            check_cycles=False,  # the lot is new: nothing descends from it yet
        )
        returned = returned_quantities([event.pk for event in consumptions])
        for event in consumptions:
            net = -event.quantity_delta - returned.get(event.pk, Decimal(0))
            if net <= 0:
                continue  # all of it went back to stock: none of it is in the new lot
            parent = Lot.objects.get(pk=event.lot_id)
            _link(
                parent=parent,
                child=lot,
                kind=LinkKind.CONSUMED,
                quantity=net,
                event=event,
                ref=Ref(event.context_kind, event.context_ref, event.context_url),
            )
        _event(
            type=EventType.PRODUCED,
            lot=lot,
            delta=qty,
            actor=actor,
            operation_id=operation_id,
            occurred_at=occurred_at,
            ref=src,
            created=True,
        )
    _on_commit(signals.lot_produced, lot_id=lot.pk, source_kind=src.kind, source_ref=src.ref)
    return lot


@transaction.atomic
def unit_create(
    *,
    actor: User,
    material: Material,
    serial_number: str,
    source: Mapping[str, Any] | None = None,
    components: Sequence[Mapping[str, Any]] = (),
    container: str = "",
    location: str = "",
    occurred_at: datetime | None = None,
) -> Lot:
    """A serialized unit is made (a pail filled, a pump assembled). `components` =
    [{"lot", "quantity", "uom"?, "context"?}] are consumed into it (component linkage).
    The unit is a node of the genealogy (kind unit, quantity 1 ea) and starts in quarantine."""
    occurred_at = _occurred(occurred_at)
    _usable_material(material, serialized=True)
    serial_number = _text(serial_number, what="serial number", max_length=64)
    src = Ref.parse(source, what="source", required=False)
    parsed = _parse_inputs(components, default_ref=src, default_kind=LinkKind.COMPONENT)
    reason = f"unit {serial_number} made" + (f" by {src.kind} {src.ref}" if src.ref else "")
    operation_id = uuid.uuid4()
    with acting_as(actor, reason=reason):
        unit = _create_lot(
            Lot(
                kind=NodeKind.UNIT,
                material=material,
                lot_number=serial_number,
                quantity=Decimal(1),
                uom=material.uom,
                container=_text(container, what="container", max_length=100, required=False),
                location=_text(location, what="location", max_length=100, required=False),
                source_kind=src.kind,
                source_ref=src.ref,
                source_url=src.url,
            ),
            actor,
            reason,
        )
        _consume_inputs(
            inputs=parsed,
            into=unit,
            actor=actor,
            operation_id=operation_id,
            occurred_at=occurred_at,
            check_cycles=False,
        )
        _event(
            type=EventType.PRODUCED,
            lot=unit,
            delta=Decimal(1),
            actor=actor,
            operation_id=operation_id,
            occurred_at=occurred_at,
            ref=src,
            created=True,
        )
    _on_commit(signals.lot_produced, lot_id=unit.pk, source_kind=src.kind, source_ref=src.ref)
    return unit


@transaction.atomic
def lot_consume(
    *,
    actor: User,
    lot: Lot,
    quantity: Any,
    uom: str | None = None,
    into: Lot | None = None,
    context: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
    kind: str | None = None,
) -> LotEvent:
    """Take `quantity` of `lot` into a batch phase or work-order operation (`context` =
    {"kind": "batch_phase"|"wo_operation", "ref": "B-1001/phase 3", "url": ...}) and, when
    the receiving lot or unit exists, `into` it (linked; a component into a unit by default).
    Every consumption gate is asked first; two concurrent consumptions of the last kilogram
    cannot both succeed (the lot row is locked)."""
    occurred_at = _occurred(occurred_at)
    ref = Ref.parse(context, what="consumption context", required=True)
    qty = in_uom(quantity, uom, lot.uom)
    link_kind = kind or (
        LinkKind.COMPONENT if into is not None and into.kind == NodeKind.UNIT else LinkKind.CONSUMED
    )
    if link_kind not in (LinkKind.CONSUMED, LinkKind.COMPONENT, LinkKind.REWORKED):
        raise InvalidInput(f"A consumption cannot be linked as {link_kind!r}.")
    reason = f"consumed in {ref.kind} {ref.ref}"
    with acting_as(actor, reason=reason):
        locked = _lock([lot])[lot.pk]
        check_consumption(locked, qty, ref.as_gate_context(occurred_at))
        if into is not None:
            _refuse_cycle(locked, into)
        event = _event(
            type=EventType.CONSUMED,
            lot=locked,
            delta=-qty,
            actor=actor,
            operation_id=uuid.uuid4(),
            occurred_at=occurred_at,
            ref=ref,
            data={"into": into.pk} if into is not None else {},
        )
        if into is not None:
            _link(parent=locked, child=into, kind=link_kind, quantity=qty, event=event, ref=ref)
        _save_lot(locked, actor, reason, ["quantity"])
    lot.quantity = locked.quantity
    _on_commit(
        signals.lot_consumed,
        lot_id=lot.pk,
        event_id=event.pk,
        into_id=into.pk if into is not None else None,
        context_kind=ref.kind,
        context_ref=ref.ref,
    )
    return event


def returned_quantities(consumption_ids: Sequence[int]) -> dict[int, Decimal]:
    """How much of each consumption event went back to stock (`lot_return`), by its id."""
    totals: dict[int, Decimal] = {}
    if not consumption_ids:
        return totals
    returns = LotEvent.objects.filter(
        type=EventType.RETURNED, data__consumption__in=list(consumption_ids)
    ).values_list("data", "quantity_delta")
    for data, delta in returns:
        key = int(data["consumption"])
        totals[key] = totals.get(key, Decimal(0)) + delta
    return totals


@transaction.atomic
def lot_return(
    *,
    actor: User,
    consumption: LotEvent,
    quantity: Any,
    reason: str,
    uom: str | None = None,
    occurred_at: datetime | None = None,
) -> LotEvent:
    """Put back into its lot part of what an earlier consumption took and did not use (the
    rest of a drum dispensed into a batch phase). Only a consumption not yet linked into a
    product, and never more than it took less what already went back. The return is a new
    ledger line in the consumption's context; the consumption itself stays as it was."""
    occurred_at = _occurred(occurred_at)
    reason = _text(reason, what="reason for the return", max_length=2000)
    if consumption.type != EventType.CONSUMED:
        raise InvalidInput(f"Event #{consumption.pk} is not a consumption.")
    qty = in_uom(quantity, uom, consumption.uom, what="returned quantity")
    if qty <= 0:
        raise InvalidInput("A returned quantity must be positive.")
    with acting_as(actor, reason=reason):
        locked = _lock([consumption.lot])[consumption.lot_id]
        if Link.objects.filter(event=consumption).exists():
            raise InvalidInput(
                f"What event #{consumption.pk} took of lot {locked.lot_number} is already in a "
                "product: it cannot be returned (use a signed adjustment)."
            )
        left = -consumption.quantity_delta - returned_quantities([consumption.pk]).get(
            consumption.pk, Decimal(0)
        )
        if qty > left:
            raise InsufficientQuantity(
                f"Only {left} {consumption.uom} of lot {locked.lot_number} taken by that "
                f"consumption is left to return; {qty} cannot be returned."
            )
        event = _event(
            type=EventType.RETURNED,
            lot=locked,
            delta=qty,
            actor=actor,
            operation_id=uuid.uuid4(),
            occurred_at=occurred_at,
            ref=Ref(consumption.context_kind, consumption.context_ref, consumption.context_url),
            reason=reason,
            data={"consumption": consumption.pk},
        )
        _save_lot(locked, actor, reason, ["quantity"])
    _on_commit(
        signals.lot_returned,
        lot_id=locked.pk,
        event_id=event.pk,
        consumption_id=consumption.pk,
    )
    return event


@transaction.atomic
def lot_split(
    *,
    actor: User,
    lot: Lot,
    quantities: Sequence[Any],
    lot_numbers: Sequence[str] | None = None,
    uom: str | None = None,
    locations: Sequence[str] | None = None,
    reason: str = "",
    occurred_at: datetime | None = None,
) -> list[Lot]:
    """Split part (or all) of a lot into sub-lots. Quantity is conserved: the source loses
    exactly what the sub-lots gain. Sub-lots inherit material, status, dates and supplier
    lot; they are numbered `<lot>-01`, `<lot>-02`, ... unless `lot_numbers` are given."""
    occurred_at = _occurred(occurred_at)
    if lot.kind == NodeKind.UNIT:
        raise InvalidInput("A serialized unit cannot be split.")
    if not quantities:
        raise InvalidInput("A split needs at least one sub-lot quantity.")
    qtys = [in_uom(q, uom, lot.uom) for q in quantities]
    if any(q <= 0 for q in qtys):
        raise InvalidInput("Every sub-lot quantity must be positive.")
    if lot_numbers is not None and len(lot_numbers) != len(qtys):
        raise InvalidInput("Give one lot number per sub-lot quantity.")
    if locations is not None and len(locations) != len(qtys):
        raise InvalidInput("Give one location per sub-lot quantity.")
    total = sum(qtys, Decimal(0))
    operation_id = uuid.uuid4()
    why = reason or f"split {lot.lot_number} into {len(qtys)} sub-lot(s)"
    with acting_as(actor, reason=why):
        source = _lock([lot])[lot.pk]
        if total > source.quantity:
            raise InsufficientQuantity(
                f"Lot {source.lot_number} holds {source.quantity} {source.uom}; "
                f"sub-lots of {total} {source.uom} cannot be split from it."
            )
        if lot_numbers is None:
            start = Lot.objects.filter(parent_lot=source).count() + 1
            numbers = [f"{source.lot_number}-{start + i:02d}" for i in range(len(qtys))]
        else:
            numbers = [_text(n, what="sub-lot number", max_length=64) for n in lot_numbers]
        if len(set(numbers)) != len(numbers):
            raise InvalidInput("Sub-lot numbers must be distinct.")
        out_event = _event(
            type=EventType.SPLIT,
            lot=source,
            delta=-total,
            actor=actor,
            operation_id=operation_id,
            occurred_at=occurred_at,
            reason=reason,
            data={"into": numbers},
        )
        sublots = []
        for i, (number, qty) in enumerate(zip(numbers, qtys, strict=True)):
            sub = _create_lot(
                Lot(
                    kind=NodeKind.SUBLOT,
                    material=source.material,
                    lot_number=number,
                    parent_lot=source,
                    quantity=qty,
                    uom=source.uom,
                    status=source.status,
                    supplier=source.supplier,
                    supplier_lot_number=source.supplier_lot_number,
                    expires_at=source.expires_at,
                    retest_at=source.retest_at,
                    location=(locations[i] if locations else source.location)[:100],
                    source_kind=source.source_kind,
                    source_ref=source.source_ref,
                    source_url=source.source_url,
                ),
                actor,
                why,
            )
            _event(
                type=EventType.SPLIT,
                lot=sub,
                delta=qty,
                actor=actor,
                operation_id=operation_id,
                occurred_at=occurred_at,
                reason=reason,
                data={"from": source.pk},
                created=True,
            )
            _link(
                parent=source,
                child=sub,
                kind=LinkKind.SPLIT,
                quantity=qty,
                event=out_event,
                ref=Ref(),
            )
            sublots.append(sub)
        _save_lot(source, actor, why, ["quantity"])
    lot.quantity = source.quantity
    _on_commit(signals.lot_split, lot_id=lot.pk, sublot_ids=[s.pk for s in sublots])
    return sublots


@transaction.atomic
def lot_merge(
    *,
    actor: User,
    lots: Sequence[Lot],
    quantities: Sequence[Any] | None = None,
    uom: str | None = None,
    lot_number: str | None = None,
    into: Lot | None = None,
    reason: str = "",
    occurred_at: datetime | None = None,
) -> Lot:
    """Merge lots of ONE material into a new lot (or `into` an existing one). Whole lots by
    default, or `quantities` per lot. The target holds exactly what the sources gave; it
    keeps the sources' common status (else quarantine) and the earliest expiry."""
    occurred_at = _occurred(occurred_at)
    sources = list(lots)
    if len({s.pk for s in sources}) != len(sources):
        raise InvalidInput("A lot is listed twice in the merge.")
    if len(sources) < (1 if into is not None else 2):
        raise InvalidInput("A merge needs at least two lots (or one lot and a target).")
    if quantities is not None and len(quantities) != len(sources):
        raise InvalidInput("Give one quantity per merged lot.")
    operation_id = uuid.uuid4()
    with acting_as(actor, reason=reason or "merge lots"):
        locked = _lock([*sources, *([into] if into is not None else [])])
        srcs = [locked[s.pk] for s in sources]
        material = srcs[0].material
        if any(s.material_id != material.pk for s in srcs):
            raise InvalidInput("Only lots of one material can be merged.")
        if any(s.kind == NodeKind.UNIT for s in srcs):
            raise InvalidInput("Serialized units cannot be merged.")
        qtys = (
            [in_uom(q, uom, material.uom) for q in quantities]
            if quantities is not None
            else [s.quantity for s in srcs]
        )
        for src, qty in zip(srcs, qtys, strict=True):
            if qty <= 0:
                raise InvalidInput(f"Lot {src.lot_number} gives nothing to the merge.")
            if qty > src.quantity:
                raise InsufficientQuantity(
                    f"Lot {src.lot_number} holds {src.quantity} {src.uom}; "
                    f"{qty} cannot be merged from it."
                )
        total = sum(qtys, Decimal(0))
        if into is not None:
            target = locked[into.pk]
            if target.pk in {s.pk for s in srcs}:
                raise InvalidInput("A lot cannot be merged into itself.")
            if target.material_id != material.pk or target.kind == NodeKind.UNIT:
                raise InvalidInput("The target must be a lot of the same material.")
            for src in srcs:
                _refuse_cycle(src, target)
            why = reason or f"merged {len(srcs)} lot(s) into {target.lot_number}"
        else:
            number = (
                _text(lot_number, what="lot number", max_length=64)
                if lot_number
                else _next_lot_number(material, "M", occurred_at)
            )
            why = reason or f"merged {len(srcs)} lots into {number}"
            expiries = [s.expires_at for s in srcs if s.expires_at]
            retests = [s.retest_at for s in srcs if s.retest_at]
            supplier_lots = {s.supplier_lot_number for s in srcs}
            suppliers = {s.supplier for s in srcs}
            target = _create_lot(
                Lot(
                    kind=NodeKind.LOT,
                    material=material,
                    lot_number=number,
                    quantity=total,
                    uom=material.uom,
                    status=_common_status(s.status for s in srcs),
                    supplier=suppliers.pop() if len(suppliers) == 1 else "",
                    supplier_lot_number=supplier_lots.pop() if len(supplier_lots) == 1 else "",
                    expires_at=min(expiries) if expiries else None,
                    retest_at=min(retests) if retests else None,
                    location=srcs[0].location,
                ),
                actor,
                why,
            )
        for src, qty in zip(srcs, qtys, strict=True):
            event = _event(
                type=EventType.MERGED,
                lot=src,
                delta=-qty,
                actor=actor,
                operation_id=operation_id,
                occurred_at=occurred_at,
                reason=reason,
                data={"into": target.pk},
            )
            _link(
                parent=src, child=target, kind=LinkKind.MERGED, quantity=qty, event=event, ref=Ref()
            )
            _save_lot(src, actor, why, ["quantity"])
        _event(
            type=EventType.MERGED,
            lot=target,
            delta=total,
            actor=actor,
            operation_id=operation_id,
            occurred_at=occurred_at,
            reason=reason,
            data={"from": [s.pk for s in srcs]},
            created=into is None,
        )
        if into is not None:
            fields = ["quantity"]
            merged_status = _common_status([target.status, *(s.status for s in srcs)])
            if merged_status != target.status:
                target.status = merged_status
                fields.append("status")
            _save_lot(target, actor, why, fields)
    _on_commit(signals.lots_merged, lot_id=target.pk, source_ids=[s.pk for s in srcs])
    return target


@transaction.atomic
def lot_transfer(
    *,
    actor: User,
    lot: Lot,
    location: str,
    container: str | None = None,
    reason: str = "",
    occurred_at: datetime | None = None,
) -> LotEvent:
    """Move a whole lot (or unit) to another location and/or container."""
    occurred_at = _occurred(occurred_at)
    location = _text(location, what="location", max_length=100)
    with acting_as(actor, reason=reason or f"transferred to {location}"):
        locked = _lock([lot])[lot.pk]
        new_container = (
            locked.container
            if container is None
            else _text(container, what="container", max_length=100, required=False)
        )
        if locked.location == location and locked.container == new_container:
            raise InvalidInput(f"Lot {locked.lot_number} is already at {location}.")
        data = {
            "from": {"location": locked.location, "container": locked.container},
            "to": {"location": location, "container": new_container},
        }
        locked.location, locked.container = location, new_container
        event = _event(
            type=EventType.TRANSFERRED,
            lot=locked,
            delta=Decimal(0),
            actor=actor,
            operation_id=uuid.uuid4(),
            occurred_at=occurred_at,
            reason=reason,
            data=data,
        )
        _save_lot(locked, actor, reason or f"transferred to {location}", ["location", "container"])
    lot.location, lot.container = locked.location, locked.container
    _on_commit(signals.lot_transferred, lot_id=lot.pk, location=location)
    return event


@transaction.atomic
def lot_ship(
    *,
    actor: User,
    customer: str,
    shipment_ref: str,
    lot: Lot | None = None,
    units: Sequence[Lot] = (),
    quantity: Any = None,
    uom: str | None = None,
    occurred_at: datetime | None = None,
) -> list[LotEvent]:
    """Ship a lot (all of it, or `quantity`) or serialized `units` to a customer under a
    shipment reference. Every shipment gate is asked first (quality: released only)."""
    occurred_at = _occurred(occurred_at)
    customer = _text(customer, what="customer", max_length=200)
    shipment_ref = _text(shipment_ref, what="shipment reference", max_length=100)
    if (lot is None) == (not units):
        raise InvalidInput("Ship either one lot or a list of units.")
    targets = [lot] if lot is not None else list(units)
    if len({t.pk for t in targets}) != len(targets):
        raise InvalidInput("A unit is listed twice in the shipment.")
    operation_id = uuid.uuid4()
    gate_context = {"kind": "shipment", "ref": shipment_ref, "url": "", "occurred_at": occurred_at}
    reason = f"shipped to {customer} ({shipment_ref})"
    events = []
    with acting_as(actor, reason=reason):
        locked = _lock(targets)
        for target in targets:
            row = locked[target.pk]
            if lot is not None:
                qty = row.quantity if quantity is None else in_uom(quantity, uom, row.uom)
            else:
                if row.kind != NodeKind.UNIT:
                    raise InvalidInput(f"{row.lot_number} is not a serialized unit.")
                qty = row.quantity
            if row.quantity == 0:
                raise InsufficientQuantity(f"{row.lot_number} has nothing left to ship.")
            check_shipment(row, qty, gate_context)
            events.append(
                _event(
                    type=EventType.SHIPPED,
                    lot=row,
                    delta=-qty,
                    actor=actor,
                    operation_id=operation_id,
                    occurred_at=occurred_at,
                    customer=customer,
                    shipment_ref=shipment_ref,
                )
            )
            _save_lot(row, actor, reason, ["quantity"])
    _on_commit(
        signals.lot_shipped,
        lot_ids=[t.pk for t in targets],
        customer=customer,
        shipment_ref=shipment_ref,
    )
    return events


@transaction.atomic
def lot_adjust(
    *,
    actor: User,
    lot: Lot,
    delta: Any,
    reason: str,
    signer: AuthenticatedSigner,
    uom: str | None = None,
    occurred_at: datetime | None = None,
) -> LotEvent:
    """Correct a lot's quantity by a signed `delta` (a count, a spill, a drum that weighed
    less). Needs a reason and the actor's electronic signature (mes.esign, meaning
    "adjusted"; the signature policy allows Supervisors and QA Reviewers). The signature is
    bound to the adjustment event in the same transaction."""
    occurred_at = _occurred(occurred_at)
    reason = _text(reason, what="reason for the adjustment", max_length=2000)
    qty = in_uom(delta, uom, lot.uom, what="adjustment")
    if qty == 0:
        raise InvalidInput("An adjustment of zero changes nothing.")
    if getattr(getattr(signer, "user", None), "pk", None) != actor.pk:
        raise SignatureRefused(
            "An adjustment is signed by the person who makes it (user ID and password).",
            code="signature_wrong_user",
        )
    with acting_as(actor, reason=reason):
        locked = _lock([lot])[lot.pk]
        if locked.quantity + qty < 0:
            raise InsufficientQuantity(
                f"Lot {locked.lot_number} holds {locked.quantity} {locked.uom}; "
                f"an adjustment of {qty} would make it negative."
            )
        event = _event(
            type=EventType.ADJUSTED,
            lot=locked,
            delta=qty,
            actor=actor,
            operation_id=uuid.uuid4(),
            occurred_at=occurred_at,
            reason=reason,
            approved_by=actor,
        )
        record_sign(record=event, signer=signer, meaning=Meaning.ADJUSTED, reason=reason)
        _save_lot(locked, actor, reason, ["quantity"])
    lot.quantity = locked.quantity
    _on_commit(signals.lot_adjusted, lot_id=lot.pk, event_id=event.pk)
    return event


@transaction.atomic
def lot_set_status(*, actor: User, lot: Lot, status: str, reason: str) -> Lot:
    """Change a lot's status. ONLY the quality app calls this (it owns disposition and its
    rules: who may release, signatures); genealogy checks the transition table."""
    reason = _text(reason, what="reason for the status change", max_length=2000)
    if status not in LotStatus.values:
        raise InvalidInput(f"Unknown lot status {status!r}.")
    with acting_as(actor, reason=reason):
        locked = _lock([lot])[lot.pk]
        old = locked.status
        if status not in LOT_STATUS_TRANSITIONS[old]:
            raise InvalidTransition(f"Lot {locked.lot_number} cannot go from {old} to {status}.")
        locked.status = status
        _event(
            type=EventType.STATUS_CHANGED,
            lot=locked,
            delta=Decimal(0),
            actor=actor,
            operation_id=uuid.uuid4(),
            occurred_at=timezone.now(),
            reason=reason,
            data={"from": old, "to": status},
        )
        _save_lot(locked, actor, reason, ["status"])
    lot.status = status
    _on_commit(signals.lot_status_changed, lot_id=lot.pk, old_status=old, new_status=status)
    return lot


def genealogy_import(*, actor: User, path: Any, dry_run: bool = False) -> importer.ImportResult:
    """Bulk-load lot history from a CSV file (format: genealogy.importer.FORMAT_HELP). The
    whole file is validated first; a bad line refuses it (ImportRefused "line N: reason")
    and nothing is loaded. Only an administrator (or a named system principal) imports."""
    if not (actor.is_system or actor.has_perm("genealogy.import_genealogy")):
        raise NotAuthorized(f"{actor.username} may not import genealogy history.")
    return importer.load_file(actor=actor, path=path, dry_run=dry_run)


# --- recall jobs (large recall scopes in the background) --------------------------------------


def recall_files_dir() -> Any:
    return settings.VAR_DIR / "genealogy" / "recall"


@transaction.atomic
def recall_job_start(
    *, actor: User, lot: Lot | None = None, supplier_lot_number: str = ""
) -> RecallJob:
    """Queue the recall scope of a lot (or of a supplier lot number) as a background job
    (Celery); its progress is stored on the job row, the CSV and PDF next to it."""
    supplier_lot_number = (supplier_lot_number or "").strip()
    if (lot is None) == (not supplier_lot_number):
        raise InvalidInput("Give either a lot or a supplier lot number.")
    if (
        supplier_lot_number
        and not lots_by_supplier_lot(supplier_lot_number=supplier_lot_number).exists()
    ):
        raise LotNotFound(f"No lot carries supplier lot number {supplier_lot_number!r}.")
    subject = supplier_lot_number or (lot.lot_number if lot is not None else "")
    with acting_as(actor, reason=f"recall scope of {subject} requested"):
        job = RecallJob.objects.create(
            requested_by=actor, lot=lot, supplier_lot_number=supplier_lot_number[:100]
        )

    def dispatch() -> None:
        from genealogy.tasks import recall_job_task

        recall_job_task.delay(job.pk)

    transaction.on_commit(dispatch)
    return job


def _job_save(job: RecallJob, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    with transaction.atomic():
        job.save(update_fields=list(fields))


def recall_job_run(*, job_id: int) -> RecallJob:
    """Run a queued recall job. Each stage is committed on its own so that the job page shows
    the progress; a second delivery of the same job does nothing."""
    job = RecallJob.objects.select_related("lot__material", "requested_by").get(pk=job_id)
    if job.status != RecallJobStatus.QUEUED:
        return job
    started = time.perf_counter()
    with acting_as(job.requested_by, reason=f"recall job {job.pk}"):
        _job_save(
            job,
            status=RecallJobStatus.RUNNING,
            stage="tracing the genealogy",
            progress=5,
            started_at=timezone.now(),
        )
        try:
            scope: RecallScope = (
                recall_scope_for_lot(lot=job.lot)
                if job.lot is not None
                else recall_scope_for_supplier_lot(supplier_lot_number=job.supplier_lot_number)
            )
            summary = scope.summary()
            _job_save(
                job,
                stage="writing the CSV",
                progress=50,
                node_count=summary["affected_count"],
                finished_lot_count=summary["finished_lot_count"],
                unit_count=summary["unit_count"],
                shipment_count=summary["shipment_count"],
                customer_count=summary["customer_count"],
                summary={**summary, "trace_ms": int((time.perf_counter() - started) * 1000)},
            )
            from genealogy import exports

            folder = recall_files_dir()
            folder.mkdir(parents=True, exist_ok=True)
            csv_path = folder / f"recall-{job.pk}.csv"
            with csv_path.open("w", newline="", encoding="utf-8") as handle:
                exports.write_recall_csv(scope, handle)
            _job_save(job, stage="writing the PDF", progress=60, csv_path=str(csv_path))
            pdf_path = folder / f"recall-{job.pk}.pdf"
            pages = exports.estimated_pages(scope)

            def on_page(page: int) -> None:
                if page % 50 == 0:
                    _job_save(job, progress=min(99, 60 + int(39 * page / max(pages, 1))))

            with pdf_path.open("wb") as handle:
                exports.write_recall_pdf(
                    scope, handle, generated_by=job.requested_by.printed_name, on_page=on_page
                )
            _job_save(
                job,
                status=RecallJobStatus.DONE,
                stage="done",
                progress=100,
                pdf_path=str(pdf_path),
                finished_at=timezone.now(),
                duration_ms=int((time.perf_counter() - started) * 1000),
            )
        except DomainError as exc:
            _job_save(
                job,
                status=RecallJobStatus.FAILED,
                stage="refused",
                error=exc.detail,
                finished_at=timezone.now(),
            )
        except Exception:
            logger.exception("recall job %s failed", job.pk)
            _job_save(
                job,
                status=RecallJobStatus.FAILED,
                stage="failed",
                error="The recall job failed; the administrators have the details in the log.",
                finished_at=timezone.now(),
            )
            raise
    return job
