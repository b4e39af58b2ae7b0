"""Cleaning: the logbook lines, the derived cleaning state, the four-eyes verification."""

from datetime import timedelta

import pytest
from django.utils import timezone

from equipment import services
from equipment.choices import CleaningState
from equipment.models import UnitLogEntry
from equipment.selectors import unit_cleaning_status, unit_logbook
from equipment.tests.conftest import HOUR, clean, snapshot, use
from equipment.tests.factories import CleaningRuleFactory, UnitFactory
from mes.exceptions import DomainError

pytestmark = pytest.mark.django_db


def test_verification_by_the_person_who_cleaned_is_refused(reactor, operator, now):
    services.unit_record_cleaning(actor=operator, unit=reactor, cleaning_type="major", at=now)
    before = snapshot(reactor)

    with pytest.raises(DomainError) as caught:
        services.unit_verify_cleaning(actor=operator, unit=reactor)

    assert caught.value.code == "verifier_is_performer"
    assert caught.value.status_code == 403
    assert caught.value.detail == (
        "Olivia Operator performed this cleaning; another person must verify it."
    )
    assert snapshot(reactor) == before
    assert unit_cleaning_status(reactor).state == CleaningState.AWAITING_VERIFICATION


def test_verification_by_a_second_person_makes_the_unit_clean(reactor, operator, operator2, now):
    cleaning = services.unit_record_cleaning(
        actor=operator, unit=reactor, cleaning_type="major", at=now - HOUR, note="CIP"
    )
    verification = services.unit_verify_cleaning(
        actor=operator2, unit=reactor, at=now, note="visual OK"
    )

    assert (verification.type, verification.verifies, verification.actor) == (
        "cleaning.verified",
        cleaning,
        operator2,
    )
    status = unit_cleaning_status(reactor, at=now)
    assert (status.state, status.since, status.verified_by, status.last_cleaning_type) == (
        CleaningState.CLEAN,
        now - HOUR,
        operator2,
        "major",
    )
    [line] = [x for x in unit_logbook(unit=reactor) if x.entry.type == "cleaning.performed"]
    assert (line.verified_by, line.verified_at) == (operator2, now)


def test_a_cleaning_is_verified_once(reactor, operator, operator2, supervisor, now):
    services.unit_record_cleaning(actor=operator, unit=reactor, cleaning_type="minor", at=now)
    services.unit_verify_cleaning(actor=operator2, unit=reactor, at=now)
    before = snapshot(reactor)

    with pytest.raises(DomainError) as caught:
        services.unit_verify_cleaning(actor=supervisor, unit=reactor)

    assert caught.value.code == "already_verified"
    assert snapshot(reactor) == before


def test_nothing_to_verify_is_refused(reactor, supervisor):
    before = snapshot(reactor)
    with pytest.raises(DomainError) as caught:
        services.unit_verify_cleaning(actor=supervisor, unit=reactor)
    assert (caught.value.code, caught.value.detail) == (
        "nothing_to_verify",
        "R-101 has no cleaning to verify.",
    )
    assert snapshot(reactor) == before


def test_cleaning_a_unit_in_use_is_refused(clean_reactor, operator, now):
    services.unit_start_use(
        actor=operator, unit=clean_reactor, batch_ref="RB-1", product_code="RES-100", at=now
    )
    before = snapshot(clean_reactor)
    with pytest.raises(DomainError) as caught:
        services.unit_record_cleaning(actor=operator, unit=clean_reactor, cleaning_type="minor")
    assert (caught.value.code, caught.value.detail) == (
        "unit_in_use",
        "R-101 is in use by batch RB-1: end the use first.",
    )
    assert snapshot(clean_reactor) == before


def test_minor_cleaning_after_dirty_hold_exceeded_is_refused(reactor, operator, supervisor, now):
    CleaningRuleFactory(equipment_class=reactor.equipment_class, dirty_hold_hours=24)
    clean(reactor, by=operator, verified_by=supervisor, at=now - 40 * HOUR)
    use(
        reactor,
        by=operator,
        batch="RB-0",
        product="RES-100",
        start=now - 35 * HOUR,
        end=now - 30 * HOUR,
    )
    before = snapshot(reactor)

    with pytest.raises(DomainError) as caught:
        services.unit_record_cleaning(actor=operator, unit=reactor, cleaning_type="minor")

    assert caught.value.code == "major_cleaning_required"
    assert caught.value.detail.endswith(
        "dirty hold of 24 h exceeded at "
        f"{timezone.localtime(now - 6 * HOUR):%Y-%m-%d %H:%M}; a major cleaning is required."
    )
    assert snapshot(reactor) == before

    entry = services.unit_record_cleaning(actor=operator, unit=reactor, cleaning_type="major")
    assert entry.data == {"state_before": "dirty_hold_exceeded", "dirty_hold_exceeded": True}


