"""Inbound ERP orders: idempotency on (connection, order, version), a change applied where
nothing started, refused (with the reason sent back) where it has."""

from datetime import timedelta
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


def test_a_released_work_order_not_yet_executed_is_replanned_in_place(conn, line, integration_user):
    order_receive(actor=integration_user, connection=conn, order=f.discrete_order())
    wo = WorkOrder.objects.get()
    new_due = wo.due_date + timedelta(days=3)

    result = order_receive(
        actor=integration_user,
        connection=conn,
        order=f.discrete_order(version="2", quantity=Decimal(5), due=new_due),
    )

    assert (result.outcome, result.mes_number, result.reason) == ("updated", wo.number, "")
    wo.refresh_from_db()
    assert (wo.status, wo.quantity, wo.due_date) == (WorkOrderStatus.RELEASED, 5, new_due)
    assert wo.units.exclude(status="voided").count() == 5
    event = wo.events.get(type="work_order.replanned")
    assert event.data["quantity"] == {"old": "3", "new": "5"}
    assert "ERP order ERP1:WO-1 changed to version 2" in event.data["reason"]
    link = ErpOrderLink.objects.get()
    assert (link.version, link.quantity, link.work_order_id) == ("2", Decimal(5), wo.pk)
    assert WorkOrder.objects.count() == 1
    assert not OutboxMessage.objects.filter(kind="order_rejection").exists()


def test_a_released_work_order_that_started_refuses_the_change_and_says_why(
    conn, line, integration_user, operator
):
    from workorders import services as wo_services

    order_receive(actor=integration_user, connection=conn, order=f.discrete_order())
    wo = WorkOrder.objects.get()
    wo_services.labor_clock_on(actor=operator, operation=workorders_conftest.op(wo, 10))

    refused = order_receive(
        actor=integration_user,
        connection=conn,
        order=f.discrete_order(version="2", quantity=Decimal(5)),
    )

    assert refused.outcome == "refused"
    assert refused.reason.startswith(
        f"ERP order WO-1 version 2 refused: {wo.number} cannot be re-planned: execution has "
        "started (labor records)"
    )
    wo.refresh_from_db()
    assert wo.quantity == 3
    rejection = OutboxMessage.objects.get(kind="order_rejection")
    assert rejection.payload == {"reason": refused.reason, "version": "2"}
    assert ErpOrderLink.objects.get().version == "1"


def test_a_released_work_order_cannot_be_cancelled_by_the_erp(conn, line, integration_user):
    order_receive(actor=integration_user, connection=conn, order=f.discrete_order())

    refused = order_receive(
        actor=integration_user,
        connection=conn,
        order=f.discrete_order(version="2", status="cancelled"),
    )

    assert refused.outcome == "refused"
    assert "already released to the floor and cannot be cancelled" in refused.reason
    assert WorkOrder.objects.get().status == WorkOrderStatus.RELEASED


def test_a_push_looks_each_thing_up_once(conn, line, integration_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    order_receive(actor=integration_user, connection=conn, order=f.discrete_order(erp_id="W-0"))
    with CaptureQueriesContext(connection) as ctx:
        order_receive(actor=integration_user, connection=conn, order=f.discrete_order())

    sql = [q["sql"] for q in ctx.captured_queries]
    materials = [s for s in sql if '"genealogy_material"."code" =' in s]
    ours = [s for s in sql if "erp_connectors_" in s]
    assert len(materials) == 1, materials  # the item, looked up once for work order and link
    # receipt of this version?, the link (locked), the link + its history, the receipt
    assert len(ours) == 5, ours


def test_order_lookups_can_only_use_the_unique_indexes():
    """A second index on the connection alone let PostgreSQL (with the statistics of a table
    that grows fast, as when an ERP pushes thousands of orders) scan every order of the
    connection on each lookup: throughput fell with every order received."""
    from django.db import connection

    for model, unique in (
        (InboundReceipt, "erp_receipt_version_once"),
        (ErpOrderLink, "erp_link_order_once"),
    ):
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
        on_connection = [
            name
            for name, c in constraints.items()
            if (c["index"] or c["unique"]) and c["columns"] and c["columns"][0] == "connection_id"
        ]
        assert on_connection == [unique], (model, on_connection)
