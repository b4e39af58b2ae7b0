"""Every recipe write reaches the database audit trail with the acting person and a reason."""

import pytest

from mes.audit.models import AuditEvent
from recipes import services
from recipes.models import PhaseParameter
from recipes.tests.factories import draft_recipe, signer_for

pytestmark = pytest.mark.django_db


def test_a_limit_change_is_in_the_trail_with_the_author_and_the_element(recipe_author):
    version = draft_recipe(author=recipe_author)
    temperature = PhaseParameter.objects.get(
        phase__operation__unit_procedure__version=version, name="Temperature"
    )

    services.phase_parameter_update(
        actor=recipe_author, parameter=temperature, changes={"high_limit": "88"}
    )

    event = AuditEvent.objects.filter(
        table_name="recipes_phaseparameter", record_pk=str(temperature.pk), action="UPDATE"
    ).get()
    assert (event.user_name, event.reason) == ("rita.author", "UP1/OP2/PH1: edit parameter")
    assert float(event.old_values["high_limit"]) == 90
    assert float(event.new_values["high_limit"]) == 88


def test_the_submission_is_in_the_trail_as_the_signer(recipe_author):
    version = draft_recipe(author=recipe_author)

    services.recipe_version_submit(
        actor=recipe_author, version=version, signer=signer_for(recipe_author)
    )

    event = AuditEvent.objects.filter(
        table_name="recipes_recipeversion", record_pk=str(version.pk), action="UPDATE"
    ).latest("id")
    assert (event.user_name, event.new_values["status"]) == ("rita.author", "in_review")
