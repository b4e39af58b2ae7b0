import copy

import pytest

from mes.accounts.models import SecurityEvent
from mes.accounts.tests.factories import DEFAULT_PASSWORD
from recipes.models import MasterRecipe, RecipeVersion
from recipes.tests.factories import (
    approved,
    approved_recipe,
    draft_recipe,
    materials,
    next_version,
    standard_tree,
)

pytestmark = pytest.mark.django_db

BASE = "/api/v1/recipes"


def _sign(user, reason="", password=DEFAULT_PASSWORD):
    return {"username": user.username, "password": password, "reason": reason}


def _create_body():
    return {
        "code": "RESIN-T",
        "name": "Test resin",
        "product": "RESIN-T",
        "batch_size_min": "1000",
        "batch_size_max": "5000",
        "batch_size_reference": "2500",
    }


@pytest.mark.parametrize(
    ("who", "expected"),
    [("recipe_author", 201), ("operator", 403), ("qa_user", 403), ("planner", 403), (None, 401)],
)
def test_who_may_create_a_recipe(who, expected, request, api_client):
    materials()
    if who:
        api_client.force_authenticate(request.getfixturevalue(who))

    response = api_client.post(f"{BASE}/master-recipes/", _create_body(), format="json")

    assert response.status_code == expected
    assert MasterRecipe.objects.count() == (1 if expected == 201 else 0)
    if expected == 403:
        assert response.json() == {
            "code": "not_authorized",
            "detail": "You may not create recipes: it needs the Recipe Author role.",
        }


@pytest.mark.parametrize(("who", "count"), [("operator", 0), ("planner", 1), ("qa_user", 1)])
def test_who_sees_recipes(who, count, request, api_client, recipe_author):
    draft_recipe(author=recipe_author)
    api_client.force_authenticate(request.getfixturevalue(who))

    response = api_client.get(f"{BASE}/master-recipes/")

    assert response.status_code == 200
    assert response.json()["count"] == count


def test_the_recipe_list_answers_in_a_fixed_number_of_queries(
    api_client, recipe_author, django_assert_max_num_queries
):
    draft_recipe(author=recipe_author)
    api_client.force_authenticate(recipe_author)

    with django_assert_max_num_queries(6):
        response = api_client.get(f"{BASE}/master-recipes/")

    assert response.json()["results"][0] | {"id": 0, "created_at": ""} == {
        "id": 0,
        "code": "RESIN-T",
        "name": "Test resin recipe",
        "description": "",
        "product": "RESIN-T",
        "product_name": "Test resin",
        "approved_version": None,
        "open_version": 1,
        "open_status": "draft",
        "version_count": 1,
        "created_at": "",
    }


def test_put_tree_refuses_bad_input_with_the_path_and_changes_nothing(api_client, recipe_author):
    version = draft_recipe(author=recipe_author)
    api_client.force_authenticate(recipe_author)
    before = api_client.get(f"{BASE}/versions/{version.pk}/tree/").json()
    tree = copy.deepcopy(before)
    tree["unit_procedures"][0]["operations"][1]["phases"][1]["outputs"][0]["yield_low_pct"] = "110"

    response = api_client.put(f"{BASE}/versions/{version.pk}/tree/", tree, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "recipe_invalid",
        "detail": "UP1/OP2/PH2.outputs[RESIN-T]: The lowest yield is above the highest yield.",
    }
    assert api_client.get(f"{BASE}/versions/{version.pk}/tree/").json() == before


