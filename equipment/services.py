"""Every state change of the equipment app, and THE gate other apps ask before using
equipment: `unit_check_usable` / `unit_usability` and `instrument_check_usable` /
`instrument_usability`.

Batches, work orders and scheduling call:

    unit_check_usable(unit, product_code="P-100")          # raises EquipmentNotUsable (409)
    ok, reasons = unit_usability(unit, product_code="P-100")  # for screens
    unit_start_use(actor=..., unit=..., batch_ref="B-1", product_code="P-100")
    unit_end_use(actor=..., unit=..., batch_ref="B-1")
    unit_record_usage(actor=..., unit=..., hours=Decimal("6.5"), batches=1)
    instrument_check_usable(scale)                          # before taking a reading
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from equipment import permissions as perms
from equipment.choices import (
    INSTRUMENT_STATUS_TRANSITIONS,
    MANUAL_STATUS_TARGETS,
    CalibrationResult,
    CleaningState,
    CleaningType,
    EquipmentEventType,
    EquipmentStatus,
    InstrumentStatus,
    LogEntryType,
    MaintenanceKind,
    MaintenanceTrigger,
    MaintenanceWorkOrderStatus,
)
from equipment.exceptions import EquipmentNotUsable, InstrumentNotUsable, UsabilityReason
from equipment.models import (
    CalibrationRecord,
    EquipmentClass,
    EquipmentEvent,
    Instrument,
    MaintenancePlan,
    MaintenanceWorkOrder,
    Unit,
    UnitLogEntry,
    WorkCenter,
)
from equipment.selectors import (
    instrument_is_past_due,
    maintenance_plan_due,
    maintenance_plans_without_open_order,
    unit_cleaning_status,
    unit_current_use,
)
from equipment.signals import (
    instrument_calibrated,
    maintenance_work_order_created,
    unit_cleaned,
    unit_status_changed,
)
from mes.audit.context import acting_as, current_context
from mes.esign.models import Meaning
from mes.esign.services import AuthenticatedSigner, record_sign
from mes.exceptions import Conflict, InvalidInput, InvalidTransition, NotAuthorized

# Clocks of terminals drift; a time "now" from a client may be this far ahead.
CLOCK_SKEW = timedelta(minutes=5)


# --- helpers ---------------------------------------------------------------------------------


def _require(actor: Any, permission: str, action: str) -> None:
    """RBAC for every caller. Named system principals (Celery, ERP) act for the plant."""
    if actor is None or not getattr(actor, "is_active", False):
        raise NotAuthorized(f"An active user is needed to {action}.")
    if actor.is_superuser or getattr(actor, "is_system", False) or actor.has_perm(permission):
        return
    raise NotAuthorized(
        f"{actor.get_username()} may not {action} (needs permission {permission}).",
        code="permission_denied",
    )


def _moment(at: datetime | None) -> datetime:
    now = timezone.now()
    if at is None:
        return now
    if timezone.is_naive(at):
        raise InvalidInput("Times must carry a time zone.")
    if at > now + CLOCK_SKEW:
        raise InvalidInput(f"{at:%Y-%m-%d %H:%M} is in the future.", code="time_in_future")
    return at


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _request_id() -> str:
    ctx = current_context()
    return ctx.request_id if ctx is not None else ""


def _history(instance: Any, actor: Any, reason: str) -> None:
    instance._history_user = actor
    instance._change_reason = reason


def _check_logbook_order(unit: Unit, at: datetime) -> None:
    """The logbook is chronological: nothing may be entered before its last line."""
    last = unit.log_entries.aggregate(last=Max("at"))["last"]
    if last is not None and at < last:
        raise InvalidInput(
            f"The logbook of {unit.code} has a line at {timezone.localtime(last):%Y-%m-%d %H:%M}; "
            "a new line cannot be earlier.",
            code="logbook_out_of_order",
        )


def _set_unit_status(
    *,
    unit: Unit,
    actor: Any,
    to_status: str,
    reason: str,
    data: dict | None = None,
    work_order: MaintenanceWorkOrder | None = None,
) -> EquipmentEvent:
    """Change the (locked) unit's status following the transition table, with its event."""
    if not unit.can_become(to_status):
        raise InvalidTransition(
            f"{unit.code} cannot go from {unit.get_status_display()} to "
            f"{EquipmentStatus(to_status).label}.",
        )
    from_status = unit.status
    unit.status = to_status
    unit.status_changed_at = timezone.now()
    _history(unit, actor, reason)
    unit.save(
        update_fields=[
            "status",
            "status_changed_at",
            "current_batch_ref",
            "current_product_code",
        ]
    )
    event = EquipmentEvent.objects.create(
        unit=unit,
        maintenance_work_order=work_order,
        type=EquipmentEventType.UNIT_STATUS_CHANGED,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        reason=reason,
        data=data or {},
        request_id=_request_id(),
    )
    unit_id = unit.pk
    transaction.on_commit(
        lambda: unit_status_changed.send(
            sender=Unit,
            unit_id=unit_id,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
        )
    )
    return event


# --- THE gate --------------------------------------------------------------------------------


