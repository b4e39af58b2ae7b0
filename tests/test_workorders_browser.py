"""An operator at the work-order terminal runs a serialized kit through all five operations:
clocks on, completes the first, is refused a wrong component, scans the right pail serial and
the label lot, fails the inspection, sends the unit to rework, brings it back, passes the
second inspection and packs it. Genealogy then links the pail and the labels to the unit."""

import pytest

from genealogy.models import Link
from tests.browser import login
from workorders.models import ComponentConsumption, LaborRecord, QuantityReport, WorkOrderUnit
from workorders.tests.conftest import line, released_wo  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open(page, center, title):
    """From the terminal: choose the work center, open the operation."""
    page.goto("/workorders/terminal/")
    with page.expect_navigation():
        page.select_option("#work_center", label=f"{center.code} {center.name}")
    with page.expect_navigation():
        page.locator("[data-testid=operations] tr", has_text=title).locator("text=Open").click()
    seq, name = title.split(" ", 1)
    assert f"/op {seq} — {name}" in page.inner_text("[data-testid=op-title]")


def _click(page, selector):
    with page.expect_navigation():
        page.click(selector)


def test_an_operator_runs_a_unit_through_every_operation(
    browser_page,
    live_server,
    line,  # noqa: F811
    released_wo,  # noqa: F811
    operator,
):
    page = browser_page
    unit = released_wo.units.order_by("serial_number").first()
    serial = unit.serial_number
    card = f"[data-testid=unit-{serial}]"
    login(page, live_server.url, operator.username)

    _open(page, line.centers["ASM"], "10 Prepare")
    _click(page, "button:has-text('Clock on')")
    assert "Clocked on." in page.inner_text("#messages")
    _click(page, f"{card} button:has-text('Complete {serial}')")
    assert "completed" in page.inner_text("#messages")

    _open(page, line.centers["ASM"], "20 Assemble")
    page.fill(f"{card} input[name=code]", "LBL-LOT-1")
    _click(page, f"{card} button:has-text('Open')")
    assert "LBL-LOT-1 is LBL-20; this operation takes PAIL-20." in page.inner_text("#messages")
    page.fill(f"{card} input[name=code]", "PS-001")
    _click(page, f"{card} button:has-text('Open')")
    assert f"Component recorded into {serial}" in page.inner_text("#messages")
    _click(page, f"{card} button:has-text('Complete {serial}')")

    _open(page, line.centers["LBL"], "30 Label")
    page.fill(f"{card} input[name=code]", "LBL-LOT-1")
    _click(page, f"{card} button:has-text('Open')")
    _click(page, f"{card} button:has-text('Complete {serial}')")

    _open(page, line.centers["QC"], "40 Inspect")
    page.select_option(f"{card} select[name^=char_]", "fail")
    page.fill(f"{card} input[name^=char_]", "3.1")
    _click(page, f"{card} button:has-text('Record inspection')")
    _click(page, f"{card} button:has-text('Complete {serial}')")
    assert "failed Seal intact" in page.inner_text("#messages")
    _click(page, f"{card} button:has-text('Send to rework')")
    assert WorkOrderUnit.objects.get(pk=unit.pk).status == "rework"
    _click(page, f"{card} button:has-text('Back from rework')")
    page.select_option(f"{card} select[name^=char_]", "pass")
    page.fill(f"{card} input[name^=char_]", "3.1")
    _click(page, f"{card} button:has-text('Record inspection')")
    _click(page, f"{card} button:has-text('Complete {serial}')")

    _open(page, line.centers["LBL"], "50 Pack")
    _click(page, f"{card} button:has-text('Complete {serial}')")
    assert f"{serial} completed" in page.inner_text("#messages")

    unit.refresh_from_db()
    assert unit.status == "finished"
    assert list(
        QuantityReport.objects.filter(unit=unit).order_by("id").values_list("kind", flat=True)
    ) == ["good", "good", "good", "rework", "rework_return", "good", "good"]
    assert sorted(
        ComponentConsumption.objects.filter(unit=unit).values_list("lot__lot_number", flat=True)
    ) == ["LBL-LOT-1", "PS-001"]
    assert sorted(
        Link.objects.filter(child=unit.lot).values_list("parent__lot_number", flat=True)
    ) == ["LBL-LOT-1", "PS-001"]
    assert LaborRecord.objects.filter(operator=operator).count() == 1
