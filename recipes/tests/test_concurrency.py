"""Two people acting on the same recipe at the same moment (PostgreSQL row locks)."""

import pytest

from mes.esign.models import Signature
from mes.exceptions import DomainError
from mes.testing import race
from recipes import services
from recipes.models import RecipeVersion
from recipes.tests.factories import approved_recipe, draft_recipe, signer_for, submitted

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_reviewers_approving_at_once_approve_once(recipe_author, qa_user, qa_user2):
    version = submitted(draft_recipe(author=recipe_author), author=recipe_author)
    signers = {qa_user.pk: signer_for(qa_user), qa_user2.pk: signer_for(qa_user2)}

    results = race(
        *[
            (
                lambda u=u: services.recipe_version_approve(
                    actor=u, version=version, signer=signers[u.pk]
                )
            )
            for u in (qa_user, qa_user2)
        ]
    )

    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 1
    assert refused[0].status_code == 409
    assert refused[0].detail == "Version 1 of RESIN-T is approved: it cannot become approved."
    version.refresh_from_db()
    assert version.status == "approved"
    assert Signature.objects.filter(meaning="approved").count() == 1


def test_two_authors_starting_a_new_version_at_once_get_one_draft(recipe_author, author2, qa_user):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)

    results = race(
        lambda: services.recipe_version_create_next(actor=recipe_author, recipe=v1.recipe),
        lambda: services.recipe_version_create_next(actor=author2, recipe=v1.recipe),
    )

    refused = [r for r in results if isinstance(r, DomainError)]
    assert [r.code for r in refused] == ["recipe_open_version_exists"]
    assert list(
        RecipeVersion.objects.filter(recipe=v1.recipe)
        .order_by("number")
        .values_list("number", "status")
    ) == [(1, "approved"), (2, "draft")]


def test_two_authors_adding_phases_at_once_keep_positions_gapless(recipe_author, author2):
    version = draft_recipe(author=recipe_author)
    operation = version.unit_procedures.get().operations.get(position=2)

    results = race(
        lambda: services.phase_add(actor=recipe_author, operation=operation, values={"name": "A"}),
        lambda: services.phase_add(actor=author2, operation=operation, values={"name": "B"}),
    )

    assert not [r for r in results if isinstance(r, DomainError)]
    positions = list(operation.phases.order_by("position").values_list("position", flat=True))
    assert positions == [1, 2, 3, 4]
    assert sorted(operation.phases.values_list("name", flat=True)) == [
        "A",
        "B",
        "Filter",
        "React hold",
    ]