def instrument_usability(
    instrument: Instrument, *, at: datetime | None = None
) -> tuple[bool, list[UsabilityReason]]:
    """May this instrument be used for a reading now? (ok, reasons)."""
    at = at or timezone.now()
    reasons: list[UsabilityReason] = []
    if not instrument.is_active:
        reasons.append(UsabilityReason("instrument_inactive", f"{instrument.code} is retired"))
    if instrument.status != InstrumentStatus.IN_SERVICE:
        reasons.append(
            UsabilityReason(
                "instrument_out_of_service",
                f"{instrument.code} is {instrument.get_status_display().lower()}",
            )
        )
    if instrument.next_calibration_due_at is None:
        reasons.append(
            UsabilityReason("calibration_missing", f"{instrument.code} has no calibration")
        )
    elif instrument_is_past_due(instrument, at=at):
        due = timezone.localtime(instrument.next_calibration_due_at)
        reasons.append(
            UsabilityReason(
                "calibration_past_due",
                f"{instrument.code} calibration past due since {due:%Y-%m-%d %H:%M}",
            )
        )
    return (not reasons, reasons)


def instrument_check_usable(instrument: Instrument, *, at: datetime | None = None) -> None:
    """Raise InstrumentNotUsable (409) with every reason when `instrument` may not be used
    for a reading at `at` (default now)."""
    ok, reasons = instrument_usability(instrument, at=at)
    if not ok:
        raise InstrumentNotUsable(f"Instrument {instrument.code}", reasons)


def unit_usability(
    unit: Unit,
    *,
    product_code: str | None = None,
    at: datetime | None = None,
    equipment_class: EquipmentClass | str | None = None,
    min_volume_l: Decimal | int | float | None = None,
    capabilities: Iterable[str] = (),
) -> tuple[bool, list[UsabilityReason]]:
    """May `unit` be used now (for `product_code`, and, when asked, for a requirement of
    class, volume and capabilities)? Returns (ok, every reason why not)."""
    at = at or timezone.now()
    reasons: list[UsabilityReason] = []
    if not unit.is_active:
        reasons.append(UsabilityReason("unit_inactive", f"{unit.code} is retired"))
    if unit.status != EquipmentStatus.AVAILABLE:
        status_reason = f"status is {unit.get_status_display().lower()}"
        if unit.status == EquipmentStatus.IN_USE and unit.current_batch_ref:
            status_reason += f" (batch {unit.current_batch_ref})"
        reasons.append(UsabilityReason(f"unit_{unit.status}", status_reason))

    cleaning = unit_cleaning_status(unit, at=at, product_code=product_code)
    if cleaning.state in (CleaningState.DIRTY, CleaningState.NEVER_CLEANED):
        reasons.append(
            UsabilityReason("cleaning_required", f"cleaning required: {cleaning.detail}")
        )
    elif cleaning.state == CleaningState.DIRTY_HOLD_EXCEEDED:
        reasons.append(
            UsabilityReason("dirty_hold_exceeded", f"major cleaning required: {cleaning.detail}")
        )
    elif cleaning.state == CleaningState.CLEAN_HOLD_EXPIRED:
        reasons.append(
            UsabilityReason("clean_hold_expired", f"re-cleaning required: {cleaning.detail}")
        )
    elif cleaning.state == CleaningState.AWAITING_VERIFICATION:
        reasons.append(UsabilityReason("cleaning_not_verified", cleaning.detail))
    elif cleaning.needs_major_for:
        reasons.append(
            UsabilityReason(
                "major_cleaning_required",
                f"major cleaning required: {cleaning.needs_major_for}, last cleaning was "
                f"{cleaning.last_cleaning_type}",
            )
        )

    for instrument in unit.instruments.filter(is_active=True).order_by("code"):
        if instrument.next_calibration_due_at is None or instrument_is_past_due(instrument, at=at):
            due = instrument.next_calibration_due_at
            when = (
                f"calibration past due since {timezone.localtime(due):%Y-%m-%d %H:%M}"
                if due
                else "never calibrated"
            )
            reasons.append(
                UsabilityReason("instrument_past_due", f"instrument {instrument.code} {when}")
            )
        if instrument.status != InstrumentStatus.IN_SERVICE:
            reasons.append(
                UsabilityReason(
                    "instrument_out_of_service", f"instrument {instrument.code} is out of service"
                )
            )

    reasons.extend(_requirement_reasons(unit, equipment_class, min_volume_l, capabilities))
    return (not reasons, reasons)


def _requirement_reasons(
    unit: Unit,
    equipment_class: EquipmentClass | str | None,
    min_volume_l: Decimal | int | float | None,
    capabilities: Iterable[str],
) -> list[UsabilityReason]:
    reasons = []
    if equipment_class is not None:
        wanted = (
            equipment_class.name
            if isinstance(equipment_class, EquipmentClass)
            else str(equipment_class)
        )
        if unit.equipment_class.name.lower() != wanted.lower():
            reasons.append(
                UsabilityReason(
                    "equipment_class_mismatch",
                    f"{unit.code} is a {unit.equipment_class.name}, not a {wanted}",
                )
            )
    if min_volume_l is not None:
        needed = Decimal(str(min_volume_l))
        if unit.working_volume_l is None:
            reasons.append(UsabilityReason("volume_unknown", f"{unit.code} has no working volume"))
        elif unit.working_volume_l < needed:
            reasons.append(
                UsabilityReason(
                    "volume_too_small",
                    f"working volume {_num(unit.working_volume_l)} L is below {_num(needed)} L",
                )
            )
    wanted_caps = sorted(set(capabilities))
    if wanted_caps:
        has = set(unit.capabilities.values_list("code", flat=True))
        missing = [c for c in wanted_caps if c not in has]
        if missing:
            reasons.append(
                UsabilityReason("capability_missing", f"{unit.code} is not {', '.join(missing)}")
            )
    return reasons


