"""The e-signature kernel service: authentication at every signing, policy, linking."""

import dataclasses
import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from mes.accounts.models import SecurityEvent
from mes.accounts.roles import Role
from mes.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from mes.audit.context import acting_as, audit_context
from mes.esign.hashing import record_content_hash
from mes.esign.models import Meaning, Signature, SignaturePolicy
from mes.esign.selectors import signature_is_valid, signatures_for_record
from mes.esign.services import (
    AuthenticatedSigner,
    record_sign,
    signature_policy_set,
    signer_authenticate,
    signer_for_system_command,
)
from mes.esign.tests.conftest import TERMINAL_IP
from mes.esign.tests.factories import SignatureFactory, SiteFactory
from mes.exceptions import InvalidInput, NotAuthorized, SignatureRefused

pytestmark = pytest.mark.django_db


def _site_policies():
    """Other apps' migrations create their own policies; these tests own the Site ones."""
    return SignaturePolicy.objects.filter(
        content_type__app_label="equipment", content_type__model="site"
    )


def _signature_failures(user):
    return list(
        SecurityEvent.objects.filter(type=SecurityEvent.Type.SIGNATURE_FAILED, user=user)
        .order_by("id")
        .values_list("data__reason", flat=True)
    )


# --- signer_authenticate ------------------------------------------------------------------


def test_signing_with_user_id_and_password_stores_the_full_manifestation(
    qa_user, site, approval_policy, authenticate_signer
):
    """P11-C2-01, P11-C2-02, P11-S-01, P11-S-03: both components are asked; the signature
    stores printed name, user ID, meaning, reason, DB time and the record hash."""
    before = timezone.now()
    signer = authenticate_signer(qa_user)
    signature = record_sign(
        record=site, signer=signer, meaning=Meaning.APPROVED, reason="site qualified"
    )

    stored = Signature.objects.get()
    assert stored.pk == signature.pk
    assert stored.signer == qa_user
    assert stored.printed_name == "Quinn QA"
    assert stored.username == "quinn.qa"
    assert stored.meaning == "approved"
    assert stored.reason == "site qualified"
    assert stored.object_id == str(site.pk)
    assert stored.content_type.app_label == "equipment"
    assert stored.content_type.model == "site"
    assert stored.record_hash == record_content_hash(site)
    assert stored.hash_alg == "sha256-c14n-v1"
    assert signature.signed_at == stored.signed_at
    assert (
        before - timedelta(seconds=5) <= stored.signed_at <= timezone.now() + timedelta(seconds=5)
    )
    assert signature_is_valid(stored) is True
    assert SecurityEvent.objects.filter(type=SecurityEvent.Type.SIGNATURE_FAILED).count() == 0


def test_user_id_is_compared_case_insensitively(
    qa_user, site, approval_policy, authenticate_signer
):
    """P11-C2-04: the logged-in user typing their own ID in capitals is still themself."""
    signer = authenticate_signer(qa_user, username="  QUINN.QA ")
    record_sign(record=site, signer=signer, meaning=Meaning.APPROVED)
    assert Signature.objects.get().username == "quinn.qa"


def test_wrong_password_is_refused_recorded_and_counted_toward_lockout(
    qa_user, authenticate_signer
):
    """P11-PW-04: a wrong signing password writes signature.failed and counts for axes."""
    with pytest.raises(SignatureRefused) as exc:
        authenticate_signer(qa_user, password="not-my-password")

    assert exc.value.code == "signature_bad_password"
    assert "Wrong password; nothing was signed" in exc.value.detail
    assert _signature_failures(qa_user) == ["signature_bad_password"]
    event = SecurityEvent.objects.get(type=SecurityEvent.Type.SIGNATURE_FAILED)
    assert event.username == "quinn.qa"
    assert event.ip_address == TERMINAL_IP
    # not double-counted as a login failure
    assert SecurityEvent.objects.filter(type=SecurityEvent.Type.LOGIN_FAILED).count() == 0
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (
        "quinn.qa",
        TERMINAL_IP,
        1,
    )
    assert Signature.objects.count() == 0


