"""Session policy: idle timeout (shorter on terminals), absolute limit, forced password change
(21 CFR 11.200(a)(1)(i) continuous-session controls; 11.300(b))."""

import json
import time

import pytest
from django.urls import reverse

from mes.accounts.middleware import (
    SESSION_LAST_SEEN,
    SESSION_LOGIN_AT,
    SESSION_TERMINAL,
    is_terminal_user,
)
from mes.accounts.models import SecurityEvent
from mes.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

IDLE = 30 * 60
TERMINAL_IDLE = 10 * 60
ABSOLUTE = 12 * 60 * 60


def _age_session(client, *, idle=0, since_login=0):
    session = client.session
    now = int(time.time())
    session[SESSION_LAST_SEEN] = now - idle
    session[SESSION_LOGIN_AT] = now - since_login
    session.save()


def test_settings_are_the_documented_limits(settings):
    assert settings.MES_IDLE_TIMEOUT_SECONDS == IDLE
    assert settings.MES_TERMINAL_IDLE_TIMEOUT_SECONDS == TERMINAL_IDLE
    assert settings.MES_SESSION_ABSOLUTE_LIMIT_SECONDS == ABSOLUTE


def test_login_stamps_the_session(client, supervisor):
    before = int(time.time())
    client.force_login(supervisor)
    session = client.session
    assert before <= session[SESSION_LOGIN_AT] <= int(time.time())
    assert session[SESSION_LAST_SEEN] == session[SESSION_LOGIN_AT]
    assert session[SESSION_TERMINAL] is False


def test_operator_only_users_get_terminal_sessions(client, operator):
    client.force_login(operator)
    assert client.session[SESSION_TERMINAL] is True


@pytest.mark.parametrize(
    ("roles", "terminal"),
    [
        ({"Operator"}, True),
        ({"Operator", "Supervisor"}, False),
        ({"QA Reviewer"}, False),
        (set(), False),
    ],
)
def test_terminal_rule(roles, terminal):
    assert is_terminal_user(roles) is terminal


def test_terminal_checkbox_at_login_makes_a_terminal_session(client, supervisor):
    client.post(
        reverse("login"),
        {"username": "sam.supervisor", "password": DEFAULT_PASSWORD, "terminal": "on"},
    )
    assert client.session[SESSION_TERMINAL] is True
    event = SecurityEvent.objects.get(type=SecurityEvent.Type.LOGIN_SUCCEEDED)
    assert event.data == {"terminal": True}


