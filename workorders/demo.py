"""The workorders part of the demo plant (registered in WorkordersConfig.ready, after
genealogy, equipment, quality, recipes and batches): the packaging and assembly line PK.

- items: the serialized finished product PS-RESIN-P20 (20 kg resin in a pail: make), the pail
  assembly PAIL-ASM-20 (make, lot-controlled), the bought pail PAIL-20, lid LID-20 and label
  LBL-P20, and the resin PS-RESIN from the process area (RX);
- a 3-level BOM: PS-RESIN-P20 ← PAIL-ASM-20 + 20 kg PS-RESIN; PAIL-ASM-20 ← PAIL-20 + LID-20
  + LBL-P20 (each approved by QA's signature);
- a 5-operation routing for the pail (prepare, fill, close and label, inspect with a pass/fail
  and a measured characteristic, pack) on the PK work centers, with labor and machine rates;
- WO-DEMO-0001 (pail assemblies, lot-made): executed and closed, its finished lot released;
- WO-DEMO-0002 (4 pails): closed, with labor, machine and downtime records (back-dated), one
  unit reworked (lid resealed) and one scrapped (fill weight);
- WO-DEMO-0003 (6 pails): in progress (the operator clocked on the filler, machine running);
- the mixed-mode rule: a released PS-RESIN lot → a work order for PS-RESIN-P20 on PK.

Everything goes through the services (the audit trail has it); time records are back-dated
with `at=`. Idempotent: each part looks up before it creates.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from equipment.models import Area, WorkCenter
from genealogy import services as genealogy
from genealogy.choices import LotStatus, MaterialKind, UnitOfMeasure
from genealogy.models import Lot, Material
from mes.accounts.roles import Role
from mes.esign.services import signer_for_system_command
from quality import services as quality
from quality.selectors import specification_approved_for
from workorders import services
from workorders.choices import (
    CharacteristicKind,
    ReasonKind,
    SerialIssue,
    TimeBasis,
    UnitStatus,
    VersionStatus,
)
from workorders.models import (
    Bom,
    HandoffRule,
    InspectionCharacteristic,
    ReasonCode,
    Routing,
    WorkCenterRate,
    WorkOrder,
    WorkOrderOperation,
    WorkOrderUnit,
)

AREA = "PK"
PRODUCT, ASSEMBLY, RESIN = "PS-RESIN-P20", "PAIL-ASM-20", "PS-RESIN"
ASSEMBLY_WO, CLOSED_WO, OPEN_WO = "WO-DEMO-0001", "WO-DEMO-0002", "WO-DEMO-0003"
SERIALS = "P20-{yy}{mm}-{seq:05d}"

MATERIALS = [
    # code, name, kind, uom, serialized
    (RESIN, "Polystyrene resin solution", MaterialKind.INTERMEDIATE, UnitOfMeasure.KILOGRAM, False),
    ("PAIL-20", "20 L steel pail with lid", MaterialKind.PACKAGING, UnitOfMeasure.EACH, False),
    ("LID-20", "Pail lid with gasket", MaterialKind.PACKAGING, UnitOfMeasure.EACH, False),
    ("LBL-P20", "Pail label PS-RESIN", MaterialKind.PACKAGING, UnitOfMeasure.EACH, False),
    (
        ASSEMBLY,
        "Pail assembly (pail, lid, label)",
        MaterialKind.INTERMEDIATE,
        UnitOfMeasure.EACH,
        False,
    ),
    (
        PRODUCT,
        "Polystyrene resin solution, 20 kg pail",
        MaterialKind.FINISHED,
        UnitOfMeasure.EACH,
        True,
    ),
]
RATES = {  # work center: labor, machine (per hour)
    "PK-ASM": ("42", "18"),
    "PK-FIL": ("45", "65"),
    "PK-LAB": ("40", "55"),
    "PK-INS": ("52", "0"),
    "PK-PCK": ("38", "12"),
}
REASONS = [
    (ReasonKind.SCRAP, "DENT", "Pail dented"),
    (ReasonKind.SCRAP, "WEIGHT", "Fill weight out of limits"),
    (ReasonKind.REWORK, "RESEAL", "Reseal the lid"),
    (ReasonKind.DOWNTIME, "JAM", "Filler nozzle jam"),
    (ReasonKind.DOWNTIME, "MATWAIT", "Waiting for material"),
    (ReasonKind.DOWNTIME, "CHANGE", "Changeover"),
]
BOUGHT = [("PAIL-20", "PAIL-WO-DEMO", "60"), ("LID-20", "LID-WO-DEMO", "60")]
BOUGHT += [("LBL-P20", "LBL-WO-DEMO", "200")]


def _pail_routing(centers: dict[str, WorkCenter]) -> list[dict[str, Any]]:
    return [
        {
            "seq": 10,
            "name": "Prepare pail assembly",
            "work_center": centers["PK-ASM"],
            "setup_minutes": "15",
            "run_minutes_per_unit": "1.5",
            "time_basis": TimeBasis.LABOR,
            "crew_size": 1,
        },
        {
            "seq": 20,
            "name": "Fill 20 kg",
            "work_center": centers["PK-FIL"],
            "alternative_work_centers": [centers["PK-ASM"]],
            "setup_minutes": "20",
            "run_minutes_per_unit": "2",
            "time_basis": TimeBasis.BOTH,
            "crew_size": 1,
        },
        {
            "seq": 30,
            "name": "Close lid and label",
            "work_center": centers["PK-LAB"],
            "setup_minutes": "10",
            "run_minutes_per_unit": "0.5",
            "time_basis": TimeBasis.MACHINE,
            "crew_size": 1,
        },
        {
            "seq": 40,
            "name": "Inspect",
            "work_center": centers["PK-INS"],
            "setup_minutes": "0",
            "run_minutes_per_unit": "1.5",
            "time_basis": TimeBasis.LABOR,
            "crew_size": 1,
            "characteristics": [
                {"name": "Lid seal intact", "kind": CharacteristicKind.PASS_FAIL},
                {
                    "name": "Fill weight",
                    "kind": CharacteristicKind.MEASURED,
                    "lower_limit": "19.9",
                    "upper_limit": "20.3",
                    "unit": "kg",
                    "spc_key": "p20-fill-weight",
                },
            ],
        },
        {
            "seq": 50,
            "name": "Pack and palletise",
            "work_center": centers["PK-PCK"],
            "setup_minutes": "5",
            "run_minutes_per_unit": "1",
            "time_basis": TimeBasis.BOTH,
            "crew_size": 1,
        },
    ]


def _assembly_routing(centers: dict[str, WorkCenter]) -> list[dict[str, Any]]:
    return [
        {
            "seq": 10,
            "name": "Fit lid and label",
            "work_center": centers["PK-ASM"],
            "setup_minutes": "10",
            "run_minutes_per_unit": "1",
            "time_basis": TimeBasis.LABOR,
            "crew_size": 1,
        },
        {
            "seq": 20,
            "name": "Check assembly",
            "work_center": centers["PK-INS"],
            "setup_minutes": "0",
            "run_minutes_per_unit": "0.5",
            "time_basis": TimeBasis.LABOR,
            "crew_size": 1,
        },
    ]


def _materials(ctx: Any) -> dict[str, Material]:
    found = {}
    for code, name, kind, uom, serialized in MATERIALS:
        material = Material.objects.filter(code=code).first()
        if material is None:
            material = genealogy.material_create(
                actor=ctx.actor, code=code, name=name, kind=kind, uom=uom, is_serialized=serialized
            )
            ctx.created(f"material {code}")
        found[code] = material
    return found


def _master_data(ctx: Any, centers: dict[str, WorkCenter]) -> dict[str, ReasonCode]:
    planner = ctx.user(Role.PLANNER)
    for code, (labor, machine) in RATES.items():
        if code in centers and not WorkCenterRate.objects.filter(work_center=centers[code]):
            services.work_center_rate_set(
                actor=planner, work_center=centers[code], labor_rate=labor, machine_rate=machine
            )
            ctx.created(f"rates of {code}: labor {labor}/h, machine {machine}/h")
    reasons = {}
    for kind, code, name in REASONS:
        reason = ReasonCode.objects.filter(kind=kind, code=code).first()
        if reason is None:
            reason = services.reason_code_create(actor=planner, kind=kind, code=code, name=name)
            ctx.created(f"{kind} reason {code}")
        reasons[code] = reason
    return reasons


def _versions(
    ctx: Any, item: Material, lines: list[dict[str, Any]], operations: list[dict[str, Any]]
) -> None:
    planner, qa = ctx.user(Role.PLANNER), ctx.user(Role.QA_REVIEWER)
    start = timezone.localdate() - timedelta(days=30)
    if not Bom.objects.filter(item=item, status=VersionStatus.APPROVED).exists():
        bom = services.bom_create(
            actor=planner, item=item, effective_from=start, lines=lines, description="demo"
        )
        services.bom_approve(
            actor=qa, bom=bom, signer=signer_for_system_command(user=qa), reason="demo"
        )
        ctx.created(f"{bom} approved (signed by {qa.username})")
    if not Routing.objects.filter(item=item, status=VersionStatus.APPROVED).exists():
        routing = services.routing_create(
            actor=planner, item=item, effective_from=start, operations=operations
        )
        services.routing_approve(
            actor=qa, routing=routing, signer=signer_for_system_command(user=qa), reason="demo"
        )
        ctx.created(f"{routing} with {len(operations)} operations approved")


def _released_lot(ctx: Any, lot: Lot) -> Lot:
    """QA's release of `lot` (an approved specification with one identity test is made
    where missing)."""
    qa = ctx.user(Role.QA_REVIEWER)
    spec = specification_approved_for(lot.material)
    if spec is None:
        spec = quality.specification_create(
            actor=ctx.actor,
            material=lot.material,
            title=f"{lot.material.code} release specification (demo)",
            tests=({"name": "Visual check", "method": "Visual", "kind": "pass_fail"},),
            sample_count=1,
        )
        spec = quality.specification_approve(
            actor=qa, specification=spec, signer=signer_for_system_command(user=qa)
        )
        ctx.created(f"specification {spec} approved")
    for test in spec.tests.all():
        value = "pass" if test.kind == "pass_fail" else str(test.low if test.low else test.high)
        quality.lab_result_enter(actor=qa, lot=lot, spec_test=test, value=value)
    quality.lot_release(
        actor=qa, lot=lot, signer=signer_for_system_command(user=qa), reason="demo: passing"
    )
    return Lot.objects.get(pk=lot.pk)


def _bought_lots(ctx: Any, materials: dict[str, Material], at: datetime) -> dict[str, Lot]:
    lots = {}
    for code, number, qty in BOUGHT:
        lot = Lot.objects.filter(material=materials[code], lot_number=number).first()
        if lot is None:
            lot = genealogy.lot_receive(
                actor=ctx.user(Role.OPERATOR),
                material=materials[code],
                lot_number=number,
                quantity=Decimal(qty),
                supplier="Mauser Packaging",
                supplier_lot_number=f"SUP-{number}",
                occurred_at=at,
            )
            genealogy.lot_set_status(
                actor=ctx.user(Role.QA_REVIEWER),
                lot=lot,
                status=LotStatus.RELEASED,
                reason="demo: incoming inspection passed",
            )
            ctx.created(f"lot {number} of {code} received and released")
        lots[code] = lot
    return lots


class _Clock:
    """Back-dated times for the time records, moving forward only."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self, minutes: float = 0) -> datetime:
        self.now += timedelta(minutes=minutes)
        return self.now