def test_five_failed_signings_lock_the_user_out_of_login_and_signing(
    client, qa_user, admin_user, authenticate_signer, mailoutbox, django_capture_on_commit_callbacks
):
    """P11-PW-04: 5 wrong signing passwords lock the user ID at that address; the lockout is
    recorded and alerted; even the right password then neither logs in nor signs."""
    for _ in range(4):
        with pytest.raises(SignatureRefused):
            authenticate_signer(qa_user, password="guess")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(SignatureRefused) as exc:
        authenticate_signer(qa_user, password="guess")
    assert "now locked" in exc.value.detail

    response = client.post(
        reverse("login"),
        {"username": "quinn.qa", "password": DEFAULT_PASSWORD},
        REMOTE_ADDR=TERMINAL_IP,
    )
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session

    with pytest.raises(SignatureRefused) as locked:
        authenticate_signer(qa_user)
    assert locked.value.code == "signature_locked"

    lockout = SecurityEvent.objects.get(type=SecurityEvent.Type.LOCKED_OUT)
    assert lockout.user == qa_user
    assert lockout.data["source"] == "signature"
    assert lockout.data["failures"] == 5
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["mes-admins@example.com", "ada.admin@plant.example"]
    assert _signature_failures(qa_user) == ["signature_bad_password"] * 5 + ["signature_locked"]


def test_successful_signing_resets_the_failure_count(qa_user, authenticate_signer):
    """P11-PW-04: like a successful login, a successful signing clears the failures."""
    for _ in range(4):
        with pytest.raises(SignatureRefused):
            authenticate_signer(qa_user, password="guess")
    authenticate_signer(qa_user)
    assert AccessAttempt.objects.count() == 0
    with pytest.raises(SignatureRefused) as exc:
        authenticate_signer(qa_user, password="guess")
    assert exc.value.code == "signature_bad_password"
    assert "now locked" not in exc.value.detail


def test_nobody_signs_with_someone_elses_user_id(qa_user, qa_user2, authenticate_signer):
    """P11-C2-04 (11.200(a)(2)): the ID must be the logged-in user's, even with the other
    person's correct password; that person's password is not even tried."""
    with pytest.raises(SignatureRefused) as exc:
        authenticate_signer(qa_user, username="queenie.qa", password=DEFAULT_PASSWORD)

    assert exc.value.code == "signature_wrong_user"
    assert "you can sign only as yourself" in exc.value.detail
    assert _signature_failures(qa_user) == ["signature_wrong_user"]
    assert AccessAttempt.objects.count() == 0


def test_missing_password_is_refused(qa_user, authenticate_signer):
    """P11-C2-01: both components, every time."""
    with pytest.raises(SignatureRefused) as exc:
        authenticate_signer(qa_user, password="")
    assert exc.value.code == "signature_incomplete"
    assert _signature_failures(qa_user) == ["signature_incomplete"]


def test_user_who_must_change_password_cannot_sign(authenticate_signer):
    """P11-C2-05: a temporary password never signs."""
    user = UserFactory(username="tina.temp", roles=[Role.QA_REVIEWER.value])
    user.must_change_password = True
    user.save(update_fields=["must_change_password"])

    with pytest.raises(SignatureRefused) as exc:
        authenticate_signer(user)
    assert exc.value.code == "signature_password_change_required"
    assert _signature_failures(user) == ["signature_password_change_required"]


def test_inactive_user_cannot_sign(authenticate_signer):
    """P11-U-01: a deactivated person's signature is refused."""
    user = UserFactory(username="ivan.inactive", roles=[Role.QA_REVIEWER.value], is_active=False)
    with pytest.raises(SignatureRefused) as exc:
        authenticate_signer(user)
    assert exc.value.code == "signature_user_inactive"


