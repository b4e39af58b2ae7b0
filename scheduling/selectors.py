"""Reads of scheduling: the demand and resources of a site turned into the solvers' problems
(`plant_problem`), schedules and their entries, the Gantt rows, the comparison of a proposed
schedule with the published one, and the dispatch list of a work center or unit.

Times in a problem are integer minutes from the schedule's horizon start.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Min, QuerySet
from django.utils import timezone

from batches.choices import BatchStatus
from batches.models import BatchOrder
from equipment.choices import CleaningState, MaintenanceWorkOrderStatus
from equipment.models import MaintenanceWorkOrder, Site, Unit, WorkCenter
from equipment.selectors import areas_visible_to, cleaning_rule_for, cleaning_statuses
from scheduling.models import (
    ChangeoverMatrix,
    DemandPriority,
    EntryKind,
    Schedule,
    ScheduleEntry,
    ScheduleStatus,
    ShiftCalendar,
)
from workorders.choices import WorkOrderStatus
from workorders.models import LaborRecord, MachineRecord, WorkOrder, WorkOrderOperation

PERM_PLAN = "scheduling.plan_schedule"
PERM_VIEW = "scheduling.view_schedule"
MAINTENANCE_BLOCK_MINUTES = 240
"""How long a planned maintenance work order keeps its unit (and work center) unavailable:
the maintenance order has a due date but no planned duration."""
DEFAULT_BATCH_MINUTES_PER_PHASE = 15
MIN_BATCH_MINUTES = 60


def can_plan(actor: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False) and actor.has_perm(PERM_PLAN))


def can_view(actor: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False) and actor.has_perm(PERM_VIEW))


# --- schedules -------------------------------------------------------------------------------


def schedule_list(*, actor: Any, status: str | None = None) -> QuerySet[Schedule]:
    """Schedules of the sites whose areas the actor may see."""
    if not can_view(actor):
        return Schedule.objects.none()
    sites = areas_visible_to(actor).values("site_id")
    qs = Schedule.objects.filter(site_id__in=sites).select_related(
        "site", "created_by", "published_by", "based_on"
    )
    return qs.filter(status=status) if status else qs


def schedule_get(*, actor: Any, pk: int) -> Schedule:
    return schedule_list(actor=actor).get(pk=pk)


def schedule_published(site: Site | int) -> Schedule | None:
    site_id = site if isinstance(site, int) else site.pk
    return Schedule.objects.filter(site_id=site_id, status=ScheduleStatus.PUBLISHED).first()


def schedule_entries(schedule: Schedule) -> QuerySet[ScheduleEntry]:
    return schedule.entries.select_related(
        "work_center", "unit", "operation__work_order", "batch"
    ).order_by("start", "id")


def entry_get(*, actor: Any, pk: int) -> ScheduleEntry:
    return (
        ScheduleEntry.objects.filter(schedule__in=schedule_list(actor=actor))
        .select_related("schedule", "work_center", "unit", "operation", "batch")
        .get(pk=pk)
    )


# --- demand and resources --------------------------------------------------------------------


def _tz(site: Site) -> ZoneInfo:
    try:
        return ZoneInfo(site.timezone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def minutes_between(start: datetime, moment: datetime) -> int:
    return math.floor((moment - start).total_seconds() / 60)


def _ceil_minutes(value: Decimal | float) -> int:
    return max(1, math.ceil(float(value)))


@dataclass
class OperationDemand:
    operation: WorkOrderOperation
    work_centers: list[WorkCenter]
    minutes: int
    started_at: datetime | None


@dataclass
class WorkOrderDemand:
    work_order: WorkOrder
    due_at: datetime
    priority: int
    operations: list[OperationDemand]


@dataclass
class BatchDemand:
    batch: BatchOrder
    product_code: str
    volume_l: float
    minutes: int
    capabilities: frozenset[str]
    due_at: datetime | None
    priority: int
    started_at: datetime | None


def _operation_done(op: WorkOrderOperation, quantity: Decimal) -> bool:
    return op.qty_received > 0 and op.wip <= 0 and (op.qty_good + op.qty_scrap) > 0


def work_order_demand(site: Site) -> list[WorkOrderDemand]:
    """Released work orders of the site with the operations not yet done, each with its
    allowed work centers (the routing's and its alternatives), its time (setup + run × the
    quantity still to make) and, when started, its actual start."""
    orders = list(
        WorkOrder.objects.filter(status=WorkOrderStatus.RELEASED, area__site=site)
        .select_related("item", "area")
        .order_by("due_date", "number")
    )
    if not orders:
        return []
    ops = list(
        WorkOrderOperation.objects.filter(work_order__in=orders)
        .select_related("work_center", "routing_operation")
        .prefetch_related("routing_operation__alternative_work_centers")
        .order_by("work_order_id", "seq")
    )
    op_ids = [op.pk for op in ops]
    started: dict[int, datetime] = {}
    for model in (LaborRecord, MachineRecord):
        for row in (
            model.objects.filter(operation_id__in=op_ids)
            .values("operation_id")
            .annotate(first=Min("started_at"))
        ):
            at = started.get(row["operation_id"])
            started[row["operation_id"]] = min(at, row["first"]) if at else row["first"]
    priorities = {p.work_order_id: p for p in DemandPriority.objects.filter(work_order__in=orders)}
    by_order: dict[int, list[WorkOrderOperation]] = defaultdict(list)
    for op in ops:
        by_order[op.work_order_id].append(op)
    tz = _tz(site)
    out = []
    for wo in orders:
        prio = priorities.get(wo.pk)
        due = (prio.due_at if prio and prio.due_at else None) or datetime.combine(
            wo.due_date + timedelta(days=1), time(0), tzinfo=tz
        )
        rows = []
        for op in by_order[wo.pk]:
            if _operation_done(op, wo.quantity):
                continue
            remaining = wo.quantity - op.qty_good - op.qty_scrap
            begun = started.get(op.pk)
            if begun is None and (op.qty_good + op.qty_scrap) > 0:
                begun = timezone.now()
            minutes = (0 if begun else op.setup_minutes) + op.run_minutes_per_unit * max(
                remaining, Decimal(0)
            )
            centers = [op.work_center]
            centers += [
                wc
                for wc in op.routing_operation.alternative_work_centers.all()
                if wc.pk != op.work_center_id and wc.is_active
            ]
            rows.append(OperationDemand(op, centers, _ceil_minutes(minutes), begun))
        if rows:
            out.append(WorkOrderDemand(wo, due, prio.priority if prio else 1, rows))
    return out


def batch_requirement(batch: BatchOrder) -> dict[str, Any]:
    """Class, minimum volume and capabilities the batch's unit procedures ask for."""
    classes: list[str] = []
    volumes: list[float] = []
    caps: set[str] = set()
    for up in batch.control_recipe.get("unit_procedures", []):
        req = up.get("equipment_requirement")
        if not req:
            continue
        if req.get("equipment_class"):
            classes.append(req["equipment_class"])
        if req.get("min_volume_l") is not None:
            volumes.append(float(req["min_volume_l"]))
        caps.update(req.get("capabilities") or [])
    return {
        "equipment_class": classes[0] if classes else None,
        "min_volume_l": max(volumes) if volumes else None,
        "capabilities": sorted(caps),
    }


