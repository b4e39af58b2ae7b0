"""Reads of work orders: scoped lists, BOM explosion and where-used, WIP, variance."""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from equipment.models import Area
from equipment.selectors import areas_visible_to
from genealogy.models import Material
from workorders.choices import VersionStatus, WorkOrderStatus
from workorders.models import (
    Bom,
    BomLine,
    LaborRecord,
    MachineRecord,
    Routing,
    WorkOrder,
    WorkOrderOperation,
    WorkOrderUnit,
)

ZERO = Decimal(0)
HOURS = Decimal("0.0001")
MONEY = Decimal("0.01")


def _areas(actor: Any) -> QuerySet[Area]:
    return areas_visible_to(actor)


def work_order_list(*, actor: Any, status: str | None = None) -> QuerySet[WorkOrder]:
    qs = WorkOrder.objects.filter(area__in=_areas(actor)).select_related(
        "item", "area", "bom", "routing"
    )
    return qs.filter(status=status) if status else qs


def work_order_get(*, actor: Any, pk: int) -> WorkOrder:
    return (
        work_order_list(actor=actor)
        .prefetch_related(
            Prefetch(
                "operations",
                queryset=WorkOrderOperation.objects.select_related("work_center").order_by("seq"),
            )
        )
        .get(pk=pk)
    )


def operation_list(
    *, actor: Any, work_center_id: int | None = None, released_only: bool = True
) -> QuerySet[WorkOrderOperation]:
    qs = WorkOrderOperation.objects.filter(work_order__area__in=_areas(actor)).select_related(
        "work_order__item", "work_center"
    )
    if released_only:
        qs = qs.filter(work_order__status=WorkOrderStatus.RELEASED)
    if work_center_id:
        qs = qs.filter(work_center_id=work_center_id)
    return qs.order_by("work_order__due_date", "work_order__number", "seq")


def operation_get(*, actor: Any, pk: int) -> WorkOrderOperation:
    return (
        WorkOrderOperation.objects.filter(work_order__area__in=_areas(actor))
        .select_related("work_order__item", "work_order__bom", "work_center", "routing_operation")
        .get(pk=pk)
    )


def unit_get(*, actor: Any, pk: int) -> WorkOrderUnit:
    return (
        WorkOrderUnit.objects.filter(work_order__area__in=_areas(actor))
        .select_related("work_order", "operation", "lot")
        .get(pk=pk)
    )


def open_labor(*, operation: WorkOrderOperation) -> QuerySet[LaborRecord]:
    return LaborRecord.objects.filter(operation=operation, ended_at__isnull=True).select_related(
        "operator"
    )


def bom_list() -> QuerySet[Bom]:
    return Bom.objects.select_related("item", "created_by", "approved_by").prefetch_related(
        "lines__component"
    )


def routing_list() -> QuerySet[Routing]:
    return Routing.objects.select_related("item", "created_by", "approved_by").prefetch_related(
        "operations__work_center", "operations__characteristics"
    )


def bom_effective(item: Material, on: date | None = None) -> Bom | None:
    on = on or timezone.localdate()
    candidates = Bom.objects.filter(
        item=item, status=VersionStatus.APPROVED, effective_from__lte=on
    ).order_by("-version")
    for bom in candidates:
        if bom.is_effective(on):
            return bom
    return None


@dataclass
class ExplosionRow:
    level: int
    component: Material
    quantity_per: Decimal
    scrap_factor: Decimal
    quantity: Decimal  # for the requested quantity of the top item, scrap included
    operation_seq: int
    bom: Bom
    children: list["ExplosionRow"] = field(default_factory=list)


def bom_explode(
    bom: Bom, *, quantity: Decimal = Decimal(1), on: date | None = None, level: int = 1
) -> list[ExplosionRow]:
    """Multi-level explosion: each line's quantity for `quantity` of the BOM's item (scrap
    factor included); components that have an effective approved BOM are exploded too."""
    rows = []
    factor = quantity / bom.base_quantity
    for line in bom.lines.select_related("component").order_by("position"):
        needed = (line.quantity_per * (1 + line.scrap_factor) * factor).quantize(
            Decimal("0.000001")
        )
        row = ExplosionRow(
            level=level,
            component=line.component,
            quantity_per=line.quantity_per,
            scrap_factor=line.scrap_factor,
            quantity=needed,
            operation_seq=line.operation_seq,
            bom=bom,
        )
        child = bom_effective(line.component, on)
        if child is not None and level < 20:
            row.children = bom_explode(child, quantity=needed, on=on, level=level + 1)
        rows.append(row)
    return rows


