"""Every write of the self-audit: running an assessment (one call) and signing its report.

`assessment_run` evaluates every registered installation fact and capability check
(mes.registry) over the period, each inside a savepoint that is rolled back (a check only
reads; whatever it might write is undone) and timed; then it derives the production model
(step 1), the checklists (steps 2-3) and the gap diagnostic (step 4), and stores it all as
one append-only Assessment with its content hash."""

import hashlib
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from mes import registry
from mes.audit.context import acting_as
from mes.diagnostic.choices import ItemStatus, SymptomState
from mes.diagnostic.derivation import derive, validate_answers
from mes.diagnostic.models import Assessment
from mes.diagnostic.symptoms import STEP4
from mes.esign.hashing import canonical_json
from mes.esign.models import Meaning, Signature
from mes.esign.services import AuthenticatedSigner, record_sign
from mes.exceptions import Conflict, InvalidInput, NotAuthorized

logger = logging.getLogger(__name__)

PERM_RUN = "diagnostic.run_assessment"
PERM_SIGN = "diagnostic.sign_assessment"
MAX_PERIOD_DAYS = 3 * 366
EVALUATED = (ItemStatus.PASS, ItemStatus.WARNING, ItemStatus.FAIL)


def _require(actor: Any, perm: str, action: str) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise NotAuthorized(f"Only an active, logged-in user may {action}.")
    if not actor.has_perm(perm):
        raise NotAuthorized(f"You lack the permission to {action} ({perm}).")


def period_of(period: Any) -> registry.Period:
    """A Period from a Period or a (start, end) pair; aware, start < end, at most three years,
    not starting in the future."""
    start, end = (period.start, period.end) if isinstance(period, registry.Period) else period
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        raise InvalidInput("A period needs a start and an end (date and time).")
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise InvalidInput("The period's start and end must carry a time zone.")
    if start >= end:
        raise InvalidInput("The period must start before it ends.", code="period_order")
    if end - start > timedelta(days=MAX_PERIOD_DAYS):
        raise InvalidInput("The period may not be longer than three years.", code="period_long")
    if start > timezone.now():
        raise InvalidInput("The period may not start in the future.", code="period_future")
    return registry.Period(start=start, end=end)


def last_days(days: int, *, now: datetime | None = None) -> registry.Period:
    end = now or timezone.now()
    return registry.Period(start=end - timedelta(days=days), end=end)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _read_only(fn: Any, *args: Any) -> Any:
    """Call `fn` in a savepoint that is always rolled back (a check must only read)."""
    with transaction.atomic():
        try:
            return fn(*args)
        finally:
            transaction.set_rollback(True)


