"""The audit-trail screen, CSV export, per-record partial and the read-only API (P11-E-05:
reviewable, filterable, exportable; P11-E-01: no way to write events through the app)."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from mes.accounts.tests.factories import UserFactory
from mes.audit.context import acting_as
from mes.audit.models import AuditEvent
from mes.audit.selectors import events_for_record
from mes.audit.testing import seal_pending
from mes.audit.tests.factories import GroupFactory

pytestmark = pytest.mark.django_db

LIST = "/audit/"
EXPORT = "/audit/export.csv"
API = "/api/v1/mes/audit-events/"


@pytest.fixture
def renamed_group(qa_user):
    """A group created by the QA user and renamed by the admin's reason."""
    with acting_as(qa_user, reason="create the reviewers"):
        group = GroupFactory(name="Line 4 reviewers")
    with acting_as(qa_user, reason="line renumbered"):
        group.name = "Line 5 reviewers"
        group.save()
    seal_pending()
    return group


def test_the_screen_needs_login(client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("person", "status"),
    [
        ("operator", 403),
        ("planner", 403),
        ("qa_user", 200),
        ("supervisor", 200),
        ("admin_user", 200),
    ],
)
def test_who_may_read_the_trail(client, request, person, status):
    client.force_login(request.getfixturevalue(person))
    assert client.get(LIST).status_code == status
    assert client.get(EXPORT).status_code == status


def test_the_view_permission_opens_the_screen_but_not_the_export(client):
    auditor = UserFactory(username="ian.inspector")
    auditor.user_permissions.add(Permission.objects.get(codename="view_auditevent"))

    client.force_login(auditor)

    assert client.get(LIST).status_code == 200
    assert client.get(EXPORT).status_code == 403


def test_the_screen_shows_old_and_new_values_with_the_utc_offset(client, qa_user, renamed_group):
    client.force_login(qa_user)

    response = client.get(LIST, {"table": "auth_group", "record": str(renamed_group.pk)})

    events = list(response.context["events"])
    assert [e.action for e in events] == ["UPDATE", "INSERT"]  # newest first
    html = response.content.decode()
    assert "<del>Line 4 reviewers</del> → <ins>Line 5 reviewers</ins>" in html
    assert "line renumbered" in html
    stamp = timezone.localtime(events[0].occurred_at).strftime("%Y-%m-%d %H:%M:%S %z")
    assert stamp.endswith("+0000")
    assert stamp in html