def _op(wo: WorkOrder, seq: int) -> WorkOrderOperation:
    return WorkOrderOperation.objects.get(work_order=wo, seq=seq)


def _create(ctx: Any, item: Material, quantity: int, number: str, days: int) -> WorkOrder:
    planner = ctx.user(Role.PLANNER)
    wo = services.work_order_create(
        actor=planner,
        item=item,
        quantity=quantity,
        due_date=timezone.localdate() + timedelta(days=days),
        number=number,
        serial_pattern=SERIALS if item.is_serialized else "",
        serial_issue=SerialIssue.AT_RELEASE,
    )
    return services.work_order_release(actor=planner, work_order=wo)


def _assembly_order(
    ctx: Any, materials: dict[str, Material], reasons: dict[str, ReasonCode]
) -> Lot:
    """WO-DEMO-0001: 20 pail assemblies, one scrapped (dented); closed; lot released."""
    existing = WorkOrder.objects.filter(number=ASSEMBLY_WO).first()
    if existing is not None:
        return existing.finished_lot  # type: ignore[return-value]
    operator = ctx.user(Role.OPERATOR)
    clock = _Clock(timezone.now() - timedelta(days=3))
    lots = _bought_lots(ctx, materials, clock(-60))
    wo = _create(ctx, materials[ASSEMBLY], 20, ASSEMBLY_WO, -2)
    first, check = _op(wo, 10), _op(wo, 20)
    services.labor_clock_on(actor=operator, operation=first, at=clock(5))
    for code in ("PAIL-20", "LID-20", "LBL-P20"):
        services.operation_consume(
            actor=operator, operation=first, code=lots[code].lot_number, quantity=20
        )
    services.operation_pause(
        actor=operator, operation=first, reason_code=reasons["MATWAIT"], at=clock(12)
    )
    services.operation_resume(actor=operator, operation=first, at=clock(9), restart_machine=False)
    services.operation_report(
        actor=operator,
        operation=first,
        good=19,
        scrap=1,
        scrap_reason=reasons["DENT"],
        note="dented on the rim",
    )
    services.labor_clock_on(actor=operator, operation=check, at=clock(22))  # switches
    services.operation_report(actor=operator, operation=check, good=19)
    services.labor_clock_off(actor=operator, operation=check, at=clock(11))
    wo = services.work_order_close(actor=ctx.user(Role.PLANNER), work_order=wo)
    ctx.created(f"{ASSEMBLY_WO}: 20 pail assemblies, 19 good, 1 scrapped; closed")
    lot = _released_lot(ctx, wo.finished_lot)  # type: ignore[arg-type]
    ctx.created(f"lot {lot.lot_number} of {ASSEMBLY} released")
    return lot