def test_signer_authenticate_refuses_to_run_inside_a_transaction(qa_user, authenticate_signer):
    """A failed attempt must survive the action's rollback, so authentication runs outside."""
    with transaction.atomic(), pytest.raises(RuntimeError, match="outside any atomic block"):
        authenticate_signer(qa_user)
    assert SecurityEvent.objects.count() == 0


def test_failed_attempt_survives_the_actions_rollback(qa_user, site, approval_policy, make_request):
    """The view pattern: authenticate (fails, recorded) then the domain transaction that
    never runs; the signature.failed event stays."""

    def sign_view():
        signer = signer_authenticate(
            request=make_request(qa_user), actor=qa_user, username="quinn.qa", password="x"
        )
        with transaction.atomic():
            record_sign(record=site, signer=signer, meaning=Meaning.APPROVED)

    with pytest.raises(SignatureRefused):
        sign_view()
    assert _signature_failures(qa_user) == ["signature_bad_password"]
    assert Signature.objects.count() == 0


# --- record_sign: freshness and proof -------------------------------------------------------


def test_stale_authentication_is_refused(qa_user, site, approval_policy, authenticate_signer):
    """P11-C2-02: the user ID + password were entered for this signing, not minutes ago."""
    signer = authenticate_signer(qa_user)
    stale = dataclasses.replace(
        signer, authenticated_at=signer.authenticated_at - timedelta(seconds=121)
    )
    with pytest.raises(SignatureRefused) as exc:
        record_sign(record=site, signer=stale, meaning=Meaning.APPROVED)
    assert exc.value.code == "signature_expired"
    assert Signature.objects.count() == 0


def test_a_signer_not_made_by_signer_authenticate_is_refused(qa_user, site, approval_policy):
    """P11-C2-01: no password, no signature, even for code that builds the object itself."""
    forged = AuthenticatedSigner(user=qa_user, authenticated_at=timezone.now())
    with pytest.raises(SignatureRefused) as exc:
        record_sign(record=site, signer=forged, meaning=Meaning.APPROVED)
    assert exc.value.code == "signature_not_authenticated"
    assert Signature.objects.count() == 0


def test_password_change_after_authentication_voids_it(
    qa_user, site, approval_policy, authenticate_signer
):
    signer = authenticate_signer(qa_user)
    qa_user.set_password("another-password-77")
    qa_user.save(update_fields=["password"])
    with pytest.raises(SignatureRefused) as exc:
        record_sign(record=site, signer=signer, meaning=Meaning.APPROVED)
    assert exc.value.code == "signature_not_authenticated"
    assert Signature.objects.count() == 0


def test_system_command_may_sign_without_password(qa_user, site, approval_policy):
    """The demo loader (a named system principal, no request) signs for a demo person."""
    signer = signer_for_system_command(user=qa_user)
    record_sign(record=site, signer=signer, meaning=Meaning.APPROVED)
    assert Signature.objects.get().username == "quinn.qa"


def test_no_password_free_signer_inside_a_request_or_for_a_person(qa_user, make_request):
    with audit_context(request=make_request(qa_user)), pytest.raises(SignatureRefused):
        signer_for_system_command(user=qa_user)
    with acting_as(qa_user), pytest.raises(SignatureRefused):
        signer_for_system_command(user=qa_user)


# --- record_sign: policy ----------------------------------------------------------------


def test_role_without_permission_is_refused(operator, site, approval_policy, authenticate_signer):
    """P11-G-01: each meaning has its own authority check."""
    signer = authenticate_signer(operator)
    with pytest.raises(SignatureRefused) as exc:
        record_sign(record=site, signer=signer, meaning=Meaning.APPROVED)
    assert exc.value.code == "signature_role"
    assert exc.value.detail == (
        "Signing site as 'Approved' needs the role QA Reviewer; olivia.operator holds Operator."
    )
    assert Signature.objects.count() == 0


