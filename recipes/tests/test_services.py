from decimal import Decimal

import pytest

from mes.esign.models import Signature
from mes.esign.selectors import signatures_for_record
from mes.exceptions import InvalidInput, InvalidTransition, NotAuthorized, SignatureRefused
from recipes import services
from recipes.choices import RecipeEventType, RecipeVersionStatus
from recipes.content import version_content
from recipes.exceptions import (
    RecipeIncomplete,
    RecipeInvalid,
    RecipeOpenVersionExists,
    RecipeVersionNotEditable,
)
from recipes.models import (
    MasterRecipe,
    Phase,
    PhaseInput,
    PhaseParameter,
    RecipeEvent,
    RecipeVersion,
    UnitProcedure,
)
from recipes.tests.factories import (
    approved,
    approved_recipe,
    draft_recipe,
    materials,
    next_version,
    signer_for,
    submitted,
)

pytestmark = pytest.mark.django_db


def _events(version):
    return list(
        RecipeEvent.objects.filter(version=version).order_by("id").values_list("type", flat=True)
    )


def _meanings(version):
    return [s.meaning for s in signatures_for_record(version)]


def _phase(version, up, op, ph):
    return Phase.objects.get(
        operation__unit_procedure__version=version,
        operation__unit_procedure__position=up,
        operation__position=op,
        position=ph,
    )


def _phase_names(operation):
    return list(operation.phases.order_by("position").values_list("position", "name"))


# --- creating ------------------------------------------------------------------------------


def test_master_recipe_create_makes_version_1_as_an_empty_draft(recipe_author):
    product = materials()["product"]

    recipe = services.master_recipe_create(
        actor=recipe_author,
        code="resin-x",
        name="Resin X",
        product=product,
        batch_size_min="1000",
        batch_size_max="4000",
        batch_size_reference="2000",
    )

    version = recipe.versions.get()
    assert (recipe.code, recipe.product, recipe.created_by) == ("RESIN-X", product, recipe_author)
    assert (version.number, version.status, version.author) == (1, "draft", recipe_author)
    assert (version.batch_size_min, version.batch_size_reference, version.batch_size_max) == (
        Decimal("1000"),
        Decimal("2000"),
        Decimal("4000"),
    )
    assert version.batch_size_uom == "kg"
    assert list(RecipeEvent.objects.filter(recipe=recipe).values_list("type", flat=True)) == [
        "recipe.created",
        "version.created",
    ]


def test_master_recipe_create_is_refused_to_an_operator_and_writes_nothing(operator):
    product = materials()["product"]

    with pytest.raises(NotAuthorized) as refused:
        services.master_recipe_create(
            actor=operator,
            code="RESIN-X",
            name="Resin X",
            product=product,
            batch_size_min="1000",
            batch_size_max="4000",
            batch_size_reference="2000",
        )

    assert refused.value.detail == "You may not create recipes: it needs the Recipe Author role."
    assert MasterRecipe.objects.count() == 0
    assert RecipeVersion.objects.count() == 0


def test_master_recipe_create_refuses_a_reference_outside_the_range(recipe_author):
    product = materials()["product"]

    with pytest.raises(RecipeInvalid) as refused:
        services.master_recipe_create(
            actor=recipe_author,
            code="RESIN-X",
            name="Resin X",
            product=product,
            batch_size_min="1000",
            batch_size_max="4000",
            batch_size_reference="5000",
        )

    assert refused.value.detail == "The reference batch size must lie within the batch size range."
    assert refused.value.field == "batch_size_reference"
    assert MasterRecipe.objects.count() == 0


def test_master_recipe_create_refuses_a_duplicate_code(recipe_author):
    draft_recipe(author=recipe_author)

    with pytest.raises(RecipeInvalid) as refused:
        services.master_recipe_create(
            actor=recipe_author,
            code="resin-t",
            name="Again",
            product="RESIN-T",
            batch_size_min="1",
            batch_size_max="2",
            batch_size_reference="1",
        )

    assert refused.value.detail == "A recipe RESIN-T exists already."
    assert MasterRecipe.objects.count() == 1


# --- the tree ------------------------------------------------------------------------------


