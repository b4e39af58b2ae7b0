"""Every change of BOMs, routings, work orders and their execution.

Each service runs in one transaction, checks permission, area scope and state first, locks the
rows it changes (`select_for_update`: the work order, then its operations in sequence order)
and raises a `DomainError` subclass with the reason; a refusal writes nothing. Genealogy is
written only through `genealogy.services`; quality (NCR, SPC) through `workorders.adapters`.
"""

import functools
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from guardian.models import GroupObjectPermission, UserObjectPermission

from equipment.models import Area, WorkCenter
from genealogy import selectors as genealogy_selectors
from genealogy import services as genealogy
from genealogy.choices import NodeKind
from genealogy.models import Lot, LotEvent, Material
from mes.audit.context import acting_as, current_context
from mes.esign.models import Meaning
from mes.esign.services import AuthenticatedSigner, record_sign
from mes.exceptions import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotAuthorized,
    SignatureRefused,
)
from mes.history import update_with_history
from mes.numbering import next_number
from mes.prepared import columns, instances, prepared
from workorders import adapters
from workorders.choices import (
    WORK_ORDER_TRANSITIONS,
    CharacteristicKind,
    QuantityKind,
    ReasonKind,
    SerialIssue,
    TimeBasis,
    UnitStatus,
    VersionStatus,
    WorkOrderEventType,
    WorkOrderSource,
    WorkOrderStatus,
)
from workorders.exceptions import (
    ClockConflict,
    QuantityExceeded,
    SerialAlreadyUsed,
    VersionNotApproved,
    WorkInProgress,
    WrongComponent,
)
from workorders.models import (
    Bom,
    BomLine,
    ComponentConsumption,
    DowntimeRecord,
    HandoffRule,
    InspectionCharacteristic,
    InspectionResult,
    LaborRecord,
    LotReservation,
    MachineRecord,
    QuantityReport,
    ReasonCode,
    Routing,
    RoutingOperation,
    WorkCenterRate,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderOperation,
    WorkOrderUnit,
)

FUTURE_TOLERANCE = timedelta(minutes=5)
DEFAULT_SERIAL_PATTERN = "{item}-{yyyy}-{seq:05d}"
ZERO = Decimal(0)
ONE = Decimal(1)


# --- helpers ---------------------------------------------------------------------------------


def _require(actor: Any, perm: str, action: str) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise NotAuthorized(f"Only an active, logged-in user may {action}.")
    if getattr(actor, "is_system", False):
        return
    if not actor.has_perm(perm):
        raise NotAuthorized(f"You lack the permission to {action} ({perm}).")


def _require_area(actor: Any, work_order: WorkOrder, action: str, *, operation: Any = None) -> None:
    """Operators act only in the areas they are granted (guardian `operate_in_area`). An
    operation locked by `_lock_operations` carries the object grant already (no query; the
    area row is read only to name it in a refusal)."""
    if actor.is_superuser or getattr(actor, "is_system", False):
        return
    if actor.has_perm("equipment.operate_in_area"):
        return
    granted = getattr(operation, "area_granted", None)
    if granted is not None:
        if granted:
            return
    elif actor.has_perm("equipment.operate_in_area", work_order.area):
        return
    raise NotAuthorized(f"You may not {action} in area {work_order.area.code} (operate_in_area).")


def _decimal(value: Any, *, what: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"The {what} must be a number (got {value!r}).") from exc
    if not number.is_finite():
        raise InvalidInput(f"The {what} must be a finite number.")
    return number


def _moment(at: datetime | None) -> datetime:
    if at is None:
        return timezone.now()
    if timezone.is_naive(at):
        raise InvalidInput("The time must carry a time zone.")
    if at > timezone.now() + FUTURE_TOLERANCE:
        raise InvalidInput("A time record cannot be in the future.")
    return at


def _request_id() -> str:
    ctx = current_context()
    return ctx.request_id if ctx is not None else ""


def _event(work_order: WorkOrder, type_: str, actor: Any, **data: Any) -> WorkOrderEvent:
    return WorkOrderEvent.objects.create(
        work_order=work_order, type=type_, actor=actor, data=data, request_id=_request_id()
    )


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _reason(code: ReasonCode | None, kind: str, what: str) -> ReasonCode:
    if code is None:
        raise InvalidInput(f"A {what} needs a reason code.")
    if code.kind != kind or not code.is_active:
        raise InvalidInput(f"{code.code} is not an active {kind} reason code.")
    return code


def work_order_url(work_order: WorkOrder) -> str:
    return reverse("workorders:work_order_detail", args=[work_order.pk])


# --- master data -----------------------------------------------------------------------------


@transaction.atomic
def reason_code_create(*, actor: Any, kind: str, code: str, name: str) -> ReasonCode:
    _require(actor, "workorders.add_reasoncode", "define reason codes")
    if kind not in ReasonKind.values:
        raise InvalidInput(f"Unknown reason kind {kind!r}.")
    code, name = (code or "").strip().upper(), (name or "").strip()
    if not code or not name:
        raise InvalidInput("A reason code needs a code and a name.")
    if ReasonCode.objects.filter(kind=kind, code=code).exists():
        raise Conflict(f"Reason code {kind} {code} exists.", code="duplicate_reason")
    with acting_as(actor, reason=f"reason code {code}"):
        return ReasonCode.objects.create(kind=kind, code=code, name=name)


@transaction.atomic
def work_center_rate_set(
    *, actor: Any, work_center: WorkCenter, labor_rate: Any, machine_rate: Any
) -> WorkCenterRate:
    _require(actor, "workorders.change_workcenterrate", "set work-center rates")
    labor = _decimal(labor_rate, what="labor rate")
    machine = _decimal(machine_rate, what="machine rate")
    if labor < 0 or machine < 0:
        raise InvalidInput("Rates cannot be negative.")
    with acting_as(actor, reason=f"rates of {work_center.code}"):
        rate, _ = WorkCenterRate.objects.select_for_update().get_or_create(work_center=work_center)
        rate.labor_rate, rate.machine_rate = labor, machine
        rate.save()
    return rate


def _next_version(model: type[Bom] | type[Routing], item: Material) -> int:
    Material.objects.select_for_update().filter(pk=item.pk).first()
    last = model.objects.filter(item=item).aggregate(v=Max("version"))["v"]
    return (last or 0) + 1


def _bom_items_below(material_id: int, seen: set[int]) -> set[int]:
    """Every component reachable from the latest BOMs of `material_id` (cycle check)."""
    boms = Bom.objects.filter(item_id=material_id).exclude(status=VersionStatus.SUPERSEDED)
    for component_id in BomLine.objects.filter(bom__in=boms).values_list("component_id", flat=True):
        if component_id not in seen:
            seen.add(component_id)
            _bom_items_below(component_id, seen)
    return seen


@transaction.atomic
def bom_create(
    *,
    actor: Any,
    item: Material,
    effective_from: date,
    lines: Sequence[Mapping[str, Any]],
    base_quantity: Any = 1,
    effective_to: date | None = None,
    description: str = "",
) -> Bom:
    """A new draft BOM version. `lines` = [{"component", "quantity_per", "scrap_factor"?,
    "operation_seq"}]."""
    _require(actor, "workorders.add_bom", "author BOMs")
    if not lines:
        raise InvalidInput("A BOM needs at least one component.")
    base = _decimal(base_quantity, what="base quantity")
    if base <= 0:
        raise InvalidInput("The base quantity must be positive.")
    if effective_to is not None and effective_to < effective_from:
        raise InvalidInput("The BOM cannot end before it starts.")
    parsed = []
    for position, line in enumerate(lines, start=1):
        component = line.get("component")
        if not isinstance(component, Material):
            raise InvalidInput(f"Line {position}: a component material is required.")
        if component.pk == item.pk:
            raise InvalidInput(f"Line {position}: {item.code} cannot be its own component.")
        if item.pk in _bom_items_below(component.pk, set()):
            raise InvalidInput(
                f"Line {position}: {component.code} is made from {item.code}; "
                "the BOM would be circular."
            )
        qty = _decimal(line.get("quantity_per"), what=f"quantity per (line {position})")
        scrap = _decimal(line.get("scrap_factor", 0), what=f"scrap factor (line {position})")
        if qty <= 0:
            raise InvalidInput(f"Line {position}: the quantity per must be positive.")
        if not ZERO <= scrap < ONE:
            raise InvalidInput(f"Line {position}: the scrap factor must be in [0, 1).")
        seq = line.get("operation_seq")
        if not isinstance(seq, int) or seq <= 0:
            raise InvalidInput(f"Line {position}: the consuming operation (seq) is required.")
        parsed.append((position, component, qty, scrap, seq))
    with acting_as(actor, reason=f"BOM {item.code} drafted"):
        bom = Bom.objects.create(
            item=item,
            version=_next_version(Bom, item),
            effective_from=effective_from,
            effective_to=effective_to,
            base_quantity=base,
            description=(description or "").strip()[:200],
            created_by=actor,
        )
        BomLine.objects.bulk_create(
            BomLine(
                bom=bom,
                position=position,
                component=component,
                quantity_per=qty,
                scrap_factor=scrap,
                operation_seq=seq,
            )
            for position, component, qty, scrap, seq in parsed
        )
    return bom


