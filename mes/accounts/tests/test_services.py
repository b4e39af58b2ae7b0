"""People and credentials: deactivate (never delete), temporary passwords, API tokens."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.urls import reverse

from mes.accounts.models import ApiToken, SecurityEvent, User
from mes.accounts.services import (
    api_token_create,
    api_token_revoke,
    user_change_password,
    user_create,
    user_deactivate,
    user_issue_temporary_password,
    user_reactivate,
)
from mes.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from mes.exceptions import Conflict, InvalidInput, NotAuthorized

pytestmark = pytest.mark.django_db


def _events(event_type):
    return SecurityEvent.objects.filter(type=event_type).order_by("id")


# --- never delete, never reuse -------------------------------------------------------------


def test_user_delete_is_refused(operator):
    """P11-U-01 / P11-C-01: users are deactivated, never deleted."""
    with pytest.raises(Conflict) as exc:
        operator.delete()
    assert exc.value.code == "user_not_deletable"
    assert User.objects.filter(pk=operator.pk).exists()


def test_queryset_delete_is_refused(operator, operator2):
    with pytest.raises(Conflict):
        User.objects.filter(groups__name="Operator").delete()
    assert User.objects.filter(pk__in=[operator.pk, operator2.pk]).count() == 2


def test_username_is_never_reused_even_after_deactivation(admin_user, operator):
    """P11-U-01: case-insensitive, forever."""
    user_deactivate(actor=admin_user, user=operator, reason="left the company")
    with pytest.raises(Conflict) as exc:
        user_create(actor=admin_user, username="Olivia.Operator", full_name="Another Olivia")
    assert "usernames are never reused" in exc.value.detail
    assert User.objects.filter(username__iexact="olivia.operator").count() == 1


def test_user_create_by_a_person_never_sets_a_final_password(admin_user):
    """P11-C2-05: an administrator's chosen password is temporary."""
    user = user_create(
        actor=admin_user,
        username="nina.new",
        full_name="Nina New",
        roles=["Operator"],
        password="chosen-by-admin-99",
        must_change_password=False,
    )
    assert user.must_change_password is True
    assert sorted(user.role_names) == ["Operator"]


def test_user_create_without_password_has_an_unusable_one(admin_user):
    user = user_create(actor=admin_user, username="ned.nopass", full_name="Ned Nopass")
    assert user.has_usable_password() is False


def test_user_create_rejects_unknown_roles_and_writes_nothing(admin_user):
    with pytest.raises(InvalidInput) as exc:
        user_create(actor=admin_user, username="rick.role", full_name="Rick", roles=["Wizard"])
    assert exc.value.detail == "Unknown role(s): Wizard"
    assert not User.objects.filter(username="rick.role").exists()


# --- deactivate / reactivate -----------------------------------------------------------------


def test_deactivation_records_who_when_why_and_revokes_tokens(admin_user, integration_user):
    """P11-PW-03: deactivation takes every credential away at once."""
    token, _key = api_token_create(actor=admin_user, user=integration_user, name="SAP")

    user = user_deactivate(actor=admin_user, user=integration_user, reason="interface retired")

    assert user.is_active is False
    assert user.deactivated_at is not None
    assert user.deactivation_reason == "interface retired"
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_by == admin_user
    event = _events(SecurityEvent.Type.USER_DEACTIVATED).get()
    assert event.user == integration_user
    assert event.data == {
        "reason": "interface retired",
        "by": "ada.admin",
        "tokens_revoked": [token.key_prefix],
    }


