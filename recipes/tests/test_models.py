"""The database holds the invariants even against a write that bypasses the services."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from recipes.models import Phase, PhaseOutput, PhaseParameter, RecipeVersion
from recipes.tests.factories import approved_recipe, draft_recipe, next_version

pytestmark = pytest.mark.django_db


def _violates(queryset, **values):
    with pytest.raises(IntegrityError), transaction.atomic():
        queryset.update(**values)


def test_a_recipe_has_at_most_one_approved_version(recipe_author, qa_user):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)
    v2 = next_version(v1.recipe, author=recipe_author)

    _violates(
        RecipeVersion.objects.filter(pk=v2.pk),
        status="approved",
        approved_at=timezone.now(),
        approved_by=qa_user,
    )

    assert RecipeVersion.objects.filter(recipe=v1.recipe, status="approved").count() == 1


def test_a_recipe_has_at_most_one_version_being_worked_on(recipe_author, qa_user):
    v1 = approved_recipe(author=recipe_author, reviewer=qa_user)
    next_version(v1.recipe, author=recipe_author)

    _violates(RecipeVersion.objects.filter(pk=v1.pk), status="in_review")


def test_an_approved_version_names_its_approver(recipe_author):
    version = draft_recipe(author=recipe_author)

    _violates(RecipeVersion.objects.filter(pk=version.pk), status="approved")


def test_an_unknown_status_is_refused(recipe_author):
    version = draft_recipe(author=recipe_author)

    _violates(RecipeVersion.objects.filter(pk=version.pk), status="released")


def test_the_reference_batch_size_lies_in_the_range(recipe_author):
    version = draft_recipe(author=recipe_author)

    _violates(RecipeVersion.objects.filter(pk=version.pk), batch_size_reference=6000)


def test_a_critical_phase_is_always_verified(recipe_author):
    version = draft_recipe(author=recipe_author)
    phases = Phase.objects.filter(operation__unit_procedure__version=version, is_critical=True)

    _violates(phases, requires_verification=False)


def test_parameter_limits_cannot_cross(recipe_author):
    version = draft_recipe(author=recipe_author)
    temperature = PhaseParameter.objects.filter(
        phase__operation__unit_procedure__version=version, name="Temperature"
    )

    _violates(temperature, low_limit=95)
    _violates(temperature, target=99)


def test_a_text_parameter_has_no_limits(recipe_author):
    version = draft_recipe(author=recipe_author)
    appearance = PhaseParameter.objects.filter(
        phase__operation__unit_procedure__version=version, name="Appearance"
    )

    _violates(appearance, high_limit=1)


def test_a_yield_range_cannot_cross(recipe_author):
    version = draft_recipe(author=recipe_author)
    product = PhaseOutput.objects.filter(
        phase__operation__unit_procedure__version=version, kind="product"
    )

    _violates(product, yield_low_pct=103)


def test_positions_are_unique_within_the_parent(recipe_author):
    version = draft_recipe(author=recipe_author)
    second = Phase.objects.filter(
        operation__unit_procedure__version=version, operation__position=1, position=2
    )

    _violates(second, position=1)
