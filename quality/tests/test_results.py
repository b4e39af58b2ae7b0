"""Lab results: evaluated against the spec at entry; never edited (a correction supersedes,
with a reason); a LIMS retry is idempotent. Specifications: drafted, approved by a second QA
reviewer's signature, superseded by the next version."""

import re
from decimal import Decimal

import pytest

from genealogy.tests.factories import MaterialFactory, received_lot
from mes.esign.models import Signature
from mes.esign.selectors import signatures_for_record
from mes.exceptions import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotAuthorized,
    SignatureRefused,
)
from quality import services
from quality.choices import ResultOutcome, SpecificationStatus
from quality.exceptions import InvalidResultValue, ResultAlreadyRecorded, SpecificationNotUsable
from quality.models import LabResult, QualityEvent, Specification, SpecTest
from quality.selectors import lot_quality
from quality.tests.factories import (
    DEFAULT_TESTS,
    qa_people,
    sign_as,
    spec_test_named,
)

pytestmark = pytest.mark.django_db


def written():
    return (
        LabResult.objects.count(),
        QualityEvent.objects.count(),
        Specification.objects.count(),
        SpecTest.objects.count(),
        Signature.objects.count(),
    )


@pytest.fixture
def lot(spec):
    return received_lot(material=spec.material, lot_number="L-1")


@pytest.mark.parametrize(
    ("value", "outcome", "text"),
    [
        ("98.0", ResultOutcome.PASS, "98"),  # the limits are inclusive
        ("102.0", ResultOutcome.PASS, "102"),
        ("97.99", ResultOutcome.FAIL, "97.99"),
        ("102.01", ResultOutcome.FAIL, "102.01"),
        (" 100.50 ", ResultOutcome.PASS, "100.5"),
    ],
)
def test_numeric_result_evaluated_against_both_limits(spec, lot, qa_user, value, outcome, text):
    result = services.lab_result_enter(
        actor=qa_user, lot=lot, spec_test=spec_test_named(spec, "Assay"), value=value
    )

    assert (result.outcome, result.value_text) == (outcome, text)
    assert (result.low, result.high, result.unit) == (Decimal("98.0"), Decimal("102.0"), "%")


@pytest.mark.parametrize(("value", "outcome"), [("0.5", "pass"), ("0", "pass"), ("0.51", "fail")])
def test_one_sided_limit(spec, lot, qa_user, value, outcome):
    result = services.lab_result_enter(
        actor=qa_user, lot=lot, spec_test=spec_test_named(spec, "Water"), value=value
    )

    assert result.outcome == outcome


@pytest.mark.parametrize(("value", "outcome"), [("PASS", "pass"), ("fail", "fail"), (True, "pass")])
def test_pass_fail_result(spec, lot, qa_user, value, outcome):
    result = services.lab_result_enter(
        actor=qa_user, lot=lot, spec_test=spec_test_named(spec, "Identity"), value=value
    )

    assert (result.outcome, result.value_text) == (outcome, outcome)


@pytest.mark.parametrize(
    ("test", "value", "message"),
    [
        ("Assay", "abc", "The result of Assay must be a number, not 'abc'."),
        ("Assay", "NaN", "The result of Assay must be a finite number."),
        ("Assay", "1.0000001", "The result of Assay has more than 6 decimal places (1.0000001)."),
        ("Identity", "maybe", "Identity is a pass/fail test: enter 'pass' or 'fail', not 'maybe'."),
    ],
)
def test_invalid_values_are_refused(spec, lot, qa_user, test, value, message):
    before = written()

    with pytest.raises(InvalidResultValue) as refused:
        services.lab_result_enter(
            actor=qa_user, lot=lot, spec_test=spec_test_named(spec, test), value=value
        )

    assert refused.value.detail == message
    assert written() == before


def test_a_second_result_for_the_same_sample_is_refused(spec, lot, qa_user):
    first = services.lab_result_enter(
        actor=qa_user, lot=lot, spec_test=spec_test_named(spec, "Assay"), value="99.0"
    )
    before = written()

    with pytest.raises(ResultAlreadyRecorded) as refused:
        services.lab_result_enter(
            actor=qa_user, lot=lot, spec_test=spec_test_named(spec, "Assay"), value="97.0"
        )

    assert refused.value.detail == (
        f"Assay sample 1 of lot L-1 already has result #{first.pk} = 99: enter a correction "
        "with a reason instead."
    )
    assert written() == before


