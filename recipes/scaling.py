"""Scaling a recipe version to a batch size: the control-recipe snapshot a batch freezes.

    snapshot = scale_version(version, Decimal("4000"))

Scalable inputs and every expected output are multiplied by batch size / reference size
(computed as quantity × size ÷ reference, then rounded half-up to 6 decimal places, the
precision of genealogy quantities); fixed inputs keep their quantity. Each input carries its
tolerance window, each output its expected range from the yield limits, and the snapshot the
theoretical yield of the product. A batch size outside the version's range is refused.
Numbers are canonical decimal strings ("1600", "3998.4"); the snapshot is plain JSON.
"""

from collections import OrderedDict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from genealogy.quantities import convert
from recipes.content import dec
from recipes.exceptions import BatchSizeOutOfRange
from recipes.models import Phase, RecipeVersion
from recipes.selectors import recipe_version_tree
from recipes.validation import decimal

SNAPSHOT_SCHEMA = "mes.control_recipe.v1"
_PLACES = Decimal("0.000001")
_HUNDRED = Decimal(100)


def _q(value: Decimal) -> Decimal:
    return value.quantize(_PLACES, rounding=ROUND_HALF_UP)


def scaled(quantity: Decimal, batch_size: Decimal, reference: Decimal) -> Decimal:
    """`quantity` (given for `reference`) at `batch_size`, rounded to 6 places."""
    return _q(quantity * batch_size / reference)


def _requirement(phases: list[Phase]) -> dict[str, Any] | None:
    """The equipment a unit procedure needs: the class its phases name, the largest minimum
    volume and every capability any phase asks for."""
    classes = [p.equipment_class for p in phases if p.equipment_class_id]
    if not classes:
        return None
    volumes = [p.min_volume_l for p in phases if p.min_volume_l is not None]
    capabilities = sorted({c.code for p in phases for c in p.capabilities.all()})
    return {
        "equipment_class": classes[0].name,
        "equipment_class_id": classes[0].pk,
        "min_volume_l": dec(max(volumes)) if volumes else None,
        "capabilities": capabilities,
    }


def batch_size_check(
    version: RecipeVersion, batch_size: Any, batch_size_uom: str | None = None
) -> Decimal:
    """The batch size in the version's unit, or BatchSizeOutOfRange (400) with the range."""
    size = decimal(batch_size, field="batch_size", label="batch size", required=True)
    if batch_size_uom and batch_size_uom != version.batch_size_uom:
        size = convert(size, batch_size_uom, version.batch_size_uom)
    uom = version.batch_size_uom
    if size <= 0 or size < version.batch_size_min or size > version.batch_size_max:
        raise BatchSizeOutOfRange(
            f"The batch size {dec(size)} {uom} is outside the range of version "
            f"{version.number} of {version.recipe.code}: {dec(version.batch_size_min)} to "
            f"{dec(version.batch_size_max)} {uom}."
        )
    return size


