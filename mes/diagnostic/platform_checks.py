"""The platform's own checklist items (registered from DiagnosticConfig.ready()):

- "Audit trail intact": the verifier of mes.audit recomputes the hash chain from seq 1 and
  checks the signed checkpoints, bounded by a time budget on a big trail (the result says how
  far it got; `manage.py verify_audit_trail` walks it all).
- "E-signatures intact": every e-signature made in the period still matches the content hash
  of the record it signs (a record changed after signing shows here).
"""

from django.conf import settings
from django.db import connection
from django.urls import reverse

from mes.audit.verification import verify_trail
from mes.esign.models import Signature
from mes.esign.selectors import signatures_with_validity
from mes.registry import CapabilityCheck, CheckResult, Evidence, Period, register_check

SIGNATURE_CHUNK = 1000


def audit_budget_seconds() -> float:
    return float(getattr(settings, "MES_DIAGNOSTIC_AUDIT_BUDGET_SECONDS", 20))


def audit_trail_intact(period: Period) -> CheckResult:
    result = verify_trail(run_verifiers=False, time_budget_seconds=audit_budget_seconds())
    evidence = [
        Evidence("Verifier", result.summary(), reverse("audit:event_list")),
        Evidence("Events checked", result.events_checked),
        Evidence("Chain head (seq)", result.head_seq),
        Evidence("Signed checkpoints verified", result.checkpoints_verified),
        Evidence("Events awaiting their seal", result.pending_seal),
        Evidence("Time budget", f"{audit_budget_seconds():g} s"),
        Evidence(
            "Database",
            "PostgreSQL (triggers, guards, roles)"
            if connection.vendor == "postgresql"
            else f"{connection.vendor} (demo only, not GMP grade)",
        ),
    ]
    measured = {
        "events_checked": result.events_checked,
        "checkpoints_verified": result.checkpoints_verified,
        "complete": result.complete,
        "problems": len(result.problems),
    }
    if not result.ok:
        return CheckResult(
            CheckResult.FAIL,
            f"The audit trail is broken: {result.first_problem}.",
            evidence,
            measured,
        )
    if not result.complete:
        return CheckResult(
            CheckResult.WARNING,
            f"The first {result.events_checked} events verified within "
            f"{audit_budget_seconds():g} s; the rest was not reached (run "
            "`manage.py verify_audit_trail` for the whole trail).",
            evidence,
            measured,
        )
    return CheckResult(
        CheckResult.PASS,
        f"Hash chain intact from seq 1 to {result.head_seq} ({result.events_checked} events, "
        f"{result.checkpoints_verified} signed checkpoints verified).",
        evidence,
        measured,
    )


def signatures_intact(period: Period) -> CheckResult:
    signed = Signature.objects.filter(signed_at__gte=period.start, signed_at__lt=period.end)
    total = signed.count()
    if not total:
        return CheckResult(CheckResult.NOT_APPLICABLE, "No e-signature was made in the period.")
    invalid: list[Signature] = []
    chunk: list[Signature] = []
    for signature in (
        signed.select_related("content_type").order_by("id").iterator(chunk_size=SIGNATURE_CHUNK)
    ):
        chunk.append(signature)
        if len(chunk) >= SIGNATURE_CHUNK:
            invalid += [s for s in signatures_with_validity(chunk) if not s.is_valid]
            chunk = []
    if chunk:
        invalid += [s for s in signatures_with_validity(chunk) if not s.is_valid]
    evidence = [
        Evidence("E-signatures made in the period", total, reverse("esign:signature_list")),
        Evidence("No longer matching their record", len(invalid)),
    ]
    for s in invalid[:5]:
        evidence.append(
            Evidence(
                "Invalid signature",
                f"{s.printed_name}, {s.get_meaning_display()} on "
                f"{s.content_type.app_label}.{s.content_type.model} #{s.object_id}: "
                f"{s.invalid_reason}",
            )
        )
    measured = {"signatures": total, "invalid": len(invalid)}
    if invalid:
        return CheckResult(
            CheckResult.FAIL,
            f"{len(invalid)} of {total} e-signatures of the period no longer match the record "
            "they sign (the record changed after signing).",
            evidence,
            measured,
        )
    return CheckResult(
        CheckResult.PASS,
        f"All {total} e-signatures of the period match the content of the records they sign.",
        evidence,
        measured,
    )


def register() -> None:
    register_check(
        CapabilityCheck(
            key="mes.audit_trail_intact",
            title="Audit trail intact",
            model="shared",
            evaluate=audit_trail_intact,
            order=200,
            tags=("part11",),
        )
    )
    register_check(
        CapabilityCheck(
            key="mes.signatures_intact",
            title="Electronic signatures intact",
            model="shared",
            evaluate=signatures_intact,
            order=205,
            tags=("part11",),
        )
    )