def explosion_flat(rows: list[ExplosionRow]) -> list[ExplosionRow]:
    flat: list[ExplosionRow] = []
    for row in rows:
        flat.append(row)
        flat.extend(explosion_flat(row.children))
    return flat


def bom_where_used(component: Material, *, levels: int = 20) -> list[tuple[int, BomLine]]:
    """Every BOM line that uses `component`, then the lines using those parents (multi-level,
    current versions: drafts and approved, not superseded)."""
    found: list[tuple[int, BomLine]] = []
    frontier, seen = [component.pk], {component.pk}
    level = 1
    while frontier and level <= levels:
        lines = list(
            BomLine.objects.filter(component_id__in=frontier)
            .exclude(bom__status=VersionStatus.SUPERSEDED)
            .select_related("bom__item", "component")
            .order_by("bom__item__code", "bom__version")
        )
        found.extend((level, line) for line in lines)
        frontier = [line.bom.item_id for line in lines if line.bom.item_id not in seen]
        seen.update(frontier)
        level += 1
    return found


# --- variance --------------------------------------------------------------------------------


@dataclass
class VarianceRow:
    key: str
    label: str
    std_labor_hours: Decimal
    actual_labor_hours: Decimal
    std_machine_hours: Decimal
    actual_machine_hours: Decimal
    std_cost: Decimal
    actual_cost: Decimal
    good: Decimal = ZERO
    scrap: Decimal = ZERO

    @property
    def labor_variance_hours(self) -> Decimal:
        return self.actual_labor_hours - self.std_labor_hours

    @property
    def machine_variance_hours(self) -> Decimal:
        return self.actual_machine_hours - self.std_machine_hours

    @property
    def cost_variance(self) -> Decimal:
        return self.actual_cost - self.std_cost


def _dec(value: Any, q: Decimal = HOURS) -> Decimal:
    return Decimal(str(value or 0)).quantize(q)


def _std_sql(kind: str) -> str:
    """The standard hours of an operation in SQL: frozen at close, else earned so far."""
    hours = "((op.setup_minutes + op.run_minutes_per_unit * (op.qty_good + op.qty_scrap)) / 60.0)"
    if kind == "labor":
        earned = (
            f"(CASE WHEN op.time_basis IN ('labor', 'both') THEN {hours} * op.crew_size ELSE 0 END)"
        )
        return f"COALESCE(op.std_labor_hours, {earned})"
    earned = f"(CASE WHEN op.time_basis IN ('machine', 'both') THEN {hours} ELSE 0 END)"
    return f"COALESCE(op.std_machine_hours, {earned})"


GROUPS = ("item", "work_center", "period", "work_order", "operation")


