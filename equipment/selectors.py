"""Reads of the equipment app: the plant model, cleaning state, calibration due dates,
maintenance due dates. User-driven lists are scoped to the areas the actor may see."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user

from equipment.choices import (
    MAINTENANCE_OPEN_STATUSES,
    CleaningState,
    CleaningType,
    InstrumentStatus,
    LogEntryType,
    MaintenanceTrigger,
)
from equipment.models import (
    Area,
    CalibrationRecord,
    CleaningRule,
    EquipmentClass,
    Instrument,
    MaintenancePlan,
    MaintenanceWorkOrder,
    Site,
    Unit,
    UnitLogEntry,
)

AREA_PERMISSIONS = (
    "equipment.operate_in_area",
    "equipment.review_in_area",
    "equipment.plan_in_area",
)
DUE_SOON_DAYS = 14


# --- scoping ---------------------------------------------------------------------------------


def areas_visible_to(actor: Any) -> QuerySet[Area]:
    """All areas for a holder of the global `equipment.view_area` (supervisors, QA,
    maintenance, planners); otherwise the areas granted per object (guardian)."""
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return Area.objects.none()
    if actor.is_superuser or actor.has_perm("equipment.view_area"):
        return Area.objects.all()
    return get_objects_for_user(
        actor, list(AREA_PERMISSIONS), klass=Area, any_perm=True, accept_global_perms=True
    )


def unit_list(
    *,
    actor: Any,
    area: Area | None = None,
    status: str | None = None,
    include_inactive: bool = False,
) -> QuerySet[Unit]:
    qs = (
        Unit.objects.filter(area__in=areas_visible_to(actor))
        .select_related("area__site", "equipment_class", "process_cell", "work_center")
        .prefetch_related("capabilities")
    )
    if not include_inactive:
        qs = qs.filter(is_active=True)
    if area is not None:
        qs = qs.filter(area=area)
    if status:
        qs = qs.filter(status=status)
    return qs


def unit_get(*, actor: Any, pk: int) -> Unit:
    """A unit the actor may see (raises Unit.DoesNotExist otherwise)."""
    return unit_list(actor=actor, include_inactive=True).get(pk=pk)


def instrument_list(*, actor: Any, area: Area | None = None) -> QuerySet[Instrument]:
    qs = Instrument.objects.filter(area__in=areas_visible_to(actor), is_active=True).select_related(
        "area__site", "unit"
    )
    if area is not None:
        qs = qs.filter(area=area)
    return qs.order_by("next_calibration_due_at", "code")


def instrument_get(*, actor: Any, pk: int) -> Instrument:
    return Instrument.objects.filter(area__in=areas_visible_to(actor)).get(pk=pk)


def maintenance_work_order_list(
    *, actor: Any, status: str | None = None, open_only: bool = False
) -> QuerySet[MaintenanceWorkOrder]:
    qs = MaintenanceWorkOrder.objects.filter(unit__area__in=areas_visible_to(actor)).select_related(
        "unit__area", "plan", "created_by", "started_by", "completed_by"
    )
    if status:
        qs = qs.filter(status=status)
    if open_only:
        qs = qs.filter(status__in=MAINTENANCE_OPEN_STATUSES)
    return qs


def maintenance_work_order_get(*, actor: Any, pk: int) -> MaintenanceWorkOrder:
    return maintenance_work_order_list(actor=actor).get(pk=pk)


# --- matching units to a requirement (recipes ask this) -------------------------------------


def units_matching(
    equipment_class: EquipmentClass | str | None = None,
    min_volume_l: Decimal | int | float | None = None,
    capabilities: Iterable[str] = (),
    area: Area | None = None,
    *,
    include_unavailable: bool = True,
) -> QuerySet[Unit]:
    """Units of `equipment_class` (name or instance) with at least `min_volume_l` working
    volume and every capability in `capabilities` ("glass-lined"), optionally in `area`.
    Status and cleaning are not considered unless `include_unavailable=False` (status only);
    ask `unit_usability` before use."""
    qs = Unit.objects.filter(is_active=True).select_related("area", "equipment_class")
    if isinstance(equipment_class, EquipmentClass):
        qs = qs.filter(equipment_class=equipment_class)
    elif equipment_class:
        qs = qs.filter(equipment_class__name__iexact=equipment_class)
    if min_volume_l is not None:
        qs = qs.filter(working_volume_l__gte=Decimal(str(min_volume_l)))
    for capability in capabilities:
        qs = qs.filter(capabilities__code=capability)
    if area is not None:
        qs = qs.filter(area=area)
    if not include_unavailable:
        qs = qs.filter(status="available")
    return qs.distinct().order_by("working_volume_l", "code")


# --- calibration -----------------------------------------------------------------------------


def instrument_is_past_due(instrument: Instrument, *, at: datetime | None = None) -> bool:
    at = at or timezone.now()
    due = instrument.next_calibration_due_at
    return due is None or due < at


def instruments_past_due(*, at: datetime | None = None) -> QuerySet[Instrument]:
    """Active instruments whose calibration is overdue (or that were never calibrated)."""
    at = at or timezone.now()
    return Instrument.objects.filter(is_active=True).filter(
        Q(next_calibration_due_at__isnull=True) | Q(next_calibration_due_at__lt=at)
    )


def instruments_due_soon(
    *, at: datetime | None = None, days: int = DUE_SOON_DAYS
) -> QuerySet[Instrument]:
    at = at or timezone.now()
    return Instrument.objects.filter(
        is_active=True,
        next_calibration_due_at__gte=at,
        next_calibration_due_at__lt=at + timedelta(days=days),
    )


def units_with_instruments_past_due(*, at: datetime | None = None) -> QuerySet[Unit]:
    """Units flagged because an instrument attached to them is past its calibration date."""
    return Unit.objects.filter(
        Exists(instruments_past_due(at=at).filter(unit=OuterRef("pk")))
    ).order_by("code")


def calibration_due_state(instrument: Instrument, *, at: datetime | None = None) -> str:
    """ "overdue", "due_soon" or "ok" (for badges)."""
    at = at or timezone.now()
    due = instrument.next_calibration_due_at
    if due is None or due < at:
        return "overdue"
    if due < at + timedelta(days=DUE_SOON_DAYS):
        return "due_soon"
    return "ok"


def instrument_calibrations(*, instrument: Instrument) -> QuerySet[CalibrationRecord]:
    return instrument.calibrations.select_related("performed_by").order_by("-performed_at", "-id")


# --- cleaning --------------------------------------------------------------------------------


def cleaning_rule_for(
    unit: Unit, product_code: str | None = None, *, rules: Sequence[CleaningRule] | None = None
) -> CleaningRule | None:
    """The most specific active rule: unit+product, unit (any product), class+product,
    class (any product). `rules` lets a caller pass a prefetched list."""
    if rules is None:
        rules = list(
            CleaningRule.objects.filter(is_active=True).filter(
                Q(unit=unit) | Q(equipment_class_id=unit.equipment_class_id)
            )
        )
    product_code = product_code or ""
    for by_unit, code in ((True, product_code), (True, ""), (False, product_code), (False, "")):
        for rule in rules:
            matches_target = (
                rule.unit_id == unit.pk
                if by_unit
                else rule.equipment_class_id == unit.equipment_class_id
            )
            if matches_target and rule.product_code == code:
                return rule
    return None


@dataclass(frozen=True)
class CleaningStatus:
    """The derived cleaning state of a unit at a moment."""

    state: str
    at: datetime
    since: datetime | None = None
    expires_at: datetime | None = None
    last_product_code: str = ""
    last_cleaning: UnitLogEntry | None = None
    last_cleaning_type: str = ""
    verified_by: Any = None
    rule: CleaningRule | None = None
    detail: str = ""
    needs_major_for: str = field(default="")

    @property
    def is_clean(self) -> bool:
        return self.state == CleaningState.CLEAN

    @property
    def label(self) -> str:
        return CleaningState(self.state).label

    @property
    def badge(self) -> str:
        if self.state == CleaningState.CLEAN:
            return "ok"
        if self.state in (CleaningState.AWAITING_VERIFICATION, CleaningState.IN_USE):
            return "info"
        if self.state == CleaningState.DIRTY:
            return "warn"
        return "err"


def _dirtying_filter() -> Q:
    return Q(type__in=[LogEntryType.USE_STARTED, LogEntryType.USE_ENDED]) | Q(
        type=LogEntryType.MAINTENANCE_COMPLETED,
        maintenance_work_order__requires_cleaning_after=True,
    )


def _latest(filter_q: Q, at: datetime) -> Subquery:
    return Subquery(
        UnitLogEntry.objects.filter(filter_q, unit=OuterRef("pk"), at__lte=at)
        .order_by("-at", "-id")
        .values("id")[:1]
    )


def cleaning_statuses(
    units: Iterable[Unit], *, at: datetime | None = None, product_code: str | None = None
) -> dict[int, CleaningStatus]:
    """The cleaning state of many units in three queries (units, latest entries, rules)."""
    at = at or timezone.now()
    units = list(units)
    if not units:
        return {}
    ids = [u.pk for u in units]
    latest = Unit.objects.filter(pk__in=ids).annotate(
        last_dirty_id=_latest(_dirtying_filter(), at),
        last_clean_id=_latest(Q(type=LogEntryType.CLEANED), at),
        last_use_id=_latest(Q(type=LogEntryType.USE_STARTED), at),
    )
    pointers = {row.pk: row for row in latest.only("pk")}
    entry_ids = {
        i
        for row in pointers.values()
        for i in (row.last_dirty_id, row.last_clean_id, row.last_use_id)
        if i is not None
    }
    verifications = UnitLogEntry.objects.filter(
        type=LogEntryType.CLEANING_VERIFIED, at__lte=at
    ).select_related("actor")
    entries = {
        e.pk: e
        for e in UnitLogEntry.objects.filter(pk__in=entry_ids)
        .select_related("actor")
        .prefetch_related(Prefetch("verifications", queryset=verifications))
    }
    class_ids = {u.equipment_class_id for u in units}
    rules = list(
        CleaningRule.objects.filter(is_active=True).filter(
            Q(unit_id__in=ids) | Q(equipment_class_id__in=class_ids)
        )
    )
    result = {}
    for unit in units:
        row = pointers[unit.pk]
        result[unit.pk] = _cleaning_status(
            unit,
            at=at,
            product_code=product_code,
            last_dirty=entries.get(row.last_dirty_id),
            last_clean=entries.get(row.last_clean_id),
            last_use=entries.get(row.last_use_id),
            rules=rules,
        )
    return result


def unit_cleaning_status(
    unit: Unit, *, at: datetime | None = None, product_code: str | None = None
) -> CleaningStatus:
    return cleaning_statuses([unit], at=at, product_code=product_code)[unit.pk]


def _key(entry: UnitLogEntry) -> tuple[datetime, int]:
    return (entry.at, entry.pk)


def _cleaning_status(
    unit: Unit,
    *,
    at: datetime,
    product_code: str | None,
    last_dirty: UnitLogEntry | None,
    last_clean: UnitLogEntry | None,
    last_use: UnitLogEntry | None,
    rules: Sequence[CleaningRule],
) -> CleaningStatus:
    last_product = last_use.product_code if last_use else ""
    common: dict[str, Any] = {
        "at": at,
        "last_product_code": last_product,
        "last_cleaning": last_clean,
        "last_cleaning_type": last_clean.cleaning_type if last_clean else "",
    }
    if last_dirty is not None and last_dirty.type == LogEntryType.USE_STARTED:
        return CleaningStatus(
            state=CleaningState.IN_USE,
            since=last_dirty.at,
            detail=f"in use for batch {last_dirty.batch_ref} of {last_dirty.product_code}",
            **common,
        )
    if last_dirty is not None and (last_clean is None or _key(last_dirty) > _key(last_clean)):
        rule = cleaning_rule_for(unit, last_product, rules=rules)
        limit = (
            last_dirty.at + timedelta(hours=rule.dirty_hold_hours)
            if rule is not None and rule.dirty_hold_hours is not None
            else None
        )
        what = "maintenance" if last_dirty.type == LogEntryType.MAINTENANCE_COMPLETED else "use"
        if limit is not None and at > limit:
            return CleaningStatus(
                state=CleaningState.DIRTY_HOLD_EXCEEDED,
                since=last_dirty.at,
                expires_at=limit,
                rule=rule,
                detail=f"dirty since {what} at {_fmt(last_dirty.at)}; dirty hold of "
                f"{rule.dirty_hold_hours} h exceeded at {_fmt(limit)}",
                **common,
            )
        return CleaningStatus(
            state=CleaningState.DIRTY,
            since=last_dirty.at,
            expires_at=limit,
            rule=rule,
            detail=f"dirty since {what} at {_fmt(last_dirty.at)}"
            + (f"; to be cleaned by {_fmt(limit)} (dirty hold)" if limit else ""),
            **common,
        )
    if last_clean is None:
        return CleaningStatus(
            state=CleaningState.NEVER_CLEANED, detail="no cleaning recorded", **common
        )
    rule = cleaning_rule_for(unit, product_code or last_product, rules=rules)
    expiry = (
        last_clean.at + timedelta(hours=rule.clean_hold_hours)
        if rule is not None and rule.clean_hold_hours is not None
        else None
    )
    verification = next(iter(last_clean.verifications.all()), None)
    verified_by = verification.actor if verification else None
    if expiry is not None and at > expiry:
        return CleaningStatus(
            state=CleaningState.CLEAN_HOLD_EXPIRED,
            since=last_clean.at,
            expires_at=expiry,
            rule=rule,
            verified_by=verified_by,
            detail=f"cleaned at {_fmt(last_clean.at)}; clean hold of {rule.clean_hold_hours} h "
            f"expired at {_fmt(expiry)}",
            **common,
        )
    if verification is None:
        return CleaningStatus(
            state=CleaningState.AWAITING_VERIFICATION,
            since=last_clean.at,
            expires_at=expiry,
            rule=rule,
            detail=f"{last_clean.get_cleaning_type_display().split(' ')[0].lower()} cleaning "
            f"at {_fmt(last_clean.at)} by {last_clean.actor.printed_name} not yet verified",
            **common,
        )
    needs_major = ""
    if (
        product_code
        and last_product
        and product_code != last_product
        and last_clean.cleaning_type != CleaningType.MAJOR
        and (rule is None or rule.major_clean_on_product_change)
    ):
        needs_major = f"product change from {last_product} to {product_code}"
    return CleaningStatus(
        state=CleaningState.CLEAN,
        since=last_clean.at,
        expires_at=expiry,
        rule=rule,
        verified_by=verified_by,
        needs_major_for=needs_major,
        detail=f"cleaned ({last_clean.cleaning_type}) at {_fmt(last_clean.at)}"
        + (f", clean until {_fmt(expiry)}" if expiry else ""),
        **common,
    )


def _fmt(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


# --- the logbook -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogbookLine:
    entry: UnitLogEntry
    verified_by: Any = None
    verified_at: datetime | None = None


def unit_logbook(
    *, unit: Unit, since: datetime | None = None, until: datetime | None = None
) -> list[LogbookLine]:
    """The logbook in time order; a cleaning line carries its verifier."""
    qs = unit.log_entries.select_related("actor", "maintenance_work_order").prefetch_related(
        Prefetch("verifications", queryset=UnitLogEntry.objects.select_related("actor"))
    )
    if since is not None:
        qs = qs.filter(at__gte=since)
    if until is not None:
        qs = qs.filter(at__lte=until)
    lines = []
    for entry in qs.order_by("at", "id"):
        verification = next(iter(entry.verifications.all()), None)
        lines.append(
            LogbookLine(
                entry=entry,
                verified_by=verification.actor if verification else None,
                verified_at=verification.at if verification else None,
            )
        )
    return lines


def unit_current_use(unit: Unit) -> UnitLogEntry | None:
    """The open use.started line (the unit is in use), if any."""
    last = (
        unit.log_entries.filter(type__in=[LogEntryType.USE_STARTED, LogEntryType.USE_ENDED])
        .order_by("-at", "-id")
        .first()
    )
    return last if last is not None and last.type == LogEntryType.USE_STARTED else None


# --- preventive maintenance ------------------------------------------------------------------


@dataclass(frozen=True)
class PlanDue:
    is_due: bool
    due_at: datetime | None = None
    detail: str = ""


def maintenance_plan_due(plan: MaintenancePlan, *, at: datetime | None = None) -> PlanDue:
    """Whether `plan` needs a work order now (calendar: N days after the last completion or
    the plan start, minus the lead days; usage: the counter since the last completion)."""
    at = at or timezone.now()
    if plan.trigger == MaintenanceTrigger.CALENDAR:
        basis = plan.last_completed_at or plan.starts_at
        due_at = basis + timedelta(days=plan.interval_days or 0)
        return PlanDue(
            is_due=at >= due_at - timedelta(days=plan.lead_days),
            due_at=due_at,
            detail=f"every {plan.interval_days} d, due {_fmt(due_at)}",
        )
    unit = plan.unit
    if plan.trigger == MaintenanceTrigger.HOURS:
        run = unit.hours_run - plan.hours_at_last_completion
        return PlanDue(
            is_due=run >= (plan.interval_hours or Decimal("0")),
            detail=f"{run} h run of {plan.interval_hours} h",
        )
    count = unit.batch_count - plan.batches_at_last_completion
    return PlanDue(
        is_due=count >= (plan.interval_batches or 0),
        detail=f"{count} batches of {plan.interval_batches}",
    )


def maintenance_plans_without_open_order() -> QuerySet[MaintenancePlan]:
    open_orders = MaintenanceWorkOrder.objects.filter(
        plan=OuterRef("pk"), status__in=MAINTENANCE_OPEN_STATUSES
    )
    return (
        MaintenancePlan.objects.filter(is_active=True, unit__is_active=True)
        .exclude(Exists(open_orders))
        .select_related("unit")
        .order_by("code")
    )


# --- the plant model browser -----------------------------------------------------------------


@dataclass
class UnitRow:
    unit: Unit
    cleaning: CleaningStatus
    instruments_past_due: list[Instrument]

    @property
    def is_flagged(self) -> bool:
        return bool(self.instruments_past_due)


@dataclass
class GroupRow:
    """A process cell, a work center, or the area's loose units."""

    code: str
    name: str
    kind: str
    units: list[UnitRow]


