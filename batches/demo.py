"""The batches part of the demo plant (registered in BatchesConfig.ready, after equipment,
quality and recipes): on the current approved version of RESIN-PA in reactor R-101,

- batch B-DEMO-0001: every phase executed, one value out of limits (a deviation, classified
  minor and closed by QA), critical phases verified by the supervisor, the yield recorded,
  completed and released by QA (signed), which released its output lot through quality
  (a release specification for the product is made where missing, the lot's results entered);
- batch B-DEMO-0002: started in R-101 (after a verified cleaning) with its first phases done
  and the next one active: a batch in progress for the operator terminal.

The completed batch is recorded as happened in the hours after R-101's last logbook line (a
system import may give times; a person never can). Raw-material lots are received and
released through genealogy and quality (specifications are made where missing). Every
signature uses signer_for_system_command. Idempotent: when B-DEMO-0001 exists, nothing
changes.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Max
from django.utils import timezone

from batches import services
from batches.models import BatchOrder, PhaseExecution
from equipment import services as equipment_services
from equipment.models import Instrument, Unit
from genealogy import services as genealogy_services
from genealogy.models import Lot, Material
from mes.accounts.roles import Role
from mes.esign.services import signer_for_system_command
from quality import services as quality_services
from quality.models import Deviation
from quality.selectors import specification_approved_for
from recipes.models import MasterRecipe
from recipes.selectors import recipe_version_current_approved

RECIPE_CODE = "RESIN-PA"
UNIT_CODE = "R-101"
RELEASED, IN_PROGRESS = "B-DEMO-0001", "B-DEMO-0002"
PHASES_DONE_IN_PROGRESS = 3


def _value_for(param: dict[str, Any]) -> str:
    if param["data_type"] == "number":
        low, high, target = param.get("low_limit"), param.get("high_limit"), param.get("target")
        if target is not None:
            return str(target)
        if low is not None and high is not None:
            return str((Decimal(low) + Decimal(high)) / 2)
        return str(low or high or "1")
    if param["data_type"] == "choice":
        return param.get("expected_text") or (param.get("choices") or ["ok"])[0]
    if param["data_type"] == "yes_no":
        return param.get("expected_text") or "yes"
    return param.get("expected_text") or "as instructed"


def _out_of_limit(param: dict[str, Any]) -> str | None:
    if param["data_type"] == "number" and param.get("high_limit") is not None:
        return str(Decimal(param["high_limit"]) + 2)
    return None


def _specification(ctx: Any, material: Material, kind: str) -> Any:
    """The approved specification of `material`; a one-test demo one when there is none."""
    spec = specification_approved_for(material)
    if spec is not None:
        return spec
    qa = ctx.user(Role.QA_REVIEWER)
    spec = quality_services.specification_create(
        actor=ctx.actor,
        material=material,
        title=f"{material.code} {kind} specification (demo)",
        tests=({"name": "Identity", "method": "IR", "kind": "pass_fail"},),
        sample_count=1,
    )
    spec = quality_services.specification_approve(
        actor=qa, specification=spec, signer=signer_for_system_command(user=qa)
    )
    ctx.created(f"specification {spec} approved by {qa.username}")
    return spec


def _passing_results(qa: Any, lot: Lot, spec: Any) -> None:
    for test in spec.tests.all():
        if test.kind == "pass_fail":
            value = "pass"
        elif test.low is not None and test.high is not None:
            value = str((test.low + test.high) / 2)
        else:
            value = str(test.low if test.low is not None else test.high)
        quality_services.lab_result_enter(actor=qa, lot=lot, spec_test=test, value=value)


def _released_lot(ctx: Any, material: Material, quantity: Decimal, at: datetime) -> Lot:
    """A released lot of `material` holding `quantity`: an existing one, else received now
    (backdated to `at`) with passing results and released by QA."""
    lot = (
        Lot.objects.filter(material=material, status="released", quantity__gte=quantity)
        .order_by("id")
        .first()
    )
    if lot is not None:
        return lot
    qa = ctx.user(Role.QA_REVIEWER)
    spec = _specification(ctx, material, "incoming")
    number = f"{material.code}-DEMO-{Lot.objects.filter(material=material).count() + 1:03d}"
    lot = genealogy_services.lot_receive(
        actor=ctx.actor,
        material=material,
        lot_number=number,
        quantity=(quantity * Decimal("1.2")).quantize(Decimal("1")),
        supplier="Demo Supplier",
        supplier_lot_number=f"SUP-{number}",
        occurred_at=at,
    )
    _passing_results(qa, lot, spec)
    quality_services.lot_release(
        actor=qa, lot=lot, signer=signer_for_system_command(user=qa), reason="demo: passing"
    )
    ctx.created(f"lot {lot.lot_number} received and released")
    return Lot.objects.get(pk=lot.pk)


def _instrument(unit: Unit, kind: str) -> Instrument | None:
    qs = Instrument.objects.filter(kind=kind, is_active=True, status="in_service")
    return qs.filter(unit=unit).first() or qs.filter(area=unit.area).first() or qs.first()


def _run_phase(
    ctx: Any,
    phase: PhaseExecution,
    clock: datetime,
    *,
    out_of_limit: bool = False,
    complete: bool = True,
    overcharge: bool = False,
) -> tuple[datetime, bool]:
    """Execute one phase from `clock`; returns the new clock and whether a value was put out
    of limits. With `overcharge`, the first input is dispensed 1 % over and the rest returned
    to stock, as an operator does with the remainder of a drum."""
    operator, supervisor = ctx.user(Role.OPERATOR), ctx.user(Role.SUPERVISOR)
    unit = phase.batch.unit
    step = timedelta(minutes=5)
    phase = services.phase_start(actor=operator, phase=phase, at=clock)
    clock += step
    made_out = False
    for param in phase.definition.get("parameters", []):
        value = _value_for(param)
        if out_of_limit and not made_out and _out_of_limit(param) is not None:
            value, made_out = _out_of_limit(param), True
        instrument = (
            _instrument(unit, param.get("instrument_kind") or "")
            if param.get("instrument_required")
            else None
        )
        services.parameter_value_record(
            actor=operator,
            phase=phase,
            name=param["name"],
            value=value,
            instrument=instrument,
            at=clock,
        )
        clock += timedelta(minutes=1)
    for item in phase.definition.get("inputs", []):
        material = Material.objects.get(pk=item["material_id"])
        quantity = Decimal(item["quantity"])
        extra = (quantity / 100).quantize(Decimal("0.1")) if overcharge else Decimal(0)
        overcharge = False
        lot = _released_lot(ctx, material, quantity + extra, clock - timedelta(hours=1))
        use = services.material_dispense(
            actor=operator,
            phase=phase,
            lot=lot,
            quantity=quantity + extra,
            uom=item["uom"],
            at=clock,
        )
        clock += timedelta(minutes=2)
        if extra:
            services.material_return(
                actor=operator,
                use=use,
                quantity=extra,
                kind="returned",
                reason="remainder of the drum returned to stock",
                at=clock,
            )
            clock += timedelta(minutes=1)
    if not complete:
        return clock, made_out
    hold = phase.definition.get("hold_min_minutes") or 0
    clock = max(clock, phase.started_at + timedelta(minutes=hold)) + step
    services.phase_complete(
        actor=operator, phase=phase, signer=signer_for_system_command(user=operator), at=clock
    )
    if phase.requires_verification:
        services.phase_verify(
            actor=supervisor, phase=phase, signer=signer_for_system_command(user=supervisor)
        )
    return clock + step, made_out


def _make_unit_clean(ctx: Any, unit: Unit, at: datetime) -> None:
    equipment_services.unit_record_cleaning(
        actor=ctx.user(Role.OPERATOR), unit=unit, cleaning_type="major", at=at
    )
    equipment_services.unit_verify_cleaning(
        actor=ctx.user(Role.SUPERVISOR), unit=unit, at=at + timedelta(minutes=30)
    )


def build_demo_batches(ctx: Any) -> None:
    if BatchOrder.objects.filter(number=RELEASED).exists():
        return
    recipe = MasterRecipe.objects.filter(code=RECIPE_CODE).first()
    unit = Unit.objects.filter(code=UNIT_CODE).first()
    version = recipe_version_current_approved(recipe) if recipe else None
    if version is None or unit is None:
        ctx.write(f"  (batches: needs recipe {RECIPE_CODE} and unit {UNIT_CODE}; skipped)")
        return
    planner, operator = ctx.user(Role.PLANNER), ctx.user(Role.OPERATOR)
    qa = ctx.user(Role.QA_REVIEWER)
    size = version.batch_size_reference
    last = unit.log_entries.aggregate(last=Max("at"))["last"]
    now = timezone.now()
    clock = max(last or now - timedelta(hours=18), now - timedelta(hours=18)) + timedelta(
        minutes=10
    )
    if clock > now - timedelta(hours=12):
        ctx.write("  (batches: R-101's logbook is too recent for the demo history; skipped)")
        return

    # 1. a completed, released batch with a (closed) deviation
    batch = services.batch_order_create(
        actor=planner, recipe_version_id=version.pk, batch_size=size, number=RELEASED
    )
    from equipment.services import unit_usability

    if not unit_usability(unit, product_code=batch.control_recipe["product"]["code"], at=clock)[0]:
        _make_unit_clean(ctx, unit, clock)
        clock += timedelta(hours=1)
    batch = services.batch_start(actor=operator, batch=batch, unit=unit, at=clock)
    deviated, returned = False, False
    for phase in batch.phases.order_by("sequence"):
        charges = bool(phase.definition.get("inputs")) and not returned
        clock, made = _run_phase(ctx, phase, clock, out_of_limit=not deviated, overcharge=charges)
        deviated, returned = deviated or made, returned or charges
    theoretical = batch.control_recipe["theoretical_yield"]
    services.batch_record_yield(
        actor=operator,
        batch=batch,
        quantity=Decimal(theoretical["quantity"]) * Decimal("0.98"),
        lot_number=f"{RELEASED}-P",
        at=clock,
    )
    services.batch_complete(actor=operator, batch=batch, at=clock + timedelta(minutes=10))
    for deviation in Deviation.objects.filter(source_kind="batch", source_ref=RELEASED):
        quality_services.deviation_classify(
            actor=qa, deviation=deviation, classification="minor", reason="demo"
        )
        quality_services.deviation_close(
            actor=qa,
            deviation=deviation,
            signer=signer_for_system_command(user=qa),
            closure_summary="Reading taken before the probe settled; repeat reading in limits. "
            "No impact on product quality.",
        )
    # the release signature also releases the output lot through quality: its results first
    output = BatchOrder.objects.get(pk=batch.pk).output_lot
    _passing_results(qa, output, _specification(ctx, output.material, "release"))
    services.batch_release(
        actor=qa,
        batch=batch,
        signer=signer_for_system_command(user=qa),
        reason="Record reviewed by exception; deviation closed.",
    )
    ctx.created(f"batch {RELEASED} of {RECIPE_CODE}: executed, deviation closed, released")

    # 2. a batch in progress
    clock = max(clock + timedelta(hours=1), now - timedelta(hours=3))
    _make_unit_clean(ctx, unit, clock)
    clock += timedelta(hours=1)
    batch = services.batch_order_create(
        actor=planner, recipe_version_id=version.pk, batch_size=size, number=IN_PROGRESS
    )
    batch = services.batch_start(actor=operator, batch=batch, unit=unit, at=clock)
    phases = list(batch.phases.order_by("sequence")[: PHASES_DONE_IN_PROGRESS + 1])
    for phase in phases[:-1]:
        clock, _ = _run_phase(ctx, phase, clock)
    _run_phase(ctx, phases[-1], min(clock, timezone.now() - timedelta(minutes=5)), complete=False)
    ctx.created(f"batch {IN_PROGRESS} in progress in {UNIT_CODE}")