def test_tree_replace_builds_the_ordered_tree(recipe_author):
    version = draft_recipe(author=recipe_author)

    content = version_content(version)

    assert [up["name"] for up in content["unit_procedures"]] == ["Polymerisation"]
    operations = content["unit_procedures"][0]["operations"]
    assert [(op["name"], [ph["name"] for ph in op["phases"]]) for op in operations] == [
        ("Charge", ["Charge monomer", "Charge solvent"]),
        ("React", ["React hold", "Filter"]),
    ]
    react = operations[1]["phases"][0]
    assert react["is_critical"] is True
    assert react["requires_verification"] is True  # implied by critical
    assert react["parameters"][0] == {
        "name": "Temperature",
        "unit": "°C",
        "data_type": "number",
        "choices": [],
        "target": "85",
        "low_limit": "80",
        "high_limit": "90",
        "expected_text": "",
        "is_required": True,
        "instrument_required": True,
        "instrument_kind": "temperature_probe",
    }
    charge = operations[0]["phases"][0]
    assert (charge["equipment_class"], charge["min_volume_l"], charge["capabilities"]) == (
        "reactor",
        "2000",
        ["glass-lined"],
    )
    assert operations[1]["phases"][1]["inputs"] == [
        {
            "material": "RM-AID",
            "quantity": "5",
            "uom": "kg",
            "tolerance_pct": "10",
            "is_scalable": False,
            "note": "",
        }
    ]