def unit_check_usable(
    unit: Unit,
    *,
    product_code: str | None = None,
    at: datetime | None = None,
    equipment_class: EquipmentClass | str | None = None,
    min_volume_l: Decimal | int | float | None = None,
    capabilities: Iterable[str] = (),
) -> None:
    """THE gate: raise EquipmentNotUsable (409) listing every reason when `unit` may not be
    used now (status, cleaning, instruments past due, requirement mismatch)."""
    ok, reasons = unit_usability(
        unit,
        product_code=product_code,
        at=at,
        equipment_class=equipment_class,
        min_volume_l=min_volume_l,
        capabilities=capabilities,
    )
    if not ok:
        raise EquipmentNotUsable(f"Unit {unit.code}", reasons)


def work_center_usability(
    work_center: WorkCenter, *, product_code: str | None = None, at: datetime | None = None
) -> tuple[bool, list[UsabilityReason]]:
    """A work center may be used when it is active and every active unit in it may be used."""
    reasons: list[UsabilityReason] = []
    if not work_center.is_active:
        reasons.append(UsabilityReason("work_center_inactive", f"{work_center.code} is retired"))
    for unit in work_center.units.filter(is_active=True).select_related("equipment_class"):
        _ok, unit_reasons = unit_usability(unit, product_code=product_code, at=at)
        reasons.extend(UsabilityReason(r.code, f"{unit.code}: {r.message}") for r in unit_reasons)
    return (not reasons, reasons)


def work_center_check_usable(
    work_center: WorkCenter, *, product_code: str | None = None, at: datetime | None = None
) -> None:
    ok, reasons = work_center_usability(work_center, product_code=product_code, at=at)
    if not ok:
        raise EquipmentNotUsable(f"Work center {work_center.code}", reasons)


# --- use of a unit (batches, work orders) ----------------------------------------------------


@transaction.atomic
def unit_start_use(
    *,
    actor: Any,
    unit: Unit,
    batch_ref: str,
    product_code: str,
    batch_url: str = "",
    at: datetime | None = None,
    note: str = "",
) -> Unit:
    """Batch `batch_ref` of `product_code` starts using `unit`: the gate is asked under a row
    lock (two terminals cannot both win), the unit goes in use, the logbook gets a line."""
    _require(actor, perms.USE_UNIT, "start using a unit")
    if not batch_ref or not product_code:
        raise InvalidInput("A use needs the batch reference and the product code.")
    at = _moment(at)
    unit = (
        Unit.objects.select_for_update(of=("self",))
        .select_related("equipment_class")
        .get(pk=unit.pk)
    )
    unit_check_usable(unit, product_code=product_code, at=at)
    _check_logbook_order(unit, at)
    reason = f"used for batch {batch_ref} of {product_code}"
    with acting_as(actor, reason=reason):
        unit.current_batch_ref, unit.current_product_code = batch_ref, product_code
        _set_unit_status(
            unit=unit,
            actor=actor,
            to_status=EquipmentStatus.IN_USE,
            reason=reason,
            data={"batch_ref": batch_ref, "product_code": product_code},
        )
        UnitLogEntry.objects.create(
            unit=unit,
            type=LogEntryType.USE_STARTED,
            at=at,
            actor=actor,
            product_code=product_code,
            batch_ref=batch_ref,
            batch_url=batch_url,
            note=note,
        )
    return unit


@transaction.atomic
def unit_end_use(
    *,
    actor: Any,
    unit: Unit,
    batch_ref: str,
    at: datetime | None = None,
    note: str = "",
) -> Unit:
    """Batch `batch_ref` is done with `unit`: available again, and dirty (the logbook line
    starts the dirty-hold clock). Usage counters are recorded with `unit_record_usage`."""
    _require(actor, perms.USE_UNIT, "end the use of a unit")
    at = _moment(at)
    unit = Unit.objects.select_for_update(of=("self",)).get(pk=unit.pk)
    current = unit_current_use(unit)
    if unit.status != EquipmentStatus.IN_USE or current is None:
        raise Conflict(f"{unit.code} is not in use.", code="unit_not_in_use")
    if current.batch_ref != batch_ref:
        raise Conflict(
            f"{unit.code} is in use by batch {current.batch_ref}, not {batch_ref}.",
            code="unit_used_by_other_batch",
        )
    _check_logbook_order(unit, at)
    reason = f"use for batch {batch_ref} ended"
    with acting_as(actor, reason=reason):
        unit.current_batch_ref, unit.current_product_code = "", ""
        _set_unit_status(
            unit=unit,
            actor=actor,
            to_status=EquipmentStatus.AVAILABLE,
            reason=reason,
            data={"batch_ref": batch_ref},
        )
        UnitLogEntry.objects.create(
            unit=unit,
            type=LogEntryType.USE_ENDED,
            at=at,
            actor=actor,
            product_code=current.product_code,
            batch_ref=batch_ref,
            batch_url=current.batch_url,
            note=note,
        )
    return unit


