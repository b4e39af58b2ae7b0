"""Calibration records: as found / as left against the tolerance, next due, status."""

from datetime import timedelta
from decimal import Decimal

import pytest

from equipment import services
from equipment.models import CalibrationRecord, EquipmentEvent
from equipment.signals import instrument_calibrated
from equipment.tests.conftest import snapshot
from equipment.tests.factories import InstrumentFactory
from mes.exceptions import DomainError

pytestmark = pytest.mark.django_db


@pytest.fixture
def probe(db, now):
    return InstrumentFactory(
        code="TT-101",
        tolerance=Decimal("0.5"),
        calibration_interval_days=90,
        last_calibrated_at=now - timedelta(days=100),
        next_calibration_due_at=now - timedelta(days=10),
    )


def test_passing_calibration_sets_the_next_due_date(probe, maintenance_user, now):
    record = services.instrument_record_calibration(
        actor=maintenance_user,
        instrument=probe,
        performed_at=now,
        reference_value=Decimal("25.00"),
        as_found_value=Decimal("25.40"),
        certificate_ref="CAL-2026-001",
    )

    probe.refresh_from_db()
    assert (record.as_found_result, record.as_left_result, record.as_left_value) == (
        "pass",
        "pass",
        Decimal("25.40"),
    )
    assert record.next_due_at == now + timedelta(days=90)
    assert (probe.last_calibrated_at, probe.next_calibration_due_at, probe.status) == (
        now,
        now + timedelta(days=90),
        "in_service",
    )
    services.instrument_check_usable(probe, at=now + timedelta(days=89))
    event = EquipmentEvent.objects.get(instrument=probe)
    assert (event.type, event.data["as_found_out_of_tolerance"], event.actor) == (
        "instrument.calibrated",
        False,
        maintenance_user,
    )


def test_found_out_of_tolerance_and_adjusted_passes_and_is_announced(
    probe, maintenance_user, now, django_capture_on_commit_callbacks
):
    heard = []

    def receiver(sender, **kwargs):
        heard.append((kwargs["as_found_passed"], kwargs["as_left_passed"]))

    instrument_calibrated.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            record = services.instrument_record_calibration(
                actor=maintenance_user,
                instrument=probe,
                performed_at=now,
                reference_value=Decimal("25.00"),
                as_found_value=Decimal("25.60"),
                as_left_value=Decimal("25.10"),
            )
    finally:
        instrument_calibrated.disconnect(receiver)

    assert (record.as_found_result, record.as_left_result) == ("fail", "pass")
    assert heard == [(False, True)]
    assert EquipmentEvent.objects.get(instrument=probe).data["as_found_out_of_tolerance"] is True


def test_failed_calibration_takes_the_instrument_out_of_service(probe, maintenance_user, now):
    record = services.instrument_record_calibration(
        actor=maintenance_user,
        instrument=probe,
        performed_at=now,
        reference_value=Decimal("25.00"),
        as_found_value=Decimal("26.00"),
        as_left_value=Decimal("25.80"),
    )

    probe.refresh_from_db()
    assert record.as_left_result == "fail"
    assert (probe.status, probe.next_calibration_due_at) == ("out_of_service", now)
    ok, reasons = services.instrument_usability(probe, at=now + timedelta(minutes=1))
    assert ok is False
    assert [r.code for r in reasons] == ["instrument_out_of_service", "calibration_past_due"]


def test_stated_results_for_a_certificate(probe, maintenance_user, now):
    record = services.instrument_record_calibration(
        actor=maintenance_user,
        instrument=probe,
        performed_at=now,
        as_found_passed=True,
        certificate_ref="VENDOR-778",
    )
    assert (record.as_found_result, record.as_left_result, record.certificate_ref) == (
        "pass",
        "pass",
        "VENDOR-778",
    )


def test_result_contradicting_the_reading_is_refused(probe, maintenance_user):
    before = snapshot()
    with pytest.raises(DomainError) as caught:
        services.instrument_record_calibration(
            actor=maintenance_user,
            instrument=probe,
            reference_value=Decimal("25.00"),
            as_found_value=Decimal("26.00"),
            as_found_passed=True,
        )
    assert caught.value.code == "calibration_result_contradicts_reading"
    assert caught.value.detail == (
        "The as-found result contradicts the reading (26.00 against 25.00 ± 0.5)."
    )
    assert snapshot() == before


def test_calibration_without_a_result_is_refused(probe, maintenance_user):
    before = snapshot()
    with pytest.raises(DomainError) as caught:
        services.instrument_record_calibration(actor=maintenance_user, instrument=probe)
    assert caught.value.code == "calibration_result_missing"
    assert snapshot() == before


def test_calibration_needs_the_permission(probe, operator):
    before = snapshot()
    with pytest.raises(DomainError) as caught:
        services.instrument_record_calibration(
            actor=operator, instrument=probe, as_found_passed=True
        )
    assert caught.value.code == "permission_denied"
    assert caught.value.detail == (
        "olivia.operator may not record a calibration (needs permission "
        "equipment.record_calibration)."
    )
    assert snapshot() == before
    assert CalibrationRecord.objects.count() == 0


def test_an_earlier_calibration_than_the_last_is_refused(probe, maintenance_user, now):
    before = snapshot()
    with pytest.raises(DomainError) as caught:
        services.instrument_record_calibration(
            actor=maintenance_user,
            instrument=probe,
            performed_at=now - timedelta(days=101),
            as_found_passed=True,
        )
    assert caught.value.code == "calibration_out_of_order"
    assert snapshot() == before


def test_out_of_service_and_back(probe, maintenance_user, now):
    services.instrument_record_calibration(
        actor=maintenance_user, instrument=probe, performed_at=now, as_found_passed=True
    )
    services.instrument_change_status(
        actor=maintenance_user, instrument=probe, to_status="out_of_service", reason="dropped"
    )
    probe.refresh_from_db()
    assert probe.status == "out_of_service"
    services.instrument_change_status(
        actor=maintenance_user, instrument=probe, to_status="in_service", reason="checked"
    )
    probe.refresh_from_db()
    assert probe.status == "in_service"
    assert list(
        EquipmentEvent.objects.filter(type="instrument.status_changed").values_list(
            "from_status", "to_status", "reason"
        )
    ) == [("in_service", "out_of_service", "dropped"), ("out_of_service", "in_service", "checked")]


def test_past_due_instrument_cannot_return_to_service(probe, maintenance_user):
    services.instrument_change_status(
        actor=maintenance_user, instrument=probe, to_status="out_of_service", reason="dropped"
    )
    before = snapshot()
    with pytest.raises(DomainError) as caught:
        services.instrument_change_status(
            actor=maintenance_user, instrument=probe, to_status="in_service", reason="found it"
        )
    assert (caught.value.code, caught.value.detail) == (
        "calibration_past_due",
        "TT-101 must be calibrated before it returns to service.",
    )
    assert snapshot() == before
