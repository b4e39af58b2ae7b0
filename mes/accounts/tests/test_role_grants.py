"""P11-C2-05: granting a sensitive role (QA Reviewer, Supervisor, Administrator by default)
needs a second administrator; nobody approves their own request or a role for themselves."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from mes.accounts.models import RoleGrantRequest
from mes.accounts.roles import Role
from mes.accounts.services import role_grant, role_grant_decide, user_create
from mes.accounts.tests.factories import UserFactory
from mes.exceptions import Conflict, InvalidInput, NotAuthorized

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_admin(db):
    return UserFactory(username="bert.admin", roles=[Role.ADMINISTRATOR.value], is_staff=True)


def test_a_sensitive_role_becomes_a_pending_request(admin_user, operator):
    pending = role_grant(
        actor=admin_user, user=operator, roles=["QA Reviewer", "Planner"], reason="moves to QA"
    )
    operator.refresh_from_db()
    assert operator.role_names == {"Operator", "Planner"}
    assert [(p.role.name, p.status, p.requested_by) for p in pending] == [
        ("QA Reviewer", "pending", admin_user)
    ]


def test_the_second_administrator_approves_and_the_role_is_granted(
    admin_user, second_admin, operator
):
    [request] = role_grant(actor=admin_user, user=operator, roles=["QA Reviewer"], reason="QA")
    role_grant_decide(actor=second_admin, request=request, approve=True, reason="training done")
    operator.refresh_from_db()
    assert "QA Reviewer" in operator.role_names
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.decision_reason) == (
        "approved",
        second_admin,
        "training done",
    )
    with pytest.raises(Conflict, match="already approved"):
        role_grant_decide(actor=second_admin, request=request, approve=False, reason="oops")


def test_nobody_approves_their_own_request(admin_user, operator):
    [request] = role_grant(actor=admin_user, user=operator, roles=["Supervisor"], reason="lead")
    with pytest.raises(Conflict, match="second administrator"):
        role_grant_decide(actor=admin_user, request=request, approve=True, reason="me")
    operator.refresh_from_db()
    assert "Supervisor" not in operator.role_names
    assert RoleGrantRequest.objects.get(pk=request.pk).status == "pending"


def test_nobody_approves_a_role_for_themselves(admin_user, second_admin):
    [request] = role_grant(
        actor=second_admin, user=admin_user, roles=["QA Reviewer"], reason="cover for QA"
    )
    with pytest.raises(Conflict):
        role_grant_decide(actor=admin_user, request=request, approve=True, reason="fine")
    assert "QA Reviewer" not in admin_user.role_names


def test_rejection_grants_nothing(admin_user, second_admin, operator):
    [request] = role_grant(actor=admin_user, user=operator, roles=["QA Reviewer"], reason="QA")
    role_grant_decide(actor=second_admin, request=request, approve=False, reason="not trained")
    operator.refresh_from_db()
    assert "QA Reviewer" not in operator.role_names
    assert RoleGrantRequest.objects.get(pk=request.pk).status == "rejected"


def test_deciding_needs_the_permission_and_a_reason(admin_user, second_admin, operator, supervisor):
    [request] = role_grant(actor=admin_user, user=operator, roles=["QA Reviewer"], reason="QA")
    with pytest.raises(NotAuthorized):
        role_grant_decide(actor=supervisor, request=request, approve=True, reason="ok")
    with pytest.raises(InvalidInput):
        role_grant_decide(actor=second_admin, request=request, approve=True, reason=" ")
    assert RoleGrantRequest.objects.get(pk=request.pk).status == "pending"


def test_asking_twice_keeps_one_pending_request(admin_user, operator):
    role_grant(actor=admin_user, user=operator, roles=["QA Reviewer"], reason="QA")
    role_grant(actor=admin_user, user=operator, roles=["QA Reviewer"], reason="QA again")
    assert RoleGrantRequest.objects.filter(user=operator, status="pending").count() == 1


def test_the_gate_is_configurable(settings, admin_user, operator):
    settings.MES_ROLES_NEEDING_SECOND_APPROVAL = []
    assert role_grant(actor=admin_user, user=operator, roles=["QA Reviewer"], reason="QA") == []
    operator.refresh_from_db()
    assert "QA Reviewer" in operator.role_names


def test_a_new_user_gets_sensitive_roles_only_after_approval(admin_user):
    user = user_create(
        actor=admin_user, username="nina.new", full_name="Nina New", roles=["QA Reviewer"]
    )
    assert user.role_names == set()
    assert user.role_grant_requests.get().status == "pending"


def test_the_system_principal_grants_directly(operator):
    """The demo loader and migrations run as a system principal (no person to collude)."""
    assert role_grant(actor=None, user=operator, roles=["QA Reviewer"], reason="bootstrap") == []
    operator.refresh_from_db()
    assert "QA Reviewer" in operator.role_names


def test_the_user_admin_turns_a_sensitive_role_into_a_request(client, admin_user, operator):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:accounts_user_change", args=[operator.pk]),
        {
            "full_name": "Olivia Operator",
            "email": "olivia.operator@plant.example",
            "groups": [Group.objects.get(name=n).pk for n in ("Operator", "Supervisor")],
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "waits for a second administrator" in response.content.decode()
    operator.refresh_from_db()
    assert operator.role_names == {"Operator"}
    assert operator.role_grant_requests.get().role.name == "Supervisor"


def test_the_second_administrator_approves_in_the_admin(client, admin_user, second_admin, operator):
    [request] = role_grant(actor=admin_user, user=operator, roles=["Supervisor"], reason="lead")
    client.force_login(second_admin)
    url = reverse("admin:accounts_rolegrantrequest_changelist")
    form = {"action": "approve_requests", "_selected_action": [request.pk]}
    page = client.post(url, form)
    assert "reason" in page.content.decode()
    client.post(url, {**form, "apply": "1", "reason": "shift lead from Monday"})
    operator.refresh_from_db()
    assert "Supervisor" in operator.role_names
