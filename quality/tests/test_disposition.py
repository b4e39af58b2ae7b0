"""Lot disposition: a signed QA decision. Release needs an approved spec with every result,
no failing result without a signed override linked to a deviation, no open deviation outside
the override, an unexpired lot. Every refusal says why and writes nothing."""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from genealogy import services as genealogy
from genealogy.choices import LotStatus
from genealogy.models import LotEvent
from genealogy.tests.factories import MaterialFactory, received_lot
from mes.esign.models import Signature
from mes.esign.selectors import signatures_for_record
from mes.exceptions import InvalidInput, InvalidTransition, NotAuthorized, SignatureRefused
from quality import services, signals
from quality.choices import Decision, EventType
from quality.exceptions import LotNotReleasable, OverrideRefused
from quality.models import LotDisposition, QualityEvent, ReleaseOverride
from quality.tests.factories import (
    FAILING_ASSAY,
    PASSING,
    enter_results,
    lot_with_results,
    sign_as,
    spec_test_named,
)

pytestmark = pytest.mark.django_db


def written():
    """What a disposition writes: refusals must leave every count unchanged."""
    return {
        "dispositions": LotDisposition.objects.count(),
        "signatures": Signature.objects.count(),
        "events": QualityEvent.objects.count(),
        "lot_events": LotEvent.objects.count(),
        "overrides": ReleaseOverride.objects.count(),
        "signed_overrides": ReleaseOverride.objects.filter(signed_at__isnull=False).count(),
    }


def status_of(lot):
    lot.refresh_from_db()
    return lot.status


@pytest.fixture
def failing_lot(spec, qa_user):
    return lot_with_results(spec=spec, values=FAILING_ASSAY, actor=qa_user, lot_number="F-1")


@pytest.fixture
def deviation(failing_lot, qa_user):
    return services.deviation_open(
        actor=qa_user,
        title="Assay below specification",
        description="Assay 96.5 % against 98.0-102.0 %.",
        lots=[failing_lot],
    )


def test_release_of_a_passing_lot(spec, qa_user, django_capture_on_commit_callbacks):
    lot = lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="P-1")
    heard = []
    signals.lot_released.connect(lambda **kw: heard.append(kw), weak=False, dispatch_uid="t1")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            disposition = services.lot_release(
                actor=qa_user, lot=lot, signer=sign_as(qa_user), reason="All results pass."
            )
    finally:
        signals.lot_released.disconnect(dispatch_uid="t1")

    assert status_of(lot) == LotStatus.RELEASED
    assert disposition.decision == Decision.RELEASED
    assert disposition.from_status == LotStatus.QUARANTINE
    assert disposition.specification == spec
    assert disposition.override is None
    assert disposition.summary == {
        "specification": str(spec),
        "results": 3,
        "failing_result_ids": [],
        "missing": 0,
        "open_deviations": [],
    }
    [signature] = signatures_for_record(disposition)
    assert (signature.meaning, signature.signer, signature.reason) == (
        "released",
        qa_user,
        "All results pass.",
    )
    assert signature.is_valid is True
    assert heard == [
        {
            "signal": signals.lot_released,
            "sender": LotDisposition,
            "lot_id": lot.pk,
            "disposition_id": disposition.pk,
            "lot_number": "P-1",
            "material_code": spec.material.code,
        }
    ]
    event = QualityEvent.objects.get(type=EventType.LOT_DISPOSED)
    assert event.data == {
        "disposition_id": disposition.pk,
        "decision": "released",
        "from": "quarantine",
        "signature_id": signature.pk,
    }
    assert LotEvent.objects.filter(lot=lot, type="lot.status_changed").get().data == {
        "from": "quarantine",
        "to": "released",
    }


def test_release_refused_without_an_approved_specification(qa_user):
    lot = received_lot(material=MaterialFactory(code="NO-SPEC"), lot_number="N-1")
    before = written()

    with pytest.raises(LotNotReleasable) as refused:
        services.lot_release(actor=qa_user, lot=lot, signer=sign_as(qa_user))

    assert refused.value.code == "no_approved_specification"
    assert refused.value.detail == (
        "No approved specification for NO-SPEC: Lot N-1 cannot be released against one."
    )
    assert written() == before
    assert status_of(lot) == LotStatus.QUARANTINE


