"""Trace correctness: diamonds, depths, quantities and contexts; random DAGs against a
reference walk (hypothesis); recall scope by lot and by supplier lot."""

from collections import deque
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genealogy import selectors, services
from genealogy.choices import Direction, MaterialKind
from genealogy.models import LotEvent
from genealogy.tests.factories import (
    MaterialFactory,
    SerializedMaterialFactory,
    produced_lot,
    q,
    received_lot,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def diamond(operator):
    """A -> B, A -> C (split), B -> D, C -> D (both consumed into D), D -> E (split)."""
    a = received_lot(quantity="100", lot_number="A", actor=operator)
    b, c = services.lot_split(
        actor=operator, lot=a, quantities=["40", "60"], lot_numbers=["B", "C"]
    )
    d = services.lot_produce(
        actor=operator,
        material=MaterialFactory(code="FG", kind=MaterialKind.FINISHED),
        lot_number="D",
        quantity="90",
        source={"kind": "batch", "ref": "B-9", "url": "/batches/9/"},
        inputs=[
            {"lot": b, "quantity": "30", "context": {"kind": "batch_phase", "ref": "B-9/phase 1"}},
            {"lot": c, "quantity": "60", "context": {"kind": "batch_phase", "ref": "B-9/phase 2"}},
        ],
    )
    (e,) = services.lot_split(actor=operator, lot=d, quantities=["50"], lot_numbers=["E"])
    return {"A": a, "B": b, "C": c, "D": d, "E": e}


def names(trace, ids):
    return sorted(trace.nodes[i].lot_number for i in ids)


def test_forward_trace_of_a_diamond_reaches_each_node_once(diamond):
    trace = selectors.lot_trace_forward(lot=diamond["A"])

    assert trace.count == 4
    assert names(trace, [i for i in trace.nodes if i != diamond["A"].pk]) == ["B", "C", "D", "E"]
    edges = sorted(
        (
            trace.nodes[e.parent_id].lot_number,
            trace.nodes[e.child_id].lot_number,
            e.kind,
            e.quantity,
            e.context_ref,
        )
        for e in trace.edges
    )
    assert edges == [
        ("A", "B", "split", q(40), ""),
        ("A", "C", "split", q(60), ""),
        ("B", "D", "consumed", q(30), "B-9/phase 1"),
        ("C", "D", "consumed", q(60), "B-9/phase 2"),
        ("D", "E", "split", q(50), ""),
    ]
    depth = {trace.nodes[i].lot_number: d for i, d in trace.depths().items()}
    assert depth == {"A": 0, "B": 1, "C": 1, "D": 2, "E": 3}


def test_backward_trace_of_a_diamond(diamond):
    trace = selectors.lot_trace_backward(lot=diamond["E"])

    assert names(trace, trace.nodes) == ["A", "B", "C", "D", "E"]
    assert len(trace.edges) == 5
    d_node = trace.nodes[diamond["D"].pk]
    assert (d_node.material_code, d_node.source_ref, d_node.source_url, d_node.quantity) == (
        "FG",
        "B-9",
        "/batches/9/",
        q(40),
    )
    depth = {trace.nodes[i].lot_number: d for i, d in trace.depths().items()}
    assert depth == {"E": 0, "D": 1, "B": 2, "C": 2, "A": 3}


def test_trace_of_a_lot_without_links_is_the_lot_alone(operator):
    lot = received_lot(actor=operator)

    trace = selectors.lot_trace_backward(lot=lot)

    assert (trace.count, trace.edges, list(trace.nodes)) == (0, [], [lot.pk])


def test_trace_can_be_cut_at_a_number_of_links(diamond):
    trace = selectors.lot_trace_forward(lot=diamond["A"], max_edges=3)

    assert (trace.truncated, len(trace.edges)) == (True, 3)
    assert selectors.lot_trace_forward(lot=diamond["A"], max_edges=5).truncated is False


def test_trace_refuses_an_unknown_direction(diamond):
    from mes.exceptions import InvalidInput

    with pytest.raises(InvalidInput, match="direction must be backward or forward"):
        selectors.lot_trace(lot=diamond["A"], direction="sideways")


def test_neighbours_say_whether_a_node_leads_further(diamond):
    found = selectors.lot_neighbours(lot_id=diamond["A"].pk, direction=Direction.FORWARD)

    assert [(n.node.lot_number, n.link.quantity, n.has_more) for n in found] == [
        ("B", q(40), True),
        ("C", q(60), True),
    ]
    up = selectors.lot_neighbours(lot_id=diamond["B"].pk, direction=Direction.BACKWARD)
    assert [(n.node.lot_number, n.has_more) for n in up] == [("A", False)]


def test_is_ancestor(diamond):
    assert selectors.lot_is_ancestor(ancestor_id=diamond["A"].pk, of_id=diamond["E"].pk) is True
    assert selectors.lot_is_ancestor(ancestor_id=diamond["E"].pk, of_id=diamond["A"].pk) is False
    assert selectors.lot_is_ancestor(ancestor_id=diamond["B"].pk, of_id=diamond["C"].pk) is False


# --- random DAGs against a reference walk ----------------------------------------------------


def _reference(edges: set[tuple[int, int]], start: int, forward: bool) -> tuple[set, set, dict]:
    nxt: dict[int, list[int]] = {}
    for parent, child in edges:
        a, b = (parent, child) if forward else (child, parent)
        nxt.setdefault(a, []).append(b)
    depth = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for other in nxt.get(node, []):
            if other not in depth:
                depth[other] = depth[node] + 1
                queue.append(other)
    reached = set(depth)
    walked = {(p, c) for p, c in edges if (p if forward else c) in reached}
    return reached, walked, depth


@st.composite
def dags(draw):
    n = draw(st.integers(min_value=2, max_value=10))
    parents = {}
    for i in range(n):
        if i == 0:
            parents[i] = []
            continue
        parents[i] = sorted(draw(st.sets(st.integers(min_value=0, max_value=i - 1), max_size=3)))
    start = draw(st.integers(min_value=0, max_value=n - 1))
    return parents, start


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=dags())
def test_trace_matches_a_reference_walk_on_random_dags(case, operator):
    parents, start = case
    with transaction.atomic():
        material = MaterialFactory()
        lots = {}
        for i, ps in parents.items():
            if not ps:
                lots[i] = received_lot(material=material, quantity="1000", actor=operator)
            else:
                lots[i] = produced_lot(
                    material=material,
                    quantity="1000",
                    inputs=[(lots[p], "1") for p in ps],
                    actor=operator,
                )
        index = {lot.pk: i for i, lot in lots.items()}
        edges = {(p, i) for i, ps in parents.items() for p in ps}
        for forward in (True, False):
            trace = selectors.lot_trace(
                lot=lots[start], direction=Direction.FORWARD if forward else Direction.BACKWARD
            )
            reached, walked, depth = _reference(edges, start, forward)
            assert {index[n] for n in trace.nodes} == reached
            assert {(index[e.parent_id], index[e.child_id]) for e in trace.edges} == walked
            assert len(trace.edges) == len(walked)
            assert {index[n]: d for n, d in trace.depths().items()} == depth
            assert {e.quantity for e in trace.edges} <= {Decimal("1.000000")}
        transaction.set_rollback(True)