def _capability_tags(equipment_class: str | None, capabilities: list[str]) -> frozenset[str]:
    tags = set(capabilities)
    if equipment_class:
        tags.add(f"class:{equipment_class.lower()}")
    return frozenset(tags)


def batch_minutes(batch: BatchOrder) -> int:
    """The time a batch holds its vessel: the sum of its phases' minimum hold times plus a
    quarter of an hour per phase, at least an hour (the planner may override it)."""
    phases = [
        ph
        for up in batch.control_recipe.get("unit_procedures", [])
        for op in up.get("operations", [])
        for ph in op.get("phases", [])
    ]
    holds = sum(int(ph.get("hold_min_minutes") or 0) for ph in phases)
    return max(MIN_BATCH_MINUTES, holds + DEFAULT_BATCH_MINUTES_PER_PHASE * len(phases))


def batch_demand(site: Site) -> list[BatchDemand]:
    """Batch orders not yet started (any site: a batch order is not tied to one until it is
    started) and batches started in a unit of this site (frozen)."""
    batches = list(
        BatchOrder.objects.filter(status=BatchStatus.CREATED).select_related("product")
    ) + list(
        BatchOrder.objects.filter(status=BatchStatus.STARTED, unit__area__site=site).select_related(
            "product", "unit"
        )
    )
    priorities = {p.batch_id: p for p in DemandPriority.objects.filter(batch__in=batches)}
    out = []
    for batch in sorted(batches, key=lambda b: b.number):
        req = batch_requirement(batch)
        volume = req["min_volume_l"] or 0.0
        if batch.batch_size_uom.strip().lower() in ("l", "litre", "liter"):
            volume = max(volume, float(batch.batch_size))
        prio = priorities.get(batch.pk)
        minutes = prio.duration_minutes if prio and prio.duration_minutes else batch_minutes(batch)
        out.append(
            BatchDemand(
                batch=batch,
                product_code=batch.control_recipe.get("product", {}).get("code")
                or batch.product.code,
                volume_l=volume,
                minutes=minutes,
                capabilities=_capability_tags(req["equipment_class"], req["capabilities"]),
                due_at=prio.due_at if prio else None,
                priority=prio.priority if prio else 1,
                started_at=batch.started_at if batch.status == BatchStatus.STARTED else None,
            )
        )
    return out


