"""The equipment part of the demo plant (registered as a demo step in EquipmentConfig.ready).

Resin area RX: process cell RX-C1 with reactors R-101 (4000 L, glass-lined) and R-102
(2500 L, stainless) and thinning tank T-201; packaging line PK: work centers filler,
labeller, assembly, inspection, packing. Scales and probes with calibration history (TT-101
due soon, PH-102 overdue, so R-102 is flagged), cleaning history, cleaning rules, preventive
maintenance plans and open maintenance work orders. Idempotent: what exists is left alone.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from equipment import services
from equipment.choices import CleaningType, InstrumentKind, MaintenanceTrigger
from equipment.models import (
    Area,
    Capability,
    CleaningRule,
    EquipmentClass,
    Instrument,
    MaintenancePlan,
    MaintenanceWorkOrder,
    ProcessCell,
    Unit,
    WorkCenter,
)
from mes.accounts.roles import Role

CLASSES = {
    "reactor": "Stirred batch reactor",
    "thinning tank": "Thinning / let-down tank",
    "filler": "Container filler",
    "labeller": "Labeller",
    "assembly": "Assembly station",
    "inspection": "Inspection station (check-weigher, vision)",
    "packer": "Case packer",
}
CAPABILITIES = {
    "glass-lined": "Glass-lined",
    "stainless": "Stainless steel 316L",
    "jacketed": "Heating/cooling jacket",
    "agitated": "Agitator",
}
PROCESS_UNITS = [
    # code, name, class, volume L, capabilities
    ("R-101", "Reactor 101", "reactor", "4000", ["glass-lined", "jacketed", "agitated"]),
    ("R-102", "Reactor 102", "reactor", "2500", ["stainless", "jacketed", "agitated"]),
    ("T-201", "Thinning tank 201", "thinning tank", "6000", ["stainless", "agitated"]),
]
WORK_CENTERS = [
    # code, name, capacity/h, unit code, unit class
    ("PK-FIL", "Filling", "1200", "FIL-01", "filler"),
    ("PK-LAB", "Labelling", "1500", "LAB-01", "labeller"),
    ("PK-ASM", "Assembly", "600", "ASM-01", "assembly"),
    ("PK-INS", "Inspection", "1500", "INS-01", "inspection"),
    ("PK-PCK", "Packing", "100", "PCK-01", "packer"),
]


def build_demo_equipment(ctx: Any) -> None:
    """The demo step: `ctx` is a mes.registry.DemoContext."""
    now = timezone.now()
    rx, pk = (
        _area(ctx, "RX", "Resin reactor area", "process"),
        _area(ctx, "PK", "Packaging and assembly line", "discrete"),
    )
    classes = {name: _equipment_class(ctx, name, text) for name, text in CLASSES.items()}
    caps = {code: _capability(ctx, code, name) for code, name in CAPABILITIES.items()}

    cell = ProcessCell.objects.filter(area=rx, code="RX-C1").first()
    if cell is None:
        cell = ProcessCell(area=rx, code="RX-C1", name="Resin cell 1")
        _save(cell, "demo plant")
        ctx.created(f"process cell {cell}")

    new_units: dict[str, Unit] = {}
    for code, name, cls, volume, unit_caps in PROCESS_UNITS:
        unit, created = _unit(ctx, code, name, rx, classes[cls], Decimal(volume), process_cell=cell)
        if created:
            unit.capabilities.set([caps[c] for c in unit_caps])
            new_units[code] = unit
    for wc_code, wc_name, capacity, unit_code, cls in WORK_CENTERS:
        center = WorkCenter.objects.filter(area=pk, code=wc_code).first()
        if center is None:
            center = WorkCenter(
                area=pk, code=wc_code, name=wc_name, capacity_per_hour=Decimal(capacity)
            )
            _save(center, "demo plant")
            ctx.created(f"work center {center}")
        unit, created = _unit(
            ctx, unit_code, f"{wc_name} machine", pk, classes[cls], None, work_center=center
        )
        if created:
            new_units[unit_code] = unit

    _cleaning_rule(ctx, classes["reactor"], clean_hold=72, dirty_hold=24)
    _cleaning_rule(ctx, classes["thinning tank"], clean_hold=168, dirty_hold=48)
    _cleaning_rule(ctx, classes["filler"], clean_hold=120, dirty_hold=24)

    if new_units:
        _history(ctx, new_units, now)
    _instruments(ctx, rx, pk, now)
    _maintenance(ctx, now)


# --- building blocks -------------------------------------------------------------------------


def _save(obj: Any, reason: str) -> None:
    obj._change_reason = reason
    obj.full_clean()
    obj.save()


def _area(ctx: Any, code: str, name: str, kind: str) -> Area:
    area = ctx.areas.get(code) or Area.objects.filter(site=ctx.site, code=code).first()
    if area is None:
        area = Area(site=ctx.site, code=code, name=name, kind=kind)
        _save(area, "demo plant")
        ctx.created(f"area {area}")
    ctx.areas[code] = area
    return area


def _equipment_class(ctx: Any, name: str, description: str) -> EquipmentClass:
    found = EquipmentClass.objects.filter(name=name).first()
    if found is None:
        found = EquipmentClass(name=name, description=description)
        _save(found, "demo plant")
        ctx.created(f"equipment class {name}")
    return found


def _capability(ctx: Any, code: str, name: str) -> Capability:
    found = Capability.objects.filter(code=code).first()
    if found is None:
        found = Capability(code=code, name=name)
        _save(found, "demo plant")
        ctx.created(f"capability {code}")
    return found


def _unit(
    ctx: Any,
    code: str,
    name: str,
    area: Area,
    equipment_class: EquipmentClass,
    volume: Decimal | None,
    **placement: Any,
) -> tuple[Unit, bool]:
    found = Unit.objects.filter(code=code).first()
    if found is not None:
        return found, False
    unit = Unit(
        code=code,
        name=name,
        area=area,
        equipment_class=equipment_class,
        working_volume_l=volume,
        **placement,
    )
    _save(unit, "demo plant")
    ctx.created(f"unit {unit}")
    return unit, True


def _cleaning_rule(
    ctx: Any, equipment_class: EquipmentClass, *, clean_hold: int, dirty_hold: int
) -> None:
    if CleaningRule.objects.filter(
        equipment_class=equipment_class, product_code="", is_active=True
    ).exists():
        return
    rule = CleaningRule(
        equipment_class=equipment_class,
        clean_hold_hours=clean_hold,
        dirty_hold_hours=dirty_hold,
    )
    _save(rule, "demo plant")
    ctx.created(f"cleaning rule {rule}: clean hold {clean_hold} h, dirty hold {dirty_hold} h")


# --- history ---------------------------------------------------------------------------------


def _use(ctx: Any, unit: Unit, batch: str, product: str, start: datetime, end: datetime) -> None:
    operator = ctx.user(Role.OPERATOR.value)
    services.unit_start_use(
        actor=operator, unit=unit, batch_ref=batch, product_code=product, at=start
    )
    if end is not None:
        services.unit_end_use(actor=operator, unit=unit, batch_ref=batch, at=end)
        hours = Decimal((end - start).total_seconds() / 3600).quantize(Decimal("0.01"))
        services.unit_record_usage(actor=operator, unit=unit, hours=hours, batches=1, ref=batch)


def _clean(ctx: Any, unit: Unit, kind: str, at: datetime, verify_after: timedelta) -> None:
    services.unit_record_cleaning(
        actor=ctx.user(Role.OPERATOR.value),
        unit=unit,
        cleaning_type=kind,
        at=at,
        note="CIP cycle per SOP-CL-010" if kind == CleaningType.MAJOR else "rinse",
    )
    services.unit_verify_cleaning(
        actor=ctx.user(Role.SUPERVISOR.value), unit=unit, at=at + verify_after, note="visual OK"
    )


def _history(ctx: Any, units: dict[str, Unit], now: datetime) -> None:
    """Cleaning and use history of the units created in this run."""
    h = timedelta(hours=1)
    r101 = units.get("R-101")
    if r101 is not None:
        _clean(ctx, r101, CleaningType.MAJOR, now - 130 * h, h)
        _use(ctx, r101, "RB-24001", "RES-100", now - 120 * h, now - 110 * h)
        _clean(ctx, r101, CleaningType.MINOR, now - 106 * h, h)
        _use(ctx, r101, "RB-24002", "RES-100", now - 50 * h, now - 40 * h)
        _clean(ctx, r101, CleaningType.MINOR, now - 20 * h, h)
        ctx.created("R-101 logbook: 2 batches of RES-100, 3 cleanings (clean, verified)")
    r102 = units.get("R-102")
    if r102 is not None:
        _clean(ctx, r102, CleaningType.MAJOR, now - 60 * h, 2 * h)
        _use(ctx, r102, "RB-24003", "RES-200", now - 30 * h, now - 10 * h)
        ctx.created("R-102 logbook: batch RB-24003 of RES-200 (dirty since 10 h)")
    t201 = units.get("T-201")
    if t201 is not None:
        _clean(ctx, t201, CleaningType.MAJOR, now - 72 * h, h)
        ctx.created("T-201 logbook: major cleaning (clean, verified)")
    for code in ("FIL-01", "LAB-01", "ASM-01", "INS-01", "PCK-01"):
        unit = units.get(code)
        if unit is not None:
            _clean(ctx, unit, CleaningType.MAJOR, now - 30 * h, h)
            ctx.created(f"{code} logbook: line clearance cleaning (verified)")


def _instruments(ctx: Any, rx: Area, pk: Area, now: datetime) -> None:
    day = timedelta(days=1)
    specs = [
        # code, name, kind, area, unit, uom, tolerance, interval, calibrations (days ago)
        ("WS-101", "Floor scale 1500 kg", InstrumentKind.SCALE, rx, None, "kg", "0.5", 180, [200, 20]),
        ("TT-101", "R-101 temperature probe", InstrumentKind.TEMPERATURE_PROBE, rx, "R-101", "°C", "0.5", 90, [170, 80]),
        ("TT-102", "R-102 temperature probe", InstrumentKind.TEMPERATURE_PROBE, rx, "R-102", "°C", "0.5", 90, [30]),
        ("PH-102", "R-102 pH probe", InstrumentKind.PH_PROBE, rx, "R-102", "pH", "0.05", 30, [70, 40]),
        ("CW-301", "Check-weigher", InstrumentKind.SCALE, pk, "INS-01", "g", "0.2", 90, [15]),
    ]  # fmt: skip
    maintenance = ctx.user(Role.MAINTENANCE.value)
    for code, name, kind, area, unit_code, uom, tol, interval, ago in specs:
        if Instrument.objects.filter(code=code).exists():
            continue
        instrument = Instrument(
            code=code,
            name=name,
            kind=kind,
            area=area,
            unit=Unit.objects.get(code=unit_code) if unit_code else None,
            uom=uom,
            tolerance=Decimal(tol),
            calibration_interval_days=interval,
        )
        _save(instrument, "demo plant")
        reference = Decimal("25.00") if uom == "°C" else Decimal("7.00")
        if uom in ("kg", "g"):
            reference = Decimal("500.0")
        for n, days in enumerate(ago):
            # The first calibration of TT-101 found it out of tolerance and adjusted it.
            found = reference + (Decimal(tol) * 2 if code == "TT-101" and n == 0 else 0)
            services.instrument_record_calibration(
                actor=maintenance,
                instrument=instrument,
                performed_at=now - days * day,
                reference_value=reference,
                as_found_value=found,
                as_left_value=reference,
                certificate_ref=f"CAL-{code}-{n + 1:03d}",
            )
        ctx.created(f"instrument {code} with {len(ago)} calibration(s)")


def _maintenance(ctx: Any, now: datetime) -> None:
    admin = ctx.actor
    plans = [
        # code, name, unit, trigger, interval, starts (days ago)
        ("PM-R101-SEAL", "Agitator seal inspection", "R-101", MaintenanceTrigger.CALENDAR, 90, 95),
        ("PM-R102-GASKET", "Manway gasket replacement", "R-102", MaintenanceTrigger.BATCHES, 20, 0),
        ("PM-FIL01-NOZZLE", "Filler nozzle overhaul", "FIL-01", MaintenanceTrigger.HOURS, 500, 0),
    ]
    for code, name, unit_code, trigger, interval, ago in plans:
        if MaintenancePlan.objects.filter(code=code).exists():
            continue
        services.maintenance_plan_create(
            actor=admin,
            unit=Unit.objects.get(code=unit_code),
            code=code,
            name=name,
            trigger=trigger,
            interval_days=interval if trigger == MaintenanceTrigger.CALENDAR else None,
            interval_batches=interval if trigger == MaintenanceTrigger.BATCHES else None,
            interval_hours=interval if trigger == MaintenanceTrigger.HOURS else None,
            starts_at=now - timedelta(days=ago),
            task_description=f"{name} per SOP-MT-{unit_code}",
        )
        ctx.created(f"maintenance plan {code} ({trigger}, every {interval})")
    for order in services.maintenance_plans_generate_due(actor=admin, at=now):
        ctx.created(f"maintenance work order {order.number} from plan {order.plan.code}")
    lab = Unit.objects.get(code="LAB-01")
    if not MaintenanceWorkOrder.objects.filter(unit=lab, plan__isnull=True).exists():
        order = services.maintenance_work_order_create(
            actor=ctx.user(Role.MAINTENANCE.value),
            unit=lab,
            title="Label presence sensor misreads on glossy labels",
            description="Reported by the line; adjust or replace the sensor.",
        )
        ctx.created(f"maintenance work order {order.number} (corrective, {lab.code})")
