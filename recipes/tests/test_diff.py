import pytest

from recipes import services
from recipes.diff import diff_counts, diff_versions
from recipes.models import Phase
from recipes.tests.factories import approved_recipe, next_version

pytestmark = pytest.mark.django_db


def _phase(version, up, op, ph):
    return Phase.objects.get(
        operation__unit_procedure__version=version,
        operation__unit_procedure__position=up,
        operation__position=op,
        position=ph,
    )


@pytest.fixture
def two_versions(recipe_author, qa_user):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)
    v2 = next_version(v1.recipe, author=recipe_author, change_summary="Wider range, IPC sample")
    services.recipe_version_update(
        actor=recipe_author, version=v2, changes={"batch_size_max": "6000"}
    )
    services.phase_input_update(
        actor=recipe_author,
        phase_input=_phase(v2, 1, 1, 1).inputs.get(),
        changes={"tolerance_pct": "1"},
    )
    services.phase_input_remove(actor=recipe_author, phase_input=_phase(v2, 1, 1, 2).inputs.get())
    react = _phase(v2, 1, 2, 1)
    services.phase_update(
        actor=recipe_author,
        phase=react,
        changes={"instructions": "Hold at 85 °C.", "hold_max_minutes": 300},
    )
    services.phase_parameter_update(
        actor=recipe_author,
        parameter=react.parameters.get(name="Temperature"),
        changes={"high_limit": "95"},
    )
    services.phase_parameter_add(
        actor=recipe_author,
        phase=react,
        values={"name": "Viscosity", "unit": "mPa·s", "low_limit": "800", "high_limit": "1200"},
    )
    services.phase_add(
        actor=recipe_author,
        operation=react.operation,
        values={"name": "Sample for viscosity", "instructions": "Take 50 mL."},
    )
    return v1, v2


def test_the_diff_names_every_changed_field_by_its_structural_path(two_versions):
    v1, v2 = two_versions

    changes = [c.as_dict() for c in diff_versions(v1, v2)]

    assert changes == [
        {"path": "batch_size_max", "change": "changed", "old": "5000", "new": "6000"},
        {
            "path": "change_summary",
            "change": "changed",
            "old": None,
            "new": "Wider range, IPC sample",
        },
        {
            "path": "UP1/OP1/PH1.inputs[RM-MONO].tolerance_pct",
            "change": "changed",
            "old": "0.5",
            "new": "1",
        },
        {
            "path": "UP1/OP1/PH2.inputs[RM-SOLV]",
            "change": "removed",
            "old": "1500 kg ±1%",
            "new": None,
        },
        {
            "path": "UP1/OP2/PH1.instructions",
            "change": "changed",
            "old": "Hold at reaction temperature.",
            "new": "Hold at 85 °C.",
        },
        {"path": "UP1/OP2/PH1.hold_max_minutes", "change": "changed", "old": 240, "new": 300},
        {
            "path": "UP1/OP2/PH1.parameters[Temperature].high",
            "change": "changed",
            "old": "90",
            "new": "95",
        },
        {
            "path": "UP1/OP2/PH1.parameters[Viscosity]",
            "change": "added",
            "old": None,
            "new": "Viscosity (number, mPa·s, limits 800–1200)",
        },
        {
            "path": "UP1/OP2/PH3",
            "change": "added",
            "old": None,
            "new": "Sample for viscosity",
        },
    ]
    assert diff_counts(diff_versions(v1, v2)) == {"added": 2, "removed": 1, "changed": 6}


def test_the_diff_the_other_way_round_swaps_added_and_removed(two_versions):
    v1, v2 = two_versions

    changes = {c.path: (c.change, c.old, c.new) for c in diff_versions(v2, v1)}

    assert changes["UP1/OP2/PH3"] == ("removed", "Sample for viscosity", None)
    assert changes["UP1/OP1/PH2.inputs[RM-SOLV]"] == ("added", None, "1500 kg ±1%")
    assert changes["UP1/OP2/PH1.parameters[Temperature].high"] == ("changed", "95", "90")


def test_a_version_compared_with_itself_has_no_changes(two_versions):
    v1, _ = two_versions

    assert diff_versions(v1, v1) == []
