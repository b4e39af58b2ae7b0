import re

import pytest
from django.urls import reverse

from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.esign.models import Signature
from recipes import services
from recipes.content import version_content
from recipes.models import MasterRecipe, Phase, PhaseParameter, RecipeVersion
from recipes.tests.factories import (
    approved_recipe,
    draft_recipe,
    materials,
    next_version,
    submitted,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _phase(version, up, op, ph):
    return Phase.objects.get(
        operation__unit_procedure__version=version,
        operation__unit_procedure__position=up,
        operation__position=op,
        position=ph,
    )


def test_the_recipe_list_shows_recipes_and_the_new_recipe_button_to_an_author(
    client, recipe_author
):
    draft_recipe(author=recipe_author)
    client.force_login(recipe_author)

    page = client.get(reverse("recipes:recipe_list")).content.decode()

    assert 'data-recipe="RESIN-T"' in page
    assert "v1 draft" in page
    assert 'data-testid="new-recipe"' in page


def test_an_operator_sees_no_recipes(client, operator, recipe_author):
    draft_recipe(author=recipe_author)
    client.force_login(operator)

    page = client.get(reverse("recipes:recipe_list")).content.decode()

    assert "Your role does not include recipes." in page
    assert "RESIN-T" not in page


def test_creating_a_recipe_opens_the_editor_of_version_1(client, recipe_author):
    materials()
    client.force_login(recipe_author)

    response = client.post(
        reverse("recipes:recipe_create"),
        {
            "code": "RESIN-X",
            "name": "Resin X",
            "product": "RESIN-T",
            "batch_size_min": "1000",
            "batch_size_max": "3000",
            "batch_size_reference": "2000",
        },
    )

    version = RecipeVersion.objects.get(recipe__code="RESIN-X")
    assert response.status_code == 302
    assert response["Location"] == reverse("recipes:version_detail", args=[version.pk])
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="tree"' in page
    assert 'data-testid="header-form"' in page


def test_the_create_form_shows_the_refusal_next_to_the_field_and_creates_nothing(
    client, recipe_author
):
    materials()
    client.force_login(recipe_author)

    response = client.post(
        reverse("recipes:recipe_create"),
        {
            "code": "RESIN-X",
            "name": "Resin X",
            "product": "RESIN-T",
            "batch_size_min": "1000",
            "batch_size_max": "3000",
            "batch_size_reference": "5000",
        },
    )

    assert response.status_code == 200
    assert (
        "The reference batch size must lie within the batch size range."
        in response.content.decode()
    )
    assert MasterRecipe.objects.count() == 0


def test_the_editor_page_of_a_20_phase_version_answers_in_a_fixed_number_of_queries(
    client, recipe_author, django_assert_max_num_queries
):
    tree = {
        "unit_procedures": [
            {
                "name": "UP",
                "operations": [
                    {
                        "name": f"OP{o}",
                        "phases": [
                            {
                                "name": f"Phase {o}.{p}",
                                "instructions": "Do it.",
                                "parameters": [{"name": "T", "unit": "°C", "low_limit": "1"}],
                                "inputs": [{"material": "RM-MONO", "quantity": "10"}],
                            }
                            for p in range(1, 6)
                        ],
                    }
                    for o in range(1, 5)
                ],
            }
        ]
    }
    version = draft_recipe(author=recipe_author, tree=tree)
    client.force_login(recipe_author)

    with django_assert_max_num_queries(40):
        response = client.get(reverse("recipes:version_detail", args=[version.pk]))

    page = response.content.decode()
    assert page.count('class="rcp-phase"') == 20
    assert 'data-path="UP1/OP4/PH5"' in page


def test_adding_a_phase_through_htmx_returns_the_tree_with_the_new_phase_open(
    client, recipe_author
):
    version = draft_recipe(author=recipe_author)
    operation = _phase(version, 1, 2, 1).operation
    client.force_login(recipe_author)

    response = client.post(
        reverse("recipes:operation_action", args=[operation.pk, "add-phase"]),
        {"name": "Sample IPC"},
        **HTMX,
    )

    new = _phase(version, 1, 2, 3)
    assert new.name == "Sample IPC"
    assert response["HX-Trigger"] == "recipeChanged"
    body = response.content.decode()
    assert body.startswith('<div id="tree"')
    assert f'id="phase-{new.pk}" data-path="UP1/OP2/PH3" open' in body


def test_editing_a_phase_field_saves_it_and_returns_the_card(client, recipe_author):
    version = draft_recipe(author=recipe_author)
    phase = _phase(version, 1, 2, 1)
    client.force_login(recipe_author)

    response = client.post(
        reverse("recipes:phase_action", args=[phase.pk, "update"]),
        {
            "name": "React hold",
            "instructions": "Hold at 90 °C.",
            "hold_min_minutes": "150",
            "hold_max_minutes": "240",
            "is_critical": "on",
            "requires_verification": "on",
            "equipment_class": "",
            "min_volume_l": "",
            "capabilities_present": "1",
        },
        **HTMX,
    )

    phase.refresh_from_db()
    assert (phase.instructions, phase.hold_min_minutes) == ("Hold at 90 °C.", 150)
    assert response.content.decode().startswith(
        f'\n<details class="rcp-phase" id="phase-{phase.pk}"'
    )


def test_a_refused_phase_edit_is_shown_inline_with_the_typed_values_and_saves_nothing(
    client, recipe_author
):
    version = draft_recipe(author=recipe_author)
    phase = _phase(version, 1, 2, 1)
    client.force_login(recipe_author)

    response = client.post(
        reverse("recipes:phase_action", args=[phase.pk, "update"]),
        {"name": "React hold", "hold_min_minutes": "300", "hold_max_minutes": "240"},
        **HTMX,
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "The minimum hold time (300 min) is longer than the maximum (240 min)." in body
    assert 'name="hold_min_minutes" value="300"' in body
    phase.refresh_from_db()
    assert (phase.hold_min_minutes, phase.hold_max_minutes) == (120, 240)


def test_a_parameter_row_with_crossed_limits_shows_the_error_in_the_row(client, recipe_author):
    version = draft_recipe(author=recipe_author)
    parameter = PhaseParameter.objects.get(
        phase__operation__unit_procedure__version=version, name="Temperature"
    )
    client.force_login(recipe_author)

    response = client.post(
        reverse("recipes:parameter_action", args=[parameter.pk, "update"]),
        {
            "name": "Temperature",
            "unit": "°C",
            "data_type": "number",
            "target": "85",
            "low_limit": "95",
            "high_limit": "90",
            "is_required": "on",
        },
        **HTMX,
    )

    body = response.content.decode()
    assert body.lstrip().startswith(f'<form class="rcp-row" id="parameter-{parameter.pk}"')
    assert "The low limit 95 is above the high limit 90." in body
    assert 'name="low_limit" value="95"' in body
    parameter.refresh_from_db()
    assert (str(parameter.low_limit), str(parameter.high_limit)) == ("80.000000", "90.000000")


def test_adding_a_parameter_returns_the_phase_with_the_new_row(client, recipe_author):
    version = draft_recipe(author=recipe_author)
    phase = _phase(version, 1, 2, 1)
    client.force_login(recipe_author)

    response = client.post(
        reverse("recipes:phase_action", args=[phase.pk, "add-parameter"]),
        {
            "name": "Pressure",
            "unit": "bar",
            "data_type": "number",
            "high_limit": "3",
            "is_required": "on",
        },
        **HTMX,
    )

    added = phase.parameters.get(name="Pressure")
    assert added.position == 3
    assert f'id="parameter-{added.pk}"' in response.content.decode()


def test_editing_an_approved_version_through_the_page_is_refused_with_409(
    client, recipe_author, qa_user
):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)
    before = version_content(version)
    phase = _phase(version, 1, 1, 1)
    client.force_login(recipe_author)

    response = client.post(reverse("recipes:phase_action", args=[phase.pk, "remove"]), **HTMX)

    assert response.status_code == 409
    assert response["HX-Retarget"] == "#messages"
    assert "Version 1 of RESIN-T is approved: it cannot be edited." in response.content.decode()
    assert version_content(version) == before


def test_an_approved_version_page_is_read_only(client, recipe_author, qa_user):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)
    client.force_login(recipe_author)

    page = client.get(reverse("recipes:version_detail", args=[version.pk])).content.decode()

    assert 'data-testid="content"' in page
    assert 'data-testid="tree"' not in page
    assert "it cannot be edited" in page
    assert page.count("signature-manifestation") == 2