@transaction.atomic
def unit_record_usage(
    *,
    actor: Any,
    unit: Unit,
    hours: Decimal | int | float | str = Decimal("0"),
    batches: int = 0,
    ref: str = "",
) -> Unit:
    """Add run hours and/or a batch count to the unit's usage counters (they drive the
    usage-based preventive maintenance plans)."""
    _require(actor, perms.USE_UNIT, "record usage of a unit")
    hours = Decimal(str(hours))
    if hours < 0 or batches < 0:
        raise InvalidInput("Usage cannot be negative.")
    if hours == 0 and batches == 0:
        raise InvalidInput("Record some hours or batches.")
    unit = Unit.objects.select_for_update(of=("self",)).get(pk=unit.pk)
    reason = f"usage {hours} h, {batches} batch(es)" + (f" ({ref})" if ref else "")
    with acting_as(actor, reason=reason):
        unit.hours_run += hours
        unit.batch_count += batches
        _history(unit, actor, reason)
        unit.save(update_fields=["hours_run", "batch_count"])
        EquipmentEvent.objects.create(
            unit=unit,
            type=EquipmentEventType.UNIT_USAGE_RECORDED,
            actor=actor,
            reason=reason,
            data={
                "hours": str(hours),
                "batches": batches,
                "ref": ref,
                "hours_run": str(unit.hours_run),
                "batch_count": unit.batch_count,
            },
            request_id=_request_id(),
        )
    return unit


@transaction.atomic
def unit_change_status(*, actor: Any, unit: Unit, to_status: str, reason: str) -> Unit:
    """By hand: take a unit out of service, or back to available (a reason is required).
    In use comes only from `unit_start_use`, in maintenance only from a maintenance order."""
    _require(actor, perms.CHANGE_UNIT_STATUS, "change the status of a unit")
    if not reason or not reason.strip():
        raise InvalidInput("A status change needs a reason.", code="reason_required")
    if to_status not in MANUAL_STATUS_TARGETS:
        raise InvalidTransition(
            f"{EquipmentStatus(to_status).label} is set by the process itself (use, "
            "maintenance order), not by hand.",
        )
    unit = Unit.objects.select_for_update(of=("self",)).get(pk=unit.pk)
    if to_status == EquipmentStatus.AVAILABLE:
        in_progress = unit.maintenance_work_orders.filter(
            status=MaintenanceWorkOrderStatus.IN_PROGRESS
        ).first()
        if in_progress is not None:
            raise Conflict(
                f"{unit.code} is being maintained under {in_progress.number}: complete it first.",
                code="maintenance_in_progress",
            )
    interrupted = unit_current_use(unit) if unit.status == EquipmentStatus.IN_USE else None
    if interrupted is not None and to_status == EquipmentStatus.AVAILABLE:
        raise Conflict(
            f"{unit.code} is in use by batch {interrupted.batch_ref}: end the use instead.",
            code="unit_in_use",
        )
    now = timezone.now()
    with acting_as(actor, reason=reason):
        if interrupted is not None:
            # A breakdown during use: the use ends here (the unit is dirty).
            unit.current_batch_ref, unit.current_product_code = "", ""
            UnitLogEntry.objects.create(
                unit=unit,
                type=LogEntryType.USE_ENDED,
                at=now,
                actor=actor,
                product_code=interrupted.product_code,
                batch_ref=interrupted.batch_ref,
                batch_url=interrupted.batch_url,
                note=f"use interrupted: {reason}",
                data={"interrupted": True},
            )
        _set_unit_status(unit=unit, actor=actor, to_status=to_status, reason=reason)
        UnitLogEntry.objects.create(
            unit=unit,
            type=LogEntryType.STATUS_CHANGED,
            at=now,
            actor=actor,
            note=f"{EquipmentStatus(to_status).label}: {reason}",
            data={"to_status": to_status},
        )
    return unit


# --- cleaning --------------------------------------------------------------------------------


@transaction.atomic
def unit_record_cleaning(
    *,
    actor: Any,
    unit: Unit,
    cleaning_type: str,
    at: datetime | None = None,
    note: str = "",
) -> UnitLogEntry:
    """`actor` cleaned `unit` (minor: between batches of one product; major: product change,
    after maintenance, or when the dirty hold was exceeded). It needs verifying by another
    person before the unit may be used."""
    _require(actor, perms.RECORD_CLEANING, "record a cleaning")
    if cleaning_type not in CleaningType.values:
        raise InvalidInput(f"Unknown cleaning type {cleaning_type!r}.")
    at = _moment(at)
    unit = (
        Unit.objects.select_for_update(of=("self",))
        .select_related("equipment_class")
        .get(pk=unit.pk)
    )
    if unit.status == EquipmentStatus.IN_USE:
        raise Conflict(
            f"{unit.code} is in use by batch {unit.current_batch_ref}: end the use first.",
            code="unit_in_use",
        )
    _check_logbook_order(unit, at)
    status = unit_cleaning_status(unit, at=at)
    if status.state == CleaningState.DIRTY_HOLD_EXCEEDED and cleaning_type != CleaningType.MAJOR:
        raise Conflict(
            f"{unit.code}: {status.detail}; a major cleaning is required.",
            code="major_cleaning_required",
        )
    data = {"state_before": status.state}
    if status.state == CleaningState.DIRTY_HOLD_EXCEEDED:
        data["dirty_hold_exceeded"] = True
    reason = f"{cleaning_type} cleaning"
    with acting_as(actor, reason=reason):
        entry = UnitLogEntry.objects.create(
            unit=unit,
            type=LogEntryType.CLEANED,
            at=at,
            actor=actor,
            product_code=status.last_product_code,
            cleaning_type=cleaning_type,
            note=note,
            data=data,
        )
    unit_id, entry_id = unit.pk, entry.pk
    transaction.on_commit(
        lambda: unit_cleaned.send(
            sender=Unit, unit_id=unit_id, log_entry_id=entry_id, cleaning_type=cleaning_type
        )
    )
    return entry


