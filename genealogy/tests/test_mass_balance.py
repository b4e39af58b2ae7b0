"""Mass balance through splits, merges, consumptions and shipments (hypothesis): whatever the
sequence, no lot goes negative, every lot's quantity equals the sum of its events, and what
was received equals what is in stock plus what left (consumed into nothing or shipped)."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genealogy import services
from genealogy.exceptions import InsufficientQuantity
from genealogy.models import Link, Lot, LotEvent
from genealogy.selectors import lots_with_ledger_mismatch
from genealogy.tests.factories import MaterialFactory, q, received_lot
from mes.exceptions import InvalidInput

pytestmark = pytest.mark.django_db

PHASE = {"kind": "batch_phase", "ref": "B-1/phase 1"}
amounts = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("400"), places=3)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("split"), st.integers(0, 50), st.lists(amounts, min_size=1, max_size=3)),
        st.tuples(st.just("merge"), st.integers(0, 50), st.integers(0, 50)),
        st.tuples(st.just("merge_part"), st.integers(0, 50), st.integers(0, 50), amounts, amounts),
        st.tuples(st.just("consume"), st.integers(0, 50), amounts),
        st.tuples(st.just("ship"), st.integers(0, 50), amounts),
    ),
    min_size=1,
    max_size=12,
)


def _total(qs, field):
    return qs.aggregate(total=Sum(field))["total"] or Decimal(0)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    receipts=st.lists(
        st.decimals(min_value=Decimal("1"), max_value=Decimal("1000"), places=2),
        min_size=1,
        max_size=3,
    ),
    steps=ops,
)
def test_quantity_is_conserved_through_any_sequence(receipts, steps, supervisor):
    with transaction.atomic():
        material = MaterialFactory()
        pool = [received_lot(material=material, quantity=r, actor=supervisor) for r in receipts]
        refused = 0
        for step in steps:
            lot = Lot.objects.get(pk=pool[step[1] % len(pool)].pk)
            before = (LotEvent.objects.count(), Link.objects.count(), Lot.objects.count())
            try:
                if step[0] == "split":
                    pool += services.lot_split(actor=supervisor, lot=lot, quantities=step[2])
                elif step[0] in ("merge", "merge_part"):
                    other = Lot.objects.get(pk=pool[step[2] % len(pool)].pk)
                    quantities = [step[3], step[4]] if step[0] == "merge_part" else None
                    pool.append(
                        services.lot_merge(
                            actor=supervisor, lots=[lot, other], quantities=quantities
                        )
                    )
                elif step[0] == "consume":
                    services.lot_consume(actor=supervisor, lot=lot, quantity=step[2], context=PHASE)
                else:
                    services.lot_ship(
                        actor=supervisor, lot=lot, quantity=step[2], customer="C", shipment_ref="S"
                    )
            except (InsufficientQuantity, InvalidInput):
                refused += 1
                assert (
                    LotEvent.objects.count(),
                    Link.objects.count(),
                    Lot.objects.count(),
                ) == before
            assert not Lot.objects.filter(quantity__lt=0).exists()
        ids = [lot.pk for lot in pool]
        assert lots_with_ledger_mismatch(lot_ids=ids) == []
        received = _total(
            LotEvent.objects.filter(lot_id__in=ids, type="lot.received"), "quantity_delta"
        )
        left = -_total(
            LotEvent.objects.filter(lot_id__in=ids, type__in=["lot.consumed", "lot.shipped"]),
            "quantity_delta",
        )
        in_stock = _total(Lot.objects.filter(pk__in=ids), "quantity")
        assert received == q(sum(receipts, Decimal(0)))
        assert (in_stock + left).quantize(Decimal("0.000001")) == received
        for link in Link.objects.filter(parent_id__in=ids, kind__in=["split", "merged"]):
            assert link.quantity > 0
        # every split/merge event of the source equals the links it explains
        for event in LotEvent.objects.filter(
            lot_id__in=ids, type__in=["lot.split", "lot.merged"], quantity_delta__lt=0
        ):
            assert -event.quantity_delta == _total(Link.objects.filter(event=event), "quantity")
        transaction.set_rollback(True)