def test_submitting_through_the_page_signs_with_user_id_and_password(client, recipe_author):
    version = draft_recipe(author=recipe_author)
    client.force_login(recipe_author)
    url = reverse("recipes:version_sign", args=[version.pk, "submit"])

    wrong = client.post(url, {"username": "rita.author", "password": "wrong-one", "reason": ""})
    assert "Wrong password; nothing was signed." in wrong.content.decode()
    version.refresh_from_db()
    assert version.status == "draft"

    right = client.post(url, {"username": "rita.author", "password": DEFAULT_PASSWORD})

    assert right.status_code == 302
    version.refresh_from_db()
    assert version.status == "in_review"
    assert Signature.objects.get().meaning == "submitted"


def test_the_submit_page_lists_what_is_missing(client, recipe_author):
    version = draft_recipe(author=recipe_author, tree={"unit_procedures": []})
    client.force_login(recipe_author)

    page = client.get(reverse("recipes:version_sign", args=[version.pk, "submit"])).content.decode()

    assert "The version has no unit procedure." in page
    assert "No phase produces the product RESIN-T." in page


def test_the_review_page_shows_the_diff_and_qa_approves(client, recipe_author, qa_user):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)
    v2 = next_version(v1.recipe, author=recipe_author, change_summary="Wider")
    services.recipe_version_update(
        actor=recipe_author, version=v2, changes={"batch_size_max": "6000"}
    )
    submitted(v2, author=recipe_author)
    client.force_login(qa_user)

    page = client.get(reverse("recipes:version_review", args=[v2.pk])).content.decode()
    assert 'data-path="batch_size_max"' in page
    assert re.search(
        r'<span class="rcp-old">5000</span>.*<span class="rcp-new">6000</span>', page, re.S
    )
    assert 'data-testid="approve"' in page

    response = client.post(
        reverse("recipes:version_sign", args=[v2.pk, "approve"]),
        {"username": "quinn.qa", "password": DEFAULT_PASSWORD, "reason": "ok"},
    )

    assert response.status_code == 302
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status) == ("superseded", "approved")


