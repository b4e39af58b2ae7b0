"""The demo step builds the plant's genealogy once: supplier lots -> resin batch -> sub-lots
-> serialized pails -> two customers."""

import pytest

from genealogy import selectors
from genealogy.demo import build_demo_genealogy
from genealogy.models import Lot, LotEvent
from mes.accounts.roles import Role
from mes.registry import DemoContext, demo_steps

pytestmark = pytest.mark.django_db


@pytest.fixture
def ctx(operator, supervisor, qa_user, admin_user):
    return DemoContext(
        actor=admin_user,
        site=None,
        areas={},
        users={
            Role.OPERATOR.value: operator,
            Role.SUPERVISOR.value: supervisor,
            Role.QA_REVIEWER.value: qa_user,
        },
        password="x",
        write=lambda text: None,
    )


def test_the_step_is_registered():
    assert "genealogy.lots" in {step.key for step in demo_steps()}


def test_demo_genealogy_reaches_from_supplier_lots_to_customers(ctx):
    build_demo_genealogy(ctx)

    sty = Lot.objects.get(lot_number="STY-24001")
    scope = selectors.recall_scope_for_supplier_lot(supplier_lot_number="SLN-88412")
    assert scope.customers == ["Acme Coatings Ltd", "Borealis Paints AS"]
    assert len(scope.units) == 20
    assert scope.summary()["shipment_count"] == 2
    back = selectors.lot_trace_backward(lot=Lot.objects.get(lot_number="PSP-000001"))
    assert sorted(n.lot_number for n in back.nodes.values()) == [
        "BPO-24011",
        "PAIL-24003",
        "PS-B1001",
        "PS-B1001-01",
        "PSP-000001",
        "STY-24001",
        "STY-24002",
        "XYL-24007",
    ]
    assert Lot.objects.get(lot_number="PS-B1001-03").quantity == 400
    assert sty.status == "released"
    assert selectors.lots_with_ledger_mismatch() == []


def test_demo_step_is_idempotent(ctx):
    build_demo_genealogy(ctx)
    events = LotEvent.objects.count()
    ctx.changes.clear()

    build_demo_genealogy(ctx)

    assert LotEvent.objects.count() == events
    assert ctx.changes == []