def scale_version(
    version: RecipeVersion, batch_size: Any, *, batch_size_uom: str | None = None
) -> dict[str, Any]:
    """The control-recipe snapshot of `version` at `batch_size` (see the module doc)."""
    from mes.esign.hashing import record_content_hash

    size = batch_size_check(version, batch_size, batch_size_uom)
    reference = version.batch_size_reference
    recipe = version.recipe
    product = recipe.product
    totals: OrderedDict[int, dict[str, Any]] = OrderedDict()
    outputs: list[dict[str, Any]] = []
    unit_procedures = []
    phase_count = 0
    for up in recipe_version_tree(version):
        up_path = f"UP{up.position}"
        up_phases: list[Phase] = []
        operations = []
        for op in up.operations.all():
            op_path = f"{up_path}/OP{op.position}"
            phases = []
            for ph in op.phases.all():
                phase_count += 1
                up_phases.append(ph)
                ph_path = f"{op_path}/PH{ph.position}"
                phase_inputs = []
                for item in ph.inputs.all():
                    quantity = (
                        scaled(item.quantity, size, reference)
                        if item.is_scalable
                        else item.quantity
                    )
                    window = _q(quantity * item.tolerance_pct / _HUNDRED)
                    phase_inputs.append(
                        {
                            "material_id": item.material_id,
                            "material": item.material.code,
                            "material_name": item.material.name,
                            "quantity_reference": dec(item.quantity),
                            "quantity": dec(quantity),
                            "uom": item.uom,
                            "tolerance_pct": dec(item.tolerance_pct),
                            "quantity_min": dec(quantity - window),
                            "quantity_max": dec(quantity + window),
                            "is_scalable": item.is_scalable,
                            "note": item.note,
                        }
                    )
                    total = totals.setdefault(
                        item.material_id,
                        {
                            "material_id": item.material_id,
                            "material": item.material.code,
                            "material_name": item.material.name,
                            "quantity": Decimal(0),
                            "uom": item.material.uom,
                        },
                    )
                    total["quantity"] += convert(quantity, item.uom, item.material.uom)
                phase_outputs = []
                for out in ph.outputs.all():
                    expected = scaled(out.expected_quantity, size, reference)
                    row = {
                        "material_id": out.material_id,
                        "material": out.material.code,
                        "material_name": out.material.name,
                        "kind": out.kind,
                        "expected_quantity_reference": dec(out.expected_quantity),
                        "expected_quantity": dec(expected),
                        "uom": out.uom,
                        "yield_low_pct": dec(out.yield_low_pct),
                        "yield_high_pct": dec(out.yield_high_pct),
                        "expected_min": dec(_q(expected * out.yield_low_pct / _HUNDRED)),
                        "expected_max": dec(_q(expected * out.yield_high_pct / _HUNDRED)),
                    }
                    phase_outputs.append(row)
                    outputs.append({"phase_path": ph_path, **row})
                phases.append(
                    {
                        "path": ph_path,
                        "position": ph.position,
                        "phase_id": ph.pk,
                        "name": ph.name,
                        "instructions": ph.instructions,
                        "can_run_parallel_with_previous": ph.can_run_parallel_with_previous,
                        "hold_min_minutes": ph.hold_min_minutes,
                        "hold_max_minutes": ph.hold_max_minutes,
                        "requires_verification": ph.requires_verification,
                        "is_critical": ph.is_critical,
                        "equipment_requirement": _requirement([ph]),
                        "parameters": [
                            {
                                "name": p.name,
                                "unit": p.unit,
                                "data_type": p.data_type,
                                "choices": list(p.choices or []),
                                "target": dec(p.target),
                                "low_limit": dec(p.low_limit),
                                "high_limit": dec(p.high_limit),
                                "expected_text": p.expected_text,
                                "is_required": p.is_required,
                                "instrument_required": p.instrument_required,
                                "instrument_kind": p.instrument_kind,
                            }
                            for p in ph.parameters.all()
                        ],
                        "inputs": phase_inputs,
                        "outputs": phase_outputs,
                    }
                )
            operations.append(
                {
                    "path": op_path,
                    "position": op.position,
                    "name": op.name,
                    "description": op.description,
                    "phases": phases,
                }
            )
        unit_procedures.append(
            {
                "path": up_path,
                "position": up.position,
                "name": up.name,
                "description": up.description,
                "equipment_requirement": _requirement(up_phases),
                "operations": operations,
            }
        )
    product_outputs = [o for o in outputs if o["kind"] == "product"]
    theoretical = None
    if product_outputs:
        main = product_outputs[0]
        theoretical = {
            "material_id": main["material_id"],
            "material": main["material"],
            "quantity": main["expected_quantity"],
            "uom": main["uom"],
            "yield_low_pct": main["yield_low_pct"],
            "yield_high_pct": main["yield_high_pct"],
            "low_quantity": main["expected_min"],
            "high_quantity": main["expected_max"],
            "phase_path": main["phase_path"],
        }
    return {
        "schema": SNAPSHOT_SCHEMA,
        "recipe": {"id": recipe.pk, "code": recipe.code, "name": recipe.name},
        "product": {
            "id": product.pk,
            "code": product.code,
            "name": product.name,
            "uom": product.uom,
        },
        "version": {
            "id": version.pk,
            "number": version.number,
            "status": version.status,
            "approved_at": version.approved_at.isoformat() if version.approved_at else None,
            "approved_by": version.approved_by.printed_name if version.approved_by_id else None,
            "content_hash": record_content_hash(version),
        },
        "batch_size": dec(size),
        "batch_size_uom": version.batch_size_uom,
        "batch_size_min": dec(version.batch_size_min),
        "batch_size_max": dec(version.batch_size_max),
        "reference_batch_size": dec(reference),
        "scale_factor": dec(_q(size / reference)),
        "phase_count": phase_count,
        "unit_procedures": unit_procedures,
        "inputs": [{**t, "quantity": dec(t["quantity"])} for t in totals.values()],
        "outputs": outputs,
        "theoretical_yield": theoretical,
    }
