"""The discrete checklist items flip with the installation: labor clocked on every operation
or not, scrap recorded at the operation or keyed in at close, every unit's components linked
at their operation or a unit finished on paper."""

import pytest

from mes.diagnostic.services import assessment_run
from mes.diagnostic.tests.factories import item, period, symptom
from quality import services as quality
from tests.diagnostic.factories import (
    box_shift,
    mark_finished_on_paper,
    op,
    scrap_keyed_at_close,
    unit_through,
)
from workorders import services as wo

pytestmark = pytest.mark.django_db


def test_a_work_order_with_labor_and_quantities_at_every_operation_passes(
    box_wo, operator, supervisor, qa_user
):
    box_shift(box_wo, operator)
    wo.work_order_close(actor=supervisor, work_order=box_wo)

    a = assessment_run(actor=qa_user, period=period())

    labor = item(a, "workorders.labor_at_operation")
    assert (labor["status"], labor["measured"]["share"]) == ("pass", 1.0)
    assert item(a, "workorders.scrap_by_operation")["status"] == "pass"
    assert symptom(a, "zero_labor_variance") == "not_present"
    assert symptom(a, "scrap_not_by_operation") == "not_present"


def test_a_closed_work_order_with_an_operation_without_labor_shows_zero_labor_variance(
    box_wo, operator, supervisor, qa_user
):
    box_shift(box_wo, operator, labor_on=(10,))
    wo.work_order_close(actor=supervisor, work_order=box_wo)

    a = assessment_run(actor=qa_user, period=period())

    labor = item(a, "workorders.labor_at_operation")
    assert labor["status"] == "fail"
    assert labor["measured"] == {
        "closed": 1,
        "with_labor": 0,
        "share": 0.0,
        "operations_without_labor": 1,
    }
    assert labor["evidence"][-1]["value"] == box_wo.number
    assert symptom(a, "zero_labor_variance") == "present"


def test_scrap_keyed_in_at_close_shows_scrap_not_captured_by_operation(
    box_wo, operator, supervisor, qa_user
):
    box_shift(box_wo, operator)
    scrap_keyed_at_close(op(box_wo, 10), 2)
    wo.work_order_close(actor=supervisor, work_order=box_wo)  # it balances: 12 = 10 + 2

    a = assessment_run(actor=qa_user, period=period())

    scrap = item(a, "workorders.scrap_by_operation")
    assert scrap["status"] == "fail"
    assert (scrap["measured"]["reconciled"], scrap["measured"]["operations_unreported"]) == (0, 1)
    assert symptom(a, "scrap_not_by_operation") == "present"


def test_a_unit_finished_without_its_components_shows_missing_linkage(
    released_wo, operator, qa_user
):
    quality.characteristic_create(
        actor=qa_user, key="kit-lid-torque", name="Lid torque", lsl="2.0", usl="4.0"
    )
    first, second, _ = released_wo.units.order_by("serial_number")
    unit_through(released_wo, first, operator, pail="PS-001")

    before = assessment_run(actor=qa_user, period=period())
    mark_finished_on_paper(second)
    after = assessment_run(actor=qa_user, period=period())

    assert item(before, "workorders.component_linkage")["measured"] == {
        "units": 1,
        "linked": 1,
        "unlinked": 0,
    }
    assert symptom(before, "missing_component_linkage") == "not_present"
    found = item(after, "workorders.component_linkage")
    assert (found["status"], found["measured"]["unlinked"]) == ("fail", 1)
    assert found["evidence"][-1]["value"] == second.serial_number
    assert symptom(after, "missing_component_linkage") == "present"