def _approve_version(
    *, actor: Any, record: Bom | Routing, signer: AuthenticatedSigner, perm: str, reason: str
) -> Any:
    _require(actor, perm, f"approve {record._meta.verbose_name}s")
    if not isinstance(signer, AuthenticatedSigner) or signer.user.pk != actor.pk:
        raise SignatureRefused(
            "Approval needs your own electronic signature.", code="signature_not_authenticated"
        )
    model = type(record)
    locked = model.objects.select_for_update().get(pk=record.pk)
    if locked.status != VersionStatus.DRAFT:
        raise InvalidTransition(f"{locked} is {locked.get_status_display().lower()}, not a draft.")
    if isinstance(locked, Routing) and not locked.operations.exists():
        raise InvalidInput(f"{locked} has no operations.")
    with acting_as(actor, reason=f"{locked} approved"):
        locked.status = VersionStatus.APPROVED
        locked.approved_by = actor
        locked.approved_at = timezone.now()
        locked.save(update_fields=["status", "approved_by", "approved_at"])
        record_sign(record=locked, signer=signer, meaning=Meaning.APPROVED, reason=reason)
        # Earlier approved versions end the day before this one takes effect.
        for older in model.objects.select_for_update().filter(
            item=locked.item, status=VersionStatus.APPROVED, version__lt=locked.version
        ):
            older.status = VersionStatus.SUPERSEDED
            end = locked.effective_from - timedelta(days=1)
            if older.effective_to is None or older.effective_to > end:
                older.effective_to = max(end, older.effective_from)
            older.save(update_fields=["status", "effective_to"])
    return locked


@transaction.atomic
def bom_approve(*, actor: Any, bom: Bom, signer: AuthenticatedSigner, reason: str = "") -> Bom:
    """Approve a draft BOM (signed 'approved' by a QA Reviewer or Supervisor, not its
    author); earlier approved versions are superseded."""
    return _approve_version(
        actor=actor, record=bom, signer=signer, perm="workorders.approve_bom", reason=reason
    )


@transaction.atomic
def routing_create(
    *,
    actor: Any,
    item: Material,
    effective_from: date,
    operations: Sequence[Mapping[str, Any]],
    effective_to: date | None = None,
    description: str = "",
) -> Routing:
    """A new draft routing version. `operations` = [{"seq", "name", "work_center",
    "alternative_work_centers"?, "setup_minutes", "run_minutes_per_unit", "time_basis",
    "crew_size", "characteristics"?: [{"name", "kind", "lower_limit"?, "upper_limit"?,
    "unit"?, "spc_key"?}]}]."""
    _require(actor, "workorders.add_routing", "author routings")
    if not operations:
        raise InvalidInput("A routing needs at least one operation.")
    seqs = [op.get("seq") for op in operations]
    if len(set(seqs)) != len(seqs) or not all(isinstance(s, int) and s > 0 for s in seqs):
        raise InvalidInput("Operation sequence numbers must be distinct positive integers.")
    with acting_as(actor, reason=f"routing {item.code} drafted"):
        routing = Routing.objects.create(
            item=item,
            version=_next_version(Routing, item),
            effective_from=effective_from,
            effective_to=effective_to,
            description=(description or "").strip()[:200],
            created_by=actor,
        )
        for spec in sorted(operations, key=lambda o: o["seq"]):
            seq = spec["seq"]
            center = spec.get("work_center")
            if not isinstance(center, WorkCenter):
                raise InvalidInput(f"Operation {seq}: a work center is required.")
            basis = spec.get("time_basis", TimeBasis.BOTH)
            if basis not in TimeBasis.values:
                raise InvalidInput(f"Operation {seq}: unknown time basis {basis!r}.")
            setup = _decimal(spec.get("setup_minutes", 0), what=f"setup minutes (op {seq})")
            run = _decimal(spec.get("run_minutes_per_unit", 0), what=f"run minutes (op {seq})")
            crew = spec.get("crew_size", 1)
            if setup < 0 or run < 0 or not isinstance(crew, int) or crew < 1:
                raise InvalidInput(f"Operation {seq}: times >= 0 and a crew of at least 1.")
            name = (spec.get("name") or "").strip()
            if not name:
                raise InvalidInput(f"Operation {seq}: a name is required.")
            operation = RoutingOperation.objects.create(
                routing=routing,
                seq=seq,
                name=name[:200],
                work_center=center,
                setup_minutes=setup,
                run_minutes_per_unit=run,
                time_basis=basis,
                crew_size=crew,
            )
            operation.alternative_work_centers.set(spec.get("alternative_work_centers") or [])
            for position, char in enumerate(spec.get("characteristics") or [], start=1):
                kind = char.get("kind")
                if kind not in CharacteristicKind.values:
                    raise InvalidInput(f"Operation {seq}: unknown characteristic kind {kind!r}.")
                low, high = char.get("lower_limit"), char.get("upper_limit")
                low = None if low in (None, "") else _decimal(low, what="lower limit")
                high = None if high in (None, "") else _decimal(high, what="upper limit")
                if kind == CharacteristicKind.MEASURED and low is None and high is None:
                    raise InvalidInput(f"Operation {seq}: a measured characteristic needs limits.")
                if low is not None and high is not None and low > high:
                    raise InvalidInput(f"Operation {seq}: the lower limit is above the upper.")
                InspectionCharacteristic.objects.create(
                    operation=operation,
                    position=position,
                    name=(char.get("name") or "").strip()[:200] or f"Check {position}",
                    kind=kind,
                    lower_limit=low,
                    upper_limit=high,
                    unit=(char.get("unit") or "")[:20],
                    spc_key=(char.get("spc_key") or "")[:100],
                )
    return routing


@transaction.atomic
def routing_approve(
    *, actor: Any, routing: Routing, signer: AuthenticatedSigner, reason: str = ""
) -> Routing:
    return _approve_version(
        actor=actor,
        record=routing,
        signer=signer,
        perm="workorders.approve_routing",
        reason=reason,
    )


# --- work orders -----------------------------------------------------------------------------


def _latest(model: type[Bom] | type[Routing], item: Material, on: date) -> Any:
    effective = [v for v in model.objects.filter(item=item) if v.is_effective(on)]
    if effective:
        return max(effective, key=lambda v: v.version)
    return model.objects.filter(item=item).exclude(status=VersionStatus.SUPERSEDED).first()


def _next_wo_number() -> str:
    return next_number(WorkOrder, "number", f"WO-{timezone.localdate().year}-")


@transaction.atomic
def work_order_create(
    *,
    actor: Any,
    item: Material,
    quantity: Any,
    due_date: date,
    bom: Bom | None = None,
    routing: Routing | None = None,
    source: str = WorkOrderSource.PLANNER,
    external_ref: str = "",
    serial_pattern: str = "",
    serial_issue: str = SerialIssue.AT_RELEASE,
    number: str | None = None,
) -> WorkOrder:
    """A planned work order (planner, API or ERP). The BOM and routing default to the
    item's effective (or newest) versions; release checks that they are approved."""
    _require(actor, "workorders.add_workorder", "create work orders")
    qty = _decimal(quantity, what="quantity")
    if qty <= 0:
        raise InvalidInput("The quantity must be positive.")
    if source not in WorkOrderSource.values:
        raise InvalidInput(f"Unknown source {source!r}.")
    today = timezone.localdate()
    bom = bom or _latest(Bom, item, today)
    routing = routing or _latest(Routing, item, today)
    if bom is None or routing is None:
        raise VersionNotApproved(f"{item.code} has no BOM and routing to make it from.")
    if bom.item_id != item.pk or routing.item_id != item.pk:
        raise InvalidInput(f"The BOM and routing must be those of {item.code}.")
    if item.is_serialized:
        if qty != qty.to_integral_value():
            raise InvalidInput(f"{item.code} is serialized: the quantity is a whole number.")
        serial_pattern = (serial_pattern or DEFAULT_SERIAL_PATTERN).strip()
        if "{seq" not in serial_pattern:
            raise InvalidInput("The serial pattern needs a {seq} field, e.g. {seq:05d}.")
        _format_serial(serial_pattern, item=item, work_order_number="WO", seq=1)
    if serial_issue not in SerialIssue.values:
        raise InvalidInput(f"Unknown serial issue point {serial_issue!r}.")
    first = routing.operations.select_related("work_center__area").order_by("seq").first()
    if first is None:
        raise InvalidInput(f"{routing} has no operations.")
    external_ref = (external_ref or "").strip()[:100]
    if external_ref and WorkOrder.objects.filter(source=source, external_ref=external_ref).exists():
        raise Conflict(
            f"A work order from {source} with reference {external_ref} exists.",
            code="duplicate_work_order",
        )
    with acting_as(actor, reason="work order created"):
        work_order = WorkOrder.objects.create(
            number=number or _next_wo_number(),
            item=item,
            quantity=qty,
            due_date=due_date,
            area=first.work_center.area,
            bom=bom,
            routing=routing,
            source=source,
            external_ref=external_ref,
            serial_pattern=serial_pattern if item.is_serialized else "",
            serial_issue=serial_issue,
            created_by=actor,
        )
        _event(work_order, WorkOrderEventType.CREATED, actor, quantity=_num(qty), source=source)
    return work_order


def _format_serial(pattern: str, *, item: Material, work_order_number: str, seq: int) -> str:
    now = timezone.localdate()
    try:
        serial = pattern.format(
            yyyy=f"{now:%Y}",
            yy=f"{now:%y}",
            mm=f"{now:%m}",
            item=item.code,
            wo=work_order_number,
            seq=seq,
        )
    except (KeyError, ValueError, IndexError) as exc:
        raise InvalidInput(
            f"Serial pattern {pattern!r} is invalid: use {{yyyy}} {{yy}} {{mm}} {{item}} "
            "{wo} {seq:05d}."
        ) from exc
    if not re.fullmatch(r"[A-Za-z0-9._/-]{1,64}", serial):
        raise InvalidInput(f"Serial {serial!r} has characters a label cannot carry.")
    return serial


