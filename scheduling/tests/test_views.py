"""The planner's pages and the terminals' dispatch pages: who sees what, the HTMX progress
poll, the Gantt's drop answered 409 with the reason, the lock button."""

from datetime import timedelta

import pytest
from guardian.shortcuts import assign_perm

from scheduling import services
from scheduling.models import EntryKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def schedule(plant, demand, planner):
    created = services.schedule_create(actor=planner, site=plant.site, time_limit_seconds=1)
    return services.schedule_solve(schedule_id=created.pk, actor=planner)


def test_the_planner_sees_the_gantt_with_every_resource(client, planner, schedule):
    client.force_login(planner)
    page = client.get(f"/scheduling/{schedule.pk}/").content.decode()
    for code in ("PK-ASM", "PK-FIL", "PK-LBL", "PK-QC", "R-1", "R-2"):
        assert f'data-testid="row-{code}"' in page
    assert page.count('class="bar bar-batch') == 3
    assert 'data-testid="move-form"' in page
    assert 'data-testid="publish"' in page


def test_the_progress_poll_is_a_partial_that_refreshes_when_done(client, planner, schedule):
    client.force_login(planner)
    response = client.get(
        f"/scheduling/{schedule.pk}/progress/?was=solving", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response["HX-Refresh"] == "true"
    assert 'data-solver="done"' in response.content.decode()
    assert "<html" not in response.content.decode()


def test_an_operator_may_not_plan(client, plant, operator, schedule):
    assign_perm("equipment.operate_in_area", operator, plant.r1.area)
    client.force_login(operator)
    page = client.get(f"/scheduling/{schedule.pk}/")
    assert page.status_code == 200
    assert 'data-testid="move-form"' not in page.content.decode()
    entry = schedule.entries.filter(kind=EntryKind.OPERATION).first()
    response = client.post(
        f"/scheduling/{schedule.pk}/move/",
        {"entry": entry.pk, "start": entry.start.isoformat()},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    response = client.post(f"/scheduling/{schedule.pk}/publish/", follow=True)
    assert "may not publish" in response.content.decode()
    schedule.refresh_from_db()
    assert schedule.status == "proposed"


def test_a_drop_that_breaks_a_rule_is_a_409(client, planner, schedule):
    client.force_login(planner)
    batch = schedule.entries.filter(kind=EntryKind.BATCH).order_by("start").last()
    other = schedule.entries.filter(kind=EntryKind.BATCH, unit=batch.unit).exclude(pk=batch.pk)
    other = (
        other.order_by("start").first()
        or schedule.entries.filter(kind=EntryKind.BATCH).exclude(pk=batch.pk).first()
    )
    response = client.post(
        f"/scheduling/{schedule.pk}/move/",
        {"entry": batch.pk, "start": other.start.isoformat(), "resource": f"unit:{other.unit_id}"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 409
    assert "overlap" in response.json()["detail"]
    fresh = schedule.entries.get(key=batch.key)
    assert (fresh.start, fresh.unit_id) == (batch.start, batch.unit_id)


def test_lock_button_locks(client, planner, schedule):
    client.force_login(planner)
    entry = schedule.entries.filter(kind=EntryKind.OPERATION).first()
    response = client.post(
        f"/scheduling/{schedule.pk}/entries/{entry.pk}/lock/", {"locked": "1"}, follow=True
    )
    assert "locked" in response.content.decode()
    entry.refresh_from_db()
    assert entry.is_locked


def test_the_terminal_shows_the_published_dispatch_list(client, plant, planner, operator, schedule):
    services.schedule_publish(actor=planner, schedule=schedule)
    assign_perm("equipment.operate_in_area", operator, plant.r1.area)
    client.force_login(operator)
    page = client.get(f"/scheduling/dispatch/units/{plant.r1.pk}/").content.decode()
    assert f"From schedule {schedule.number}" in page
    first = (
        schedule.entries.filter(unit=plant.r1).exclude(kind="unavailable").order_by("start").first()
    )
    assert "NEXT:" in page
    assert page.index("NEXT:") < page.index(first.label)
    hidden = client.get(f"/scheduling/dispatch/work-centers/{plant.centers['ASM'].pk}/")
    assert hidden.status_code == 404  # the operator is granted only the resin area


def test_compare_page(client, planner, plant, schedule, demand):
    services.schedule_publish(actor=planner, schedule=schedule)
    second = services.schedule_create(actor=planner, site=plant.site, time_limit_seconds=1)
    services.schedule_solve(schedule_id=second.pk, actor=planner)
    client.force_login(planner)
    page = client.get(f"/scheduling/{second.pk}/compare/").content.decode()
    assert f"{second.number} against {schedule.number}" in page
    assert 'data-testid="compare-rows"' in page
    assert page.count("data-gantt") == 2


def test_a_move_form_past_due_shows_the_warning(client, planner, schedule, demand):
    client.force_login(planner)
    last = (
        schedule.entries.filter(kind=EntryKind.OPERATION, operation__seq=50)
        .order_by("start")
        .first()
    )
    late = last.due_at + timedelta(hours=1)
    response = client.post(
        f"/scheduling/{schedule.pk}/move/",
        {"entry": last.pk, "start": late.isoformat()},
        follow=True,
    )
    assert "after its due date" in response.content.decode()


def test_master_data_a_planner_sets_a_rule_and_a_priority(client, plant, demand, planner):
    from scheduling.models import ChangeoverMatrix, DemandPriority

    matrix = ChangeoverMatrix.objects.create(site=plant.site, name="Resin cell")
    client.force_login(planner)
    client.post(
        "/scheduling/master-data/",
        {
            "form": "rule",
            "matrix": matrix.pk,
            "from_product": "RESIN-T",
            "to_product": "RESIN-X",
            "kind": "major",
            "clean_minutes": "300",
        },
    )
    client.post(
        "/scheduling/master-data/",
        {"form": "priority", "order": "B-2", "priority": "7", "duration_minutes": "240"},
    )
    page = client.get("/scheduling/master-data/").content.decode()
    assert "RESIN-X" in page
    rule = matrix.rules.get()
    assert (rule.kind, rule.clean_minutes, rule.is_forbidden) == ("major", 300, False)
    prio = DemandPriority.objects.get(batch__number="B-2")
    assert (prio.priority, prio.duration_minutes) == (7, 240)
    problem = services.build_problem(
        site=plant.site, horizon_start=prio.batch.created_at, horizon_hours=24
    )
    b2 = next(b for b in problem["campaign"]["batches"] if b["key"] == "B-2")
    assert (b2["weight"], b2["duration"]) == (7, 240)


def test_master_data_is_refused_to_a_supervisor(client, plant, demand, supervisor):
    client.force_login(supervisor)
    response = client.post(
        "/scheduling/master-data/",
        {"form": "priority", "order": "B-2", "priority": "7"},
        follow=True,
    )
    assert "may not set order priorities" in response.content.decode()
