"""Factories of recipes. Recipes are built THROUGH the services (a version's tree, positions
and events must be what the services make); signatures go through signer_authenticate, as in
production (so a test that signs runs outside any atomic block of its own)."""

from decimal import Decimal
from typing import Any

import factory
from django.test import RequestFactory

from equipment.models import Capability, EquipmentClass
from genealogy.choices import MaterialKind
from genealogy.tests.factories import MaterialFactory
from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.esign.services import AuthenticatedSigner, signer_authenticate
from recipes import services
from recipes.models import MasterRecipe, RecipeVersion


class EquipmentClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EquipmentClass
        django_get_or_create = ("name",)

    name = "reactor"
    description = "Stirred batch reactor"


class CapabilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Capability
        django_get_or_create = ("code",)

    code = "glass-lined"
    name = "Glass-lined"


def signer_for(user: Any, password: str = DEFAULT_PASSWORD) -> AuthenticatedSigner:
    """What the e-sign form produces for `user` (user ID and password checked)."""
    request = RequestFactory().post("/sign/", REMOTE_ADDR="10.0.0.7")
    request.user = user
    return signer_authenticate(
        request=request, actor=user, username=user.get_username(), password=password
    )


def materials() -> dict[str, Any]:
    """The materials of the standard test recipe (all in kg)."""
    return {
        "product": MaterialFactory(
            code="RESIN-T", name="Test resin", kind=MaterialKind.INTERMEDIATE
        ),
        "monomer": MaterialFactory(code="RM-MONO", name="Monomer"),
        "solvent": MaterialFactory(code="RM-SOLV", name="Solvent"),
        "initiator": MaterialFactory(code="RM-INIT", name="Initiator"),
        "filter_aid": MaterialFactory(code="RM-AID", name="Filter aid"),
        "distillate": MaterialFactory(
            code="BP-DIST", name="Distillate", kind=MaterialKind.INTERMEDIATE
        ),
    }


def standard_tree() -> dict[str, Any]:
    """UP1 Polymerisation: OP1 Charge (PH1 monomer, PH2 solvent in parallel), OP2 React (PH1
    react hold, critical; PH2 filter with the product and a by-product). Reference 2500 kg."""
    EquipmentClassFactory()
    CapabilityFactory()
    return {
        "unit_procedures": [
            {
                "name": "Polymerisation",
                "description": "",
                "operations": [
                    {
                        "name": "Charge",
                        "description": "",
                        "phases": [
                            {
                                "name": "Charge monomer",
                                "instructions": "Charge the monomer through the dip pipe.",
                                "equipment_class": "reactor",
                                "min_volume_l": "2000",
                                "capabilities": ["glass-lined"],
                                "parameters": [
                                    {
                                        "name": "Charge temperature",
                                        "unit": "°C",
                                        "data_type": "number",
                                        "target": "25",
                                        "low_limit": "15",
                                        "high_limit": "35",
                                    }
                                ],
                                "inputs": [
                                    {
                                        "material": "RM-MONO",
                                        "quantity": "1000",
                                        "tolerance_pct": "0.5",
                                    }
                                ],
                            },
                            {
                                "name": "Charge solvent",
                                "instructions": "Charge the solvent.",
                                "can_run_parallel_with_previous": True,
                                "equipment_class": "reactor",
                                "inputs": [
                                    {
                                        "material": "RM-SOLV",
                                        "quantity": "1500",
                                        "tolerance_pct": "1",
                                    }
                                ],
                            },
                        ],
                    },
                    {
                        "name": "React",
                        "description": "",
                        "phases": [
                            {
                                "name": "React hold",
                                "instructions": "Hold at reaction temperature.",
                                "hold_min_minutes": 120,
                                "hold_max_minutes": 240,
                                "is_critical": True,
                                "equipment_class": "reactor",
                                "parameters": [
                                    {
                                        "name": "Temperature",
                                        "unit": "°C",
                                        "data_type": "number",
                                        "target": "85",
                                        "low_limit": "80",
                                        "high_limit": "90",
                                        "instrument_required": True,
                                        "instrument_kind": "temperature_probe",
                                    },
                                    {
                                        "name": "Appearance",
                                        "data_type": "choice",
                                        "choices": ["clear", "hazy"],
                                        "expected_text": "clear",
                                    },
                                ],
                                "inputs": [
                                    {
                                        "material": "RM-INIT",
                                        "quantity": "12.5",
                                        "tolerance_pct": "2",
                                    }
                                ],
                            },
                            {
                                "name": "Filter",
                                "instructions": "Filter into drums.",
                                "inputs": [
                                    {
                                        "material": "RM-AID",
                                        "quantity": "5",
                                        "tolerance_pct": "10",
                                        "is_scalable": False,
                                    }
                                ],
                                "outputs": [
                                    {
                                        "material": "RESIN-T",
                                        "kind": "product",
                                        "expected_quantity": "2450",
                                        "yield_low_pct": "95",
                                        "yield_high_pct": "102",
                                    },
                                    {
                                        "material": "BP-DIST",
                                        "kind": "by_product",
                                        "expected_quantity": "40",
                                        "yield_low_pct": "0",
                                        "yield_high_pct": "200",
                                    },
                                ],
                            },
                        ],
                    },
                ],
            }
        ]
    }


def draft_recipe(
    *,
    author: Any,
    code: str = "RESIN-T",
    tree: dict[str, Any] | None = None,
    batch_size_min: Any = "1000",
    batch_size_max: Any = "5000",
    batch_size_reference: Any = "2500",
) -> RecipeVersion:
    """Recipe `code` whose version 1 is a draft holding the standard tree."""
    found = materials()
    recipe = services.master_recipe_create(
        actor=author,
        code=code,
        name="Test resin recipe",
        product=found["product"],
        batch_size_min=Decimal(str(batch_size_min)),
        batch_size_max=Decimal(str(batch_size_max)),
        batch_size_reference=Decimal(str(batch_size_reference)),
    )
    version = recipe.versions.get(number=1)
    return services.recipe_version_tree_replace(
        actor=author, version=version, tree=tree if tree is not None else standard_tree()
    )


def submitted(version: RecipeVersion, *, author: Any) -> RecipeVersion:
    return services.recipe_version_submit(
        actor=author, version=version, signer=signer_for(author), reason="ready for review"
    )


def approved(version: RecipeVersion, *, author: Any, reviewer: Any) -> RecipeVersion:
    version = submitted(version, author=author)
    return services.recipe_version_approve(
        actor=reviewer, version=version, signer=signer_for(reviewer), reason="reviewed"
    )


def approved_recipe(*, author: Any, reviewer: Any, code: str = "RESIN-T") -> RecipeVersion:
    return approved(draft_recipe(author=author, code=code), author=author, reviewer=reviewer)


def next_version(
    recipe: MasterRecipe, *, author: Any, change_summary: str = "Tighter reaction limits"
) -> RecipeVersion:
    version = services.recipe_version_create_next(actor=author, recipe=recipe)
    return services.recipe_version_update(
        actor=author, version=version, changes={"change_summary": change_summary}
    )