def _inspect(
    operator: Any, unit: WorkOrderUnit, op: WorkOrderOperation, seal: str, weight: str
) -> None:
    chars = {
        c.name: c.pk
        for c in InspectionCharacteristic.objects.filter(operation_id=op.routing_operation_id)
    }
    services.unit_inspect(
        actor=operator,
        unit=unit,
        results={chars["Lid seal intact"]: seal, chars["Fill weight"]: weight},
    )


def _run_unit_step(
    ctx: Any,
    unit: WorkOrderUnit,
    op: WorkOrderOperation,
    codes: dict[int, str],
    reasons: dict[str, ReasonCode],
    fate: str = "good",
) -> None:
    operator = ctx.user(Role.OPERATOR)
    if op.seq in codes:
        services.unit_scan_component(actor=operator, unit=unit, code=codes[op.seq])
    if op.seq == 40:
        if fate == "rework":
            _inspect(operator, unit, op, "fail", "20.1")
            services.unit_send_to_rework(
                actor=operator, unit=unit, reason_code=reasons["RESEAL"], note="lid not seated"
            )
            services.unit_return_from_rework(actor=operator, unit=unit)
        if fate == "scrap":
            _inspect(operator, unit, op, "pass", "19.6")
            services.unit_scrap(
                actor=operator, unit=unit, reason_code=reasons["WEIGHT"], note="19.6 kg"
            )
            return
        _inspect(operator, unit, op, "pass", "20.1")
    services.unit_complete_operation(actor=operator, unit=unit)