def test_idle_session_is_logged_out_with_a_message_and_an_event(client, supervisor):
    """P11-C2-03: an inactivity timeout ends the session."""
    client.force_login(supervisor)
    _age_session(client, idle=IDLE + 5)

    response = client.get(reverse("home"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=%2F"
    assert "_auth_user_id" not in client.session
    event = SecurityEvent.objects.get(type=SecurityEvent.Type.SESSION_EXPIRED)
    assert event.user == supervisor
    assert event.data["reason"] == "idle"
    assert event.data["terminal"] is False
    assert event.data["idle_limit"] == IDLE
    assert SecurityEvent.objects.filter(type=SecurityEvent.Type.LOGGED_OUT).count() == 0

    login_page = client.get(response["Location"])
    assert "Your session ended after 30 minutes without activity." in login_page.content.decode()


def test_session_within_idle_limit_continues_and_counts_as_activity(client, supervisor):
    client.force_login(supervisor)
    _age_session(client, idle=IDLE - 60)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert int(time.time()) - client.session[SESSION_LAST_SEEN] <= 2


def test_passive_requests_do_not_count_as_activity(client, supervisor):
    client.force_login(supervisor)
    _age_session(client, idle=600)
    client.get(reverse("home"), HTTP_X_MES_PASSIVE="1")
    assert int(time.time()) - client.session[SESSION_LAST_SEEN] >= 600


def test_terminal_session_has_the_shorter_idle_timeout(client, operator, supervisor):
    """P11-C2-03: shop-floor terminals lock sooner (10 min) than office sessions (30 min)."""
    client.force_login(operator)
    _age_session(client, idle=TERMINAL_IDLE + 5)
    assert client.get(reverse("home")).status_code == 302
    event = SecurityEvent.objects.get(type=SecurityEvent.Type.SESSION_EXPIRED)
    assert (event.user, event.data["terminal"], event.data["idle_limit"]) == (
        operator,
        True,
        TERMINAL_IDLE,
    )

    client.force_login(supervisor)
    _age_session(client, idle=TERMINAL_IDLE + 5)
    assert client.get(reverse("home")).status_code == 200


def test_absolute_limit_ends_even_an_active_session(client, supervisor):
    client.force_login(supervisor)
    _age_session(client, idle=0, since_login=ABSOLUTE + 1)

    response = client.get(reverse("home"))

    assert response.status_code == 302
    event = SecurityEvent.objects.get(type=SecurityEvent.Type.SESSION_EXPIRED)
    assert event.data["reason"] == "absolute"
    login_page = client.get(response["Location"])
    assert "Your session ended 12 hours after login." in login_page.content.decode()


def test_expired_session_on_the_api_gets_401_with_code(client, supervisor):
    client.force_login(supervisor)
    _age_session(client, idle=IDLE + 5)
    response = client.get("/api/v1/mes/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "session_expired"


def test_htmx_request_of_an_expired_session_is_redirected_by_header(client, supervisor):
    client.force_login(supervisor)
    _age_session(client, idle=IDLE + 5)
    response = client.get(reverse("home"), HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("login")


# --- forced password change --------------------------------------------------------------


@pytest.fixture
def temp_user(db):
    user = UserFactory(username="tom.temporary", roles=["Supervisor"])
    user.must_change_password = True
    user.save(update_fields=["must_change_password"])
    return user


def test_user_with_temporary_password_is_sent_to_password_change(client, temp_user):
    """P11-C2-05: a temporary password must be changed at first use."""
    client.force_login(temp_user)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change")
    page = client.get(reverse("password_change"))
    assert page.status_code == 200
    assert "Your password is a temporary one" in page.content.decode()


def test_api_request_with_temporary_password_is_refused_with_code(client, temp_user):
    client.force_login(temp_user)
    response = client.get("/api/v1/mes/me/")
    assert response.status_code == 403
    assert json.loads(response.content) == {
        "code": "password_change_required",
        "detail": "You must change your temporary password before you continue.",
    }


def test_logout_and_static_files_stay_reachable(client, temp_user):
    client.force_login(temp_user)
    assert client.get("/static/mes/mes.css").status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert "_auth_user_id" not in client.session


def test_password_change_clears_the_flag_and_stamps_the_time(client, temp_user):
    """P11-PW-02: password_changed_at is kept; the session survives the change."""
    client.force_login(temp_user)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": "a-much-better-secret-42",
            "new_password2": "a-much-better-secret-42",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    temp_user.refresh_from_db()
    assert temp_user.must_change_password is False
    assert temp_user.password_changed_at is not None
    assert temp_user.check_password("a-much-better-secret-42")
    event = SecurityEvent.objects.get(type=SecurityEvent.Type.PASSWORD_CHANGED)
    assert (event.user, event.data) == (temp_user, {"was_temporary": True, "was_expired": False})
    assert client.get(reverse("home")).status_code == 200


def test_password_change_refuses_reusing_the_temporary_password(client, temp_user):
    client.force_login(temp_user)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": DEFAULT_PASSWORD,
            "new_password2": DEFAULT_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "The new password must differ from the current one." in response.content.decode()
    temp_user.refresh_from_db()
    assert temp_user.must_change_password is True
    assert temp_user.password_changed_at is None
    assert SecurityEvent.objects.filter(type=SecurityEvent.Type.PASSWORD_CHANGED).count() == 0


def test_password_change_refuses_a_weak_password(client, temp_user):
    client.force_login(temp_user)
    response = client.post(
        reverse("password_change"),
        {"old_password": DEFAULT_PASSWORD, "new_password1": "12345", "new_password2": "12345"},
    )
    assert response.status_code == 200
    temp_user.refresh_from_db()
    assert temp_user.must_change_password is True
    assert temp_user.check_password(DEFAULT_PASSWORD)
