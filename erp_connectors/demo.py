"""The ERP part of the demo plant (registered in ErpConnectorsConfig.ready, order 800: after
batches, workorders and scheduling, before the self-audit): the whole mixed-mode chain against
the SAP S/4HANA simulator, run in this process for the duration of the step.

SAP process order 1000101 (2000 kg PS-RESIN on recipe RESIN-PA) and discrete order 1000102
(PS-RESIN-P20 pails) are pulled → a batch order and a waiting link → the batch runs in the
new reactor R-103 (cleaned, every phase, yield, completed) → QA releases it with its lot →
the handoff rule PS-RESIN → PS-RESIN-P20 makes the packaging work order with the lot
reserved, linked to SAP's order 1000102 → every pail runs through the five operations (the
pail-assembly lot and the resin lot scanned) → closed → the outbox is drained against the
simulator until every message is delivered, and SAP's read-back figures are printed.

Afterwards the connection SAP-DEMO is left *inactive* (its simulator URL is dead once the step
ends): beat neither pulls nor delivers nor reconciles it. Idempotent: when SAP-DEMO has ERP
order links, nothing changes. Any failure raises (load_demo rolls the whole demo back).
"""

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from batches import demo as batches_demo
from batches import services as batch_services
from batches.models import BatchOrder
from equipment import demo as equipment_demo
from equipment.models import Unit
from erp_connectors import outbox, services
from erp_connectors.inbound import erp_user, orders_pull
from erp_connectors.models import ErpConnection, ErpOrderLink, OutboxMessage
from erp_connectors.simulators import start_simulator
from genealogy import services as genealogy_services
from genealogy.choices import LotStatus
from genealogy.models import Lot, Material
from mes.accounts.roles import Role
from mes.audit.context import acting_as
from mes.esign.services import signer_for_system_command
from recipes.models import MasterRecipe
from recipes.selectors import recipe_version_current_approved
from workorders import demo as workorders_demo
from workorders import services as wo_services
from workorders.choices import TimeBasis, UnitStatus, VersionStatus
from workorders.models import Bom, HandoffRule, WorkOrder, WorkOrderUnit

CONNECTION = "SAP-DEMO"
CREDENTIALS_REF = "sap-demo"
PROCESS_ORDER, PACKAGING_ORDER = "1000101", "1000102"
RECIPE, RESIN, PRODUCT, ASSEMBLY = "RESIN-PA", "PS-RESIN", "PS-RESIN-P20", "PAIL-ASM-20"
BATCH_SIZE = Decimal("2000")  # RESIN-PA runs 2000-4000 kg
YIELD_FACTOR = Decimal("0.98")
REACTOR, TWIN = "R-103", "R-101"  # R-101 runs B-DEMO-0002, R-102's pH probe is overdue
PAIL_OPERATIONS = ("0010", "0020", "0030", "0040", "0050")
PAIL_CENTERS = ("PK-ASM", "PK-FIL", "PK-LAB", "PK-INS", "PK-PCK")
BOUGHT = ("PAIL-20", "LID-20", "LBL-P20")


class ErpDemoError(RuntimeError):
    """The chain broke: load_demo rolls everything back."""


def _prerequisites() -> dict[str, Any] | None:
    recipe = MasterRecipe.objects.filter(code=RECIPE).first()
    version = recipe_version_current_approved(recipe) if recipe else None
    materials = {m.code: m for m in Material.objects.filter(code__in=(RESIN, PRODUCT, ASSEMBLY))}
    twin = Unit.objects.filter(code=TWIN).first()
    rule = HandoffRule.objects.filter(
        material__code=RESIN, item__code=PRODUCT, is_active=True
    ).first()
    if version is None or len(materials) < 3 or twin is None or rule is None:
        return None
    return {"version": version, "materials": materials, "twin": twin, "rule": rule}


def _reactor(ctx: Any, twin: Unit) -> Unit:
    """R-103, a twin of R-101 (same class, capabilities and cell), for the ERP's batch."""
    unit, created = equipment_demo._unit(
        ctx,
        REACTOR,
        "Reactor 103",
        twin.area,
        twin.equipment_class,
        twin.working_volume_l,
        process_cell=twin.process_cell,
    )
    if created:
        unit.capabilities.set(twin.capabilities.all())
    return unit


