"""On PostgreSQL the database itself keeps the equipment records: the logbook, calibrations
and events are append-only, units and instruments are never deleted, and every write is in
the audit trail with its actor."""

import pytest
from django.db import DatabaseError, transaction

from equipment import services
from equipment.models import CalibrationRecord, EquipmentEvent, Unit, UnitLogEntry
from equipment.tests.factories import InstrumentFactory, UnitFactory
from mes.audit.models import AuditEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _refused(action):
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        action()
    return str(caught.value)


def test_records_are_append_only(operator, maintenance_user):
    unit = UnitFactory(code="R-101")
    entry = services.unit_record_cleaning(actor=operator, unit=unit, cleaning_type="major")
    record = services.instrument_record_calibration(
        actor=maintenance_user, instrument=InstrumentFactory(), as_found_passed=True
    )

    assert "append-only" in _refused(
        lambda: UnitLogEntry.objects.filter(pk=entry.pk).update(note="tampered")
    )
    assert "append-only" in _refused(
        lambda: CalibrationRecord.objects.filter(pk=record.pk).delete()
    )
    assert "append-only" in _refused(lambda: EquipmentEvent.objects.all().delete())
    assert UnitLogEntry.objects.get(pk=entry.pk).note == ""


def test_units_are_never_deleted(db):
    unit = UnitFactory(code="R-101")
    assert "DELETE refused on equipment_unit: GMP records of this table are never deleted" in (
        _refused(lambda: Unit.objects.filter(pk=unit.pk).delete())
    )
    assert Unit.objects.filter(pk=unit.pk).exists()


def test_the_trail_names_the_actor_of_a_service(operator):
    unit = UnitFactory(code="R-101")
    entry = services.unit_record_cleaning(actor=operator, unit=unit, cleaning_type="major")

    event = AuditEvent.objects.get(table_name="equipment_unitlogentry", record_pk=str(entry.pk))

    assert (event.action, event.user_name, event.reason) == (
        "INSERT",
        "olivia.operator",
        "major cleaning",
    )