def test_release_refused_while_results_are_missing(spec, qa_user):
    lot = received_lot(material=spec.material, lot_number="M-1")
    enter_results(lot, spec, {"Assay": "100.1"}, actor=qa_user)
    before = written()

    with pytest.raises(LotNotReleasable) as refused:
        services.lot_release(actor=qa_user, lot=lot, signer=sign_as(qa_user))

    assert refused.value.code == "results_incomplete"
    assert refused.value.detail == (
        "Lot M-1 lacks 2 of 3 required results (Water sample 1, Identity sample 1)."
    )
    assert written() == before
    assert status_of(lot) == LotStatus.QUARANTINE


def test_release_refused_with_a_failing_result(failing_lot, qa_user):
    before = written()

    with pytest.raises(LotNotReleasable) as refused:
        services.lot_release(actor=qa_user, lot=failing_lot, signer=sign_as(qa_user))

    assert refused.value.code == "failing_results"
    assert refused.value.detail == (
        "Lot F-1 has failing results (Assay sample 1 = 96.5 (limits 98–102 %)): release needs "
        "an override signed by QA and linked to a deviation."
    )
    assert written() == before
    assert status_of(failing_lot) == LotStatus.QUARANTINE


def test_release_refused_while_the_override_is_not_signed(failing_lot, deviation, qa_user):
    services.override_request(
        actor=qa_user, lot=failing_lot, deviation=deviation, justification="Assay method bias."
    )
    before = written()

    with pytest.raises(LotNotReleasable) as refused:
        services.lot_release(actor=qa_user, lot=failing_lot, signer=sign_as(qa_user))

    assert refused.value.code == "failing_results"
    assert f"has open deviations not covered by a signed override ({deviation.number})" in (
        refused.value.detail
    )
    assert written() == before


def test_release_with_a_signed_override(failing_lot, deviation, qa_user, qa_user2):
    override = services.override_request(
        actor=qa_user,
        lot=failing_lot,
        deviation=deviation,
        justification="Reference standard expired; retest within limits.",
    )
    assert override.result_ids == [
        r.pk for r in failing_lot_results(failing_lot) if r.outcome == "fail"
    ]
    services.override_sign(actor=qa_user2, override=override, signer=sign_as(qa_user2))

    disposition = services.lot_release(actor=qa_user, lot=failing_lot, signer=sign_as(qa_user))

    assert status_of(failing_lot) == LotStatus.RELEASED
    assert disposition.override == override
    override.refresh_from_db()
    assert override.signed_by == qa_user2
    [signature] = signatures_for_record(override)
    assert (signature.meaning, signature.signer, signature.is_valid) == ("override", qa_user2, True)


def failing_lot_results(lot):
    from quality.models import LabResult

    return LabResult.objects.filter(lot=lot).order_by("id")


def test_the_requester_may_not_sign_the_override(failing_lot, deviation, qa_user):
    override = services.override_request(
        actor=qa_user, lot=failing_lot, deviation=deviation, justification="Method bias."
    )
    before = written()

    with pytest.raises(SignatureRefused) as refused:
        services.override_sign(actor=qa_user, override=override, signer=sign_as(qa_user))

    assert refused.value.code == "signature_author"
    assert refused.value.detail == (
        "You are the author of this release override: someone else must sign it as "
        "'Override approved'."
    )
    assert written() == before


def test_an_operator_cannot_sign_an_override(failing_lot, deviation, qa_user, operator):
    override = services.override_request(
        actor=qa_user, lot=failing_lot, deviation=deviation, justification="Method bias."
    )
    before = written()

    with pytest.raises(NotAuthorized, match=r"sign a release override \(quality.dispose_lot\)"):
        services.override_sign(actor=operator, override=override, signer=sign_as(operator))

    assert written() == before


