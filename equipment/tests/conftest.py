"""Fixtures of the equipment tests: a reactor, and helpers that build history through the
services (never by writing records directly)."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from equipment import services
from equipment.models import (
    CalibrationRecord,
    EquipmentEvent,
    Instrument,
    MaintenancePlan,
    MaintenanceWorkOrder,
    Unit,
    UnitLogEntry,
)
from equipment.tests.factories import UnitFactory

HOUR = timedelta(hours=1)


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def reactor(db):
    return UnitFactory(code="R-101", name="Reactor 101", capabilities=["glass-lined", "jacketed"])


def clean(unit, *, by, verified_by, at, kind="major"):
    """A cleaning at `at`, verified 30 minutes later."""
    entry = services.unit_record_cleaning(actor=by, unit=unit, cleaning_type=kind, at=at)
    services.unit_verify_cleaning(actor=verified_by, unit=unit, at=at + HOUR / 2)
    return entry


def use(unit, *, by, batch, product, start, end=None):
    services.unit_start_use(actor=by, unit=unit, batch_ref=batch, product_code=product, at=start)
    if end is not None:
        services.unit_end_use(actor=by, unit=unit, batch_ref=batch, at=end)


@pytest.fixture
def clean_reactor(reactor, operator, supervisor, now):
    """R-101 cleaned (major) two hours ago and verified."""
    clean(reactor, by=operator, verified_by=supervisor, at=now - 2 * HOUR)
    return reactor


def snapshot(unit: Unit | None = None) -> dict:
    """What a refused action must leave untouched."""
    data = {
        "log_entries": UnitLogEntry.objects.count(),
        "events": EquipmentEvent.objects.count(),
        "calibrations": CalibrationRecord.objects.count(),
        "work_orders": MaintenanceWorkOrder.objects.count(),
        "instruments": list(
            Instrument.objects.order_by("pk").values_list(
                "status", "next_calibration_due_at", "last_calibrated_at"
            )
        ),
        "plans": list(
            MaintenancePlan.objects.order_by("pk").values_list(
                "last_completed_at", "hours_at_last_completion", "batches_at_last_completion"
            )
        ),
    }
    if unit is not None:
        fresh = Unit.objects.get(pk=unit.pk)
        data["unit"] = (
            fresh.status,
            fresh.current_batch_ref,
            fresh.current_product_code,
            fresh.hours_run,
            fresh.batch_count,
        )
    return data
