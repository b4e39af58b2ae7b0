"""The recipes part of the demo plant (registered in RecipesConfig.ready, after genealogy and
equipment): master recipe RESIN-PA for the resin solution PS-RESIN made in reactor R-101.

Version 1 (18 phases) was written by the recipe author and approved by QA; version 2 (20
phases: a chase initiator shot and its hold, tighter reaction temperature and viscosity
limits) was written by the author, approved by QA, and superseded version 1. Everything goes
through recipes.services, signed with signer_for_system_command (the demo prints the
passwords). Idempotent: when RESIN-PA exists, nothing changes.
"""

from typing import Any

from genealogy import services as genealogy_services
from genealogy.choices import MaterialKind, UnitOfMeasure
from genealogy.models import Material
from mes.accounts.roles import Role
from mes.esign.services import signer_for_system_command
from recipes import services
from recipes.models import MasterRecipe, Phase

RECIPE_CODE = "RESIN-PA"
# code, name, kind, uom (the first four come from the genealogy demo when it ran first)
MATERIALS = [
    ("PS-RESIN", "Polystyrene resin solution", MaterialKind.INTERMEDIATE, UnitOfMeasure.KILOGRAM),
    ("STY", "Styrene monomer", MaterialKind.RAW, UnitOfMeasure.KILOGRAM),
    ("BPO", "Benzoyl peroxide initiator", MaterialKind.RAW, UnitOfMeasure.KILOGRAM),
    ("XYL", "Xylene solvent", MaterialKind.RAW, UnitOfMeasure.LITRE),
    ("DIST-XYL", "Recovered xylene distillate", MaterialKind.INTERMEDIATE, UnitOfMeasure.LITRE),
]
REACTOR = {"equipment_class": "reactor", "min_volume_l": "2000", "capabilities": ["glass-lined"]}


def _yes(name: str) -> dict[str, Any]:
    return {"name": name, "data_type": "yes_no", "expected_text": "yes"}


def _num(
    name: str, unit: str, low: str | None, target: str | None, high: str | None, **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "unit": unit,
        "data_type": "number",
        "low_limit": low,
        "target": target,
        "high_limit": high,
        **extra,
    }


def _probe(**extra: Any) -> dict[str, Any]:
    return {"instrument_required": True, "instrument_kind": "temperature_probe", **extra}