def test_superuser_is_not_exempt_from_the_role_check(site, approval_policy, authenticate_signer):
    """P11-G-01: a superuser without the role cannot sign."""
    root = UserFactory(username="root.admin", is_superuser=True, is_staff=True)
    signer = authenticate_signer(root)
    with pytest.raises(SignatureRefused) as exc:
        record_sign(record=site, signer=signer, meaning=Meaning.APPROVED)
    assert exc.value.code == "signature_role"
    assert Signature.objects.count() == 0


def test_author_cannot_approve_own_record(qa_user, site, authenticate_signer):
    """P11-G-01 / A11D-04: author_may_sign=False refuses the record's author."""
    signature_policy_set(
        actor=None,
        model="equipment.Site",
        meaning=Meaning.APPROVED,
        roles=[Role.QA_REVIEWER.value],
        author_may_sign=False,
    )
    site.signature_author = lambda: qa_user
    signer = authenticate_signer(qa_user)
    with pytest.raises(SignatureRefused) as exc:
        record_sign(record=site, signer=signer, meaning=Meaning.APPROVED)
    assert exc.value.code == "signature_author"
    assert "You are the author of this site" in exc.value.detail
    assert Signature.objects.count() == 0


def test_non_author_may_approve_when_author_may_not(qa_user, qa_user2, site, authenticate_signer):
    signature_policy_set(
        actor=None,
        model="equipment.Site",
        meaning=Meaning.APPROVED,
        roles=[Role.QA_REVIEWER.value],
        author_may_sign=False,
    )
    site.signature_author = lambda: qa_user
    record_sign(record=site, signer=authenticate_signer(qa_user2), meaning=Meaning.APPROVED)
    assert list(Signature.objects.values_list("username", flat=True)) == ["queenie.qa"]


def test_author_rule_fails_closed_when_the_record_does_not_name_its_author(
    qa_user, site, authenticate_signer
):
    signature_policy_set(
        actor=None,
        model="equipment.Site",
        meaning=Meaning.APPROVED,
        roles=[Role.QA_REVIEWER.value],
        author_may_sign=False,
    )
    with pytest.raises(SignatureRefused) as exc:
        record_sign(record=site, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED)
    assert exc.value.code == "signature_author_unknown"
    assert Signature.objects.count() == 0


def test_performer_cannot_also_verify(operator, operator2, site, authenticate_signer):
    """P11-F-01 / P11-G-01: 'verified' distinct from 'performed' (performer ≠ verifier)."""
    signature_policy_set(
        actor=None,
        model="equipment.Site",
        meaning=Meaning.PERFORMED,
        roles=[Role.OPERATOR.value],
    )
    signature_policy_set(
        actor=None,
        model="equipment.Site",
        meaning=Meaning.VERIFIED,
        roles=[Role.OPERATOR.value, Role.SUPERVISOR.value],
        distinct_from=[Meaning.PERFORMED],
    )
    record_sign(record=site, signer=authenticate_signer(operator), meaning=Meaning.PERFORMED)

    with pytest.raises(SignatureRefused) as exc:
        record_sign(record=site, signer=authenticate_signer(operator), meaning=Meaning.VERIFIED)
    assert exc.value.code == "signature_not_distinct"
    assert exc.value.detail == (
        "You already signed this site as 'Performed': 'Verified' must be signed by someone else."
    )
    assert list(Signature.objects.values_list("meaning", flat=True)) == ["performed"]

    record_sign(record=site, signer=authenticate_signer(operator2), meaning=Meaning.VERIFIED)
    assert list(Signature.objects.order_by("id").values_list("username", "meaning")) == [
        ("olivia.operator", "performed"),
        ("oscar.operator", "verified"),
    ]