def _pail_orders(
    ctx: Any, materials: dict[str, Material], reasons: dict[str, ReasonCode], assemblies: Lot
) -> None:
    if WorkOrder.objects.filter(number=CLOSED_WO).exists():
        return
    resin = (
        Lot.objects.filter(
            material=materials[RESIN], status=LotStatus.RELEASED, quantity__gte=Decimal(200)
        )
        .order_by("-quantity", "id")
        .first()
    )
    if resin is None or assemblies is None:
        ctx.write(f"  (workorders: needs a released {RESIN} lot of 200 kg; pail orders skipped)")
        return
    operator, supervisor = ctx.user(Role.OPERATOR), ctx.user(Role.SUPERVISOR)
    codes = {10: assemblies.lot_number, 20: resin.lot_number}

    # WO-DEMO-0002: closed, every time record back-dated
    clock = _Clock(timezone.now() - timedelta(days=2))
    wo = _create(ctx, materials[PRODUCT], 4, CLOSED_WO, -1)
    fates = ["good", "good", "rework", "scrap"]
    for seq in (10, 20, 30, 40, 50):
        op = _op(wo, seq)
        services.labor_clock_on(actor=operator, operation=op, at=clock(5))
        if op.time_basis != TimeBasis.LABOR:
            services.machine_start(actor=operator, operation=op, at=clock(2))
        if seq == 20:
            services.labor_clock_on(actor=supervisor, operation=op, at=clock(1))
            services.operation_pause(
                actor=operator, operation=op, reason_code=reasons["JAM"], at=clock(6)
            )
            services.operation_resume(actor=operator, operation=op, at=clock(14))
        units = WorkOrderUnit.objects.filter(operation=op, status=UnitStatus.IN_PROCESS)
        for index, unit in enumerate(units.order_by("serial_number")):
            _run_unit_step(ctx, unit, op, codes, reasons, fates[index] if seq == 40 else "good")
        if seq == 20:
            services.labor_clock_off(actor=supervisor, operation=op, at=clock(9))
        if op.time_basis != TimeBasis.LABOR:
            services.machine_stop(actor=operator, operation=op, at=clock(8))
        services.labor_clock_off(actor=operator, operation=op, at=clock(3))
    services.work_order_close(actor=ctx.user(Role.PLANNER), work_order=wo)
    ctx.created(f"{CLOSED_WO}: 4 pails, 1 reworked (resealed), 1 scrapped (weight); closed")

    # WO-DEMO-0003: in progress
    clock = _Clock(timezone.now() - timedelta(hours=2))
    wo = _create(ctx, materials[PRODUCT], 6, OPEN_WO, 1)
    first, fill = _op(wo, 10), _op(wo, 20)
    services.labor_clock_on(actor=operator, operation=first, at=clock(0))
    for unit in wo.units.order_by("serial_number")[:4]:
        _run_unit_step(ctx, unit, first, codes, reasons)
    services.labor_clock_on(actor=operator, operation=fill, at=clock(35))
    services.machine_start(actor=operator, operation=fill, at=clock(3))
    for unit in WorkOrderUnit.objects.filter(operation=fill).order_by("serial_number")[:2]:
        _run_unit_step(ctx, unit, fill, codes, reasons)
    ctx.created(f"{OPEN_WO}: 6 pails in progress (filler running, operator clocked on)")