def test_put_tree_checks_the_shape_first(api_client, recipe_author):
    version = draft_recipe(author=recipe_author)
    api_client.force_authenticate(recipe_author)

    response = api_client.put(
        f"{BASE}/versions/{version.pk}/tree/", {"unit_procedures": [{}]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert response.json()["errors"] == {
        "unit_procedures": {"0": {"name": ["This field is required."]}}
    }


def test_an_approved_version_refuses_edits_through_the_api(api_client, recipe_author, qa_user):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)
    api_client.force_authenticate(recipe_author)
    tree = api_client.get(f"{BASE}/versions/{version.pk}/tree/").json()

    put = api_client.put(f"{BASE}/versions/{version.pk}/tree/", tree, format="json")
    patch = api_client.patch(
        f"{BASE}/versions/{version.pk}/", {"batch_size_max": "9000"}, format="json"
    )
    delete = api_client.delete(f"{BASE}/versions/{version.pk}/")

    assert (put.status_code, patch.status_code, delete.status_code) == (409, 409, 405)
    assert put.json() == {
        "code": "recipe_version_not_editable",
        "detail": "Version 1 of RESIN-T is approved: it cannot be edited. Create a new version "
        "to change it.",
    }
    assert api_client.get(f"{BASE}/versions/{version.pk}/tree/").json() == tree


def test_a_wrong_password_signs_nothing_and_is_recorded(api_client, recipe_author, qa_user):
    version = draft_recipe(author=recipe_author)
    api_client.force_authenticate(recipe_author)
    api_client.post(f"{BASE}/versions/{version.pk}/submit/", _sign(recipe_author), format="json")
    api_client.force_authenticate(qa_user)

    response = api_client.post(
        f"{BASE}/versions/{version.pk}/approve/",
        _sign(qa_user, password="not-my-password"),
        format="json",
    )

    assert response.status_code == 403
    assert response.json()["code"] == "signature_bad_password"
    version.refresh_from_db()
    assert version.status == "in_review"
    assert (
        SecurityEvent.objects.filter(
            type="signature.failed", username="quinn.qa", data__reason="signature_bad_password"
        ).count()
        == 1
    )


def test_the_scale_endpoint_answers_the_control_recipe_or_refuses_the_size(
    api_client, recipe_author, qa_user, planner
):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)
    api_client.force_authenticate(planner)

    ok = api_client.get(f"{BASE}/versions/{version.pk}/scale/", {"batch_size": "4000"})
    too_big = api_client.get(f"{BASE}/versions/{version.pk}/scale/", {"batch_size": "6000"})

    assert ok.status_code == 200
    assert ok.json()["theoretical_yield"]["quantity"] == "3920"
    assert too_big.status_code == 400
    assert too_big.json() == {
        "code": "batch_size_out_of_range",
        "detail": "The batch size 6000 kg is outside the range of version 1 of RESIN-T: 1000 to "
        "5000 kg.",
    }