def test_sample_outside_the_plan_is_refused(spec, lot, qa_user):
    before = written()

    with pytest.raises(InvalidInput, match=r"Sample 2 is outside the sampling plan \(1..1\)."):
        services.lab_result_enter(
            actor=qa_user,
            lot=lot,
            spec_test=spec_test_named(spec, "Assay"),
            value="99",
            sample_no=2,
        )

    assert written() == before


def test_result_for_another_material_is_refused(spec, qa_user):
    other = received_lot(material=MaterialFactory(code="OTHER"), lot_number="O-1")
    before = written()

    with pytest.raises(InvalidInput) as refused:
        services.lab_result_enter(
            actor=qa_user, lot=other, spec_test=spec_test_named(spec, "Assay"), value="99"
        )

    assert refused.value.detail == (
        "Lot O-1 is OTHER; test Assay belongs to the specification of another material."
    )
    assert written() == before


def test_results_only_against_the_approved_version(qa_user):
    author, _ = qa_people()
    draft = services.specification_create(
        actor=author, material=MaterialFactory(), title="Draft", tests=DEFAULT_TESTS
    )
    lot = received_lot(material=draft.material)
    before = written()

    with pytest.raises(SpecificationNotUsable) as refused:
        services.lab_result_enter(
            actor=qa_user, lot=lot, spec_test=spec_test_named(draft, "Assay"), value="99"
        )

    assert refused.value.detail == (
        "Draft v1 is draft: results are entered only against the approved specification."
    )
    assert written() == before


def test_an_operator_cannot_enter_results(spec, lot, operator):
    before = written()

    with pytest.raises(NotAuthorized, match=r"enter lab results \(quality.enter_labresult\)"):
        services.lab_result_enter(
            actor=operator, lot=lot, spec_test=spec_test_named(spec, "Assay"), value="99"
        )

    assert written() == before


def test_a_correction_supersedes_with_its_reason(spec, lot, qa_user, qa_user2):
    wrong = services.lab_result_enter(
        actor=qa_user, lot=lot, spec_test=spec_test_named(spec, "Assay"), value="96.5"
    )

    fixed = services.lab_result_correct(
        actor=qa_user2, result=wrong, value="99.5", reason="Transcription error: 99.5 on the sheet"
    )

    assert fixed.supersedes == wrong
    assert (fixed.outcome, fixed.value_text, fixed.sample_no) == ("pass", "99.5", 1)
    assert fixed.correction_reason == "Transcription error: 99.5 on the sheet"
    wrong.refresh_from_db()
    assert (wrong.value_text, wrong.outcome) == ("96.5", "fail")  # never edited
    state = lot_quality(lot)
    assert [(r.pk, r.is_current) for r in state.results] == [(wrong.pk, False), (fixed.pk, True)]
    assert state.failing == []
    event = QualityEvent.objects.get(type="lab_result.corrected")
    assert event.data["old_value"] == "96.5"
    assert event.data["supersedes"] == wrong.pk


def test_a_superseded_result_cannot_be_corrected_again(spec, lot, qa_user):
    wrong = services.lab_result_enter(
        actor=qa_user, lot=lot, spec_test=spec_test_named(spec, "Assay"), value="96.5"
    )
    fixed = services.lab_result_correct(actor=qa_user, result=wrong, value="99.5", reason="typo")
    before = written()

    with pytest.raises(Conflict) as refused:
        services.lab_result_correct(actor=qa_user, result=wrong, value="99.6", reason="again")

    assert refused.value.detail == (
        f"Result #{wrong.pk} was already corrected by result #{fixed.pk}: correct that one."
    )
    assert written() == before


def test_a_correction_needs_a_reason(spec, lot, qa_user):
    result = services.lab_result_enter(
        actor=qa_user, lot=lot, spec_test=spec_test_named(spec, "Assay"), value="96.5"
    )
    before = written()

    with pytest.raises(InvalidInput, match=re.escape("The reason for the correction is required.")):
        services.lab_result_correct(actor=qa_user, result=result, value="99", reason="")

    assert written() == before


def test_lims_retry_returns_the_recorded_result(spec, lot, integration_user):
    test = spec_test_named(spec, "Assay")
    first = services.lab_result_enter(
        actor=integration_user,
        lot=lot,
        spec_test=test,
        value="99.1",
        source="lims",
        external_ref="LIMS-7",
    )
    before = written()

    again = services.lab_result_enter(
        actor=integration_user,
        lot=lot,
        spec_test=test,
        value="99.10",
        source="lims",
        external_ref="LIMS-7",
    )

    assert again == first
    assert written() == before


