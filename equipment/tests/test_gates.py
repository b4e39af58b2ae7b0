"""THE gate: may this unit / instrument be used now? Every refusal names its reason and
writes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from equipment import services
from equipment.choices import EquipmentStatus, LogEntryType
from equipment.exceptions import EquipmentNotUsable, InstrumentNotUsable
from equipment.models import EquipmentEvent, Unit, UnitLogEntry
from equipment.tests.conftest import HOUR, clean, snapshot, use
from equipment.tests.factories import (
    CleaningRuleFactory,
    InstrumentFactory,
    UnitFactory,
    WorkCenterFactory,
)
from mes.exceptions import DomainError

pytestmark = pytest.mark.django_db


def _refused_start(unit, actor, product="RES-100", at=None):
    before = snapshot(unit)
    with pytest.raises(EquipmentNotUsable) as caught:
        services.unit_start_use(
            actor=actor, unit=unit, batch_ref="RB-1", product_code=product, at=at
        )
    assert snapshot(unit) == before
    return caught.value


# --- the happy path --------------------------------------------------------------------------


def test_clean_available_unit_is_usable_and_start_use_records_it(clean_reactor, operator, now):
    assert services.unit_usability(clean_reactor, product_code="RES-100") == (True, [])

    unit = services.unit_start_use(
        actor=operator,
        unit=clean_reactor,
        batch_ref="RB-1",
        product_code="RES-100",
        batch_url="/batches/1/",
        at=now,
    )

    unit.refresh_from_db()
    assert (unit.status, unit.current_batch_ref, unit.current_product_code) == (
        "in_use",
        "RB-1",
        "RES-100",
    )
    line = UnitLogEntry.objects.filter(unit=unit).latest("id")
    assert (line.type, line.batch_ref, line.product_code, line.batch_url, line.actor) == (
        LogEntryType.USE_STARTED,
        "RB-1",
        "RES-100",
        "/batches/1/",
        operator,
    )
    event = EquipmentEvent.objects.filter(unit=unit).latest("id")
    assert (event.type, event.from_status, event.to_status, event.actor) == (
        "unit.status_changed",
        "available",
        "in_use",
        operator,
    )


# --- each gate -------------------------------------------------------------------------------


def test_past_due_instrument_refuses_the_reading(db, now):
    probe = InstrumentFactory(
        code="PH-102",
        last_calibrated_at=now - timedelta(days=40),
        next_calibration_due_at=now - timedelta(days=10),
    )
    before = snapshot()

    with pytest.raises(InstrumentNotUsable) as caught:
        services.instrument_check_usable(probe, at=now)

    assert caught.value.reason_codes == ["calibration_past_due"]
    assert caught.value.code == "instrument_not_usable"
    assert caught.value.status_code == 409
    due = timezone.localtime(now - timedelta(days=10))
    assert caught.value.detail == (
        f"Instrument PH-102 cannot be used: PH-102 calibration past due since {due:%Y-%m-%d %H:%M}"
    )
    assert snapshot() == before


def test_instrument_within_its_interval_is_usable(db, now):
    probe = InstrumentFactory(next_calibration_due_at=now + timedelta(hours=1))
    assert services.instrument_usability(probe, at=now) == (True, [])
    services.instrument_check_usable(probe, at=now)


def test_never_calibrated_instrument_is_refused(db, now):
    probe = InstrumentFactory(code="TT-900", last_calibrated_at=None, next_calibration_due_at=None)
    ok, reasons = services.instrument_usability(probe, at=now)
    assert ok is False
    assert [(r.code, r.message) for r in reasons] == [
        ("calibration_missing", "TT-900 has no calibration")
    ]


def test_unit_with_instrument_past_due_is_refused(clean_reactor, operator, now):
    InstrumentFactory(
        code="TT-101",
        unit=clean_reactor,
        area=clean_reactor.area,
        next_calibration_due_at=now - timedelta(days=2),
    )

    refusal = _refused_start(clean_reactor, operator)

    assert refusal.reason_codes == ["instrument_past_due"]
    assert refusal.reasons[0].message.startswith("instrument TT-101 calibration past due since ")


def test_dirty_vessel_is_refused(clean_reactor, operator, now):
    use(clean_reactor, by=operator, batch="RB-0", product="RES-100", start=now - HOUR, end=now)

    refusal = _refused_start(clean_reactor, operator)

    assert refusal.reason_codes == ["cleaning_required"]
    assert refusal.reasons[0].message.startswith("cleaning required: dirty since use at ")


def test_never_cleaned_vessel_is_refused(reactor, operator):
    refusal = _refused_start(reactor, operator)
    assert [(r.code, r.message) for r in refusal.reasons] == [
        ("cleaning_required", "cleaning required: no cleaning recorded")
    ]


def test_clean_hold_expired_is_refused(reactor, operator, supervisor, now):
    CleaningRuleFactory(equipment_class=reactor.equipment_class, clean_hold_hours=72)
    clean(reactor, by=operator, verified_by=supervisor, at=now - 73 * HOUR)

    refusal = _refused_start(reactor, operator)

    assert refusal.reason_codes == ["clean_hold_expired"]
    assert "clean hold of 72 h expired at" in refusal.reasons[0].message


def test_clean_hold_not_yet_expired_is_usable(reactor, operator, supervisor, now):
    CleaningRuleFactory(equipment_class=reactor.equipment_class, clean_hold_hours=72)
    clean(reactor, by=operator, verified_by=supervisor, at=now - 71 * HOUR)
    assert services.unit_usability(reactor, product_code="RES-100", at=now) == (True, [])


def test_product_specific_clean_hold_overrides_the_class_rule(reactor, operator, supervisor, now):
    CleaningRuleFactory(equipment_class=reactor.equipment_class, clean_hold_hours=72)
    CleaningRuleFactory(
        equipment_class=None, unit=reactor, product_code="RES-STERILE", clean_hold_hours=4
    )
    clean(reactor, by=operator, verified_by=supervisor, at=now - 5 * HOUR)

    ok_any, _ = services.unit_usability(reactor, product_code="RES-100", at=now)
    ok_sterile, reasons = services.unit_usability(reactor, product_code="RES-STERILE", at=now)

    assert ok_any is True
    assert ok_sterile is False
    assert [r.code for r in reasons] == ["clean_hold_expired"]


def test_unverified_cleaning_is_refused(reactor, operator, now):
    services.unit_record_cleaning(
        actor=operator, unit=reactor, cleaning_type="major", at=now - HOUR
    )
    refusal = _refused_start(reactor, operator)
    assert refusal.reason_codes == ["cleaning_not_verified"]
    assert "by Olivia Operator not yet verified" in refusal.reasons[0].message


def test_dirty_hold_exceeded_is_refused_and_named(reactor, operator, supervisor, now):
    CleaningRuleFactory(equipment_class=reactor.equipment_class, dirty_hold_hours=24)
    clean(reactor, by=operator, verified_by=supervisor, at=now - 40 * HOUR)
    use(
        reactor,
        by=operator,
        batch="RB-0",
        product="RES-100",
        start=now - 30 * HOUR,
        end=now - 25 * HOUR,
    )

    refusal = _refused_start(reactor, operator)

    assert refusal.reason_codes == ["dirty_hold_exceeded"]
    assert "dirty hold of 24 h exceeded" in refusal.reasons[0].message


def test_product_change_after_minor_cleaning_needs_major(reactor, operator, supervisor, now):
    clean(reactor, by=operator, verified_by=supervisor, at=now - 10 * HOUR)
    use(
        reactor,
        by=operator,
        batch="RB-0",
        product="RES-100",
        start=now - 8 * HOUR,
        end=now - 6 * HOUR,
    )
    clean(reactor, by=operator, verified_by=supervisor, at=now - 5 * HOUR, kind="minor")

    assert services.unit_usability(reactor, product_code="RES-100", at=now) == (True, [])
    refusal = _refused_start(reactor, operator, product="RES-200")
    assert [(r.code, r.message) for r in refusal.reasons] == [
        (
            "major_cleaning_required",
            "major cleaning required: product change from RES-100 to RES-200, last cleaning "
            "was minor",
        )
    ]


def test_unit_in_maintenance_is_refused(clean_reactor, operator, maintenance_user):
    order = services.maintenance_work_order_create(
        actor=maintenance_user, unit=clean_reactor, title="Seal leak"
    )
    services.maintenance_work_order_start(actor=maintenance_user, work_order=order)

    refusal = _refused_start(Unit.objects.get(pk=clean_reactor.pk), operator)

    assert refusal.reason_codes == ["unit_in_maintenance"]
    assert refusal.reasons[0].message == "status is in maintenance"


def test_unit_out_of_service_is_refused(clean_reactor, operator, maintenance_user):
    services.unit_change_status(
        actor=maintenance_user,
        unit=clean_reactor,
        to_status=EquipmentStatus.OUT_OF_SERVICE,
        reason="agitator motor burnt",
    )
    refusal = _refused_start(Unit.objects.get(pk=clean_reactor.pk), operator)
    assert refusal.reason_codes == ["unit_out_of_service"]
    assert refusal.detail == "Unit R-101 cannot be used: status is out of service"


def test_unit_in_use_is_refused_for_a_second_batch(clean_reactor, operator, now):
    services.unit_start_use(
        actor=operator, unit=clean_reactor, batch_ref="RB-1", product_code="RES-100", at=now
    )
    before = snapshot(clean_reactor)
    with pytest.raises(EquipmentNotUsable) as caught:
        services.unit_start_use(
            actor=operator, unit=clean_reactor, batch_ref="RB-2", product_code="RES-100"
        )
    assert caught.value.reason_codes == ["unit_in_use"]
    assert caught.value.reasons[0].message == "status is in use (batch RB-1)"
    assert snapshot(clean_reactor) == before


def test_every_reason_is_listed_at_once(reactor, operator, maintenance_user, now):
    InstrumentFactory(
        code="TT-101", unit=reactor, area=reactor.area, next_calibration_due_at=now - HOUR
    )
    services.unit_change_status(
        actor=maintenance_user, unit=reactor, to_status="out_of_service", reason="broken"
    )
    refusal = _refused_start(Unit.objects.get(pk=reactor.pk), operator)
    assert refusal.reason_codes == [
        "unit_out_of_service",
        "cleaning_required",
        "instrument_past_due",
    ]


def test_requirement_mismatch_is_listed_when_asked(clean_reactor, now):
    ok, reasons = services.unit_usability(
        clean_reactor,
        product_code="RES-100",
        equipment_class="mixer",
        min_volume_l=5000,
        capabilities=["glass-lined", "vacuum-rated"],
        at=now,
    )
    assert ok is False
    assert [(r.code, r.message) for r in reasons] == [
        ("equipment_class_mismatch", "R-101 is a reactor, not a mixer"),
        ("volume_too_small", "working volume 4000 L is below 5000 L"),
        ("capability_missing", "R-101 is not vacuum-rated"),
    ]
    assert services.unit_usability(
        clean_reactor,
        equipment_class="Reactor",
        min_volume_l=Decimal("2000"),
        capabilities=["glass-lined"],
        at=now,
    ) == (True, [])


def test_unit_check_usable_raises_with_http_409(reactor):
    with pytest.raises(EquipmentNotUsable) as caught:
        services.unit_check_usable(reactor)
    assert (caught.value.status_code, caught.value.code) == (409, "equipment_not_usable")


def test_work_center_gate_asks_every_unit(db, operator, supervisor, now):
    center = WorkCenterFactory()
    filler = UnitFactory(code="FIL-01", area=center.area, work_center=center, working_volume_l=None)
    labeller = UnitFactory(
        code="LAB-01", area=center.area, work_center=center, working_volume_l=None
    )
    clean(filler, by=operator, verified_by=supervisor, at=now - HOUR)

    ok, reasons = services.work_center_usability(center, at=now)

    assert ok is False
    assert [(r.code, r.message) for r in reasons] == [
        ("cleaning_required", "LAB-01: cleaning required: no cleaning recorded")
    ]
    clean(labeller, by=operator, verified_by=supervisor, at=now - HOUR / 2)
    services.work_center_check_usable(center)


def test_end_use_makes_the_unit_available_and_dirty(clean_reactor, operator, now):
    use(clean_reactor, by=operator, batch="RB-1", product="RES-100", start=now - HOUR, end=now)
    unit = Unit.objects.get(pk=clean_reactor.pk)
    assert (unit.status, unit.current_batch_ref) == ("available", "")
    assert list(unit.log_entries.values_list("type", "batch_ref")) == [
        ("cleaning.performed", ""),
        ("cleaning.verified", ""),
        ("use.started", "RB-1"),
        ("use.ended", "RB-1"),
    ]


def test_end_use_by_another_batch_is_refused(clean_reactor, operator, now):
    services.unit_start_use(
        actor=operator, unit=clean_reactor, batch_ref="RB-1", product_code="RES-100", at=now
    )
    before = snapshot(clean_reactor)
    with pytest.raises(DomainError) as caught:
        services.unit_end_use(actor=operator, unit=clean_reactor, batch_ref="RB-9")
    assert caught.value.code == "unit_used_by_other_batch"
    assert caught.value.detail == "R-101 is in use by batch RB-1, not RB-9."
    assert snapshot(clean_reactor) == before


def test_start_use_needs_the_use_permission(clean_reactor, qa_user):
    before = snapshot(clean_reactor)
    with pytest.raises(DomainError) as caught:
        services.unit_start_use(
            actor=qa_user, unit=clean_reactor, batch_ref="RB-1", product_code="RES-100"
        )
    assert caught.value.code == "permission_denied"
    assert caught.value.status_code == 403
    assert snapshot(clean_reactor) == before