def test_deactivation_ends_the_users_session_on_the_next_request(client, admin_user, supervisor):
    client.force_login(supervisor)
    assert client.get(reverse("home")).status_code == 200
    user_deactivate(actor=admin_user, user=supervisor, reason="left")
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("actor_name", "reason", "error", "code"),
    [
        ("operator", "left", NotAuthorized, "not_authorized"),
        ("admin_user", "  ", InvalidInput, "invalid_input"),
        ("supervisor", "self", Conflict, "user_self_deactivation"),
    ],
)
def test_deactivation_refusals_write_nothing(request, supervisor, actor_name, reason, error, code):
    actor = request.getfixturevalue(actor_name)
    if actor_name == "supervisor":
        supervisor.user_permissions.add(
            *Group.objects.get(name="Administrator").permissions.filter(codename="deactivate_user")
        )
        actor = User.objects.get(pk=supervisor.pk)
    with pytest.raises(error) as exc:
        user_deactivate(actor=actor, user=supervisor, reason=reason)
    assert exc.value.code == code
    supervisor.refresh_from_db()
    assert supervisor.is_active is True
    assert supervisor.deactivated_at is None
    assert _events(SecurityEvent.Type.USER_DEACTIVATED).count() == 0


def test_reactivation_restores_access_with_the_same_username(client, admin_user, supervisor):
    user_deactivate(actor=admin_user, user=supervisor, reason="long leave")
    user = user_reactivate(actor=admin_user, user=supervisor, reason="back from leave")
    assert (user.is_active, user.deactivated_at, user.deactivation_reason) == (True, None, "")
    assert _events(SecurityEvent.Type.USER_REACTIVATED).get().data == {
        "reason": "back from leave",
        "by": "ada.admin",
    }
    client.force_login(user)
    assert client.get(reverse("home")).status_code == 200


def test_reactivating_an_active_user_is_refused(admin_user, supervisor):
    with pytest.raises(Conflict) as exc:
        user_reactivate(actor=admin_user, user=supervisor, reason="x")
    assert exc.value.code == "user_already_active"
    assert _events(SecurityEvent.Type.USER_REACTIVATED).count() == 0


# --- temporary passwords -------------------------------------------------------------------


def test_temporary_password_replaces_the_old_one_and_must_be_changed(admin_user, supervisor):
    """P11-C2-05: the admin never learns the user's own password; the temporary one is shown
    once and must be changed at first use."""
    password = user_issue_temporary_password(actor=admin_user, user=supervisor)

    supervisor.refresh_from_db()
    assert len(password) == 16
    assert supervisor.check_password(password) is True
    assert supervisor.check_password(DEFAULT_PASSWORD) is False
    assert supervisor.must_change_password is True
    event = _events(SecurityEvent.Type.TEMPORARY_PASSWORD_ISSUED).get()
    assert (event.user, event.data["by"]) == (supervisor, "ada.admin")
    assert password not in str(event.data)


