"""Two terminals consume the last kilogram at the same moment: exactly one wins (PostgreSQL,
real transactions in two threads)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from genealogy import services
from genealogy.exceptions import InsufficientQuantity
from genealogy.models import Lot, LotEvent
from genealogy.selectors import lots_with_ledger_mismatch
from genealogy.tests.factories import MaterialFactory, q
from mes.accounts.tests.factories import UserFactory
from mes.audit.context import system_context

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(lot_id: int, user_ids: list[int], quantity: str) -> list[object]:
    barrier = threading.Barrier(len(user_ids))
    outcomes: list[object] = [None] * len(user_ids)

    def consume(i: int) -> None:
        from mes.accounts.models import User

        try:
            with system_context("pytest-thread"):
                user = User.objects.get(pk=user_ids[i])
                lot = Lot.objects.get(pk=lot_id)
                barrier.wait(timeout=10)
                services.lot_consume(
                    actor=user,
                    lot=lot,
                    quantity=quantity,
                    context={"kind": "batch_phase", "ref": f"B-{i}/phase 1"},
                )
            outcomes[i] = "ok"
        except Exception as exc:  # the refusal is the outcome under test
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(len(user_ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes


def _lot(quantity: str) -> Lot:
    user = UserFactory(username="receiver")
    return services.lot_receive(
        actor=user,
        material=MaterialFactory(),
        lot_number="LAST-KG",
        quantity=Decimal(quantity),
        supplier="Acme",
        supplier_lot_number="A-1",
    )


def test_two_consumptions_of_the_last_kilogram_exactly_one_succeeds():
    lot = _lot("1")
    users = [UserFactory(username=f"terminal{i}").pk for i in range(2)]

    outcomes = _race(lot.pk, users, "1")

    assert sorted(o if o == "ok" else type(o).__name__ for o in outcomes) == [
        "InsufficientQuantity",
        "ok",
    ]
    refusal = next(o for o in outcomes if o != "ok")
    assert refusal.detail == "Lot LAST-KG holds 0.000000 kg; 1.000000 kg cannot be taken from it."
    assert Lot.objects.get(pk=lot.pk).quantity == q(0)
    assert LotEvent.objects.filter(lot=lot, type="lot.consumed").count() == 1
    assert lots_with_ledger_mismatch() == []


def test_many_concurrent_consumptions_never_overdraw():
    lot = _lot("3")
    users = [UserFactory(username=f"terminal{i}").pk for i in range(5)]

    outcomes = _race(lot.pk, users, "1")

    assert sum(1 for o in outcomes if o == "ok") == 3
    assert sum(1 for o in outcomes if isinstance(o, InsufficientQuantity)) == 2
    assert Lot.objects.get(pk=lot.pk).quantity == q(0)
    assert LotEvent.objects.filter(lot=lot, type="lot.consumed").count() == 3
    assert lots_with_ledger_mismatch() == []
