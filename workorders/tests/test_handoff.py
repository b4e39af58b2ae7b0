"""Mixed mode: QA releases a resin lot (quality.services.lot_release) → the handoff rule
creates and releases a work order for the pails with the lot reserved; nobody else may
consume the lot; the operator scans it into every unit; the forward trace from the raw
material reaches the units and the backward trace from a unit reaches the raw material."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from genealogy import selectors as genealogy_selectors
from genealogy import services as genealogy
from genealogy.choices import MaterialKind, UnitOfMeasure
from genealogy.exceptions import LotNotConsumable
from genealogy.models import Lot, LotEvent
from genealogy.tests.factories import MaterialFactory, SerializedMaterialFactory, received_lot
from mes.exceptions import Conflict, InvalidInput, NotAuthorized
from mes.testing import race
from quality import services as quality
from quality import signals as quality_signals
from quality.tests.factories import PASSING, approved_spec, enter_results
from quality.tests.factories import sign_as as quality_sign_as
from workorders import services
from workorders.choices import WorkOrderEventType, WorkOrderSource, WorkOrderStatus
from workorders.models import HandoffRule, LotReservation, WorkOrder, WorkOrderEvent
from workorders.receivers import on_lot_released
from workorders.tests.factories import approved_versions, kit_operations, released

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed(line, planner, qa_user, supervisor):
    resin = MaterialFactory(
        code="PS-RESIN", name="Resin", kind=MaterialKind.INTERMEDIATE, uom=UnitOfMeasure.KILOGRAM
    )
    styrene = MaterialFactory(code="STY", name="Styrene", uom=UnitOfMeasure.KILOGRAM)
    pail = SerializedMaterialFactory(code="PS-RESIN-P20", name="Resin, 20 kg pail")
    approved_versions(
        item=pail,
        lines=[
            {"component": resin, "quantity_per": "20", "operation_seq": 20},
            {"component": line.label, "quantity_per": "1", "operation_seq": 30},
        ],
        operations=kit_operations(line.centers),
        author=planner,
        approver=qa_user,
    )
    spec = approved_spec(material=resin)
    raw = released(received_lot(material=styrene, quantity=200, lot_number="STY-1"), supervisor)
    resin_lot = genealogy.lot_produce(
        actor=supervisor,
        material=resin,
        quantity=Decimal("65"),
        lot_number="RES-1",
        source={"kind": "batch", "ref": "B-1", "url": "/batches/1/"},
        inputs=[{"lot": raw, "quantity": Decimal("70")}],
    )
    enter_results(resin_lot, spec, PASSING, actor=qa_user)
    rule = services.handoff_rule_create(
        actor=planner, material=resin, item=pail, area=line.area, serial_pattern="P20-{seq:04d}"
    )
    return line, resin, pail, raw, resin_lot, rule


def _release(lot, qa_user, capture):
    with capture(execute=True):
        quality.lot_release(actor=qa_user, lot=lot, signer=quality_sign_as(qa_user))


def test_release_creates_and_releases_one_work_order_with_the_lot_reserved(
    mixed, qa_user, django_capture_on_commit_callbacks
):
    line, _resin, pail, _raw, resin_lot, rule = mixed
    _release(resin_lot, qa_user, django_capture_on_commit_callbacks)

    wo = WorkOrder.objects.get(item=pail)
    assert (wo.status, wo.quantity, wo.source) == (
        WorkOrderStatus.RELEASED,
        Decimal(3),  # 65 kg / 20 kg per pail
        WorkOrderSource.HANDOFF,
    )
    assert wo.area == line.area
    assert wo.created_by.username == "system"
    assert sorted(wo.units.values_list("serial_number", flat=True)) == [
        "P20-0001",
        "P20-0002",
        "P20-0003",
    ]
    reservation = LotReservation.objects.get()
    assert (reservation.lot, reservation.work_order, reservation.rule) == (resin_lot, wo, rule)
    assert reservation.quantity == Decimal(60)
    event = WorkOrderEvent.objects.get(work_order=wo, type=WorkOrderEventType.LOT_RESERVED)
    assert event.data["lot"] == "RES-1"
    assert event.data["reason"].startswith("mixed-mode handoff: lot RES-1 released")

    # the signal again (a retry, a second worker): still one work order
    on_lot_released(sender=None, lot_id=resin_lot.pk)
    quality_signals.lot_released.send(sender=None, lot_id=resin_lot.pk)
    assert WorkOrder.objects.filter(item=pail).count() == 1
    assert LotReservation.objects.count() == 1


def test_a_reserved_lot_is_refused_to_anyone_else(
    mixed, qa_user, supervisor, django_capture_on_commit_callbacks
):
    _line, _resin, _pail, _raw, resin_lot, _rule = mixed
    _release(resin_lot, qa_user, django_capture_on_commit_callbacks)
    events = LotEvent.objects.count()

    with pytest.raises(LotNotConsumable) as refused:
        genealogy.lot_consume(
            actor=supervisor,
            lot=resin_lot,
            quantity=Decimal(5),
            context={"kind": "batch_phase", "ref": "B-2/phase 1", "url": "/batches/2/"},
        )
    assert refused.value.code == "lot_reserved"
    assert "is reserved for work order WO-" in refused.value.detail
    assert LotEvent.objects.count() == events
    assert Lot.objects.get(pk=resin_lot.pk).quantity == Decimal(65)


def test_units_get_the_lot_and_traces_reach_both_ways(
    mixed, qa_user, operator, django_capture_on_commit_callbacks
):
    _line, _resin, pail, raw, resin_lot, _rule = mixed
    _release(resin_lot, qa_user, django_capture_on_commit_callbacks)
    wo = WorkOrder.objects.get(item=pail)
    units = list(wo.units.order_by("serial_number"))
    for unit in units:
        services.unit_complete_operation(actor=operator, unit=unit)  # op 10
        services.unit_scan_component(actor=operator, unit=unit, code="RES-1")  # op 20
    assert Lot.objects.get(pk=resin_lot.pk).quantity == Decimal(5)

    forward = genealogy_selectors.lot_trace_forward(lot=raw)
    assert {u.lot_id for u in units} <= set(forward.nodes)
    backward = genealogy_selectors.lot_trace_backward(lot=units[0].lot)
    assert {raw.pk, resin_lot.pk} <= set(backward.nodes)


def test_close_ends_the_reservation(
    mixed, qa_user, operator, planner, supervisor, django_capture_on_commit_callbacks
):
    line, _resin, pail, _raw, resin_lot, _rule = mixed
    _release(resin_lot, qa_user, django_capture_on_commit_callbacks)
    wo = WorkOrder.objects.get(item=pail)
    for unit in wo.units.all():
        services.unit_complete_operation(actor=operator, unit=unit)
        services.unit_scrap(actor=operator, unit=unit, reason_code=line.scrap, note="dented")
    services.work_order_close(actor=planner, work_order=wo)
    assert LotReservation.objects.get().ended_at is not None
    event = genealogy.lot_consume(
        actor=supervisor,
        lot=resin_lot,
        quantity=Decimal(5),
        context={"kind": "batch_phase", "ref": "B-2/phase 1", "url": "/batches/2/"},
    )
    assert event.lot_id == resin_lot.pk
    assert Lot.objects.get(pk=resin_lot.pk).quantity == Decimal(60)


def test_no_rule_no_work_order_and_an_inactive_rule_does_nothing(
    mixed, qa_user, planner, django_capture_on_commit_callbacks
):
    _line, _resin, pail, _raw, resin_lot, rule = mixed
    services.handoff_rule_set_active(actor=planner, rule=rule, is_active=False, reason="line down")
    _release(resin_lot, qa_user, django_capture_on_commit_callbacks)
    assert not WorkOrder.objects.filter(item=pail).exists()
    assert not LotReservation.objects.exists()
    assert HandoffRule.history.filter(id=rule.pk).count() == 2


def test_rule_refusals(mixed, planner, operator):
    line, resin, pail, _raw, _lot, _rule = mixed
    with pytest.raises(Conflict):
        services.handoff_rule_create(actor=planner, material=resin, item=pail, area=line.area)
    with pytest.raises(InvalidInput, match="has no BOM that uses STY"):
        services.handoff_rule_create(
            actor=planner,
            material=Lot.objects.get(lot_number="STY-1").material,
            item=pail,
            area=line.area,
        )
    with pytest.raises(NotAuthorized):
        services.handoff_rule_create(actor=operator, material=resin, item=line.kit, area=line.area)
    assert HandoffRule.objects.count() == 1


def test_lot_too_small_for_one_unit_is_refused_and_writes_nothing(mixed, supervisor):
    _line, resin, _pail, _raw, _lot, rule = mixed
    small = released(received_lot(material=resin, quantity=10, lot_number="RES-S"), supervisor)
    system = get_user_model().objects.get(username="system")
    with pytest.raises(InvalidInput, match="less than one PS-RESIN-P20 needs"):
        services.handoff_lot_released(actor=system, rule=rule, lot=small)
    assert not WorkOrder.objects.filter(source=WorkOrderSource.HANDOFF).exists()


def test_api_creates_a_rule_and_refuses_an_operator(api_client, line, planner, operator, qa_user):
    resin = MaterialFactory(code="PS-RESIN", uom=UnitOfMeasure.KILOGRAM)
    approved_versions(
        item=line.box,
        lines=[{"component": resin, "quantity_per": "2.5", "operation_seq": 10}],
        operations=[kit_operations(line.centers)[0]],
        author=planner,
        approver=qa_user,
    )
    body = {"material": "PS-RESIN", "item": "BOX-20", "area": line.area.code}
    api_client.force_authenticate(operator)
    denied = api_client.post("/api/v1/workorders/handoff-rules/", body, format="json")
    assert denied.status_code == 403
    assert not HandoffRule.objects.exists()
    api_client.force_authenticate(planner)
    made = api_client.post("/api/v1/workorders/handoff-rules/", body, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["item"] == "BOX-20"
    again = api_client.post("/api/v1/workorders/handoff-rules/", body, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate_handoff_rule"
    listed = api_client.get("/api/v1/workorders/handoff-rules/")
    assert [r["material"] for r in listed.json()["results"]] == ["PS-RESIN"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_handoffs_of_one_lot_at_once_make_one_work_order(mixed, supervisor):
    _line, _resin, pail, _raw, resin_lot, rule = mixed
    genealogy.lot_set_status(actor=supervisor, lot=resin_lot, status="released", reason="test")
    system = get_user_model().objects.get(username="system")
    outcomes = race(
        lambda: services.handoff_lot_released(actor=system, rule=rule, lot=resin_lot),
        lambda: services.handoff_lot_released(actor=system, rule=rule, lot=resin_lot),
    )
    assert outcomes[0].pk == outcomes[1].pk
    assert WorkOrder.objects.filter(item=pail).count() == 1
