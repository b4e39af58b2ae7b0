import pytest

from mes.accounts.models import User
from mes.accounts.roles import Role
from mes.esign.selectors import signatures_for_record
from mes.registry import DemoContext, demo_steps
from recipes import selectors
from recipes.demo import build_demo_recipes
from recipes.diff import diff_versions
from recipes.models import MasterRecipe, Phase
from recipes.scaling import scale_version
from recipes.tests.factories import CapabilityFactory, EquipmentClassFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ctx(recipe_author, qa_user):
    EquipmentClassFactory()
    CapabilityFactory()
    return DemoContext(
        actor=User.objects.get(username="system"),
        site=None,
        areas={},
        users={Role.RECIPE_AUTHOR.value: recipe_author, Role.QA_REVIEWER.value: qa_user},
        password="unused",
        write=lambda line: None,
    )


def test_the_demo_step_is_registered_after_genealogy_and_equipment():
    keys = [step.key for step in demo_steps()]

    assert keys.index("recipes.resin") > keys.index("equipment.plant")
    assert keys.index("recipes.resin") > keys.index("genealogy.lots")


def test_the_demo_builds_resin_pa_with_version_2_current_and_version_1_superseded(
    ctx, recipe_author, qa_user
):
    build_demo_recipes(ctx)

    recipe = MasterRecipe.objects.get(code="RESIN-PA")
    v1, v2 = recipe.versions.get(number=1), recipe.versions.get(number=2)
    assert (v1.status, v2.status) == ("superseded", "approved")
    assert selectors.recipe_version_current_approved(recipe) == v2
    for version in (v1, v2):
        assert (version.author, version.approved_by) == (recipe_author, qa_user)
        assert [(s.meaning, s.signer, s.is_valid) for s in signatures_for_record(version)] == [
            ("submitted", recipe_author, True),
            ("approved", qa_user, True),
        ]
    phases = Phase.objects.filter(operation__unit_procedure__version=v2)
    assert (
        Phase.objects.filter(operation__unit_procedure__version=v1).count(),
        phases.count(),
    ) == (
        18,
        20,
    )
    assert selectors.recipe_version_problems(v2) == []
    changes = {c.path: (c.change, c.old, c.new) for c in diff_versions(v1, v2)}
    assert changes["UP1/OP2/PH3.parameters[Reaction temperature].low"] == ("changed", "85", "88")
    # Phases are matched by position: inserting the chase at PH4 shows as PH4 renamed, etc.
    assert changes["UP1/OP2/PH4.name"] == ("changed", "Sample IPC viscosity", "Chase initiator")
    assert changes["UP1/OP2/PH8"] == ("added", None, "Cool")
    snapshot = scale_version(v2, "3000")
    assert snapshot["unit_procedures"][0]["equipment_requirement"]["min_volume_l"] == "2000"
    assert snapshot["unit_procedures"][0]["equipment_requirement"]["capabilities"] == [
        "glass-lined"
    ]
    assert snapshot["theoretical_yield"]["quantity"] == "3000"
    assert [(i["material"], i["quantity"], i["uom"]) for i in snapshot["inputs"]] == [
        ("XYL", "1700", "L"),
        ("STY", "1500", "kg"),
        ("BPO", "33", "kg"),
    ]


def test_the_demo_step_is_idempotent(ctx):
    build_demo_recipes(ctx)
    ctx.changes.clear()

    build_demo_recipes(ctx)

    assert ctx.changes == []
    assert MasterRecipe.objects.get(code="RESIN-PA").versions.count() == 2
