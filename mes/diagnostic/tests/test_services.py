"""Running an assessment: one service call, permissions and input first, every registered
check evaluated read-only and timed, the record append-only; signing the report."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import DatabaseError, transaction
from django.utils import timezone

from mes.accounts.models import SecurityEvent
from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.audit.testing import seal_pending
from mes.diagnostic import services
from mes.diagnostic.models import Assessment
from mes.diagnostic.tests.factories import item, period, sign_as
from mes.esign.models import Signature
from mes.esign.selectors import signatures_for_record
from mes.exceptions import Conflict, InvalidInput, NotAuthorized, SignatureRefused
from mes.registry import CapabilityCheck, CheckResult, Evidence, register_check, unregister_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def extra_check():
    """Register a check for the test only."""
    keys = []

    def add(key, evaluate, **kwargs):
        keys.append(key)
        register_check(CapabilityCheck(key=key, title=key, evaluate=evaluate, **kwargs))

    yield add
    for key in keys:
        unregister_check(key)


def test_one_call_stores_the_model_every_item_and_the_diagnostic(qa_user):
    a = services.assessment_run(
        actor=qa_user, period=period(90), answers={"materials": "recipes", "downstream": "no"}
    )

    a = Assessment.objects.get(pk=a.pk)
    from mes.registry import SYMPTOMS, capability_checks

    assert [i["key"] for i in a.items] == [c.key for c in capability_checks()]
    assert [s["key"] for s in a.symptoms] == list(SYMPTOMS)
    assert a.answers == {"materials": "recipes", "downstream": "no"}
    assert a.mode == "process"  # the answers; an empty installation holds nothing
    assert a.disagreements[0].startswith("The answers point to process")
    total = a.pass_count + a.warning_count + a.fail_count + a.not_applicable_count
    assert total + a.error_count == len(a.items)
    assert all(i["duration_ms"] >= 0 for i in a.items)
    assert a.content_hash == services.content_hash_of(a)
    assert a.created_by == qa_user


def test_an_operator_may_not_run_it_and_nothing_is_written(operator):
    with pytest.raises(NotAuthorized):
        services.assessment_run(actor=operator, period=period())

    assert Assessment.objects.count() == 0


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (0, -1, "period_order"),
        (-2000, 0, "period_long"),
        (2, 3, "period_future"),
    ],
)
def test_a_bad_period_is_refused_and_nothing_is_written(qa_user, start, end, code):
    now = timezone.now()
    with pytest.raises(InvalidInput) as exc:
        services.assessment_run(
            actor=qa_user, period=(now + timedelta(days=start), now + timedelta(days=end))
        )

    assert exc.value.code == code
    assert Assessment.objects.count() == 0


def test_a_bad_answer_is_refused_and_nothing_is_written(qa_user):
    with pytest.raises(InvalidInput):
        services.assessment_run(actor=qa_user, period=period(), answers={"output": "pallets"})

    assert Assessment.objects.count() == 0


def test_a_broken_check_is_reported_and_a_writing_check_is_rolled_back(qa_user, extra_check):
    def broken(period):
        raise ValueError("no such table")

    def writes(period):
        Group.objects.create(name="written by a check")
        return CheckResult(CheckResult.PASS, "wrote", [Evidence("n", 1)])

    extra_check("test.broken", broken, model="shared", symptom="vessel_blind_scheduling")
    extra_check("test.writes", writes, model="shared")

    a = services.assessment_run(actor=qa_user, period=period())

    broken_item = item(a, "test.broken")
    assert broken_item["status"] == "error"
    assert broken_item["summary"] == "The check could not run: ValueError: no such table"
    assert item(a, "test.writes")["status"] == "pass"
    assert not Group.objects.filter(name="written by a check").exists()
    vessel = next(s for s in a.symptoms if s["key"] == "vessel_blind_scheduling")
    assert vessel["state"] == "not_evaluated"


def test_a_symptom_follows_the_worst_of_its_checks(qa_user, extra_check):
    extra_check(
        "test.ok",
        lambda p: CheckResult(CheckResult.PASS, "fine"),
        model="process",
        symptom="vessel_blind_scheduling",
    )
    first = services.assessment_run(actor=qa_user, period=period())
    extra_check(
        "test.bad",
        lambda p: CheckResult(CheckResult.FAIL, "vessel booked twice"),
        model="process",
        symptom="vessel_blind_scheduling",
        fixed_by="Vessel scheduling",
    )
    second = services.assessment_run(actor=qa_user, period=period())

    states = [
        next(s for s in a.symptoms if s["key"] == "vessel_blind_scheduling")
        for a in (first, second)
    ]
    assert [s["state"] for s in states] == ["not_present", "present"]
    assert (states[1]["why"], states[1]["fixed_by"]) == ("vessel booked twice", "Vessel scheduling")


def test_an_assessment_cannot_be_changed_or_deleted(qa_user):
    a = services.assessment_run(actor=qa_user, period=period())

    with pytest.raises(DatabaseError), transaction.atomic():
        Assessment.objects.filter(pk=a.pk).update(fail_count=0, mode="discrete")
    with pytest.raises(DatabaseError), transaction.atomic():
        Assessment.objects.filter(pk=a.pk).delete()

    stored = Assessment.objects.get(pk=a.pk)
    assert (stored.mode, stored.content_hash) == (a.mode, a.content_hash)


def test_qa_signs_the_report_and_the_signature_is_valid(qa_user):
    a = services.assessment_run(actor=qa_user, period=period())

    signature = services.assessment_sign(
        actor=qa_user, assessment=a, signer=sign_as(qa_user), reason="reviewed"
    )

    (shown,) = signatures_for_record(a)
    assert (shown.pk, shown.meaning, shown.is_valid) == (signature.pk, "assessed", True)
    with pytest.raises(Conflict):
        services.assessment_sign(actor=qa_user, assessment=a, signer=sign_as(qa_user))
    assert Signature.objects.count() == 1


def test_a_wrong_password_is_refused_recorded_and_nothing_is_signed(qa_user):
    a = services.assessment_run(actor=qa_user, period=period())

    with pytest.raises(SignatureRefused):
        sign_as(qa_user, password="not-" + DEFAULT_PASSWORD)

    assert Signature.objects.count() == 0
    assert SecurityEvent.objects.filter(
        type=SecurityEvent.Type.SIGNATURE_FAILED, user=qa_user
    ).exists()
    assert signatures_for_record(a) == []


def test_a_supervisor_may_run_but_not_sign(supervisor):
    a = services.assessment_run(actor=supervisor, period=period())

    with pytest.raises(NotAuthorized):
        services.assessment_sign(actor=supervisor, assessment=a, signer=sign_as(supervisor))

    assert Signature.objects.count() == 0


def test_the_audit_trail_item_runs_the_verifier(qa_user):
    services.assessment_run(actor=qa_user, period=period())  # something in the trail
    seal_pending()

    a = services.assessment_run(actor=qa_user, period=period())

    audit = item(a, "mes.audit_trail_intact")
    assert audit["status"] == "pass"
    assert audit["measured"]["events_checked"] > 0
    assert audit["measured"]["complete"] is True
    assert audit["evidence"][0]["value"].startswith("audit trail intact")


def test_on_a_big_trail_the_audit_item_stops_at_its_time_budget_and_says_so(qa_user, settings):
    Group.objects.bulk_create([Group(name=f"line crew {n}") for n in range(600)])
    seal_pending()
    settings.MES_DIAGNOSTIC_AUDIT_BUDGET_SECONDS = 0.000001

    a = services.assessment_run(actor=qa_user, period=period())

    audit = item(a, "mes.audit_trail_intact")
    assert audit["status"] == "warning"
    assert audit["measured"]["complete"] is False
    assert audit["measured"]["events_checked"] == 500
    assert audit["summary"].startswith("The first 500 events verified within 1e-06 s")