def _issue_serial(work_order: WorkOrder, operation: WorkOrderOperation, actor: Any) -> Any:
    item = work_order.item
    Material.objects.select_for_update().filter(pk=item.pk).first()  # one issuer per item
    n = WorkOrderUnit.objects.filter(work_order__item=item).count() + 1
    serial = _format_serial(
        work_order.serial_pattern, item=item, work_order_number=work_order.number, seq=n
    )
    while Lot.objects.filter(material=item, lot_number=serial).exists():
        n += 1
        serial = _format_serial(
            work_order.serial_pattern, item=item, work_order_number=work_order.number, seq=n
        )
    node = genealogy.unit_create(
        actor=actor,
        material=item,
        serial_number=serial,
        source={"kind": "work_order", "ref": work_order.number, "url": work_order_url(work_order)},
    )
    unit = WorkOrderUnit.objects.create(
        work_order=work_order, serial_number=serial, lot=node, operation=operation
    )
    _event(work_order, WorkOrderEventType.SERIAL_ISSUED, actor, serial=serial, unit=unit.pk)
    return unit


def _lock_work_order(work_order: WorkOrder) -> WorkOrder:
    return WorkOrder.objects.select_for_update().select_related("item").get(pk=work_order.pk)


def _ensure_can_become(work_order: WorkOrder, status: str) -> None:
    if status not in WORK_ORDER_TRANSITIONS[work_order.status]:
        raise InvalidTransition(
            f"{work_order.number} is {work_order.get_status_display().lower()}; it cannot "
            f"become {WorkOrderStatus(status).label.lower()}."
        )


@transaction.atomic
def work_order_release(*, actor: Any, work_order: WorkOrder) -> WorkOrder:
    """Release: the BOM and routing must be approved and effective today; the operations are
    generated from the routing with its standards and the work centers' rates (snapshot);
    serial numbers are issued now if the order says so."""
    _require(actor, "workorders.release_workorder", "release work orders")
    wo = _lock_work_order(work_order)
    _ensure_can_become(wo, WorkOrderStatus.RELEASED)
    today = timezone.localdate()
    for version in (wo.bom, wo.routing):
        if version.status != VersionStatus.APPROVED:
            raise VersionNotApproved(
                f"{version} is {version.get_status_display().lower()}, not approved: "
                f"{wo.number} cannot be released."
            )
        if not version.is_effective(today):
            raise VersionNotApproved(
                f"{version} is effective from {version.effective_from.isoformat()}"
                + (f" to {version.effective_to.isoformat()}" if version.effective_to else "")
                + f", not on {today.isoformat()}: {wo.number} cannot be released."
            )
    route_ops = list(wo.routing.operations.select_related("work_center").order_by("seq"))
    seqs = {op.seq for op in route_ops}
    missing = sorted({line.operation_seq for line in wo.bom.lines.all()} - seqs)
    if missing:
        raise InvalidInput(
            f"{wo.bom} consumes components at operation(s) {missing} that {wo.routing} lacks."
        )
    rates = {
        r.work_center_id: r
        for r in WorkCenterRate.objects.filter(work_center__in=[o.work_center for o in route_ops])
    }
    with acting_as(actor, reason=f"{wo.number} released"):
        ops = []
        for index, rop in enumerate(route_ops):
            rate = rates.get(rop.work_center_id)
            ops.append(
                WorkOrderOperation.objects.create(
                    work_order=wo,
                    seq=rop.seq,
                    name=rop.name,
                    work_center=rop.work_center,
                    routing_operation=rop,
                    is_first=index == 0,
                    is_last=index == len(route_ops) - 1,
                    setup_minutes=rop.setup_minutes,
                    run_minutes_per_unit=rop.run_minutes_per_unit,
                    time_basis=rop.time_basis,
                    crew_size=rop.crew_size,
                    labor_rate=rate.labor_rate if rate else ZERO,
                    machine_rate=rate.machine_rate if rate else ZERO,
                )
            )
        first = ops[0]
        if not wo.is_serialized:
            first.qty_received = wo.quantity
            first.save(update_fields=["qty_received"])
        elif wo.serial_issue == SerialIssue.AT_RELEASE:
            for _ in range(int(wo.quantity)):
                _issue_serial(wo, first, actor)
            first.qty_received = wo.quantity
            first.save(update_fields=["qty_received"])
        wo.status = WorkOrderStatus.RELEASED
        wo.released_at = timezone.now()
        wo.save(update_fields=["status", "released_at"])
        _event(wo, WorkOrderEventType.RELEASED, actor, operations=[o.seq for o in ops])
    return wo


@transaction.atomic
def work_order_cancel(*, actor: Any, work_order: WorkOrder, reason: str) -> WorkOrder:
    _require(actor, "workorders.release_workorder", "cancel work orders")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Cancelling a work order needs a reason.")
    wo = _lock_work_order(work_order)
    _ensure_can_become(wo, WorkOrderStatus.CANCELLED)
    with acting_as(actor, reason=reason):
        wo.status = WorkOrderStatus.CANCELLED
        wo.save(update_fields=["status"])
        _event(wo, WorkOrderEventType.CANCELLED, actor, reason=reason)
        _reservations_end(wo, actor, why="work order cancelled")
    return wo


def _execution_started(wo: WorkOrder) -> list[str]:
    """What has already been executed on the work order (empty: nothing)."""
    on_wo = {"operation__work_order": wo}
    found = []
    for label, model in (
        ("quantity reports", QuantityReport),
        ("labor records", LaborRecord),
        ("machine records", MachineRecord),
        ("downtime records", DowntimeRecord),
        ("component consumptions", ComponentConsumption),
        ("inspection results", InspectionResult),
    ):
        if model.objects.filter(**on_wo).exists():  # type: ignore[attr-defined]
            found.append(label)
    moved = wo.units.exclude(status=UnitStatus.VOIDED).exclude(
        status=UnitStatus.IN_PROCESS, operation__is_first=True
    )
    if moved.exists():
        found.append("units past their first operation")
    return found


def _due_date(value: Any) -> date:
    if isinstance(value, datetime):
        raise InvalidInput("The due date is a date, not a time.")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InvalidInput(f"The due date must be a date (YYYY-MM-DD), got {value!r}.") from exc


@transaction.atomic
def work_order_replan(
    *,
    actor: Any,
    work_order: WorkOrder,
    quantity: Any = None,
    due_date: date | None = None,
    reason: str,
) -> WorkOrder:
    """Change the quantity and/or due date of a work order that is planned or released and
    on which nothing has been executed yet (no quantity, labor, machine, downtime,
    consumption or inspection recorded, no unit past issue). A released lot-made order gets
    the new quantity at its first operation; a serialized order that issued its serials gets
    extra serials issued, or its newest unused units voided (status `voided`, kept with the
    reason; serials are never reused). One `work_order.replanned` event carries old -> new
    values and the reason. Refused (409) once execution has started or the order is closed
    or cancelled."""
    _require(actor, "workorders.release_workorder", "re-plan work orders")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Re-planning a work order needs a reason.")
    if quantity is None and due_date is None:
        raise InvalidInput("Give a new quantity or a new due date.")
    new_qty = None if quantity is None else _decimal(quantity, what="quantity")
    if new_qty is not None and new_qty <= 0:
        raise InvalidInput("The quantity must be positive.")
    new_due = None if due_date is None else _due_date(due_date)
    wo = _lock_work_order(work_order)
    if wo.status not in (WorkOrderStatus.PLANNED, WorkOrderStatus.RELEASED):
        raise InvalidTransition(
            f"{wo.number} is {wo.get_status_display().lower()}: it can no longer be re-planned.",
            code="replan_refused",
        )
    # the operations are locked too: terminals lock an operation to execute, so nothing can
    # start on this order between the check below and the commit
    ops = list(WorkOrderOperation.objects.select_for_update().filter(work_order=wo).order_by("seq"))
    started = _execution_started(wo)
    if started:
        raise Conflict(
            f"{wo.number} cannot be re-planned: execution has started "
            f"({', '.join(started)}). Change it through the shop floor (scrap, close) instead.",
            code="execution_started",
        )
    if new_qty is not None and wo.is_serialized and new_qty != new_qty.to_integral_value():
        raise InvalidInput(f"{wo.item.code} is serialized: the quantity is a whole number.")
    changes: dict[str, Any] = {}
    if new_qty is not None and new_qty != wo.quantity:
        changes["quantity"] = {"old": _num(wo.quantity), "new": _num(new_qty)}
    if new_due is not None and new_due != wo.due_date:
        changes["due_date"] = {"old": wo.due_date.isoformat(), "new": new_due.isoformat()}
    if not changes:
        raise InvalidInput(f"{wo.number} already has this quantity and due date.")
    issued: list[str] = []
    voided: list[str] = []
    with acting_as(actor, reason=f"{wo.number} re-planned: {reason}"):
        if "quantity" in changes and ops:
            first = ops[0]
            if not wo.is_serialized:
                first.qty_received = new_qty  # type: ignore[assignment]
            else:
                live = list(
                    wo.units.select_for_update().exclude(status=UnitStatus.VOIDED).order_by("-id")
                )
                target = int(new_qty)  # type: ignore[arg-type]
                for unit in live[: max(len(live) - target, 0)]:
                    unit.status, unit.operation = UnitStatus.VOIDED, None
                    unit._change_reason = reason  # type: ignore[attr-defined]
                    unit.save(update_fields=["status", "operation", "updated_at"])
                    voided.append(unit.serial_number)
                    _event(
                        wo,
                        WorkOrderEventType.SERIAL_VOIDED,
                        actor,
                        serial=unit.serial_number,
                        unit=unit.pk,
                        reason=reason,
                    )
                if wo.serial_issue == SerialIssue.AT_RELEASE:
                    for _ in range(target - len(live)):
                        issued.append(_issue_serial(wo, first, actor).serial_number)
                first.qty_received = Decimal(len(live) - len(voided) + len(issued))
            first.save(update_fields=["qty_received"])
        if "quantity" in changes:
            wo.quantity = new_qty  # type: ignore[assignment]
        if "due_date" in changes:
            wo.due_date = new_due  # type: ignore[assignment]
        wo._change_reason = reason  # type: ignore[attr-defined]
        wo.save(update_fields=["quantity", "due_date"])
        _event(
            wo,
            WorkOrderEventType.REPLANNED,
            actor,
            reason=reason,
            status=wo.status,
            serials_issued=issued,
            serials_voided=voided,
            **changes,
        )
    return wo