def test_the_author_approving_on_the_review_page_is_refused_and_nothing_changes(
    client, author_and_qa
):
    version = submitted(draft_recipe(author=author_and_qa), author=author_and_qa)
    client.force_login(author_and_qa)

    response = client.post(
        reverse("recipes:version_sign", args=[version.pk, "approve"]),
        {"username": "bea.both", "password": DEFAULT_PASSWORD},
    )

    assert response.status_code == 200
    assert (
        "You are the author of this recipe version: someone else must sign it as &#x27;Approved&#x27;."
        in response.content.decode()
    )
    version.refresh_from_db()
    assert version.status == "in_review"
    assert list(Signature.objects.values_list("meaning", flat=True)) == ["submitted"]


def test_the_diff_page_lists_the_changes(client, recipe_author, qa_user):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)
    v2 = next_version(v1.recipe, author=recipe_author, change_summary="x")
    client.force_login(qa_user)

    page = client.get(reverse("recipes:version_diff"), {"a": v1.pk, "b": v2.pk}).content.decode()

    assert 'data-testid="diff-counts">1 changed, 0 added, 0 removed.' in page
    assert 'data-path="change_summary"' in page


def test_new_version_from_the_recipe_page_opens_the_copy(client, recipe_author, qa_user):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)
    client.force_login(recipe_author)

    response = client.post(reverse("recipes:recipe_new_version", args=[v1.recipe.pk]))

    v2 = RecipeVersion.objects.get(recipe=v1.recipe, number=2)
    assert response["Location"] == reverse("recipes:version_detail", args=[v2.pk])
    assert version_content(v2) | {"version": 1} == version_content(v1)


@pytest.mark.parametrize(
    ("who", "shown"), [("recipe_author", True), ("qa_user", True), ("operator", False)]
)
def test_the_home_page_offers_the_recipes_tile_to_recipe_roles(who, shown, client, request):
    client.force_login(request.getfixturevalue(who))

    page = client.get(reverse("home")).content.decode()

    assert (f'href="{reverse("recipes:recipe_list")}"' in page) is shown


def test_a_closed_phase_loads_its_editor_when_opened(client, recipe_author):
    version = draft_recipe(author=recipe_author)
    phase = _phase(version, 1, 2, 1)
    client.force_login(recipe_author)

    editor = client.get(reverse("recipes:version_detail", args=[version.pk])).content.decode()
    card = client.get(reverse("recipes:phase_card", args=[phase.pk]), **HTMX)

    assert reverse("recipes:phase_card", args=[phase.pk]) in editor
    assert 'name="low_limit" value="80"' not in editor  # closed: no editor rendered yet
    body = card.content.decode()
    assert f'id="phase-{phase.pk}" data-path="UP1/OP2/PH1" open' in body
    assert 'name="low_limit" value="80"' in body
    assert "HX-Trigger" not in card


def test_a_phase_moves_to_another_operation_from_its_card(client, recipe_author):
    version = draft_recipe(author=recipe_author)
    filter_phase = _phase(version, 1, 2, 2)
    charge = _phase(version, 1, 1, 1).operation
    client.force_login(recipe_author)

    response = client.post(
        reverse("recipes:phase_action", args=[filter_phase.pk, "move-to"]),
        {"operation": str(charge.pk)},
        **HTMX,
    )

    filter_phase.refresh_from_db()
    assert (filter_phase.operation, filter_phase.position) == (charge, 3)
    assert f'id="phase-{filter_phase.pk}" data-path="UP1/OP1/PH3" open' in response.content.decode()
