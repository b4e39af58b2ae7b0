"""The content of a recipe version as one plain dict: what the approval signature vouches for,
what the API exports and accepts back (PUT .../tree/), what the diff compares and what
"new version" copies.

    {"recipe": "RESIN-PA", "product": "RESIN-PA", "version": 2,
     "batch_size_min": "2000", ..., "unit_procedures": [
        {"name": ..., "operations": [{"name": ..., "phases": [
            {"name": ..., "parameters": [...], "inputs": [...], "outputs": [...]}]}]}]}

Materials are named by code, equipment classes by name, capabilities by code; numbers are
canonical decimal strings ("2000", "0.5"); lists are in position order. The lifecycle
(status, who approved it when) is not content: superseding a version leaves its approval
signature valid, any edit of the content does not.
"""

from collections import defaultdict
from decimal import Decimal
from typing import Any

from recipes.models import (
    Operation,
    Phase,
    PhaseInput,
    PhaseOutput,
    PhaseParameter,
    RecipeVersion,
    UnitProcedure,
)


def dec(value: Decimal | None) -> str | None:
    """A canonical decimal string: no exponent, no trailing zeros ("2000", "0.5", "-1")."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def parameter_content(p: PhaseParameter) -> dict[str, Any]:
    return {
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


def input_content(i: PhaseInput) -> dict[str, Any]:
    return {
        "material": i.material.code,
        "quantity": dec(i.quantity),
        "uom": i.uom,
        "tolerance_pct": dec(i.tolerance_pct),
        "is_scalable": i.is_scalable,
        "note": i.note,
    }


def output_content(o: PhaseOutput) -> dict[str, Any]:
    return {
        "material": o.material.code,
        "kind": o.kind,
        "expected_quantity": dec(o.expected_quantity),
        "uom": o.uom,
        "yield_low_pct": dec(o.yield_low_pct),
        "yield_high_pct": dec(o.yield_high_pct),
    }


def phase_content(
    ph: Phase,
    parameters: list[PhaseParameter],
    inputs: list[PhaseInput],
    outputs: list[PhaseOutput],
    capabilities: list[str],
) -> dict[str, Any]:
    return {
        "name": ph.name,
        "instructions": ph.instructions,
        "can_run_parallel_with_previous": ph.can_run_parallel_with_previous,
        "hold_min_minutes": ph.hold_min_minutes,
        "hold_max_minutes": ph.hold_max_minutes,
        "requires_verification": ph.requires_verification,
        "is_critical": ph.is_critical,
        "equipment_class": ph.equipment_class.name if ph.equipment_class_id else None,
        "min_volume_l": dec(ph.min_volume_l),
        "capabilities": sorted(capabilities),
        "parameters": [parameter_content(p) for p in parameters],
        "inputs": [input_content(i) for i in inputs],
        "outputs": [output_content(o) for o in outputs],
    }


def version_content(version: RecipeVersion) -> dict[str, Any]:
    """The whole version tree, read in seven queries whatever its size."""
    recipe = version.recipe
    ups = list(UnitProcedure.objects.filter(version=version).order_by("position"))
    ops = list(
        Operation.objects.filter(unit_procedure__version=version).order_by(
            "unit_procedure_id", "position"
        )
    )
    phases = list(
        Phase.objects.filter(operation__unit_procedure__version=version)
        .select_related("equipment_class")
        .order_by("operation_id", "position")
    )
    in_version = {"phase__operation__unit_procedure__version": version}
    params = PhaseParameter.objects.filter(**in_version).order_by("phase_id", "position")
    inputs = (
        PhaseInput.objects.filter(**in_version)
        .select_related("material")
        .order_by("phase_id", "position")
    )
    outputs = (
        PhaseOutput.objects.filter(**in_version)
        .select_related("material")
        .order_by("phase_id", "position")
    )
    caps = Phase.capabilities.through.objects.filter(
        phase__operation__unit_procedure__version=version
    ).values_list("phase_id", "capability__code")

    by_phase: dict[str, dict[int, list[Any]]] = {
        "parameters": defaultdict(list),
        "inputs": defaultdict(list),
        "outputs": defaultdict(list),
        "capabilities": defaultdict(list),
    }
    for p in params:
        by_phase["parameters"][p.phase_id].append(p)
    for i in inputs:
        by_phase["inputs"][i.phase_id].append(i)
    for o in outputs:
        by_phase["outputs"][o.phase_id].append(o)
    for phase_id, code in caps:
        by_phase["capabilities"][phase_id].append(code)
    phases_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ph in phases:
        phases_of[ph.operation_id].append(
            phase_content(
                ph,
                by_phase["parameters"][ph.pk],
                by_phase["inputs"][ph.pk],
                by_phase["outputs"][ph.pk],
                by_phase["capabilities"][ph.pk],
            )
        )
    ops_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for op in ops:
        ops_of[op.unit_procedure_id].append(
            {"name": op.name, "description": op.description, "phases": phases_of[op.pk]}
        )
    return {
        "recipe": recipe.code,
        "product": recipe.product.code,
        "version": version.number,
        "batch_size_min": dec(version.batch_size_min),
        "batch_size_max": dec(version.batch_size_max),
        "batch_size_reference": dec(version.batch_size_reference),
        "batch_size_uom": version.batch_size_uom,
        "description": version.description,
        "change_summary": version.change_summary,
        "unit_procedures": [
            {"name": up.name, "description": up.description, "operations": ops_of[up.pk]}
            for up in ups
        ],
    }


def iter_phases(content: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """("UP1/OP2/PH3", phase dict) for every phase of a content dict, in order."""
    found = []
    for u, up in enumerate(content["unit_procedures"], 1):
        for o, op in enumerate(up["operations"], 1):
            for p, ph in enumerate(op["phases"], 1):
                found.append((f"UP{u}/OP{o}/PH{p}", ph))
    return found
