"""Every write of the batch record. Keyword-only, one transaction, the actor passed in,
permission and state checks first; a refusal raises a DomainError and writes nothing.
Deviations (value out of limits, dispensing tolerance missed, hold time breached, yield out of
range) are opened in quality, linked to the batch and phase, and do not stop the record."""

import hashlib
import json
import logging
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.text import slugify

from batches import signals
from batches.choices import BatchEventType, BatchStatus, MaterialReturnKind, PhaseStatus
from batches.exceptions import (
    BatchIncomplete,
    BatchNotReleasable,
    PhaseNotActive,
    PhaseOutOfSequence,
)
from batches.models import (
    BatchEvent,
    BatchOrder,
    BatchRepoint,
    MaterialReturn,
    MaterialUse,
    ParameterValue,
    PhaseExecution,
    YieldRecord,
)
from equipment.models import Instrument, Unit
from equipment.services import (
    instrument_check_usable,
    unit_check_usable,
    unit_end_use,
    unit_start_use,
)
from genealogy.models import Lot, LotEvent, Material
from genealogy.quantities import convert, in_uom
from genealogy.services import lot_consume, lot_produce, lot_return
from mes.audit.context import acting_as, current_context
from mes.esign.models import Meaning
from mes.esign.services import AuthenticatedSigner, record_sign
from mes.exceptions import Conflict, DomainError, InvalidInput, InvalidTransition, NotAuthorized
from mes.numbering import next_number
from quality.models import Characteristic
from quality.selectors import deviations_open_for_source
from quality.services import (
    characteristic_create,
    deviation_open,
    lot_release,
    spc_record_value,
)
from recipes.choices import RecipeVersionStatus
from recipes.models import RecipeVersion
from recipes.scaling import scale_version
from recipes.selectors import recipe_version_current_approved, recipe_version_for_batch

PERM_CREATE = "batches.create_batchorder"
PERM_EXECUTE = "batches.execute_batchorder"
PERM_RELEASE = "batches.release_batchorder"
DEVIATION_KIND = "batch"
SPC_DECIMALS = Decimal("0.000001")  # quality's SPC keeps six decimal places

logger = logging.getLogger(__name__)


# --- helpers ---------------------------------------------------------------------------------


def _require(actor: Any, perm: str, action: str) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise NotAuthorized(f"Only an active, logged-in user may {action}.")
    if not actor.has_perm(perm):
        raise NotAuthorized(f"You lack the permission to {action} ({perm}).")


def _request_id() -> str:
    ctx = current_context()
    return ctx.request_id if ctx is not None else ""