def test_filters_by_user_action_and_time(client, qa_user, renamed_group, admin_user):
    with acting_as(admin_user, reason="housekeeping"):
        GroupFactory(name="Admin's group")
    seal_pending()
    client.force_login(qa_user)
    now = timezone.now()

    by_user = client.get(LIST, {"table": "auth_group", "user": "quinn"}).context["events"]
    by_action = client.get(LIST, {"table": "auth_group", "action": "UPDATE"}).context["events"]
    future = client.get(LIST, {"since": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")})
    by_id = client.get(LIST, {"table": "auth_group", "user": str(admin_user.pk)}).context["events"]

    assert {e.user_name for e in by_user} == {"quinn.qa"}
    assert [e.new_values for e in by_action] == [{"name": "Line 5 reviewers"}]
    assert list(future.context["events"]) == []
    assert [e.new_values["name"] for e in by_id] == ["Admin's group"]


def test_the_list_is_paginated(client, qa_user):
    Group.objects.bulk_create([Group(name=f"Paged {n}") for n in range(55)])
    seal_pending()
    client.force_login(qa_user)

    first = client.get(LIST, {"table": "auth_group", "user": "pytest"})
    second = client.get(LIST, {"table": "auth_group", "user": "pytest", "page": 2})

    assert len(first.context["events"]) == 50
    assert len(second.context["events"]) == 5
    assert "Page 1 of 2 (55 events)" in first.content.decode()


def test_csv_export_of_the_filtered_set(client, qa_user, renamed_group):
    client.force_login(qa_user)

    response = client.get(EXPORT, {"table": "auth_group", "record": str(renamed_group.pk)})

    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert [(r["action"], r["user_name"], r["reason"]) for r in rows] == [
        ("UPDATE", "quinn.qa", "line renumbered"),
        ("INSERT", "quinn.qa", "create the reviewers"),
    ]
    assert rows[0]["old_values"] == '{"name": "Line 4 reviewers"}'
    assert rows[0]["record_type"] == "auth.Group"
    assert rows[0]["occurred_at"].endswith("+00:00")
    assert rows[0]["hash"] == AuditEvent.objects.get(seq=int(rows[0]["seq"])).hash


def test_csv_export_keeps_formula_like_text_inert(client, qa_user):
    with acting_as(qa_user, reason='=HYPERLINK("http://evil")'):
        GroupFactory(name="Formula")
    seal_pending()
    client.force_login(qa_user)

    body = b"".join(client.get(EXPORT, {"table": "auth_group"}).streaming_content).decode()

    [row] = list(csv.DictReader(io.StringIO(body)))
    assert row["reason"] == '\'=HYPERLINK("http://evil")'


def test_the_record_partial_for_other_apps(client, qa_user, renamed_group, operator):
    html = render_to_string(
        "audit/_record_trail.html",
        {"audit_events": events_for_record(Group, renamed_group.pk)},
    )
    client.force_login(qa_user)
    fragment = client.get(f"/audit/record/auth_group/{renamed_group.pk}/")
    client.force_login(operator)
    refused = client.get(f"/audit/record/auth_group/{renamed_group.pk}/")

    assert "<del>Line 4 reviewers</del> → <ins>Line 5 reviewers</ins>" in html
    assert html.count("<tr>") == 3  # header + two events
    assert fragment.status_code == 200
    assert [e.action for e in fragment.context["audit_events"]] == ["INSERT", "UPDATE"]
    assert refused.status_code == 403


def test_a_users_trail_includes_the_roles_granted(operator, admin_user):
    reviewers = GroupFactory(name="Extra reviewers")
    with acting_as(admin_user, reason="cover"):
        operator.groups.add(reviewers)
    seal_pending()

    events = list(events_for_record(type(operator), operator.pk))

    link = [e for e in events if e.table_name == "accounts_user_groups"][-1]
    assert link.new_values["group_id"] == reviewers.pk
    assert link.user_name == "ada.admin"
    assert {e.record_pk for e in events if e.table_name == "accounts_user"} == {str(operator.pk)}


def test_home_shows_the_audit_tile_to_qa_and_not_to_operators(client, qa_user, operator):
    client.force_login(qa_user)
    qa_home = client.get("/").content.decode()
    client.force_login(operator)
    operator_home = client.get("/").content.decode()

    assert "Audit trail" in qa_home
    assert 'href="/audit/"' in qa_home
    assert 'href="/audit/"' not in operator_home


# --- API ------------------------------------------------------------------------------------


def test_api_lists_and_filters_events(api_client, qa_user, renamed_group):
    api_client.force_authenticate(qa_user)

    response = api_client.get(API, {"table": "auth_group", "record": renamed_group.pk})

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["action"], r["new_values"]) for r in results] == [
        ("UPDATE", {"name": "Line 5 reviewers"}),
        ("INSERT", {"id": renamed_group.pk, "name": "Line 4 reviewers"}),
    ]
    assert results[0]["record_type"] == "auth.Group"
    detail = api_client.get(f"{API}{results[0]['id']}/").json()
    assert detail["old_values"] == {"name": "Line 4 reviewers"}


def test_api_rejects_bad_filters(api_client, qa_user):
    api_client.force_authenticate(qa_user)

    response = api_client.get(API, {"action": "TRUNCATE"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", API), ("put", "{API}{id}/"), ("patch", "{API}{id}/"), ("delete", "{API}{id}/")],
)
def test_api_cannot_write_events(api_client, admin_user, renamed_group, method, path):
    event = AuditEvent.objects.filter(table_name="auth_group").first()
    api_client.force_authenticate(admin_user)

    response = getattr(api_client, method)(path.format(API=API, id=event.pk), {"reason": "x"})

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert AuditEvent.objects.get(pk=event.pk).reason == event.reason


@pytest.mark.parametrize(("person", "status"), [("operator", 403), ("supervisor", 200)])
def test_api_permissions(api_client, request, person, status):
    api_client.force_authenticate(request.getfixturevalue(person))
    assert api_client.get(API).status_code == status


def test_api_needs_authentication(api_client):
    response = api_client.get(API)
    assert response.status_code in (401, 403)
    assert set(response.json()) >= {"code", "detail"}
