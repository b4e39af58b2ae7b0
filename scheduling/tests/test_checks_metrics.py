"""The self-audit item (vessel-blind scheduling) and the schedule-adherence metric."""

from datetime import timedelta

import pytest
from django.utils import timezone

from batches import services as batch_services
from mes.registry import Period, capability_checks, metrics
from scheduling import services
from scheduling.checks import vessels_scheduled_with_changeovers
from scheduling.metrics import schedule_adherence
from scheduling.models import EntryKind

pytestmark = pytest.mark.django_db


def _period():
    now = timezone.now()
    return Period(start=now - timedelta(days=1), end=now + timedelta(minutes=10))


def test_both_are_registered():
    assert "scheduling.vessels_scheduled_with_changeovers" in {c.key for c in capability_checks()}
    check = next(c for c in capability_checks() if c.key.startswith("scheduling."))
    assert check.symptom == "vessel_blind_scheduling"
    assert "scheduling.adherence" in {m.key for m in metrics()}


def test_not_applicable_without_batches(db):
    assert vessels_scheduled_with_changeovers(_period()).status == "not_applicable"


def test_a_batch_started_before_scheduling_went_live_warns(plant, demand, planner, operator):
    batch_services.batch_start(actor=operator, batch=demand.batches[0], unit=plant.r1)
    result = vessels_scheduled_with_changeovers(_period())
    assert result.status == "warning"
    assert result.measured == {
        "batches": 1,
        "before_go_live": 1,
        "unscheduled": 0,
        "invalid_cleaning": 0,
    }


def test_a_batch_run_off_the_published_schedule_fails(plant, demand, planner, operator):
    schedule = services.schedule_create(actor=planner, site=plant.site, time_limit_seconds=1)
    services.schedule_solve(schedule_id=schedule.pk, actor=planner)
    services.schedule_publish(actor=planner, schedule=schedule)
    first = schedule.entries.filter(kind=EntryKind.BATCH).order_by("start", "unit__code").first()
    other = plant.r2 if first.unit_id == plant.r1.pk else plant.r1
    batch_services.batch_start(actor=operator, batch=first.batch, unit=other)

    result = vessels_scheduled_with_changeovers(_period())
    assert result.status == "fail"
    assert result.measured == {
        "batches": 1,
        "before_go_live": 0,
        "unscheduled": 1,
        "invalid_cleaning": 0,
    }


def test_a_batch_run_as_published_passes_and_counts_as_adherent(plant, demand, planner, operator):
    schedule = services.schedule_create(actor=planner, site=plant.site, time_limit_seconds=1)
    services.schedule_solve(schedule_id=schedule.pk, actor=planner)
    services.schedule_publish(actor=planner, schedule=schedule)
    first = schedule.entries.filter(kind=EntryKind.BATCH).order_by("start", "unit__code").first()
    batch_services.batch_start(actor=operator, batch=first.batch, unit=first.unit)

    result = vessels_scheduled_with_changeovers(_period())
    assert result.status == "pass", result.summary
    adherence = schedule_adherence(_period())
    row = next(r for r in adherence.rows if r["resource"] == first.unit.code)
    assert row["started"] == 1
    assert row["within_tolerance_pct"] == 100.0
    assert abs(row["mean_lateness_min"]) <= 2