def _connection(ctx: Any, url: str) -> ErpConnection:
    conn = services.connection_create(
        actor=ctx.user(Role.ADMINISTRATOR),
        site=ctx.site,
        code=CONNECTION,
        name="SAP S/4HANA (simulator, demo)",
        kind="sap",
        base_url=url,
        credentials_ref=CREDENTIALS_REF,
        mapping={"plant": "1010", "uoms": {"kg": "KG", "ea": "EA"}},
        pull_enabled=False,
    )
    ctx.created(f"ERP connection {CONNECTION} (SAP simulator)")
    return conn


def _seed(sim: Any, pails: int) -> None:
    sim.seed(
        {
            "id": PROCESS_ORDER,
            "kind": "process",
            "material": RESIN,
            "recipe": RECIPE,
            "quantity": str(BATCH_SIZE),
            "uom": "KG",
            "expected_yield_pct": "98",
        },
        {
            "id": PACKAGING_ORDER,
            "kind": "discrete",
            "material": PRODUCT,
            "quantity": str(pails),
            "uom": "EA",
            "operations": [
                {"operation": op, "work_center": wc}
                for op, wc in zip(PAIL_OPERATIONS, PAIL_CENTERS, strict=True)
            ],
        },
    )


def _pull(ctx: Any, conn: ErpConnection) -> tuple[BatchOrder, ErpOrderLink]:
    results = orders_pull(connection=conn, actor=erp_user())
    outcomes = sorted((r.erp_order_id, r.outcome, r.reason) for r in results)
    if [(o[0], o[1]) for o in outcomes] != [
        (PROCESS_ORDER, "created"),
        (PACKAGING_ORDER, "created"),
    ]:
        raise ErpDemoError(f"the pull from the SAP simulator answered {outcomes}")
    link = ErpOrderLink.objects.select_related("batch").get(
        connection=conn, erp_order_id=PROCESS_ORDER
    )
    waiting = ErpOrderLink.objects.get(connection=conn, erp_order_id=PACKAGING_ORDER)
    if link.batch is None or waiting.work_order_id is not None:
        raise ErpDemoError("SAP's process order made no batch, or the pail order did not wait")
    ctx.created(f"SAP order {PROCESS_ORDER} pulled → batch {link.batch.number}")
    ctx.created(f"SAP order {PACKAGING_ORDER} pulled → waits for the resin handoff")
    return link.batch, waiting


def _run_batch(ctx: Any, batch: BatchOrder, unit: Unit, clock: datetime) -> tuple[Lot, datetime]:
    operator, qa = ctx.user(Role.OPERATOR), ctx.user(Role.QA_REVIEWER)
    batches_demo._make_unit_clean(ctx, unit, clock)
    clock += timedelta(hours=1)
    batch = batch_services.batch_start(actor=operator, batch=batch, unit=unit, at=clock)
    for phase in batch.phases.order_by("sequence"):
        clock, _ = batches_demo._run_phase(ctx, phase, clock)
    theoretical = Decimal(batch.control_recipe["theoretical_yield"]["quantity"])
    batch_services.batch_record_yield(
        actor=operator,
        batch=batch,
        quantity=(theoretical * YIELD_FACTOR).quantize(Decimal("1")),
        lot_number=f"{batch.number}-P",
        at=clock,
    )
    clock += timedelta(minutes=10)
    batch_services.batch_complete(actor=operator, batch=batch, at=clock)
    lot = BatchOrder.objects.get(pk=batch.pk).output_lot
    batches_demo._passing_results(
        qa, lot, batches_demo._specification(ctx, lot.material, "release")
    )
    batch_services.batch_release(
        actor=qa,
        batch=batch,
        signer=signer_for_system_command(user=qa),
        reason="Record reviewed by exception: no deviation.",
    )
    lot = Lot.objects.get(pk=lot.pk)
    if lot.status != LotStatus.RELEASED:
        raise ErpDemoError(f"QA's release of {batch.number} left lot {lot.lot_number} {lot.status}")
    ctx.created(f"batch {batch.number} of {RECIPE} in {REACTOR}: executed, released, lot {lot}")
    return lot, clock