@functools.cache
def _lock_annotations_sql() -> dict[str, str]:
    """SQL of the lock statement's annotations, written once per process: the ORM spends
    ~6 ms of CPU per call building the same three EXISTS subqueries, on every terminal
    action. They read the operation row (`workorders_workorderoperation`) and the work order
    joined by `select_related` (`workorders_workorder`); parameters are bound, never spliced."""
    q = connection.ops.quote_name
    op, wo = q(WorkOrderOperation._meta.db_table), q(WorkOrder._meta.db_table)
    grant = (
        "SELECT 1 FROM {perms} g JOIN {perm} p ON p.id = g.permission_id{join} "
        "WHERE {who} = %s AND g.content_type_id = %s AND p.content_type_id = %s "
        "AND p.codename = 'operate_in_area' AND g.object_pk = CAST({wo}.area_id AS text)"
    )
    user_groups = get_user_model().groups.through._meta.db_table
    return {
        "has_lines": f"EXISTS (SELECT 1 FROM {q(BomLine._meta.db_table)} l "
        f"WHERE l.bom_id = {wo}.bom_id AND l.operation_seq = {op}.seq)",
        "has_chars": f"EXISTS (SELECT 1 FROM {q(InspectionCharacteristic._meta.db_table)} c "
        f"WHERE c.operation_id = {op}.routing_operation_id)",
        "area_granted": "EXISTS ("
        + grant.format(
            perms=q(UserObjectPermission._meta.db_table),
            perm=q(Permission._meta.db_table),
            join="",
            who="g.user_id",
            wo=wo,
        )
        + ") OR EXISTS ("
        + grant.format(
            perms=q(GroupObjectPermission._meta.db_table),
            perm=q(Permission._meta.db_table),
            join=f" JOIN {q(user_groups)} ug ON ug.group_id = g.group_id",
            who="ug.user_id",
            wo=wo,
        )
        + ")",
        "seq_of": f"SELECT seq FROM {op} WHERE id = %s",
        "work_order_of": f"SELECT work_order_id FROM {op} WHERE id = %s",
    }


@functools.cache
def _operations_lock_sql(*, with_next: bool, related: bool, by_work_order: bool) -> str:
    """The operation lock, written once per shape: the operation (and the next one) with its
    work order (and, if `related`, the order's item and area, read but not locked), plus the
    three annotations of `_lock_annotations_sql`. Parameters: the area-grant's six, then the
    work order (or the operation, to find its order), then the operation."""
    q = connection.ops.quote_name
    op, wo = q(WorkOrderOperation._meta.db_table), q(WorkOrder._meta.db_table)
    sql = _lock_annotations_sql()
    models = [WorkOrderOperation, WorkOrder, *([Material, Area] if related else [])]
    joins = f"INNER JOIN {wo} ON {wo}.id = {op}.work_order_id"
    if related:
        item, area = q(Material._meta.db_table), q(Area._meta.db_table)
        joins += (
            f" INNER JOIN {item} ON {item}.id = {wo}.item_id"
            f" INNER JOIN {area} ON {area}.id = {wo}.area_id"
        )
    owner = "%s" if by_work_order else f"({sql['work_order_of']})"
    lock = f" FOR UPDATE OF {op}, {wo}" if connection.features.has_select_for_update_of else ""
    return (
        f"SELECT {', '.join(columns(m) for m in models)}, {sql['has_lines']}, "
        f"{sql['has_chars']}, ({sql['area_granted']}) FROM {op} {joins} "
        f"WHERE {op}.work_order_id = {owner} AND {op}.seq >= ({sql['seq_of']}) "
        f"ORDER BY {op}.seq LIMIT {2 if with_next else 1}{lock}"
    )


def _lock_operations(
    actor: Any,
    *,
    operation_id: int,
    work_order_id: int | None,
    with_next: bool,
    related: bool = True,
) -> tuple[WorkOrderOperation, WorkOrderOperation | None]:
    """Lock the operation (and the next one, in sequence order) with its work order in ONE
    statement: `FOR UPDATE OF` the operation rows and the work-order row only (the item and
    area are read, not locked: locking them serialized every terminal of the plant on the
    item's row). Annotated with whether the actor holds guardian's `operate_in_area` on the
    order's area (per user or group: what `actor.has_perm(perm, area)` answers with two more
    queries) and whether the operation consumes components (`has_lines`) or has an
    inspection plan (`has_chars`), so the common operation needs no further read. The
    statement is written by hand and prepared (building it with the ORM, and planning it,
    cost more than running it)."""
    area_type = ContentType.objects.get_for_model(Area).pk  # cached by Django
    actor_pk = getattr(actor, "pk", None) or 0
    sql = _operations_lock_sql(
        with_next=with_next, related=related, by_work_order=work_order_id is not None
    )
    params = [actor_pk, area_type, area_type, actor_pk, area_type, area_type]
    params += [work_order_id or operation_id, operation_id]
    with prepared("mes_wo_lock_ops"), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = [_operation_of_row(row, related) for row in cursor.fetchall()]
    if not rows or rows[0].pk != operation_id:
        raise WorkOrderOperation.DoesNotExist(f"Operation {operation_id} does not exist.")
    op = rows[0]
    if op.work_order.status != WorkOrderStatus.RELEASED:
        raise InvalidTransition(
            f"{op.work_order.number} is {op.work_order.get_status_display().lower()}: its "
            "operations cannot be executed."
        )
    nxt = rows[1] if len(rows) > 1 else None
    if nxt is not None:
        nxt.work_order = op.work_order
    return op, nxt


def _operation_of_row(row: Sequence[Any], related: bool) -> WorkOrderOperation:
    """A row of the operation lock as the operation, its work order (item, area) and flags."""
    if related:
        op, wo, wo.item, wo.area, *flags = instances(
            row, WorkOrderOperation, WorkOrder, Material, Area
        )
    else:
        op, wo, *flags = instances(row, WorkOrderOperation, WorkOrder)
    op.work_order = wo
    op.has_lines, op.has_chars, op.area_granted = (bool(v) for v in flags)
    return op


def _lock_operation(operation: WorkOrderOperation, actor: Any = None) -> WorkOrderOperation:
    op, _nxt = _lock_operations(
        actor,
        operation_id=operation.pk,
        work_order_id=operation.work_order_id,
        with_next=False,
    )
    return op


def _execute_check(actor: Any, operation: WorkOrderOperation, action: str) -> None:
    _require(actor, "workorders.execute_workorder", action)
    _require_area(actor, operation.work_order, action, operation=operation)


# --- labor and machine time ------------------------------------------------------------------


def _close_record(record: Any, at: datetime) -> None:
    if at < record.started_at:
        raise InvalidInput(
            f"The end {at.isoformat()} is before the start {record.started_at.isoformat()}."
        )
    record.ended_at = at
    record.seconds = Decimal(str(round((at - record.started_at).total_seconds(), 3)))
    record.save(update_fields=["ended_at", "seconds"])


@transaction.atomic
def labor_clock_on(
    *, actor: Any, operation: WorkOrderOperation, at: datetime | None = None
) -> LaborRecord:
    """The operator starts working on `operation`. If they are clocked on elsewhere, that
    record ends at the same moment: a person's time is never counted twice."""
    at = _moment(at)
    op = _lock_operation(operation, actor)
    _execute_check(actor, op, "clock on")
    with acting_as(actor, reason=f"clock on {op.ref}"):
        current = (
            LaborRecord.objects.select_for_update()
            .filter(operator=actor, ended_at__isnull=True)
            .first()
        )
        if current is not None:
            if current.operation_id == op.pk:
                raise ClockConflict(f"You are already clocked on {op.ref}.")
            _close_record(current, at)
        try:
            with transaction.atomic():
                return LaborRecord.objects.create(operation=op, operator=actor, started_at=at)
        except IntegrityError as exc:
            raise ClockConflict(
                "You clocked on at another terminal at the same moment; try again."
            ) from exc