def _event(
    batch: BatchOrder,
    type_: str,
    actor: Any,
    *,
    phase: PhaseExecution | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> BatchEvent:
    return BatchEvent.objects.create(
        batch=batch,
        at=at or timezone.now(),
        phase=phase,
        type=type_,
        actor=actor,
        data=data or {},
        request_id=_request_id(),
    )


def _save(obj: Any, actor: Any, reason: str, fields: list[str] | None = None) -> None:
    obj._history_user, obj._change_reason = actor, reason
    if fields is None:
        obj.save()
    else:
        obj.save(update_fields=fields)


def _on_commit(signal: Any, **kwargs: Any) -> None:
    transaction.on_commit(lambda: signal.send(sender=BatchOrder, **kwargs))


def _lock_batch(batch: BatchOrder | int, *, light: bool = False) -> BatchOrder:
    """The batch row, locked. `light` leaves the control recipe (the whole scaled snapshot,
    large for a long recipe) in the database: phase-level actions read it from the phase."""
    pk = batch.pk if isinstance(batch, BatchOrder) else batch
    qs = BatchOrder.objects.select_for_update()
    if light:
        qs = qs.defer("control_recipe")
    return qs.get(pk=pk)


def _lock_phase(phase: PhaseExecution) -> tuple[BatchOrder, PhaseExecution]:
    """Batch first, then phase: the one lock order every service uses."""
    batch = _lock_batch(phase.batch_id, light=True)
    locked = PhaseExecution.objects.select_for_update().get(pk=phase.pk)
    locked.batch = batch  # the locked row, once (not joined and transferred again)
    return batch, locked


def _moment(at: datetime | None) -> datetime:
    """Now, or `at` when a system principal (a data import, the demo loader, a test) records
    what happened earlier. A person's action always takes the current time."""
    if at is None:
        return timezone.now()
    ctx = current_context()
    if ctx is None or ctx.user is not None or not ctx.principal.startswith("system:"):
        raise InvalidInput(
            "Only a system import may record a time other than now.", code="time_not_allowed"
        )
    if timezone.is_naive(at) or at > timezone.now():
        raise InvalidInput("The time must carry a zone and not be in the future.")
    return at


def _dec(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    return Decimal(str(value))


def _num(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def batch_url(batch: BatchOrder) -> str:
    return f"/batches/{batch.pk}/"


def _system_user() -> Any:
    return get_user_model().objects.get(username="system")


def _open_deviation(
    batch: BatchOrder, phase: PhaseExecution | None, actor: Any, title: str, description: str
) -> Any:
    """A deviation in quality against the batch (and phase); the record goes on. Opened by the
    MES system principal on behalf of the operator (operators do not hold quality's
    add_deviation), naming the operator in the description."""
    where = f" in phase {phase.path} {phase.name}" if phase is not None else ""
    deviation = deviation_open(
        actor=_system_user(),
        title=f"{batch.number}: {title}"[:200],
        description=f"{description}{where} (batch {batch.number}, recorded by "
        f"{actor.get_username()}).",
        source={"kind": DEVIATION_KIND, "ref": batch.number, "url": batch_url(batch)},
    )
    _event(
        batch,
        BatchEventType.DEVIATION_OPENED,
        actor,
        phase=phase,
        data={"deviation_id": deviation.pk, "number": str(deviation), "title": title},
    )
    return deviation


def _next_number() -> str:
    return next_number(BatchOrder, "number", f"B{timezone.localdate().year}-")


def snapshot_hash(snapshot: dict[str, Any]) -> str:
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


# --- batch order -----------------------------------------------------------------------------


@transaction.atomic
def batch_order_create(
    *,
    actor: Any,
    recipe_version_id: int,
    batch_size: Any,
    number: str | None = None,
    batch_size_uom: str | None = None,
) -> BatchOrder:
    """A batch order on the current approved version of a recipe; its control recipe (the
    scaled snapshot) is frozen now, one phase execution per phase of the snapshot."""
    _require(actor, PERM_CREATE, "create a batch order")
    version = recipe_version_for_batch(recipe_version_id)
    snapshot = scale_version(version, batch_size, batch_size_uom=batch_size_uom)
    number = (number or "").strip() or _next_number()
    if BatchOrder.objects.filter(number=number).exists():
        raise Conflict(f"A batch numbered {number} already exists.", code="batch_number_taken")
    reason = f"batch {number} created"
    with acting_as(actor, reason=reason):
        batch = BatchOrder(
            number=number,
            recipe_version=version,
            product_id=snapshot["product"]["id"],
            control_recipe=snapshot,
            control_recipe_hash=snapshot_hash(snapshot),
            batch_size=Decimal(snapshot["batch_size"]),
            batch_size_uom=snapshot["batch_size_uom"],
            created_by=actor,
        )
        _save(batch, actor, reason)
        sequence = _write_phases(batch, snapshot, actor, reason)
        _event(
            batch,
            BatchEventType.CREATED,
            actor,
            data={
                "recipe": snapshot["recipe"]["code"],
                "version": snapshot["version"]["number"],
                "batch_size": snapshot["batch_size"],
                "phases": sequence,
            },
        )
    _on_commit(signals.batch_created, batch_id=batch.pk)
    return batch


def _requirement(batch: BatchOrder) -> dict[str, Any]:
    """The union of the unit procedures' equipment requirements (one unit per batch)."""
    classes: list[str] = []
    volumes: list[Decimal] = []
    capabilities: set[str] = set()
    for up in batch.control_recipe["unit_procedures"]:
        req = up.get("equipment_requirement")
        if not req:
            continue
        classes.append(req["equipment_class"])
        if req.get("min_volume_l") is not None:
            volumes.append(Decimal(req["min_volume_l"]))
        capabilities.update(req.get("capabilities") or [])
    return {
        "equipment_class": classes[0] if classes else None,
        "min_volume_l": max(volumes) if volumes else None,
        "capabilities": sorted(capabilities),
    }


@transaction.atomic
def batch_start(
    *, actor: Any, batch: BatchOrder, unit: Unit, at: datetime | None = None
) -> BatchOrder:
    """Start the batch in `unit`: the equipment gate (status, cleaning, calibration, class,
    volume, capabilities) is asked, the unit goes in use, the first phase becomes active."""
    _require(actor, PERM_EXECUTE, "start a batch")
    at = _moment(at)
    batch = _lock_batch(batch)
    batch.ensure_can_become(BatchStatus.STARTED)
    # a batch not yet started follows its recipe: superseded or obsolete since creation, it
    # must be re-pointed to the current approved version or cancelled (both signed)
    _ensure_version_usable(batch)
    req = _requirement(batch)
    product_code = batch.control_recipe["product"]["code"]
    unit_check_usable(
        unit,
        product_code=product_code,
        at=at,
        equipment_class=req["equipment_class"],
        min_volume_l=req["min_volume_l"],
        capabilities=req["capabilities"],
    )
    reason = f"batch {batch.number} started in {unit.code}"
    with acting_as(actor, reason=reason):
        unit_start_use(
            actor=actor,
            unit=unit,
            batch_ref=batch.number,
            product_code=product_code,
            batch_url=batch_url(batch),
            at=at,
        )
        batch.status = BatchStatus.STARTED
        batch.started_at = at
        batch.unit = unit
        _save(batch, actor, reason, ["status", "started_at", "unit"])
        _event(batch, BatchEventType.STARTED, actor, data={"unit": unit.code}, at=at)
    _on_commit(signals.batch_started, batch_id=batch.pk)
    return batch


def _ensure_version_usable(batch: BatchOrder) -> None:
    """The batch's version is still the current approved one, else a refusal naming the way
    out (re-point or cancel, both signed)."""
    version = batch.recipe_version
    if version.status == RecipeVersionStatus.APPROVED and not batch.version_superseded_at:
        return
    current = recipe_version_current_approved(version.recipe_id)
    if current is None or current.pk == version.pk:
        recipe_version_for_batch(version.pk)  # the recipes app's own refusal
        return
    raise Conflict(
        f"Batch {batch.number} was made on version {version.number} of {version.recipe.code}, "
        f"which is {version.get_status_display().lower()}; the current approved version is "
        f"{current.number}. Re-point the batch to it or cancel the batch (both signed).",
        code="batch_needs_repoint",
    )


@transaction.atomic
def batch_cancel(
    *,
    actor: Any,
    batch: BatchOrder,
    reason: str,
    signer: AuthenticatedSigner | None = None,
) -> BatchOrder:
    """Cancel a batch created or started, signed "cancelled" by a person (a system principal
    such as the ERP import may cancel unsigned); the unit in use is released."""
    _require(actor, PERM_CREATE, "cancel a batch")
    if not (reason or "").strip():
        raise InvalidInput("Say why the batch is cancelled.", code="reason_required")
    if signer is None and not getattr(actor, "is_system", False):
        raise InvalidInput(
            "Cancelling a batch needs your electronic signature: enter your user ID and password.",
            code="signature_required",
        )
    batch = _lock_batch(batch)
    batch.ensure_can_become(BatchStatus.CANCELLED)
    text = f"batch {batch.number} cancelled: {reason.strip()}"
    with acting_as(actor, reason=text):
        if batch.status == BatchStatus.STARTED and batch.unit_id:
            unit_end_use(actor=actor, unit=batch.unit, batch_ref=batch.number, note=reason)
        batch.status = BatchStatus.CANCELLED
        batch.cancelled_at = timezone.now()
        batch.cancel_reason = reason.strip()
        _save(batch, actor, text, ["status", "cancelled_at", "cancel_reason"])
        if signer is not None:
            record_sign(
                record=batch, signer=signer, meaning=Meaning.CANCELLED, reason=reason.strip()
            )
        _event(
            batch,
            BatchEventType.CANCELLED,
            actor,
            data={"reason": reason.strip(), "signed": signer is not None},
        )
    return batch


@transaction.atomic
def batch_flag_version_superseded(*, version_id: int, superseded_by_id: int) -> list[BatchOrder]:
    """Recipes announced that `version_id` was superseded: every batch made on it and not yet
    started is flagged (it cannot start on the old version; re-point or cancel). Run by the
    MES system principal (a receiver of `recipe_version_superseded`); idempotent."""
    actor = _system_user()
    new_version = RecipeVersion.objects.filter(pk=superseded_by_id).first()
    flagged = []
    pks = list(
        BatchOrder.objects.filter(
            recipe_version_id=version_id,
            status=BatchStatus.CREATED,
            version_superseded_at__isnull=True,
        ).values_list("pk", flat=True)
    )
    for pk in pks:
        batch = _lock_batch(pk)
        if batch.status != BatchStatus.CREATED or batch.version_superseded_at is not None:
            continue
        text = (
            f"batch {batch.number}: recipe version superseded"
            + (f" by version {new_version.number}" if new_version else "")
            + "; re-point or cancel"
        )
        with acting_as(actor, reason=text):
            batch.version_superseded_at = timezone.now()
            batch.superseded_by_version = new_version
            _save(batch, actor, text, ["version_superseded_at", "superseded_by_version"])
            _event(
                batch,
                BatchEventType.VERSION_SUPERSEDED,
                actor,
                data={
                    "version_id": version_id,
                    "superseded_by_id": superseded_by_id,
                    "superseded_by": new_version.number if new_version else None,
                },
            )
        flagged.append(batch)
    return flagged


def _snapshot_phases(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        ph for up in snapshot["unit_procedures"] for op in up["operations"] for ph in op["phases"]
    ]


def _write_phases(
    batch: BatchOrder,
    snapshot: dict[str, Any],
    actor: Any,
    reason: str,
    existing: list[PhaseExecution] = (),  # type: ignore[assignment]
) -> int:
    """One phase execution per phase of the snapshot; `existing` pending rows (of an earlier
    snapshot, never executed) are rewritten in place (their history keeps the old
    definition), any left over is removed (the audit trail keeps it)."""
    definitions = _snapshot_phases(snapshot)
    for sequence, ph in enumerate(definitions, start=1):
        if sequence <= len(existing):
            row = existing[sequence - 1]
            row.path, row.name, row.definition = ph["path"], ph["name"][:200], ph
            _save(row, actor, reason, ["path", "name", "definition"])
        else:
            _save(
                PhaseExecution(
                    batch=batch,
                    sequence=sequence,
                    path=ph["path"],
                    name=ph["name"][:200],
                    definition=ph,
                ),
                actor,
                reason,
            )
    for row in existing[len(definitions) :]:
        row._history_user, row._change_reason = actor, reason
        row.delete()
    return len(definitions)


@transaction.atomic
def batch_repoint(
    *,
    actor: Any,
    batch: BatchOrder,
    signer: AuthenticatedSigner,
    reason: str,
    recipe_version_id: int | None = None,
) -> BatchOrder:
    """Move a batch not yet started from its superseded (or obsolete) recipe version to the
    current approved version of the same recipe, signed "approved": the control recipe is
    re-snapshotted at the same batch size (refused if the size is outside the new range) and
    the pending phases are replaced by those of the new snapshot (none was executed). The
    re-point is an append-only row with both versions and both snapshot hashes."""
    _require(actor, PERM_CREATE, "re-point a batch")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the batch is re-pointed.", code="reason_required")
    batch = _lock_batch(batch)
    if batch.status != BatchStatus.CREATED:
        raise InvalidTransition(
            f"Batch {batch.number} is {batch.get_status_display().lower()}; only a batch not "
            "yet started can be re-pointed to another recipe version.",
            code="batch_not_repointable",
        )
    old = RecipeVersion.objects.select_related("recipe").get(pk=batch.recipe_version_id)
    current = recipe_version_current_approved(old.recipe_id)
    if current is None:
        raise Conflict(
            f"{old.recipe.code} has no approved version to re-point batch {batch.number} to.",
            code="recipe_version_not_usable",
        )
    if recipe_version_id is not None and recipe_version_id != current.pk:
        raise Conflict(
            f"Only the current approved version of {old.recipe.code} (version {current.number}) "
            "can be used for a batch.",
            code="recipe_version_not_usable",
        )
    if current.pk == old.pk:
        raise Conflict(
            f"Batch {batch.number} already uses the current approved version {old.number} of "
            f"{old.recipe.code}; there is nothing to re-point.",
            code="batch_not_outdated",
        )
    snapshot = scale_version(current, batch.batch_size, batch_size_uom=batch.batch_size_uom)
    new_hash = snapshot_hash(snapshot)
    old_hash = batch.control_recipe_hash
    text = (
        f"batch {batch.number} re-pointed from version {old.number} to {current.number}: {reason}"
    )
    with acting_as(actor, reason=text):
        phases = list(batch.phases.select_for_update().order_by("sequence"))
        if any(p.status != PhaseStatus.PENDING for p in phases):  # defensive: never executed
            raise Conflict(f"Batch {batch.number} has executed phases.", code="batch_started")
        count = _write_phases(batch, snapshot, actor, text, existing=phases)
        batch.recipe_version = current
        batch.product_id = snapshot["product"]["id"]
        batch.control_recipe = snapshot
        batch.control_recipe_hash = new_hash
        batch.version_superseded_at = None
        batch.superseded_by_version = None
        _save(
            batch,
            actor,
            text,
            [
                "recipe_version",
                "product",
                "control_recipe",
                "control_recipe_hash",
                "version_superseded_at",
                "superseded_by_version",
            ],
        )
        repoint = BatchRepoint.objects.create(
            batch=batch,
            from_version=old,
            to_version=current,
            from_control_recipe_hash=old_hash,
            to_control_recipe_hash=new_hash,
            batch_size=batch.batch_size,
            batch_size_uom=batch.batch_size_uom,
            reason=reason,
            repointed_by=actor,
        )
        record_sign(record=repoint, signer=signer, meaning=Meaning.APPROVED, reason=reason)
        _event(
            batch,
            BatchEventType.REPOINTED,
            actor,
            data={
                "repoint_id": repoint.pk,
                "from_version": old.number,
                "to_version": current.number,
                "from_control_recipe_hash": old_hash,
                "to_control_recipe_hash": new_hash,
                "phases": count,
                "reason": reason,
            },
        )
    return batch


# --- phases ----------------------------------------------------------------------------------


def _ensure_batch_running(batch: BatchOrder) -> None:
    if batch.status != BatchStatus.STARTED:
        raise Conflict(
            f"Batch {batch.number} is {batch.get_status_display().lower()}; its phases can be "
            "executed only while it is started.",
            code="batch_not_started",
        )


def _ensure_active(phase: PhaseExecution) -> None:
    if phase.status != PhaseStatus.ACTIVE:
        who = ""
        if phase.status == PhaseStatus.COMPLETED and phase.completed_by_id:
            who = (
                f" by {phase.completed_by.get_username()} at "
                f"{timezone.localtime(phase.completed_at):%Y-%m-%d %H:%M:%S}"
            )
        raise PhaseNotActive(
            f"Phase {phase.path} {phase.name} is {phase.get_status_display().lower()}{who}; "
            "this needs an active phase."
        )


@transaction.atomic
def phase_start(*, actor: Any, phase: PhaseExecution, at: datetime | None = None) -> PhaseExecution:
    """Start a pending phase: every earlier phase is completed, or the phase may run in
    parallel with the previous one and that one is active (operational sequence check)."""
    _require(actor, PERM_EXECUTE, "start a phase")
    at = _moment(at)
    batch, phase = _lock_phase(phase)
    _ensure_batch_running(batch)
    if phase.status != PhaseStatus.PENDING:
        raise PhaseNotActive(
            f"Phase {phase.path} {phase.name} is already {phase.get_status_display().lower()}."
        )
    earlier = list(
        batch.phases.filter(sequence__lt=phase.sequence)
        .order_by("sequence")
        .values_list("sequence", "path", "status")
    )
    open_earlier = [(s, p, st) for s, p, st in earlier if st != PhaseStatus.COMPLETED]
    parallel = bool(phase.definition.get("can_run_parallel_with_previous"))
    allowed = not open_earlier or (
        parallel
        and len(open_earlier) == 1
        and open_earlier[0][0] == phase.sequence - 1
        and open_earlier[0][2] == PhaseStatus.ACTIVE
    )
    if not allowed:
        paths = ", ".join(p for _, p, _ in open_earlier)
        raise PhaseOutOfSequence(f"Phase {phase.path} cannot start before {paths} is completed.")
    reason = f"{batch.number} {phase.path} started"
    with acting_as(actor, reason=reason):
        phase.status = PhaseStatus.ACTIVE
        phase.started_at = at
        phase.started_by = actor
        _save(phase, actor, reason, ["status", "started_at", "started_by"])
        _event(
            batch,
            BatchEventType.PHASE_STARTED,
            actor,
            phase=phase,
            data={"path": phase.path},
            at=at,
        )
    return phase


def _parameter(phase: PhaseExecution, name: str) -> dict[str, Any]:
    for p in phase.definition.get("parameters", []):
        if p["name"] == name:
            return p
    raise InvalidInput(f"Phase {phase.path} has no parameter {name!r}.", code="unknown_parameter")


def _evaluate(param: dict[str, Any], value: Any) -> tuple[str, Decimal | None, bool, str]:
    """(text, number, out of limit, limits as text) of a value for a parameter."""
    text = str(value if value is not None else "").strip()
    if not text:
        raise InvalidInput(f"Enter a value for {param['name']}.", code="value_required")
    if param["data_type"] == "number":
        try:
            number = Decimal(text.replace(",", "."))
        except InvalidOperation:
            raise InvalidInput(
                f"{param['name']} needs a number, not {text!r}.", code="value_not_number"
            ) from None
        if not number.is_finite():
            raise InvalidInput(f"{param['name']} needs a finite number.", code="value_not_number")
        low, high = _dec(param.get("low_limit")), _dec(param.get("high_limit"))
        out = (low is not None and number < low) or (high is not None and number > high)
        limits = f"{param.get('low_limit') or '−∞'} … {param.get('high_limit') or '∞'}"
        return _num(number), number, bool(out), limits
    if param["data_type"] == "choice" and param.get("choices") and text not in param["choices"]:
        raise InvalidInput(
            f"{param['name']} must be one of: {', '.join(param['choices'])}.",
            code="value_not_a_choice",
        )
    expected = param.get("expected_text") or ""
    out = bool(expected) and text != expected
    return text, None, out, (f"expected {expected}" if expected else "")


def _check_instrument(param: dict[str, Any], instrument: Instrument | None, at: datetime) -> None:
    if not param.get("instrument_required"):
        return
    if instrument is None:
        raise InvalidInput(
            f"{param['name']} must be measured with an instrument; scan or select it.",
            code="instrument_required",
        )
    kind = param.get("instrument_kind") or ""
    if kind and instrument.kind != kind:
        raise InvalidInput(
            f"{param['name']} needs a {kind} instrument; {instrument.code} is a {instrument.kind}.",
            code="instrument_wrong_kind",
        )
    instrument_check_usable(instrument, at=at)


def _record_value(
    *,
    actor: Any,
    phase: PhaseExecution,
    batch: BatchOrder,
    param: dict[str, Any],
    value: Any,
    instrument: Instrument | None,
    supersedes: ParameterValue | None,
    reason: str,
    at: datetime | None = None,
) -> ParameterValue:
    at = at or timezone.now()
    _check_instrument(param, instrument, at)
    text, number, out, limits = _evaluate(param, value)
    what = "corrected" if supersedes else "recorded"
    audit_reason = f"{batch.number} {phase.path} {param['name']} {what}" + (
        f": {reason}" if reason else ""
    )
    with acting_as(actor, reason=audit_reason):
        entry = ParameterValue.objects.create(
            phase=phase,
            name=param["name"],
            value_text=text,
            value_number=number,
            unit=param.get("unit") or "",
            is_out_of_limit=out,
            limit_text=limits,
            instrument=instrument,
            supersedes=supersedes,
            reason=reason,
            entered_by=actor,
            entered_at=at,
        )
        _event(
            batch,
            BatchEventType.VALUE_CORRECTED if supersedes else BatchEventType.VALUE_RECORDED,
            actor,
            phase=phase,
            data={
                "value_id": entry.pk,
                "name": entry.name,
                "value": text,
                "is_out_of_limit": out,
                **(
                    {"supersedes": supersedes.pk, "previous": supersedes.value_text}
                    if supersedes
                    else {}
                ),
            },
            at=at,
        )
        if out:
            _open_deviation(
                batch,
                phase,
                actor,
                f"{param['name']} out of limits",
                f"{param['name']} = {text} {entry.unit} is outside {limits}".strip(),
            )
    return entry


@transaction.atomic
def parameter_value_record(
    *,
    actor: Any,
    phase: PhaseExecution,
    name: str,
    value: Any,
    instrument: Instrument | None = None,
    at: datetime | None = None,
) -> ParameterValue:
    """Capture a parameter of the active phase. A value outside the limits is kept, flagged
    and opens a deviation. A parameter already captured is changed only by a correction."""
    _require(actor, PERM_EXECUTE, "record a value")
    at = _moment(at)
    batch, phase = _lock_phase(phase)
    _ensure_batch_running(batch)
    _ensure_active(phase)
    param = _parameter(phase, name)
    if phase.values.filter(name=name).exists():
        raise Conflict(
            f"{name} is already recorded in {phase.path}; enter a correction with a reason.",
            code="value_already_recorded",
        )
    return _record_value(
        actor=actor,
        phase=phase,
        batch=batch,
        param=param,
        value=value,
        instrument=instrument,
        supersedes=None,
        reason="",
        at=at,
    )


@transaction.atomic
def parameter_value_correct(
    *,
    actor: Any,
    value: ParameterValue,
    new_value: Any,
    reason: str,
    instrument: Instrument | None = None,
) -> ParameterValue:
    """A correction: a new entry with a reason that supersedes the current one (the original
    stays visible). Only while the phase is active, only the current entry."""
    _require(actor, PERM_EXECUTE, "correct a value")
    if not (reason or "").strip():
        raise InvalidInput("A correction needs a reason.", code="reason_required")
    batch, phase = _lock_phase(value.phase)
    _ensure_batch_running(batch)
    _ensure_active(phase)
    if ParameterValue.objects.filter(supersedes_id=value.pk).exists():
        raise Conflict(
            f"This entry of {value.name} was already corrected; correct the current entry.",
            code="value_superseded",
        )
    param = _parameter(phase, value.name)
    return _record_value(
        actor=actor,
        phase=phase,
        batch=batch,
        param=param,
        value=new_value,
        instrument=instrument if instrument is not None else value.instrument,
        supersedes=value,
        reason=reason.strip(),
    )


def _input_for(phase: PhaseExecution, material: Material) -> dict[str, Any]:
    for item in phase.definition.get("inputs", []):
        if item["material_id"] == material.pk:
            return item
    raise InvalidInput(
        f"{material.code} is not an input of phase {phase.path} {phase.name}.",
        code="material_not_in_phase",
    )


@transaction.atomic
def material_dispense(
    *,
    actor: Any,
    phase: PhaseExecution,
    lot: Lot,
    quantity: Any,
    uom: str | None = None,
    at: datetime | None = None,
) -> MaterialUse:
    """Dispense `quantity` of `lot` into the active phase: the lot's material must be an input
    of the phase; genealogy's consumption gates decide (released, not expired, enough left)."""
    _require(actor, PERM_EXECUTE, "dispense material")
    at = _moment(at)
    batch, phase = _lock_phase(phase)
    _ensure_batch_running(batch)
    _ensure_active(phase)
    item = _input_for(phase, lot.material)
    qty = in_uom(quantity, uom or item["uom"], item["uom"])
    if qty <= 0:
        raise InvalidInput("A dispensed quantity must be positive.", code="quantity_not_positive")
    reason = f"{batch.number} {phase.path} dispensed {lot.material.code} {lot.lot_number}"
    with acting_as(actor, reason=reason):
        event = lot_consume(
            actor=actor,
            lot=lot,
            quantity=qty,
            uom=item["uom"],
            context={
                "kind": "batch_phase",
                "ref": f"{batch.number}/{phase.path}",
                "url": batch_url(batch),
            },
            occurred_at=at,
        )
        use = MaterialUse.objects.create(
            phase=phase,
            material=lot.material,
            lot=lot,
            quantity=qty,
            uom=item["uom"],
            consumption=event,
            dispensed_by=actor,
            dispensed_at=at,
        )
        _event(
            batch,
            BatchEventType.MATERIAL_DISPENSED,
            actor,
            phase=phase,
            data={
                "use_id": use.pk,
                "material": lot.material.code,
                "lot": lot.lot_number,
                "quantity": _num(qty),
                "uom": item["uom"],
            },
            at=at,
        )
    return use


@transaction.atomic
def material_return(
    *,
    actor: Any,
    use: MaterialUse,
    quantity: Any,
    kind: str,
    reason: str,
    uom: str | None = None,
    at: datetime | None = None,
) -> MaterialReturn:
    """Part of a dispense was not charged into the batch: `returned` puts it back into its
    lot (genealogy return event), `waste` writes it off (spilled, contaminated: the lot keeps
    the consumption). Recorded while the phase is active, so that the phase's tolerance check
    and the reconciliation count what was really charged; never more than is left of the
    dispense; a reason is required."""
    _require(actor, PERM_EXECUTE, "return or write off dispensed material")
    at = _moment(at)
    if kind not in MaterialReturnKind.values:
        raise InvalidInput(
            f"{kind!r} is not a kind of return (returned or waste).", code="return_kind_invalid"
        )
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the material was not charged.", code="reason_required")
    batch, phase = _lock_phase(use.phase)
    _ensure_batch_running(batch)
    _ensure_active(phase)
    use = MaterialUse.objects.select_related("lot", "material", "consumption").get(pk=use.pk)
    qty = in_uom(quantity, uom or use.uom, use.uom)
    if qty <= 0:
        raise InvalidInput("A returned quantity must be positive.", code="quantity_not_positive")
    taken_back = use.returns.aggregate(total=Sum("quantity"))["total"] or Decimal(0)
    left = use.quantity - taken_back
    if qty > left:
        raise Conflict(
            f"Only {_num(left)} {use.uom} of lot {use.lot.lot_number} dispensed here is left "
            f"to return or write off; {_num(qty)} {use.uom} is more.",
            code="return_exceeds_dispense",
        )
    returned = kind == MaterialReturnKind.RETURNED
    text = (
        f"{batch.number} {phase.path} {'returned' if returned else 'wasted'} "
        f"{_num(qty)} {use.uom} of {use.material.code} {use.lot.lot_number}: {reason}"
    )
    with acting_as(actor, reason=text):
        event = (
            lot_return(
                actor=actor,
                consumption=use.consumption,
                quantity=qty,
                uom=use.uom,
                reason=text,
                occurred_at=at,
            )
            if returned
            else None
        )
        record = MaterialReturn.objects.create(
            use=use,
            kind=kind,
            quantity=qty,
            uom=use.uom,
            reason=reason,
            lot_event=event,
            recorded_by=actor,
            recorded_at=at,
        )
        _event(
            batch,
            BatchEventType.MATERIAL_RETURNED if returned else BatchEventType.MATERIAL_WASTED,
            actor,
            phase=phase,
            data={
                "use_id": use.pk,
                "return_id": record.pk,
                "material": use.material.code,
                "lot": use.lot.lot_number,
                "quantity": _num(qty),
                "uom": use.uom,
                "reason": reason,
            },
            at=at,
        )
    return record


def dispensed_totals(phase: PhaseExecution) -> dict[int, Decimal]:
    """What was charged into the phase per material: dispensed less returned and waste."""
    rows = phase.uses.values("material_id", "uom").annotate(total=Sum("quantity"))
    totals: dict[int, Decimal] = {}
    for row in rows:
        totals[row["material_id"]] = totals.get(row["material_id"], Decimal(0)) + row["total"]
    backs = MaterialReturn.objects.filter(use__phase=phase).values("use__material_id")
    for row in backs.annotate(total=Sum("quantity")):
        material_id = row["use__material_id"]
        totals[material_id] = totals.get(material_id, Decimal(0)) - row["total"]
    return totals


def _current_values(phase: PhaseExecution) -> dict[str, ParameterValue]:
    return {v.name: v for v in phase.values.filter(superseded_by__isnull=True)}


# --- SPC feed --------------------------------------------------------------------------------


def spc_key(recipe_code: str, path: str, parameter: str) -> str:
    """The SPC characteristic of a process parameter: one per recipe (and so product), phase
    and parameter, across versions and batches (e.g. `resin-pa-up1-op2-ph1-temperature`)."""
    key = slugify(f"{recipe_code} {path.replace('/', '-')} {parameter}")
    if len(key) > 100:
        digest = hashlib.sha256(key.encode()).hexdigest()[:10]
        key = f"{key[:89].rstrip('-')}-{digest}"
    return key


def _spc_characteristic(
    batch: BatchOrder, phase: PhaseExecution, param: dict[str, Any], key: str, code: str
) -> Characteristic:
    """The characteristic of `key`, created on first use (by the MES system principal, with
    the recipe's limits as spec limits). Two batches creating it at once: one inserts, the
    other finds it."""
    found = Characteristic.objects.filter(key=key).first()
    if found is not None:
        return found
    low, high = _dec(param.get("low_limit")), _dec(param.get("high_limit"))
    try:
        return characteristic_create(
            actor=_system_user(),
            key=key,
            name=f"{code} {phase.name}: {param['name']}"[:200],
            unit=(param.get("unit") or "")[:20],
            lsl=low if low is not None and (high is None or low < high) else None,
            usl=high if high is not None and (low is None or low < high) else None,
            target=_dec(param.get("target")),
            material=batch.product,
            description=f"Process parameter {param['name']} of phase {phase.path} "
            f"{phase.name} of recipe {code}, captured in its batches.",
        )
    except (Conflict, IntegrityError):
        return Characteristic.objects.get(key=key)


def _feed_spc(
    batch: BatchOrder, phase: PhaseExecution, actor: Any, current: dict[str, ParameterValue]
) -> None:
    """The numeric parameters of a completed phase go to quality's SPC, one point per
    parameter: the current entry (a correction replaced the original before completion;
    after completion no value changes). In the completion's transaction, so a point exists
    exactly when the completion does. A characteristic QA deactivated is skipped; the
    batch record goes on."""
    numeric = [
        (param, current[param["name"]])
        for param in phase.definition.get("parameters", [])
        if param.get("data_type") == "number"
        and param["name"] in current
        and current[param["name"]].value_number is not None
    ]
    if not numeric:
        return
    code = RecipeVersion.objects.filter(pk=batch.recipe_version_id).values_list(
        "recipe__code", flat=True
    )[0]
    for param, value in numeric:
        key = spc_key(code, phase.path, param["name"])
        try:
            with transaction.atomic():
                _spc_characteristic(batch, phase, param, key, code)
                spc_record_value(
                    actor=actor,
                    characteristic_key=key,
                    value=value.value_number.quantize(SPC_DECIMALS),
                    at=value.entered_at,
                    source_ref=f"{batch.number}/{phase.path}",
                    source_url=batch_url(batch),
                )
        except DomainError as exc:
            logger.warning("SPC point of %s %s skipped: %s", batch.number, key, exc.detail)


@transaction.atomic
def phase_complete(
    *,
    actor: Any,
    phase: PhaseExecution,
    signer: AuthenticatedSigner,
    reason: str = "",
    at: datetime | None = None,
) -> PhaseExecution:
    """Complete the active phase, signed "performed". Locks the batch and the phase: of two
    terminals completing the same phase, one wins and the other is refused (409). Required
    parameters must be captured; a dispensing outside its tolerance window or a hold time
    outside its limits opens a deviation (the record goes on)."""
    _require(actor, PERM_EXECUTE, "complete a phase")
    batch, phase = _lock_phase(phase)
    _ensure_batch_running(batch)
    _ensure_active(phase)
    current = _current_values(phase)
    missing = [
        p["name"]
        for p in phase.definition.get("parameters", [])
        if p.get("is_required", True) and p["name"] not in current
    ]
    if missing:
        raise BatchIncomplete(
            f"Record {', '.join(missing)} before completing {phase.path}.",
            code="values_missing",
        )
    now = _moment(at)
    text = f"{batch.number} {phase.path} completed" + (f": {reason}" if reason else "")
    with acting_as(actor, reason=text):
        phase.status = PhaseStatus.COMPLETED
        phase.completed_at = now
        phase.completed_by = actor
        _save(phase, actor, text, ["status", "completed_at", "completed_by"])
        record_sign(record=phase, signer=signer, meaning=Meaning.PERFORMED, reason=reason)
        _event(
            batch,
            BatchEventType.PHASE_COMPLETED,
            actor,
            phase=phase,
            data={"path": phase.path},
            at=now,
        )
        totals = dispensed_totals(phase)
        for item in phase.definition.get("inputs", []):
            total = totals.get(item["material_id"], Decimal(0))
            low, high = Decimal(item["quantity_min"]), Decimal(item["quantity_max"])
            if not low <= total <= high:
                _open_deviation(
                    batch,
                    phase,
                    actor,
                    f"{item['material']} dispensing outside tolerance",
                    f"{item['material']}: {_num(total)} {item['uom']} dispensed, target "
                    f"{item['quantity']} {item['uom']} (tolerance {item['quantity_min']} … "
                    f"{item['quantity_max']})",
                )
        hold_min = phase.definition.get("hold_min_minutes")
        hold_max = phase.definition.get("hold_max_minutes")
        if phase.started_at and (hold_min is not None or hold_max is not None):
            minutes = Decimal((now - phase.started_at).total_seconds() / 60).quantize(
                Decimal("0.1")
            )
            if (hold_min is not None and minutes < hold_min) or (
                hold_max is not None and minutes > hold_max
            ):
                _open_deviation(
                    batch,
                    phase,
                    actor,
                    "hold time breached",
                    f"Hold time {_num(minutes)} min is outside {hold_min if hold_min is not None else 0}"
                    f" … {hold_max if hold_max is not None else '∞'} min",
                )
        _feed_spc(batch, phase, actor, current)
    _on_commit(signals.phase_completed, batch_id=batch.pk, phase_id=phase.pk)
    return phase


@transaction.atomic
def phase_verify(
    *, actor: Any, phase: PhaseExecution, signer: AuthenticatedSigner, reason: str = ""
) -> PhaseExecution:
    """Second-person verification of a completed critical phase, signed "verified" by someone
    other than the performer (the signature policy's distinct_from)."""
    _require(actor, PERM_EXECUTE, "verify a phase")
    batch, phase = _lock_phase(phase)
    if phase.status != PhaseStatus.COMPLETED:
        raise PhaseNotActive(f"Phase {phase.path} is not completed; it cannot be verified yet.")
    if not phase.requires_verification:
        raise Conflict(
            f"Phase {phase.path} needs no verification.", code="verification_not_required"
        )
    if phase.verified_at is not None:
        raise Conflict(
            f"Phase {phase.path} was already verified by {phase.verified_by.get_username()}.",
            code="already_verified",
        )
    text = f"{batch.number} {phase.path} verified"
    with acting_as(actor, reason=text):
        record_sign(record=phase, signer=signer, meaning=Meaning.VERIFIED, reason=reason)
        phase.verified_at = timezone.now()
        phase.verified_by = actor
        _save(phase, actor, text, ["verified_at", "verified_by"])
        _event(batch, BatchEventType.PHASE_VERIFIED, actor, phase=phase, data={"path": phase.path})
    return phase


# --- yield, completion, release --------------------------------------------------------------


@transaction.atomic
def batch_record_yield(
    *,
    actor: Any,
    batch: BatchOrder,
    quantity: Any,
    lot_number: str | None = None,
    at: datetime | None = None,
) -> YieldRecord:
    """Record the product made: genealogy produces the lot (quarantine) linked to every
    consumption of the batch; a yield outside the window opens a deviation."""
    _require(actor, PERM_EXECUTE, "record the yield")
    at = _moment(at)
    batch = _lock_batch(batch)
    _ensure_batch_running(batch)
    theoretical = batch.control_recipe.get("theoretical_yield")
    if not theoretical:
        raise Conflict("The control recipe names no product output.", code="no_product_output")
    if batch.yields.filter(material_id=theoretical["material_id"]).exists():
        raise Conflict(f"The yield of {batch.number} is already recorded.", code="yield_recorded")
    material = Material.objects.get(pk=theoretical["material_id"])
    qty = in_uom(quantity, theoretical["uom"], theoretical["uom"])
    if qty <= 0:
        raise InvalidInput("A yield must be positive.", code="quantity_not_positive")
    expected = Decimal(theoretical["quantity"])
    low, high = Decimal(theoretical["low_quantity"]), Decimal(theoretical["high_quantity"])
    consumptions = list(
        LotEvent.objects.filter(
            pk__in=MaterialUse.objects.filter(phase__batch=batch).values("consumption_id")
        ).order_by("id")
    )
    reason = f"{batch.number} yield recorded"
    with acting_as(actor, reason=reason):
        lot = lot_produce(
            actor=actor,
            material=material,
            quantity=convert(qty, theoretical["uom"], material.uom),
            uom=material.uom,
            lot_number=lot_number or None,
            source={"kind": "batch", "ref": batch.number, "url": batch_url(batch)},
            consumptions=consumptions,
            occurred_at=at,
        )
        within = low <= qty <= high
        record = YieldRecord.objects.create(
            batch=batch,
            material=material,
            lot=lot,
            quantity=qty,
            uom=theoretical["uom"],
            expected_quantity=expected,
            low_quantity=low,
            high_quantity=high,
            yield_pct=YieldRecord.percent(qty, expected),
            is_within_range=within,
            recorded_by=actor,
            recorded_at=at,
        )
        batch.output_lot = lot
        _save(batch, actor, reason, ["output_lot"])
        _event(
            batch,
            BatchEventType.YIELD_RECORDED,
            actor,
            data={
                "lot": lot.lot_number,
                "quantity": _num(qty),
                "uom": record.uom,
                "yield_pct": str(record.yield_pct),
            },
            at=at,
        )
        if not within:
            _open_deviation(
                batch,
                None,
                actor,
                "yield outside range",
                f"Yield {_num(qty)} {record.uom} ({record.yield_pct} %) is outside "
                f"{theoretical['low_quantity']} … {theoretical['high_quantity']} {record.uom}",
            )
    return record


def batch_output_lots(batch: BatchOrder) -> list[Lot]:
    """The lots the batch produced (one per yield record), in the order recorded."""
    seen: dict[int, Lot] = {}
    for y in batch.yields.select_related("lot", "lot__material").order_by("id"):
        seen.setdefault(y.lot_id, y.lot)
    return list(seen.values())


def batch_completion_problems(batch: BatchOrder) -> list[str]:
    problems = []
    for phase in batch.phases.order_by("sequence"):
        if phase.status != PhaseStatus.COMPLETED:
            problems.append(f"{phase.path} {phase.name} is {phase.get_status_display().lower()}.")
        elif phase.requires_verification and phase.verified_at is None:
            problems.append(f"{phase.path} {phase.name} is not verified.")
    if batch.control_recipe.get("theoretical_yield") and not batch.yields.exists():
        problems.append("The yield is not recorded.")
    return problems


@transaction.atomic
def batch_complete(*, actor: Any, batch: BatchOrder, at: datetime | None = None) -> BatchOrder:
    """Every phase completed (and verified where required) and the yield recorded: the batch
    is completed and its unit released (dirty)."""
    _require(actor, PERM_EXECUTE, "complete a batch")
    at = _moment(at)
    batch = _lock_batch(batch)
    batch.ensure_can_become(BatchStatus.COMPLETED)
    problems = batch_completion_problems(batch)
    if problems:
        raise BatchIncomplete(f"Batch {batch.number} cannot be completed: " + " ".join(problems))
    reason = f"batch {batch.number} completed"
    with acting_as(actor, reason=reason):
        if batch.unit_id:
            unit_end_use(actor=actor, unit=batch.unit, batch_ref=batch.number, at=at)
        batch.status = BatchStatus.COMPLETED
        batch.completed_at = at
        _save(batch, actor, reason, ["status", "completed_at"])
        _event(batch, BatchEventType.COMPLETED, actor, at=at)
    _on_commit(signals.batch_completed, batch_id=batch.pk)
    return batch


@transaction.atomic
def batch_release(
    *, actor: Any, batch: BatchOrder, signer: AuthenticatedSigner, reason: str = ""
) -> BatchOrder:
    """QA releases the batch record (signed "released") and, with the same signature and in
    the same transaction, its output lot(s) through quality (`lot_release`: specification,
    results, overrides, the lot's own deviations; it sends `lot_released` on commit, which
    mixed mode listens to). Refused while a deviation against the batch is open, or with
    quality's reason when quality refuses a lot; then nothing is written."""
    _require(actor, PERM_RELEASE, "release a batch record")
    batch = _lock_batch(batch)
    batch.ensure_can_become(BatchStatus.RELEASED)
    open_deviations = list(deviations_open_for_source(kind=DEVIATION_KIND, ref=batch.number))
    if open_deviations:
        raise BatchNotReleasable(
            f"Batch {batch.number} has {len(open_deviations)} open deviation(s) ("
            + ", ".join(str(d) for d in open_deviations)
            + "); close them before the release."
        )
    text = f"batch {batch.number} released" + (f": {reason}" if reason else "")
    with acting_as(actor, reason=text):
        record_sign(record=batch, signer=signer, meaning=Meaning.RELEASED, reason=reason)
        batch.status = BatchStatus.RELEASED
        batch.released_at = timezone.now()
        _save(batch, actor, text, ["status", "released_at"])
        _event(batch, BatchEventType.RELEASED, actor, data={"reason": reason})
        for lot in batch_output_lots(batch):
            if lot.status == "released":  # QA already released it on quality's page
                continue
            try:
                disposition = lot_release(
                    actor=actor,
                    lot=lot,
                    signer=signer,
                    reason=f"batch record {batch.number} released"
                    + (f": {reason}" if reason else ""),
                )
            except DomainError as exc:
                raise type(exc)(
                    f"Batch {batch.number} cannot be released: its output lot {lot.lot_number} "
                    f"cannot be released: {exc.detail}",
                    code=exc.code,
                ) from exc
            _event(
                batch,
                BatchEventType.LOT_RELEASED,
                actor,
                data={"lot": lot.lot_number, "disposition_id": disposition.pk},
            )
    _on_commit(signals.batch_released, batch_id=batch.pk)
    return batch