def _assemblies(ctx: Any, count: int, clock: datetime) -> Lot:
    """A released lot of `count` pail assemblies: bought parts received, an assembly work
    order executed and closed, its lot released by QA. The supervisor assembles: the demo
    operator stays clocked on WO-DEMO-0003."""
    operator = ctx.user(Role.SUPERVISOR)
    parts = {}
    for code in BOUGHT:
        number = f"{code}-ERP-DEMO"
        lot = genealogy_services.lot_receive(
            actor=operator,
            material=Material.objects.get(code=code),
            lot_number=number,
            quantity=Decimal(count + 5),
            supplier="Mauser Packaging",
            supplier_lot_number=f"SUP-{number}",
            occurred_at=clock,
        )
        parts[code] = genealogy_services.lot_set_status(
            actor=ctx.user(Role.QA_REVIEWER),
            lot=lot,
            status=LotStatus.RELEASED,
            reason="demo: incoming inspection passed",
        )
    planner = ctx.user(Role.PLANNER)
    wo = wo_services.work_order_create(
        actor=planner,
        item=Material.objects.get(code=ASSEMBLY),
        quantity=count,
        due_date=timezone.localdate(),
    )
    wo = wo_services.work_order_release(actor=planner, work_order=wo)
    fit, check = wo.operations.order_by("seq")
    wo_services.labor_clock_on(actor=operator, operation=fit, at=clock + timedelta(minutes=5))
    for code in BOUGHT:
        wo_services.operation_consume(
            actor=operator, operation=fit, code=parts[code].lot_number, quantity=count
        )
    wo_services.operation_report(actor=operator, operation=fit, good=count)
    wo_services.labor_clock_on(actor=operator, operation=check, at=clock + timedelta(minutes=50))
    wo_services.operation_report(actor=operator, operation=check, good=count)
    wo_services.labor_clock_off(actor=operator, operation=check, at=clock + timedelta(minutes=70))
    wo = wo_services.work_order_close(actor=planner, work_order=wo)
    lot = workorders_demo._released_lot(ctx, wo.finished_lot)
    ctx.created(f"{wo.number}: {count} pail assemblies for SAP's order; lot {lot} released")
    return lot


def _pack(ctx: Any, wo: WorkOrder, assemblies: Lot, resin: Lot) -> None:
    """Every pail through the five operations, now. The supervisor clocks labor (and the
    machine where the operation runs one) on each operation: the demo operator stays clocked
    on WO-DEMO-0003."""
    crew = ctx.user(Role.SUPERVISOR)
    codes = {10: assemblies.lot_number, 20: resin.lot_number}
    for op in wo.operations.order_by("seq"):
        wo_services.labor_clock_on(actor=crew, operation=op)
        if op.time_basis != TimeBasis.LABOR:
            wo_services.machine_start(actor=crew, operation=op)
        units = WorkOrderUnit.objects.filter(operation=op, status=UnitStatus.IN_PROCESS)
        for unit in units.order_by("serial_number"):
            workorders_demo._run_unit_step(ctx, unit, op, codes, {})
        if op.time_basis != TimeBasis.LABOR:
            wo_services.machine_stop(actor=crew, operation=op)
        wo_services.labor_clock_off(actor=crew, operation=op)
    wo_services.work_order_close(actor=ctx.user(Role.PLANNER), work_order=wo)


def _drain(conn: ErpConnection) -> list[OutboxMessage]:
    messages = OutboxMessage.objects.filter(connection=conn)
    for _ in range(20):
        outbox.outbox_drain(budget_seconds=30)
        if not messages.exclude(status="delivered").exclude(status="dead").exists():
            break
    stuck = [
        f"{m.kind} {m.erp_order_id} {m.status}: {m.last_error}"
        for m in messages.exclude(status="delivered")
    ]
    if stuck:
        raise ErpDemoError(f"{len(stuck)} message(s) not delivered to SAP: {'; '.join(stuck[:3])}")
    return list(messages.order_by("id"))


def _deactivate(ctx: Any, conn: ErpConnection) -> None:
    """The simulator stops with the step: the connection is left inactive (no pull, no
    delivery, no reconciliation against a dead URL)."""
    locked = ErpConnection.objects.select_for_update().get(pk=conn.pk)
    reason = "demo: the SAP simulator runs only during load_demo"
    with acting_as(ctx.actor, reason=reason):
        locked.is_active = False
        locked._change_reason = reason  # type: ignore[attr-defined]
        locked.save(update_fields=["is_active"])