def variance_report(
    *,
    group_by: str = "item",
    closed_from: datetime | None = None,
    closed_to: datetime | None = None,
    work_order_id: int | None = None,
    include_open: bool = False,
) -> list[VarianceRow]:
    """Actual vs standard labor and machine hours and cost, grouped by item, work center,
    period (month closed), work order or operation: ONE aggregated SQL query (the time
    records are summed per operation first, over the `seconds` column set at clock-off)."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {GROUPS}")
    wo_t, op_t = WorkOrder._meta.db_table, WorkOrderOperation._meta.db_table
    mat_t = Material._meta.db_table
    wc_t = WorkOrderOperation._meta.get_field("work_center").related_model._meta.db_table
    labor_t, machine_t = LaborRecord._meta.db_table, MachineRecord._meta.db_table
    if connection.vendor == "postgresql":
        month = "to_char(wo.closed_at AT TIME ZONE 'UTC', 'YYYY-MM')"
    else:
        month = "strftime('%%Y-%%m', wo.closed_at)"
    key, label = {
        "item": ("mat.code", "MAX(mat.name)"),
        "work_center": ("wc.code", "MAX(wc.name)"),
        "period": (f"COALESCE({month}, 'open')", f"COALESCE({month}, 'open')"),
        "work_order": ("wo.number", "MAX(mat.code)"),
        "operation": (
            "wo.number || '/op ' || CAST(op.seq AS VARCHAR(10))"
            if connection.vendor == "postgresql"
            else "wo.number || '/op ' || CAST(op.seq AS TEXT)",
            "MAX(op.name)",
        ),
    }[group_by]
    where, params = ["1=1"], []
    if not include_open:
        where.append("wo.status = %s")
        params.append(WorkOrderStatus.CLOSED.value)
    else:
        where.append("wo.status IN (%s, %s)")
        params += [WorkOrderStatus.RELEASED.value, WorkOrderStatus.CLOSED.value]
    if closed_from is not None:
        where.append("wo.closed_at >= %s")
        params.append(closed_from)
    if closed_to is not None:
        where.append("wo.closed_at < %s")
        params.append(closed_to)
    if work_order_id is not None:
        where.append("wo.id = %s")
        params.append(work_order_id)
    std_l, std_m = _std_sql("labor"), _std_sql("machine")
    sql = f"""
        SELECT {key} AS k, {label} AS lbl,
               SUM({std_l}) AS std_l, SUM(COALESCE(l.s, 0)) / 3600.0 AS act_l,
               SUM({std_m}) AS std_m, SUM(COALESCE(m.s, 0)) / 3600.0 AS act_m,
               SUM({std_l} * op.labor_rate + {std_m} * op.machine_rate) AS std_c,
               SUM(COALESCE(l.s, 0) / 3600.0 * op.labor_rate
                   + COALESCE(m.s, 0) / 3600.0 * op.machine_rate) AS act_c,
               SUM(CASE WHEN op.is_last THEN op.qty_good ELSE 0 END) AS good,
               SUM(op.qty_scrap) AS scrap
        FROM {op_t} op
        JOIN {wo_t} wo ON wo.id = op.work_order_id
        JOIN {mat_t} mat ON mat.id = wo.item_id
        JOIN {wc_t} wc ON wc.id = op.work_center_id
        LEFT JOIN (SELECT operation_id, SUM(seconds) AS s FROM {labor_t}
                   WHERE seconds IS NOT NULL GROUP BY operation_id) l ON l.operation_id = op.id
        LEFT JOIN (SELECT operation_id, SUM(seconds) AS s FROM {machine_t}
                   WHERE seconds IS NOT NULL GROUP BY operation_id) m ON m.operation_id = op.id
        WHERE {" AND ".join(where)}
        GROUP BY {key}
        ORDER BY {key}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        VarianceRow(
            key=str(k),
            label=str(lbl or ""),
            std_labor_hours=_dec(sl),
            actual_labor_hours=_dec(al),
            std_machine_hours=_dec(sm),
            actual_machine_hours=_dec(am),
            std_cost=_dec(sc, MONEY),
            actual_cost=_dec(ac, MONEY),
            good=_dec(good, Decimal("0.000001")),
            scrap=_dec(scrap, Decimal("0.000001")),
        )
        for k, lbl, sl, al, sm, am, sc, ac, good, scrap in rows
    ]


def work_order_variance(work_order: WorkOrder) -> list[VarianceRow]:
    """Per operation of one work order (open or closed)."""
    return variance_report(group_by="operation", work_order_id=work_order.pk, include_open=True)


def variance_chart(rows: list[VarianceRow], *, width: int = 640, bar: int = 14) -> dict:
    """Geometry of a simple SVG bar chart: standard vs actual hours (labor + machine)."""
    peak = max(
        [r.std_labor_hours + r.std_machine_hours for r in rows]
        + [r.actual_labor_hours + r.actual_machine_hours for r in rows]
        + [Decimal("0.0001")]
    )
    scale = Decimal(width - 200) / peak
    bars = []
    for index, r in enumerate(rows):
        y = 10 + index * (2 * bar + 12)
        std = r.std_labor_hours + r.std_machine_hours
        act = r.actual_labor_hours + r.actual_machine_hours
        bars.append(
            {
                "label": r.key,
                "y": y,
                "y2": y + bar,
                "ty": y + bar,
                "std_w": int(std * scale),
                "act_w": int(act * scale),
                "std": std,
                "act": act,
            }
        )
    return {"width": width, "height": 20 + len(rows) * (2 * bar + 12), "bars": bars, "bar": bar}
