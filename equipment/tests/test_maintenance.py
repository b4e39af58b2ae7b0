"""Preventive maintenance by calendar and by usage; maintenance work orders move the unit
in and out of maintenance."""

from datetime import timedelta
from decimal import Decimal

import pytest

from equipment import services
from equipment.models import EquipmentEvent, MaintenancePlan, MaintenanceWorkOrder, Unit
from equipment.tasks import generate_preventive_maintenance
from equipment.tests.conftest import HOUR, snapshot, use
from equipment.tests.factories import MaintenancePlanFactory, UnitFactory
from mes.accounts.tests.factories import UserFactory
from mes.exceptions import DomainError

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


@pytest.fixture
def system_user(db):
    """The Celery principal (made by migration; get-or-create survives a flush)."""
    return UserFactory(username="celery", is_system=True, full_name="MES background worker")


# --- generation by calendar ------------------------------------------------------------------


def test_calendar_plan_creates_a_work_order_when_due(db, system_user, now):
    plan = MaintenancePlanFactory(
        code="PM-R101-SEAL", interval_days=30, starts_at=now - 31 * DAY, unit__code="R-101"
    )

    created = services.maintenance_plans_generate_due(actor=system_user, at=now)

    assert [o.plan for o in created] == [plan]
    order = created[0]
    assert (order.number, order.kind, order.status, order.unit.code, order.due_at) == (
        "MWO-000001",
        "preventive",
        "open",
        "R-101",
        now - DAY,
    )
    assert order.title == "Agitator seal inspection (PM-R101-SEAL)"
    assert order.created_by == system_user
    event = EquipmentEvent.objects.get(maintenance_work_order=order)
    assert (event.type, event.to_status, event.data["plan"]) == (
        "maintenance.created",
        "open",
        "PM-R101-SEAL",
    )


def test_calendar_plan_not_yet_due_creates_nothing(db, system_user, now):
    MaintenancePlanFactory(interval_days=30, starts_at=now - 29 * DAY)
    assert services.maintenance_plans_generate_due(actor=system_user, at=now) == []
    assert MaintenanceWorkOrder.objects.count() == 0


def test_lead_days_create_the_order_early(db, system_user, now):
    plan = MaintenancePlanFactory(interval_days=30, lead_days=3, starts_at=now - 28 * DAY)
    [order] = services.maintenance_plans_generate_due(actor=system_user, at=now)
    assert (order.plan, order.due_at) == (plan, now + 2 * DAY)


def test_an_open_order_is_not_duplicated(db, system_user, now):
    MaintenancePlanFactory(interval_days=30, starts_at=now - 40 * DAY)
    services.maintenance_plans_generate_due(actor=system_user, at=now)

    again = services.maintenance_plans_generate_due(actor=system_user, at=now + DAY)

    assert again == []
    assert MaintenanceWorkOrder.objects.count() == 1


def test_completion_restarts_the_calendar(db, system_user, maintenance_user, now):
    plan = MaintenancePlanFactory(interval_days=30, starts_at=now - 40 * DAY)
    [order] = services.maintenance_plans_generate_due(actor=system_user, at=now - 5 * DAY)
    services.maintenance_work_order_start(
        actor=maintenance_user, work_order=order, at=now - 4 * DAY
    )
    services.maintenance_work_order_complete(
        actor=maintenance_user, work_order=order, at=now - 4 * DAY + HOUR, note="seal replaced"
    )
    plan.refresh_from_db()
    assert plan.last_completed_at == now - 4 * DAY + HOUR

    assert services.maintenance_plans_generate_due(actor=system_user, at=now) == []
    [next_order] = services.maintenance_plans_generate_due(
        actor=system_user, at=now + 26 * DAY + HOUR
    )
    assert next_order.due_at == now + 26 * DAY + HOUR


# --- generation by usage ---------------------------------------------------------------------


def test_hours_plan_is_due_after_the_interval_of_run_hours(db, system_user, operator):
    unit = UnitFactory(code="FIL-01")
    plan = services.maintenance_plan_create(
        actor=system_user,
        unit=unit,
        code="PM-FIL01",
        name="Nozzle overhaul",
        trigger="hours",
        interval_hours=500,
    )
    services.unit_record_usage(actor=operator, unit=unit, hours=Decimal("499.5"))
    assert services.maintenance_plans_generate_due(actor=system_user) == []

    services.unit_record_usage(actor=operator, unit=unit, hours=Decimal("0.5"), ref="WO-7")
    [order] = services.maintenance_plans_generate_due(actor=system_user)

    assert (order.plan, order.hours_run_at_creation) == (plan, Decimal("500.00"))
    assert order.description.endswith("Due: 500.00 h run of 500.00 h")


