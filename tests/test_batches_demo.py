"""The batches demo step: a released batch with a closed deviation and a running batch, on
RESIN-PA in R-101, every signature valid; a second run changes nothing."""

from io import StringIO

import pytest
from django.core.management import call_command

from batches import ebr
from batches.models import BatchOrder
from quality.models import Deviation

pytestmark = pytest.mark.django_db


def _load() -> str:
    out = StringIO()
    call_command("load_demo", "--no-input", stdout=out)
    return out.getvalue()


def test_demo_batches():
    first = _load()

    assert "batch B-DEMO-0001 of RESIN-PA: executed, deviation closed, released" in first
    released = BatchOrder.objects.get(number="B-DEMO-0001")
    running = BatchOrder.objects.get(number="B-DEMO-0002")
    assert (released.status, released.unit.code) == ("released", "R-101")
    assert released.output_lot.lot_number == "B-DEMO-0001-P"
    assert released.output_lot.status == "released"  # by QA's batch release signature
    assert list(
        Deviation.objects.filter(source_kind="batch", source_ref="B-DEMO-0001").values_list(
            "title", "status"
        )
    ) == [("B-DEMO-0001: Charge temperature out of limits", "closed")]
    statuses = list(running.phases.order_by("sequence").values_list("status", flat=True))
    assert statuses[:5] == ["completed", "completed", "completed", "active", "pending"]
    assert running.status == "started"
    data = ebr.ebr_export(released)
    assert [s["is_valid"] for s in data["signatures"]] == [True]
    assert all(s["is_valid"] for p in data["record"]["phases"] for s in p["signatures"])

    batches_after_first = BatchOrder.objects.count()  # other apps' demo steps add batches too

    second = _load()

    assert "nothing changed" in second
    assert BatchOrder.objects.count() == batches_after_first
