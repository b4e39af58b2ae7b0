"""A planner opens the Gantt of a proposed schedule, moves an operation (the move form; the
schedule is re-validated and the moved operation locked), re-optimizes and publishes: the old
published schedule is superseded and the line's dispatch list follows the new one."""

from datetime import timedelta

import pytest
from django.utils import timezone

from batches.tests import factories as bf
from equipment.tests.factories import ProcessCellFactory
from scheduling import services
from scheduling.models import EntryKind, Schedule, ScheduleStatus
from tests.browser import login
from workorders import services as wo_services
from workorders.tests.factories import (
    approved_versions,
    kit_materials,
    kit_operations,
    work_centers,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _plant(planner, operator, supervisor, recipe_author, qa_user):
    cell = ProcessCellFactory()
    bf.reactor(cleaned_by=operator, verified_by=supervisor, code="R-1", process_cell=cell)
    version = bf.recipe(author=recipe_author, reviewer=qa_user)
    centers = work_centers()
    materials = kit_materials()
    approved_versions(
        item=materials["kit"],
        lines=[{"component": materials["label"], "quantity_per": "2", "operation_seq": 30}],
        operations=kit_operations(centers),
        author=planner,
        approver=qa_user,
    )
    wo = wo_services.work_order_create(
        actor=planner,
        item=materials["kit"],
        quantity=3,
        due_date=timezone.localdate() + timedelta(days=2),
    )
    wo_services.work_order_release(actor=planner, work_order=wo)
    bf.batch_order(planner=planner, version=version, number="B-1")
    bf.batch_order(planner=planner, version=version, number="B-2")
    return centers


def test_a_planner_moves_reoptimizes_and_publishes(
    browser_page, live_server, planner, operator, supervisor, recipe_author, qa_user
):
    page = browser_page
    centers = _plant(planner, operator, supervisor, recipe_author, qa_user)
    site = centers["ASM"].area.site
    old = services.schedule_create(actor=planner, site=site, time_limit_seconds=1)
    services.schedule_solve(schedule_id=old.pk, actor=planner)
    services.schedule_publish(actor=planner, schedule=old)
    proposed = services.schedule_create(actor=planner, site=site, time_limit_seconds=1)
    services.schedule_solve(schedule_id=proposed.pk, actor=planner)
    pack = proposed.entries.select_related("operation").get(
        kind=EntryKind.OPERATION, operation__seq=50
    )

    login(page, live_server.url, planner.username)
    page.goto(f"{live_server.url}/scheduling/")
    with page.expect_navigation():
        page.click(f"text={proposed.number}")
    assert page.locator("[data-testid='row-PK-ASM'] .bar-operation").count() >= 1
    assert page.locator("[data-testid='row-R-1'] .bar-batch").count() == 2
    assert page.locator("[data-gantt] .bar-cleaning").count() == 1

    # dragging the pack operation to the start of the horizon (before its predecessors):
    # the server refuses it (409), the bar goes back and the reason is shown
    bar = page.locator(f"[data-testid='bar-{pack.key}']")
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    page.mouse.move(box["x"] + 3, box["y"] + box["height"] / 2)
    page.mouse.down()
    track = page.locator("[data-testid='row-PK-LBL'] .gantt-track").bounding_box()
    page.mouse.move(track["x"] + 1, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    page.wait_for_selector("#messages .msg-error")
    assert "Move refused" in page.inner_text("#messages")
    assert "preceding operation" in page.inner_text("#messages")
    pack.refresh_from_db()
    assert not pack.is_locked

    # the same through the move form: refused too
    page.select_option("[data-testid=move-entry]", str(pack.pk))
    too_early = timezone.localtime(proposed.horizon_start - timedelta(hours=1))
    page.fill("[data-testid=move-start]", too_early.strftime("%Y-%m-%dT%H:%M"))
    with page.expect_navigation():
        page.click("[data-testid=move]")
    assert "cannot move there" in page.inner_text("#messages")

    # a valid move: two hours later
    new_start = timezone.localtime(pack.start + timedelta(hours=2))
    page.select_option("[data-testid=move-entry]", str(pack.pk))
    page.fill("[data-testid=move-start]", new_start.strftime("%Y-%m-%dT%H:%M"))
    with page.expect_navigation():
        page.click("[data-testid=move]")
    assert "moved and locked" in page.inner_text("#messages")
    pack.refresh_from_db()
    assert pack.is_locked
    assert pack.start == new_start.replace(second=0, microsecond=0)
    assert page.locator(f"[data-testid='bar-{pack.key}'].bar-locked").count() == 1

    page.fill("[data-testid=reoptimize-form] input[name=time_limit_seconds]", "1")
    with page.expect_navigation():
        page.click("[data-testid=reoptimize]")
    page.wait_for_selector("[data-testid=live][data-solver=done]")
    proposed.refresh_from_db()
    assert proposed.solver_status == "done"
    assert proposed.entries.get(key=pack.key).work_center_id == pack.work_center_id

    with page.expect_navigation():
        page.click("[data-testid=compare]")
    assert page.locator("[data-testid=compare-rows] tr").count() > 1
    page.go_back()
    with page.expect_navigation():
        page.click("[data-testid=publish]")
    assert page.inner_text("[data-testid=schedule-status]") == "Published"
    assert Schedule.objects.get(pk=old.pk).status == ScheduleStatus.SUPERSEDED
    assert Schedule.objects.get(pk=proposed.pk).published_by == planner

    page.goto(f"{live_server.url}/scheduling/dispatch/work-centers/{centers['LBL'].pk}/")
    assert "From schedule " + proposed.number in page.inner_text("#dispatch")
    assert page.locator("[data-testid=dispatch-list] li").count() >= 2