@dataclass
class AreaRow:
    area: Area
    groups: list[GroupRow]


@dataclass
class SiteRow:
    site: Site
    areas: list[AreaRow]


def unit_rows(units: Sequence[Unit], *, at: datetime | None = None) -> list[UnitRow]:
    at = at or timezone.now()
    statuses = cleaning_statuses(units, at=at)
    overdue: dict[int, list[Instrument]] = {}
    for instrument in instruments_past_due(at=at).filter(unit__in=[u.pk for u in units]):
        overdue.setdefault(instrument.unit_id, []).append(instrument)
    return [
        UnitRow(unit=u, cleaning=statuses[u.pk], instruments_past_due=overdue.get(u.pk, []))
        for u in units
    ]


def plant_model(*, actor: Any, at: datetime | None = None) -> list[SiteRow]:
    """Site → area → process cell / work center → units, with status and cleaning state."""
    units = list(unit_list(actor=actor))
    rows = unit_rows(units, at=at)
    by_area: dict[int, list[UnitRow]] = {}
    for row in rows:
        by_area.setdefault(row.unit.area_id, []).append(row)
    areas = (
        areas_visible_to(actor)
        .select_related("site")
        .prefetch_related("process_cells", "work_centers")
    )
    sites: dict[int, SiteRow] = {}
    for area in areas.order_by("site__code", "code"):
        area_units = by_area.get(area.pk, [])
        groups = []
        for cell in area.process_cells.all():
            members = [r for r in area_units if r.unit.process_cell_id == cell.pk]
            groups.append(GroupRow(cell.code, cell.name, "Process cell", members))
        for wc in area.work_centers.all():
            members = [r for r in area_units if r.unit.work_center_id == wc.pk]
            groups.append(GroupRow(wc.code, wc.name, "Work center", members))
        loose = [
            r
            for r in area_units
            if r.unit.process_cell_id is None and r.unit.work_center_id is None
        ]
        if loose:
            groups.append(GroupRow("", "Other units", "", loose))
        site_row = sites.setdefault(area.site_id, SiteRow(site=area.site, areas=[]))
        site_row.areas.append(AreaRow(area=area, groups=groups))
    return list(sites.values())


def instrument_status_is_usable(instrument: Instrument) -> bool:
    return instrument.is_active and instrument.status == InstrumentStatus.IN_SERVICE