def build_demo_erp(ctx: Any) -> None:
    if ErpOrderLink.objects.filter(connection__code=CONNECTION).exists():
        return
    found = _prerequisites()
    if found is None:
        ctx.write(f"  (erp: needs {RECIPE}, {PRODUCT}, unit {TWIN} and the handoff rule; skipped)")
        return
    # Every message written kicks a drain on commit; this step drains itself, and load_demo
    # commits once: the kicks are switched off for the commit (callbacks run in order).
    deliver = getattr(settings, "MES_ERP_DELIVER_ON_COMMIT", True)
    transaction.on_commit(lambda: setattr(settings, "MES_ERP_DELIVER_ON_COMMIT", False))
    sim = start_simulator("sap")
    saved = getattr(settings, "MES_ERP_CREDENTIALS", {})
    settings.MES_ERP_CREDENTIALS = {
        **saved,
        CREDENTIALS_REF: {
            "username": sim.simulator.config["username"],
            "password": sim.simulator.config["password"],
        },
    }
    http_log = logging.getLogger("httpx")
    level = http_log.level
    http_log.setLevel(logging.WARNING)  # one line per request to the simulator otherwise
    try:
        _chain(ctx, sim, found)
    except ErpDemoError:
        raise
    except Exception as exc:
        raise ErpDemoError(f"the ERP → batch → pails → ERP chain failed: {exc}") from exc
    finally:
        settings.MES_ERP_CREDENTIALS = saved
        http_log.setLevel(level)
        sim.stop()
    transaction.on_commit(lambda: setattr(settings, "MES_ERP_DELIVER_ON_COMMIT", deliver))


def _chain(ctx: Any, sim: Any, found: dict[str, Any]) -> None:
    reactor = _reactor(ctx, found["twin"])
    now = timezone.now()
    last = reactor.log_entries.aggregate(last=Max("at"))["last"]
    clock = max(last or now - timedelta(hours=15), now - timedelta(hours=15))
    clock += timedelta(minutes=10)
    theoretical = BATCH_SIZE * YIELD_FACTOR
    bom = Bom.objects.filter(item=found["rule"].item, status=VersionStatus.APPROVED).first()
    line = bom.lines.get(component=found["materials"][RESIN])
    pails = int(theoretical // line.quantity_per)
    conn = _connection(ctx, sim.url)
    _seed(sim, pails)
    batch, waiting = _pull(ctx, conn)
    resin, clock = _run_batch(ctx, batch, reactor, clock)
    # load_demo is one transaction: quality's lot_released (and so the handoff receiver)
    # fires only when it commits; the receiver's own service runs now (idempotent: the
    # receiver then finds this work order).
    wo = wo_services.handoff_lot_released(actor=ctx.actor, rule=found["rule"], lot=resin)
    if wo is None:
        raise ErpDemoError(f"the handoff rule {found['rule']} made no work order")
    waiting.refresh_from_db()
    if waiting.work_order_id != wo.pk:
        raise ErpDemoError(f"{wo.number} is not linked to SAP's order {PACKAGING_ORDER}")
    ctx.created(
        f"handoff: lot {resin} → {wo.number} ({wo.quantity:.0f} pails) for SAP {PACKAGING_ORDER}"
    )
    assemblies = _assemblies(ctx, int(wo.quantity), min(clock, now - timedelta(minutes=90)))
    _pack(ctx, wo, assemblies, resin)
    ctx.created(f"{wo.number}: {wo.quantity:.0f} serialized pails packed; closed")
    messages = _drain(conn)
    adapter = outbox.adapter_for(conn)
    try:
        for order in (PROCESS_ORDER, PACKAGING_ORDER):
            back = adapter.read_back(order)
            sent = sum(1 for m in messages if m.erp_order_id == order)
            ctx.created(
                f"SAP order {order}: {sent} message(s) delivered; SAP reads back confirmed good "
                f"{back.get('confirmed_good')}, goods issues {back.get('goods_issues')}, goods "
                f"receipts {back.get('goods_receipts')}"
            )
    finally:
        adapter.close()
    _deactivate(ctx, conn)
