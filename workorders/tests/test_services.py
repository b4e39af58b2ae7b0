"""Rules of BOMs, routings and work orders, each refusal asserting its reason and that nothing
was written."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from genealogy.models import Link, Lot, LotEvent
from mes.esign.models import Signature
from mes.exceptions import InvalidTransition, NotAuthorized, SignatureRefused
from quality.exceptions import LotNotReleased
from quality.models import Nonconformance
from workorders import selectors, services
from workorders.choices import (
    QuantityKind,
    TimeBasis,
    UnitStatus,
    VersionStatus,
    WorkOrderStatus,
)
from workorders.exceptions import (
    QuantityExceeded,
    SerialAlreadyUsed,
    VersionNotApproved,
    WorkInProgress,
    WrongComponent,
)
from workorders.models import (
    Bom,
    ComponentConsumption,
    InspectionResult,
    QuantityReport,
    WorkOrder,
    WorkOrderOperation,
    WorkOrderUnit,
)
from workorders.tests.conftest import op
from workorders.tests.factories import (
    approved_versions,
    kit_operations,
    q,
    sign_as,
)

pytestmark = pytest.mark.django_db


def _due():
    return timezone.localdate() + timedelta(days=5)


def _unit(wo, n):
    return wo.units.order_by("serial_number")[n]


def _pass(wo, unit, actor, torque="3.1"):
    chars = {c.name: c.pk for c in op(wo, 40).routing_operation.characteristics.all()}
    return services.unit_inspect(
        actor=actor,
        unit=unit,
        results={chars["Seal intact"]: "pass", chars["Lid torque"]: torque},
    )


def _through(wo, unit, actor, *, upto, pail=None):
    """Move a unit through operations until (not including) `upto`."""
    unit.refresh_from_db()
    for seq in (10, 20, 30, 40, 50):
        if seq < unit.operation.seq:
            continue
        if seq >= upto:
            return
        unit.refresh_from_db()
        if seq == 20:
            services.unit_scan_component(actor=actor, unit=unit, code=pail)
        if seq == 30:
            services.unit_scan_component(actor=actor, unit=unit, code="LBL-LOT-1")
        if seq == 40:
            _pass(wo, unit, actor)
        services.unit_complete_operation(actor=actor, unit=unit)


# --- BOM and routing versions ----------------------------------------------------------------


def test_bom_author_may_not_approve_own_bom_and_nothing_is_written(line, planner, supervisor):
    supervisor_bom = services.bom_create(
        actor=supervisor,
        item=line.kit,
        effective_from=timezone.localdate(),
        lines=[{"component": line.pail, "quantity_per": "1", "operation_seq": 20}],
    )
    with pytest.raises(SignatureRefused, match="You are the author of this BOM version"):
        services.bom_approve(actor=supervisor, bom=supervisor_bom, signer=sign_as(supervisor))
    supervisor_bom.refresh_from_db()
    assert supervisor_bom.status == VersionStatus.DRAFT
    assert supervisor_bom.approved_by is None
    assert not Signature.objects.filter(object_id=str(supervisor_bom.pk), meaning="approved")
    assert Bom.objects.get(pk=line.bom.pk).status == VersionStatus.APPROVED


def test_operator_may_not_approve_a_bom(line, planner, operator):
    bom = services.bom_create(
        actor=planner,
        item=line.kit,
        effective_from=timezone.localdate(),
        lines=[{"component": line.pail, "quantity_per": "1", "operation_seq": 20}],
    )
    with pytest.raises(NotAuthorized, match="approve BOM versions"):
        services.bom_approve(actor=operator, bom=bom, signer=sign_as(operator))
    assert Bom.objects.get(pk=bom.pk).status == VersionStatus.DRAFT


def test_approving_a_new_version_supersedes_the_old_one(line, planner, qa_user):
    start = timezone.localdate() + timedelta(days=10)
    bom2 = services.bom_create(
        actor=planner,
        item=line.kit,
        effective_from=start,
        lines=[{"component": line.pail, "quantity_per": "1", "operation_seq": 20}],
    )
    services.bom_approve(actor=qa_user, bom=bom2, signer=sign_as(qa_user))
    old = Bom.objects.get(pk=line.bom.pk)
    assert (bom2.version, old.status) == (2, VersionStatus.SUPERSEDED)
    assert old.effective_to == start - timedelta(days=1)
    signature = Signature.objects.get(object_id=str(bom2.pk), meaning="approved")
    assert signature.signer == qa_user


def test_circular_bom_is_refused(line, planner):
    with pytest.raises(Exception, match="the BOM would be circular"):
        services.bom_create(
            actor=planner,
            item=line.pail,
            effective_from=timezone.localdate(),
            lines=[{"component": line.kit, "quantity_per": "1", "operation_seq": 10}],
        )
    assert not Bom.objects.filter(item=line.pail).exists()


def test_multi_level_explosion_and_where_used(line, planner, qa_user):
    # pail (level 2) is made from a resin lot and a lid (level 3)
    from genealogy.tests.factories import MaterialFactory

    resin = MaterialFactory(code="RES-1", name="Resin")
    lid = MaterialFactory(code="LID-1", name="Lid", uom="ea")
    approved_versions(
        item=line.pail,
        lines=[
            {"component": resin, "quantity_per": "20", "scrap_factor": "0.01", "operation_seq": 10},
            {"component": lid, "quantity_per": "1", "operation_seq": 10},
        ],
        operations=[kit_operations(line.centers)[0]],
        author=planner,
        approver=qa_user,
    )
    rows = selectors.explosion_flat(selectors.bom_explode(line.bom, quantity=Decimal(10)))
    assert [(r.level, r.component.code, r.quantity) for r in rows] == [
        (1, "PAIL-20", q("10")),
        (2, "RES-1", q("202")),
        (2, "LID-1", q("10")),
        (1, "LBL-20", q("21")),
    ]
    used = selectors.bom_where_used(lid)
    assert [(level, ln.bom.item.code) for level, ln in used] == [(1, "PAIL-20"), (2, "KIT-20")]


# --- release ---------------------------------------------------------------------------------


def test_release_with_unapproved_bom_is_refused_and_nothing_is_written(line, planner):
    draft = services.bom_create(
        actor=planner,
        item=line.kit,
        effective_from=timezone.localdate(),
        lines=[{"component": line.pail, "quantity_per": "1", "operation_seq": 20}],
    )
    wo = services.work_order_create(
        actor=planner, item=line.kit, quantity=2, due_date=_due(), bom=draft, routing=line.routing
    )
    lots_before = Lot.objects.count()
    with pytest.raises(VersionNotApproved, match=r"BOM KIT-20 v2 is draft, not approved"):
        services.work_order_release(actor=planner, work_order=wo)
    wo.refresh_from_db()
    assert wo.status == WorkOrderStatus.PLANNED
    assert not WorkOrderOperation.objects.filter(work_order=wo).exists()
    assert not WorkOrderUnit.objects.filter(work_order=wo).exists()
    assert Lot.objects.count() == lots_before


def test_release_before_effectivity_is_refused(line, planner, qa_user):
    future = timezone.localdate() + timedelta(days=30)
    bom, routing = approved_versions(
        item=line.box,
        lines=[{"component": line.label, "quantity_per": "1", "operation_seq": 10}],
        operations=[kit_operations(line.centers)[0]],
        author=planner,
        approver=qa_user,
        effective_from=future,
    )
    wo = services.work_order_create(
        actor=planner, item=line.box, quantity=5, due_date=_due(), bom=bom, routing=routing
    )
    with pytest.raises(VersionNotApproved, match=f"effective from {future.isoformat()}"):
        services.work_order_release(actor=planner, work_order=wo)
    assert WorkOrder.objects.get(pk=wo.pk).status == WorkOrderStatus.PLANNED


def test_release_generates_operations_with_snapshot_and_serials(released_wo, line):
    ops = list(released_wo.operations.order_by("seq"))
    assert [(o.seq, o.name, o.work_center.code) for o in ops] == [
        (10, "Prepare", "PK-ASM"),
        (20, "Assemble", "PK-ASM"),
        (30, "Label", "PK-LBL"),
        (40, "Inspect", "PK-QC"),
        (50, "Pack", "PK-LBL"),
    ]
    assert (ops[1].run_minutes_per_unit, ops[1].crew_size, ops[1].time_basis) == (
        Decimal("6"),
        2,
        TimeBasis.BOTH,
    )
    assert (ops[2].labor_rate, ops[2].machine_rate) == (Decimal("35"), Decimal("60"))
    assert [o.qty_received for o in ops] == [q(3), q(0), q(0), q(0), q(0)]
    year = timezone.localdate().year
    serials = list(released_wo.units.values_list("serial_number", flat=True))
    assert serials == [f"KIT-{year}-00001", f"KIT-{year}-00002", f"KIT-{year}-00003"]
    node = Lot.objects.get(material=line.kit, lot_number=f"KIT-{year}-00001")
    assert (node.kind, node.source_kind, node.source_ref) == (
        "unit",
        "work_order",
        released_wo.number,
    )


def test_serials_at_first_operation(line, planner, operator):
    wo = services.work_order_create(
        actor=planner, item=line.kit, quantity=1, due_date=_due(), serial_issue="first_operation"
    )
    wo = services.work_order_release(actor=planner, work_order=wo)
    assert wo.units.count() == 0
    unit = services.unit_start(actor=operator, operation=op(wo, 10))
    assert op(wo, 10).qty_received == q(1)
    assert unit.serial_number.startswith("KIT-20-")
    with pytest.raises(QuantityExceeded, match="already started its 1 units"):
        services.unit_start(actor=operator, operation=op(wo, 10))
    assert wo.units.count() == 1


# --- component scanning ----------------------------------------------------------------------


def test_wrong_component_scanned_is_refused_and_nothing_is_written(released_wo, operator, line):
    unit = _unit(released_wo, 0)
    _through(released_wo, unit, operator, upto=20)
    events_before = LotEvent.objects.count()
    with pytest.raises(WrongComponent, match="LBL-LOT-1 is LBL-20; this operation takes PAIL-20"):
        services.unit_scan_component(actor=operator, unit=unit, code="LBL-LOT-1")
    with pytest.raises(WrongComponent, match="No lot or serial NOPE-1 is known"):
        services.unit_scan_component(actor=operator, unit=unit, code="NOPE-1")
    assert LotEvent.objects.count() == events_before
    assert not ComponentConsumption.objects.exists()
    assert Lot.objects.get(pk=line.labels.pk).quantity == q(100)


def test_serial_used_twice_is_refused(released_wo, operator, line):
    first, second = _unit(released_wo, 0), _unit(released_wo, 1)
    _through(released_wo, first, operator, upto=30, pail="PS-001")
    _through(released_wo, second, operator, upto=20)
    second.refresh_from_db()
    with pytest.raises(
        SerialAlreadyUsed, match=f"Serial PS-001 is already used in unit {first.serial_number}"
    ):
        services.unit_scan_component(actor=operator, unit=second, code="PS-001")
    assert ComponentConsumption.objects.filter(unit=second).count() == 0
    assert Link.objects.filter(parent__lot_number="PS-001").count() == 1


def test_quarantined_lot_is_refused_by_the_quality_gate(released_wo, operator, line):
    unit = _unit(released_wo, 0)
    _through(released_wo, unit, operator, upto=30, pail="PS-001")
    unit.refresh_from_db()
    with pytest.raises(LotNotReleased, match="only a lot released by QA may be consumed"):
        services.unit_scan_component(actor=operator, unit=unit, code="LBL-LOT-Q")
    assert Lot.objects.get(pk=line.quarantined_labels.pk).quantity == q(100)
    assert ComponentConsumption.objects.filter(unit=unit).count() == 1


def test_component_recorded_in_genealogy_per_unit_at_its_operation(released_wo, operator, line):
    first, second = _unit(released_wo, 0), _unit(released_wo, 1)
    _through(released_wo, first, operator, upto=40, pail="PS-001")
    _through(released_wo, second, operator, upto=40, pail="PS-002")
    links = Link.objects.filter(child=first.lot).order_by("id")
    assert [(lk.parent.lot_number, lk.kind, lk.quantity, lk.context_kind) for lk in links] == [
        ("PS-001", "component", q(1), "wo_operation"),
        ("LBL-LOT-1", "component", q(2), "wo_operation"),
    ]
    assert links[0].context_ref == f"{released_wo.number}/op 20 unit {first.serial_number}"
    assert Link.objects.filter(child=second.lot, parent__lot_number="PS-002").count() == 1
    assert Lot.objects.get(pk=line.labels.pk).quantity == q(96)


def test_unit_cannot_leave_a_consuming_operation_without_its_component(released_wo, operator):
    unit = _unit(released_wo, 0)
    _through(released_wo, unit, operator, upto=20)
    unit.refresh_from_db()
    with pytest.raises(Exception, match=r"scan PAIL-20 \(1\) first"):
        services.unit_complete_operation(actor=operator, unit=unit)
    assert op(released_wo, 20).qty_good == q(0)


# --- quantities and WIP ----------------------------------------------------------------------


@pytest.fixture
def box_wo(line, planner, qa_user):
    ops = kit_operations(line.centers)
    _bom, _routing = approved_versions(
        item=line.box,
        lines=[{"component": line.label, "quantity_per": "1", "operation_seq": 20}],
        operations=[ops[0], ops[1]],
        author=planner,
        approver=qa_user,
    )
    wo = services.work_order_create(actor=planner, item=line.box, quantity=10, due_date=_due())
    return services.work_order_release(actor=planner, work_order=wo)


def test_more_good_than_received_is_refused_and_nothing_is_written(box_wo, operator, line):
    services.operation_report(actor=operator, operation=op(box_wo, 10), good=6)
    with pytest.raises(
        QuantityExceeded, match=r"op 20 has 6 in progress \(received 6, reported 0\): 7 more"
    ):
        services.operation_report(actor=operator, operation=op(box_wo, 20), good=7)
    op20 = op(box_wo, 20)
    assert (op20.qty_received, op20.qty_good, op20.wip) == (q(6), q(0), q(6))
    assert not QuantityReport.objects.filter(operation=op20).exists()


def test_wip_is_correct_after_every_report(box_wo, operator, line):
    op10 = op(box_wo, 10)
    services.operation_report(
        actor=operator,
        operation=op10,
        good=7,
        scrap=1,
        rework=2,
        scrap_reason=line.scrap,
        rework_reason=line.rework,
    )
    op10.refresh_from_db()
    assert (op10.wip, op10.in_rework, op(box_wo, 20).wip) == (q(0), q(2), q(7))
    services.operation_return_rework(actor=operator, operation=op10, quantity=2)
    op10.refresh_from_db()
    assert (op10.qty_received, op10.wip, op10.in_rework) == (q(12), q(2), q(0))
    ncr = Nonconformance.objects.get(source_ref=f"{box_wo.number}/op 10")
    assert (ncr.quantity, ncr.defect_code) == (q(3), "DMG")


def test_scrap_needs_a_scrap_reason(box_wo, operator, line):
    with pytest.raises(Exception, match="JAM is not an active scrap reason code"):
        services.operation_report(
            actor=operator, operation=op(box_wo, 10), scrap=1, scrap_reason=line.downtime
        )
    assert op(box_wo, 10).qty_scrap == q(0)


def test_operator_outside_the_area_is_refused(box_wo, line):
    from mes.accounts.tests.factories import UserFactory

    stranger = UserFactory(username="stranger.op", roles=["Operator"])
    with pytest.raises(NotAuthorized, match="in area PK"):
        services.operation_report(actor=stranger, operation=op(box_wo, 10), good=1)
    assert op(box_wo, 10).qty_good == q(0)


def test_lot_made_close_produces_the_lot_with_its_components(box_wo, operator, supervisor, line):
    services.operation_report(actor=operator, operation=op(box_wo, 10), good=10)
    services.operation_consume(
        actor=operator, operation=op(box_wo, 20), code="LBL-LOT-1", quantity=10
    )
    services.operation_report(
        actor=operator, operation=op(box_wo, 20), good=9, scrap=1, scrap_reason=line.scrap
    )
    wo = services.work_order_close(actor=supervisor, work_order=box_wo)
    assert wo.status == WorkOrderStatus.CLOSED
    assert (wo.finished_lot.quantity, wo.finished_lot.source_ref) == (q(9), wo.number)
    link = Link.objects.get(child=wo.finished_lot)
    assert (link.parent.lot_number, link.quantity, link.kind) == ("LBL-LOT-1", q(10), "consumed")


def test_close_with_work_in_progress_is_refused_and_nothing_is_written(
    box_wo, operator, supervisor
):
    services.operation_report(actor=operator, operation=op(box_wo, 10), good=10)
    services.operation_report(actor=operator, operation=op(box_wo, 20), good=8)
    lots_before = Lot.objects.count()
    with pytest.raises(WorkInProgress, match=r"op 20: 2 in progress"):
        services.work_order_close(actor=supervisor, work_order=box_wo)
    wo = WorkOrder.objects.get(pk=box_wo.pk)
    assert (wo.status, wo.finished_lot, wo.closed_at) == (WorkOrderStatus.RELEASED, None, None)
    assert Lot.objects.count() == lots_before
    assert not WorkOrderOperation.objects.filter(work_order=wo, std_labor_hours__isnull=False)


def test_close_with_a_unit_in_progress_is_refused(released_wo, operator, supervisor):
    with pytest.raises(WorkInProgress, match=r"op 10: 3 in progress"):
        services.work_order_close(actor=supervisor, work_order=released_wo)
    assert WorkOrder.objects.get(pk=released_wo.pk).status == WorkOrderStatus.RELEASED


# --- inspection, rework, scrap, close of serialized units ------------------------------------


def test_serialized_flow_with_failed_inspection_rework_scrap_and_close(
    released_wo, operator, supervisor, qa_user, line
):
    from quality import services as quality

    quality.characteristic_create(
        actor=qa_user, key="kit-lid-torque", name="Lid torque", lsl="2.0", usl="4.0"
    )
    a, b, c = (_unit(released_wo, n) for n in range(3))
    _through(released_wo, a, operator, upto=99, pail="PS-001")
    _through(released_wo, b, operator, upto=40, pail="PS-002")
    b.refresh_from_db()
    results = _pass(released_wo, b, operator, torque="4.6")
    assert [r.passed for r in results] == [True, False]
    with pytest.raises(Exception, match=r"failed Lid torque at .*scrap it or send it to rework"):
        services.unit_complete_operation(actor=operator, unit=b)
    services.unit_send_to_rework(actor=operator, unit=b, reason_code=line.rework, note="re-torque")
    b.refresh_from_db()
    assert b.status == UnitStatus.REWORK
    services.unit_return_from_rework(actor=operator, unit=b)
    b.refresh_from_db()
    with pytest.raises(Exception, match="inspect Seal intact, Lid torque first"):
        services.unit_complete_operation(actor=operator, unit=b)
    _through(released_wo, b, operator, upto=99)
    c.refresh_from_db()
    services.unit_scrap(actor=operator, unit=c, reason_code=line.scrap, note="dropped")

    wo = services.work_order_close(actor=supervisor, work_order=released_wo)
    ops = {o.seq: o for o in wo.operations.all()}
    assert (ops[10].qty_good, ops[10].qty_scrap, ops[50].qty_good) == (q(2), q(1), q(2))
    assert (ops[40].qty_received, ops[40].qty_rework, ops[40].qty_rework_returned) == (
        q(3),
        q(1),
        q(1),
    )
    assert [u.status for u in wo.units.order_by("serial_number")] == [
        UnitStatus.FINISHED,
        UnitStatus.FINISHED,
        UnitStatus.SCRAPPED,
    ]
    ncrs = Nonconformance.objects.filter(source_kind="wo_operation").order_by("id")
    assert [(n.defect_code, n.lot_id) for n in ncrs] == [("RESEAL", b.lot_id), ("DMG", c.lot_id)]
    from quality.models import SpcValue

    assert list(SpcValue.objects.order_by("id").values_list("value", flat=True)) == [
        Decimal("3.1"),
        Decimal("4.6"),
        Decimal("3.1"),
    ]
    assert InspectionResult.objects.filter(unit=b).count() == 4
    assert wo.events.get(type="work_order.closed").data["units"] == [
        a.serial_number,
        b.serial_number,
    ]


def test_completing_a_closed_order_is_refused(box_wo, operator, supervisor):
    services.operation_report(actor=operator, operation=op(box_wo, 10), good=10)
    services.operation_report(actor=operator, operation=op(box_wo, 20), good=10)
    services.work_order_close(actor=supervisor, work_order=box_wo)
    with pytest.raises(InvalidTransition, match="is closed: its operations cannot be executed"):
        services.labor_clock_on(actor=operator, operation=op(box_wo, 10))
    assert QuantityReport.objects.filter(kind=QuantityKind.GOOD).count() == 2