def version_1_tree(requirement: dict[str, Any]) -> dict[str, Any]:
    """18 phases: preparation, reaction, thinning, filtration and discharge."""
    return {
        "description": "Solution polymerisation of styrene in xylene, thinned to 50 % solids.",
        "unit_procedures": [
            {
                "name": "Polymerisation",
                "operations": [
                    {
                        "name": "Preparation",
                        "phases": [
                            {
                                "name": "Verify reactor clean and empty",
                                "instructions": "Check the cleaning label and the logbook; look "
                                "into the reactor through the manway; close the bottom valve.",
                                "requires_verification": True,
                                **requirement,
                                "parameters": [_yes("Reactor clean"), _yes("Bottom valve closed")],
                            },
                            {
                                "name": "Charge solvent",
                                "instructions": "Charge xylene through the flow meter.",
                                "parameters": [_num("Charge temperature", "°C", "15", "20", "30")],
                                "inputs": [
                                    {"material": "XYL", "quantity": "1000", "tolerance_pct": "1"}
                                ],
                            },
                            {
                                "name": "Charge monomer",
                                "instructions": "Charge styrene from the day tank with the "
                                "agitator running.",
                                "requires_verification": True,
                                "parameters": [_num("Agitator speed", "rpm", "60", "75", "90")],
                                "inputs": [
                                    {"material": "STY", "quantity": "1500", "tolerance_pct": "0.5"}
                                ],
                            },
                            {
                                "name": "Inert with nitrogen",
                                "instructions": "Pressure-purge three times with nitrogen to "
                                "below 2 % oxygen.",
                                "can_run_parallel_with_previous": True,
                                "parameters": [
                                    _num("Purge cycles", "", "3", "3", "5"),
                                    _num("Oxygen content", "%", "0", "0.5", "2"),
                                ],
                            },
                        ],
                    },
                    {
                        "name": "Reaction",
                        "phases": [
                            {
                                "name": "Heat to reaction temperature",
                                "instructions": "Heat with the jacket to 90 °C.",
                                "hold_max_minutes": 120,
                                "parameters": [
                                    _num("Jacket temperature", "°C", "100", "115", "130"),
                                    _num("Batch temperature", "°C", "85", "90", "95", **_probe()),
                                ],
                            },
                            {
                                "name": "Charge initiator",
                                "instructions": "Add the benzoyl peroxide in portions over "
                                "45 minutes; watch the exotherm.",
                                "is_critical": True,
                                "parameters": [_num("Addition time", "min", "30", "45", "60")],
                                "inputs": [
                                    {"material": "BPO", "quantity": "30", "tolerance_pct": "2"}
                                ],
                            },
                            {
                                "name": "React hold",
                                "instructions": "Hold at reaction temperature.",
                                "hold_min_minutes": 180,
                                "hold_max_minutes": 240,
                                "is_critical": True,
                                "parameters": [
                                    _num("Reaction temperature", "°C", "85", "90", "95", **_probe())
                                ],
                            },
                            {
                                "name": "Sample IPC viscosity",
                                "instructions": "Take a 100 mL sample; measure viscosity and "
                                "solids in the lab.",
                                "parameters": [
                                    _num("Viscosity", "mPa·s", "700", "1000", "1300"),
                                    _num("Solids content", "%", "58", "60", "62"),
                                    {"name": "Sample ID", "data_type": "text"},
                                ],
                            },
                            {
                                "name": "Strip residual monomer",
                                "instructions": "Apply vacuum; collect the distillate.",
                                "hold_max_minutes": 90,
                                "parameters": [_num("Vacuum", "mbar", "100", "150", "200")],
                                "outputs": [
                                    {
                                        "material": "DIST-XYL",
                                        "kind": "by_product",
                                        "expected_quantity": "50",
                                        "yield_low_pct": "0",
                                        "yield_high_pct": "300",
                                    }
                                ],
                            },
                            {
                                "name": "Cool",
                                "instructions": "Cool to 60 °C with the jacket.",
                                "hold_max_minutes": 90,
                                "parameters": [
                                    _num("Batch temperature", "°C", "55", "60", "65", **_probe())
                                ],
                            },
                        ],
                    },
                    {
                        "name": "Thinning",
                        "phases": [
                            {
                                "name": "Charge thinning solvent",
                                "instructions": "Charge xylene to thin to 50 % solids.",
                                "inputs": [
                                    {"material": "XYL", "quantity": "700", "tolerance_pct": "1"}
                                ],
                            },
                            {
                                "name": "Mix",
                                "instructions": "Mix until homogeneous.",
                                "hold_min_minutes": 30,
                                "parameters": [_num("Mixing time", "min", "30", "45", "60")],
                            },
                            {
                                "name": "Sample final",
                                "instructions": "Take the final QC sample.",
                                "is_critical": True,
                                "parameters": [
                                    _num("Viscosity", "mPa·s", "400", "500", "600"),
                                    {
                                        "name": "Appearance",
                                        "data_type": "choice",
                                        "choices": ["clear", "hazy", "gel particles"],
                                        "expected_text": "clear",
                                    },
                                ],
                            },
                        ],
                    },
                ],
            },
            {
                "name": "Filtration and discharge",
                "operations": [
                    {
                        "name": "Filtration",
                        "phases": [
                            {
                                "name": "Set up filter",
                                "instructions": "Fit a new bag filter; check the housing seal.",
                                "requires_verification": True,
                                **requirement,
                                "parameters": [
                                    {
                                        "name": "Filter mesh",
                                        "data_type": "choice",
                                        "choices": ["10 µm", "25 µm"],
                                        "expected_text": "25 µm",
                                    },
                                    _yes("Filter integrity checked"),
                                ],
                            },
                            {
                                "name": "Filter resin",
                                "instructions": "Pump through the filter into the drums.",
                                "hold_max_minutes": 180,
                                "parameters": [
                                    _num("Differential pressure", "bar", None, None, "2.5")
                                ],
                            },
                        ],
                    },
                    {
                        "name": "Discharge",
                        "phases": [
                            {
                                "name": "Discharge and weigh",
                                "instructions": "Discharge into drums on the floor scale; "
                                "record the net weight.",
                                "is_critical": True,
                                "parameters": [
                                    _num(
                                        "Net weight",
                                        "kg",
                                        None,
                                        None,
                                        None,
                                        instrument_required=True,
                                        instrument_kind="scale",
                                    )
                                ],
                                "outputs": [
                                    {
                                        "material": "PS-RESIN",
                                        "kind": "product",
                                        "expected_quantity": "3000",
                                        "yield_low_pct": "95",
                                        "yield_high_pct": "101",
                                    }
                                ],
                            },
                            {
                                "name": "Retain sample",
                                "instructions": "Fill and label the retain sample.",
                                "parameters": [_yes("Retain sample taken")],
                            },
                            {
                                "name": "Release reactor for cleaning",
                                "instructions": "Confirm the reactor is empty; hang the DIRTY tag.",
                                "parameters": [_yes("Reactor empty")],
                            },
                        ],
                    },
                ],
            },
        ],
    }


