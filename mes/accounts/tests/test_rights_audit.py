"""Every change of user rights is audited by the database trigger (A11-12b, P11-E-03)."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from mes.audit.context import acting_as
from mes.audit.models import AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _events(table, action):
    return AuditEvent.objects.filter(table_name=table, action=action).order_by("id")


def test_adding_a_user_to_a_group_writes_one_audit_event(admin_user, operator):
    supervisors = Group.objects.get(name="Supervisor")
    before = _events("accounts_user_groups", "INSERT").count()

    with acting_as(admin_user, reason="covers the night shift"):
        operator.groups.add(supervisors)

    events = list(_events("accounts_user_groups", "INSERT"))
    assert len(events) == before + 1
    event = events[-1]
    assert event.new_values["user_id"] == operator.pk
    assert event.new_values["group_id"] == supervisors.pk
    assert (event.user_id, event.user_name) == (admin_user.pk, "ada.admin")
    assert event.roles == ["Administrator"]
    assert event.reason == "covers the night shift"


def test_role_change_through_the_admin_is_audited(client, admin_user, operator):
    client.force_login(admin_user)
    operators, planners = (
        Group.objects.get(name="Operator"),
        Group.objects.get(name="Planner"),
    )
    inserts = _events("accounts_user_groups", "INSERT").count()
    deletes = _events("accounts_user_groups", "DELETE").count()

    response = client.post(
        reverse("admin:accounts_user_change", args=[operator.pk]),
        {"full_name": "Olivia Operator", "email": "o@plant.example", "groups": [planners.pk]},
    )

    assert response.status_code == 302
    added = list(_events("accounts_user_groups", "INSERT"))[inserts:]
    removed = list(_events("accounts_user_groups", "DELETE"))[deletes:]
    assert [(e.new_values["group_id"], e.user_name) for e in added] == [(planners.pk, "ada.admin")]
    assert [(e.old_values["group_id"], e.user_name) for e in removed] == [
        (operators.pk, "ada.admin")
    ]