def test_lims_ref_reused_for_other_data_is_refused(spec, lot, integration_user):
    test = spec_test_named(spec, "Assay")
    first = services.lab_result_enter(
        actor=integration_user,
        lot=lot,
        spec_test=test,
        value="99.1",
        source="lims",
        external_ref="LIMS-8",
    )
    before = written()

    with pytest.raises(Conflict) as refused:
        services.lab_result_enter(
            actor=integration_user,
            lot=lot,
            spec_test=test,
            value="95",
            source="lims",
            external_ref="LIMS-8",
        )

    assert refused.value.code == "duplicate_external_ref"
    assert refused.value.detail == (
        f"Result LIMS-8 was already recorded with other data (result #{first.pk}); send a "
        "correction instead."
    )
    assert written() == before


def test_several_results_are_all_or_nothing(spec, lot, qa_user):
    before = written()

    with pytest.raises(InvalidResultValue):
        services.lab_results_enter(
            actor=qa_user,
            lot=lot,
            entries=[
                (spec_test_named(spec, "Assay"), 1, "99.0"),
                (spec_test_named(spec, "Water"), 1, "wet"),
            ],
        )

    assert written() == before


# --- specifications --------------------------------------------------------------------------


def test_specification_approved_by_a_second_qa_reviewer(material):
    author, approver = qa_people()
    draft = services.specification_create(
        actor=author, material=material, title="API release", tests=DEFAULT_TESTS, sample_count=2
    )

    approved = services.specification_approve(
        actor=approver, specification=draft, signer=sign_as(approver), reason="Reviewed"
    )

    assert (approved.version, approved.status, approved.approved_by) == (
        1,
        SpecificationStatus.APPROVED,
        approver,
    )
    assert [t.name for t in approved.tests.all()] == ["Assay", "Water", "Identity"]
    [signature] = signatures_for_record(approved)
    assert (signature.meaning, signature.signer, signature.is_valid) == ("approved", approver, True)


def test_the_author_may_not_approve_the_specification(material):
    author, _ = qa_people()
    draft = services.specification_create(
        actor=author, material=material, title="API release", tests=DEFAULT_TESTS
    )
    before = written()

    with pytest.raises(SignatureRefused) as refused:
        services.specification_approve(actor=author, specification=draft, signer=sign_as(author))

    assert refused.value.code == "signature_author"
    assert written() == before
    draft.refresh_from_db()
    assert draft.status == SpecificationStatus.DRAFT


def test_the_next_version_supersedes_and_keeps_the_old_signature_valid(spec):
    author, approver = qa_people()
    draft = services.specification_new_version(actor=author, specification=spec)
    services.spec_test_add(
        actor=author, specification=draft, tests=[{"name": "pH", "low": "5.5", "high": "7.0"}]
    )

    services.specification_approve(actor=approver, specification=draft, signer=sign_as(approver))

    spec.refresh_from_db()
    draft.refresh_from_db()
    assert (spec.status, draft.status, draft.version) == ("superseded", "approved", 2)
    assert [t.name for t in draft.tests.all()] == ["Assay", "Water", "Identity", "pH"]
    assert [s.is_valid for s in signatures_for_record(spec)] == [True]


def test_an_approved_specification_cannot_be_edited(spec):
    author, _ = qa_people()
    before = written()

    with pytest.raises(SpecificationNotUsable, match="is approved: only a draft can be edited"):
        services.spec_test_add(actor=author, specification=spec, tests=[{"name": "pH", "low": 5}])

    assert written() == before


def test_an_approved_specification_cannot_be_approved_again(spec):
    _, approver = qa_people()
    before = written()

    with pytest.raises(InvalidTransition, match="is approved: only a draft can be approved"):
        services.specification_approve(actor=approver, specification=spec, signer=sign_as(approver))

    assert written() == before


@pytest.mark.parametrize(
    ("test", "message"),
    [
        ({"name": "Assay"}, "Test Assay: a numeric test needs a low or a high limit."),
        (
            {"name": "Assay", "low": "5", "high": "4"},
            "Test Assay: the low limit 5 is above the high limit 4.",
        ),
        (
            {"name": "Id", "kind": "pass_fail", "low": "1"},
            "Test Id: a pass/fail test has no limits.",
        ),
    ],
)
def test_invalid_tests_are_refused(material, test, message):
    author, _ = qa_people()
    before = written()

    with pytest.raises(InvalidInput) as refused:
        services.specification_create(actor=author, material=material, title="S", tests=[test])

    assert refused.value.detail == message
    assert written() == before
