"""Fixtures of the self-audit tests: the batches' and work orders' test plants (their own
fixtures, reused), and the lot-made box work order."""

import pytest
from django.utils import timezone

from batches.tests.conftest import batch, unit, version  # noqa: F401 (fixtures)
from workorders import services as wo_services
from workorders.tests.conftest import box_routing, line, released_wo  # noqa: F401 (fixtures)


@pytest.fixture
def box_wo(box_routing, line, planner):  # noqa: F811
    """A lot-made box: op 10 Prepare (labor), op 20 Assemble (labor and machine, one label
    per box), 10 boxes, released."""
    wo = wo_services.work_order_create(
        actor=planner, item=line.box, quantity=10, due_date=timezone.localdate()
    )
    return wo_services.work_order_release(actor=planner, work_order=wo)