@transaction.atomic
def unit_verify_cleaning(
    *,
    actor: Any,
    unit: Unit,
    cleaning: UnitLogEntry | None = None,
    at: datetime | None = None,
    note: str = "",
) -> UnitLogEntry:
    """A second person verifies the unit's last cleaning (never the one who cleaned)."""
    _require(actor, perms.VERIFY_CLEANING, "verify a cleaning")
    at = _moment(at)
    unit = Unit.objects.select_for_update(of=("self",)).get(pk=unit.pk)
    last = unit.log_entries.filter(type=LogEntryType.CLEANED).order_by("-at", "-id").first()
    if last is None:
        raise Conflict(f"{unit.code} has no cleaning to verify.", code="nothing_to_verify")
    if cleaning is not None and cleaning.pk != last.pk:
        raise Conflict(
            "Only the unit's last cleaning can be verified.", code="not_the_last_cleaning"
        )
    if last.actor_id == actor.pk:
        raise NotAuthorized(
            f"{actor.printed_name} performed this cleaning; another person must verify it.",
            code="verifier_is_performer",
        )
    if last.verifications.exists():
        raise Conflict("This cleaning is already verified.", code="already_verified")
    status = unit_cleaning_status(unit, at=at)
    if status.state != CleaningState.AWAITING_VERIFICATION:
        raise Conflict(
            f"{unit.code} is {status.label.lower()}: {status.detail}.",
            code="cleaning_not_verifiable",
        )
    _check_logbook_order(unit, at)
    with acting_as(actor, reason="cleaning verified"):
        try:
            with transaction.atomic():
                entry = UnitLogEntry.objects.create(
                    unit=unit,
                    type=LogEntryType.CLEANING_VERIFIED,
                    at=at,
                    actor=actor,
                    product_code=last.product_code,
                    verifies=last,
                    note=note,
                )
        except IntegrityError as exc:  # the other terminal won
            raise Conflict("This cleaning is already verified.", code="already_verified") from exc
    return entry


# --- instruments and calibration -------------------------------------------------------------


def _result(
    label: str,
    value: Decimal | None,
    reference: Decimal | None,
    tolerance: Decimal,
    stated: bool | None,
) -> str:
    if value is not None and reference is not None:
        computed = abs(value - reference) <= tolerance
        if stated is not None and stated != computed:
            raise InvalidInput(
                f"The {label} result contradicts the reading ({value} against {reference} "
                f"± {_num(tolerance)}).",
                code="calibration_result_contradicts_reading",
            )
        return CalibrationResult.PASS if computed else CalibrationResult.FAIL
    if stated is None:
        raise InvalidInput(
            f"Give the {label} reading and the reference, or the {label} result.",
            code="calibration_result_missing",
        )
    return CalibrationResult.PASS if stated else CalibrationResult.FAIL


