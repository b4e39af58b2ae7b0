"""Schedules made by the services: feasible (no overlap, precedence, vessel volume, forbidden
sequences, hold times), frozen and locked entries respected, infeasible input explained,
moves re-validated, publish supersedes, the dispatch list in order, stop honoured."""

import itertools
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from batches import services as batch_services
from equipment.tests.factories import CleaningRuleFactory
from mes.exceptions import Conflict, InvalidInput, NotAuthorized
from scheduling import selectors, services
from scheduling.models import (
    ChangeoverMatrix,
    ChangeoverRule,
    EntryKind,
    Schedule,
    ScheduleEvent,
    ScheduleStatus,
    SolverStatus,
)
from scheduling.tests.conftest import make_batch, make_work_order
from workorders import services as wo_services

pytestmark = pytest.mark.django_db

LIMIT = 2


def _solved(plant, planner, **kw):
    schedule = services.schedule_create(
        actor=planner, site=plant.site, time_limit_seconds=LIMIT, **kw
    )
    return services.schedule_solve(schedule_id=schedule.pk, actor=planner)


def _real(schedule, kind=None):
    qs = schedule.entries.exclude(kind=EntryKind.UNAVAILABLE).select_related(
        "operation", "unit", "work_center", "batch"
    )
    return list(qs.filter(kind=kind) if kind else qs)


def _assert_no_overlap(schedule):
    by_resource = {}
    for e in _real(schedule):
        by_resource.setdefault(e.resource_key, []).append(e)
    for entries in by_resource.values():
        entries.sort(key=lambda e: e.start)
        for a, b in itertools.pairwise(entries):
            assert a.end <= b.start, f"{a.label} and {b.label} overlap"


