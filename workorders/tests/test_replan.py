"""Re-planning a work order (quantity, due date) before anything is executed on it: what
changes, what is recorded, and the refusals once execution has started or the order is over."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mes.exceptions import Conflict, InvalidInput, InvalidTransition, NotAuthorized
from mes.testing import race
from workorders import services
from workorders.choices import SerialIssue, UnitStatus, WorkOrderStatus
from workorders.exceptions import QuantityExceeded
from workorders.models import WorkOrder, WorkOrderEvent, WorkOrderUnit
from workorders.tests.conftest import op
from workorders.tests.factories import q

pytestmark = pytest.mark.django_db


def _due(days=5):
    return timezone.localdate() + timedelta(days=days)


def _replans(wo):
    return list(WorkOrderEvent.objects.filter(work_order=wo, type="work_order.replanned"))


@pytest.fixture
def box_wo(box_routing, line, planner):
    """A lot-made item (10 boxes) released on two operations."""
    wo = services.work_order_create(actor=planner, item=line.box, quantity=10, due_date=_due())
    return services.work_order_release(actor=planner, work_order=wo)


# --- allowed ---------------------------------------------------------------------------------


def test_planned_order_gets_new_quantity_and_due_date_with_an_event(line, planner):
    wo = services.work_order_create(actor=planner, item=line.kit, quantity=3, due_date=_due())
    wo = services.work_order_replan(
        actor=planner, work_order=wo, quantity=5, due_date=_due(9), reason="ERP order 4711 v2"
    )
    wo.refresh_from_db()
    assert (wo.quantity, wo.due_date, wo.status) == (q(5), _due(9), WorkOrderStatus.PLANNED)
    [event] = _replans(wo)
    assert event.actor == planner
    assert event.data == {
        "reason": "ERP order 4711 v2",
        "status": "planned",
        "quantity": {"old": "3", "new": "5"},
        "due_date": {"old": _due().isoformat(), "new": _due(9).isoformat()},
        "serials_issued": [],
        "serials_voided": [],
    }
    released = services.work_order_release(actor=planner, work_order=wo)
    assert released.units.count() == 5


def test_due_date_only_keeps_the_quantity(released_wo, planner):
    services.work_order_replan(
        actor=planner, work_order=released_wo, due_date=_due(1).isoformat(), reason="rush"
    )
    wo = WorkOrder.objects.get(pk=released_wo.pk)
    assert (wo.quantity, wo.due_date) == (q(3), _due(1))
    [event] = _replans(wo)
    assert "quantity" not in event.data
    assert event.data["due_date"] == {"old": _due(3).isoformat(), "new": _due(1).isoformat()}


def test_released_serialized_order_grows_with_extra_serials(released_wo, planner):
    before = list(released_wo.units.order_by("id").values_list("serial_number", flat=True))
    services.work_order_replan(actor=planner, work_order=released_wo, quantity=5, reason="more")
    wo = WorkOrder.objects.get(pk=released_wo.pk)
    units = list(wo.units.order_by("id"))
    assert wo.quantity == q(5)
    assert [u.serial_number for u in units[:3]] == before
    assert len({u.serial_number for u in units}) == 5
    assert {u.status for u in units} == {UnitStatus.IN_PROCESS}
    assert {u.operation_id for u in units} == {op(wo, 10).pk}
    assert op(wo, 10).qty_received == q(5)
    assert _replans(wo)[0].data["serials_issued"] == [u.serial_number for u in units[3:]]


def test_released_serialized_order_shrinks_by_voiding_its_newest_units(released_wo, planner):
    newest = released_wo.units.order_by("-id").first()
    services.work_order_replan(
        actor=planner, work_order=released_wo, quantity=2, reason="customer cut the order"
    )
    wo = WorkOrder.objects.get(pk=released_wo.pk)
    newest.refresh_from_db()
    assert (newest.status, newest.operation_id) == (UnitStatus.VOIDED, None)
    assert WorkOrderUnit.objects.filter(work_order=wo).count() == 3  # voided, never deleted
    assert wo.units.filter(status=UnitStatus.IN_PROCESS).count() == 2
    assert (wo.quantity, op(wo, 10).qty_received, op(wo, 10).wip) == (q(2), q(2), q(2))
    assert _replans(wo)[0].data["serials_voided"] == [newest.serial_number]
    voided = WorkOrderEvent.objects.get(work_order=wo, type="unit.serial_voided")
    assert voided.data["reason"] == "customer cut the order"
    assert newest.history.first().status == UnitStatus.VOIDED


def test_a_voided_unit_cannot_be_executed(released_wo, planner, operator):
    newest = released_wo.units.order_by("-id").first()
    services.work_order_replan(actor=planner, work_order=released_wo, quantity=2, reason="cut")
    with pytest.raises(InvalidTransition, match="is not at an operation"):
        services.unit_complete_operation(actor=operator, unit=newest)


def test_serials_at_first_operation_shrink_then_start_only_the_new_quantity(
    line, planner, operator
):
    wo = services.work_order_create(
        actor=planner, item=line.kit, quantity=3, due_date=_due(), serial_issue="first_operation"
    )
    wo = services.work_order_release(actor=planner, work_order=wo)
    services.unit_start(actor=operator, operation=op(wo, 10))
    services.unit_start(actor=operator, operation=op(wo, 10))
    services.work_order_replan(actor=planner, work_order=wo, quantity=1, reason="cut")
    assert wo.units.filter(status=UnitStatus.VOIDED).count() == 1
    assert op(wo, 10).qty_received == q(1)
    with pytest.raises(QuantityExceeded, match="already started its 1 units"):
        services.unit_start(actor=operator, operation=op(wo, 10))
    services.work_order_replan(actor=planner, work_order=wo, quantity=2, reason="back up")
    assert wo.units.count() == 2  # nothing issued by the re-plan: units start at op 10
    services.unit_start(actor=operator, operation=op(wo, 10))
    assert op(wo, 10).qty_received == q(2)
    assert wo.units.filter(status=UnitStatus.IN_PROCESS).count() == 2


def test_released_lot_made_order_gets_the_new_quantity_at_its_first_operation(
    box_wo, planner, operator
):
    services.work_order_replan(actor=planner, work_order=box_wo, quantity="12.5", reason="more")
    assert (op(box_wo, 10).qty_received, op(box_wo, 20).qty_received) == (q("12.5"), q(0))
    services.operation_report(actor=operator, operation=op(box_wo, 10), good="12.5")
    assert op(box_wo, 20).wip == q("12.5")


# --- refused ---------------------------------------------------------------------------------


def test_refused_once_a_unit_completed_an_operation_and_nothing_is_written(
    released_wo, planner, operator
):
    unit = released_wo.units.order_by("id").first()
    services.unit_complete_operation(actor=operator, unit=unit)
    with pytest.raises(Conflict, match=r"execution has started \(quantity reports, units past"):
        services.work_order_replan(
            actor=planner, work_order=released_wo, quantity=5, due_date=_due(1), reason="more"
        )
    wo = WorkOrder.objects.get(pk=released_wo.pk)
    assert (wo.quantity, wo.due_date, wo.units.count()) == (q(3), _due(3), 3)
    assert _replans(wo) == []


def test_refused_once_someone_clocked_on(box_wo, planner, operator):
    services.labor_clock_on(actor=operator, operation=op(box_wo, 10))
    with pytest.raises(Conflict) as refused:
        services.work_order_replan(actor=planner, work_order=box_wo, quantity=5, reason="less")
    assert refused.value.code == "execution_started"
    assert refused.value.status_code == 409
    assert "labor records" in refused.value.detail
    assert op(box_wo, 10).qty_received == q(10)


@pytest.mark.parametrize(("end", "status"), [("cancel", "cancelled"), ("close", "closed")])
def test_refused_on_a_cancelled_or_closed_order(line, planner, supervisor, end, status):
    wo = services.work_order_create(
        actor=planner,
        item=line.kit,
        quantity=1,
        due_date=_due(),
        serial_issue=SerialIssue.AT_FIRST_OPERATION,
    )
    if end == "cancel":
        services.work_order_cancel(actor=planner, work_order=wo, reason="not needed")
    else:  # released, nothing started: it reconciles (0 = 0 + 0) and closes
        services.work_order_release(actor=planner, work_order=wo)
        services.work_order_close(actor=supervisor, work_order=wo)
    with pytest.raises(InvalidTransition) as refused:
        services.work_order_replan(actor=planner, work_order=wo, quantity=2, reason="late")
    assert refused.value.status_code == 409
    assert refused.value.code == "replan_refused"
    assert f"is {status}: it can no longer be re-planned" in refused.value.detail
    assert WorkOrder.objects.get(pk=wo.pk).quantity == q(1)
    assert _replans(wo) == []


def test_operator_may_not_replan_and_a_reason_is_required(released_wo, operator, planner):
    with pytest.raises(NotAuthorized, match="re-plan work orders"):
        services.work_order_replan(actor=operator, work_order=released_wo, quantity=4, reason="x")
    with pytest.raises(InvalidInput, match="needs a reason"):
        services.work_order_replan(actor=planner, work_order=released_wo, quantity=4, reason=" ")
    with pytest.raises(InvalidInput, match="whole number"):
        services.work_order_replan(
            actor=planner, work_order=released_wo, quantity="3.5", reason="x"
        )
    assert WorkOrder.objects.get(pk=released_wo.pk).quantity == q(3)
    assert _replans(released_wo) == []


# --- numbering -------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_work_orders_created_at_the_same_moment_get_distinct_numbers(box_wo, planner):
    """Four planners (or ERP pushes) at once: each order gets its own next number, none fails
    on the unique number."""
    results = race(
        *[
            lambda: services.work_order_create(
                actor=planner, item=box_wo.item, quantity=1, due_date=_due()
            )
            for _ in range(4)
        ]
    )

    assert all(isinstance(r, WorkOrder) for r in results), results
    numbers = sorted(r.number for r in results)
    last = int(box_wo.number.rsplit("-", 1)[1])
    prefix = box_wo.number.rsplit("-", 1)[0]
    assert numbers == [f"{prefix}-{n:05d}" for n in range(last + 1, last + 5)]