def test_batches_plan_counts_from_its_creation(db, system_user, operator):
    unit = UnitFactory(code="R-102")
    services.unit_record_usage(actor=operator, unit=unit, batches=7)
    plan = services.maintenance_plan_create(
        actor=system_user,
        unit=unit,
        code="PM-R102",
        name="Gasket replacement",
        trigger="batches",
        interval_batches=3,
    )
    assert plan.batches_at_last_completion == 7
    services.unit_record_usage(actor=operator, unit=unit, batches=2)
    assert services.maintenance_plans_generate_due(actor=system_user) == []

    services.unit_record_usage(actor=operator, unit=unit, batches=1)
    [order] = services.maintenance_plans_generate_due(actor=system_user)

    assert (order.plan, order.batch_count_at_creation) == (plan, 10)


def test_usage_plan_restarts_from_the_counter_at_completion(
    db, system_user, operator, maintenance_user
):
    unit = UnitFactory()
    plan = MaintenancePlanFactory(
        unit=unit, trigger="batches", interval_days=None, interval_batches=2
    )
    services.unit_record_usage(actor=operator, unit=unit, batches=2)
    [order] = services.maintenance_plans_generate_due(actor=system_user)
    services.unit_record_usage(actor=operator, unit=unit, batches=1)
    services.maintenance_work_order_start(actor=maintenance_user, work_order=order)
    services.maintenance_work_order_complete(actor=maintenance_user, work_order=order)
    plan.refresh_from_db()
    assert plan.batches_at_last_completion == 3

    services.unit_record_usage(actor=operator, unit=unit, batches=1)
    assert services.maintenance_plans_generate_due(actor=system_user) == []
    services.unit_record_usage(actor=operator, unit=unit, batches=1)
    assert len(services.maintenance_plans_generate_due(actor=system_user)) == 1


def test_plan_without_an_interval_for_its_trigger_is_refused(db, system_user):
    unit = UnitFactory()
    with pytest.raises(DomainError) as caught:
        services.maintenance_plan_create(
            actor=system_user, unit=unit, code="PM-X", name="x", trigger="hours", interval_days=30
        )
    assert (caught.value.code, caught.value.detail) == (
        "interval_missing",
        "A hours plan needs a positive interval.",
    )
    assert MaintenancePlan.objects.count() == 0


def test_negative_usage_is_refused(db, operator):
    unit = UnitFactory()
    before = snapshot(unit)
    with pytest.raises(DomainError) as caught:
        services.unit_record_usage(actor=operator, unit=unit, hours=-1)
    assert caught.value.detail == "Usage cannot be negative."
    assert snapshot(unit) == before


# --- the Celery task -------------------------------------------------------------------------


def test_beat_task_generates_due_orders_as_the_celery_principal(system_user, now):
    MaintenancePlanFactory(code="PM-A", interval_days=7, starts_at=now - 8 * DAY)
    MaintenancePlanFactory(code="PM-B", interval_days=7, starts_at=now - 6 * DAY)

    numbers = generate_preventive_maintenance.apply().get()

    order = MaintenanceWorkOrder.objects.get()
    assert numbers == [order.number]
    assert (order.plan.code, order.created_by.username) == ("PM-A", "celery")


def test_beat_schedule_runs_the_task():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["equipment-preventive-maintenance"]
    assert entry["task"] == "equipment.generate_preventive_maintenance"
    assert entry["schedule"] == timedelta(minutes=60)


# --- the work order lifecycle ----------------------------------------------------------------


def test_start_puts_the_unit_in_maintenance_and_complete_makes_it_available(db, maintenance_user):
    unit = UnitFactory(code="R-101")
    order = services.maintenance_work_order_create(
        actor=maintenance_user, unit=unit, title="Seal leak", description="drips at the seal"
    )
    assert (order.kind, order.status) == ("corrective", "open")

    services.maintenance_work_order_start(actor=maintenance_user, work_order=order)
    assert Unit.objects.get(pk=unit.pk).status == "in_maintenance"

    order = services.maintenance_work_order_complete(
        actor=maintenance_user, work_order=order, note="seal replaced"
    )
    unit.refresh_from_db()
    assert (order.status, order.completed_by, order.completion_note) == (
        "completed",
        maintenance_user,
        "seal replaced",
    )
    assert unit.status == "available"
    assert list(
        EquipmentEvent.objects.filter(unit=unit).values_list("type", "from_status", "to_status")
    ) == [
        ("maintenance.created", "", "open"),
        ("maintenance.started", "open", "in_progress"),
        ("unit.status_changed", "available", "in_maintenance"),
        ("maintenance.completed", "in_progress", "completed"),
        ("unit.status_changed", "in_maintenance", "available"),
    ]
    assert list(unit.log_entries.values_list("type", flat=True)) == [
        "maintenance.started",
        "maintenance.completed",
    ]