@transaction.atomic
def labor_clock_off(
    *,
    actor: Any,
    operation: WorkOrderOperation,
    at: datetime | None = None,
    operator: Any = None,
) -> LaborRecord:
    """End the operator's (default: the actor's) labor record on `operation`."""
    at = _moment(at)
    op = _lock_operation(operation, actor)
    _execute_check(actor, op, "clock off")
    person = operator or actor
    record = (
        LaborRecord.objects.select_for_update()
        .filter(operator=person, operation=op, ended_at__isnull=True)
        .first()
    )
    if record is None:
        raise ClockConflict(f"{person.get_username()} is not clocked on {op.ref}.")
    with acting_as(actor, reason=f"clock off {op.ref}"):
        _close_record(record, at)
    return record


@transaction.atomic
def machine_start(
    *, actor: Any, operation: WorkOrderOperation, at: datetime | None = None
) -> MachineRecord:
    at = _moment(at)
    op = _lock_operation(operation, actor)
    _execute_check(actor, op, "start the machine")
    if MachineRecord.objects.filter(operation=op, ended_at__isnull=True).exists():
        raise ClockConflict(f"The machine of {op.ref} is already running.")
    if DowntimeRecord.objects.filter(operation=op, ended_at__isnull=True).exists():
        raise ClockConflict(f"{op.ref} is paused: resume it to run the machine.")
    with acting_as(actor, reason=f"machine start {op.ref}"):
        return MachineRecord.objects.create(operation=op, started_by=actor, started_at=at)


@transaction.atomic
def machine_stop(
    *, actor: Any, operation: WorkOrderOperation, at: datetime | None = None
) -> MachineRecord:
    at = _moment(at)
    op = _lock_operation(operation, actor)
    _execute_check(actor, op, "stop the machine")
    record = MachineRecord.objects.filter(operation=op, ended_at__isnull=True).first()
    if record is None:
        raise ClockConflict(f"The machine of {op.ref} is not running.")
    with acting_as(actor, reason=f"machine stop {op.ref}"):
        _close_record(record, at)
    return record


@transaction.atomic
def operation_pause(
    *,
    actor: Any,
    operation: WorkOrderOperation,
    reason_code: ReasonCode | None,
    at: datetime | None = None,
) -> DowntimeRecord:
    """Pause with a downtime reason: the machine run (if any) stops at the same moment."""
    at = _moment(at)
    op = _lock_operation(operation, actor)
    _execute_check(actor, op, "pause an operation")
    code = _reason(reason_code, ReasonKind.DOWNTIME, "pause")
    if DowntimeRecord.objects.filter(operation=op, ended_at__isnull=True).exists():
        raise ClockConflict(f"{op.ref} is already paused.")
    with acting_as(actor, reason=f"pause {op.ref}: {code.code}"):
        running = MachineRecord.objects.filter(operation=op, ended_at__isnull=True).first()
        if running is not None:
            _close_record(running, at)
        return DowntimeRecord.objects.create(
            operation=op, reason=code, started_by=actor, started_at=at
        )


@transaction.atomic
def operation_resume(
    *,
    actor: Any,
    operation: WorkOrderOperation,
    at: datetime | None = None,
    restart_machine: bool = True,
) -> DowntimeRecord:
    at = _moment(at)
    op = _lock_operation(operation, actor)
    _execute_check(actor, op, "resume an operation")
    record = DowntimeRecord.objects.filter(operation=op, ended_at__isnull=True).first()
    if record is None:
        raise ClockConflict(f"{op.ref} is not paused.")
    with acting_as(actor, reason=f"resume {op.ref}"):
        _close_record(record, at)
        if restart_machine:
            MachineRecord.objects.create(operation=op, started_by=actor, started_at=at)
    return record


# --- quantities (lot-made items) -------------------------------------------------------------


def _save_counters(
    op: WorkOrderOperation, fields: Sequence[str], nxt: WorkOrderOperation | None
) -> None:
    """Write the locked operation's changed counters (`fields`) and, when good units moved on
    to `nxt`, its `qty_received`, in ONE statement (the terminal's hot path: two saves cost
    twice the statements). Both rows are locked by `_lock_operations`; the audit trigger still
    records each row's change with its own old and new values."""
    if nxt is None:
        op.save(update_fields=list(fields))
        return
    q = connection.ops.quote_name
    meta = WorkOrderOperation._meta
    sets, params = [], []
    for name, row, value in [(f, op, getattr(op, f)) for f in fields] + [
        ("qty_received", nxt, nxt.qty_received)
    ]:
        column = q(meta.get_field(name).column)
        sets.append(f"{column} = CASE WHEN id = %s THEN %s ELSE {column} END")
        params += [row.pk, value]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {q(meta.db_table)} SET {', '.join(sets)} WHERE id IN (%s, %s)",
            [*params, op.pk, nxt.pk],
        )


def _report(
    op: WorkOrderOperation,
    kind: str,
    quantity: Decimal,
    actor: Any,
    *,
    unit: WorkOrderUnit | None = None,
    reason: ReasonCode | None = None,
    note: str = "",
) -> QuantityReport:
    return QuantityReport.objects.create(
        operation=op,
        unit=unit,
        kind=kind,
        quantity=quantity,
        reason=reason,
        note=(note or "")[:500],
        actor=actor,
    )


@transaction.atomic
def operation_report(
    *,
    actor: Any,
    operation: WorkOrderOperation,
    good: Any = 0,
    scrap: Any = 0,
    rework: Any = 0,
    scrap_reason: ReasonCode | None = None,
    rework_reason: ReasonCode | None = None,
    note: str = "",
) -> WorkOrderOperation:
    """Report good, scrapped and rework quantities of a lot-made item at `operation`. Good
    units move on to the next operation. No more than the work in progress can be reported
    (the operation row is locked: two terminals cannot both report the last units)."""
    good_q, scrap_q, rework_q = (
        _decimal(good or 0, what="good quantity"),
        _decimal(scrap or 0, what="scrap quantity"),
        _decimal(rework or 0, what="rework quantity"),
    )
    if min(good_q, scrap_q, rework_q) < 0 or good_q + scrap_q + rework_q == 0:
        raise InvalidInput("Report a positive good, scrap or rework quantity.")
    op, nxt = _lock_operations(
        actor, operation_id=operation.pk, work_order_id=operation.work_order_id, with_next=True
    )
    _execute_check(actor, op, "report quantities")
    if op.work_order.is_serialized:
        raise InvalidInput(
            f"{op.work_order.item.code} is serialized: report each unit (complete, scrap, "
            "rework) instead of quantities."
        )
    if scrap_q:
        _reason(scrap_reason, ReasonKind.SCRAP, "scrap report")
    if rework_q:
        _reason(rework_reason, ReasonKind.REWORK, "rework report")
    total = good_q + scrap_q + rework_q
    if total > op.wip:
        raise QuantityExceeded(
            f"{op.ref} has {_num(op.wip)} in progress (received {_num(op.qty_received)}, "
            f"reported {_num(op.qty_good + op.qty_scrap + op.qty_rework)}): "
            f"{_num(total)} more cannot be reported."
        )
    with acting_as(actor, reason=f"quantities reported at {op.ref}"):
        for kind, qty, reason in (
            (QuantityKind.GOOD, good_q, None),
            (QuantityKind.SCRAP, scrap_q, scrap_reason),
            (QuantityKind.REWORK, rework_q, rework_reason),
        ):
            if qty:
                _report(op, kind, qty, actor, reason=reason, note=note)
        op.qty_good += good_q
        op.qty_scrap += scrap_q
        op.qty_rework += rework_q
        if nxt is not None and good_q:
            nxt.qty_received += good_q
        _save_counters(op, ["qty_good", "qty_scrap", "qty_rework"], nxt if good_q else None)
        if scrap_q or rework_q:
            adapters.nonconformance_report(
                actor=actor,
                description=f"{_num(scrap_q)} scrapped, {_num(rework_q)} to rework at {op.ref}",
                quantity=scrap_q + rework_q,
                uom=op.work_order.item.uom,
                defect_code=(scrap_reason or rework_reason).code,  # type: ignore[union-attr]
                source=_op_context(op),
            )
    return op


@transaction.atomic
def operation_return_rework(
    *, actor: Any, operation: WorkOrderOperation, quantity: Any
) -> WorkOrderOperation:
    """Reworked quantity comes back into the operation (work in progress again)."""
    qty = _decimal(quantity, what="quantity")
    if qty <= 0:
        raise InvalidInput("The quantity must be positive.")
    op = _lock_operation(operation, actor)
    _execute_check(actor, op, "return rework")
    if qty > op.in_rework:
        raise QuantityExceeded(f"{op.ref} has {_num(op.in_rework)} in rework, not {_num(qty)}.")
    with acting_as(actor, reason=f"rework returned at {op.ref}"):
        _report(op, QuantityKind.REWORK_RETURN, qty, actor)
        op.qty_rework_returned += qty
        op.qty_received += qty
        op.save(update_fields=["qty_rework_returned", "qty_received"])
    return op


def _op_context(op: WorkOrderOperation) -> dict[str, str]:
    return {"kind": "wo_operation", "ref": op.ref, "url": work_order_url(op.work_order)}


def _bom_lines_at(op: WorkOrderOperation) -> list[BomLine]:
    return list(
        BomLine.objects.filter(bom_id=op.work_order.bom_id, operation_seq=op.seq).select_related(
            "component"
        )
    )