def test_a_solved_schedule_is_feasible(plant, demand, planner):
    schedule = _solved(plant, planner)

    assert schedule.solver_status == SolverStatus.DONE
    assert services.schedule_conflicts(schedule) == ([], {})
    _assert_no_overlap(schedule)
    ops = _real(schedule, EntryKind.OPERATION)
    assert len(ops) == 10  # 2 work orders x 5 operations
    for wo in demand.orders:
        mine = sorted(
            (e for e in ops if e.operation.work_order_id == wo.pk), key=lambda e: e.operation.seq
        )
        for a, b in itertools.pairwise(mine):
            assert a.end <= b.start  # precedence
    batches = _real(schedule, EntryKind.BATCH)
    assert sorted(e.batch.number for e in batches) == ["B-1", "B-2", "B-3"]
    for e in batches:
        assert e.unit.working_volume_l >= Decimal("2000")
    assert schedule.makespan_minutes == max(
        int((e.end - schedule.horizon_start).total_seconds() // 60) for e in ops + batches
    )
    assert schedule.changeover_minutes == sum(
        int((e.end - e.start).total_seconds() // 60) for e in _real(schedule, EntryKind.CLEANING)
    )
    assert set(schedule.utilization) >= {"R-1", "PK-ASM"}


def test_a_vessel_too_small_is_never_used(plant, demand, planner):
    plant.r2.working_volume_l = Decimal("1500")
    plant.r2.save()
    schedule = _solved(plant, planner)

    assert {e.unit.code for e in _real(schedule, EntryKind.BATCH)} == {"R-1"}
    cleanings = _real(schedule, EntryKind.CLEANING)
    assert len(cleanings) == 2  # between the three batches on R-1
    batch = next(e for e in _real(schedule, EntryKind.BATCH) if e.batch.number == "B-2")
    with pytest.raises(Conflict, match="does not fit vessel R-2"):
        services.schedule_entry_move(actor=planner, entry=batch, start=batch.start, unit=plant.r2)


def test_forbidden_sequences_never_run_back_to_back(plant, planner):
    make_batch(plant, planner, number="B-1")
    make_batch(plant, planner, number="B-2")
    matrix = ChangeoverMatrix.objects.create(site=plant.site, name="cell")
    ChangeoverRule.objects.create(
        matrix=matrix, from_product="RESIN-T", to_product="RESIN-T", is_forbidden=True
    )
    product = selectors.batch_demand(plant.site)[0].product_code
    assert product == "RESIN-T"
    schedule = _solved(plant, planner)

    batches = _real(schedule, EntryKind.BATCH)
    assert {e.unit.code for e in batches} == {"R-1", "R-2"}
    first, second = sorted(batches, key=lambda e: e.unit.code)
    with pytest.raises(Conflict, match="forbidden sequence"):
        services.schedule_entry_move(
            actor=planner, entry=second, start=first.end + timedelta(hours=5), unit=first.unit
        )
    assert services.schedule_conflicts(schedule) == ([], {})


def test_hold_times_are_kept(plant, planner):
    for n in range(1, 4):
        make_batch(plant, planner, number=f"B-{n}")
    plant.r2.working_volume_l = Decimal("1500")
    plant.r2.save()
    CleaningRuleFactory(
        equipment_class=plant.r1.equipment_class, clean_hold_hours=1, dirty_hold_hours=2
    )
    schedule = _solved(plant, planner)

    assert schedule.problem["campaign"]["changeovers"]["clean_hold"] == 60
    assert schedule.problem["campaign"]["changeovers"]["dirty_hold"] == 120
    batches = sorted(_real(schedule, EntryKind.BATCH), key=lambda e: e.start)
    cleanings = sorted(_real(schedule, EntryKind.CLEANING), key=lambda e: e.start)
    for before, after in itertools.pairwise(batches):
        between = [c for c in cleanings if before.end <= c.start and c.end <= after.start]
        assert between, "a cleaning between two batches"
        assert between[0].start - before.end <= timedelta(hours=2)  # dirty hold
        assert after.start - between[-1].end <= timedelta(hours=1)  # clean hold
    # a batch moved 10 hours later gets a re-clean before it (the clean hold), still feasible
    last = batches[-1]
    moved, _warnings = services.schedule_entry_move(
        actor=planner, entry=last, start=last.start + timedelta(hours=10)
    )
    assert moved.is_locked
    cleanings = sorted(_real(schedule, EntryKind.CLEANING), key=lambda e: e.start)
    assert [c.cleaning_kind for c in cleanings if c.end <= moved.start][-1] == "minor"
    assert moved.start - max(c.end for c in cleanings if c.end <= moved.start) <= timedelta(hours=1)
    assert services.schedule_conflicts(schedule) == ([], {})


def test_started_work_is_frozen_and_locked_entries_keep_their_resource(
    plant, demand, planner, operator, supervisor
):
    from guardian.shortcuts import assign_perm

    batch = demand.batches[0]
    batch_services.batch_start(actor=operator, batch=batch, unit=plant.r2)
    wo = demand.orders[1]
    assign_perm("equipment.operate_in_area", operator, wo.area)
    first_op = wo.operations.get(seq=10)
    wo_services.labor_clock_on(actor=operator, operation=first_op)
    schedule = _solved(plant, planner)

    frozen = {e.key: e for e in _real(schedule) if e.is_frozen}
    assert set(frozen) == {f"batch:{batch.pk}", f"op:{first_op.pk}"}
    assert frozen[f"batch:{batch.pk}"].unit == plant.r2
    assert frozen[f"op:{first_op.pk}"].work_center == first_op.work_center
    with pytest.raises(Conflict, match="has started"):
        services.schedule_entry_move(
            actor=planner,
            entry=frozen[f"batch:{batch.pk}"],
            start=timezone.now() + timedelta(hours=3),
        )

    # the planner moves an assembly to the alternative work center (the filler): it is locked
    assemble = next(
        e
        for e in _real(schedule, EntryKind.OPERATION)
        if e.operation.seq == 20 and e.operation.work_order_id == demand.orders[0].pk
    )
    filler = plant.centers["FIL"]
    moved, _ = services.schedule_entry_move(
        actor=planner, entry=assemble, start=assemble.start, work_center=filler
    )
    assert moved.is_locked
    assert moved.work_center == filler
    services.schedule_request_solve(actor=planner, schedule=schedule)
    schedule = services.schedule_solve(schedule_id=schedule.pk, actor=planner)

    again = schedule.entries.get(key=assemble.key)
    assert again.work_center == filler
    assert again.is_locked
    assert schedule.problem["jobs"][0]["ops"]  # rebuilt
    assert services.schedule_conflicts(schedule) == ([], {})
    assert {e.key for e in _real(schedule) if e.is_frozen} == set(frozen)


def test_infeasible_input_is_explained_and_nothing_written(plant, demand, planner):
    for unit in (plant.r1, plant.r2):
        unit.working_volume_l = Decimal("1000")
        unit.save()
    with pytest.raises(InvalidInput, match=r"batch B-1 .* fits no vessel"):
        services.schedule_create(actor=planner, site=plant.site, time_limit_seconds=LIMIT)
    assert not Schedule.objects.exists()


def test_a_move_that_breaks_precedence_is_refused_and_nothing_changes(plant, demand, planner):
    schedule = _solved(plant, planner)
    ops = {
        e.operation.seq: e
        for e in _real(schedule, EntryKind.OPERATION)
        if e.operation.work_order_id == demand.orders[0].pk
    }
    before = (ops[30].start, ops[30].end, ops[30].work_center_id)
    with pytest.raises(Conflict, match="before its preceding operation ends"):
        services.schedule_entry_move(
            actor=planner, entry=ops[30], start=ops[20].start - timedelta(minutes=5)
        )
    fresh = schedule.entries.get(pk=ops[30].pk)
    assert (fresh.start, fresh.end, fresh.work_center_id) == before
    assert not fresh.is_locked
    assert not ScheduleEvent.objects.filter(type="entry.moved").exists()


def test_a_move_that_keeps_the_rules_is_recorded_with_its_warning(plant, demand, planner):
    schedule = _solved(plant, planner)
    last = max(
        (
            e
            for e in _real(schedule, EntryKind.OPERATION)
            if e.operation.work_order_id == demand.orders[0].pk
        ),
        key=lambda e: e.operation.seq,
    )
    late = last.due_at + timedelta(hours=2)
    moved, warnings = services.schedule_entry_move(actor=planner, entry=last, start=late)
    assert moved.start == late.replace(second=0, microsecond=0)
    assert moved.is_locked
    assert "after its due date" in warnings[0]
    event = ScheduleEvent.objects.get(type="entry.moved")
    assert event.actor == planner
    assert event.data["entry"] == last.key
    assert Schedule.objects.get(pk=schedule.pk).tardiness_minutes > schedule.tardiness_minutes


def test_publish_supersedes_the_previous_schedule(plant, demand, planner):
    first = _solved(plant, planner)
    services.schedule_publish(actor=planner, schedule=first)
    second = _solved(plant, planner)
    assert second.based_on == first
    services.schedule_publish(actor=planner, schedule=second)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == ScheduleStatus.SUPERSEDED
    assert first.superseded_at is not None
    assert second.status == ScheduleStatus.PUBLISHED
    assert (second.published_by, second.published_at is not None) == (planner, True)
    assert list(
        ScheduleEvent.objects.filter(type__in=["schedule.published", "schedule.superseded"])
        .order_by("id")
        .values_list("schedule__number", "type", "actor__username")
    ) == [
        (first.number, "schedule.published", planner.username),
        (first.number, "schedule.superseded", planner.username),
        (second.number, "schedule.published", planner.username),
    ]
    with pytest.raises(Conflict, match="only a proposed schedule"):
        services.schedule_publish(actor=planner, schedule=first)
    entry = _real(second, EntryKind.OPERATION)[0]
    with pytest.raises(Conflict, match="only a proposed schedule"):
        services.schedule_entry_move(actor=planner, entry=entry, start=entry.start)


def test_the_dispatch_list_follows_the_published_schedule(plant, demand, planner):
    schedule = _solved(plant, planner)
    assert selectors.dispatch_list(work_center=plant.centers["ASM"]) == []
    services.schedule_publish(actor=planner, schedule=schedule)

    listed = selectors.dispatch_list(work_center=plant.centers["ASM"])
    expected = sorted(
        (e for e in _real(schedule, EntryKind.OPERATION) if e.work_center == plant.centers["ASM"]),
        key=lambda e: e.start,
    )
    assert [e.key for e in listed] == [e.key for e in expected]
    assert [e.start for e in listed] == sorted(e.start for e in listed)
    on_r1 = selectors.dispatch_list(unit=plant.r1)
    assert [e.kind for e in on_r1 if e.kind == "batch"]


def test_only_planners_plan(plant, demand, planner, operator, supervisor):
    for person in (operator, supervisor):
        with pytest.raises(NotAuthorized):
            services.schedule_create(actor=person, site=plant.site)
    schedule = _solved(plant, planner)
    entry = _real(schedule, EntryKind.OPERATION)[0]
    with pytest.raises(NotAuthorized):
        services.schedule_entry_move(actor=supervisor, entry=entry, start=entry.start)
    with pytest.raises(NotAuthorized):
        services.schedule_publish(actor=operator, schedule=schedule)
    assert Schedule.objects.get(pk=schedule.pk).status == ScheduleStatus.PROPOSED


def test_stop_ends_a_solve_early_with_the_best_schedule_so_far(plant, demand, planner):
    for n in range(6):
        make_work_order(plant, planner, days=1 + n % 3)
    schedule = services.schedule_create(actor=planner, site=plant.site, time_limit_seconds=60)
    stop = threading.Event()
    stop.set()  # the planner pressed Stop as the solve began
    started = timezone.now()
    schedule = services.schedule_solve(schedule_id=schedule.pk, actor=planner, stop=stop)

    assert (timezone.now() - started).total_seconds() < 15
    assert schedule.solver_status == SolverStatus.STOPPED
    assert schedule.solutions_found >= 1
    assert len(_real(schedule, EntryKind.OPERATION)) == 40
    assert services.schedule_conflicts(schedule) == ([], {})


def test_the_planners_stop_flag_is_read_by_the_solve(plant, demand, planner):
    schedule = services.schedule_create(actor=planner, site=plant.site, time_limit_seconds=60)
    services.schedule_stop(actor=planner, schedule=schedule)
    started = timezone.now()
    schedule = services.schedule_solve(schedule_id=schedule.pk, actor=planner)

    assert (timezone.now() - started).total_seconds() < 15
    assert schedule.solver_status == SolverStatus.STOPPED
    assert services.schedule_conflicts(schedule) == ([], {})
    with pytest.raises(Conflict, match="not being solved"):
        services.schedule_stop(actor=planner, schedule=schedule)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_stop_from_another_connection_reaches_a_running_solve(plant, demand, planner):
    schedule = services.schedule_create(actor=planner, site=plant.site, time_limit_seconds=60)
    result = {}

    def run():
        from django.db import connection

        try:
            result["schedule"] = services.schedule_solve(schedule_id=schedule.pk, actor=planner)
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    for _ in range(100):
        if Schedule.objects.get(pk=schedule.pk).solver_status == SolverStatus.RUNNING:
            break
        threading.Event().wait(0.1)
    services.schedule_stop(actor=planner, schedule=schedule)
    worker.join(30)
    assert not worker.is_alive()
    assert result["schedule"].solver_status == SolverStatus.STOPPED


def test_maintenance_planned_after_the_solve_is_a_conflict_and_blocks_publishing(
    plant, demand, planner, maintenance_user
):
    from equipment import services as equipment_services

    schedule = _solved(plant, planner)
    batch = sorted(_real(schedule, EntryKind.BATCH), key=lambda e: e.start)[0]
    equipment_services.maintenance_work_order_create(
        actor=maintenance_user,
        unit=batch.unit,
        title="Agitator seal",
        due_at=batch.start + timedelta(minutes=30),
    )
    _problems, by_entry = services.schedule_conflicts(schedule)
    assert by_entry[batch.pk].startswith(f"{batch.unit.code}: {batch.label} falls in a window")
    with pytest.raises(Conflict, match="breaks a rule"):
        services.schedule_publish(actor=planner, schedule=schedule)
    # re-optimizing takes the maintenance into account
    services.schedule_request_solve(actor=planner, schedule=schedule)
    schedule = services.schedule_solve(schedule_id=schedule.pk, actor=planner)
    assert services.schedule_conflicts(schedule) == ([], {})
    services.schedule_publish(actor=planner, schedule=schedule)
