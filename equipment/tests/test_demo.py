"""The equipment demo step builds the plant, its history, and is idempotent."""

import pytest

from equipment.choices import CleaningState
from equipment.demo import build_demo_equipment
from equipment.models import Instrument, MaintenanceWorkOrder, Unit, UnitLogEntry
from equipment.selectors import (
    calibration_due_state,
    unit_cleaning_status,
    units_matching,
    units_with_instruments_past_due,
)
from equipment.services import unit_usability
from equipment.tests.factories import AreaFactory, SiteFactory
from mes.accounts.roles import Role
from mes.accounts.tests.factories import UserFactory
from mes.registry import DemoContext, demo_steps

pytestmark = pytest.mark.django_db


@pytest.fixture
def ctx(operator, supervisor, maintenance_user, qa_user, admin_user):
    site = SiteFactory()
    return DemoContext(
        actor=UserFactory(username="system", is_system=True, full_name="MES system"),
        site=site,
        areas={
            "RX": AreaFactory(site=site, code="RX"),
            "PK": AreaFactory(site=site, code="PK", kind="discrete"),
        },
        users={
            Role.OPERATOR.value: operator,
            Role.SUPERVISOR.value: supervisor,
            Role.MAINTENANCE.value: maintenance_user,
            Role.QA_REVIEWER.value: qa_user,
            Role.ADMINISTRATOR.value: admin_user,
        },
        password="",
        write=lambda line: None,
    )


def test_demo_step_is_registered():
    assert "equipment.plant" in [s.key for s in demo_steps()]


def test_demo_builds_the_plant_with_history(ctx):
    build_demo_equipment(ctx)

    r101, r102 = Unit.objects.get(code="R-101"), Unit.objects.get(code="R-102")
    assert (r101.working_volume_l, sorted(r101.capabilities.values_list("code", flat=True))) == (
        4000,
        ["agitated", "glass-lined", "jacketed"],
    )
    assert [u.code for u in units_matching("reactor", 2000, ["glass-lined"])] == ["R-101"]
    assert sorted(
        Unit.objects.filter(work_center__area__code="PK").values_list("code", flat=True)
    ) == ["ASM-01", "FIL-01", "INS-01", "LAB-01", "PCK-01"]
    assert (r101.hours_run, r101.batch_count) == (20, 2)

    assert unit_cleaning_status(r101).state == CleaningState.CLEAN
    assert unit_cleaning_status(r102).state == CleaningState.DIRTY
    assert unit_usability(r101, product_code="RES-100") == (True, [])
    assert [r.code for r in unit_usability(r102)[1]] == ["cleaning_required", "instrument_past_due"]
    assert [u.code for u in units_with_instruments_past_due()] == ["R-102"]
    states = {i.code: calibration_due_state(i) for i in Instrument.objects.all()}
    assert states == {
        "WS-101": "ok",
        "TT-101": "due_soon",
        "TT-102": "ok",
        "PH-102": "overdue",
        "CW-301": "ok",
    }
    assert (
        Instrument.objects.get(code="TT-101").calibrations.filter(as_found_result="fail").count()
        == 1
    )

    open_orders = MaintenanceWorkOrder.objects.filter(status="open").order_by("number")
    assert [(o.unit.code, o.kind, o.plan.code if o.plan else None) for o in open_orders] == [
        ("R-101", "preventive", "PM-R101-SEAL"),
        ("LAB-01", "corrective", None),
    ]


def test_demo_is_idempotent(ctx):
    build_demo_equipment(ctx)
    counts = (UnitLogEntry.objects.count(), MaintenanceWorkOrder.objects.count())
    ctx.changes.clear()

    build_demo_equipment(ctx)

    assert ctx.changes == []
    assert (UnitLogEntry.objects.count(), MaintenanceWorkOrder.objects.count()) == counts