def _decimal(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


@transaction.atomic
def instrument_record_calibration(
    *,
    actor: Any,
    instrument: Instrument,
    performed_at: datetime | None = None,
    reference_value: Decimal | None = None,
    as_found_value: Decimal | None = None,
    as_left_value: Decimal | None = None,
    as_found_passed: bool | None = None,
    as_left_passed: bool | None = None,
    certificate_ref: str = "",
    note: str = "",
) -> CalibrationRecord:
    """Record a calibration. Readings against the reference decide pass/fail within the
    instrument's tolerance (or state the results for multi-point certificates). Left as
    found when no as-left reading or result is given. A pass sets the next due date
    (performed + interval) and returns an out-of-service instrument to service; a fail takes
    it out of service and makes it due now."""
    _require(actor, perms.RECORD_CALIBRATION, "record a calibration")
    performed_at = _moment(performed_at)
    instrument = Instrument.objects.select_for_update(of=("self",)).get(pk=instrument.pk)
    reference = _decimal(reference_value)
    found_value, left_value = _decimal(as_found_value), _decimal(as_left_value)
    found = _result("as-found", found_value, reference, instrument.tolerance, as_found_passed)
    if left_value is None and as_left_passed is None:
        left_value, left = found_value, found
    else:
        left = _result("as-left", left_value, reference, instrument.tolerance, as_left_passed)
    if instrument.last_calibrated_at and performed_at < instrument.last_calibrated_at:
        raise InvalidInput(
            f"{instrument.code} was last calibrated later "
            f"({timezone.localtime(instrument.last_calibrated_at):%Y-%m-%d %H:%M}).",
            code="calibration_out_of_order",
        )
    passed = left == CalibrationResult.PASS
    next_due = (
        performed_at + timedelta(days=instrument.calibration_interval_days)
        if passed
        else performed_at
    )
    reason = f"calibration {'passed' if passed else 'failed'}" + (
        f" ({certificate_ref})" if certificate_ref else ""
    )
    with acting_as(actor, reason=reason):
        record = CalibrationRecord.objects.create(
            instrument=instrument,
            performed_at=performed_at,
            performed_by=actor,
            reference_value=reference,
            as_found_value=found_value,
            as_left_value=left_value,
            as_found_result=found,
            as_left_result=left,
            certificate_ref=certificate_ref,
            next_due_at=next_due,
            note=note,
        )
        from_status = instrument.status
        instrument.last_calibrated_at = performed_at
        instrument.next_calibration_due_at = next_due
        instrument.status = (
            InstrumentStatus.IN_SERVICE if passed else InstrumentStatus.OUT_OF_SERVICE
        )
        _history(instrument, actor, reason)
        instrument.save(update_fields=["last_calibrated_at", "next_calibration_due_at", "status"])
        EquipmentEvent.objects.create(
            instrument=instrument,
            unit_id=instrument.unit_id,
            type=EquipmentEventType.INSTRUMENT_CALIBRATED,
            from_status=from_status,
            to_status=instrument.status,
            actor=actor,
            reason=reason,
            data={
                "calibration_id": record.pk,
                "as_found": found,
                "as_left": left,
                "as_found_out_of_tolerance": found == CalibrationResult.FAIL,
                "next_due_at": next_due.isoformat(),
            },
            request_id=_request_id(),
        )
    ids = (instrument.pk, record.pk)
    transaction.on_commit(
        lambda: instrument_calibrated.send(
            sender=Instrument,
            instrument_id=ids[0],
            calibration_id=ids[1],
            as_found_passed=found == CalibrationResult.PASS,
            as_left_passed=passed,
        )
    )
    return record


@transaction.atomic
def instrument_change_status(
    *, actor: Any, instrument: Instrument, to_status: str, reason: str
) -> Instrument:
    """Take an instrument out of service (broken, lost) or back into service. Back into
    service needs a calibration that is not past due."""
    _require(actor, perms.CHANGE_INSTRUMENT_STATUS, "change the status of an instrument")
    if not reason or not reason.strip():
        raise InvalidInput("A status change needs a reason.", code="reason_required")
    instrument = Instrument.objects.select_for_update(of=("self",)).get(pk=instrument.pk)
    if to_status not in INSTRUMENT_STATUS_TRANSITIONS.get(instrument.status, frozenset()):
        raise InvalidTransition(
            f"{instrument.code} is already {instrument.get_status_display().lower()}."
        )
    if to_status == InstrumentStatus.IN_SERVICE and instrument_is_past_due(instrument):
        raise Conflict(
            f"{instrument.code} must be calibrated before it returns to service.",
            code="calibration_past_due",
        )
    with acting_as(actor, reason=reason):
        from_status = instrument.status
        instrument.status = to_status
        _history(instrument, actor, reason)
        instrument.save(update_fields=["status"])
        EquipmentEvent.objects.create(
            instrument=instrument,
            unit_id=instrument.unit_id,
            type=EquipmentEventType.INSTRUMENT_STATUS_CHANGED,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            reason=reason,
            request_id=_request_id(),
        )
    return instrument


# --- preventive maintenance ------------------------------------------------------------------


@transaction.atomic
def maintenance_plan_create(
    *,
    actor: Any,
    unit: Unit,
    code: str,
    name: str,
    trigger: str,
    interval_days: int | None = None,
    interval_hours: Decimal | int | None = None,
    interval_batches: int | None = None,
    lead_days: int = 0,
    task_description: str = "",
    requires_cleaning_after: bool = True,
    starts_at: datetime | None = None,
) -> MaintenancePlan:
    """A plan counts from now (calendar) or from the unit's current counters (usage)."""
    _require(actor, "equipment.add_maintenanceplan", "create a maintenance plan")
    if trigger not in MaintenanceTrigger.values:
        raise InvalidInput(f"Unknown trigger {trigger!r}.")
    needed = {
        MaintenanceTrigger.CALENDAR: interval_days,
        MaintenanceTrigger.HOURS: interval_hours,
        MaintenanceTrigger.BATCHES: interval_batches,
    }[MaintenanceTrigger(trigger)]
    if not needed or Decimal(str(needed)) <= 0:
        raise InvalidInput(f"A {trigger} plan needs a positive interval.", code="interval_missing")
    if MaintenancePlan.objects.filter(code=code).exists():
        raise Conflict(f"Plan {code} exists.", code="duplicate_code")
    unit = Unit.objects.get(pk=unit.pk)
    with acting_as(actor, reason=f"maintenance plan {code}"):
        plan = MaintenancePlan(
            unit=unit,
            code=code,
            name=name,
            trigger=trigger,
            interval_days=interval_days if trigger == MaintenanceTrigger.CALENDAR else None,
            interval_hours=(
                Decimal(str(interval_hours)) if trigger == MaintenanceTrigger.HOURS else None
            ),
            interval_batches=interval_batches if trigger == MaintenanceTrigger.BATCHES else None,
            lead_days=lead_days,
            task_description=task_description,
            requires_cleaning_after=requires_cleaning_after,
            starts_at=starts_at or timezone.now(),
            hours_at_last_completion=unit.hours_run,
            batches_at_last_completion=unit.batch_count,
        )
        _history(plan, actor, "created")
        plan.full_clean()
        plan.save()
    return plan


def _next_number() -> str:
    last = MaintenanceWorkOrder.objects.aggregate(last=Max("id"))["last"] or 0
    return f"MWO-{last + 1:06d}"


def _create_work_order(
    *,
    actor: Any,
    unit: Unit,
    kind: str,
    title: str,
    description: str,
    due_at: datetime | None,
    requires_cleaning_after: bool,
    plan: MaintenancePlan | None,
) -> MaintenanceWorkOrder:
    for attempt in range(5):
        try:
            with transaction.atomic():
                order = MaintenanceWorkOrder(
                    number=_next_number(),
                    unit=unit,
                    plan=plan,
                    kind=kind,
                    title=title,
                    description=description,
                    due_at=due_at,
                    requires_cleaning_after=requires_cleaning_after,
                    hours_run_at_creation=unit.hours_run,
                    batch_count_at_creation=unit.batch_count,
                    created_by=actor,
                )
                _history(order, actor, "created")
                order.save()
                break
        except IntegrityError as exc:
            if (
                plan is not None
                and MaintenanceWorkOrder.objects.filter(
                    plan=plan, status__in=["open", "in_progress"]
                ).exists()
            ):
                raise Conflict(
                    f"Plan {plan.code} already has an open work order.", code="already_open"
                ) from exc
            if attempt == 4:
                raise
    EquipmentEvent.objects.create(
        unit=unit,
        maintenance_work_order=order,
        type=EquipmentEventType.MAINTENANCE_CREATED,
        to_status=order.status,
        actor=actor,
        reason=title,
        data={"number": order.number, "plan": plan.code if plan else None, "kind": kind},
        request_id=_request_id(),
    )
    ids = (order.pk, unit.pk, plan.pk if plan else None)
    transaction.on_commit(
        lambda: maintenance_work_order_created.send(
            sender=MaintenanceWorkOrder, work_order_id=ids[0], unit_id=ids[1], plan_id=ids[2]
        )
    )
    return order


@transaction.atomic
def maintenance_work_order_create(
    *,
    actor: Any,
    unit: Unit,
    title: str,
    description: str = "",
    kind: str = MaintenanceKind.CORRECTIVE,
    due_at: datetime | None = None,
    requires_cleaning_after: bool = True,
) -> MaintenanceWorkOrder:
    """A maintenance work order raised by hand (a breakdown, a request)."""
    _require(actor, perms.ADD_MAINTENANCE_WORK_ORDER, "create a maintenance work order")
    if not title.strip():
        raise InvalidInput("A maintenance work order needs a title.")
    if kind not in MaintenanceKind.values:
        raise InvalidInput(f"Unknown maintenance kind {kind!r}.")
    unit = Unit.objects.get(pk=unit.pk)
    with acting_as(actor, reason=f"maintenance work order: {title}"):
        return _create_work_order(
            actor=actor,
            unit=unit,
            kind=kind,
            title=title,
            description=description,
            due_at=due_at,
            requires_cleaning_after=requires_cleaning_after,
            plan=None,
        )


@transaction.atomic
def maintenance_plans_generate_due(
    *, actor: Any, at: datetime | None = None
) -> list[MaintenanceWorkOrder]:
    """Create a work order for every active plan that is due and has no open order (run by
    Celery beat: equipment.tasks.generate_preventive_maintenance)."""
    _require(actor, perms.ADD_MAINTENANCE_WORK_ORDER, "generate maintenance work orders")
    at = at or timezone.now()
    created = []
    for plan in maintenance_plans_without_open_order():
        plan = (
            MaintenancePlan.objects.select_for_update(of=("self",))
            .select_related("unit")
            .get(pk=plan.pk)
        )
        due = maintenance_plan_due(plan, at=at)
        if not due.is_due:
            continue
        if plan.work_orders.filter(status__in=["open", "in_progress"]).exists():
            continue
        with acting_as(actor, reason=f"preventive maintenance due: {plan.code}"):
            created.append(
                _create_work_order(
                    actor=actor,
                    unit=plan.unit,
                    kind=MaintenanceKind.PREVENTIVE,
                    title=f"{plan.name} ({plan.code})",
                    description=f"{plan.task_description}\n\nDue: {due.detail}".strip(),
                    due_at=due.due_at or at,
                    requires_cleaning_after=plan.requires_cleaning_after,
                    plan=plan,
                )
            )
    return created


def _lock_order(work_order: MaintenanceWorkOrder) -> MaintenanceWorkOrder:
    return (
        MaintenanceWorkOrder.objects.select_for_update(of=("self",))
        .select_related("unit", "plan")
        .get(pk=work_order.pk)
    )


def _order_event(order: MaintenanceWorkOrder, actor: Any, type_: str, from_status: str) -> None:
    EquipmentEvent.objects.create(
        unit=order.unit,
        maintenance_work_order=order,
        type=type_,
        from_status=from_status,
        to_status=order.status,
        actor=actor,
        reason=order.number,
        request_id=_request_id(),
    )


@transaction.atomic
def maintenance_work_order_start(
    *, actor: Any, work_order: MaintenanceWorkOrder, at: datetime | None = None
) -> MaintenanceWorkOrder:
    """Work begins: the unit goes in maintenance (it must not be in use)."""
    _require(actor, perms.EXECUTE_MAINTENANCE_WORK_ORDER, "start maintenance")
    at = _moment(at)
    order = _lock_order(work_order)
    if not order.can_become(MaintenanceWorkOrderStatus.IN_PROGRESS):
        raise InvalidTransition(f"{order.number} is {order.get_status_display().lower()}.")
    unit = Unit.objects.select_for_update(of=("self",)).get(pk=order.unit_id)
    if unit.status == EquipmentStatus.IN_USE:
        raise Conflict(
            f"{unit.code} is in use by batch {unit.current_batch_ref}; maintenance can start "
            "when the use ends.",
            code="unit_in_use",
        )
    _check_logbook_order(unit, at)
    reason = f"maintenance {order.number} started"
    with acting_as(actor, reason=reason):
        from_status = order.status
        order.status = MaintenanceWorkOrderStatus.IN_PROGRESS
        order.started_at, order.started_by = at, actor
        _history(order, actor, reason)
        order.save(update_fields=["status", "started_at", "started_by"])
        _order_event(order, actor, EquipmentEventType.MAINTENANCE_STARTED, from_status)
        if unit.status != EquipmentStatus.IN_MAINTENANCE:
            _set_unit_status(
                unit=unit,
                actor=actor,
                to_status=EquipmentStatus.IN_MAINTENANCE,
                reason=reason,
                work_order=order,
            )
        UnitLogEntry.objects.create(
            unit=unit,
            type=LogEntryType.MAINTENANCE_STARTED,
            at=at,
            actor=actor,
            maintenance_work_order=order,
            note=order.title,
        )
    return order


@transaction.atomic
def maintenance_work_order_complete(
    *,
    actor: Any,
    work_order: MaintenanceWorkOrder,
    note: str = "",
    at: datetime | None = None,
    signer: AuthenticatedSigner | None = None,
    signature_reason: str = "",
) -> MaintenanceWorkOrder:
    """Work done: the unit is available again (dirty when the order requires cleaning
    after); a plan's counters restart from here. With `signer` (from
    mes.esign.services.signer_authenticate) the completion is e-signed "performed"; a refused
    signature refuses the completion."""
    _require(actor, perms.EXECUTE_MAINTENANCE_WORK_ORDER, "complete maintenance")
    at = _moment(at)
    order = _lock_order(work_order)
    if not order.can_become(MaintenanceWorkOrderStatus.COMPLETED):
        raise InvalidTransition(f"{order.number} is {order.get_status_display().lower()}.")
    unit = Unit.objects.select_for_update(of=("self",)).get(pk=order.unit_id)
    if order.started_at and at < order.started_at:
        raise InvalidInput("Completion cannot precede the start.", code="time_out_of_order")
    _check_logbook_order(unit, at)
    reason = f"maintenance {order.number} completed"
    with acting_as(actor, reason=reason):
        from_status = order.status
        order.status = MaintenanceWorkOrderStatus.COMPLETED
        order.completed_at, order.completed_by, order.completion_note = at, actor, note
        _history(order, actor, reason)
        order.save(update_fields=["status", "completed_at", "completed_by", "completion_note"])
        _order_event(order, actor, EquipmentEventType.MAINTENANCE_COMPLETED, from_status)
        others = unit.maintenance_work_orders.filter(
            status=MaintenanceWorkOrderStatus.IN_PROGRESS
        ).exclude(pk=order.pk)
        if unit.status == EquipmentStatus.IN_MAINTENANCE and not others.exists():
            _set_unit_status(
                unit=unit,
                actor=actor,
                to_status=EquipmentStatus.AVAILABLE,
                reason=reason,
                work_order=order,
            )
        UnitLogEntry.objects.create(
            unit=unit,
            type=LogEntryType.MAINTENANCE_COMPLETED,
            at=at,
            actor=actor,
            maintenance_work_order=order,
            note=note or order.title,
            data={"requires_cleaning": order.requires_cleaning_after},
        )
        if order.plan_id:
            plan = MaintenancePlan.objects.select_for_update(of=("self",)).get(pk=order.plan_id)
            plan.last_completed_at = at
            plan.hours_at_last_completion = unit.hours_run
            plan.batches_at_last_completion = unit.batch_count
            _history(plan, actor, reason)
            plan.save(
                update_fields=[
                    "last_completed_at",
                    "hours_at_last_completion",
                    "batches_at_last_completion",
                ]
            )
        if signer is not None:
            record_sign(
                record=order,
                signer=signer,
                meaning=Meaning.PERFORMED,
                reason=signature_reason or note,
            )
    return order


@transaction.atomic
def maintenance_work_order_cancel(
    *, actor: Any, work_order: MaintenanceWorkOrder, reason: str
) -> MaintenanceWorkOrder:
    """An open order that will not be done (raised in error, superseded)."""
    _require(actor, perms.EXECUTE_MAINTENANCE_WORK_ORDER, "cancel maintenance")
    if not reason or not reason.strip():
        raise InvalidInput("A cancellation needs a reason.", code="reason_required")
    order = _lock_order(work_order)
    if not order.can_become(MaintenanceWorkOrderStatus.CANCELLED):
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}; only an open order "
            "can be cancelled."
        )
    with acting_as(actor, reason=reason):
        from_status = order.status
        order.status = MaintenanceWorkOrderStatus.CANCELLED
        order.cancelled_at, order.cancelled_by, order.cancel_reason = (
            timezone.now(),
            actor,
            reason,
        )
        _history(order, actor, reason)
        order.save(update_fields=["status", "cancelled_at", "cancelled_by", "cancel_reason"])
        _order_event(order, actor, EquipmentEventType.MAINTENANCE_CANCELLED, from_status)
    return order
