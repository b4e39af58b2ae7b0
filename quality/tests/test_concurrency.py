"""Two QA reviewers act on the same lot at the same moment: exactly one wins (PostgreSQL, real
transactions in two threads; the lot row is locked)."""

import threading

import pytest
from django.db import connection

from genealogy.choices import LotStatus
from genealogy.models import Lot
from genealogy.tests.factories import received_lot
from mes.accounts.tests.factories import UserFactory
from mes.audit.context import system_context
from mes.esign.models import Signature
from quality import services
from quality.models import LabResult, LotDisposition, SpecTest
from quality.tests.factories import PASSING, approved_spec, enter_results, sign_as

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(user_ids: list[int], act) -> list[object]:
    barrier = threading.Barrier(len(user_ids))
    outcomes: list[object] = [None] * len(user_ids)

    def run(i: int) -> None:
        from mes.accounts.models import User

        try:
            with system_context("pytest-thread"):
                user = User.objects.get(pk=user_ids[i])
                prepared = act(user, i, prepare=True)
                barrier.wait(timeout=10)
                act(user, i, prepare=False, prepared=prepared)
            outcomes[i] = "ok"
        except Exception as exc:  # the refusal is the outcome under test
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(user_ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def _qa(name: str) -> int:
    return UserFactory(username=name, roles=["QA Reviewer"]).pk


def test_two_releases_of_one_lot_exactly_one_succeeds():
    spec = approved_spec()
    lot = received_lot(material=spec.material, lot_number="RACE-1")
    enter_results(lot, spec, PASSING, actor=UserFactory(username="lab", roles=["QA Reviewer"]))

    def release(user, i, *, prepare, prepared=None):
        if prepare:
            return sign_as(user)  # outside any transaction, before the race
        services.lot_release(actor=user, lot=Lot.objects.get(pk=lot.pk), signer=prepared)
        return None

    outcomes = _race([_qa("qa.one"), _qa("qa.two")], release)

    assert sorted(o if o == "ok" else type(o).__name__ for o in outcomes) == [
        "InvalidTransition",
        "ok",
    ]
    refusal = next(o for o in outcomes if o != "ok")
    assert refusal.detail == "Lot RACE-1 is released: it cannot be released."
    assert Lot.objects.get(pk=lot.pk).status == LotStatus.RELEASED
    assert LotDisposition.objects.filter(lot_id=lot.pk).count() == 1
    assert Signature.objects.filter(meaning="released").count() == 1


def test_two_entries_of_one_sample_exactly_one_is_recorded():
    spec = approved_spec()
    lot = received_lot(material=spec.material, lot_number="RACE-2")
    assay = SpecTest.objects.get(specification=spec, name="Assay")

    def enter(user, i, *, prepare, prepared=None):
        if not prepare:
            services.lab_result_enter(
                actor=user, lot=Lot.objects.get(pk=lot.pk), spec_test=assay, value=f"99.{i}"
            )

    outcomes = _race([_qa("lab.one"), _qa("lab.two")], enter)

    assert sorted(o if o == "ok" else type(o).__name__ for o in outcomes) == [
        "ResultAlreadyRecorded",
        "ok",
    ]
    assert LabResult.objects.filter(lot_id=lot.pk).count() == 1
