"""Fixtures of the self-audit tests: the batches' and work orders' test plants (their own
fixtures, reused), and the lot-made box work order."""

import pytest
from django.utils import timezone

from batches.tests.conftest import batch, unit, version  # noqa: F401 (fixtures)
from workorders import services as wo_services
from workorders.tests.conftest import line, released_wo  # noqa: F401 (fixtures)
from workorders.tests.factories import approved_versions, kit_operations


@pytest.fixture
def box_wo(line, planner, qa_user):  # noqa: F811
    """A lot-made box: op 10 Prepare (labor), op 20 Assemble (labor and machine, one label
    per box), 10 boxes, released."""
    ops = kit_operations(line.centers)
    approved_versions(
        item=line.box,
        lines=[{"component": line.label, "quantity_per": "1", "operation_seq": 20}],
        operations=[ops[0], ops[1]],
        author=planner,
        approver=qa_user,
    )
    wo = wo_services.work_order_create(
        actor=planner, item=line.box, quantity=10, due_date=timezone.localdate()
    )
    return wo_services.work_order_release(actor=planner, work_order=wo)