def test_distinct_rule_is_per_record(operator, authenticate_signer):
    """Performing one record does not stop verifying another."""
    first, second = SiteFactory(), SiteFactory()
    signature_policy_set(
        actor=None, model="equipment.Site", meaning=Meaning.PERFORMED, roles=["Operator"]
    )
    signature_policy_set(
        actor=None,
        model="equipment.Site",
        meaning=Meaning.VERIFIED,
        roles=["Operator"],
        distinct_from=[Meaning.PERFORMED],
    )
    record_sign(record=first, signer=authenticate_signer(operator), meaning=Meaning.PERFORMED)
    record_sign(record=second, signer=authenticate_signer(operator), meaning=Meaning.VERIFIED)
    assert Signature.objects.count() == 2


def test_no_policy_no_signature(qa_user, site, authenticate_signer):
    """P11-G-01: a meaning nobody configured cannot be signed by anybody."""
    with pytest.raises(SignatureRefused) as exc:
        record_sign(record=site, signer=authenticate_signer(qa_user), meaning=Meaning.RELEASED)
    assert exc.value.code == "signature_no_policy"
    assert exc.value.detail.startswith("No signature policy for equipment.site 'released'")
    assert Signature.objects.count() == 0


def test_inactive_policy_counts_as_no_policy(qa_user, site, authenticate_signer):
    signature_policy_set(
        actor=None,
        model="equipment.Site",
        meaning=Meaning.APPROVED,
        roles=[Role.QA_REVIEWER.value],
        is_active=False,
    )
    with pytest.raises(SignatureRefused) as exc:
        record_sign(record=site, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED)
    assert exc.value.code == "signature_no_policy"
    assert Signature.objects.count() == 0


def test_unknown_meaning_is_invalid_input(qa_user, site, approval_policy, authenticate_signer):
    with pytest.raises(InvalidInput):
        record_sign(record=site, signer=authenticate_signer(qa_user), meaning="blessed")
    assert Signature.objects.count() == 0


# --- linking: hash, validity, manifestation ------------------------------------------------


def test_changing_the_record_after_signing_invalidates_the_signature(
    qa_user, site, approval_policy, authenticate_signer
):
    """P11-S-03 (11.70): a later change of the record shows the signature as invalid."""
    signature = record_sign(
        record=site, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED
    )
    assert signature_is_valid(signature) is True

    site.name = "Bern plant (renamed)"
    site.save()

    assert signature_is_valid(signature) is False
    [shown] = signatures_for_record(site)
    assert shown.is_valid is False
    assert shown.invalid_reason == (
        "the record changed after signing (or the signature is not this record's)"
    )


def test_signature_row_copied_to_another_record_is_invalid(
    qa_user, site, approval_policy, authenticate_signer
):
    """P11-S-03: a signature cannot be transferred: same row, other object_id → invalid."""
    other = SiteFactory(code="ZRH", name="Zurich plant")
    original = record_sign(
        record=site, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED
    )
    copy = SignatureFactory(record=other, signer=qa_user, record_hash=original.record_hash)
    assert signature_is_valid(original) is True
    assert signature_is_valid(copy) is False
    assert [s.is_valid for s in signatures_for_record(other)] == [False]


@pytest.mark.postgres
def test_signature_moved_by_sql_as_superuser_is_invalid(
    qa_user, site, approval_policy, authenticate_signer
):
    """P11-S-03, P11-A-02: even a database superuser who bypasses every trigger and moves the
    row to another record is caught by the hash."""
    other = SiteFactory(code="GVA", name="Geneva plant")
    signature = record_sign(
        record=site, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED
    )
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # fire the pending seal first
        cursor.execute("ALTER TABLE esign_signature DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE esign_signature SET object_id = %s WHERE id = %s", [str(other.pk), signature.pk]
        )
        cursor.execute("ALTER TABLE esign_signature ENABLE TRIGGER USER")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    moved = Signature.objects.get(pk=signature.pk)
    assert moved.object_id == str(other.pk)
    assert signature_is_valid(moved) is False
    assert signatures_for_record(site) == []