def test_override_needs_failing_results(spec, qa_user):
    lot = lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="P-2")
    dev = services.deviation_open(actor=qa_user, title="t", description="d", lots=[lot])
    before = written()

    with pytest.raises(OverrideRefused) as refused:
        services.override_request(actor=qa_user, lot=lot, deviation=dev, justification="x")

    assert refused.value.code == "override_not_needed"
    assert refused.value.detail == (
        "Lot P-2 has no failing result without a signed override: there is nothing to override."
    )
    assert written() == before


def test_override_links_the_deviation_to_the_lot(failing_lot, qa_user):
    other = services.deviation_open(actor=qa_user, title="Lab", description="Lab issue")

    services.override_request(actor=qa_user, lot=failing_lot, deviation=other, justification="j")

    assert list(other.lot_links.values_list("lot_id", flat=True)) == [failing_lot.pk]


def test_a_second_pending_override_is_refused(failing_lot, deviation, qa_user):
    first = services.override_request(
        actor=qa_user, lot=failing_lot, deviation=deviation, justification="j"
    )
    before = written()

    with pytest.raises(OverrideRefused) as refused:
        services.override_request(
            actor=qa_user, lot=failing_lot, deviation=deviation, justification="again"
        )

    assert refused.value.detail == f"Override #{first.pk} of lot F-1 awaits its signature."
    assert written() == before


def test_a_new_failing_result_after_the_override_blocks_release_again(
    failing_lot, deviation, spec, qa_user, qa_user2
):
    override = services.override_request(
        actor=qa_user, lot=failing_lot, deviation=deviation, justification="j"
    )
    services.override_sign(actor=qa_user2, override=override, signer=sign_as(qa_user2))
    water = failing_lot_results(failing_lot).get(spec_test=spec_test_named(spec, "Water"))
    services.lab_result_correct(actor=qa_user, result=water, value="0.9", reason="transcription")
    before = written()

    with pytest.raises(LotNotReleasable) as refused:
        services.lot_release(actor=qa_user, lot=failing_lot, signer=sign_as(qa_user))

    assert refused.value.code == "failing_results"
    assert "Water sample 1 = 0.9 (limits ≤ 0.5 %)" in refused.value.detail
    assert "Assay" not in refused.value.detail
    assert written() == before


def test_release_refused_by_an_open_deviation_on_the_lot(spec, qa_user):
    lot = lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="P-3")
    dev = services.deviation_open(
        actor=qa_user, title="Drum damaged", description="Dented drum", lots=[lot]
    )
    before = written()

    with pytest.raises(LotNotReleasable) as refused:
        services.lot_release(actor=qa_user, lot=lot, signer=sign_as(qa_user))

    assert refused.value.code == "open_deviation"
    assert refused.value.detail == (
        f"Lot P-3 has open deviations not covered by a signed override ({dev.number})."
    )
    assert written() == before


def test_release_refused_for_an_expired_lot(spec, qa_user):
    expired = timezone.localdate() - timedelta(days=2)
    lot = lot_with_results(
        spec=spec, values=PASSING, actor=qa_user, lot_number="E-1", expires_at=expired
    )
    before = written()

    with pytest.raises(LotNotReleasable) as refused:
        services.lot_release(actor=qa_user, lot=lot, signer=sign_as(qa_user))

    assert refused.value.code == "lot_expired"
    assert (
        refused.value.detail == f"Lot E-1 expired on {expired.isoformat()}: it cannot be released."
    )
    assert written() == before


def test_an_operator_cannot_release(spec, qa_user, operator):
    lot = lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="P-4")
    before = written()

    with pytest.raises(NotAuthorized) as refused:
        services.lot_release(actor=operator, lot=lot, signer=sign_as(operator))

    assert refused.value.detail == (
        "You lack the permission to dispose lots (quality.dispose_lot)."
    )
    assert written() == before
    assert status_of(lot) == LotStatus.QUARANTINE


def test_a_wrong_password_signs_nothing(spec, qa_user):
    lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="P-5")
    before = written()

    with pytest.raises(SignatureRefused) as refused:
        sign_as(qa_user, password="not-my-password")

    assert refused.value.code == "signature_bad_password"
    assert written() == before


def test_someone_elses_signature_is_refused(spec, qa_user, qa_user2):
    lot = lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="P-6")
    before = written()

    with pytest.raises(SignatureRefused, match="must be the acting user's own"):
        services.lot_release(actor=qa_user, lot=lot, signer=sign_as(qa_user2))

    assert written() == before