# --- recall scope ----------------------------------------------------------------------------


@pytest.fixture
def shipped_genealogy(operator, supervisor):
    """Two deliveries of one supplier lot -> a finished batch -> 2 sub-lots -> 5 pails, 4
    shipped to two customers; a second raw lot feeds nothing."""
    sty = MaterialFactory(code="STY")
    r1 = received_lot(
        material=sty,
        lot_number="STY-1",
        quantity="500",
        supplier_lot_number="SLN-1",
        actor=operator,
    )
    r2 = received_lot(
        material=sty,
        lot_number="STY-2",
        quantity="500",
        supplier_lot_number="SLN-1",
        actor=operator,
    )
    other = received_lot(
        material=sty,
        lot_number="STY-3",
        quantity="500",
        supplier_lot_number="SLN-2",
        actor=operator,
    )
    fg = MaterialFactory(code="FG-RES", kind=MaterialKind.FINISHED)
    batch = produced_lot(
        material=fg,
        lot_number="FG-1",
        quantity="200",
        inputs=[(r1, "150"), (r2, "60")],
        actor=operator,
    )
    s1, s2 = services.lot_split(actor=operator, lot=batch, quantities=["100", "100"])
    pail = SerializedMaterialFactory(code="PAIL-FG")
    units = [
        services.unit_create(
            actor=operator,
            material=pail,
            serial_number=f"PSP-{i}",
            components=[{"lot": s1 if i < 3 else s2, "quantity": "20"}],
        )
        for i in range(5)
    ]
    services.lot_ship(actor=supervisor, units=units[:3], customer="Acme", shipment_ref="SH-1")
    services.lot_ship(actor=supervisor, units=units[3:4], customer="Borealis", shipment_ref="SH-2")
    return {"r1": r1, "r2": r2, "other": other, "batch": batch, "subs": (s1, s2), "units": units}


