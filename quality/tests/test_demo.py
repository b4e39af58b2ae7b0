"""The quality part of the demo plant: specs, results (one failing), a released lot, an open
deviation with a CAPA action, an SPC chart with violations; a second run changes nothing."""

import pytest

from genealogy.choices import LotStatus
from genealogy.models import Lot
from mes.accounts.models import User
from mes.accounts.roles import Role
from mes.esign.selectors import signatures_for_record
from mes.registry import DemoContext, demo_steps
from quality import selectors
from quality.demo import FAILING_LOT, RELEASED_LOT, build_demo_quality
from quality.models import (
    Characteristic,
    Deviation,
    LabResult,
    LotDisposition,
    Specification,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def ctx(qa_user, supervisor):
    return DemoContext(
        actor=User.objects.get(username="system"),
        site=None,
        areas={},
        users={Role.QA_REVIEWER.value: qa_user, Role.SUPERVISOR.value: supervisor},
        password="unused",
        write=lambda line: None,
    )


def test_the_step_is_registered_after_genealogy():
    keys = [step.key for step in demo_steps()]

    assert keys.index("genealogy.lots") < keys.index("quality.specs_results_deviations")


def test_demo_quality(ctx, qa_user):
    build_demo_quality(ctx)

    assert sorted(
        Specification.objects.filter(status="approved").values_list("material__code", flat=True)
    ) == ["PS-RESIN", "STY", "XYL"]
    released = Lot.objects.get(lot_number=RELEASED_LOT)
    failing = Lot.objects.get(lot_number=FAILING_LOT)
    assert (released.status, failing.status) == (LotStatus.RELEASED, LotStatus.QUARANTINE)
    [disposition] = LotDisposition.objects.filter(lot=released)
    assert [(s.meaning, s.signer, s.is_valid) for s in signatures_for_record(disposition)] == [
        ("released", qa_user, True)
    ]
    assert list(
        LabResult.objects.filter(outcome="fail").values_list("lot__lot_number", "spec_test__name")
    ) == [(FAILING_LOT, "Purity")]
    [deviation] = Deviation.objects.all()
    assert (deviation.status, deviation.classification) == ("investigation", "major")
    assert [(a.status, a.owner.username) for a in deviation.capa_actions.all()] == [
        ("open", "sam.supervisor")
    ]
    state = selectors.lot_quality(failing)
    assert [code for code, _ in state.blockers] == ["failing_results", "open_deviation"]
    chart = selectors.spc_chart(Characteristic.objects.get(key="rx-resin-viscosity"))
    assert chart.total_values == 24
    assert sorted({v.rule for v in chart.violations}) == [1, 4]


def test_a_second_run_changes_nothing(ctx):
    build_demo_quality(ctx)
    first = list(ctx.changes)

    ctx.changes.clear()
    build_demo_quality(ctx)

    assert len(first) > 10
    assert ctx.changes == []