def test_temporary_password_lifts_a_lockout(client, admin_user, supervisor):
    for _ in range(5):
        client.post(reverse("login"), {"username": "sam.supervisor", "password": "bad"})
    assert AccessAttempt.objects.filter(username="sam.supervisor").count() == 1

    password = user_issue_temporary_password(actor=admin_user, user=supervisor)

    assert AccessAttempt.objects.filter(username="sam.supervisor").count() == 0
    response = client.post(
        reverse("login"), {"username": "sam.supervisor", "password": password}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("password_change")


@pytest.mark.parametrize(
    ("target", "code"),
    [("self", "temporary_password_self"), ("system", "conflict"), ("inactive", "conflict")],
)
def test_temporary_password_refusals_write_nothing(admin_user, target, code):
    user = {
        "self": admin_user,
        "system": UserFactory(username="robot", is_system=True),
        "inactive": UserFactory(username="gone", is_active=False),
    }[target]
    hash_before = user.password
    with pytest.raises(Conflict) as exc:
        user_issue_temporary_password(actor=admin_user, user=user)
    assert exc.value.code == code
    user.refresh_from_db()
    assert (user.password, user.must_change_password) == (hash_before, False)
    assert _events(SecurityEvent.Type.TEMPORARY_PASSWORD_ISSUED).count() == 0


def test_temporary_password_needs_the_permission(operator, supervisor):
    with pytest.raises(NotAuthorized):
        user_issue_temporary_password(actor=operator, user=supervisor)
    supervisor.refresh_from_db()
    assert supervisor.must_change_password is False
    assert supervisor.check_password(DEFAULT_PASSWORD)


def test_nobody_changes_another_persons_password(admin_user, supervisor):
    """P11-C2-05 (11.200(a)(3)): not even an administrator."""
    with pytest.raises(NotAuthorized) as exc:
        user_change_password(actor=admin_user, user=supervisor, new_password="admin-knows-it-1")
    assert exc.value.code == "password_not_owner"
    supervisor.refresh_from_db()
    assert supervisor.check_password(DEFAULT_PASSWORD)
    assert _events(SecurityEvent.Type.PASSWORD_CHANGED).count() == 0


# --- API tokens ------------------------------------------------------------------------------


def test_api_token_works_and_only_its_hash_is_stored(api_client, admin_user, integration_user):
    token, raw_key = api_token_create(actor=admin_user, user=integration_user, name="SAP S/4")
    assert token.key_hash == ApiToken.hash_key(raw_key)
    assert token.key_prefix == raw_key[:8]
    assert raw_key not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert _events(SecurityEvent.Type.TOKEN_CREATED).get().data == {
        "token_id": token.pk,
        "name": "SAP S/4",
        "prefix": raw_key[:8],
    }

    response = api_client.get("/api/v1/mes/me/", HTTP_AUTHORIZATION=f"Token {raw_key}")
    assert response.status_code == 200
    assert response.json()["username"] == "erp.sap"
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_api_token_revocation_takes_effect_on_the_next_request(
    api_client, admin_user, integration_user
):
    """P11-PW-03: revoke a token; the very next request is refused."""
    token, raw_key = api_token_create(actor=admin_user, user=integration_user, name="SAP")
    auth = {"HTTP_AUTHORIZATION": f"Token {raw_key}"}
    assert api_client.get("/api/v1/mes/me/", **auth).status_code == 200

    api_token_revoke(actor=admin_user, token=token, reason="key leaked in a log")

    response = api_client.get("/api/v1/mes/me/", **auth)
    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "detail": "Invalid or revoked token.",
    }
    assert _events(SecurityEvent.Type.TOKEN_REVOKED).get().data["reason"] == "key leaked in a log"


def test_token_of_a_deactivated_user_stops_working(api_client, admin_user, integration_user):
    _token, raw_key = api_token_create(actor=admin_user, user=integration_user, name="SAP")
    user_deactivate(actor=admin_user, user=integration_user, reason="retired")
    response = api_client.get("/api/v1/mes/me/", HTTP_AUTHORIZATION=f"Token {raw_key}")
    assert response.status_code == 401


def test_api_token_revoke_refusals_write_nothing(admin_user, operator, integration_user):
    token, _ = api_token_create(actor=admin_user, user=integration_user, name="SAP")
    with pytest.raises(NotAuthorized):
        api_token_revoke(actor=operator, token=token, reason="x")
    with pytest.raises(InvalidInput):
        api_token_revoke(actor=admin_user, token=token, reason="")
    token.refresh_from_db()
    assert token.revoked_at is None
    api_token_revoke(actor=admin_user, token=token, reason="done")
    with pytest.raises(Conflict) as exc:
        api_token_revoke(actor=admin_user, token=token, reason="again")
    assert exc.value.code == "token_already_revoked"
    assert _events(SecurityEvent.Type.TOKEN_REVOKED).count() == 1


def test_api_token_create_needs_permission_and_name(admin_user, operator, integration_user):
    with pytest.raises(NotAuthorized):
        api_token_create(actor=operator, user=integration_user, name="SAP")
    with pytest.raises(InvalidInput):
        api_token_create(actor=admin_user, user=integration_user, name=" ")
    assert ApiToken.objects.count() == 0
    assert _events(SecurityEvent.Type.TOKEN_CREATED).count() == 0


def test_temporary_password_ends_the_users_current_sessions(client, admin_user, supervisor):
    """P11-PW-03: a reset takes effect on the next request of every open session."""
    client.force_login(supervisor)
    assert client.get(reverse("home")).status_code == 200
    user_issue_temporary_password(actor=admin_user, user=supervisor)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
