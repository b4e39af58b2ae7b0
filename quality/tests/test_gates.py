"""The gates quality registers with genealogy: only released, unexpired lots are consumed or
shipped. Each refusal names the lot, its status and its expiry, and writes nothing."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from genealogy import services as genealogy
from genealogy.choices import EventType, LotStatus
from genealogy.exceptions import LotNotConsumable
from genealogy.gates import _consumption_gates, _shipment_gates
from genealogy.models import Link, LotEvent
from genealogy.tests.factories import received_lot
from quality import services
from quality.exceptions import LotNotReleased
from quality.gates import only_released_lots_consumed, only_released_lots_shipped
from quality.tests.factories import PASSING, approved_spec, enter_results, sign_as

pytestmark = pytest.mark.django_db

BATCH = {"kind": "batch_phase", "ref": "B-1001/phase 2", "url": "/batches/1/"}


def _snapshot(lot):
    lot.refresh_from_db()
    return (lot.quantity, lot.status, LotEvent.objects.count(), Link.objects.count())


def _set_status(lot, status, actor):
    """Test setup only: put a lot in a status without the QA workflow."""
    return genealogy.lot_set_status(actor=actor, lot=lot, status=status, reason="test setup")


def test_quality_gates_are_registered_once():
    assert _consumption_gates.count(only_released_lots_consumed) == 1
    assert _shipment_gates.count(only_released_lots_shipped) == 1


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (LotStatus.QUARANTINE, "quarantine"),
        (LotStatus.ON_HOLD, "on hold"),
        (LotStatus.REJECTED, "rejected"),
    ],
)
def test_unreleased_lot_cannot_be_consumed(status, words, operator, supervisor):
    lot = received_lot(lot_number="L-100", quantity="50", expires_at=date(2099, 12, 31))
    if status == LotStatus.REJECTED:
        _set_status(lot, LotStatus.REJECTED, supervisor)
    elif status == LotStatus.ON_HOLD:
        _set_status(lot, LotStatus.ON_HOLD, supervisor)
    before = _snapshot(lot)

    with pytest.raises(LotNotReleased) as refused:
        genealogy.lot_consume(actor=operator, lot=lot, quantity="5", context=BATCH)

    assert refused.value.code == "lot_not_released"
    assert refused.value.detail == (
        f"Lot L-100 ({lot.material.code}) is {words}, expires 2099-12-31: only a lot released "
        "by QA may be consumed."
    )
    assert _snapshot(lot) == before


def test_unreleased_lot_refusal_says_when_it_has_no_expiry(operator):
    lot = received_lot(lot_number="L-101", quantity="50")
    assert lot.expires_at is None  # the material has no shelf life

    with pytest.raises(LotNotReleased, match=r"is quarantine, no expiry date: only a lot"):
        genealogy.lot_consume(actor=operator, lot=lot, quantity="5", context=BATCH)


def test_expired_released_lot_cannot_be_consumed(operator, supervisor):
    expired_on = timezone.localdate() - timedelta(days=1)
    lot = received_lot(lot_number="L-102", quantity="50", expires_at=expired_on)
    _set_status(lot, LotStatus.RELEASED, supervisor)
    before = _snapshot(lot)

    with pytest.raises(LotNotConsumable) as refused:
        genealogy.lot_consume(actor=operator, lot=lot, quantity="5", context=BATCH)

    # genealogy's built-in expiry gate answers first; quality's gate says the same in its words
    assert refused.value.code == "lot_expired"
    assert refused.value.detail == f"Lot L-102 expired on {expired_on.isoformat()}."
    assert _snapshot(lot) == before


def test_quality_gate_itself_refuses_an_expired_released_lot(supervisor):
    expired_on = date(2020, 1, 31)
    lot = received_lot(lot_number="L-103", expires_at=expired_on)
    _set_status(lot, LotStatus.RELEASED, supervisor)
    lot.refresh_from_db()

    with pytest.raises(LotNotReleased) as refused:
        only_released_lots_consumed(lot, Decimal("1"), {"occurred_at": timezone.now()})

    assert refused.value.code == "lot_expired"
    assert refused.value.detail.startswith(
        f"Lot L-103 ({lot.material.code}) is released, expires 2020-01-31: it expired before "
    )


def test_released_lot_is_consumed(operator, qa_user, qa_user2):
    spec = approved_spec()
    lot = received_lot(material=spec.material, lot_number="L-104", quantity="50")
    enter_results(lot, spec, PASSING, actor=qa_user)
    services.lot_release(actor=qa_user2, lot=lot, signer=sign_as(qa_user2))

    event = genealogy.lot_consume(actor=operator, lot=lot, quantity="5", context=BATCH)

    lot.refresh_from_db()
    assert event.type == EventType.CONSUMED
    assert lot.quantity == Decimal("45")


def test_unreleased_lot_cannot_be_shipped(supervisor):
    lot = received_lot(lot_number="L-105", quantity="10", expires_at=date(2099, 1, 1))
    before = _snapshot(lot)

    with pytest.raises(LotNotReleased) as refused:
        genealogy.lot_ship(actor=supervisor, lot=lot, customer="Pharma AG", shipment_ref="S-1")

    assert refused.value.detail == (
        f"Lot L-105 ({lot.material.code}) is quarantine, expires 2099-01-01: only a lot "
        "released by QA may be shipped."
    )
    assert _snapshot(lot) == before