def test_reject_needs_a_reason(spec, qa_user):
    lot = lot_with_results(spec=spec, values=FAILING_ASSAY, actor=qa_user, lot_number="R-1")
    before = written()

    with pytest.raises(InvalidInput, match=r"The reason for the decision 'Rejected' is required"):
        services.lot_reject(actor=qa_user, lot=lot, signer=sign_as(qa_user), reason="  ")

    assert written() == before


@pytest.mark.parametrize(
    ("service", "decision", "meaning"),
    [
        (services.lot_reject, LotStatus.REJECTED, "rejected"),
        (services.lot_hold, LotStatus.ON_HOLD, "on_hold"),
    ],
)
def test_reject_and_hold_are_signed(spec, qa_user, service, decision, meaning):
    lot = lot_with_results(spec=spec, values=FAILING_ASSAY, actor=qa_user, lot_number="R-2")

    disposition = service(actor=qa_user, lot=lot, signer=sign_as(qa_user), reason="OOS assay")

    assert status_of(lot) == decision
    assert [s.meaning for s in signatures_for_record(disposition)] == [meaning]


def test_return_to_quarantine_is_signed_assessed(spec, qa_user):
    lot = lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="Q-1")
    services.lot_release(actor=qa_user, lot=lot, signer=sign_as(qa_user))

    disposition = services.lot_return_to_quarantine(
        actor=qa_user, lot=lot, signer=sign_as(qa_user), reason="Retest for stability"
    )

    assert status_of(lot) == LotStatus.QUARANTINE
    assert disposition.from_status == LotStatus.RELEASED
    assert [s.meaning for s in signatures_for_record(disposition)] == ["assessed"]


def test_a_rejected_lot_cannot_be_released(spec, qa_user):
    lot = lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="X-1")
    services.lot_reject(actor=qa_user, lot=lot, signer=sign_as(qa_user), reason="Contaminated")
    before = written()

    with pytest.raises(InvalidTransition) as refused:
        services.lot_release(actor=qa_user, lot=lot, signer=sign_as(qa_user))

    assert refused.value.detail == "Lot X-1 is rejected: it cannot be released."
    assert written() == before
    assert status_of(lot) == LotStatus.REJECTED


def test_no_signature_policy_no_disposition(spec, qa_user):
    from mes.esign.models import SignaturePolicy

    lot = lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="NP-1")
    SignaturePolicy.objects.filter(
        content_type=ContentType.objects.get_for_model(LotDisposition), meaning="released"
    ).update(is_active=False)
    before = written()

    with pytest.raises(SignatureRefused) as refused:
        services.lot_release(actor=qa_user, lot=lot, signer=sign_as(qa_user))

    assert refused.value.code == "signature_no_policy"
    assert written() == before
    assert status_of(lot) == LotStatus.QUARANTINE


def test_sampling_per_batch_counts_the_results_of_the_batch(qa_user):
    from genealogy.tests.factories import produced_lot
    from quality.tests.factories import approved_spec

    material = MaterialFactory(code="BULK-1")
    spec = approved_spec(material=material, sampling_basis="per_batch", sample_count=1)
    first = produced_lot(material=material, source_ref="B-77", lot_number="B77-A")
    second = produced_lot(material=material, source_ref="B-77", lot_number="B77-B")
    enter_results(first, spec, PASSING, actor=qa_user)

    disposition = services.lot_release(actor=qa_user, lot=second, signer=sign_as(qa_user))

    assert disposition.summary["results"] == 3
    assert status_of(second) == LotStatus.RELEASED


def test_lot_set_status_is_used_so_genealogy_keeps_its_ledger(spec, qa_user):
    lot = lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="G-1")

    services.lot_hold(actor=qa_user, lot=lot, signer=sign_as(qa_user), reason="Complaint")

    assert list(
        LotEvent.objects.filter(lot=lot, type="lot.status_changed").values_list("reason", flat=True)
    ) == ["lot G-1 on hold: Complaint"]
    assert genealogy  # the genealogy services module is the only writer of lot status