def _find_lot(code: str, lines: list[BomLine]) -> tuple[Lot, BomLine]:
    code = (code or "").strip()
    if not code:
        raise InvalidInput("Scan a lot number or serial number.")
    lots = genealogy_selectors.lots_with_material(
        column="lot_number", values=[code], newest_first=True
    )
    if not lots:
        raise WrongComponent(f"No lot or serial {code} is known.")
    by_component = {line.component_id: line for line in lines}
    for lot in lots:
        if lot.material_id in by_component:
            return lot, by_component[lot.material_id]
    wanted = ", ".join(f"{line.component.code}" for line in lines) or "no component"
    found = ", ".join(sorted({lot.material.code for lot in lots}))
    raise WrongComponent(f"{code} is {found}; this operation takes {wanted}.")


@transaction.atomic
def operation_consume(
    *, actor: Any, operation: WorkOrderOperation, code: str, quantity: Any
) -> ComponentConsumption:
    """A lot-made item: the scanned component lot is consumed at the operation (checked
    against the BOM; the genealogy gates check it is released). At close the consumptions
    are linked into the finished lot."""
    qty = _decimal(quantity, what="quantity")
    if qty <= 0:
        raise InvalidInput("The quantity must be positive.")
    op = _lock_operation(operation, actor)
    _execute_check(actor, op, "consume components")
    if op.work_order.is_serialized:
        raise InvalidInput("Serialized item: scan the component into a unit.")
    lines = _bom_lines_at(op)
    lot, line = _find_lot(code, lines)
    return _consume(actor=actor, op=op, line=line, lot=lot, quantity=qty, unit=None)


def _consume(
    *,
    actor: Any,
    op: WorkOrderOperation,
    line: BomLine,
    lot: Lot,
    quantity: Decimal,
    unit: WorkOrderUnit | None,
) -> ComponentConsumption:
    is_serial = lot.kind == NodeKind.UNIT
    if is_serial:
        used = (
            ComponentConsumption.objects.filter(lot=lot, is_serial=True)
            .select_related("unit")
            .first()
        )
        if used is not None or lot.quantity <= 0:
            where = f" in unit {used.unit.serial_number}" if used and used.unit else ""
            raise SerialAlreadyUsed(f"Serial {lot.lot_number} is already used{where}.")
    context = _op_context(op)
    if unit is not None:
        context["ref"] = f"{op.ref} unit {unit.serial_number}"
    event = genealogy.lot_consume(
        actor=actor,
        lot=lot,
        quantity=quantity,
        into=unit.lot if unit is not None else None,
        context=context,
    )
    with acting_as(actor, reason=f"component consumed at {op.ref}"):
        row = ComponentConsumption(
            unit=unit,
            operation=op,
            bom_line=line,
            lot=lot,
            is_serial=is_serial,
            quantity=quantity,
            lot_event=event,
            actor=actor,
        )
        if not is_serial:  # only a serial can break a unique constraint here
            row.save(force_insert=True)
        else:
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
            except IntegrityError as exc:
                raise SerialAlreadyUsed(f"Serial {lot.lot_number} is already used.") from exc
        consumption = row
        if unit is not None:
            _event(
                op.work_order,
                WorkOrderEventType.COMPONENT_CONSUMED,
                actor,
                unit=unit.serial_number,
                operation=op.seq,
                lot=lot.lot_number,
                component=line.component.code,
            )
    return consumption


# --- serialized units ------------------------------------------------------------------------


@functools.cache
def _unit_lock_sql(with_lot: bool) -> str:
    q = connection.ops.quote_name
    unit, lot = q(WorkOrderUnit._meta.db_table), q(Lot._meta.db_table)
    select = columns(WorkOrderUnit) + (f", {columns(Lot)}" if with_lot else "")
    join = f" INNER JOIN {lot} ON {lot}.id = {unit}.lot_id" if with_lot else ""
    lock = f" FOR UPDATE OF {unit}" if connection.features.has_select_for_update_of else ""
    return f"SELECT {select} FROM {unit}{join} WHERE {unit}.id = %s{lock}"


def _lock_unit(
    unit: WorkOrderUnit, actor: Any, *, with_lot: bool = False, with_next: bool = False
) -> tuple[WorkOrderUnit, WorkOrderOperation, WorkOrderOperation | None]:
    """Lock the unit, then its operation (and the next one) with the work order: the unit
    row first, then the operations in sequence order (two statements, both written by hand
    and prepared, as `_lock_operations`)."""
    with prepared("mes_wo_lock_unit"), connection.cursor() as cursor:
        cursor.execute(_unit_lock_sql(with_lot), [unit.pk])
        row = cursor.fetchone()
    if row is None:
        raise WorkOrderUnit.DoesNotExist(f"Unit {unit.pk} does not exist.")
    if with_lot:
        locked, locked.lot = instances(row, WorkOrderUnit, Lot)
    else:
        (locked,) = instances(row, WorkOrderUnit)
    if locked.operation_id is None:
        raise InvalidTransition(f"Unit {locked.serial_number} is not at an operation.")
    op, nxt = _lock_operations(
        actor,
        operation_id=locked.operation_id,
        work_order_id=locked.work_order_id,
        with_next=with_next,
        related=False,
    )
    locked.operation = op
    locked.work_order = op.work_order
    return locked, op, nxt


@functools.cache
def _lines_with_have_sql() -> str:
    q = connection.ops.quote_name
    line, item = q(BomLine._meta.db_table), q(Material._meta.db_table)
    used = q(ComponentConsumption._meta.db_table)
    return (
        f"SELECT {columns(BomLine)}, {columns(Material)}, COALESCE((SELECT SUM(c.quantity) "
        f"FROM {used} c WHERE c.unit_id = %s AND c.bom_line_id = {line}.id), 0) "
        f"FROM {line} INNER JOIN {item} ON {item}.id = {line}.component_id "
        f"WHERE {line}.bom_id = %s AND {line}.operation_seq = %s ORDER BY {line}.position"
    )


def _lines_with_have(unit: WorkOrderUnit, op: WorkOrderOperation) -> list[BomLine]:
    """The BOM lines consumed at `op` with their component, each with `have`: what the unit
    already holds of it (one statement, written by hand and prepared as the locks are)."""
    with prepared("mes_wo_bom_lines"), connection.cursor() as cursor:
        cursor.execute(_lines_with_have_sql(), [unit.pk, op.work_order.bom_id, op.seq])
        rows = cursor.fetchall()
    lines = []
    for row in rows:
        line, line.component, have = instances(row, BomLine, Material)
        line.have = have if isinstance(have, Decimal) else Decimal(str(have))
        lines.append(line)
    return lines


def _ensure_in_process(unit: WorkOrderUnit, op: WorkOrderOperation) -> None:
    if unit.status != UnitStatus.IN_PROCESS:
        raise InvalidTransition(
            f"Unit {unit.serial_number} is {unit.get_status_display().lower()} at {op.ref}."
        )


@transaction.atomic
def unit_start(*, actor: Any, operation: WorkOrderOperation) -> WorkOrderUnit:
    """Serial numbers issued at the first operation: a new unit starts there."""
    op = _lock_operation(operation, actor)
    _execute_check(actor, op, "start units")
    wo = op.work_order
    if not wo.is_serialized or wo.serial_issue != SerialIssue.AT_FIRST_OPERATION:
        raise InvalidInput(f"{wo.number} does not issue serial numbers at its first operation.")
    if not op.is_first:
        raise InvalidInput(f"Units start at the first operation, not at {op.ref}.")
    started = WorkOrderUnit.objects.filter(work_order=wo).exclude(status=UnitStatus.VOIDED).count()
    if started >= wo.quantity:
        raise QuantityExceeded(f"{wo.number} already started its {_num(wo.quantity)} units.")
    with acting_as(actor, reason=f"unit started at {op.ref}"):
        unit = _issue_serial(wo, op, actor)
        op.qty_received += ONE
        op.save(update_fields=["qty_received"])
    return unit


@transaction.atomic
def unit_scan_component(*, actor: Any, unit: WorkOrderUnit, code: str) -> ComponentConsumption:
    """At the operation that consumes a component, the scanned lot or serial is checked
    against the BOM (right item, needed, released lot via the genealogy gates, serial not
    already used) and recorded in genealogy as component -> unit at that operation."""
    locked, op, _nxt = _lock_unit(unit, actor, with_lot=True)
    _execute_check(actor, op, "scan components")
    _ensure_in_process(locked, op)
    lines = _lines_with_have(locked, op) if op.has_lines else []  # type: ignore[attr-defined]
    if not lines:
        raise WrongComponent(f"{op.ref} consumes no component.")
    lot, line = _find_lot(code, lines)
    need = line.quantity_per - line.have  # type: ignore[attr-defined]
    if need <= 0:
        raise Conflict(
            f"Unit {locked.serial_number} already has its {_num(line.quantity_per)} "
            f"{line.component.code}.",
            code="component_complete",
        )
    quantity = ONE if lot.kind == NodeKind.UNIT else need
    return _consume(actor=actor, op=op, line=line, lot=lot, quantity=quantity, unit=locked)


def _evaluate(char: InspectionCharacteristic, raw: Any) -> tuple[Decimal | None, bool]:
    if char.kind == CharacteristicKind.PASS_FAIL:
        text = str(raw).strip().lower()
        if text in {"pass", "true", "1", "ok", "yes"}:
            return None, True
        if text in {"fail", "false", "0", "nok", "no"}:
            return None, False
        raise InvalidInput(f"{char.name}: enter pass or fail (got {raw!r}).")
    value = _decimal(raw, what=char.name)
    low_ok = char.lower_limit is None or value >= char.lower_limit
    high_ok = char.upper_limit is None or value <= char.upper_limit
    return value, low_ok and high_ok


