"""Every change of quality records. Views, the API, tasks and other apps call these.

Each service: keyword arguments, the acting user first checked (permission), then the state,
then the writes in ONE transaction with an audit context naming the actor, one
`QualityEvent` per transition, and news sent on commit (quality.signals). Refusals raise a
`DomainError` and write nothing.

Signed decisions (lot disposition, override, deviation closure, specification approval,
nonconformance disposition) take a `signer` made by `mes.esign.services.signer_authenticate`,
called by the view OUTSIDE the transaction; the service calls `record_sign` in its own
transaction, so a refused signature leaves nothing behind.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from genealogy import services as genealogy_services
from genealogy.choices import LOT_STATUS_TRANSITIONS
from genealogy.models import Lot, Material
from mes.accounts.models import User
from mes.audit.context import acting_as, current_context
from mes.esign.models import Meaning
from mes.esign.services import AuthenticatedSigner, record_sign
from mes.exceptions import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotAuthorized,
    SignatureRefused,
)
from quality import permissions as perms
from quality import selectors, signals, spc
from quality.choices import (
    CAPA_TRANSITIONS,
    DEVIATION_TRANSITIONS,
    OPEN_DEVIATION_STATUSES,
    STRICT_CLASSIFICATIONS,
    CapaKind,
    CapaStatus,
    Classification,
    Decision,
    DeviationStatus,
    EventType,
    NcrDisposition,
    NcrStatus,
    ResultOutcome,
    ResultSource,
    SamplingBasis,
    SourceKind,
    SpecificationStatus,
    TestKind,
)
from quality.exceptions import (
    CharacteristicNotFound,
    DeviationNotClosable,
    InvalidResultValue,
    LotNotReleasable,
    OverrideRefused,
    ResultAlreadyRecorded,
    SpecificationNotUsable,
)
from quality.models import (
    CapaAction,
    Characteristic,
    Deviation,
    DeviationLot,
    LabResult,
    LotDisposition,
    Nonconformance,
    QualityEvent,
    ReleaseOverride,
    SpcValue,
    Specification,
    SpecTest,
)

FUTURE_TOLERANCE = timedelta(minutes=5)
DEFAULT_DEVIATION_DUE_DAYS = 30
SPC_VIOLATION_WINDOW = 100

# --- helpers ---------------------------------------------------------------------------------


def _require(actor: Any, perm: str, action: str, *, allow_system: bool = False) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise NotAuthorized(f"Only an active, logged-in user may {action}.")
    if allow_system and getattr(actor, "is_system", False):
        return
    if not actor.has_perm(perm):
        raise NotAuthorized(f"You lack the permission to {action} ({perm}).")


def _check_signer(actor: Any, signer: Any) -> None:
    if not isinstance(signer, AuthenticatedSigner):
        raise SignatureRefused(
            "This decision needs your electronic signature: enter your user ID and password.",
            code="signature_not_authenticated",
        )
    if getattr(signer.user, "pk", None) != actor.pk:
        raise SignatureRefused(
            "The signature must be the acting user's own.", code="signature_wrong_user"
        )


def _text(value: Any, *, what: str, max_length: int | None = None, required: bool = True) -> str:
    value = str(value or "").strip()
    if required and not value:
        raise InvalidInput(f"The {what} is required.")
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(f"The {what} is longer than {max_length} characters.")
    return value


def _decimal(value: Any, *, what: str, error: type[InvalidInput] = InvalidInput) -> Decimal:
    if isinstance(value, bool):
        raise error(f"The {what} must be a number, not {value!r}.")
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise error(f"The {what} must be a number, not {value!r}.") from exc
    if not number.is_finite():
        raise error(f"The {what} must be a finite number.")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        raise error(f"The {what} has more than 6 decimal places ({value}).")
    if abs(number) >= Decimal("1e12"):
        raise error(f"The {what} is too large ({value}).")
    return number


def _optional_decimal(value: Any, *, what: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _decimal(value, what=what)


def _moment(value: datetime | None, *, what: str) -> datetime | None:
    if value is None:
        return None
    if timezone.is_naive(value):
        raise InvalidInput(f"The {what} must carry a time zone.")
    if value > timezone.now() + FUTURE_TOLERANCE:
        raise InvalidInput(f"The {what} cannot be in the future.")
    return value


def _request_id() -> str:
    ctx = current_context()
    return ctx.request_id if ctx is not None else ""


def _event(
    type: str,
    *,
    actor: Any,
    lot: Lot | None = None,
    deviation: Deviation | None = None,
    specification: Specification | None = None,
    nonconformance: Nonconformance | None = None,
    data: Mapping[str, Any] | None = None,
) -> QualityEvent:
    return QualityEvent.objects.create(
        type=type,
        actor=actor,
        lot=lot,
        deviation=deviation,
        specification=specification,
        nonconformance=nonconformance,
        data=dict(data or {}),
        request_id=_request_id(),
    )


def _save(obj: Any, actor: Any, reason: str, fields: list[str] | None = None) -> None:
    obj._history_user = actor
    obj._change_reason = reason
    if fields is None:
        obj.save()
    else:
        obj.save(update_fields=fields)


def _on_commit(signal: Any, sender: Any, **kwargs: Any) -> None:
    transaction.on_commit(lambda: signal.send(sender=sender, **kwargs))


def _lock_lot(lot: Lot) -> Lot:
    return Lot.objects.select_for_update(of=("self",)).select_related("material").get(pk=lot.pk)


def _source(value: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """(kind, ref, url) of a record of another app; manual when no source is given."""
    if not value:
        return SourceKind.MANUAL, "", ""
    kind = str(value.get("kind") or "").strip()
    ref = str(value.get("ref") or "").strip()
    url = str(value.get("url") or "").strip()
    if kind not in SourceKind.values:
        raise InvalidInput(
            f"The source kind {kind!r} is not one of {', '.join(SourceKind.values)}."
        )
    if kind != SourceKind.MANUAL and not ref:
        raise InvalidInput("The source needs a reference (ref).")
    if len(ref) > 200 or len(url) > 500:
        raise InvalidInput("The source reference or URL is too long.")
    if url and not (
        (url.startswith("/") and not url.startswith("//"))
        or url.startswith(("https://", "http://"))
    ):
        raise InvalidInput("The source URL must be a path or an http(s) address.")
    return kind, ref, url


# --- specifications --------------------------------------------------------------------------


def _spec_test(specification: Specification, position: int, data: Mapping[str, Any]) -> SpecTest:
    name = _text(data.get("name"), what="test name", max_length=100)
    kind = str(data.get("kind") or TestKind.NUMERIC)
    if kind not in TestKind.values:
        raise InvalidInput(f"Test {name}: unknown kind {kind!r}.")
    low = _optional_decimal(data.get("low"), what=f"low limit of {name}")
    high = _optional_decimal(data.get("high"), what=f"high limit of {name}")
    if kind == TestKind.NUMERIC and low is None and high is None:
        raise InvalidInput(f"Test {name}: a numeric test needs a low or a high limit.")
    if kind == TestKind.PASS_FAIL and (low is not None or high is not None):
        raise InvalidInput(f"Test {name}: a pass/fail test has no limits.")
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"Test {name}: the low limit {low} is above the high limit {high}.")
    return SpecTest(
        specification=specification,
        position=position,
        name=name,
        unit=_text(data.get("unit"), what="unit", max_length=20, required=False),
        method=_text(data.get("method"), what="method", max_length=100, required=False),
        kind=kind,
        low=low,
        high=high,
    )


def _add_tests(
    specification: Specification, tests: Sequence[Mapping[str, Any]], actor: Any, reason: str
) -> None:
    start = specification.tests.aggregate(m=Max("position"))["m"] or 0
    names = set(specification.tests.values_list("name", flat=True))
    for offset, data in enumerate(tests, start=1):
        test = _spec_test(specification, start + offset, data)
        if test.name in names:
            raise InvalidInput(f"The specification already has a test named {test.name!r}.")
        names.add(test.name)
        _save(test, actor, reason)


@transaction.atomic
def specification_create(
    *,
    actor: User,
    material: Material,
    title: str,
    tests: Sequence[Mapping[str, Any]],
    sample_count: int = 1,
    sampling_basis: str = SamplingBasis.PER_LOT,
    notes: str = "",
) -> Specification:
    """Draft the next version of `material`'s specification, with its tests (each a mapping
    name, unit, method, kind numeric|pass_fail, low, high)."""
    _require(actor, perms.ADD_SPECIFICATION, "draft specifications", allow_system=True)
    title = _text(title, what="title", max_length=200)
    if sampling_basis not in SamplingBasis.values:
        raise InvalidInput(f"Unknown sampling basis {sampling_basis!r}.")
    if not isinstance(sample_count, int) or not 1 <= sample_count <= 100:
        raise InvalidInput("The number of samples must be between 1 and 100.")
    if not tests:
        raise InvalidInput("A specification needs at least one test.")
    Material.objects.select_for_update().filter(pk=material.pk).first()
    if Specification.objects.filter(material=material, status=SpecificationStatus.DRAFT).exists():
        raise Conflict(
            f"{material.code} already has a draft specification: finish or discard it first.",
            code="specification_draft_exists",
        )
    version = (
        Specification.objects.filter(material=material).aggregate(m=Max("version"))["m"] or 0
    ) + 1
    reason = f"specification {material.code} v{version} drafted"
    with acting_as(actor, reason=reason):
        specification = Specification(
            material=material,
            version=version,
            title=title,
            sample_count=sample_count,
            sampling_basis=sampling_basis,
            notes=_text(notes, what="notes", required=False),
            created_by=actor,
        )
        _save(specification, actor, reason)
        _add_tests(specification, tests, actor, reason)
        _event(
            EventType.SPEC_CREATED,
            actor=actor,
            specification=specification,
            data={"material": material.code, "version": version, "tests": len(tests)},
        )
    return specification


@transaction.atomic
def specification_new_version(*, actor: User, specification: Specification) -> Specification:
    """A new draft that copies `specification`'s plan and tests (to be edited, then
    approved)."""
    tests = [t.signature_content() for t in specification.tests.order_by("position", "id")]
    return specification_create(
        actor=actor,
        material=specification.material,
        title=specification.title,
        tests=tests,
        sample_count=specification.sample_count,
        sampling_basis=specification.sampling_basis,
        notes=specification.notes,
    )


@transaction.atomic
def spec_test_add(
    *, actor: User, specification: Specification, tests: Sequence[Mapping[str, Any]]
) -> Specification:
    _require(actor, perms.ADD_SPECIFICATION, "edit specifications")
    locked = Specification.objects.select_for_update().get(pk=specification.pk)
    if locked.status != SpecificationStatus.DRAFT:
        raise SpecificationNotUsable(
            f"{locked} is {locked.get_status_display().lower()}: only a draft can be edited."
        )
    reason = f"tests added to {locked}"
    with acting_as(actor, reason=reason):
        _add_tests(locked, tests, actor, reason)
    return locked


@transaction.atomic
def specification_approve(
    *, actor: User, specification: Specification, signer: AuthenticatedSigner, reason: str = ""
) -> Specification:
    """Approve a draft (signed 'approved' by QA, not by its author). The approved version it
    replaces becomes superseded."""
    _require(actor, perms.APPROVE_SPECIFICATION, "approve specifications")
    _check_signer(actor, signer)
    locked = Specification.objects.select_for_update().get(pk=specification.pk)
    if locked.status != SpecificationStatus.DRAFT:
        raise InvalidTransition(
            f"{locked} is {locked.get_status_display().lower()}: only a draft can be approved."
        )
    if not locked.tests.exists():
        raise SpecificationNotUsable(f"{locked} has no tests.")
    why = f"specification {locked} approved"
    with acting_as(actor, reason=why):
        for previous in Specification.objects.select_for_update().filter(
            material_id=locked.material_id, status=SpecificationStatus.APPROVED
        ):
            previous.status = SpecificationStatus.SUPERSEDED
            _save(previous, actor, f"superseded by v{locked.version}", ["status", "updated_at"])
            _event(
                EventType.SPEC_SUPERSEDED,
                actor=actor,
                specification=previous,
                data={"by_version": locked.version},
            )
        locked.status = SpecificationStatus.APPROVED
        locked.approved_by = actor
        locked.approved_at = timezone.now()
        _save(locked, actor, why, ["status", "approved_by", "approved_at", "updated_at"])
        signature = record_sign(
            record=locked, signer=signer, meaning=Meaning.APPROVED, reason=reason
        )
        _event(
            EventType.SPEC_APPROVED,
            actor=actor,
            specification=locked,
            data={"version": locked.version, "signature_id": signature.pk},
        )
    return locked


# --- lab results -----------------------------------------------------------------------------


def _evaluate(test: SpecTest, value: Any) -> tuple[Decimal | None, str, str]:
    """(numeric value, value as text, outcome) of `value` against `test`."""
    if test.kind == TestKind.PASS_FAIL:
        if isinstance(value, bool):
            text = "pass" if value else "fail"
        else:
            text = str(value or "").strip().lower()
        if text not in ("pass", "fail"):
            raise InvalidResultValue(
                f"{test.name} is a pass/fail test: enter 'pass' or 'fail', not {value!r}."
            )
        return None, text, ResultOutcome.PASS if text == "pass" else ResultOutcome.FAIL
    number = _decimal(value, what=f"result of {test.name}", error=InvalidResultValue)
    inside = (test.low is None or number >= test.low) and (test.high is None or number <= test.high)
    return number, f"{number.normalize():f}", ResultOutcome.PASS if inside else ResultOutcome.FAIL


def _current_result(lot: Lot, test: SpecTest, sample_no: int) -> LabResult | None:
    return (
        LabResult.objects.filter(
            lot=lot, spec_test=test, sample_no=sample_no, superseded_by__isnull=True
        )
        .order_by("-id")
        .first()
    )


def _new_result(
    *,
    actor: Any,
    lot: Lot,
    test: SpecTest,
    sample_no: int,
    value: Any,
    source: str,
    external_ref: str,
    note: str,
    tested_at: datetime | None,
    supersedes: LabResult | None = None,
    correction_reason: str = "",
) -> LabResult:
    number, text, outcome = _evaluate(test, value)
    result = LabResult(
        lot=lot,
        spec_test=test,
        sample_no=sample_no,
        value=number,
        value_text=text,
        outcome=outcome,
        low=test.low,
        high=test.high,
        unit=test.unit,
        source=source,
        external_ref=external_ref,
        note=note,
        tested_at=tested_at,
        entered_by=actor,
        supersedes=supersedes,
        correction_reason=correction_reason,
        request_id=_request_id(),
    )
    try:
        with transaction.atomic():
            result.save()
    except IntegrityError as exc:
        raise Conflict(
            "This result was recorded a moment ago by another request; reload the lot.",
            code="result_conflict",
        ) from exc
    return result


@transaction.atomic
def lab_result_enter(
    *,
    actor: User,
    lot: Lot,
    spec_test: SpecTest,
    value: Any,
    sample_no: int = 1,
    source: str = ResultSource.MANUAL,
    external_ref: str = "",
    note: str = "",
    tested_at: datetime | None = None,
) -> LabResult:
    """Record the result of `spec_test` on sample `sample_no` of `lot`, evaluated at once
    against the test's limits (pass/fail stored). A LIMS sends its `external_ref`: sending the
    same result again returns the recorded one (a retry), a different one is refused."""
    _require(actor, perms.ENTER_LAB_RESULT, "enter lab results")
    if source not in ResultSource.values:
        raise InvalidInput(f"Unknown result source {source!r}.")
    external_ref = _text(external_ref, what="external reference", max_length=100, required=False)
    note = _text(note, what="note", max_length=2000, required=False)
    tested_at = _moment(tested_at, what="test time")
    # read afresh: the caller's copy may predate an approval or a supersession
    specification = Specification.objects.get(pk=spec_test.specification_id)
    if specification.status != SpecificationStatus.APPROVED:
        raise SpecificationNotUsable(
            f"{specification} is {specification.get_status_display().lower()}: results are "
            "entered only against the approved specification."
        )
    if specification.material_id != lot.material_id:
        raise InvalidInput(
            f"Lot {lot.lot_number} is {lot.material.code}; test {spec_test.name} belongs to "
            f"the specification of another material."
        )
    if not isinstance(sample_no, int) or not 1 <= sample_no <= specification.sample_count:
        raise InvalidInput(
            f"Sample {sample_no} is outside the sampling plan (1..{specification.sample_count})."
        )
    locked = _lock_lot(lot)
    if external_ref:
        earlier = LabResult.objects.filter(external_ref=external_ref).first()
        if earlier is not None:
            _, text, _ = _evaluate(spec_test, value)
            if (earlier.lot_id, earlier.spec_test_id, earlier.sample_no, earlier.value_text) == (
                locked.pk,
                spec_test.pk,
                sample_no,
                text,
            ):
                return earlier
            raise Conflict(
                f"Result {external_ref} was already recorded with other data (result "
                f"#{earlier.pk}); send a correction instead.",
                code="duplicate_external_ref",
            )
    current = _current_result(locked, spec_test, sample_no)
    if current is not None:
        raise ResultAlreadyRecorded(
            f"{spec_test.name} sample {sample_no} of lot {locked.lot_number} already has result "
            f"#{current.pk} = {current.value_text}: enter a correction with a reason instead."
        )
    with acting_as(actor, reason=f"lab result {spec_test.name} for lot {locked.lot_number}"):
        result = _new_result(
            actor=actor,
            lot=locked,
            test=spec_test,
            sample_no=sample_no,
            value=value,
            source=source,
            external_ref=external_ref,
            note=note,
            tested_at=tested_at,
        )
        _event(
            EventType.RESULT_ENTERED,
            actor=actor,
            lot=locked,
            data={
                "result_id": result.pk,
                "test": spec_test.name,
                "sample_no": sample_no,
                "value": result.value_text,
                "outcome": result.outcome,
            },
        )
    _on_commit(
        signals.lab_result_recorded,
        LabResult,
        result_id=result.pk,
        lot_id=locked.pk,
        outcome=result.outcome,
        supersedes_id=None,
    )
    return result


@transaction.atomic
def lab_results_enter(
    *, actor: User, lot: Lot, entries: Sequence[tuple[SpecTest, int, Any]], note: str = ""
) -> list[LabResult]:
    """Several results of one lot at once (the lot page's form): all are recorded, or none."""
    if not entries:
        raise InvalidInput("Enter at least one result.")
    return [
        lab_result_enter(
            actor=actor, lot=lot, spec_test=test, sample_no=sample_no, value=value, note=note
        )
        for test, sample_no, value in entries
    ]


@transaction.atomic
def lab_result_correct(
    *, actor: User, result: LabResult, value: Any, reason: str, note: str = ""
) -> LabResult:
    """Correct a result: a new result that supersedes it, with the reason (the old one stays,
    readable, in the record)."""
    _require(actor, perms.CORRECT_LAB_RESULT, "correct lab results")
    reason = _text(reason, what="reason for the correction", max_length=2000)
    note = _text(note, what="note", max_length=2000, required=False)
    locked = _lock_lot(result.lot)
    newer = LabResult.objects.filter(supersedes=result).first()
    if newer is not None:
        raise Conflict(
            f"Result #{result.pk} was already corrected by result #{newer.pk}: correct that one.",
            code="result_superseded",
        )
    test = result.spec_test
    with acting_as(actor, reason=f"correction of lab result #{result.pk}: {reason}"):
        corrected = _new_result(
            actor=actor,
            lot=locked,
            test=test,
            sample_no=result.sample_no,
            value=value,
            source=result.source,
            external_ref="",
            note=note,
            tested_at=result.tested_at,
            supersedes=result,
            correction_reason=reason,
        )
        _event(
            EventType.RESULT_CORRECTED,
            actor=actor,
            lot=locked,
            data={
                "result_id": corrected.pk,
                "supersedes": result.pk,
                "test": test.name,
                "sample_no": result.sample_no,
                "old_value": result.value_text,
                "value": corrected.value_text,
                "outcome": corrected.outcome,
                "reason": reason,
            },
        )
    _on_commit(
        signals.lab_result_recorded,
        LabResult,
        result_id=corrected.pk,
        lot_id=locked.pk,
        outcome=corrected.outcome,
        supersedes_id=result.pk,
    )
    return corrected


# --- release overrides -----------------------------------------------------------------------


@transaction.atomic
def override_request(
    *, actor: User, lot: Lot, deviation: Deviation, justification: str
) -> ReleaseOverride:
    """Ask to release `lot` despite its failing results. The override names the deviation
    that investigates them (the lot is linked to it) and covers the failing results of this
    moment; another QA reviewer must sign it."""
    _require(actor, perms.REQUEST_OVERRIDE, "request a release override")
    justification = _text(justification, what="justification", max_length=4000)
    locked = _lock_lot(lot)
    state = selectors.lot_quality(locked)
    pending = state.pending_override
    if pending is not None:
        raise OverrideRefused(
            f"Override #{pending.pk} of lot {locked.lot_number} awaits its signature.",
            code="override_pending",
        )
    uncovered = state.uncovered_failing
    if not uncovered:
        raise OverrideRefused(
            f"Lot {locked.lot_number} has no failing result without a signed override: there "
            "is nothing to override.",
            code="override_not_needed",
        )
    linked = DeviationLot.objects.filter(deviation=deviation, lot=locked).exists()
    if not linked and deviation.status not in OPEN_DEVIATION_STATUSES:
        raise OverrideRefused(
            f"{deviation.number} is closed and does not concern lot {locked.lot_number}: "
            "link an open deviation.",
            code="override_deviation_closed",
        )
    reason = f"release override requested for lot {locked.lot_number}"
    with acting_as(actor, reason=reason):
        if not linked:
            _link_lot(deviation, locked, actor)
        override = ReleaseOverride(
            lot=locked,
            deviation=deviation,
            justification=justification,
            result_ids=sorted(r.pk for r in uncovered),
            requested_by=actor,
        )
        _save(override, actor, reason)
        _event(
            EventType.OVERRIDE_REQUESTED,
            actor=actor,
            lot=locked,
            deviation=deviation,
            data={"override_id": override.pk, "result_ids": override.result_ids},
        )
    return override


@transaction.atomic
def override_sign(
    *, actor: User, override: ReleaseOverride, signer: AuthenticatedSigner, reason: str = ""
) -> ReleaseOverride:
    """Sign an override ('override'; a QA reviewer other than the requester)."""
    _require(actor, perms.DISPOSE_LOT, "sign a release override")
    _check_signer(actor, signer)
    _lock_lot(override.lot)
    locked = ReleaseOverride.objects.select_for_update().get(pk=override.pk)
    if locked.is_signed:
        raise OverrideRefused(f"Override #{locked.pk} is already signed.", code="override_signed")
    why = f"release override #{locked.pk} signed"
    with acting_as(actor, reason=why):
        locked.signed_by = actor
        locked.signed_at = timezone.now()
        _save(locked, actor, why, ["signed_by", "signed_at"])
        signature = record_sign(
            record=locked, signer=signer, meaning=Meaning.OVERRIDE, reason=reason
        )
        _event(
            EventType.OVERRIDE_SIGNED,
            actor=actor,
            lot=locked.lot,
            deviation=locked.deviation,
            data={"override_id": locked.pk, "signature_id": signature.pk},
        )
    return locked


# --- lot disposition -------------------------------------------------------------------------

_MEANINGS = {
    Decision.RELEASED: Meaning.RELEASED,
    Decision.REJECTED: Meaning.REJECTED,
    Decision.ON_HOLD: Meaning.ON_HOLD,
    Decision.QUARANTINE: Meaning.ASSESSED,
}


def _dispose(
    *,
    actor: User,
    lot: Lot,
    signer: AuthenticatedSigner,
    decision: str,
    reason: str,
    reason_required: bool,
) -> LotDisposition:
    _require(actor, perms.DISPOSE_LOT, "dispose lots")
    _check_signer(actor, signer)
    reason = _text(
        reason,
        what=f"reason for the decision '{Decision(decision).label}'",
        required=reason_required,
    )
    locked = _lock_lot(lot)
    old = locked.status
    if decision not in LOT_STATUS_TRANSITIONS[old]:
        raise InvalidTransition(
            f"Lot {locked.lot_number} is {locked.get_status_display().lower()}: it cannot be "
            f"{Decision(decision).label.lower()}."
        )
    state = selectors.lot_quality(locked)
    override = None
    if decision == Decision.RELEASED:
        if state.blockers:
            raise LotNotReleasable(state.release_refusal, code=state.blockers[0][0])
        override = state.signed_override if state.failing else None
    summary = {
        "specification": str(state.specification) if state.specification else None,
        "results": len([r for r in state.results if r.is_current]),  # type: ignore[attr-defined]
        "failing_result_ids": sorted(r.pk for r in state.failing),
        "missing": len(state.missing),
        "open_deviations": [d.number for d in state.open_deviations],
    }
    why = f"lot {locked.lot_number} {Decision(decision).label.lower()}" + (
        f": {reason}" if reason else ""
    )
    with acting_as(actor, reason=why):
        disposition = LotDisposition.objects.create(
            lot=locked,
            decision=decision,
            from_status=old,
            reason=reason,
            specification=state.specification,
            override=override,
            summary=summary,
            decided_by=actor,
            request_id=_request_id(),
        )
        signature = record_sign(
            record=disposition, signer=signer, meaning=_MEANINGS[decision], reason=reason
        )
        genealogy_services.lot_set_status(actor=actor, lot=locked, status=decision, reason=why)
        _event(
            EventType.LOT_DISPOSED,
            actor=actor,
            lot=locked,
            data={
                "disposition_id": disposition.pk,
                "decision": decision,
                "from": old,
                "signature_id": signature.pk,
            },
        )
    lot.status = decision
    _on_commit(
        signals.lot_disposed,
        LotDisposition,
        lot_id=locked.pk,
        disposition_id=disposition.pk,
        decision=decision,
        old_status=old,
    )
    if decision == Decision.RELEASED:
        _on_commit(
            signals.lot_released,
            LotDisposition,
            lot_id=locked.pk,
            disposition_id=disposition.pk,
            lot_number=locked.lot_number,
            material_code=locked.material.code,
        )
    return disposition


@transaction.atomic
def lot_release(
    *, actor: User, lot: Lot, signer: AuthenticatedSigner, reason: str = ""
) -> LotDisposition:
    """Release a lot (signed 'released'): it needs an approved specification with every
    required result, no failing result without a signed override, no open deviation outside
    the override, and the lot not expired."""
    return _dispose(
        actor=actor,
        lot=lot,
        signer=signer,
        decision=Decision.RELEASED,
        reason=reason,
        reason_required=False,
    )


@transaction.atomic
def lot_reject(
    *, actor: User, lot: Lot, signer: AuthenticatedSigner, reason: str
) -> LotDisposition:
    return _dispose(
        actor=actor,
        lot=lot,
        signer=signer,
        decision=Decision.REJECTED,
        reason=reason,
        reason_required=True,
    )


@transaction.atomic
def lot_hold(*, actor: User, lot: Lot, signer: AuthenticatedSigner, reason: str) -> LotDisposition:
    return _dispose(
        actor=actor,
        lot=lot,
        signer=signer,
        decision=Decision.ON_HOLD,
        reason=reason,
        reason_required=True,
    )


@transaction.atomic
def lot_return_to_quarantine(
    *, actor: User, lot: Lot, signer: AuthenticatedSigner, reason: str
) -> LotDisposition:
    """Back to quarantine (e.g. for a retest); signed 'assessed'."""
    return _dispose(
        actor=actor,
        lot=lot,
        signer=signer,
        decision=Decision.QUARANTINE,
        reason=reason,
        reason_required=True,
    )


DISPOSITION_SERVICES: dict[str, Callable[..., LotDisposition]] = {
    Decision.RELEASED: lot_release,
    Decision.REJECTED: lot_reject,
    Decision.ON_HOLD: lot_hold,
    Decision.QUARANTINE: lot_return_to_quarantine,
}


# --- deviations ------------------------------------------------------------------------------


def _link_lot(deviation: Deviation, lot: Lot, actor: Any) -> DeviationLot:
    link = DeviationLot.objects.create(deviation=deviation, lot=lot, linked_by=actor)
    _event(
        EventType.DEVIATION_LOT_LINKED,
        actor=actor,
        lot=lot,
        deviation=deviation,
        data={"lot": lot.lot_number},
    )
    return link


def _lock_deviation(deviation: Deviation) -> Deviation:
    return Deviation.objects.select_for_update().get(pk=deviation.pk)


def _ensure_deviation_can_become(deviation: Deviation, status: str) -> None:
    if status not in DEVIATION_TRANSITIONS[deviation.status]:
        raise InvalidTransition(
            f"{deviation.number} is {deviation.get_status_display().lower()}: it cannot become "
            f"{DeviationStatus(status).label.lower()}."
        )


def _ensure_open(deviation: Deviation) -> None:
    if deviation.status == DeviationStatus.CLOSED:
        raise InvalidTransition(f"{deviation.number} is closed.")


@transaction.atomic
def deviation_open(
    *,
    actor: User,
    title: str,
    description: str,
    source: Mapping[str, Any] | None = None,
    lots: Iterable[Lot] = (),
    due_at: date | None = None,
) -> Deviation:
    """Open a deviation. Other apps pass `source={"kind": "batch", "ref": "B-1001", "url":
    "/batches/17/"}` (records of higher layers are referenced, never imported) and the lots
    concerned. System principals (tasks, integrations) may open one too."""
    _require(actor, perms.ADD_DEVIATION, "open a deviation", allow_system=True)
    title = _text(title, what="title", max_length=200)
    description = _text(description, what="description", max_length=10000)
    kind, ref, url = _source(source)
    on = timezone.localdate()
    due_at = due_at or on + timedelta(days=DEFAULT_DEVIATION_DUE_DAYS)
    if due_at < on:
        raise InvalidInput("The investigation due date cannot be in the past.")
    lots = list({lot.pk: lot for lot in lots}.values())
    reason = f"deviation opened: {title}"
    with acting_as(actor, reason=reason):
        deviation = Deviation(
            title=title,
            description=description,
            source_kind=kind,
            source_ref=ref,
            source_url=url,
            opened_by=actor,
            due_at=due_at,
        )
        _save(deviation, actor, reason)
        _event(
            EventType.DEVIATION_OPENED,
            actor=actor,
            deviation=deviation,
            data={"title": title, "source_kind": kind, "source_ref": ref},
        )
        for lot in lots:
            _link_lot(deviation, lot, actor)
    _on_commit(
        signals.deviation_opened,
        Deviation,
        deviation_id=deviation.pk,
        source_kind=kind,
        source_ref=ref,
    )
    return deviation


@transaction.atomic
def deviation_link_lot(*, actor: User, deviation: Deviation, lot: Lot) -> Deviation:
    _require(actor, perms.ADD_DEVIATION, "link a lot to a deviation", allow_system=True)
    locked = _lock_deviation(deviation)
    _ensure_open(locked)
    if DeviationLot.objects.filter(deviation=locked, lot=lot).exists():
        raise Conflict(f"Lot {lot.lot_number} is already linked to {locked.number}.")
    with acting_as(actor, reason=f"lot {lot.lot_number} linked to {locked.number}"):
        _link_lot(locked, lot, actor)
    return locked


@transaction.atomic
def deviation_classify(
    *, actor: User, deviation: Deviation, classification: str, reason: str = ""
) -> Deviation:
    _require(actor, perms.MANAGE_DEVIATION, "classify deviations")
    if classification not in Classification.values:
        raise InvalidInput(f"Unknown classification {classification!r}.")
    locked = _lock_deviation(deviation)
    _ensure_open(locked)
    old = locked.classification
    why = f"{locked.number} classified {classification}" + (f": {reason}" if reason else "")
    with acting_as(actor, reason=why):
        locked.classification = classification
        locked.classified_by = actor
        locked.classified_at = timezone.now()
        _save(
            locked, actor, why, ["classification", "classified_by", "classified_at", "updated_at"]
        )
        _event(
            EventType.DEVIATION_CLASSIFIED,
            actor=actor,
            deviation=locked,
            data={"from": old, "to": classification, "reason": reason},
        )
    return locked


@transaction.atomic
def deviation_investigate(
    *, actor: User, deviation: Deviation, investigation: str, root_cause: str = ""
) -> Deviation:
    """Record (or update) the investigation and the root cause; the deviation is then under
    investigation."""
    _require(actor, perms.MANAGE_DEVIATION, "investigate deviations")
    investigation = _text(investigation, what="investigation", max_length=20000)
    root_cause = _text(root_cause, what="root cause", max_length=10000, required=False)
    locked = _lock_deviation(deviation)
    _ensure_open(locked)
    why = f"{locked.number} investigation recorded"
    with acting_as(actor, reason=why):
        fields = ["investigation", "root_cause", "updated_at"]
        if locked.status == DeviationStatus.OPEN:
            _ensure_deviation_can_become(locked, DeviationStatus.INVESTIGATION)
            locked.status = DeviationStatus.INVESTIGATION
            fields.append("status")
        locked.investigation = investigation
        locked.root_cause = root_cause
        _save(locked, actor, why, fields)
        _event(
            EventType.DEVIATION_INVESTIGATED,
            actor=actor,
            deviation=locked,
            data={"root_cause": root_cause},
        )
    return locked


@transaction.atomic
def capa_action_add(
    *,
    actor: User,
    deviation: Deviation,
    kind: str,
    description: str,
    owner: User,
    due_at: date,
) -> CapaAction:
    _require(actor, perms.MANAGE_DEVIATION, "plan CAPA actions")
    if kind not in CapaKind.values:
        raise InvalidInput(f"Unknown CAPA kind {kind!r}.")
    description = _text(description, what="action", max_length=5000)
    if owner is None or not owner.is_active or owner.is_system:
        raise InvalidInput("A CAPA action needs an active person as its owner.")
    if due_at < timezone.localdate():
        raise InvalidInput("The due date of a CAPA action cannot be in the past.")
    locked = _lock_deviation(deviation)
    _ensure_open(locked)
    why = f"CAPA action added to {locked.number}"
    with acting_as(actor, reason=why):
        action = CapaAction(
            deviation=locked,
            kind=kind,
            description=description,
            owner=owner,
            due_at=due_at,
            created_by=actor,
        )
        _save(action, actor, why)
        _event(
            EventType.CAPA_ADDED,
            actor=actor,
            deviation=locked,
            data={
                "capa_id": action.pk,
                "kind": kind,
                "owner": owner.username,
                "due_at": due_at.isoformat(),
            },
        )
    return action


def _finish_capa(
    *, actor: User, action: CapaAction, status: str, note: str, event: str
) -> CapaAction:
    locked = CapaAction.objects.select_for_update().select_related("deviation").get(pk=action.pk)
    if status not in CAPA_TRANSITIONS[locked.status]:
        raise InvalidTransition(
            f"{locked.number} is {locked.get_status_display().lower()}: it cannot become "
            f"{CapaStatus(status).label.lower()}."
        )
    why = f"{locked.number} {CapaStatus(status).label.lower()}: {note}"
    with acting_as(actor, reason=why):
        locked.status = status
        locked.completed_by = actor
        locked.completed_at = timezone.now()
        locked.completion_note = note
        _save(locked, actor, why, ["status", "completed_by", "completed_at", "completion_note"])
        _event(
            event,
            actor=actor,
            deviation=locked.deviation,
            data={"capa_id": locked.pk, "note": note},
        )
    return locked


@transaction.atomic
def capa_action_complete(*, actor: User, action: CapaAction, note: str) -> CapaAction:
    """The owner (or QA) records what was done."""
    if not (
        actor is not None
        and getattr(actor, "is_authenticated", False)
        and actor.is_active
        and (actor.pk == action.owner_id or actor.has_perm(perms.MANAGE_DEVIATION))
    ):
        raise NotAuthorized("Only the owner of the CAPA action or QA may complete it.")
    note = _text(note, what="note on what was done", max_length=5000)
    return _finish_capa(
        actor=actor,
        action=action,
        status=CapaStatus.COMPLETED,
        note=note,
        event=EventType.CAPA_COMPLETED,
    )


@transaction.atomic
def capa_action_cancel(*, actor: User, action: CapaAction, reason: str) -> CapaAction:
    _require(actor, perms.MANAGE_DEVIATION, "cancel CAPA actions")
    reason = _text(reason, what="reason for cancelling", max_length=5000)
    return _finish_capa(
        actor=actor,
        action=action,
        status=CapaStatus.CANCELLED,
        note=reason,
        event=EventType.CAPA_CANCELLED,
    )


@transaction.atomic
def deviation_close(
    *,
    actor: User,
    deviation: Deviation,
    signer: AuthenticatedSigner,
    closure_summary: str,
) -> Deviation:
    """Close a deviation (signed 'closed' by QA). It must be classified. A major or critical
    deviation also needs its root cause and every CAPA action completed or cancelled; a minor
    one may close with CAPA actions still open (they stay on the overdue lists until done)."""
    _require(actor, perms.MANAGE_DEVIATION, "close deviations")
    _check_signer(actor, signer)
    closure_summary = _text(closure_summary, what="closure summary", max_length=10000)
    locked = _lock_deviation(deviation)
    _ensure_deviation_can_become(locked, DeviationStatus.CLOSED)
    if not locked.classification:
        raise DeviationNotClosable(
            f"{locked.number} is not classified: classify it (minor, major, critical) first.",
            code="deviation_not_classified",
        )
    if locked.classification in STRICT_CLASSIFICATIONS:
        if not locked.root_cause.strip():
            raise DeviationNotClosable(
                f"{locked.number} is {locked.classification}: record its root cause first.",
                code="deviation_root_cause_missing",
            )
        open_actions = list(
            CapaAction.objects.filter(deviation=locked, status=CapaStatus.OPEN).order_by("id")
        )
        if open_actions:
            listed = ", ".join(
                f"{a.number} (owner {a.owner.printed_name}, due {a.due_at.isoformat()})"
                for a in open_actions
            )
            raise DeviationNotClosable(
                f"{locked.number} is {locked.classification}: its CAPA actions must be "
                f"completed first; open: {listed}.",
                code="capa_open",
            )
    why = f"{locked.number} closed"
    with acting_as(actor, reason=why):
        locked.status = DeviationStatus.CLOSED
        locked.closure_summary = closure_summary
        locked.closed_by = actor
        locked.closed_at = timezone.now()
        _save(
            locked,
            actor,
            why,
            ["status", "closure_summary", "closed_by", "closed_at", "updated_at"],
        )
        signature = record_sign(
            record=locked, signer=signer, meaning=Meaning.CLOSED, reason=closure_summary[:500]
        )
        _event(
            EventType.DEVIATION_CLOSED,
            actor=actor,
            deviation=locked,
            data={"signature_id": signature.pk, "classification": locked.classification},
        )
    _on_commit(
        signals.deviation_closed,
        Deviation,
        deviation_id=locked.pk,
        source_kind=locked.source_kind,
        source_ref=locked.source_ref,
    )
    return locked


# --- nonconformance --------------------------------------------------------------------------


@transaction.atomic
def nonconformance_open(
    *,
    actor: User,
    description: str,
    lot: Lot | None = None,
    quantity: Any = None,
    uom: str = "",
    defect_code: str = "",
    source: Mapping[str, Any] | None = None,
) -> Nonconformance:
    """Report nonconforming material or units (from inspection, a work-order operation...)."""
    _require(actor, perms.ADD_NONCONFORMANCE, "report a nonconformance", allow_system=True)
    description = _text(description, what="description", max_length=10000)
    defect_code = _text(defect_code, what="defect code", max_length=40, required=False)
    kind, ref, url = _source(source)
    qty = None
    if quantity is not None and str(quantity).strip() != "":
        qty = _decimal(quantity, what="quantity")
        if qty <= 0:
            raise InvalidInput("The nonconforming quantity must be positive.")
        if lot is not None and lot.quantity is not None and qty > lot.quantity:
            raise InvalidInput(
                f"Lot {lot.lot_number} holds {lot.quantity} {lot.uom}; {qty} cannot be "
                "nonconforming."
            )
    uom = _text(
        uom or (lot.uom if lot is not None else ""), what="unit", max_length=8, required=False
    )
    reason = "nonconformance reported"
    with acting_as(actor, reason=reason):
        ncr = Nonconformance(
            description=description,
            defect_code=defect_code,
            lot=lot,
            quantity=qty,
            uom=uom,
            source_kind=kind,
            source_ref=ref,
            source_url=url,
            opened_by=actor,
        )
        _save(ncr, actor, reason)
        _event(
            EventType.NCR_OPENED,
            actor=actor,
            lot=lot,
            nonconformance=ncr,
            data={"defect_code": defect_code, "quantity": str(qty) if qty is not None else None},
        )
    return ncr


@transaction.atomic
def nonconformance_disposition(
    *,
    actor: User,
    ncr: Nonconformance,
    disposition: str,
    justification: str,
    signer: AuthenticatedSigner,
    deviation: Deviation | None = None,
) -> Nonconformance:
    """Decide scrap / rework / use as is (signed 'approved' by QA). Use as is accepts a
    nonconforming item: it needs a deviation that documents the concession."""
    _require(actor, perms.DISPOSITION_NONCONFORMANCE, "disposition nonconformances")
    _check_signer(actor, signer)
    if disposition not in NcrDisposition.values:
        raise InvalidInput(f"Unknown disposition {disposition!r}.")
    justification = _text(justification, what="justification", max_length=5000)
    if disposition == NcrDisposition.USE_AS_IS and deviation is None:
        raise InvalidInput(
            "Use as is accepts a nonconforming item: link the deviation that documents it."
        )
    locked = Nonconformance.objects.select_for_update().get(pk=ncr.pk)
    if locked.status != NcrStatus.OPEN:
        raise InvalidTransition(
            f"{locked.number} is already dispositioned ({locked.get_disposition_display()})."
        )
    why = f"{locked.number} dispositioned {disposition}"
    with acting_as(actor, reason=why):
        locked.status = NcrStatus.DISPOSITIONED
        locked.disposition = disposition
        locked.justification = justification
        locked.deviation = deviation
        locked.dispositioned_by = actor
        locked.dispositioned_at = timezone.now()
        _save(locked, actor, why)
        signature = record_sign(
            record=locked,
            signer=signer,
            meaning=Meaning.APPROVED,
            reason=f"{NcrDisposition(disposition).label}: {justification}"[:1000],
        )
        _event(
            EventType.NCR_DISPOSITIONED,
            actor=actor,
            lot=locked.lot,
            nonconformance=locked,
            data={"disposition": disposition, "signature_id": signature.pk},
        )
    _on_commit(
        signals.nonconformance_dispositioned,
        Nonconformance,
        ncr_id=locked.pk,
        disposition=disposition,
        lot_id=locked.lot_id,
        quantity=str(locked.quantity) if locked.quantity is not None else None,
        source_kind=locked.source_kind,
        source_ref=locked.source_ref,
    )
    return locked


# --- SPC -------------------------------------------------------------------------------------


@transaction.atomic
def characteristic_create(
    *,
    actor: User,
    key: str,
    name: str,
    unit: str = "",
    subgroup_size: int = 1,
    lsl: Any = None,
    usl: Any = None,
    target: Any = None,
    baseline_size: int | None = None,
    material: Material | None = None,
    description: str = "",
) -> Characteristic:
    _require(actor, perms.ADD_CHARACTERISTIC, "define SPC characteristics", allow_system=True)
    key = _text(key, what="key", max_length=100)
    if slugify(key) != key:
        raise InvalidInput(f"The key {key!r} must be a slug (letters, digits, '-' and '_').")
    if not isinstance(subgroup_size, int) or not 1 <= subgroup_size <= 10:
        raise InvalidInput("The subgroup size must be between 1 and 10.")
    low = _optional_decimal(lsl, what="lower spec limit")
    high = _optional_decimal(usl, what="upper spec limit")
    if low is not None and high is not None and low >= high:
        raise InvalidInput("The lower spec limit must be below the upper one.")
    if baseline_size is not None and baseline_size < 2 * subgroup_size:
        raise InvalidInput("The baseline needs at least two points.")
    if Characteristic.objects.filter(key=key).exists():
        raise Conflict(f"Characteristic {key} already exists.", code="duplicate_characteristic")
    reason = f"SPC characteristic {key} created"
    with acting_as(actor, reason=reason):
        characteristic = Characteristic(
            key=key,
            name=_text(name, what="name", max_length=200),
            unit=_text(unit, what="unit", max_length=20, required=False),
            description=_text(description, what="description", required=False),
            subgroup_size=subgroup_size,
            lsl=low,
            usl=high,
            target=_optional_decimal(target, what="target"),
            baseline_size=baseline_size,
            material=material,
            created_by=actor,
        )
        _save(characteristic, actor, reason)
        _event(EventType.CHARACTERISTIC_CREATED, actor=actor, data={"key": key})
    return characteristic


@transaction.atomic
def spc_record_value(
    *,
    actor: User,
    characteristic_key: str,
    value: Any,
    at: datetime | None = None,
    source_ref: str = "",
    source_url: str = "",
) -> SpcValue:
    """Record one measured value of a characteristic (batches and work orders call this with
    their own actor and a reference to their record). If a Western Electric rule fires at
    the new point, `spc_rule_violated` is sent on commit."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise NotAuthorized("Only an active user or system principal may record SPC values.")
    characteristic = Characteristic.objects.filter(key=characteristic_key).first()
    if characteristic is None:
        raise CharacteristicNotFound(f"No SPC characteristic {characteristic_key!r}.")
    if not characteristic.is_active:
        raise Conflict(
            f"SPC characteristic {characteristic_key} is inactive.", code="characteristic_inactive"
        )
    number = _decimal(value, what=f"value of {characteristic_key}")
    at = _moment(at, what="measurement time") or timezone.now()
    source_ref = _text(source_ref, what="source reference", max_length=200, required=False)
    source_url = _text(source_url, what="source URL", max_length=500, required=False)
    with acting_as(actor, reason=f"SPC value {characteristic_key}"):
        spc_value = SpcValue.objects.create(
            characteristic=characteristic,
            value=number,
            at=at,
            source_ref=source_ref,
            source_url=source_url,
            recorded_by=actor,
            request_id=_request_id(),
        )
    chart = selectors.spc_chart(characteristic, limit=SPC_VIOLATION_WINDOW)
    last = chart.points[-1] if chart.points else None
    if last is not None and spc_value.pk in last.value_ids and last.rules:
        _on_commit(
            signals.spc_rule_violated,
            SpcValue,
            characteristic_id=characteristic.pk,
            key=characteristic.key,
            value_id=spc_value.pk,
            rules=list(last.rules),
        )
    return spc_value


@transaction.atomic
def deviation_open_from_spc(
    *, actor: User, characteristic: Characteristic, point_index: int, rules: Sequence[int], url: str
) -> Deviation:
    """The chart page's button: a deviation about a violation at one point of the chart."""
    chart = selectors.spc_chart(characteristic)
    if not 0 <= point_index < len(chart.points):
        raise InvalidInput(f"Point {point_index} is not on the chart.")
    point = chart.points[point_index]
    fired = sorted(set(rules) & set(point.rules)) or point.rules
    if not fired:
        raise InvalidInput(f"No rule fires at point {point_index + 1} of {characteristic.key}.")
    when = timezone.localtime(point.at).strftime("%Y-%m-%d %H:%M")
    described = "; ".join(f"rule {r}: {spc.RULES[r]}" for r in fired)
    return deviation_open(
        actor=actor,
        title=f"SPC {characteristic.key}: rule {', '.join(str(r) for r in fired)} at {when}",
        description=(
            f"{characteristic.name}: point {point_index + 1} = {point.label}"
            f"{' ' + characteristic.unit if characteristic.unit else ''} at {when}"
            f"{' (' + point.source_ref + ')' if point.source_ref else ''}. {described}. "
            f"Centre {chart.center:.4g}, UCL {chart.ucl:.4g}, LCL {chart.lcl:.4g}."
        ),
        source={
            "kind": SourceKind.SPC,
            "ref": f"{characteristic.key}#{point.value_ids[-1]}",
            "url": url,
        },
    )