def test_cleaning_state_follows_the_logbook(reactor, operator, supervisor, now):
    CleaningRuleFactory(
        equipment_class=reactor.equipment_class, clean_hold_hours=48, dirty_hold_hours=12
    )
    t0 = now - 100 * HOUR

    def state(at):
        return unit_cleaning_status(reactor, at=at).state

    assert state(t0) == CleaningState.NEVER_CLEANED
    services.unit_record_cleaning(actor=operator, unit=reactor, cleaning_type="major", at=t0)
    assert state(t0 + HOUR / 4) == CleaningState.AWAITING_VERIFICATION
    services.unit_verify_cleaning(actor=supervisor, unit=reactor, at=t0 + HOUR / 2)
    assert state(t0 + HOUR) == CleaningState.CLEAN
    assert state(t0 + 49 * HOUR) == CleaningState.CLEAN_HOLD_EXPIRED
    use(reactor, by=operator, batch="RB-1", product="RES-100", start=t0 + 2 * HOUR)
    assert state(t0 + 3 * HOUR) == CleaningState.IN_USE
    services.unit_end_use(actor=operator, unit=reactor, batch_ref="RB-1", at=t0 + 10 * HOUR)
    assert state(t0 + 11 * HOUR) == CleaningState.DIRTY
    assert state(t0 + 22 * HOUR + timedelta(seconds=1)) == CleaningState.DIRTY_HOLD_EXCEEDED
    status = unit_cleaning_status(reactor, at=t0 + 11 * HOUR)
    assert (status.since, status.expires_at, status.last_product_code) == (
        t0 + 10 * HOUR,
        t0 + 22 * HOUR,
        "RES-100",
    )


def test_completed_maintenance_makes_the_unit_dirty(clean_reactor, maintenance_user, now):
    order = services.maintenance_work_order_create(
        actor=maintenance_user, unit=clean_reactor, title="Replace agitator seal"
    )
    services.maintenance_work_order_start(actor=maintenance_user, work_order=order)
    services.maintenance_work_order_complete(actor=maintenance_user, work_order=order)

    status = unit_cleaning_status(clean_reactor)

    assert status.state == CleaningState.DIRTY
    assert status.detail.startswith("dirty since maintenance at ")


def test_maintenance_without_cleaning_requirement_keeps_the_unit_clean(
    clean_reactor, maintenance_user
):
    order = services.maintenance_work_order_create(
        actor=maintenance_user,
        unit=clean_reactor,
        title="Check the jacket insulation",
        requires_cleaning_after=False,
    )
    services.maintenance_work_order_start(actor=maintenance_user, work_order=order)
    services.maintenance_work_order_complete(actor=maintenance_user, work_order=order)
    assert unit_cleaning_status(clean_reactor).state == CleaningState.CLEAN


def test_logbook_lines_cannot_be_backdated(clean_reactor, operator, now):
    before = snapshot(clean_reactor)
    with pytest.raises(DomainError) as caught:
        services.unit_start_use(
            actor=operator,
            unit=clean_reactor,
            batch_ref="RB-1",
            product_code="RES-100",
            at=now - 3 * HOUR,
        )
    # at now-3h the unit was not yet cleaned, so the gate refuses first
    assert caught.value.code == "equipment_not_usable"
    services.unit_record_cleaning(actor=operator, unit=clean_reactor, cleaning_type="minor", at=now)
    with pytest.raises(DomainError) as caught:
        services.unit_record_cleaning(
            actor=operator, unit=clean_reactor, cleaning_type="minor", at=now - HOUR
        )
    assert caught.value.code == "logbook_out_of_order"
    assert UnitLogEntry.objects.count() == before["log_entries"] + 1


def test_future_times_are_refused(reactor, operator, now):
    before = snapshot(reactor)
    with pytest.raises(DomainError) as caught:
        services.unit_record_cleaning(
            actor=operator, unit=reactor, cleaning_type="major", at=now + timedelta(hours=2)
        )
    assert caught.value.code == "time_in_future"
    assert snapshot(reactor) == before


def test_recording_cleaning_needs_the_permission(reactor, planner):
    before = snapshot(reactor)
    with pytest.raises(DomainError) as caught:
        services.unit_record_cleaning(actor=planner, unit=reactor, cleaning_type="major")
    assert caught.value.code == "permission_denied"
    assert snapshot(reactor) == before


def test_cleaning_rule_resolution_prefers_the_most_specific(db):
    unit = UnitFactory()
    other = UnitFactory()
    by_class = CleaningRuleFactory(equipment_class=unit.equipment_class, clean_hold_hours=72)
    by_class_product = CleaningRuleFactory(
        equipment_class=unit.equipment_class, product_code="P1", clean_hold_hours=48
    )
    by_unit = CleaningRuleFactory(equipment_class=None, unit=unit, clean_hold_hours=24)
    by_unit_product = CleaningRuleFactory(
        equipment_class=None, unit=unit, product_code="P1", clean_hold_hours=12
    )
    from equipment.selectors import cleaning_rule_for

    assert cleaning_rule_for(unit, "P1") == by_unit_product
    assert cleaning_rule_for(unit, "P2") == by_unit
    assert cleaning_rule_for(unit, None) == by_unit
    assert cleaning_rule_for(other, "P1") == by_class_product
    assert cleaning_rule_for(other, "P2") == by_class