def site_work_centers(site: Site) -> list[WorkCenter]:
    return list(WorkCenter.objects.filter(area__site=site, is_active=True).order_by("code"))


def site_vessels(site: Site) -> list[Unit]:
    """Units of the site's process cells with a working volume, not out of service."""
    return list(
        Unit.objects.filter(
            area__site=site,
            is_active=True,
            process_cell__isnull=False,
            working_volume_l__isnull=False,
        )
        .exclude(status="out_of_service")
        .select_related("equipment_class", "process_cell")
        .prefetch_related("capabilities")
        .order_by("code")
    )


def _merge(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(windows):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _calendar_gaps(
    calendar: ShiftCalendar, start: datetime, hours: int, tz: ZoneInfo
) -> list[tuple[int, int]]:
    """The non-working windows of a calendar within [start, start + hours), in minutes."""
    windows = list(calendar.windows.all())
    local = start.astimezone(tz)
    day = local.date()
    end = start + timedelta(hours=hours)
    working: list[tuple[int, int]] = []
    while datetime.combine(day, time(0), tzinfo=tz) < end:
        for w in windows:
            if w.weekday != day.weekday():
                continue
            ws = datetime.combine(day, w.start, tzinfo=tz)
            we_day = day + timedelta(days=1) if w.end <= w.start else day
            we = datetime.combine(we_day, w.end, tzinfo=tz)
            working.append((minutes_between(start, ws), minutes_between(start, we)))
        day += timedelta(days=1)
    horizon = hours * 60
    gaps, cursor = [], 0
    for s, e in _merge(working):
        if s > cursor:
            gaps.append((cursor, min(s, horizon)))
        cursor = max(cursor, e)
    if cursor < horizon:
        gaps.append((cursor, horizon))
    return [(s, e) for s, e in gaps if e > s and e > 0]


def unavailability(
    site: Site, start: datetime, hours: int
) -> tuple[dict[int, list[tuple[int, int]]], dict[int, list[tuple[int, int]]]]:
    """Windows (minutes) where work centers / units may not be scheduled: outside their shift
    calendar, and planned or running maintenance (from equipment's maintenance work orders)."""
    tz = _tz(site)
    by_wc: dict[int, list[tuple[int, int]]] = defaultdict(list)
    by_unit: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for cal in ShiftCalendar.objects.filter(
        work_center__area__site=site
    ) | ShiftCalendar.objects.filter(unit__area__site=site):
        gaps = _calendar_gaps(cal, start, hours, tz)
        if cal.work_center_id:
            by_wc[cal.work_center_id].extend(gaps)
        else:
            by_unit[cal.unit_id].extend(gaps)
    horizon_end = start + timedelta(hours=hours)
    for mwo in MaintenanceWorkOrder.objects.filter(
        unit__area__site=site,
        status__in=[MaintenanceWorkOrderStatus.OPEN, MaintenanceWorkOrderStatus.IN_PROGRESS],
    ).select_related("unit"):
        if mwo.status == MaintenanceWorkOrderStatus.IN_PROGRESS:
            s = 0
        elif mwo.due_at is not None and start <= mwo.due_at < horizon_end:
            s = minutes_between(start, mwo.due_at)
        else:
            continue
        window = (s, s + MAINTENANCE_BLOCK_MINUTES)
        by_unit[mwo.unit_id].append(window)
        if mwo.unit.work_center_id:
            by_wc[mwo.unit.work_center_id].append(window)
    return (
        {k: _merge(v) for k, v in by_wc.items()},
        {k: _merge(v) for k, v in by_unit.items()},
    )


def changeover_matrix_for(site: Site) -> ChangeoverMatrix | None:
    """The site's active matrix (the one without a process cell first)."""
    return (
        ChangeoverMatrix.objects.filter(site=site, is_active=True)
        .prefetch_related("rules")
        .order_by("process_cell_id", "id")
        .first()
    )


def hold_limits(vessels: list[Unit]) -> tuple[int | None, int | None]:
    """The strictest dirty hold and clean hold (minutes) of equipment's cleaning rules over the
    vessels: one pair of limits for the whole campaign problem."""
    dirty, clean = [], []
    for unit in vessels:
        rule = cleaning_rule_for(unit)
        if rule is None:
            continue
        if rule.dirty_hold_hours is not None:
            dirty.append(rule.dirty_hold_hours * 60)
        if rule.clean_hold_hours is not None:
            clean.append(rule.clean_hold_hours * 60)
    return (min(dirty) if dirty else None, min(clean) if clean else None)


def vessel_states(vessels: list[Unit], at: datetime) -> dict[int, tuple[str | None, bool]]:
    """(last product, clean now?) per vessel, from equipment's cleaning status."""
    statuses = cleaning_statuses(vessels, at=at)
    return {
        u.pk: (
            statuses[u.pk].last_product_code or u.current_product_code or None,
            statuses[u.pk].state == CleaningState.CLEAN,
        )
        for u in vessels
    }


# --- Gantt, compare, dispatch ----------------------------------------------------------------


@dataclass
class GanttBar:
    entry: ScheduleEntry
    left: float
    width: float
    conflict: str = ""
    late: bool = False


@dataclass
class GanttRow:
    key: str
    label: str
    kind: str
    pk: int
    bars: list[GanttBar] = field(default_factory=list)


@dataclass
class Gantt:
    start: datetime
    end: datetime
    rows: list[GanttRow]
    ticks: list[tuple[float, str]]


def gantt(schedule: Schedule, *, conflicts: dict[int, str] | None = None) -> Gantt:
    """One row per resource (work centers, then vessels), bars positioned in % of the span."""
    entries = list(schedule_entries(schedule))
    conflicts = conflicts or {}
    start = schedule.horizon_start
    real = [e for e in entries if e.kind != EntryKind.UNAVAILABLE]
    end = max([e.end for e in real], default=start + timedelta(hours=8))
    end = max(end, start + timedelta(hours=4))
    end = start + timedelta(hours=math.ceil((end - start).total_seconds() / 3600) + 1)
    span = (end - start).total_seconds()
    rows: dict[str, GanttRow] = {}
    for wc in site_work_centers(schedule.site):
        rows[f"wc:{wc.pk}"] = GanttRow(f"wc:{wc.pk}", wc.code, "work_center", wc.pk)
    for unit in site_vessels(schedule.site):
        rows[f"unit:{unit.pk}"] = GanttRow(f"unit:{unit.pk}", unit.code, "unit", unit.pk)
    for e in entries:
        s, f_ = max(e.start, start), min(e.end, end)
        if f_ <= s and e.end > e.start:
            continue
        row = rows.get(e.resource_key)
        if row is None:
            resource = e.work_center or e.unit
            row = rows[e.resource_key] = GanttRow(
                e.resource_key,
                resource.code,
                "work_center" if e.work_center_id else "unit",
                resource.pk,
            )
        row.bars.append(
            GanttBar(
                entry=e,
                left=round(100 * (s - start).total_seconds() / span, 3),
                width=max(0.3, round(100 * (f_ - s).total_seconds() / span, 3)),
                conflict=conflicts.get(e.pk, ""),
                late=bool(e.due_at and e.end > e.due_at and e.kind != EntryKind.CLEANING),
            )
        )
    hours = int(span // 3600)
    step = max(1, math.ceil(hours / 12))
    tz = _tz(schedule.site)
    ticks = [
        (
            round(100 * h * 3600 / span, 3),
            (start + timedelta(hours=h)).astimezone(tz).strftime("%a %H:%M"),
        )
        for h in range(0, hours, step)
    ]
    return Gantt(start=start, end=end, rows=list(rows.values()), ticks=ticks)


def _entry_ref(e: ScheduleEntry) -> str | None:
    if e.operation_id:
        return f"op:{e.operation_id}"
    if e.batch_id:
        return f"batch:{e.batch_id}"
    return None


@dataclass
class CompareRow:
    ref: str
    label: str
    before_resource: str
    after_resource: str
    before_start: datetime | None
    after_start: datetime | None
    delta_minutes: int | None
    change: str


def schedule_compare(proposed: Schedule, published: Schedule | None) -> dict[str, Any]:
    """Per operation/batch: where and when in the published schedule and in the proposed one
    (moved, changed resource, new, dropped, same); and the metric deltas."""
    after = {_entry_ref(e): e for e in schedule_entries(proposed) if _entry_ref(e)}
    before = (
        {_entry_ref(e): e for e in schedule_entries(published) if _entry_ref(e)}
        if published
        else {}
    )
    rows = []
    for ref in sorted(set(after) | set(before), key=lambda r: (after.get(r) or before[r]).start):
        a, b = after.get(ref), before.get(ref)
        any_ = a or b
        res = lambda e: (e.work_center or e.unit).code if e else ""  # noqa: E731
        if a and b:
            delta = minutes_between(b.start, a.start)
            if a.resource_key != b.resource_key:
                change = "resource changed"
            elif delta:
                change = "moved"
            else:
                change = "same"
        else:
            delta = None
            change = "new" if a else "dropped"
        rows.append(
            CompareRow(
                ref=ref,
                label=any_.label,
                before_resource=res(b),
                after_resource=res(a),
                before_start=b.start if b else None,
                after_start=a.start if a else None,
                delta_minutes=delta,
                change=change,
            )
        )
    metrics = []
    for name in ("makespan_minutes", "tardiness_minutes", "changeover_minutes"):
        new = getattr(proposed, name)
        old = getattr(published, name) if published else None
        delta = new - old if new is not None and old is not None else None
        metrics.append({"metric": name, "published": old, "proposed": new, "delta": delta})
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[r.change] += 1
    return {"rows": rows, "metrics": metrics, "counts": dict(counts)}


def dispatch_list(
    *, work_center: WorkCenter | None = None, unit: Unit | None = None
) -> list[ScheduleEntry]:
    """What to run next on a work center or unit, in order: the published schedule's entries
    on it that are not yet done (operations of released work orders, batches not completed,
    the cleanings between them)."""
    resource = work_center or unit
    if resource is None:
        return []
    site_id = resource.area.site_id
    published = schedule_published(site_id)
    if published is None:
        return []
    qs = schedule_entries(published).exclude(kind=EntryKind.UNAVAILABLE)
    qs = qs.filter(work_center=work_center) if work_center else qs.filter(unit=unit)
    out = []
    for e in qs:
        if e.operation_id and (
            e.operation.work_order.status != WorkOrderStatus.RELEASED
            or _operation_done(e.operation, e.operation.work_order.quantity)
        ):
            continue
        if e.batch_id and e.batch.status not in (BatchStatus.CREATED, BatchStatus.STARTED):
            continue
        out.append(e)
    return out
