"""Inbound ERP orders: idempotency on (connection, order, version), a change applied where
nothing started, refused (with the reason sent back) where it has."""

from decimal import Decimal

import pytest

from batches.choices import BatchStatus
from batches.models import BatchOrder
from batches.tests import factories as bf
from erp_connectors.inbound import order_receive
from erp_connectors.models import ErpOrderLink, InboundReceipt, OutboxMessage
from erp_connectors.tests import factories as f
from mes.exceptions import InvalidInput, NotAuthorized
from workorders.choices import WorkOrderSource, WorkOrderStatus
from workorders.models import WorkOrder
from workorders.tests import conftest as workorders_conftest

pytestmark = pytest.mark.django_db
line = workorders_conftest.line  # the packaging line fixture of workorders' tests


@pytest.fixture
def conn(admin_user):
    return f.connection(actor=admin_user)


@pytest.fixture
def recipe(recipe_author, qa_user):
    return bf.recipe(author=recipe_author, reviewer=qa_user)


def _counts():
    return (
        BatchOrder.objects.count(),
        WorkOrder.objects.count(),
        ErpOrderLink.objects.count(),
        InboundReceipt.objects.count(),
        OutboxMessage.objects.count(),
    )


def test_a_process_order_becomes_a_batch_once(conn, recipe, integration_user):
    first = order_receive(actor=integration_user, connection=conn, order=f.process_order())
    again = order_receive(actor=integration_user, connection=conn, order=f.process_order())

    batch = BatchOrder.objects.get()
    assert (first.outcome, first.mes_number) == ("created", batch.number)
    assert (again.outcome, again.original, again.mes_number) == (
        "duplicate",
        "created",
        batch.number,
    )
    assert (batch.batch_size, batch.recipe_version_id, batch.status) == (
        Decimal("2000"),
        recipe.pk,
        BatchStatus.CREATED,
    )
    link = ErpOrderLink.objects.get()
    assert (link.batch_id, link.expected_yield_pct, link.version) == (
        batch.pk,
        Decimal("97.5"),
        "1",
    )
    assert _counts() == (1, 0, 1, 1, 0)


def test_a_released_discrete_order_becomes_a_released_work_order(conn, line, integration_user):
    result = order_receive(actor=integration_user, connection=conn, order=f.discrete_order())
    order_receive(actor=integration_user, connection=conn, order=f.discrete_order())

    wo = WorkOrder.objects.get()
    assert result.mes_number == wo.number
    assert (wo.status, wo.source, wo.external_ref, wo.quantity) == (
        WorkOrderStatus.RELEASED,
        WorkOrderSource.ERP,
        "ERP1:WO-1:v1",
        Decimal("3"),
    )
    assert _counts() == (0, 1, 1, 1, 0)


def test_a_planned_order_stays_planned_and_a_release_version_releases_it(
    conn, line, integration_user
):
    order_receive(actor=integration_user, connection=conn, order=f.discrete_order(status="planned"))
    assert WorkOrder.objects.get().status == WorkOrderStatus.PLANNED

    result = order_receive(
        actor=integration_user,
        connection=conn,
        order=f.discrete_order(version="2", status="released"),
    )

    assert result.outcome == "updated"
    assert WorkOrder.objects.get().status == WorkOrderStatus.RELEASED
    assert ErpOrderLink.objects.get().version == "2"


def test_a_change_before_the_start_replaces_the_batch(conn, recipe, integration_user):
    order_receive(actor=integration_user, connection=conn, order=f.process_order())
    old = BatchOrder.objects.get()

    result = order_receive(
        actor=integration_user,
        connection=conn,
        order=f.process_order(version="2", quantity=Decimal("3000")),
    )

    old.refresh_from_db()
    new = BatchOrder.objects.exclude(pk=old.pk).get()
    assert result.outcome == "updated"
    assert (old.status, old.cancel_reason) == (
        BatchStatus.CANCELLED,
        "ERP order PO-1 changed to version 2",
    )
    assert (new.batch_size, new.status) == (Decimal("3000"), BatchStatus.CREATED)
    link = ErpOrderLink.objects.get()
    assert (link.batch_id, link.version, link.quantity) == (new.pk, "2", Decimal("3000"))
    assert OutboxMessage.objects.count() == 0


def test_a_change_after_the_start_is_refused_and_sent_back_once(
    conn, recipe, integration_user, operator, supervisor
):
    order_receive(actor=integration_user, connection=conn, order=f.process_order())
    batch = BatchOrder.objects.get()
    unit = bf.reactor(cleaned_by=operator, verified_by=supervisor)
    from batches import services as batch_services

    batch_services.batch_start(actor=operator, batch=batch, unit=unit)
    changed = f.process_order(version="2", quantity=Decimal("3000"))

    refused = order_receive(actor=integration_user, connection=conn, order=changed)
    again = order_receive(actor=integration_user, connection=conn, order=changed)

    assert refused.outcome == "refused"
    assert refused.is_refused
    assert refused.reason == (
        f"ERP order PO-1 version 2 refused: batch {batch.number} is already started; "
        "the MES order can no longer be changed."
    )
    assert (again.outcome, again.original, again.is_refused) == ("duplicate", "refused", True)
    batch.refresh_from_db()
    assert (batch.batch_size, batch.status) == (Decimal("2000"), BatchStatus.STARTED)
    assert ErpOrderLink.objects.get().version == "1"
    rejection = OutboxMessage.objects.get(kind="order_rejection")
    assert rejection.payload == {"reason": refused.reason, "version": "2"}
    assert rejection.erp_order_id == "PO-1"
    assert list(InboundReceipt.objects.order_by("id").values_list("version", "outcome")) == [
        ("1", "created"),
        ("2", "refused"),
    ]


def test_an_older_version_is_stale_and_not_sent_back(conn, recipe, integration_user):
    order_receive(actor=integration_user, connection=conn, order=f.process_order(version="3"))

    stale = order_receive(actor=integration_user, connection=conn, order=f.process_order())

    assert stale.outcome == "refused"
    assert "not newer than the applied version 3" in stale.reason
    assert OutboxMessage.objects.count() == 0
    assert BatchOrder.objects.count() == 1


def test_an_unknown_material_is_refused_and_nothing_is_written(conn, line, integration_user):
    with pytest.raises(InvalidInput, match="Material NOPE is not in the MES material master"):
        order_receive(
            actor=integration_user, connection=conn, order=f.discrete_order(material_code="NOPE")
        )
    assert _counts() == (0, 0, 0, 0, 0)


def test_the_mapping_translates_erp_material_codes(admin_user, line, integration_user):
    conn = f.connection(actor=admin_user, mapping={"materials": {"KIT-20": "4711"}})

    order_receive(
        actor=integration_user, connection=conn, order=f.discrete_order(material_code="4711")
    )

    assert WorkOrder.objects.get().item.code == "KIT-20"


def test_an_operator_cannot_send_erp_orders(conn, recipe, operator):
    with pytest.raises(NotAuthorized):
        order_receive(actor=operator, connection=conn, order=f.process_order())
    assert _counts() == (0, 0, 0, 0, 0)


def test_a_zero_quantity_is_invalid(conn, recipe, integration_user):
    with pytest.raises(InvalidInput, match="the quantity must be positive"):
        order_receive(
            actor=integration_user, connection=conn, order=f.process_order(quantity=Decimal(0))
        )
    assert _counts() == (0, 0, 0, 0, 0)
