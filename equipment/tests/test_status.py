"""Equipment status: changed only by services, following the transition table, each change
an EquipmentEvent."""

import pytest

from equipment import services
from equipment.choices import EQUIPMENT_STATUS_TRANSITIONS, EquipmentStatus
from equipment.models import EquipmentEvent, Unit
from equipment.tests.conftest import snapshot, use
from equipment.tests.factories import UnitFactory
from mes.exceptions import DomainError

pytestmark = pytest.mark.django_db


def test_transition_table_covers_every_status():
    assert set(EQUIPMENT_STATUS_TRANSITIONS) == set(EquipmentStatus.values)
    assert EQUIPMENT_STATUS_TRANSITIONS[EquipmentStatus.IN_USE] == {
        EquipmentStatus.AVAILABLE,
        EquipmentStatus.OUT_OF_SERVICE,
    }


def test_out_of_service_and_back_with_events(db, maintenance_user):
    unit = UnitFactory(code="R-101")
    services.unit_change_status(
        actor=maintenance_user, unit=unit, to_status="out_of_service", reason="motor burnt"
    )
    services.unit_change_status(
        actor=maintenance_user, unit=unit, to_status="available", reason="motor replaced"
    )
    unit.refresh_from_db()
    assert unit.status == "available"
    assert list(
        EquipmentEvent.objects.filter(unit=unit).values_list(
            "type", "from_status", "to_status", "reason", "actor__username"
        )
    ) == [
        ("unit.status_changed", "available", "out_of_service", "motor burnt", "max.maint"),
        ("unit.status_changed", "out_of_service", "available", "motor replaced", "max.maint"),
    ]
    assert list(unit.log_entries.values_list("type", "note")) == [
        ("status.changed", "Out of service: motor burnt"),
        ("status.changed", "Available: motor replaced"),
    ]


@pytest.mark.parametrize(
    ("to_status", "code"),
    [("in_use", "invalid_transition"), ("in_maintenance", "invalid_transition")],
)
def test_in_use_and_in_maintenance_are_not_set_by_hand(db, maintenance_user, to_status, code):
    unit = UnitFactory()
    before = snapshot(unit)
    with pytest.raises(DomainError) as caught:
        services.unit_change_status(
            actor=maintenance_user, unit=unit, to_status=to_status, reason="try"
        )
    assert caught.value.code == code
    assert snapshot(unit) == before


def test_same_status_is_an_invalid_transition(db, maintenance_user):
    unit = UnitFactory(code="R-101")
    before = snapshot(unit)
    with pytest.raises(DomainError) as caught:
        services.unit_change_status(
            actor=maintenance_user, unit=unit, to_status="available", reason="again"
        )
    assert caught.value.detail == "R-101 cannot go from Available to Available."
    assert snapshot(unit) == before


def test_status_change_needs_a_reason(db, maintenance_user):
    unit = UnitFactory()
    before = snapshot(unit)
    with pytest.raises(DomainError) as caught:
        services.unit_change_status(
            actor=maintenance_user, unit=unit, to_status="out_of_service", reason=""
        )
    assert caught.value.code == "reason_required"
    assert snapshot(unit) == before


def test_operator_cannot_change_status(db, operator):
    unit = UnitFactory()
    before = snapshot(unit)
    with pytest.raises(DomainError) as caught:
        services.unit_change_status(
            actor=operator, unit=unit, to_status="out_of_service", reason="broken"
        )
    assert caught.value.code == "permission_denied"
    assert snapshot(unit) == before


def test_breakdown_during_use_ends_the_use(clean_reactor, operator, maintenance_user, now):
    use(clean_reactor, by=operator, batch="RB-1", product="RES-100", start=now)
    services.unit_change_status(
        actor=maintenance_user, unit=clean_reactor, to_status="out_of_service", reason="leak"
    )
    unit = Unit.objects.get(pk=clean_reactor.pk)
    assert (unit.status, unit.current_batch_ref) == ("out_of_service", "")
    assert list(unit.log_entries.values_list("type", "batch_ref", "note"))[-2:] == [
        ("use.ended", "RB-1", "use interrupted: leak"),
        ("status.changed", "", "Out of service: leak"),
    ]


def test_available_by_hand_while_in_use_is_refused(clean_reactor, operator, supervisor, now):
    use(clean_reactor, by=operator, batch="RB-1", product="RES-100", start=now)
    before = snapshot(clean_reactor)
    with pytest.raises(DomainError) as caught:
        services.unit_change_status(
            actor=supervisor, unit=clean_reactor, to_status="available", reason="done"
        )
    assert (caught.value.code, caught.value.detail) == (
        "unit_in_use",
        "R-101 is in use by batch RB-1: end the use instead.",
    )
    assert snapshot(clean_reactor) == before


def test_usage_counters_add_up(db, operator):
    unit = UnitFactory()
    services.unit_record_usage(actor=operator, unit=unit, hours="6.5", batches=1, ref="RB-1")
    services.unit_record_usage(actor=operator, unit=unit, hours=3, ref="WO-2")
    unit.refresh_from_db()
    assert (str(unit.hours_run), unit.batch_count) == ("9.50", 1)
    assert list(
        EquipmentEvent.objects.filter(type="unit.usage_recorded").values_list("reason", flat=True)
    ) == ["usage 6.5 h, 1 batch(es) (RB-1)", "usage 3 h, 0 batch(es) (WO-2)"]