def _materials(ctx: Any) -> dict[str, Material]:
    found = {}
    for code, name, kind, uom in MATERIALS:
        material = Material.objects.filter(code=code).first()
        if material is None:
            material = genealogy_services.material_create(
                actor=ctx.actor, code=code, name=name, uom=uom, kind=kind
            )
            ctx.created(f"material {code}")
        found[code] = material
    return found


def _requirement() -> dict[str, Any]:
    from equipment.models import Capability, EquipmentClass

    if not EquipmentClass.objects.filter(name__iexact="reactor").exists():
        return {}
    capabilities = [
        c for c in REACTOR["capabilities"] if Capability.objects.filter(code=c).exists()
    ]
    return {**REACTOR, "capabilities": capabilities}


def _phase(version: Any, path: tuple[int, int, int]) -> Phase:
    up, op, ph = path
    return Phase.objects.get(
        operation__unit_procedure__version=version,
        operation__unit_procedure__position=up,
        operation__position=op,
        position=ph,
    )


def build_demo_recipes(ctx: Any) -> None:
    """The demo step: `ctx` is a mes.registry.DemoContext."""
    if MasterRecipe.objects.filter(code=RECIPE_CODE).exists():
        return
    author, qa = ctx.user(Role.RECIPE_AUTHOR), ctx.user(Role.QA_REVIEWER)
    materials = _materials(ctx)
    recipe = services.master_recipe_create(
        actor=author,
        code=RECIPE_CODE,
        name="Resin solution, process A (polystyrene in xylene)",
        product=materials["PS-RESIN"],
        batch_size_min="2000",
        batch_size_max="4000",
        batch_size_reference="3000",
        description="Filled into 20 kg pails on line PK (PS-RESIN-P20).",
    )
    v1 = recipe.versions.get(number=1)
    services.recipe_version_tree_replace(
        actor=author, version=v1, tree=version_1_tree(_requirement())
    )
    services.recipe_version_submit(
        actor=author,
        version=v1,
        signer=signer_for_system_command(user=author),
        reason="First issue",
    )
    services.recipe_version_approve(
        actor=qa, version=v1, signer=signer_for_system_command(user=qa), reason="Reviewed"
    )
    ctx.created(f"recipe {RECIPE_CODE} version 1 (18 phases), approved by {qa.username}")

    v2 = services.recipe_version_create_next(actor=author, recipe=recipe)
    services.recipe_version_update(
        actor=author,
        version=v2,
        changes={
            "change_summary": "Chase initiator shot and hold after the react hold (residual "
            "monomer); reaction temperature 88–92 °C; IPC viscosity 800–1200 mPa·s."
        },
    )
    react_hold = _phase(v2, (1, 2, 3))
    services.phase_parameter_update(
        actor=author,
        parameter=react_hold.parameters.get(name="Reaction temperature"),
        changes={"low_limit": "88", "high_limit": "92"},
    )
    services.phase_parameter_update(
        actor=author,
        parameter=_phase(v2, (1, 2, 4)).parameters.get(name="Viscosity"),
        changes={"low_limit": "800", "high_limit": "1200"},
    )
    chase = services.phase_add(
        actor=author,
        operation=react_hold.operation,
        values={
            "name": "Chase initiator",
            "instructions": "Add the chase shot of benzoyl peroxide.",
            "is_critical": True,
        },
        position=4,
    )
    services.phase_input_add(
        actor=author, phase=chase, values={"material": "BPO", "quantity": "3", "tolerance_pct": "5"}
    )
    hold = services.phase_add(
        actor=author,
        operation=react_hold.operation,
        values={
            "name": "Hold after chase",
            "instructions": "Hold at reaction temperature.",
            "hold_min_minutes": 60,
            "hold_max_minutes": 90,
        },
        position=5,
    )
    services.phase_parameter_add(
        actor=author,
        phase=hold,
        values=_num("Reaction temperature", "°C", "88", "90", "92", **_probe()),
    )
    services.recipe_version_submit(
        actor=author, version=v2, signer=signer_for_system_command(user=author), reason="Ready"
    )
    services.recipe_version_approve(
        actor=qa, version=v2, signer=signer_for_system_command(user=qa), reason="Reviewed"
    )
    ctx.created(f"recipe {RECIPE_CODE} version 2 (20 phases), approved; version 1 superseded")
