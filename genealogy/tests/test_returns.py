"""Returning to stock what a consumption took and did not use (`lot_return`)."""

import pytest

from genealogy import services
from genealogy.exceptions import InsufficientQuantity
from genealogy.models import Link, Lot, LotEvent
from genealogy.tests.factories import MaterialFactory, q, received_lot
from mes.exceptions import InvalidInput

pytestmark = pytest.mark.django_db

PHASE = {"kind": "batch_phase", "ref": "B-1001/phase 3", "url": "/batches/B-1001/"}


def test_a_return_puts_quantity_back_and_the_product_links_only_the_net(operator):
    raw = received_lot(quantity="100", actor=operator)
    taken = services.lot_consume(actor=operator, lot=raw, quantity="30", context=PHASE)

    back = services.lot_return(actor=operator, consumption=taken, quantity="4", reason="drum rest")
    lot = services.lot_produce(
        actor=operator,
        material=MaterialFactory(),
        quantity="25",
        source={"kind": "batch", "ref": "B-1001"},
        consumptions=[taken],
    )

    assert Lot.objects.get(pk=raw.pk).quantity == q(74)
    assert (back.type, back.quantity_delta, back.quantity_after) == ("lot.returned", q(4), q(74))
    assert (back.context_ref, back.data, back.reason) == (
        "B-1001/phase 3",
        {"consumption": taken.pk},
        "drum rest",
    )
    assert Link.objects.get(child=lot).quantity == q(26)


def test_a_consumption_returned_in_full_is_not_linked_to_the_product(operator):
    raw = received_lot(quantity="100", actor=operator)
    other = received_lot(quantity="100", actor=operator)
    unused = services.lot_consume(actor=operator, lot=raw, quantity="10", context=PHASE)
    used = services.lot_consume(actor=operator, lot=other, quantity="10", context=PHASE)
    services.lot_return(actor=operator, consumption=unused, quantity="10", reason="not needed")

    lot = services.lot_produce(
        actor=operator,
        material=MaterialFactory(),
        quantity="9",
        source={"kind": "batch", "ref": "B-1001"},
        consumptions=[unused, used],
    )

    assert list(Link.objects.filter(child=lot).values_list("parent_id", flat=True)) == [other.pk]


def test_no_more_than_was_taken_goes_back_and_a_refusal_writes_nothing(operator):
    raw = received_lot(quantity="100", actor=operator)
    taken = services.lot_consume(actor=operator, lot=raw, quantity="30", context=PHASE)
    services.lot_return(actor=operator, consumption=taken, quantity="20", reason="rest")

    with pytest.raises(InsufficientQuantity, match=r"Only 10\.000000 kg of lot .* is left"):
        services.lot_return(actor=operator, consumption=taken, quantity="11", reason="rest")

    assert Lot.objects.get(pk=raw.pk).quantity == q(90)
    assert LotEvent.objects.filter(type="lot.returned").count() == 1


def test_what_is_already_in_a_product_cannot_be_returned(operator):
    raw = received_lot(quantity="100", actor=operator)
    taken = services.lot_consume(actor=operator, lot=raw, quantity="30", context=PHASE)
    services.lot_produce(
        actor=operator,
        material=MaterialFactory(),
        quantity="28",
        source={"kind": "batch", "ref": "B-1001"},
        consumptions=[taken],
    )

    with pytest.raises(InvalidInput, match="already in a product"):
        services.lot_return(actor=operator, consumption=taken, quantity="1", reason="late")

    assert Lot.objects.get(pk=raw.pk).quantity == q(70)


def test_only_a_consumption_can_be_returned_and_a_reason_is_needed(operator):
    raw = received_lot(quantity="100", actor=operator)
    taken = services.lot_consume(actor=operator, lot=raw, quantity="30", context=PHASE)
    received = LotEvent.objects.get(lot=raw, type="lot.received")

    with pytest.raises(InvalidInput, match="is not a consumption"):
        services.lot_return(actor=operator, consumption=received, quantity="1", reason="x")
    with pytest.raises(InvalidInput, match="reason"):
        services.lot_return(actor=operator, consumption=taken, quantity="1", reason=" ")
    with pytest.raises(InvalidInput, match="positive"):
        services.lot_return(actor=operator, consumption=taken, quantity="0", reason="x")
