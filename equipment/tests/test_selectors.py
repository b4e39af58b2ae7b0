"""Reads: matching units to a requirement, calibration flags, area scoping, the plant
model browser."""

from datetime import timedelta

import pytest
from guardian.shortcuts import assign_perm

from equipment import selectors
from equipment.choices import CleaningState
from equipment.tests.conftest import HOUR, clean
from equipment.tests.factories import (
    AreaFactory,
    EquipmentClassFactory,
    InstrumentFactory,
    ProcessCellFactory,
    UnitFactory,
    WorkCenterFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant(db):
    rx = AreaFactory(code="RX")
    pk = AreaFactory(code="PK", kind="discrete")
    cell = ProcessCellFactory(area=rx)
    center = WorkCenterFactory(area=pk)
    return {
        "rx": rx,
        "pk": pk,
        "R-101": UnitFactory(
            code="R-101", area=rx, process_cell=cell, capabilities=["glass-lined", "jacketed"]
        ),
        "R-102": UnitFactory(
            code="R-102",
            area=rx,
            process_cell=cell,
            working_volume_l=2500,
            capabilities=["stainless"],
        ),
        "R-103": UnitFactory(code="R-103", area=rx, working_volume_l=8000, is_active=False),
        "M-1": UnitFactory(
            code="M-1",
            area=rx,
            equipment_class=EquipmentClassFactory(name="mixer"),
            working_volume_l=5000,
            capabilities=["glass-lined"],
        ),
        "FIL-01": UnitFactory(
            code="FIL-01",
            area=pk,
            work_center=center,
            equipment_class=EquipmentClassFactory(name="filler"),
            working_volume_l=None,
        ),
    }


def _codes(units):
    return [u.code for u in units]


def test_units_matching_class_volume_and_capabilities(plant):
    assert _codes(selectors.units_matching("reactor", 2000, ["glass-lined"])) == ["R-101"]
    assert _codes(selectors.units_matching("reactor", 2000)) == ["R-102", "R-101"]
    assert _codes(selectors.units_matching("reactor", 3000)) == ["R-101"]
    assert _codes(selectors.units_matching(None, None, ["glass-lined"])) == ["R-101", "M-1"]
    assert _codes(selectors.units_matching("reactor", area=plant["pk"])) == []
    assert _codes(selectors.units_matching("reactor", 2000, ["glass-lined", "stainless"])) == []


def test_units_with_an_instrument_past_due_are_flagged(plant, now):
    InstrumentFactory(code="PH-102", unit=plant["R-102"], next_calibration_due_at=now - HOUR)
    InstrumentFactory(code="TT-101", unit=plant["R-101"], next_calibration_due_at=now + HOUR)
    InstrumentFactory(code="WS-1", unit=None, next_calibration_due_at=now - HOUR)

    assert _codes(selectors.units_with_instruments_past_due(at=now)) == ["R-102"]
    assert _codes(selectors.instruments_past_due(at=now).order_by("code")) == ["PH-102", "WS-1"]
    assert _codes(selectors.instruments_due_soon(at=now)) == ["TT-101"]


def test_calibration_due_state(db, now):
    assert (
        selectors.calibration_due_state(
            InstrumentFactory(next_calibration_due_at=now - HOUR), at=now
        )
        == "overdue"
    )
    assert (
        selectors.calibration_due_state(
            InstrumentFactory(next_calibration_due_at=now + timedelta(days=13)), at=now
        )
        == "due_soon"
    )
    assert (
        selectors.calibration_due_state(
            InstrumentFactory(next_calibration_due_at=now + timedelta(days=15)), at=now
        )
        == "ok"
    )


def test_operator_sees_only_granted_areas(plant, operator):
    assert _codes(selectors.unit_list(actor=operator)) == []
    assign_perm("equipment.operate_in_area", operator, plant["pk"])
    assert _codes(selectors.unit_list(actor=operator)) == ["FIL-01"]


def test_supervisor_sees_the_whole_plant(plant, supervisor):
    assert _codes(selectors.unit_list(actor=supervisor)) == ["FIL-01", "M-1", "R-101", "R-102"]
    assert _codes(selectors.unit_list(actor=supervisor, include_inactive=True)) == [
        "FIL-01",
        "M-1",
        "R-101",
        "R-102",
        "R-103",
    ]


def test_plant_model_groups_units_with_state(
    plant, supervisor, operator, django_assert_max_num_queries, now
):
    clean(plant["R-101"], by=operator, verified_by=supervisor, at=now - HOUR)
    InstrumentFactory(code="PH-102", unit=plant["R-102"], next_calibration_due_at=now - HOUR)

    with django_assert_max_num_queries(12):
        sites = selectors.plant_model(actor=supervisor, at=now)

    [site] = sites
    assert [a.area.code for a in site.areas] == ["PK", "RX"]
    pk_area, rx_area = site.areas
    assert [(g.kind, g.code, [r.unit.code for r in g.units]) for g in rx_area.groups] == [
        ("Process cell", "RX-C1", ["R-101", "R-102"]),
        ("", "", ["M-1"]),
    ]
    assert [(g.kind, g.code) for g in pk_area.groups] == [("Work center", "PK-FIL")]
    rows = {r.unit.code: r for g in rx_area.groups for r in g.units}
    assert rows["R-101"].cleaning.state == CleaningState.CLEAN
    assert rows["R-102"].cleaning.state == CleaningState.NEVER_CLEANED
    assert [i.code for i in rows["R-102"].instruments_past_due] == ["PH-102"]
    assert rows["R-101"].is_flagged is False


def test_cleaning_statuses_use_a_fixed_number_of_queries(
    db, operator, supervisor, django_assert_num_queries, now
):
    units = [UnitFactory() for _ in range(6)]
    for unit in units:
        clean(unit, by=operator, verified_by=supervisor, at=now - HOUR)
    with django_assert_num_queries(4):
        statuses = selectors.cleaning_statuses(units, at=now)
    assert {s.state for s in statuses.values()} == {CleaningState.CLEAN}