def _handoff_rule(ctx: Any, materials: dict[str, Material], area: Area) -> None:
    if HandoffRule.objects.filter(material=materials[RESIN], item=materials[PRODUCT]).exists():
        return
    rule = services.handoff_rule_create(
        actor=ctx.user(Role.PLANNER),
        material=materials[RESIN],
        item=materials[PRODUCT],
        area=area,
        serial_pattern=SERIALS,
        note="Released resin is filled into 20 kg pails on line PK.",
    )
    ctx.created(f"handoff rule {rule}")


def build_demo_workorders(ctx: Any) -> None:
    area = Area.objects.filter(code=AREA).first()
    centers = {c.code: c for c in WorkCenter.objects.filter(area=area)} if area else {}
    if area is None or not all(code in centers for code in RATES):
        ctx.write(f"  (workorders: needs area {AREA} with {', '.join(RATES)}; skipped)")
        return
    materials = _materials(ctx)
    reasons = _master_data(ctx, centers)
    _versions(
        ctx,
        materials[ASSEMBLY],
        [
            {"component": materials["PAIL-20"], "quantity_per": "1", "operation_seq": 10},
            {"component": materials["LID-20"], "quantity_per": "1", "operation_seq": 10},
            {
                "component": materials["LBL-P20"],
                "quantity_per": "1",
                "scrap_factor": "0.02",
                "operation_seq": 10,
            },
        ],
        _assembly_routing(centers),
    )
    _versions(
        ctx,
        materials[PRODUCT],
        [
            {"component": materials[ASSEMBLY], "quantity_per": "1", "operation_seq": 10},
            {
                "component": materials[RESIN],
                "quantity_per": "20",
                "scrap_factor": "0.01",
                "operation_seq": 20,
            },
        ],
        _pail_routing(centers),
    )
    assemblies = _assembly_order(ctx, materials, reasons)
    _pail_orders(ctx, materials, reasons, assemblies)
    _handoff_rule(ctx, materials, area)
