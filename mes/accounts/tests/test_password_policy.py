"""P11-PW-02: password ageing (forced change on expiry, also before signing), password
history (the last N cannot be reused) and the periodic access review report."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from mes.accounts.models import PasswordHistory, SecurityEvent, User
from mes.accounts.services import access_review_report, user_access_review, user_change_password
from mes.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from mes.esign.services import signer_authenticate
from mes.exceptions import Conflict, InvalidInput, NotAuthorized, SignatureRefused

pytestmark = pytest.mark.django_db


def _age_password(user, days):
    User.objects.filter(pk=user.pk).update(
        password_changed_at=timezone.now() - timedelta(days=days)
    )
    user.refresh_from_db()


def test_password_older_than_the_maximum_age_has_expired(settings, supervisor):
    settings.MES_PASSWORD_MAX_AGE_DAYS = 90
    _age_password(supervisor, 89)
    assert supervisor.password_expired is False
    _age_password(supervisor, 91)
    assert supervisor.password_expired is True
    settings.MES_PASSWORD_MAX_AGE_DAYS = 0
    assert supervisor.password_expired is False


def test_never_changed_password_ages_from_account_creation(settings, supervisor):
    settings.MES_PASSWORD_MAX_AGE_DAYS = 90
    User.objects.filter(pk=supervisor.pk).update(
        password_changed_at=None, date_joined=timezone.now() - timedelta(days=100)
    )
    supervisor.refresh_from_db()
    assert supervisor.password_expired is True


def test_expired_password_sends_the_browser_to_password_change(client, settings, supervisor):
    settings.MES_PASSWORD_MAX_AGE_DAYS = 90
    _age_password(supervisor, 120)
    client.force_login(supervisor)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change")
    page = client.get(reverse("password_change")).content.decode()
    assert "Your password has expired" in page


def test_expired_password_is_refused_on_the_api_with_its_reason(client, settings, supervisor):
    settings.MES_PASSWORD_MAX_AGE_DAYS = 90
    _age_password(supervisor, 120)
    client.force_login(supervisor)
    response = client.get("/api/v1/mes/me/")
    assert response.status_code == 403
    assert response.json()["code"] == "password_change_required"
    assert "older than 90 days" in response.json()["detail"]


def test_signing_with_an_expired_password_is_refused_and_recorded(rf, settings, qa_user):
    settings.MES_PASSWORD_MAX_AGE_DAYS = 90
    _age_password(qa_user, 120)
    request = rf.post("/sign/")
    request.user = qa_user
    with pytest.raises(SignatureRefused) as exc:
        signer_authenticate(
            request=request, actor=qa_user, username=qa_user.username, password=DEFAULT_PASSWORD
        )
    assert exc.value.code == "signature_password_expired"
    failure = SecurityEvent.objects.get(type=SecurityEvent.Type.SIGNATURE_FAILED, user=qa_user)
    assert failure.data["reason"] == "signature_password_expired"


def test_changing_an_expired_password_lifts_the_block(client, settings, supervisor):
    settings.MES_PASSWORD_MAX_AGE_DAYS = 90
    _age_password(supervisor, 120)
    client.force_login(supervisor)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": "fresh-secret-for-2027",
            "new_password2": "fresh-secret-for-2027",
        },
    )
    assert response.status_code == 302
    supervisor.refresh_from_db()
    assert supervisor.password_expired is False
    assert client.get(reverse("home")).status_code == 200
    event = SecurityEvent.objects.get(type=SecurityEvent.Type.PASSWORD_CHANGED, user=supervisor)
    assert event.data["was_expired"] is True


def test_the_last_passwords_cannot_be_reused(settings, supervisor):
    settings.MES_PASSWORD_HISTORY = 3
    first = DEFAULT_PASSWORD
    user_change_password(actor=supervisor, user=supervisor, new_password="second-secret-abc")
    user_change_password(actor=supervisor, user=supervisor, new_password="third-secret-abcd")
    assert PasswordHistory.objects.filter(user=supervisor).count() == 2
    for old in (first, "second-secret-abc"):
        with pytest.raises(InvalidInput, match="last 3 passwords"):
            user_change_password(actor=supervisor, user=supervisor, new_password=old)
    supervisor.refresh_from_db()
    assert supervisor.check_password("third-secret-abcd")
    # Nothing was written by the refusals.
    assert PasswordHistory.objects.filter(user=supervisor).count() == 2
    # Old enough: the fourth-newest password is allowed again.
    user_change_password(actor=supervisor, user=supervisor, new_password="fourth-secret-abcd")
    user_change_password(actor=supervisor, user=supervisor, new_password=first)
    supervisor.refresh_from_db()
    assert supervisor.check_password(first)


def test_temporary_passwords_are_not_kept_in_the_history(settings, admin_user, supervisor):
    from mes.accounts.services import user_issue_temporary_password

    temporary = user_issue_temporary_password(actor=admin_user, user=supervisor)
    supervisor.refresh_from_db()
    user_change_password(actor=supervisor, user=supervisor, new_password="my-own-secret-xyz")
    stored = list(
        PasswordHistory.objects.filter(user=supervisor).values_list("password", flat=True)
    )
    assert stored == []
    supervisor.refresh_from_db()
    assert supervisor.check_password("my-own-secret-xyz")
    assert not supervisor.check_password(temporary)


def test_only_the_hash_of_an_old_password_is_kept(supervisor):
    user_change_password(actor=supervisor, user=supervisor, new_password="second-secret-abc")
    row = PasswordHistory.objects.get(user=supervisor)
    assert DEFAULT_PASSWORD not in row.password
    assert row.password.split("$", 1)[0] in {"argon2", "md5", "pbkdf2_sha256"}


# --- access review ------------------------------------------------------------------------


def test_access_review_report_flags_due_and_expired_accounts(
    settings, admin_user, operator, supervisor
):
    settings.MES_ACCESS_REVIEW_DAYS = 180
    settings.MES_PASSWORD_MAX_AGE_DAYS = 90
    _age_password(operator, 200)
    user_access_review(actor=admin_user, user=supervisor, note="roles confirmed with area lead")
    rows = {r["username"]: r for r in access_review_report()}
    assert rows[operator.username]["review_due"] is True
    assert rows[operator.username]["password_expired"] is True
    assert rows[operator.username]["password_age_days"] >= 200
    assert rows[supervisor.username]["review_due"] is False
    assert rows[supervisor.username]["last_access_review"] is not None
    later = timezone.now() + timedelta(days=181)
    assert {r["username"]: r for r in access_review_report(now=later)}[supervisor.username][
        "review_due"
    ] is True


def test_access_review_refusals(admin_user, operator):
    with pytest.raises(Conflict):
        user_access_review(actor=admin_user, user=admin_user, note="me")
    with pytest.raises(InvalidInput):
        user_access_review(actor=admin_user, user=operator, note="  ")
    with pytest.raises(NotAuthorized):
        user_access_review(actor=operator, user=admin_user, note="looks fine")
    assert not SecurityEvent.objects.filter(type=SecurityEvent.Type.ACCESS_REVIEWED).exists()


def test_access_review_command_lists_accounts(capsys, admin_user, operator):
    other = UserFactory(username="rita.reviewed", roles=["Operator"])
    user_access_review(actor=admin_user, user=other, note="still on shift A")
    call_command("access_review", "--due")
    out = capsys.readouterr().out
    assert operator.username in out
    assert "rita.reviewed" not in out
    assert "due for access review" in out