def test_tree_replace_refuses_crossed_limits_and_leaves_the_draft_as_it_was(recipe_author):
    version = draft_recipe(author=recipe_author)
    before = version_content(version)
    tree = {
        "unit_procedures": [
            {
                "name": "UP",
                "operations": [
                    {
                        "name": "OP",
                        "phases": [
                            {
                                "name": "Heat",
                                "parameters": [
                                    {"name": "T", "low_limit": "90", "high_limit": "80"}
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }

    with pytest.raises(RecipeInvalid) as refused:
        services.recipe_version_tree_replace(actor=recipe_author, version=version, tree=tree)

    assert refused.value.detail == (
        "UP1/OP1/PH1.parameters[T]: The low limit 90 is above the high limit 80."
    )
    assert version_content(version) == before


def test_phase_add_inserts_at_the_position_and_renumbers(recipe_author):
    version = draft_recipe(author=recipe_author)
    charge = _phase(version, 1, 1, 1).operation

    phase = services.phase_add(
        actor=recipe_author,
        operation=charge,
        values={"name": "Inert with nitrogen", "instructions": "Purge three times."},
        position=2,
    )

    assert phase.position == 2
    assert _phase_names(charge) == [
        (1, "Charge monomer"),
        (2, "Inert with nitrogen"),
        (3, "Charge solvent"),
    ]


def test_phase_move_within_and_across_operations(recipe_author):
    version = draft_recipe(author=recipe_author)
    filter_phase = _phase(version, 1, 2, 2)
    charge, react = _phase(version, 1, 1, 1).operation, filter_phase.operation

    services.phase_move(actor=recipe_author, phase=filter_phase, position=1)
    assert _phase_names(react) == [(1, "Filter"), (2, "React hold")]

    services.phase_move(actor=recipe_author, phase=filter_phase, position=2, operation=charge)
    assert _phase_names(react) == [(1, "React hold")]
    assert _phase_names(charge) == [
        (1, "Charge monomer"),
        (2, "Filter"),
        (3, "Charge solvent"),
    ]


def test_phase_remove_takes_its_children_and_closes_the_gap(recipe_author):
    version = draft_recipe(author=recipe_author)
    first = _phase(version, 1, 1, 1)
    charge = first.operation

    services.phase_remove(actor=recipe_author, phase=first)

    assert _phase_names(charge) == [(1, "Charge solvent")]
    assert not PhaseParameter.objects.filter(phase_id=first.pk).exists()
    assert not PhaseInput.objects.filter(phase_id=first.pk).exists()


def test_phase_duplicate_copies_parameters_inputs_and_outputs_after_the_phase(recipe_author):
    version = draft_recipe(author=recipe_author)
    react_hold = _phase(version, 1, 2, 1)

    copy = services.phase_duplicate(actor=recipe_author, phase=react_hold)

    assert (copy.position, copy.name) == (2, "React hold (copy)")
    content = version_content(version)
    phases = content["unit_procedures"][0]["operations"][1]["phases"]
    assert [p["name"] for p in phases] == ["React hold", "React hold (copy)", "Filter"]
    original, duplicate = phases[0], phases[1]
    assert {**duplicate, "name": "React hold"} == original


def test_unit_procedure_remove_takes_everything_below(recipe_author):
    version = draft_recipe(author=recipe_author)
    up = version.unit_procedures.get()

    services.unit_procedure_remove(actor=recipe_author, unit_procedure=up)

    assert not UnitProcedure.objects.filter(version=version).exists()
    assert not Phase.objects.filter(operation__unit_procedure__version=version).exists()


def test_parameter_add_refuses_a_second_parameter_of_the_same_name(recipe_author):
    version = draft_recipe(author=recipe_author)
    phase = _phase(version, 1, 2, 1)

    with pytest.raises(RecipeInvalid) as refused:
        services.phase_parameter_add(
            actor=recipe_author, phase=phase, values={"name": "temperature", "unit": "°C"}
        )

    assert refused.value.detail == ("UP1/OP2/PH1: The phase has a parameter 'temperature' already.")
    assert phase.parameters.count() == 2


def test_parameter_update_refuses_a_target_outside_the_limits_and_changes_nothing(recipe_author):
    version = draft_recipe(author=recipe_author)
    temperature = PhaseParameter.objects.get(
        phase__operation__unit_procedure__version=version, name="Temperature"
    )

    with pytest.raises(RecipeInvalid) as refused:
        services.phase_parameter_update(
            actor=recipe_author, parameter=temperature, changes={"target": "95"}
        )

    assert refused.value.detail == "UP1/OP2/PH1: The target 95 lies outside the limits."
    assert refused.value.field == "target"
    temperature.refresh_from_db()
    assert temperature.target == Decimal("85")


def test_parameter_update_changes_limits(recipe_author):
    version = draft_recipe(author=recipe_author)
    temperature = PhaseParameter.objects.get(
        phase__operation__unit_procedure__version=version, name="Temperature"
    )

    services.phase_parameter_update(
        actor=recipe_author,
        parameter=temperature,
        changes={"low_limit": "82", "high_limit": "88"},
    )

    temperature.refresh_from_db()
    assert (temperature.low_limit, temperature.target, temperature.high_limit) == (
        Decimal("82"),
        Decimal("85"),
        Decimal("88"),
    )


def test_input_in_a_unit_of_another_kind_is_refused(recipe_author):
    version = draft_recipe(author=recipe_author)
    phase = _phase(version, 1, 2, 2)

    with pytest.raises(RecipeInvalid) as refused:
        services.phase_input_add(
            actor=recipe_author,
            phase=phase,
            values={"material": "RM-SOLV", "quantity": "10", "uom": "L"},
        )

    assert refused.value.detail == (
        "UP1/OP2/PH2: RM-SOLV is counted in kg; L is not the same kind of quantity."
    )
    assert phase.inputs.count() == 1


def test_capabilities_without_an_equipment_class_are_refused(recipe_author):
    version = draft_recipe(author=recipe_author)
    phase = _phase(version, 1, 2, 2)

    with pytest.raises(RecipeInvalid) as refused:
        services.phase_update(
            actor=recipe_author, phase=phase, changes={"capabilities": ["glass-lined"]}
        )

    assert refused.value.field == "equipment_class"
    assert refused.value.detail == (
        "UP1/OP2/PH2: Name the equipment class that the volume and capabilities apply to."
    )
    assert list(phase.capabilities.all()) == []


# --- frozen versions -----------------------------------------------------------------------


EDITS = {
    "version header": lambda v, a: services.recipe_version_update(
        actor=a, version=v, changes={"batch_size_max": "9000"}
    ),
    "tree replace": lambda v, a: services.recipe_version_tree_replace(
        actor=a, version=v, tree={"unit_procedures": []}
    ),
    "unit procedure add": lambda v, a: services.unit_procedure_add(
        actor=a, version=v, name="Extra"
    ),
    "operation rename": lambda v, a: services.operation_update(
        actor=a,
        operation=v.unit_procedures.get().operations.get(position=1),
        changes={"name": "Renamed"},
    ),
    "phase edit": lambda v, a: services.phase_update(
        actor=a, phase=_phase(v, 1, 2, 1), changes={"hold_max_minutes": 300}
    ),
    "phase remove": lambda v, a: services.phase_remove(actor=a, phase=_phase(v, 1, 1, 2)),
    "parameter limit": lambda v, a: services.phase_parameter_update(
        actor=a,
        parameter=_phase(v, 1, 2, 1).parameters.get(name="Temperature"),
        changes={"high_limit": "95"},
    ),
    "input quantity": lambda v, a: services.phase_input_update(
        actor=a, phase_input=_phase(v, 1, 1, 1).inputs.get(), changes={"quantity": "999"}
    ),
    "output remove": lambda v, a: services.phase_output_remove(
        actor=a, phase_output=_phase(v, 1, 2, 2).outputs.get(kind="by_product")
    ),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_approved_version_refuses_every_edit_and_stays_unchanged(edit, recipe_author, qa_user):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)
    before = version_content(version)

    with pytest.raises(RecipeVersionNotEditable) as refused:
        EDITS[edit](version, recipe_author)

    assert refused.value.status_code == 409
    assert refused.value.detail == (
        "Version 1 of RESIN-T is approved: it cannot be edited. Create a new version to change it."
    )
    assert version_content(version) == before
    assert all(s.is_valid for s in signatures_for_record(version))


def test_a_version_in_review_refuses_edits(recipe_author):
    version = submitted(draft_recipe(author=recipe_author), author=recipe_author)

    with pytest.raises(RecipeVersionNotEditable) as refused:
        services.phase_update(
            actor=recipe_author, phase=_phase(version, 1, 1, 1), changes={"name": "X"}
        )

    assert refused.value.detail == (
        "Version 1 of RESIN-T is in review: it cannot be edited. Reject it back to draft to "
        "change it."
    )
    assert _phase(version, 1, 1, 1).name == "Charge monomer"


# --- the workflow --------------------------------------------------------------------------


def test_submit_signs_and_puts_the_version_in_review(recipe_author):
    version = draft_recipe(author=recipe_author)

    services.recipe_version_submit(
        actor=recipe_author, version=version, signer=signer_for(recipe_author), reason="ready"
    )

    version.refresh_from_db()
    assert (version.status, version.submitted_by) == ("in_review", recipe_author)
    signature = Signature.objects.get()
    assert (signature.meaning, signature.signer, signature.reason) == (
        "submitted",
        recipe_author,
        "ready",
    )
    assert _events(version)[-1] == RecipeEventType.VERSION_SUBMITTED


def test_submit_of_an_incomplete_draft_lists_every_gap_and_signs_nothing(recipe_author):
    tree = {
        "unit_procedures": [
            {"name": "Polymerisation", "operations": [{"name": "Charge", "phases": []}]},
            {
                "name": "Finishing",
                "operations": [
                    {
                        "name": "Thin",
                        "phases": [{"name": "Thin", "can_run_parallel_with_previous": True}],
                    }
                ],
            },
        ]
    }
    version = draft_recipe(author=recipe_author, tree=tree)

    with pytest.raises(RecipeIncomplete) as refused:
        services.recipe_version_submit(
            actor=recipe_author, version=version, signer=signer_for(recipe_author)
        )

    assert refused.value.problems == [
        "UP1/OP1: the operation has no phase.",
        "UP2/OP1/PH1: the first phase of an operation has no previous phase to run in "
        "parallel with.",
        "UP2/OP1/PH1: the phase has no operator instructions.",
        "No phase produces the product RESIN-T.",
    ]
    version.refresh_from_db()
    assert version.status == "draft"
    assert Signature.objects.count() == 0


def test_the_author_cannot_approve_their_own_version(author_and_qa):
    version = submitted(draft_recipe(author=author_and_qa), author=author_and_qa)

    with pytest.raises(SignatureRefused) as refused:
        services.recipe_version_approve(
            actor=author_and_qa, version=version, signer=signer_for(author_and_qa)
        )

    assert refused.value.code == "signature_author"
    assert refused.value.detail == (
        "You are the author of this recipe version: someone else must sign it as 'Approved'."
    )
    version.refresh_from_db()
    assert (version.status, version.approved_by, version.approved_at) == ("in_review", None, None)
    assert _meanings(version) == ["submitted"]
    assert _events(version) == ["version.created", "version.tree_replaced", "version.submitted"]


def test_the_submitter_cannot_approve_what_they_submitted(recipe_author, author_and_qa):
    version = submitted(draft_recipe(author=recipe_author), author=author_and_qa)

    with pytest.raises(SignatureRefused) as refused:
        services.recipe_version_approve(
            actor=author_and_qa, version=version, signer=signer_for(author_and_qa)
        )

    assert refused.value.code == "signature_not_distinct"
    assert refused.value.detail == (
        "You already signed this recipe version as 'Submitted for review': 'Approved' must be "
        "signed by someone else."
    )
    version.refresh_from_db()
    assert version.status == "in_review"
    assert _meanings(version) == ["submitted"]


def test_a_recipe_author_without_the_qa_role_cannot_approve(recipe_author, author2):
    version = submitted(draft_recipe(author=recipe_author), author=recipe_author)

    with pytest.raises(NotAuthorized) as refused:
        services.recipe_version_approve(actor=author2, version=version, signer=signer_for(author2))

    assert refused.value.detail == (
        "You may not approve recipe versions: it needs the QA Reviewer role."
    )
    version.refresh_from_db()
    assert version.status == "in_review"


def test_the_signature_must_be_the_actors_own(recipe_author, qa_user, qa_user2):
    version = submitted(draft_recipe(author=recipe_author), author=recipe_author)

    with pytest.raises(SignatureRefused) as refused:
        services.recipe_version_approve(actor=qa_user, version=version, signer=signer_for(qa_user2))

    assert refused.value.code == "signature_wrong_user"
    assert refused.value.detail == "The signature must be yours: the signer is not the acting user."
    assert _meanings(version) == ["submitted"]
    version.refresh_from_db()
    assert version.status == "in_review"


def test_approve_signs_and_makes_the_version_current(recipe_author, qa_user):
    version = submitted(draft_recipe(author=recipe_author), author=recipe_author)

    services.recipe_version_approve(
        actor=qa_user, version=version, signer=signer_for(qa_user), reason="reviewed"
    )

    version.refresh_from_db()
    assert (version.status, version.approved_by) == ("approved", qa_user)
    assert version.approved_at is not None
    assert _meanings(version) == ["submitted", "approved"]
    assert all(s.is_valid for s in signatures_for_record(version))
    assert _events(version)[-1] == "version.approved"


def test_approving_version_2_supersedes_version_1(recipe_author, author2, qa_user, qa_user2):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)
    v2 = next_version(v1.recipe, author=author2)

    approved(v2, author=author2, reviewer=qa_user2)

    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v1.superseded_by, v2.status) == ("superseded", v2, "approved")
    assert v1.superseded_at == v2.approved_at
    assert list(
        RecipeVersion.objects.filter(recipe=v1.recipe, status="approved").values_list(
            "number", flat=True
        )
    ) == [2]
    assert _events(v1)[-1] == "version.superseded"
    # Superseding leaves version 1's signatures valid: its content did not change.
    assert [(s.meaning, s.is_valid) for s in signatures_for_record(v1)] == [
        ("submitted", True),
        ("approved", True),
    ]


def test_a_signature_becomes_invalid_when_the_content_is_changed_behind_the_services(
    recipe_author, qa_user
):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)
    phase = _phase(version, 1, 2, 1)

    # Tampering, as a database superuser could: no service allows this.
    PhaseParameter.objects.filter(phase=phase, name="Temperature").update(high_limit=95)

    assert [s.is_valid for s in signatures_for_record(version)] == [False, False]


def test_reject_needs_a_reason_and_writes_nothing_without_one(recipe_author, qa_user):
    version = submitted(draft_recipe(author=recipe_author), author=recipe_author)

    with pytest.raises(InvalidInput) as refused:
        services.recipe_version_reject(
            actor=qa_user, version=version, signer=signer_for(qa_user), reason=" "
        )

    assert refused.value.detail == "Give a reason to reject the version."
    version.refresh_from_db()
    assert version.status == "in_review"
    assert _meanings(version) == ["submitted"]


def test_reject_sends_the_version_back_to_draft_with_the_reason(recipe_author, qa_user):
    version = submitted(draft_recipe(author=recipe_author), author=recipe_author)

    services.recipe_version_reject(
        actor=qa_user, version=version, signer=signer_for(qa_user), reason="Hold too short"
    )

    version.refresh_from_db()
    assert (version.status, version.rejection_reason, version.submitted_by) == (
        "draft",
        "Hold too short",
        None,
    )
    assert _meanings(version) == ["submitted", "rejected"]
    services.phase_update(
        actor=recipe_author, phase=_phase(version, 1, 2, 1), changes={"hold_min_minutes": 150}
    )
    assert _phase(version, 1, 2, 1).hold_min_minutes == 150


def test_new_version_copies_the_approved_version_as_a_draft(recipe_author, author2, qa_user):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)

    v2 = services.recipe_version_create_next(actor=author2, recipe=v1.recipe)

    assert (v2.number, v2.status, v2.author, v2.based_on) == (2, "draft", author2, v1)
    assert {**version_content(v2), "version": 1} == version_content(v1)
    assert _events(v2) == ["version.created"]
    # The copy is independent: editing it leaves version 1 alone.
    services.phase_update(actor=author2, phase=_phase(v2, 1, 1, 1), changes={"name": "Charge BA"})
    assert _phase(v1, 1, 1, 1).name == "Charge monomer"


def test_new_version_is_refused_while_a_draft_is_open(recipe_author, qa_user):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)
    next_version(v1.recipe, author=recipe_author)

    with pytest.raises(RecipeOpenVersionExists) as refused:
        services.recipe_version_create_next(actor=recipe_author, recipe=v1.recipe)

    assert refused.value.detail == (
        "Version 2 of RESIN-T is draft: finish or discard it before starting another version."
    )
    assert v1.recipe.versions.count() == 2


def test_submit_of_version_2_needs_a_change_summary(recipe_author, qa_user):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)
    v2 = services.recipe_version_create_next(actor=recipe_author, recipe=v1.recipe)

    with pytest.raises(RecipeIncomplete) as refused:
        submitted(v2, author=recipe_author)

    assert refused.value.problems == ["Say what changed in this version (change summary)."]
    v2.refresh_from_db()
    assert v2.status == "draft"
    assert _meanings(v2) == []


def test_only_qa_makes_an_approved_version_obsolete(recipe_author, qa_user, qa_user2):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)

    with pytest.raises(NotAuthorized) as refused:
        services.recipe_version_make_obsolete(
            actor=recipe_author,
            version=version,
            signer=signer_for(recipe_author),
            reason="Product discontinued",
        )
    assert refused.value.detail == (
        "You may not make recipe versions obsolete: it needs the QA Reviewer role."
    )
    version.refresh_from_db()
    assert version.status == "approved"
    assert _meanings(version) == ["submitted", "approved"]

    services.recipe_version_make_obsolete(
        actor=qa_user2, version=version, signer=signer_for(qa_user2), reason="Product discontinued"
    )

    version.refresh_from_db()
    assert (version.status, version.obsoleted_by, version.obsolete_reason) == (
        "obsolete",
        qa_user2,
        "Product discontinued",
    )
    assert _meanings(version) == ["submitted", "approved", "cancelled"]


def test_an_author_discards_a_draft(recipe_author):
    version = draft_recipe(author=recipe_author)

    services.recipe_version_make_obsolete(
        actor=recipe_author, version=version, signer=signer_for(recipe_author), reason="Wrong start"
    )

    version.refresh_from_db()
    assert version.status == RecipeVersionStatus.OBSOLETE
    # A new version may start again, from the discarded one.
    v2 = services.recipe_version_create_next(actor=recipe_author, recipe=version.recipe)
    assert (v2.number, v2.based_on) == (2, version)


def test_an_obsolete_version_cannot_be_submitted(recipe_author):
    version = draft_recipe(author=recipe_author)
    services.recipe_version_make_obsolete(
        actor=recipe_author, version=version, signer=signer_for(recipe_author), reason="Wrong start"
    )

    with pytest.raises(InvalidTransition) as refused:
        services.recipe_version_submit(
            actor=recipe_author, version=version, signer=signer_for(recipe_author)
        )

    assert refused.value.code == "recipe_version_invalid_transition"
    assert refused.value.detail == "Version 1 of RESIN-T is obsolete: it cannot become in review."
    assert _meanings(version) == ["cancelled"]
