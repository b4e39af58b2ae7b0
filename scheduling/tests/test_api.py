"""The scheduling API: create-and-solve (eager Celery), progress, entries, move (409 with the
reason), lock, compare, publish, dispatch list; planners only for changes; DELETE is 405."""

from datetime import timedelta

import pytest
from guardian.shortcuts import assign_perm

from scheduling.models import EntryKind, Schedule, ScheduleEntry, ScheduleStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _on_commit(django_capture_on_commit_callbacks):
    """The solve is sent to Celery on commit (eager here): run those callbacks after each
    request, as the real commit would."""
    global _capture
    _capture = django_capture_on_commit_callbacks
    yield
    _capture = None


_capture = None


def _post(api_client, url, data=None):
    with _capture(execute=True):
        return api_client.post(url, data or {}, format="json")


BASE = "/api/v1/scheduling"


def _create(api_client, user, plant, **extra):
    api_client.force_authenticate(user)
    return _post(
        api_client,
        f"{BASE}/schedules/",
        {"site": plant.site.code, "time_limit_seconds": 2, **extra},
    )


@pytest.mark.parametrize(
    ("who", "status"),
    [("planner", 201), ("operator", 403), ("supervisor", 403), ("qa_user", 403)],
)
def test_only_a_planner_creates_a_schedule(request, api_client, plant, demand, who, status):
    response = _create(api_client, request.getfixturevalue(who), plant)
    assert response.status_code == status, response.content
    assert Schedule.objects.count() == (1 if status == 201 else 0)


def test_create_solves_and_reports_progress(api_client, plant, demand, planner):
    response = _create(api_client, planner, plant, tardiness_weight=5, changeover_weight=2)
    body = response.json()
    assert body["status"] == "proposed"
    progress = api_client.get(f"{BASE}/schedules/{body['id']}/progress/").json()
    assert progress["solver_status"] == "done"  # eager Celery: solved to its time limit
    assert progress["solutions_found"] >= 1
    assert progress["best_objective"] is not None
    assert (progress["tardiness_weight"], progress["changeover_weight"]) == (5, 2)
    entries = api_client.get(f"{BASE}/schedules/{body['id']}/entries/").json()
    kinds = {e["kind"] for e in entries}
    assert {"operation", "batch"} <= kinds
    conflicts = api_client.get(f"{BASE}/schedules/{body['id']}/conflicts/").json()
    assert conflicts == {"conflicts": [], "entries": {}}


def test_infeasible_input_is_a_400_naming_the_batch(api_client, plant, demand, planner):
    for unit in (plant.r1, plant.r2):
        unit.working_volume_l = 1000
        unit.save()
    response = _create(api_client, planner, plant)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_schedule_input"
    assert "batch B-1" in response.json()["detail"]
    assert not Schedule.objects.exists()


def test_move_lock_compare_publish_and_dispatch(api_client, plant, demand, planner, operator):
    published_id = _create(api_client, planner, plant).json()["id"]
    assert api_client.post(f"{BASE}/schedules/{published_id}/publish/").status_code == 200
    proposed_id = _create(api_client, planner, plant).json()["id"]
    entry = (
        ScheduleEntry.objects.filter(schedule_id=proposed_id, kind=EntryKind.OPERATION)
        .select_related("operation")
        .order_by("start")
        .filter(operation__seq=50)
        .first()
    )
    before = (entry.start, entry.end)

    refused = api_client.post(
        f"{BASE}/entries/{entry.pk}/move/",
        {"start": (entry.start - timedelta(hours=3)).isoformat()},
        format="json",
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "move_breaks_rule"
    assert "preceding operation" in refused.json()["detail"]
    entry.refresh_from_db()
    assert (entry.start, entry.end) == before

    # past its due date whatever schedule the solver proposed (it starts after the due time)
    later = max(entry.start + timedelta(hours=30), entry.due_at + timedelta(hours=1))
    moved = api_client.post(
        f"{BASE}/entries/{entry.pk}/move/", {"start": later.isoformat()}, format="json"
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["is_locked"] is True
    assert "after its due date" in moved.json()["warnings"][0]
    unlocked = api_client.post(f"{BASE}/entries/{entry.pk}/lock/", {"locked": False}, format="json")
    assert unlocked.json()["is_locked"] is False

    compare = api_client.get(f"{BASE}/schedules/{proposed_id}/compare/").json()
    assert compare["published"] == Schedule.objects.get(pk=published_id).number
    row = next(r for r in compare["rows"] if r["ref"] == entry.key)
    assert row["change"] in ("moved", "resource changed")
    assert {m["metric"] for m in compare["metrics"]} == {
        "makespan_minutes",
        "tardiness_minutes",
        "changeover_minutes",
    }

    published = api_client.post(f"{BASE}/schedules/{proposed_id}/publish/")
    assert published.status_code == 200
    assert Schedule.objects.get(pk=published_id).status == ScheduleStatus.SUPERSEDED

    assign_perm("equipment.operate_in_area", operator, plant.centers["LBL"].area)
    api_client.force_authenticate(operator)
    listed = api_client.get(f"{BASE}/dispatch/", {"work_center": "PK-LBL"})
    assert listed.status_code == 200
    starts = [e["start"] for e in listed.json()]
    assert starts == sorted(starts)
    assert entry.key in [e["key"] for e in listed.json()]
    assert api_client.post(f"{BASE}/schedules/{proposed_id}/stop/").status_code == 403


def test_a_planner_moves_only_proposed_entries_and_delete_is_405(
    api_client, plant, demand, planner
):
    schedule_id = _create(api_client, planner, plant).json()["id"]
    api_client.post(f"{BASE}/schedules/{schedule_id}/publish/")
    entry = ScheduleEntry.objects.filter(schedule_id=schedule_id, kind=EntryKind.BATCH).first()
    response = api_client.post(
        f"{BASE}/entries/{entry.pk}/move/", {"start": entry.start.isoformat()}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "schedule_not_proposed"
    assert api_client.delete(f"{BASE}/schedules/{schedule_id}/").status_code == 405
    assert api_client.delete(f"{BASE}/entries/{entry.pk}/").status_code == 405
    stop = api_client.post(f"{BASE}/schedules/{schedule_id}/stop/")
    assert stop.status_code == 409


def test_reoptimize_is_accepted_and_solved(api_client, plant, demand, planner):
    schedule_id = _create(api_client, planner, plant).json()["id"]
    response = _post(
        api_client,
        f"{BASE}/schedules/{schedule_id}/solve/",
        {"makespan_weight": 7, "time_limit_seconds": 1},
    )
    assert response.status_code == 202
    fresh = Schedule.objects.get(pk=schedule_id)
    assert (fresh.makespan_weight, fresh.solver_status) == (7, "done")
    assert fresh.events.filter(type="schedule.solve_requested").count() == 2
