"""Login, lockout (django-axes: 5 failures, 15 min, by user ID and address together) and the
administrators' alert (21 CFR 11.300(d))."""

import json

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.urls import reverse

from mes.accounts.lockout import lockout_response
from mes.accounts.models import SecurityEvent
from mes.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TERMINAL_IP = "10.1.2.3"
OTHER_IP = "10.1.2.99"


def _login(client, username, password, ip=TERMINAL_IP, **extra):
    return client.post(
        reverse("login"), {"username": username, "password": password, **extra}, REMOTE_ADDR=ip
    )


def _events(event_type):
    return SecurityEvent.objects.filter(type=event_type).order_by("id")


def test_login_page_renders_with_terminal_option(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="terminal"' in html
    assert "After 5 failed attempts from this terminal the user ID is locked for 15 minutes" in html


def test_successful_login_is_recorded(client, supervisor):
    """P11-PW-04: logins are security events."""
    response = _login(client, "sam.supervisor", DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.session["_auth_user_id"] == str(supervisor.pk)
    event = _events(SecurityEvent.Type.LOGIN_SUCCEEDED).get()
    assert (event.user, event.ip_address, event.data) == (
        supervisor,
        TERMINAL_IP,
        {"terminal": False},
    )


def test_each_failure_is_recorded(client, operator):
    """P11-PW-04: each failed attempt is a SecurityEvent."""
    response = _login(client, "olivia.operator", "wrong-password")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    event = _events(SecurityEvent.Type.LOGIN_FAILED).get()
    assert (event.username, event.user, event.ip_address) == (
        "olivia.operator",
        operator,
        TERMINAL_IP,
    )
    assert event.data == {"locked_out": False, "failures": 1}


def test_failure_for_an_unknown_user_id_is_recorded(client):
    _login(client, "mallory", "x")
    event = _events(SecurityEvent.Type.LOGIN_FAILED).get()
    assert (event.username, event.user) == ("mallory", None)


def test_five_failures_lock_that_user_id_from_that_address(client, operator):
    """P11-PW-04: the 5th failure locks; then even the right password is refused."""
    for _ in range(4):
        assert _login(client, "olivia.operator", "wrong").status_code == 200
    fifth = _login(client, "olivia.operator", "wrong")
    assert fifth.status_code == 429
    assert "Account locked" in fifth.content.decode()

    right = _login(client, "olivia.operator", DEFAULT_PASSWORD)
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session

    assert _events(SecurityEvent.Type.LOGIN_FAILED).count() == 6
    lockout = _events(SecurityEvent.Type.LOCKED_OUT).get()
    assert (lockout.user, lockout.username, lockout.ip_address) == (
        operator,
        "olivia.operator",
        TERMINAL_IP,
    )
    assert lockout.data == {"failures": 5, "source": "login", "cooloff_minutes": 15}


def test_four_failures_do_not_lock(client, operator):
    for _ in range(4):
        _login(client, "olivia.operator", "wrong")
    assert _login(client, "olivia.operator", DEFAULT_PASSWORD).status_code == 302
    assert _events(SecurityEvent.Type.LOCKED_OUT).count() == 0


def test_another_user_at_the_same_address_is_not_locked(client, operator, operator2):
    """Terminals share an address: locking is by user ID AND address together."""
    for _ in range(5):
        _login(client, "olivia.operator", "wrong")
    response = _login(client, "oscar.operator", DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(operator2.pk)


def test_the_same_user_at_another_address_is_not_locked(client, operator):
    for _ in range(5):
        _login(client, "olivia.operator", "wrong")
    assert _login(client, "olivia.operator", DEFAULT_PASSWORD, ip=OTHER_IP).status_code == 302


def test_lockout_alerts_the_administrators_by_mail(
    client, operator, admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    """P11-PW-04: a lockout raises an alert to ADMINS and every active Administrator."""
    UserFactory(username="old.admin", roles=["Administrator"], is_active=False)
    UserFactory(username="noemail.admin", roles=["Administrator"], email="")
    for _ in range(4):
        _login(client, "olivia.operator", "wrong")
    with django_capture_on_commit_callbacks(execute=True):
        _login(client, "olivia.operator", "wrong")

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["mes-admins@example.com", "ada.admin@plant.example"]
    assert mail.subject == "[Open MES] Account locked out: olivia.operator"
    assert "after 5 failed login attempts from 10.1.2.3" in mail.body
    alert = _events(SecurityEvent.Type.ALERT_SENT).get()
    assert alert.data["recipients"] == ["mes-admins@example.com", "ada.admin@plant.example"]
    assert alert.data["about_event"] == _events(SecurityEvent.Type.LOCKED_OUT).get().pk


def test_attempts_during_the_lockout_do_not_alert_again(
    client, operator, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(7):
            _login(client, "olivia.operator", "wrong")
    assert len(mailoutbox) == 1
    assert _events(SecurityEvent.Type.LOCKED_OUT).count() == 1


def test_system_principal_cannot_log_in(client):
    """P11-U-01: named system principals are not people; they never log in."""
    UserFactory(username="robot", is_system=True)
    response = _login(client, "robot", DEFAULT_PASSWORD)
    assert response.status_code == 200
    assert "system principal" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_deactivated_user_cannot_log_in(client):
    UserFactory(username="gone.user", is_active=False)
    response = _login(client, "gone.user", DEFAULT_PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert _events(SecurityEvent.Type.LOGIN_SUCCEEDED).count() == 0


def test_logout_is_recorded(client, supervisor):
    client.force_login(supervisor)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert _events(SecurityEvent.Type.LOGGED_OUT).get().user == supervisor


def test_lockout_response_for_the_api_is_the_standard_error_body_and_ends_the_session(rf, operator):
    """P11-PW-04: a user locked by failed signing passwords on their own session is logged
    out; the API gets {"code": "account_locked"}."""
    request = rf.post("/api/v1/mes/me/", {"username": "olivia.operator"})
    request.user = operator
    request.session = SessionStore()
    response = lockout_response(request, None, {"username": "olivia.operator"})
    assert response.status_code == 429
    assert json.loads(response.content) == {
        "code": "account_locked",
        "detail": "Too many failed attempts for user ID 'olivia.operator' from this address: "
        "it is locked for 15 minutes; an administrator has been alerted.",
    }
    assert request.user.is_authenticated is False
    assert _events(SecurityEvent.Type.LOGGED_OUT).get().data == {"locked_out": False}