def test_recall_scope_of_a_raw_lot_lists_finished_lots_units_shipments_customers(shipped_genealogy):
    scope = selectors.recall_scope_for_lot(lot=shipped_genealogy["r1"])

    assert scope.affected_count == 1 + 1 + 2 + 5  # the lot, the batch, 2 sub-lots, 5 units
    assert [(r.lot_number, r.kind, r.quantity) for r in scope.finished_lots] == [
        ("FG-1", "lot", q(0)),
        ("FG-1-01", "sublot", q(40)),
        ("FG-1-02", "sublot", q(60)),
    ]
    assert [(r.lot_number, r.quantity) for r in scope.units] == [
        ("PSP-0", q(0)),
        ("PSP-1", q(0)),
        ("PSP-2", q(0)),
        ("PSP-3", q(0)),
        ("PSP-4", q(1)),
    ]
    assert [(s.customer, s.shipment_ref, s.lot_number, s.quantity) for s in scope.shipments] == [
        ("Acme", "SH-1", "PSP-0", q(1)),
        ("Acme", "SH-1", "PSP-1", q(1)),
        ("Acme", "SH-1", "PSP-2", q(1)),
        ("Borealis", "SH-2", "PSP-3", q(1)),
    ]
    assert scope.customers == ["Acme", "Borealis"]
    assert scope.summary()["shipment_count"] == 2
    shipped = {e.lot_id: e.occurred_at for e in LotEvent.objects.filter(type="lot.shipped")}
    assert {s.lot_id: s.shipped_at for s in scope.shipments} == shipped


def test_recall_scope_by_supplier_lot_covers_every_delivery(shipped_genealogy):
    scope = selectors.recall_scope_for_supplier_lot(supplier_lot_number="SLN-1")

    assert scope.root_ids == sorted([shipped_genealogy["r1"].pk, shipped_genealogy["r2"].pk])
    assert scope.affected_count == 2 + 1 + 2 + 5
    assert len(scope.units) == 5
    assert scope.subject == "supplier lot SLN-1"


def test_recall_scope_of_an_unused_lot_is_empty(shipped_genealogy):
    scope = selectors.recall_scope_for_lot(lot=shipped_genealogy["other"])

    assert (scope.affected_count, scope.finished_lots, scope.units, scope.shipments) == (
        1,
        [],
        [],
        [],
    )


def test_recall_scope_of_an_unknown_supplier_lot_is_refused(shipped_genealogy):
    from genealogy.exceptions import LotNotFound

    with pytest.raises(LotNotFound, match="No lot carries supplier lot number 'NOPE'"):
        selectors.recall_scope_for_supplier_lot(supplier_lot_number="NOPE")


@pytest.mark.parametrize("limit", [0, 2, 100])
def test_recall_preview_has_the_true_totals_and_the_first_rows(shipped_genealogy, limit):
    full = selectors.recall_scope_for_lot(lot=shipped_genealogy["r1"])

    preview = selectors.recall_scope_for_lot(lot=shipped_genealogy["r1"], limit=limit)

    assert preview.is_preview
    assert not full.is_preview
    assert preview.summary() == full.summary()
    assert preview.units == full.units[:limit]
    assert preview.finished_lots == full.finished_lots[:limit]
    assert preview.shipments == full.shipments[:limit]
    assert preview.customers == ["Acme", "Borealis"]


def test_recall_preview_by_supplier_lot(shipped_genealogy):
    preview = selectors.recall_scope_for_supplier_lot(supplier_lot_number="SLN-1", limit=1)

    assert (preview.affected_count, preview.summary()["unit_count"]) == (10, 5)
    assert [u.lot_number for u in preview.units] == ["PSP-0"]
