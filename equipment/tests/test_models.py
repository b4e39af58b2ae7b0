"""Invariants held by the database, and the audit declarations of the GMP tables."""

import pytest
from django.db import IntegrityError, transaction

from equipment import services
from equipment.models import (
    CalibrationRecord,
    CleaningRule,
    EquipmentEvent,
    Instrument,
    MaintenancePlan,
    MaintenanceWorkOrder,
    Unit,
    UnitLogEntry,
)
from equipment.tests.factories import (
    CleaningRuleFactory,
    EquipmentClassFactory,
    InstrumentFactory,
    MaintenancePlanFactory,
    ProcessCellFactory,
    UnitFactory,
    WorkCenterFactory,
)
from mes.audit.registry import audited_tables, is_audited
from mes.exceptions import Conflict

pytestmark = pytest.mark.django_db


def _refused(factory, **kwargs):
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**kwargs)


def test_cleaning_rule_is_for_a_unit_or_a_class_not_both():
    unit = UnitFactory()
    _refused(CleaningRuleFactory, unit=unit, equipment_class=EquipmentClassFactory())
    _refused(CleaningRuleFactory, unit=None, equipment_class=None)
    assert CleaningRule.objects.count() == 0


def test_one_active_rule_per_class_and_product():
    rule = CleaningRuleFactory(product_code="P1")
    _refused(CleaningRuleFactory, equipment_class=rule.equipment_class, product_code="P1")
    CleaningRuleFactory(equipment_class=rule.equipment_class, product_code="P1", is_active=False)
    assert CleaningRule.objects.count() == 2


def test_unit_sits_in_a_cell_or_a_work_center_not_both():
    cell = ProcessCellFactory()
    center = WorkCenterFactory(area=cell.area)
    _refused(UnitFactory, area=cell.area, process_cell=cell, work_center=center)
    assert Unit.objects.count() == 0


def test_unit_status_and_volume_are_checked():
    _refused(UnitFactory, status="broken")
    _refused(UnitFactory, working_volume_l=0)
    assert Unit.objects.count() == 0


def test_instrument_interval_must_be_positive():
    _refused(InstrumentFactory, calibration_interval_days=0)
    assert Instrument.objects.count() == 0


def test_plan_needs_the_interval_of_its_trigger():
    _refused(MaintenancePlanFactory, trigger="hours", interval_days=30, interval_hours=None)
    assert MaintenancePlan.objects.count() == 0


def test_one_open_work_order_per_plan(maintenance_user):
    plan = MaintenancePlanFactory()
    services._create_work_order(
        actor=maintenance_user,
        unit=plan.unit,
        kind="preventive",
        title="a",
        description="",
        due_at=None,
        requires_cleaning_after=True,
        plan=plan,
    )
    with pytest.raises(Conflict) as caught, transaction.atomic():
        services._create_work_order(
            actor=maintenance_user,
            unit=plan.unit,
            kind="preventive",
            title="b",
            description="",
            due_at=None,
            requires_cleaning_after=True,
            plan=plan,
        )
    assert caught.value.code == "already_open"
    assert MaintenanceWorkOrder.objects.count() == 1


def test_unit_clean_rejects_a_cell_of_another_area():
    from django.core.exceptions import ValidationError

    unit = UnitFactory.build(process_cell=ProcessCellFactory(area__code="OTHER"))
    unit.area = UnitFactory().area
    with pytest.raises(ValidationError) as caught:
        unit.clean()
    assert caught.value.message_dict == {
        "process_cell": ["The process cell belongs to another area."]
    }


def test_gmp_tables_are_audited_and_records_append_only():
    tables = {t.label: t for t in audited_tables()}
    for model in (UnitLogEntry, EquipmentEvent, CalibrationRecord):
        assert tables[model._meta.label].append_only is True
    for model in (Unit, Instrument, MaintenanceWorkOrder, MaintenancePlan):
        assert tables[model._meta.label].deletable is False
    assert is_audited(Unit.capabilities.through)
    assert is_audited(CleaningRule)
