"""Labor and machine time (overlapping and switching operators, pauses), variance against the
standard frozen at close, and two terminals reporting the last units (PostgreSQL)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from mes.testing import race
from workorders import selectors, services
from workorders.exceptions import ClockConflict
from workorders.models import DowntimeRecord, LaborRecord, MachineRecord, QuantityReport
from workorders.tests.conftest import op
from workorders.tests.factories import approved_versions, kit_operations, q

MIN = timedelta(minutes=1)


@pytest.fixture
def box_wo(box_routing, line, planner):
    wo = services.work_order_create(
        actor=planner, item=line.box, quantity=10, due_date=timezone.localdate()
    )
    return services.work_order_release(actor=planner, work_order=wo)


def _shift(box_wo, operator, operator2, line, t0):
    op10, op20 = op(box_wo, 10), op(box_wo, 20)
    services.labor_clock_on(actor=operator, operation=op10, at=t0)
    services.labor_clock_on(actor=operator2, operation=op10, at=t0 + 30 * MIN)
    services.labor_clock_on(actor=operator, operation=op20, at=t0 + 60 * MIN)  # switches
    services.machine_start(actor=operator, operation=op20, at=t0 + 60 * MIN)
    services.operation_pause(
        actor=operator, operation=op20, reason_code=line.downtime, at=t0 + 80 * MIN
    )
    services.operation_resume(actor=operator, operation=op20, at=t0 + 90 * MIN)
    services.labor_clock_off(actor=operator2, operation=op10, at=t0 + 90 * MIN)
    services.machine_stop(actor=operator, operation=op20, at=t0 + 110 * MIN)
    services.labor_clock_off(actor=operator, operation=op20, at=t0 + 120 * MIN)
    services.operation_report(actor=operator, operation=op10, good=10)
    services.operation_report(actor=operator, operation=op20, good=10)


@pytest.mark.django_db
def test_overlapping_and_switching_operators_each_count_their_own_time_once(
    box_wo, operator, operator2, line
):
    t0 = timezone.now() - timedelta(hours=3)
    _shift(box_wo, operator, operator2, line, t0)
    mine = list(LaborRecord.objects.filter(operator=operator).order_by("started_at"))
    assert [(r.operation.seq, r.started_at, r.ended_at, r.seconds) for r in mine] == [
        (10, t0, t0 + 60 * MIN, Decimal("3600.000")),
        (20, t0 + 60 * MIN, t0 + 120 * MIN, Decimal("3600.000")),
    ]
    # two hours on the clock, two hours recorded: the switch closed op 10 at the same moment
    assert sum(r.seconds for r in mine) == Decimal("7200.000")
    theirs = LaborRecord.objects.get(operator=operator2)
    assert (theirs.operation.seq, theirs.seconds) == (10, Decimal("3600.000"))
    machine = list(MachineRecord.objects.order_by("started_at").values_list("seconds", flat=True))
    assert machine == [Decimal("1200.000"), Decimal("1200.000")]
    downtime = DowntimeRecord.objects.get()
    assert (downtime.reason.code, downtime.seconds) == ("JAM", Decimal("600.000"))


@pytest.mark.django_db
def test_clocking_on_twice_on_the_same_operation_is_refused(box_wo, operator):
    services.labor_clock_on(actor=operator, operation=op(box_wo, 10))
    with pytest.raises(ClockConflict, match=r"You are already clocked on .*op 10"):
        services.labor_clock_on(actor=operator, operation=op(box_wo, 10))
    assert LaborRecord.objects.filter(operator=operator).count() == 1


@pytest.mark.django_db
def test_clock_off_without_clock_on_is_refused(box_wo, operator):
    with pytest.raises(ClockConflict, match=r"olivia\.operator is not clocked on"):
        services.labor_clock_off(actor=operator, operation=op(box_wo, 10))
    assert not LaborRecord.objects.exists()


@pytest.mark.django_db
def test_variance_per_operation_and_item_and_standard_frozen_after_close(
    box_wo, operator, operator2, supervisor, planner, qa_user, line
):
    _shift(box_wo, operator, operator2, line, timezone.now() - timedelta(hours=3))
    services.work_order_close(actor=supervisor, work_order=box_wo)
    per_op = selectors.work_order_variance(box_wo)
    assert [
        (
            r.key,
            r.std_labor_hours,
            r.actual_labor_hours,
            r.std_machine_hours,
            r.actual_machine_hours,
            r.std_cost,
            r.actual_cost,
        )
        for r in per_op
    ] == [
        (
            f"{box_wo.number}/op 10",
            Decimal("0.8333"),
            Decimal("2.0000"),
            Decimal("0.0000"),
            Decimal("0.0000"),
            Decimal("33.33"),
            Decimal("80.00"),
        ),
        (
            f"{box_wo.number}/op 20",
            Decimal("2.0000"),
            Decimal("1.0000"),
            Decimal("1.0000"),
            Decimal("0.6667"),
            Decimal("105.00"),
            Decimal("56.67"),
        ),
    ]
    # a new routing version with other standards does not change the closed order's standard
    faster = kit_operations(line.centers)[:2]
    faster[0]["setup_minutes"], faster[1]["run_minutes_per_unit"] = "5", "1"
    approved_versions(
        item=line.box,
        lines=[{"component": line.label, "quantity_per": "1", "operation_seq": 20}],
        operations=faster,
        author=planner,
        approver=qa_user,
    )
    by_item = selectors.variance_report(group_by="item")
    assert [
        (
            r.key,
            r.std_labor_hours,
            r.actual_labor_hours,
            r.std_machine_hours,
            r.actual_machine_hours,
            r.std_cost,
            r.actual_cost,
            r.cost_variance,
            r.good,
        )
        for r in by_item
    ] == [
        (
            "BOX-20",
            Decimal("2.8333"),
            Decimal("3.0000"),
            Decimal("1.0000"),
            Decimal("0.6667"),
            Decimal("138.33"),
            Decimal("136.67"),
            Decimal("-1.66"),
            q(10),
        ),
    ]
    by_center = selectors.variance_report(group_by="work_center")
    assert [r.key for r in by_center] == ["PK-ASM"]
    period = timezone.now().strftime("%Y-%m")
    assert [r.key for r in selectors.variance_report(group_by="period")] == [period]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_terminals_reporting_the_last_units_cannot_both_win(box_wo, operator, operator2):
    op10 = op(box_wo, 10)

    results = race(
        *[
            lambda p=p: services.operation_report(actor=p, operation=op10, good=6)
            for p in (operator, operator2)
        ]
    )

    outcomes = [r.detail if isinstance(r, Exception) else "ok" for r in results]
    assert sorted(outcomes)[1] == "ok"
    assert (
        "has 4 in progress (received 10, reported 6): 6 more cannot be reported"
        in sorted(outcomes)[0]
    )
    op10.refresh_from_db()
    assert (op10.qty_good, op10.wip, op(box_wo, 20).qty_received) == (q(6), q(4), q(6))
    assert QuantityReport.objects.filter(operation=op10).count() == 1