@transaction.atomic
def unit_inspect(
    *, actor: Any, unit: WorkOrderUnit, results: Mapping[int, Any]
) -> list[InspectionResult]:
    """Results of the operation's inspection plan for one unit: `results` = {characteristic
    id: value ("pass"/"fail" or a number)}. Every characteristic must be given. Measured
    values with an SPC key feed SPC in quality. A failure blocks completion: the unit is then
    scrapped or sent to rework with a reason."""
    locked, op, _nxt = _lock_unit(unit, actor)
    _execute_check(actor, op, "inspect units")
    _ensure_in_process(locked, op)
    chars = list(InspectionCharacteristic.objects.filter(operation_id=op.routing_operation_id))
    if not chars:
        raise InvalidInput(f"{op.ref} has no inspection plan.")
    given = {int(k): v for k, v in results.items()}
    missing = [c.name for c in chars if c.pk not in given or given[c.pk] in (None, "")]
    if missing:
        raise InvalidInput(f"Enter every characteristic: missing {', '.join(missing)}.")
    unknown = set(given) - {c.pk for c in chars}
    if unknown:
        raise InvalidInput(f"Characteristic(s) {sorted(unknown)} are not in {op.ref}'s plan.")
    evaluated = [(c, *_evaluate(c, given[c.pk])) for c in chars]
    with acting_as(actor, reason=f"inspection at {op.ref}"):
        rows = [
            InspectionResult.objects.create(
                operation=op,
                unit=locked,
                characteristic=c,
                value=value,
                passed=passed,
                actor=actor,
            )
            for c, value, passed in evaluated
        ]
        for c, value, _passed in evaluated:
            if value is not None and c.spc_key:
                adapters.spc_record(
                    actor=actor,
                    key=c.spc_key,
                    value=value,
                    source_ref=f"{op.ref} unit {locked.serial_number}",
                    source_url=work_order_url(op.work_order),
                )
        _event(
            op.work_order,
            WorkOrderEventType.INSPECTED,
            actor,
            unit=locked.serial_number,
            operation=op.seq,
            passed=all(p for _c, _v, p in evaluated),
            failed=[c.name for c, _v, p in evaluated if not p],
        )
    return rows


def _inspection_state(unit: WorkOrderUnit, op: WorkOrderOperation) -> tuple[list[str], list[str]]:
    """(characteristics not inspected since the unit last arrived, characteristics failed)."""
    chars = list(InspectionCharacteristic.objects.filter(operation_id=op.routing_operation_id))
    if not chars:
        return [], []
    since = (
        QuantityReport.objects.filter(unit=unit, operation=op, kind=QuantityKind.REWORK_RETURN)
        .order_by("-id")
        .values_list("at", flat=True)
        .first()
    )
    results = InspectionResult.objects.filter(unit=unit, operation=op).order_by("id")
    if since is not None:
        results = results.filter(at__gte=since)
    latest = {r.characteristic_id: r.passed for r in results}
    missing = [c.name for c in chars if c.pk not in latest]
    failed = [c.name for c in chars if latest.get(c.pk) is False]
    return missing, failed


@transaction.atomic
def unit_complete_operation(*, actor: Any, unit: WorkOrderUnit) -> WorkOrderUnit:
    """The unit is good at its operation and moves on (finished after the last one). Its
    components for this operation must be scanned and its inspection passed."""
    locked, op, nxt = _lock_unit(unit, actor, with_next=True)
    _execute_check(actor, op, "complete operations")
    _ensure_in_process(locked, op)
    lacking = [
        f"{line.component.code} ({_num(line.quantity_per - line.have)})"  # type: ignore[attr-defined]
        for line in (_lines_with_have(locked, op) if op.has_lines else [])  # type: ignore[attr-defined]
        if line.have < line.quantity_per  # type: ignore[attr-defined]
    ]
    if lacking:
        raise Conflict(
            f"Unit {locked.serial_number} at {op.ref}: scan {', '.join(lacking)} first.",
            code="components_missing",
        )
    missing, failed = (
        _inspection_state(locked, op) if op.has_chars else ([], [])  # type: ignore[attr-defined]
    )
    if missing:
        raise Conflict(
            f"Unit {locked.serial_number} at {op.ref}: inspect {', '.join(missing)} first.",
            code="inspection_missing",
        )
    if failed:
        raise Conflict(
            f"Unit {locked.serial_number} failed {', '.join(failed)} at {op.ref}: scrap it or "
            "send it to rework.",
            code="inspection_failed",
        )
    if op.wip < ONE:
        raise QuantityExceeded(f"{op.ref} has no unit in progress to complete.")
    with acting_as(actor, reason=f"unit {locked.serial_number} completed {op.ref}"):
        _report(op, QuantityKind.GOOD, ONE, actor, unit=locked)
        op.qty_good += ONE
        if nxt is None:
            locked.status = UnitStatus.FINISHED
        else:
            nxt.qty_received += ONE
            locked.operation = nxt
        _save_counters(op, ["qty_good"], nxt)
        update_with_history(locked, ["status", "operation", "updated_at"], user=actor)
    return locked


def _unit_out(
    *, actor: Any, unit: WorkOrderUnit, reason_code: ReasonCode | None, note: str, kind: str
) -> WorkOrderUnit:
    locked, op, _nxt = _lock_unit(unit, actor, with_lot=True)
    _execute_check(actor, op, "scrap or rework units")
    _ensure_in_process(locked, op)
    reason_kind = ReasonKind.SCRAP if kind == QuantityKind.SCRAP else ReasonKind.REWORK
    code = _reason(reason_code, reason_kind, f"{reason_kind} of a unit")
    with acting_as(actor, reason=f"unit {locked.serial_number} {kind} at {op.ref}: {code.code}"):
        _report(op, kind, ONE, actor, unit=locked, reason=code, note=note)
        if kind == QuantityKind.SCRAP:
            op.qty_scrap += ONE
            locked.status = UnitStatus.SCRAPPED
        else:
            op.qty_rework += ONE
            locked.status = UnitStatus.REWORK
        op.save(update_fields=["qty_scrap", "qty_rework"])
        locked.save(update_fields=["status", "updated_at"])
        adapters.nonconformance_report(
            actor=actor,
            description=f"Unit {locked.serial_number} {QuantityKind(kind).label.lower()} at "
            f"{op.ref}: {code.name}" + (f" — {note}" if note else ""),
            lot=locked.lot,
            quantity=ONE,
            uom=locked.lot.uom,
            defect_code=code.code,
            source=_op_context(op),
        )
    return locked


@transaction.atomic
def unit_scrap(
    *, actor: Any, unit: WorkOrderUnit, reason_code: ReasonCode | None, note: str = ""
) -> WorkOrderUnit:
    return _unit_out(
        actor=actor, unit=unit, reason_code=reason_code, note=note, kind=QuantityKind.SCRAP
    )


@transaction.atomic
def unit_send_to_rework(
    *, actor: Any, unit: WorkOrderUnit, reason_code: ReasonCode | None, note: str = ""
) -> WorkOrderUnit:
    return _unit_out(
        actor=actor, unit=unit, reason_code=reason_code, note=note, kind=QuantityKind.REWORK
    )


@transaction.atomic
def unit_return_from_rework(*, actor: Any, unit: WorkOrderUnit) -> WorkOrderUnit:
    """The reworked unit is back at its operation; it must be inspected again."""
    locked, op, _nxt = _lock_unit(unit, actor)
    _execute_check(actor, op, "return units from rework")
    if locked.status != UnitStatus.REWORK:
        raise InvalidTransition(f"Unit {locked.serial_number} is not in rework.")
    with acting_as(actor, reason=f"unit {locked.serial_number} back from rework at {op.ref}"):
        _report(op, QuantityKind.REWORK_RETURN, ONE, actor, unit=locked)
        op.qty_rework_returned += ONE
        op.qty_received += ONE
        op.save(update_fields=["qty_rework_returned", "qty_received"])
        locked.status = UnitStatus.IN_PROCESS
        locked.save(update_fields=["status", "updated_at"])
    return locked


# --- close -----------------------------------------------------------------------------------


def standard_hours(op: WorkOrderOperation) -> tuple[Decimal, Decimal]:
    """(labor, machine) standard hours earned by what the operation processed."""
    processed = op.qty_good + op.qty_scrap
    hours = (op.setup_minutes + op.run_minutes_per_unit * processed) / Decimal(60)
    labor = hours * op.crew_size if op.time_basis in (TimeBasis.LABOR, TimeBasis.BOTH) else ZERO
    machine = hours if op.time_basis in (TimeBasis.MACHINE, TimeBasis.BOTH) else ZERO
    return labor.quantize(Decimal("0.000001")), machine.quantize(Decimal("0.000001"))