def test_the_whole_workflow_through_the_api(api_client, recipe_author, qa_user, qa_user2):
    materials()
    standard_tree()

    # The author creates the recipe, puts the tree, and submits (signed).
    api_client.force_authenticate(recipe_author)
    created = api_client.post(f"{BASE}/master-recipes/", _create_body(), format="json").json()
    v1_id = RecipeVersion.objects.get(recipe_id=created["id"], number=1).pk
    put = api_client.put(f"{BASE}/versions/{v1_id}/tree/", standard_tree(), format="json")
    assert put.status_code == 200
    assert [
        p["name"] for p in put.json()["content"]["unit_procedures"][0]["operations"][1]["phases"]
    ] == ["React hold", "Filter"]
    assert api_client.get(f"{BASE}/versions/{v1_id}/problems/").json() == {"problems": []}
    submitted = api_client.post(
        f"{BASE}/versions/{v1_id}/submit/", _sign(recipe_author, "ready"), format="json"
    )
    assert submitted.status_code == 200
    assert submitted.json()["status"] == "in_review"

    # The author may not approve; QA approves.
    refused = api_client.post(
        f"{BASE}/versions/{v1_id}/approve/", _sign(recipe_author), format="json"
    )
    assert refused.status_code == 403
    api_client.force_authenticate(qa_user)
    approved = api_client.post(
        f"{BASE}/versions/{v1_id}/approve/", _sign(qa_user, "reviewed"), format="json"
    )
    assert approved.status_code == 200
    body = approved.json()
    assert (body["status"], body["approved_by"]["username"]) == ("approved", "quinn.qa")
    assert [(sig["meaning"], sig["username"], sig["is_valid"]) for sig in body["signatures"]] == [
        ("submitted", "rita.author", True),
        ("approved", "quinn.qa", True),
    ]

    # New version 2: a copy; the author changes a limit, QA rejects, the author fixes it.
    api_client.force_authenticate(recipe_author)
    v2 = api_client.post(f"{BASE}/master-recipes/{created['id']}/new-version/", {}, format="json")
    assert v2.status_code == 201
    v2_id = v2.json()["id"]
    assert (v2.json()["number"], v2.json()["status"], v2.json()["based_on"]) == (2, "draft", 1)
    tree = api_client.get(f"{BASE}/versions/{v2_id}/tree/").json()
    tree["unit_procedures"][0]["operations"][1]["phases"][0]["parameters"][0]["high_limit"] = "88"
    tree["change_summary"] = "Tighter reaction temperature"
    assert api_client.put(f"{BASE}/versions/{v2_id}/tree/", tree, format="json").status_code == 200
    api_client.post(f"{BASE}/versions/{v2_id}/submit/", _sign(recipe_author), format="json")
    api_client.force_authenticate(qa_user2)
    rejected = api_client.post(
        f"{BASE}/versions/{v2_id}/reject/", _sign(qa_user2, "Say why 88"), format="json"
    )
    assert (rejected.json()["status"], rejected.json()["rejection_reason"]) == (
        "draft",
        "Say why 88",
    )
    api_client.force_authenticate(recipe_author)
    patched = api_client.patch(
        f"{BASE}/versions/{v2_id}/",
        {"change_summary": "Tighter reaction temperature (88 °C: fewer gels)"},
        format="json",
    )
    assert patched.status_code == 200
    api_client.post(f"{BASE}/versions/{v2_id}/submit/", _sign(recipe_author), format="json")

    # QA sees the diff against the approved version and approves: version 1 is superseded.
    api_client.force_authenticate(qa_user2)
    diff = api_client.get(f"{BASE}/versions/{v2_id}/diff/").json()
    assert diff["from"]["number"] == 1
    assert diff["changes"] == [
        {
            "path": "change_summary",
            "change": "changed",
            "old": None,
            "new": "Tighter reaction temperature (88 °C: fewer gels)",
        },
        {
            "path": "UP1/OP2/PH1.parameters[Temperature].high",
            "change": "changed",
            "old": "90",
            "new": "88",
        },
    ]
    approved2 = api_client.post(f"{BASE}/versions/{v2_id}/approve/", _sign(qa_user2), format="json")
    assert approved2.json()["status"] == "approved"
    v1 = api_client.get(f"{BASE}/versions/{v1_id}/").json()
    assert (v1["status"], v1["superseded_by"]) == ("superseded", 2)
    assert [sig["is_valid"] for sig in v1["signatures"]] == [True, True]
    listed = api_client.get(f"{BASE}/versions/", {"recipe": "RESIN-T"}).json()
    assert [(v["number"], v["status"]) for v in listed["results"]] == [
        (2, "approved"),
        (1, "superseded"),
    ]


def test_the_version_list_answers_in_a_fixed_number_of_queries(
    api_client, recipe_author, author2, qa_user, django_assert_max_num_queries
):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)
    approved(next_version(v1.recipe, author=author2), author=author2, reviewer=qa_user)
    api_client.force_authenticate(qa_user)

    with django_assert_max_num_queries(5):
        response = api_client.get(f"{BASE}/versions/")

    assert [(v["number"], v["status"], v["superseded_by"]) for v in response.json()["results"]] == [
        (2, "approved", None),
        (1, "superseded", 2),
    ]