def test_signature_of_a_deleted_record_is_invalid(qa_user, approval_policy, authenticate_signer):
    doomed = SiteFactory(code="DEL")
    signature = record_sign(
        record=doomed, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED
    )
    doomed_pk = doomed.pk
    doomed.delete()
    [shown] = signatures_for_record(SiteFactory.build(pk=doomed_pk))
    assert shown.pk == signature.pk
    assert shown.is_valid is False
    assert shown.invalid_reason == "the signed record no longer exists"


def test_printed_name_is_a_snapshot(qa_user, site, approval_policy, authenticate_signer):
    """P11-S-02: a later name change does not change past manifestations."""
    record_sign(record=site, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED)
    qa_user.full_name = "Quinn Married-Name"
    qa_user.save(update_fields=["full_name"])

    [shown] = signatures_for_record(site)
    assert shown.printed_name == "Quinn QA"
    assert shown.manifestation.startswith("Quinn QA — Approved — ")


def test_manifestation_has_name_meaning_and_time_with_zone(
    qa_user, site, approval_policy, authenticate_signer
):
    """P11-S-01, A11D-02: 'Printed Name — Meaning — YYYY-MM-DD HH:MM:SS UTC+00:00'."""
    record_sign(record=site, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED)
    [shown] = signatures_for_record(site)
    expected_time = timezone.localtime(shown.signed_at).strftime("%Y-%m-%d %H:%M:%S")
    assert shown.manifestation == f"Quinn QA — Approved — {expected_time} UTC+00:00"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC[+-]\d\d:\d\d", shown.signed_at_display)


def test_manifestation_shows_the_plant_zone_offset(
    qa_user, site, approval_policy, authenticate_signer, settings
):
    """A11D-02: in a plant on Central European Time the offset is shown."""
    record_sign(record=site, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED)
    settings.TIME_ZONE = "Europe/Zurich"
    [shown] = signatures_for_record(site)
    assert shown.signed_at_display.endswith(("UTC+01:00", "UTC+02:00"))


# --- policies ----------------------------------------------------------------------------


def test_signature_policy_set_replaces_the_existing_row(admin_user):
    first = signature_policy_set(
        actor=admin_user, model="equipment.Site", meaning="approved", roles=["QA Reviewer"]
    )
    second = signature_policy_set(
        actor=admin_user,
        model="equipment.Site",
        meaning="approved",
        roles=["Supervisor", "QA Reviewer"],
        author_may_sign=False,
        distinct_from=["reviewed"],
    )
    assert second.pk == first.pk
    assert _site_policies().count() == 1
    assert sorted(second.allowed_roles.values_list("name", flat=True)) == [
        "QA Reviewer",
        "Supervisor",
    ]
    assert (second.author_may_sign, second.distinct_from) == (False, ["reviewed"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"roles": ["Wizard"]}, "Unknown role(s): Wizard."),
        ({"roles": []}, "A signature policy needs at least one role."),
        ({"meaning": "blessed"}, "Unknown signature meaning 'blessed'."),
        ({"distinct_from": ["nope"]}, "Unknown meaning(s) in distinct_from: nope."),
        ({"model": "equipment.Nothing"}, "Unknown record type 'equipment.Nothing'."),
    ],
)
def test_signature_policy_set_rejects_bad_input(kwargs, message):
    arguments = {
        "actor": None,
        "model": "equipment.Site",
        "meaning": "approved",
        "roles": ["QA Reviewer"],
        **kwargs,
    }
    with pytest.raises(InvalidInput) as exc:
        signature_policy_set(**arguments)
    assert exc.value.detail == message
    assert _site_policies().count() == 0


def test_signature_policy_set_needs_the_permission(operator):
    with pytest.raises(NotAuthorized):
        signature_policy_set(
            actor=operator, model="equipment.Site", meaning="approved", roles=["Operator"]
        )
    assert _site_policies().count() == 0