@transaction.atomic
def work_order_close(*, actor: Any, work_order: WorkOrder) -> WorkOrder:
    """Close: nothing in progress or in rework, no clock open; started = good at the last
    operation + scrapped. The standard hours are frozen; the finished lot (lot-made item) is
    produced in genealogy with the consumed components linked; serialized units are
    already nodes of genealogy with their components."""
    _require(actor, "workorders.close_workorder", "close work orders")
    wo = _lock_work_order(work_order)
    _ensure_can_become(wo, WorkOrderStatus.CLOSED)
    ops = list(WorkOrderOperation.objects.select_for_update().filter(work_order=wo).order_by("seq"))
    busy = [f"{op.ref}: {_num(op.wip)} in progress" for op in ops if op.wip > 0] + [
        f"{op.ref}: {_num(op.in_rework)} in rework" for op in ops if op.in_rework > 0
    ]
    if busy:
        raise WorkInProgress(f"{wo.number} cannot be closed: {'; '.join(busy)}.")
    open_clocks = (
        LaborRecord.objects.filter(operation__in=ops, ended_at__isnull=True).count()
        + MachineRecord.objects.filter(operation__in=ops, ended_at__isnull=True).count()
        + DowntimeRecord.objects.filter(operation__in=ops, ended_at__isnull=True).count()
    )
    if open_clocks:
        raise WorkInProgress(
            f"{wo.number} cannot be closed: {open_clocks} labor, machine or downtime record(s) "
            "are still open."
        )
    first, last = ops[0], ops[-1]
    started = first.qty_received - first.qty_rework_returned
    finished = last.qty_good
    scrapped = sum((op.qty_scrap for op in ops), start=ZERO)
    if started != finished + scrapped:
        raise WorkInProgress(
            f"{wo.number} does not reconcile: started {_num(started)} ≠ good "
            f"{_num(finished)} + scrapped {_num(scrapped)}."
        )
    with acting_as(actor, reason=f"{wo.number} closed"):
        for op in ops:
            op.std_labor_hours, op.std_machine_hours = standard_hours(op)
            op.save(update_fields=["std_labor_hours", "std_machine_hours"])
        if not wo.is_serialized and finished > 0:
            consumptions = LotEvent.objects.filter(
                pk__in=ComponentConsumption.objects.filter(
                    operation__work_order=wo, unit__isnull=True
                ).values("lot_event_id")
            )
            wo.finished_lot = genealogy.lot_produce(
                actor=actor,
                material=wo.item,
                quantity=finished,
                source={"kind": "work_order", "ref": wo.number, "url": work_order_url(wo)},
                consumptions=list(consumptions),
            )
        wo.status = WorkOrderStatus.CLOSED
        wo.closed_at = timezone.now()
        wo.closed_by = actor
        wo.save(update_fields=["status", "closed_at", "closed_by", "finished_lot"])
        _reservations_end(wo, actor, why="work order closed")
        _event(
            wo,
            WorkOrderEventType.CLOSED,
            actor,
            started=_num(started),
            good=_num(finished),
            scrapped=_num(scrapped),
            finished_lot=wo.finished_lot.lot_number if wo.finished_lot else None,
            units=list(
                wo.units.filter(status=UnitStatus.FINISHED).values_list("serial_number", flat=True)
            ),
        )
    return wo


# --- mixed-mode handoff ----------------------------------------------------------------------


def _reservations_end(wo: WorkOrder, actor: Any, *, why: str) -> None:
    now = timezone.now()
    for reservation in LotReservation.objects.select_for_update().filter(
        work_order=wo, ended_at__isnull=True
    ):
        reservation.ended_at = now
        reservation.save(update_fields=["ended_at"])
        _event(
            wo,
            WorkOrderEventType.RESERVATION_ENDED,
            actor,
            lot=reservation.lot.lot_number,
            reason=why,
        )


def _handoff_line(item: Material, material: Material, on: date) -> tuple[Bom, BomLine]:
    bom = _latest(Bom, item, on)
    line = (
        bom.lines.filter(component=material).order_by("position").first()
        if bom is not None
        else None
    )
    if bom is None or line is None:
        raise InvalidInput(
            f"{item.code} has no BOM that uses {material.code}: the released quantity cannot "
            "be converted into a work-order quantity."
        )
    return bom, line


def handoff_quantity(*, item: Material, bom: Bom, line: BomLine, lot_quantity: Decimal) -> Decimal:
    """The quantity of `item` that `lot_quantity` of the component makes (BOM quantity per;
    whole units for a serialized item)."""
    qty = lot_quantity * bom.base_quantity / line.quantity_per
    if item.is_serialized:
        return qty.to_integral_value(rounding=ROUND_FLOOR)
    return qty.quantize(Decimal("0.000001"), rounding=ROUND_FLOOR)


@transaction.atomic
def handoff_rule_create(
    *,
    actor: Any,
    material: Material,
    item: Material,
    area: Area,
    serial_pattern: str = "",
    note: str = "",
) -> HandoffRule:
    """A mixed-mode rule: when QA releases a lot of `material`, create and release a work
    order for `item` on `area`. The item's BOM must use the material and its routing must
    start in the area."""
    _require(actor, "workorders.add_handoffrule", "define handoff rules")
    if material.pk == item.pk:
        raise InvalidInput("A handoff rule makes another item from the released material.")
    _handoff_line(item, material, timezone.localdate())
    routing = _latest(Routing, item, timezone.localdate())
    first = (
        routing.operations.select_related("work_center").order_by("seq").first()
        if routing is not None
        else None
    )
    if first is None:
        raise InvalidInput(f"{item.code} has no routing to make it on {area.code}.")
    if first.work_center.area_id != area.pk:
        raise InvalidInput(
            f"{routing} starts at {first.work_center.code}, which is not in area {area.code}."
        )
    if item.is_serialized and serial_pattern:
        if "{seq" not in serial_pattern:
            raise InvalidInput("The serial pattern needs a {seq} field, e.g. {seq:05d}.")
        _format_serial(serial_pattern, item=item, work_order_number="WO", seq=1)
    if HandoffRule.objects.filter(material=material, item=item, is_active=True).exists():
        raise Conflict(
            f"An active handoff rule {material.code} → {item.code} exists.",
            code="duplicate_handoff_rule",
        )
    with acting_as(actor, reason=f"handoff rule {material.code} → {item.code} on {area.code}"):
        return HandoffRule.objects.create(
            material=material,
            item=item,
            area=area,
            serial_pattern=(serial_pattern or "").strip()[:100],
            note=(note or "").strip()[:200],
            created_by=actor,
        )


@transaction.atomic
def handoff_rule_set_active(
    *, actor: Any, rule: HandoffRule, is_active: bool, reason: str
) -> HandoffRule:
    _require(actor, "workorders.change_handoffrule", "change handoff rules")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Switching a handoff rule on or off needs a reason.")
    locked = HandoffRule.objects.select_for_update().get(pk=rule.pk)
    if locked.is_active == is_active:
        raise InvalidTransition(f"The rule is already {'active' if is_active else 'inactive'}.")
    if (
        is_active
        and HandoffRule.objects.filter(
            material_id=locked.material_id, item_id=locked.item_id, is_active=True
        ).exists()
    ):
        raise Conflict("Another active rule for the same material and item exists.")
    with acting_as(actor, reason=reason):
        locked.is_active = is_active
        locked._change_reason = reason  # type: ignore[attr-defined]
        locked.save(update_fields=["is_active"])
    return locked


@transaction.atomic
def handoff_lot_released(*, actor: Any, rule: HandoffRule, lot: Lot) -> WorkOrder | None:
    """The handoff of one released lot under one rule: a work order for the rule's item, for
    the lot's quantity converted by the BOM's quantity per, created and released with the lot
    reserved for it. Idempotent: one work order per lot and rule (the rule row is locked, the
    reservation is unique per rule and lot), so a second signal returns the same order.
    Returns None when the rule is inactive."""
    _require(actor, "workorders.add_workorder", "hand lots over to work orders")
    locked = HandoffRule.objects.select_for_update().select_related("item", "area").get(pk=rule.pk)
    done = LotReservation.objects.filter(rule=locked, lot_id=lot.pk).select_related("work_order")
    if done.exists():
        return done.first().work_order  # type: ignore[union-attr]
    if not locked.is_active:
        return None
    lot = Lot.objects.select_related("material").get(pk=lot.pk)
    if lot.material_id != locked.material_id:
        raise InvalidInput(f"Lot {lot.lot_number} is not {locked.material.code}.")
    if lot.status != "released":
        raise InvalidTransition(f"Lot {lot.lot_number} is {lot.status}, not released.")
    if lot.quantity <= 0:
        raise InvalidInput(f"Lot {lot.lot_number} is empty.")
    today = timezone.localdate()
    item = locked.item
    bom, line = _handoff_line(item, locked.material, today)
    quantity = handoff_quantity(item=item, bom=bom, line=line, lot_quantity=lot.quantity)
    if quantity <= 0:
        raise InvalidInput(
            f"Lot {lot.lot_number} holds {_num(lot.quantity)} {lot.uom}, less than one "
            f"{item.code} needs ({_num(line.quantity_per)})."
        )
    why = f"mixed-mode handoff: lot {lot.lot_number} released → {item.code} (rule {locked.pk})"
    with acting_as(actor, reason=why):
        wo = work_order_create(
            actor=actor,
            item=item,
            quantity=quantity,
            due_date=today + timedelta(days=1),
            bom=bom,
            source=WorkOrderSource.HANDOFF,
            external_ref=f"lot {lot.lot_number} rule {locked.pk}"[:100],
            serial_pattern=locked.serial_pattern,
        )
        if wo.area_id != locked.area_id:
            raise InvalidInput(
                f"{wo.routing} starts outside area {locked.area.code}: no work order made."
            )
        reserved = quantity * line.quantity_per / bom.base_quantity
        LotReservation.objects.create(
            lot=lot, work_order=wo, rule=locked, quantity=min(reserved, lot.quantity)
        )
        _event(
            wo,
            WorkOrderEventType.LOT_RESERVED,
            actor,
            lot=lot.lot_number,
            quantity=_num(min(reserved, lot.quantity)),
            rule=locked.pk,
            reason=why,
        )
        return work_order_release(actor=actor, work_order=wo)
