"""The people admin: no delete, no password form, temporary passwords shown once."""

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from mes.accounts.models import ApiToken, SecurityEvent, User
from mes.accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:accounts_user_changelist"


def _shown_secret(response) -> str:
    [secret] = re.findall(r'<code data-testid="secret">([^<]+)</code>', response.content.decode())
    return secret


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_user_list_shows_full_name_roles_and_active(admin_client, qa_user):
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Quinn QA" in html
    assert "QA Reviewer" in html
    assert "column-is_active" in html
    assert "delete_selected" not in html
    assert "issue_temporary_password" in html


def test_user_cannot_be_deleted_through_the_admin(admin_client, operator):
    """P11-U-01: no delete action, no delete page."""
    response = admin_client.post(
        reverse("admin:accounts_user_delete", args=[operator.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert User.objects.filter(pk=operator.pk).exists()


def test_there_is_no_password_form_for_someone_else(admin_client, operator):
    """P11-C2-05: the admin cannot set a usable password for someone else."""
    response = admin_client.get(f"/admin/accounts/user/{operator.pk}/password/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:index")
    assert "password1" not in response.content.decode()
    change = admin_client.get(reverse("admin:accounts_user_change", args=[operator.pk]))
    assert 'name="password' not in change.content.decode()


def test_posting_a_password_to_the_change_form_is_ignored(admin_client, operator):
    before = User.objects.get(pk=operator.pk).password
    response = admin_client.post(
        reverse("admin:accounts_user_change", args=[operator.pk]),
        {
            "full_name": "Olivia Operator",
            "email": "olivia.operator@plant.example",
            "groups": [Group.objects.get(name="Operator").pk],
            "password": "admin-chosen-password-1",
            "password1": "admin-chosen-password-1",
            "password2": "admin-chosen-password-1",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(pk=operator.pk).password == before


def test_add_user_creates_a_temporary_password_shown_once(admin_client):
    """P11-C2-05: the new user gets a one-time password that must be changed."""
    add_page = admin_client.get(reverse("admin:accounts_user_add"))
    assert "password1" not in add_page.content.decode()

    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "fred.fresh",
            "full_name": "Fred Fresh",
            "email": "fred@plant.example",
            "groups": [Group.objects.get(name="Operator").pk],
        },
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    password = _shown_secret(response)
    user = User.objects.get(username="fred.fresh")
    assert user.check_password(password)
    assert user.must_change_password is True
    assert sorted(user.role_names) == ["Operator"]
    event = SecurityEvent.objects.get(type=SecurityEvent.Type.TEMPORARY_PASSWORD_ISSUED)
    assert (event.user, event.data["by"]) == (user, "ada.admin")


def test_add_user_refuses_a_reused_username(admin_client, operator):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {"username": "OLIVIA.operator", "full_name": "Other Olivia"},
    )
    assert response.status_code == 200
    assert "usernames are never reused" in response.content.decode()
    assert User.objects.filter(username__iexact="olivia.operator").count() == 1


def test_issue_temporary_password_action(admin_client, supervisor):
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "issue_temporary_password", "_selected_action": [supervisor.pk]},
    )
    assert response.status_code == 200
    password = _shown_secret(response)
    supervisor.refresh_from_db()
    assert supervisor.check_password(password)
    assert not supervisor.check_password(DEFAULT_PASSWORD)
    assert supervisor.must_change_password is True


def test_deactivate_action_asks_for_a_reason_then_deactivates(admin_client, supervisor):
    url = reverse(CHANGELIST)
    first = admin_client.post(
        url, {"action": "deactivate_users", "_selected_action": [supervisor.pk]}
    )
    assert first.status_code == 200
    assert 'name="reason"' in first.content.decode()
    supervisor.refresh_from_db()
    assert supervisor.is_active is True

    second = admin_client.post(
        url,
        {
            "action": "deactivate_users",
            "_selected_action": [supervisor.pk],
            "apply": "1",
            "reason": "moved to another site",
        },
    )
    assert second.status_code == 302
    supervisor.refresh_from_db()
    assert (supervisor.is_active, supervisor.deactivation_reason) == (
        False,
        "moved to another site",
    )


def test_admin_changes_roles_normally(admin_client, operator):
    """A11-12b: role changes go through (the database trigger audits them)."""
    response = admin_client.post(
        reverse("admin:accounts_user_change", args=[operator.pk]),
        {
            "full_name": "Olivia Operator",
            "email": "olivia.operator@plant.example",
            "groups": [Group.objects.get(name="Planner").pk],
        },
    )
    assert response.status_code == 302
    assert User.objects.get(pk=operator.pk).role_names == {"Planner"}


def test_admin_cannot_change_own_roles(admin_client, admin_user):
    """P11-C2-05: no self-escalation through the admin."""
    response = admin_client.post(
        reverse("admin:accounts_user_change", args=[admin_user.pk]),
        {
            "full_name": "Ada Admin",
            "email": "ada.admin@plant.example",
            "groups": [Group.objects.get(name="QA Reviewer").pk],
            "is_superuser": "on",
        },
    )
    assert response.status_code == 302
    admin_user.refresh_from_db()
    assert admin_user.role_names == {"Administrator"}
    assert admin_user.is_superuser is False


def test_api_token_admin_shows_the_key_once_and_it_works(
    admin_client, api_client, integration_user
):
    response = admin_client.post(
        reverse("admin:accounts_apitoken_add"), {"name": "SAP", "user": integration_user.pk}
    )
    assert response.status_code == 200
    raw_key = _shown_secret(response)
    token = ApiToken.objects.get()
    assert token.key_hash == ApiToken.hash_key(raw_key)
    me = api_client.get("/api/v1/mes/me/", HTTP_AUTHORIZATION=f"Token {raw_key}")
    assert me.status_code == 200


def test_api_token_admin_revokes_with_reason(admin_client, admin_user, integration_user):
    from mes.accounts.services import api_token_create

    token, _ = api_token_create(actor=admin_user, user=integration_user, name="SAP")
    response = admin_client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {
            "action": "revoke_tokens",
            "_selected_action": [token.pk],
            "apply": "1",
            "reason": "replaced",
        },
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_by == admin_user


def test_security_events_are_read_only(admin_client, operator):
    from mes.accounts.services import security_event_record

    event = security_event_record(event_type=SecurityEvent.Type.LOGIN_FAILED, username="x")
    change = admin_client.post(
        reverse("admin:accounts_securityevent_change", args=[event.pk]), {"username": "y"}
    )
    assert change.status_code == 403
    assert SecurityEvent.objects.get(pk=event.pk).username == "x"