def evaluate_check(check: registry.CapabilityCheck, period: registry.Period) -> dict[str, Any]:
    """One checklist item as stored: status, summary, evidence, measured, duration."""
    started = time.perf_counter()
    try:
        result = _read_only(check.evaluate, period)
        status = result.status if result.status in ItemStatus.values else ItemStatus.ERROR
        summary = result.summary
        evidence = [
            {"label": e.label, "value": _plain(e.value), "url": e.url or ""}
            for e in result.evidence
        ]
        measured = {k: _plain(v) for k, v in (result.measured or {}).items()}
    except Exception as exc:  # a broken check is reported, it does not stop the assessment
        logger.exception("diagnostic: check %s failed", check.key)
        status, evidence, measured = ItemStatus.ERROR, [], {}
        summary = f"The check could not run: {type(exc).__name__}: {exc}"
    return {
        "key": check.key,
        "title": check.title,
        "model": check.model,
        "symptom": check.symptom,
        "fixed_by": check.fixed_by,
        "tags": list(check.tags),
        "status": status,
        "summary": summary,
        "evidence": evidence,
        "measured": measured,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def evaluate_facts(period: registry.Period) -> list[dict[str, Any]]:
    facts = []
    for fact in registry.installation_facts():
        try:
            count = int(_read_only(fact.count, period))
        except Exception:
            logger.exception("diagnostic: fact %s failed", fact.key)
            count = 0
        facts.append(
            {
                "key": fact.key,
                "title": fact.title,
                "indicates": fact.indicates,
                "count": count,
                "url_name": fact.url_name,
            }
        )
    return facts


def diagnose_symptoms(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Step 4: each symptom is present when a check carrying it warns or fails, not present
    when every such check passes, not evaluated when none judged anything."""
    rows = []
    for key, title in registry.SYMPTOMS.items():
        carrying = [i for i in items if i["symptom"] == key]
        judged = [i for i in carrying if i["status"] in EVALUATED]
        bad = [i for i in judged if i["status"] in (ItemStatus.WARNING, ItemStatus.FAIL)]
        if bad:
            state = SymptomState.PRESENT
        elif judged:
            state = SymptomState.NOT_PRESENT
        else:
            state = SymptomState.NOT_EVALUATED
        if not carrying:
            why = "No check for it is registered in this installation."
        elif not judged:
            why = "Nothing in the period to judge: " + " ".join(i["summary"] for i in carrying)
        else:
            why = " ".join(i["summary"] for i in (bad or judged))
        seed = STEP4.get(key, {})
        fixed_by = next((i["fixed_by"] for i in carrying if i["fixed_by"]), "") or seed.get(
            "fixed_by", ""
        )
        rows.append(
            {
                "key": key,
                "title": title,
                "model": seed.get("model", ""),
                "state": state,
                "why": why,
                "checks": [i["key"] for i in carrying],
                "root_cause": seed.get("root_cause", ""),
                "fixed_by": fixed_by,
                "risk": seed.get("risk", ""),
            }
        )
    return rows


def content_of(assessment: Assessment) -> dict[str, Any]:
    """The canonical content of an assessment (what `content_hash` covers)."""
    return {
        "schema": "mes.diagnostic.assessment.v1",
        "period": [assessment.period_start.isoformat(), assessment.period_end.isoformat()],
        "answers": assessment.answers,
        "facts": assessment.facts,
        "mode": assessment.mode,
        "mode_reasons": assessment.mode_reasons,
        "disagreements": assessment.disagreements,
        "items": assessment.items,
        "symptoms": assessment.symptoms,
        "run_by": assessment.created_by.get_username(),
    }


def content_hash_of(assessment: Assessment) -> str:
    digest = hashlib.sha256(canonical_json(content_of(assessment)).encode("utf-8"))
    return "sha256:" + digest.hexdigest()


def assessment_run(*, actor: Any, period: Any, answers: dict[str, Any] | None = None) -> Assessment:
    """Run the self-audit over `period` (a Period or (start, end)) with the step-1 answers.
    Permission and input are checked first; the checks run read-only; the assessment is
    written in one transaction."""
    _require(actor, PERM_RUN, "run the self-audit")
    span = period_of(period)
    cleaned = validate_answers(answers)
    started = time.perf_counter()
    facts = evaluate_facts(span)
    items = [evaluate_check(check, span) for check in registry.capability_checks()]
    derivation = derive(cleaned, facts)
    symptoms = diagnose_symptoms(items)
    by_status = {s: sum(1 for i in items if i["status"] == s) for s in ItemStatus.values}
    assessment = Assessment(
        period_start=span.start,
        period_end=span.end,
        answers=cleaned,
        facts=facts,
        mode=derivation.mode,
        mode_reasons=derivation.reasons,
        disagreements=derivation.disagreements,
        items=items,
        symptoms=symptoms,
        pass_count=by_status[ItemStatus.PASS],
        warning_count=by_status[ItemStatus.WARNING],
        fail_count=by_status[ItemStatus.FAIL],
        not_applicable_count=by_status[ItemStatus.NOT_APPLICABLE],
        error_count=by_status[ItemStatus.ERROR],
        duration_ms=round((time.perf_counter() - started) * 1000),
        created_by=actor,
    )
    assessment.content_hash = content_hash_of(assessment)
    with transaction.atomic(), acting_as(actor, reason="self-audit assessment run"):
        assessment.save()
    assessment.refresh_from_db(fields=["created_at"])
    return assessment


@transaction.atomic
def assessment_sign(
    *, actor: Any, assessment: Assessment, signer: AuthenticatedSigner, reason: str = ""
) -> Signature:
    """QA or an administrator signs the assessment report ("Assessment signed"). The signer
    authenticated outside this transaction (`signer_authenticate`); refusals write nothing."""
    _require(actor, PERM_SIGN, "sign a self-audit report")
    if getattr(signer, "user", None) is None or signer.user.pk != actor.pk:
        raise NotAuthorized("You can sign only as yourself.", code="signature_wrong_user")
    locked = (
        Assessment.objects.select_for_update().select_related("created_by").get(pk=assessment.pk)
    )
    if content_hash_of(locked) != locked.content_hash:
        raise Conflict(
            f"Assessment #{locked.pk} no longer matches its content hash: it cannot be signed.",
            code="content_changed",
        )
    already = Signature.objects.filter(
        content_type__app_label="diagnostic",
        content_type__model="assessment",
        object_id=str(locked.pk),
        meaning=Meaning.ASSESSED,
        signer=actor,
    ).exists()
    if already:
        raise Conflict(f"You already signed assessment #{locked.pk}.", code="already_signed")
    with acting_as(actor, reason=f"assessment #{locked.pk} signed"):
        return record_sign(
            record=locked, signer=signer, meaning=Meaning.ASSESSED, reason=(reason or "").strip()
        )