def test_maintenance_cannot_start_while_the_unit_is_in_use(
    clean_reactor, operator, maintenance_user, now
):
    use(clean_reactor, by=operator, batch="RB-1", product="RES-100", start=now)
    order = services.maintenance_work_order_create(
        actor=maintenance_user, unit=clean_reactor, title="Seal leak"
    )
    before = snapshot(clean_reactor)

    with pytest.raises(DomainError) as caught:
        services.maintenance_work_order_start(actor=maintenance_user, work_order=order)

    assert (caught.value.code, caught.value.detail) == (
        "unit_in_use",
        "R-101 is in use by batch RB-1; maintenance can start when the use ends.",
    )
    assert snapshot(clean_reactor) == before
    order.refresh_from_db()
    assert order.status == "open"


def test_completing_an_open_order_is_refused(db, maintenance_user):
    order = services.maintenance_work_order_create(
        actor=maintenance_user, unit=UnitFactory(), title="Check"
    )
    before = snapshot()
    with pytest.raises(DomainError) as caught:
        services.maintenance_work_order_complete(actor=maintenance_user, work_order=order)
    assert (caught.value.code, caught.value.detail) == (
        "invalid_transition",
        f"{order.number} is open.",
    )
    assert snapshot() == before


def test_cancel_needs_a_reason_and_an_open_order(db, maintenance_user):
    order = services.maintenance_work_order_create(
        actor=maintenance_user, unit=UnitFactory(), title="Check"
    )
    with pytest.raises(DomainError) as caught:
        services.maintenance_work_order_cancel(actor=maintenance_user, work_order=order, reason=" ")
    assert caught.value.code == "reason_required"
    order = services.maintenance_work_order_cancel(
        actor=maintenance_user, work_order=order, reason="raised twice"
    )
    assert (order.status, order.cancel_reason) == ("cancelled", "raised twice")


def test_operator_cannot_execute_maintenance(db, maintenance_user, operator):
    order = services.maintenance_work_order_create(
        actor=maintenance_user, unit=UnitFactory(), title="Check"
    )
    before = snapshot()
    with pytest.raises(DomainError) as caught:
        services.maintenance_work_order_start(actor=operator, work_order=order)
    assert caught.value.code == "permission_denied"
    assert snapshot() == before


def test_manual_available_is_refused_while_maintenance_is_in_progress(db, maintenance_user):
    unit = UnitFactory()
    order = services.maintenance_work_order_create(actor=maintenance_user, unit=unit, title="Check")
    services.maintenance_work_order_start(actor=maintenance_user, work_order=order)
    before = snapshot(unit)
    with pytest.raises(DomainError) as caught:
        services.unit_change_status(
            actor=maintenance_user, unit=unit, to_status="available", reason="done?"
        )
    assert caught.value.detail == (
        f"{unit.code} is being maintained under {order.number}: complete it first."
    )
    assert snapshot(unit) == before


def test_command_dry_run_then_for_real(system_user, now):
    from io import StringIO

    from django.core.management import call_command

    plan = MaintenancePlanFactory(code="PM-A", interval_days=7, starts_at=now - 8 * DAY)
    out = StringIO()
    call_command("generate_maintenance_orders", "--dry-run", stdout=out)
    assert out.getvalue().splitlines()[-1] == "Dry run: 1 order(s) would be created; rolled back."
    assert MaintenanceWorkOrder.objects.count() == 0

    out = StringIO()
    call_command("generate_maintenance_orders", stdout=out)
    order = MaintenanceWorkOrder.objects.get()
    assert out.getvalue().splitlines() == [
        f"{order.number} {plan.unit.code}: Agitator seal inspection (PM-A) "
        f"(due {(now - DAY):%Y-%m-%d})",
        "1 maintenance work order(s) created.",
    ]
