"""Re-verification of every signature (the audit-trail verifier's e-signature part)."""

import pytest

from mes.esign.models import Meaning
from mes.esign.selectors import format_signed_at, verify_all_signatures
from mes.esign.services import record_sign
from mes.esign.tests.factories import SignatureFactory, SiteFactory

pytestmark = pytest.mark.django_db


def test_verify_all_signatures_is_silent_when_all_are_valid(
    qa_user, site, approval_policy, authenticate_signer
):
    record_sign(record=site, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED)
    assert verify_all_signatures() == []


def test_verify_all_signatures_names_each_broken_one(
    qa_user, site, approval_policy, authenticate_signer
):
    """P11-A-02: the verifier detects an altered signed record and a forged signature row."""
    good = SiteFactory(code="OK1")
    record_sign(record=good, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED)
    broken = record_sign(record=site, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED)
    forged = SignatureFactory(record=good, signer=qa_user, record_hash="f" * 64)
    site.name = "changed after signing"
    site.save()

    problems = verify_all_signatures()

    assert problems == [
        f"signature #{broken.pk} (Quinn QA, approved, {format_signed_at(broken.signed_at)}) "
        f"on equipment.site:{site.pk}: the record changed after signing "
        "(or the signature is not this record's)",
        f"signature #{forged.pk} (Quinn QA, approved, "
        f"{format_signed_at(forged.signed_at)}) on equipment.site:{good.pk}: the record "
        "changed after signing (or the signature is not this record's)",
    ]


def test_the_audit_trail_verifier_runs_the_signature_check(
    qa_user, site, approval_policy, authenticate_signer
):
    """P11-A-02: `verify_audit_trail` re-checks every signature's record hash."""
    from mes.audit.verification import registered_verifiers

    record_sign(record=site, signer=authenticate_signer(qa_user), meaning=Meaning.APPROVED)
    site.name = "changed"
    site.save()

    report = registered_verifiers()["esign.signatures"]()

    assert report.checked == 1
    assert len(report.problems) == 1
    assert "the record changed after signing" in report.problems[0]
