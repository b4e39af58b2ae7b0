"""The services: every change of a lot, its ledger and its links; every refusal writes
nothing."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from genealogy import gates, services
from genealogy.choices import EventType, LinkKind, LotStatus, MaterialKind, NodeKind
from genealogy.exceptions import (
    DuplicateLot,
    GenealogyCycle,
    InsufficientQuantity,
    LotNotConsumable,
    UnitOfMeasureMismatch,
)
from genealogy.models import Link, Lot, LotEvent, Material
from genealogy.selectors import lot_quantity_from_events, lots_with_ledger_mismatch
from genealogy.tests.factories import (
    MaterialFactory,
    SerializedMaterialFactory,
    produced_lot,
    q,
    received_lot,
    signer_for,
)
from mes.exceptions import Conflict, InvalidInput, InvalidTransition, SignatureRefused
from mes.testing import save_receivers

pytestmark = pytest.mark.django_db

PHASE = {"kind": "batch_phase", "ref": "B-1001/phase 3", "url": "/batches/B-1001/"}


# --- materials -------------------------------------------------------------------------------


def test_material_create_records_the_master_data(planner):
    material = services.material_create(
        actor=planner, code="STY", name="Styrene", uom="kg", shelf_life_days=180
    )

    stored = Material.objects.get(code="STY")
    assert (stored.pk, stored.name, stored.uom, stored.kind) == (
        material.pk,
        "Styrene",
        "kg",
        "raw",
    )
    assert (stored.is_lot_controlled, stored.is_serialized, stored.shelf_life_days) == (
        True,
        False,
        180,
    )
    assert stored.history.get().history_user == planner


def test_material_create_refuses_a_duplicate_code_case_insensitively(planner):
    services.material_create(actor=planner, code="STY", name="Styrene", uom="kg")

    with pytest.raises(Conflict, match="Material sty already exists"):
        services.material_create(actor=planner, code="sty", name="Other", uom="kg")
    assert list(Material.objects.values_list("code", flat=True)) == ["STY"]


def test_material_create_refuses_a_serialized_material_not_counted_in_each(planner):
    with pytest.raises(
        InvalidInput, match="serialized material is lot-controlled and counted in ea"
    ):
        services.material_create(
            actor=planner, code="P1", name="Pump", uom="kg", is_serialized=True
        )
    assert Material.objects.count() == 0


# --- receive ---------------------------------------------------------------------------------


def test_receive_creates_a_quarantined_lot_with_its_first_event(operator):
    material = MaterialFactory(code="STY", shelf_life_days=180)
    at = timezone.now() - timedelta(hours=1)

    lot = services.lot_receive(
        actor=operator,
        material=material,
        lot_number="STY-1",
        quantity="1000",
        supplier="Styrolution",
        supplier_lot_number="SLN-1",
        occurred_at=at,
    )

    lot.refresh_from_db()
    assert (lot.kind, lot.status, lot.quantity, lot.uom) == ("lot", "quarantine", q(1000), "kg")
    assert (lot.supplier, lot.supplier_lot_number) == ("Styrolution", "SLN-1")
    assert lot.expires_at == timezone.localdate(at) + timedelta(days=180)
    event = lot.events.get()
    assert (event.type, event.quantity_delta, event.quantity_after, event.actor) == (
        "lot.received",
        q(1000),
        q(1000),
        operator,
    )
    assert event.data["supplier_lot_number"] == "SLN-1"


def test_receive_converts_the_quantity_into_the_material_unit(operator):
    lot = received_lot(material=MaterialFactory(uom="kg"), quantity="1", actor=operator)
    sub = services.lot_receive(
        actor=operator,
        material=lot.material,
        lot_number="G-1",
        quantity="2500",
        uom="g",
        supplier="Acme",
        supplier_lot_number="A-1",
    )

    assert Lot.objects.get(pk=sub.pk).quantity == q("2.5")


def test_receive_refuses_a_unit_of_another_dimension_and_writes_nothing(operator, unchanged):
    material = MaterialFactory(uom="kg")
    before = unchanged()

    with pytest.raises(
        UnitOfMeasureMismatch, match="Cannot convert L \\(volume\\) to kg \\(mass\\)"
    ):
        services.lot_receive(
            actor=operator,
            material=material,
            lot_number="X-1",
            quantity="10",
            uom="L",
            supplier="Acme",
            supplier_lot_number="A-1",
        )
    assert unchanged() == before


def test_receive_refuses_a_lot_number_that_exists_for_the_material(operator, unchanged):
    lot = received_lot(lot_number="STY-1", actor=operator)
    before = unchanged()

    with pytest.raises(DuplicateLot, match=f"{lot.material.code} lot STY-1 already exists"):
        received_lot(material=lot.material, lot_number="STY-1", actor=operator)
    assert unchanged() == before


def test_the_same_lot_number_may_exist_for_two_materials(operator):
    a = received_lot(lot_number="L-1", actor=operator)
    b = received_lot(lot_number="L-1", actor=operator)

    assert a.material_id != b.material_id
    assert Lot.objects.filter(lot_number="L-1").count() == 2


def test_receive_refuses_missing_supplier_lot_and_future_events(operator, unchanged):
    material = MaterialFactory()
    before = unchanged()

    with pytest.raises(InvalidInput, match="The supplier lot number is required"):
        services.lot_receive(
            actor=operator,
            material=material,
            lot_number="A",
            quantity=1,
            supplier="S",
            supplier_lot_number=" ",
        )
    with pytest.raises(InvalidInput, match="cannot be recorded in the future"):
        services.lot_receive(
            actor=operator,
            material=material,
            lot_number="A",
            quantity=1,
            supplier="S",
            supplier_lot_number="X",
            occurred_at=timezone.now() + timedelta(hours=1),
        )
    assert unchanged() == before


def test_receive_refuses_more_than_six_decimal_places(operator, unchanged):
    material = MaterialFactory()
    before = unchanged()

    with pytest.raises(InvalidInput, match="has more than 6 decimal places"):
        services.lot_receive(
            actor=operator,
            material=material,
            lot_number="A",
            quantity="1.0000001",
            supplier="S",
            supplier_lot_number="X",
        )
    assert unchanged() == before


# --- produce and consume ---------------------------------------------------------------------


def test_produce_consumes_its_inputs_and_links_them_with_the_phase(operator):
    sty = received_lot(quantity="1000", actor=operator)
    bpo = received_lot(quantity="50", actor=operator)
    resin_material = MaterialFactory(kind=MaterialKind.INTERMEDIATE)

    resin = services.lot_produce(
        actor=operator,
        material=resin_material,
        quantity="1200",
        source={"kind": "batch", "ref": "B-1001", "url": "/batches/B-1001/"},
        lot_number="PS-1",
        inputs=[
            {"lot": sty, "quantity": "900", "context": PHASE},
            {"lot": bpo, "quantity": "8000", "uom": "g"},
        ],
    )

    resin.refresh_from_db()
    assert (resin.quantity, resin.status, resin.source_ref) == (q(1200), "quarantine", "B-1001")
    assert Lot.objects.get(pk=sty.pk).quantity == q(100)
    assert Lot.objects.get(pk=bpo.pk).quantity == q(42)
    links = {
        (link.parent_id, link.kind, link.quantity, link.context_ref)
        for link in resin.parent_links.all()
    }
    assert links == {
        (sty.pk, "consumed", q(900), "B-1001/phase 3"),
        (bpo.pk, "consumed", q(8), "B-1001"),
    }
    assert lots_with_ledger_mismatch() == []


def test_produce_without_a_lot_number_numbers_it_per_material_and_day(operator):
    material = MaterialFactory(code="RES")
    source = {"kind": "batch", "ref": "B-7"}

    first = services.lot_produce(actor=operator, material=material, quantity=1, source=source)
    second = services.lot_produce(actor=operator, material=material, quantity=1, source=source)

    day = f"{timezone.localdate():%y%m%d}"
    assert (first.lot_number, second.lot_number) == (f"RES-{day}-001", f"RES-{day}-002")


def test_produce_refuses_a_source_of_unknown_kind_and_writes_nothing(operator, unchanged):
    material = MaterialFactory()
    before = unchanged()

    with pytest.raises(InvalidInput, match="The source kind 'recipe' is not one of"):
        services.lot_produce(
            actor=operator, material=material, quantity=1, source={"kind": "recipe", "ref": "R"}
        )
    assert unchanged() == before


def test_produce_refuses_when_an_input_is_short_and_writes_nothing(operator, unchanged):
    raw = received_lot(quantity="10", actor=operator)
    other = received_lot(quantity="10", actor=operator)
    before = unchanged()

    with pytest.raises(InsufficientQuantity, match=f"Lot {raw.lot_number} holds 10.000000 kg"):
        services.lot_produce(
            actor=operator,
            material=MaterialFactory(),
            quantity=5,
            source={"kind": "batch", "ref": "B-1"},
            inputs=[{"lot": other, "quantity": "4"}, {"lot": raw, "quantity": "11"}],
        )
    assert unchanged() == before


def test_produce_links_earlier_consumptions_of_its_batch(operator):
    raw = received_lot(quantity="100", actor=operator)
    dispensed = services.lot_consume(actor=operator, lot=raw, quantity="30", context=PHASE)

    lot = services.lot_produce(
        actor=operator,
        material=MaterialFactory(),
        quantity="28",
        source={"kind": "batch", "ref": "B-1001"},
        consumptions=[dispensed],
    )

    link = Link.objects.get(child=lot)
    assert (link.parent_id, link.quantity, link.event_id, link.context_ref) == (
        raw.pk,
        q(30),
        dispensed.pk,
        "B-1001/phase 3",
    )
    assert Lot.objects.get(pk=raw.pk).quantity == q(70)


def test_consume_takes_quantity_and_records_where(operator):
    raw = received_lot(quantity="100", actor=operator)

    event = services.lot_consume(actor=operator, lot=raw, quantity="40", context=PHASE)

    assert Lot.objects.get(pk=raw.pk).quantity == q(60)
    assert (event.type, event.quantity_delta, event.quantity_after) == (
        "lot.consumed",
        q(-40),
        q(60),
    )
    assert (event.context_kind, event.context_ref, event.context_url) == (
        "batch_phase",
        "B-1001/phase 3",
        "/batches/B-1001/",
    )
    assert Link.objects.count() == 0
    # the lot's history row (written with its UPDATE in one statement: mes.history)
    latest = raw.history.order_by("-history_id").first()
    assert (latest.quantity, latest.history_type, latest.history_user) == (q(60), "~", operator)
    assert latest.history_change_reason == "consumed in batch_phase B-1001/phase 3"
    assert save_receivers(Lot) == ([], ["simple_history.models"])


def test_consume_refuses_more_than_the_lot_holds_and_writes_nothing(operator, unchanged):
    raw = received_lot(quantity="1", actor=operator)
    before = unchanged()

    with pytest.raises(
        InsufficientQuantity, match=re.escape("holds 1.000000 kg; 1.000001 kg cannot be taken")
    ):
        services.lot_consume(actor=operator, lot=raw, quantity="1.000001", context=PHASE)
    assert unchanged() == before


def test_consume_refuses_an_expired_lot_and_writes_nothing(operator, unchanged):
    raw = received_lot(expires_at=timezone.localdate() - timedelta(days=1), actor=operator)
    before = unchanged()

    with pytest.raises(LotNotConsumable, match=f"Lot {raw.lot_number} expired on") as refused:
        services.lot_consume(actor=operator, lot=raw, quantity="1", context=PHASE)
    assert refused.value.code == "lot_expired"
    assert unchanged() == before


def test_consume_refuses_a_context_url_that_is_not_a_path_or_http(operator, unchanged):
    raw = received_lot(actor=operator)
    before = unchanged()

    with pytest.raises(InvalidInput, match="URL must be a path or an http"):
        services.lot_consume(
            actor=operator,
            lot=raw,
            quantity="1",
            context={"kind": "batch_phase", "ref": "B-1", "url": "javascript:alert(1)"},
        )
    assert unchanged() == before


def test_consume_into_a_unit_links_a_component(operator):
    motor = received_lot(quantity="5", material=MaterialFactory(uom="ea"), actor=operator)
    pump = services.unit_create(
        actor=operator, material=SerializedMaterialFactory(code="PUMP"), serial_number="P-0001"
    )

    services.lot_consume(
        actor=operator,
        lot=motor,
        quantity="1",
        into=pump,
        context={"kind": "wo_operation", "ref": "WO-9/op 20"},
    )

    link = Link.objects.get(child=pump)
    assert (link.parent_id, link.kind, link.quantity, link.context_ref) == (
        motor.pk,
        "component",
        q(1),
        "WO-9/op 20",
    )


def test_registered_consumption_gate_can_veto_and_nothing_is_written(operator, unchanged):
    raw = received_lot(actor=operator)
    seen = []

    def only_released(lot, quantity, context):
        seen.append((lot.pk, quantity, context["ref"]))
        if lot.status != LotStatus.RELEASED:
            raise LotNotConsumable(f"Lot {lot.lot_number} is {lot.status}.", code="not_released")

    gates.register_consumption_gate(only_released)
    before = unchanged()

    with pytest.raises(LotNotConsumable, match=f"Lot {raw.lot_number} is quarantine"):
        services.lot_consume(actor=operator, lot=raw, quantity="2", context=PHASE)
    assert seen == [(raw.pk, q(2), "B-1001/phase 3")]
    assert unchanged() == before


def test_gates_see_the_locked_current_row(operator, qa_user):
    raw = received_lot(actor=operator)
    stale = Lot.objects.get(pk=raw.pk)
    services.lot_set_status(actor=qa_user, lot=raw, status=LotStatus.REJECTED, reason="OOS")
    seen = []
    gates.register_consumption_gate(lambda lot, quantity, context: seen.append(lot.status))

    services.lot_consume(actor=operator, lot=stale, quantity="1", context=PHASE)

    assert seen == ["rejected"]


# --- split and merge -------------------------------------------------------------------------


def test_split_conserves_quantity_and_numbers_sublots(supervisor):
    lot = produced_lot(quantity="1200", lot_number="PS-1", actor=supervisor)

    subs = services.lot_split(actor=supervisor, lot=lot, quantities=["400", "400", "300"])

    assert [s.lot_number for s in subs] == ["PS-1-01", "PS-1-02", "PS-1-03"]
    assert [Lot.objects.get(pk=s.pk).quantity for s in subs] == [q(400), q(400), q(300)]
    assert Lot.objects.get(pk=lot.pk).quantity == q(100)
    assert {(s.kind, s.parent_lot_id, s.status) for s in subs} == {("sublot", lot.pk, "quarantine")}
    out = LotEvent.objects.get(lot=lot, type=EventType.SPLIT)
    assert out.quantity_delta == q(-1100)
    assert set(
        Link.objects.filter(parent=lot).values_list("child_id", "kind", "quantity", "event_id")
    ) == {
        (subs[0].pk, "split", q(400), out.pk),
        (subs[1].pk, "split", q(400), out.pk),
        (subs[2].pk, "split", q(300), out.pk),
    }
    more = services.lot_split(actor=supervisor, lot=lot, quantities=["100"])
    assert more[0].lot_number == "PS-1-04"
    assert lots_with_ledger_mismatch() == []


def test_split_refuses_more_than_the_lot_and_writes_nothing(supervisor, unchanged):
    lot = received_lot(quantity="100", actor=supervisor)
    before = unchanged()

    with pytest.raises(
        InsufficientQuantity, match=re.escape("sub-lots of 100.000001 kg cannot be split")
    ):
        services.lot_split(actor=supervisor, lot=lot, quantities=["50", "50.000001"])
    assert unchanged() == before


def test_split_refuses_a_unit(operator, unchanged):
    unit = services.unit_create(
        actor=operator, material=SerializedMaterialFactory(), serial_number="S1"
    )
    before = unchanged()

    with pytest.raises(InvalidInput, match="A serialized unit cannot be split"):
        services.lot_split(actor=operator, lot=unit, quantities=["1"])
    assert unchanged() == before


def test_merge_moves_whole_lots_into_a_new_lot(supervisor, qa_user):
    material = MaterialFactory(code="RES")
    a = received_lot(material=material, quantity="30", supplier_lot_number="S-1", actor=supervisor)
    b = received_lot(material=material, quantity="20", supplier_lot_number="S-1", actor=supervisor)
    for lot in (a, b):
        services.lot_set_status(actor=qa_user, lot=lot, status=LotStatus.RELEASED, reason="ok")

    merged = services.lot_merge(actor=supervisor, lots=[a, b], lot_number="RES-M1")

    merged.refresh_from_db()
    assert (merged.quantity, merged.status, merged.supplier_lot_number) == (
        q(50),
        "released",
        "S-1",
    )
    assert [Lot.objects.get(pk=x.pk).quantity for x in (a, b)] == [q(0), q(0)]
    assert set(merged.parent_links.values_list("parent_id", "kind", "quantity")) == {
        (a.pk, "merged", q(30)),
        (b.pk, "merged", q(20)),
    }
    assert lots_with_ledger_mismatch() == []


def test_merge_of_lots_in_different_status_lands_in_quarantine(supervisor, qa_user):
    material = MaterialFactory()
    a = received_lot(material=material, actor=supervisor)
    b = received_lot(material=material, actor=supervisor)
    services.lot_set_status(actor=qa_user, lot=a, status=LotStatus.RELEASED, reason="ok")

    merged = services.lot_merge(actor=supervisor, lots=[a, b], quantities=["10", "5"])

    assert (Lot.objects.get(pk=merged.pk).status, Lot.objects.get(pk=merged.pk).quantity) == (
        "quarantine",
        q(15),
    )


def test_merge_refuses_lots_of_two_materials_and_writes_nothing(supervisor, unchanged):
    a = received_lot(actor=supervisor)
    b = received_lot(actor=supervisor)
    before = unchanged()

    with pytest.raises(InvalidInput, match="Only lots of one material can be merged"):
        services.lot_merge(actor=supervisor, lots=[a, b])
    assert unchanged() == before


def test_merge_into_an_existing_lot_refuses_a_cycle(supervisor, unchanged):
    material = MaterialFactory()
    a = received_lot(material=material, quantity="100", actor=supervisor)
    (sub,) = services.lot_split(actor=supervisor, lot=a, quantities=["40"])
    before = unchanged()

    with pytest.raises(
        GenealogyCycle, match=f"{a.lot_number} is already an ancestor of {sub.lot_number}"
    ):
        services.lot_merge(actor=supervisor, lots=[sub], quantities=["10"], into=a)
    assert unchanged() == before


def test_consume_into_an_ancestor_is_refused_as_a_cycle(operator, unchanged):
    raw = received_lot(quantity="100", actor=operator)
    batch = produced_lot(inputs=[(raw, "10")], quantity="10", actor=operator)
    (sub,) = services.lot_split(actor=operator, lot=batch, quantities=["5"])
    before = unchanged()

    with pytest.raises(GenealogyCycle, match="would make a cycle") as refused:
        services.lot_consume(actor=operator, lot=sub, quantity="1", into=raw, context=PHASE)
    assert refused.value.code == "genealogy_cycle"
    assert unchanged() == before


def test_consume_into_itself_is_refused(operator, unchanged):
    raw = received_lot(actor=operator)
    before = unchanged()

    with pytest.raises(GenealogyCycle, match="cannot be linked to itself"):
        services.lot_consume(actor=operator, lot=raw, quantity="1", into=raw, context=PHASE)
    assert unchanged() == before


def test_rework_into_a_sibling_is_not_a_cycle(operator):
    raw = received_lot(quantity="100", actor=operator)
    batch = produced_lot(inputs=[(raw, "10")], quantity="10", actor=operator)
    a, b = services.lot_split(actor=operator, lot=batch, quantities=["5", "5"])

    services.lot_consume(
        actor=operator, lot=a, quantity="2", into=b, context=PHASE, kind=LinkKind.REWORKED
    )

    assert Link.objects.get(parent=a, child=b).kind == "reworked"


# --- transfer, ship, adjust, status ----------------------------------------------------------


def test_transfer_moves_the_lot_and_records_from_and_to(operator):
    lot = services.lot_receive(
        actor=operator,
        material=MaterialFactory(),
        lot_number="T-1",
        quantity=5,
        supplier="S",
        supplier_lot_number="X",
        location="Dock",
    )

    event = services.lot_transfer(actor=operator, lot=lot, location="Store B", container="IBC-7")

    stored = Lot.objects.get(pk=lot.pk)
    assert (stored.location, stored.container, stored.quantity) == ("Store B", "IBC-7", q(5))
    assert (event.type, event.quantity_delta) == ("lot.transferred", q(0))
    assert event.data == {
        "from": {"location": "Dock", "container": ""},
        "to": {"location": "Store B", "container": "IBC-7"},
    }


def test_ship_units_to_a_customer(supervisor):
    material = SerializedMaterialFactory()
    units = [
        services.unit_create(actor=supervisor, material=material, serial_number=f"SN-{i}")
        for i in range(3)
    ]

    events = services.lot_ship(
        actor=supervisor, units=units[:2], customer="Acme Coatings", shipment_ref="SH-1"
    )

    assert [(e.lot_id, e.quantity_delta, e.customer, e.shipment_ref) for e in events] == [
        (units[0].pk, q(-1), "Acme Coatings", "SH-1"),
        (units[1].pk, q(-1), "Acme Coatings", "SH-1"),
    ]
    assert [Lot.objects.get(pk=u.pk).quantity for u in units] == [q(0), q(0), q(1)]


def test_ship_refuses_a_unit_already_shipped_and_writes_nothing(supervisor, unchanged):
    unit = services.unit_create(
        actor=supervisor, material=SerializedMaterialFactory(), serial_number="S"
    )
    services.lot_ship(actor=supervisor, units=[unit], customer="A", shipment_ref="SH-1")
    before = unchanged()

    with pytest.raises(InsufficientQuantity, match="S has nothing left to ship"):
        services.lot_ship(actor=supervisor, units=[unit], customer="B", shipment_ref="SH-2")
    assert unchanged() == before


def test_ship_part_of_a_lot(supervisor):
    lot = received_lot(quantity="100", actor=supervisor)

    (event,) = services.lot_ship(
        actor=supervisor, lot=lot, quantity="25", customer="Acme", shipment_ref="SH-9"
    )

    assert (event.quantity_delta, Lot.objects.get(pk=lot.pk).quantity) == (q(-25), q(75))


def test_registered_shipment_gate_can_veto(supervisor, unchanged):
    lot = received_lot(actor=supervisor)

    def never(lot, quantity, context):
        raise Conflict(f"no shipping under {context['ref']}", code="embargo")

    gates.register_shipment_gate(never)
    before = unchanged()

    with pytest.raises(Conflict, match="no shipping under SH-3"):
        services.lot_ship(actor=supervisor, lot=lot, customer="Acme", shipment_ref="SH-3")
    assert unchanged() == before


def test_adjust_is_signed_by_its_author(supervisor):
    lot = received_lot(quantity="100", actor=supervisor)

    event = services.lot_adjust(
        actor=supervisor,
        lot=lot,
        delta="-2.5",
        reason="spill at the dock",
        signer=signer_for(supervisor),
    )

    from mes.esign.models import Signature

    signature = Signature.objects.get(object_id=str(event.pk))
    assert (signature.signer, signature.meaning, signature.reason) == (
        supervisor,
        "adjusted",
        "spill at the dock",
    )
    assert (event.quantity_delta, event.reason, event.approved_by) == (
        q("-2.5"),
        "spill at the dock",
        supervisor,
    )
    assert Lot.objects.get(pk=lot.pk).quantity == q("97.5")


def test_adjust_refuses_an_operator_signature_and_writes_nothing(operator, unchanged):
    lot = received_lot(quantity="100", actor=operator)
    signer = signer_for(operator)
    before = unchanged()

    with pytest.raises(SignatureRefused, match="needs the role QA Reviewer or Supervisor"):
        services.lot_adjust(actor=operator, lot=lot, delta="1", reason="count", signer=signer)
    assert unchanged() == before


def test_adjust_refuses_a_signature_of_someone_else(supervisor, qa_user, unchanged):
    lot = received_lot(quantity="100", actor=supervisor)
    signer = signer_for(qa_user)
    before = unchanged()

    with pytest.raises(SignatureRefused, match="signed by the person who makes it"):
        services.lot_adjust(actor=supervisor, lot=lot, delta="1", reason="count", signer=signer)
    assert unchanged() == before


def test_adjust_refuses_a_negative_result_and_writes_nothing(supervisor, unchanged):
    lot = received_lot(quantity="1", actor=supervisor)
    signer = signer_for(supervisor)
    before = unchanged()

    with pytest.raises(
        InsufficientQuantity, match=re.escape("an adjustment of -1.500000 would make it negative")
    ):
        services.lot_adjust(actor=supervisor, lot=lot, delta="-1.5", reason="count", signer=signer)
    assert unchanged() == before


def test_set_status_follows_the_transition_table(qa_user, operator, unchanged):
    lot = received_lot(actor=operator)

    services.lot_set_status(actor=qa_user, lot=lot, status=LotStatus.REJECTED, reason="OOS assay")
    before = unchanged()
    with pytest.raises(InvalidTransition, match="cannot go from rejected to released"):
        services.lot_set_status(actor=qa_user, lot=lot, status=LotStatus.RELEASED, reason="x")

    assert unchanged() == before
    event = LotEvent.objects.get(lot=lot, type=EventType.STATUS_CHANGED)
    assert (event.data, event.reason, event.actor) == (
        {"from": "quarantine", "to": "rejected"},
        "OOS assay",
        qa_user,
    )


def test_status_change_is_announced_after_commit(
    qa_user, operator, django_capture_on_commit_callbacks
):
    from genealogy.signals import lot_status_changed

    lot = received_lot(actor=operator)
    heard = []

    def listener(sender, **kwargs):
        heard.append(kwargs)

    lot_status_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.lot_set_status(actor=qa_user, lot=lot, status=LotStatus.RELEASED, reason="ok")
    finally:
        lot_status_changed.disconnect(listener)
    assert heard == [
        {
            "signal": lot_status_changed,
            "lot_id": lot.pk,
            "old_status": "quarantine",
            "new_status": "released",
        }
    ]


# --- units -----------------------------------------------------------------------------------


def test_unit_create_consumes_its_components(operator):
    resin = received_lot(quantity="400", actor=operator)
    pails = received_lot(
        quantity="10",
        material=MaterialFactory(uom="ea", kind=MaterialKind.PACKAGING),
        actor=operator,
    )

    unit = services.unit_create(
        actor=operator,
        material=SerializedMaterialFactory(code="PAIL-FG"),
        serial_number="PSP-1",
        source={"kind": "packaging", "ref": "B-1/packaging"},
        components=[{"lot": resin, "quantity": "20"}, {"lot": pails, "quantity": "1"}],
    )

    unit.refresh_from_db()
    assert (unit.kind, unit.quantity, unit.uom, unit.status) == (
        NodeKind.UNIT,
        q(1),
        "ea",
        "quarantine",
    )
    assert set(unit.parent_links.values_list("parent_id", "kind", "quantity")) == {
        (resin.pk, "component", q(20)),
        (pails.pk, "component", q(1)),
    }
    assert [Lot.objects.get(pk=x.pk).quantity for x in (resin, pails)] == [q(380), q(9)]


def test_unit_create_refuses_a_material_that_is_not_serialized(operator, unchanged):
    material = MaterialFactory()
    before = unchanged()

    with pytest.raises(InvalidInput, match="is not serialized"):
        services.unit_create(actor=operator, material=material, serial_number="S-1")
    assert unchanged() == before


def test_quantity_from_events_matches_the_column_after_a_history(supervisor):
    lot = received_lot(quantity="100", actor=supervisor)
    services.lot_consume(actor=supervisor, lot=lot, quantity="12.5", context=PHASE)
    services.lot_split(actor=supervisor, lot=lot, quantities=["20"])
    services.lot_adjust(
        actor=supervisor, lot=lot, delta="0.25", reason="recount", signer=signer_for(supervisor)
    )

    assert lot_quantity_from_events(lot=lot) == Lot.objects.get(pk=lot.pk).quantity == q("67.75")


def test_the_database_refuses_a_negative_quantity(operator):
    from django.db import IntegrityError, transaction

    lot = received_lot(quantity="1", actor=operator)

    with pytest.raises(IntegrityError), transaction.atomic():
        Lot.objects.filter(pk=lot.pk).update(quantity=Decimal("-1"))
    assert Lot.objects.get(pk=lot.pk).quantity == q(1)
