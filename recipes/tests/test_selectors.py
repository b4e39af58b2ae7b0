import pytest

from mes.exceptions import NotFound
from recipes import selectors, services
from recipes.exceptions import RecipeVersionNotUsable
from recipes.tests.factories import (
    approved,
    approved_recipe,
    draft_recipe,
    next_version,
    signer_for,
    submitted,
)

pytestmark = pytest.mark.django_db


def test_current_approved_is_none_until_the_first_approval(recipe_author, qa_user):
    version = draft_recipe(author=recipe_author)
    assert selectors.recipe_version_current_approved(version.recipe) is None

    approved(version, author=recipe_author, reviewer=qa_user)

    assert selectors.recipe_version_current_approved(version.recipe) == version


def test_for_batch_returns_the_current_approved_version(recipe_author, qa_user):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)

    assert selectors.recipe_version_for_batch(version.pk) == version


def test_for_batch_refuses_a_superseded_version_and_names_the_current_one(
    recipe_author, author2, qa_user
):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)
    approved(next_version(v1.recipe, author=author2), author=author2, reviewer=qa_user)

    with pytest.raises(RecipeVersionNotUsable) as refused:
        selectors.recipe_version_for_batch(v1.pk)

    assert refused.value.status_code == 409
    assert refused.value.code == "recipe_version_not_usable"
    assert refused.value.detail == (
        "Version 1 of RESIN-T is superseded; the current approved version is 2. Only the "
        "current approved version can be used for a new batch."
    )


@pytest.mark.parametrize("state", ["draft", "in_review"])
def test_for_batch_refuses_a_version_not_yet_approved(state, recipe_author):
    version = draft_recipe(author=recipe_author)
    if state == "in_review":
        submitted(version, author=recipe_author)
    label = {"draft": "draft", "in_review": "in review"}[state]

    with pytest.raises(RecipeVersionNotUsable) as refused:
        selectors.recipe_version_for_batch(version.pk)

    assert refused.value.detail == (
        f"Version 1 of RESIN-T is {label}; RESIN-T has no approved version. Only the current "
        "approved version can be used for a new batch."
    )


def test_for_batch_refuses_an_obsolete_version(recipe_author, qa_user):
    version = approved_recipe(author=recipe_author, reviewer=qa_user)
    services.recipe_version_make_obsolete(
        actor=qa_user, version=version, signer=signer_for(qa_user), reason="Withdrawn"
    )

    with pytest.raises(RecipeVersionNotUsable) as refused:
        selectors.recipe_version_for_batch(version.pk)

    assert refused.value.detail.startswith("Version 1 of RESIN-T is obsolete; RESIN-T has no")


def test_for_batch_of_an_unknown_id_is_not_found(db):
    with pytest.raises(NotFound):
        selectors.recipe_version_for_batch(987654)


def test_the_baseline_of_a_draft_is_the_current_approved_version(recipe_author, qa_user):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)
    v2 = next_version(v1.recipe, author=recipe_author)

    assert selectors.recipe_version_baseline(v2) == v1
    assert selectors.recipe_version_baseline(v1) is None


def test_the_baseline_of_an_approved_version_is_the_one_it_superseded(
    recipe_author, author2, qa_user
):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)
    v2 = approved(next_version(v1.recipe, author=author2), author=author2, reviewer=qa_user)

    assert selectors.recipe_version_baseline(v2) == v1


def test_recipe_list_is_empty_for_a_user_without_a_recipe_role(recipe_author, operator):
    draft_recipe(author=recipe_author)

    assert list(selectors.recipe_list(actor=operator)) == []
    listed = selectors.recipe_list(actor=recipe_author).get()
    assert (listed.code, listed.approved_number, listed.open_number, listed.open_status) == (
        "RESIN-T",
        None,
        1,
        "draft",
    )


def test_the_tree_is_read_in_a_fixed_number_of_queries(
    recipe_author, django_assert_max_num_queries
):
    version = draft_recipe(author=recipe_author)

    with django_assert_max_num_queries(8):
        tree = selectors.recipe_version_tree(version)
        names = [
            (
                p.name,
                [x.name for x in p.parameters.all()],
                [i.material.code for i in p.inputs.all()],
            )
            for up in tree
            for op in up.operations.all()
            for p in op.phases.all()
        ]

    assert names[2] == ("React hold", ["Temperature", "Appearance"], ["RM-INIT"])
