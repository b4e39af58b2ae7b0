from decimal import Decimal

import pytest

from recipes.exceptions import BatchSizeOutOfRange, RecipeInvalid
from recipes.scaling import scale_version, scaled
from recipes.tests.factories import approved_recipe, draft_recipe

pytestmark = pytest.mark.django_db


def _phase(snapshot, path):
    for up in snapshot["unit_procedures"]:
        for op in up["operations"]:
            for ph in op["phases"]:
                if ph["path"] == path:
                    return ph
    raise KeyError(path)


def test_scaling_to_4000_kg_multiplies_scalable_inputs_and_outputs_by_1_6(recipe_author, qa_user):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)

    snapshot = scale_version(version, Decimal("4000"))

    assert (snapshot["batch_size"], snapshot["reference_batch_size"], snapshot["scale_factor"]) == (
        "4000",
        "2500",
        "1.6",
    )
    phase_inputs = [
        (i["material"], i["quantity"], i["quantity_min"], i["quantity_max"], i["is_scalable"])
        for path in ("UP1/OP1/PH1", "UP1/OP1/PH2", "UP1/OP2/PH1", "UP1/OP2/PH2")
        for i in _phase(snapshot, path)["inputs"]
    ]
    assert phase_inputs == [
        ("RM-MONO", "1600", "1592", "1608", True),
        ("RM-SOLV", "2400", "2376", "2424", True),
        ("RM-INIT", "20", "19.6", "20.4", True),
        ("RM-AID", "5", "4.5", "5.5", False),  # fixed: does not scale
    ]
    outputs = [
        (o["material"], o["kind"], o["expected_quantity"], o["expected_min"], o["expected_max"])
        for o in snapshot["outputs"]
    ]
    assert outputs == [
        ("RESIN-T", "product", "3920", "3724", "3998.4"),
        ("BP-DIST", "by_product", "64", "0", "128"),
    ]
    assert snapshot["theoretical_yield"] == {
        "material_id": snapshot["product"]["id"],
        "material": "RESIN-T",
        "quantity": "3920",
        "uom": "kg",
        "yield_low_pct": "95",
        "yield_high_pct": "102",
        "low_quantity": "3724",
        "high_quantity": "3998.4",
        "phase_path": "UP1/OP2/PH2",
    }


def test_the_snapshot_names_version_equipment_and_totals(recipe_author, qa_user):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)

    snapshot = scale_version(version, "1000")

    assert snapshot["schema"] == "mes.control_recipe.v1"
    assert snapshot["version"]["number"] == 1
    assert snapshot["version"]["status"] == "approved"
    assert snapshot["version"]["approved_by"] == "Quinn QA"
    assert len(snapshot["version"]["content_hash"]) == 64
    assert snapshot["phase_count"] == 4
    assert snapshot["unit_procedures"][0]["equipment_requirement"] == {
        "equipment_class": "reactor",
        "equipment_class_id": snapshot["unit_procedures"][0]["equipment_requirement"][
            "equipment_class_id"
        ],
        "min_volume_l": "2000",
        "capabilities": ["glass-lined"],
    }
    assert [(t["material"], t["quantity"], t["uom"]) for t in snapshot["inputs"]] == [
        ("RM-MONO", "400", "kg"),
        ("RM-SOLV", "600", "kg"),
        ("RM-INIT", "5", "kg"),
        ("RM-AID", "5", "kg"),
    ]
    react = _phase(snapshot, "UP1/OP2/PH1")
    assert (react["is_critical"], react["requires_verification"]) == (True, True)
    assert (react["hold_min_minutes"], react["hold_max_minutes"]) == (120, 240)
    assert react["parameters"][1]["choices"] == ["clear", "hazy"]


def test_the_range_limits_themselves_are_accepted(recipe_author, qa_user):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)

    assert scale_version(version, "1000")["theoretical_yield"]["quantity"] == "980"
    assert scale_version(version, "5000")["theoretical_yield"]["quantity"] == "4900"


@pytest.mark.parametrize(
    ("size", "shown"), [("999.999999", "999.999999"), ("5000.000001", "5000.000001"), ("0", "0")]
)
def test_a_batch_size_outside_the_range_is_refused(size, shown, recipe_author, qa_user):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)

    with pytest.raises(BatchSizeOutOfRange) as refused:
        scale_version(version, size)

    assert refused.value.status_code == 400
    assert refused.value.detail == (
        f"The batch size {shown} kg is outside the range of version 1 of RESIN-T: 1000 to 5000 kg."
    )


def test_a_batch_size_in_another_unit_is_converted(recipe_author, qa_user):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)

    snapshot = scale_version(version, "4", batch_size_uom="t")

    assert (snapshot["batch_size"], snapshot["batch_size_uom"]) == ("4000", "kg")


def test_a_batch_size_that_is_not_a_number_is_refused(recipe_author, qa_user):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)

    with pytest.raises(RecipeInvalid) as refused:
        scale_version(version, "lots")

    assert refused.value.detail == "The batch size 'lots' is not a number."


def test_scaled_rounds_half_up_to_six_places():
    assert scaled(Decimal("1"), Decimal("2"), Decimal("3")) == Decimal("0.666667")
    assert scaled(Decimal("1"), Decimal("1"), Decimal("3")) == Decimal("0.333333")
    assert scaled(Decimal("0.0000005"), Decimal("1"), Decimal("1")) == Decimal("0.000001")


def test_a_draft_scales_too_for_a_preview(recipe_author):
    version = draft_recipe(author=recipe_author)

    snapshot = scale_version(version, "2500")

    assert (snapshot["version"]["status"], snapshot["scale_factor"]) == ("draft", "1")
    assert snapshot["theoretical_yield"]["quantity"] == "2450"
