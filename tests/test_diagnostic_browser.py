"""QA runs the self-audit in the browser: answers the step-1 questions, sees the result page
(model, checklists, gap diagnostic) and signs the report."""

import pytest

from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.diagnostic.models import Assessment
from tests.browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_qa_runs_an_assessment_and_signs_the_report(browser_page, live_server, qa_user):
    page = browser_page
    login(page, live_server.url, qa_user.username)

    page.goto("/diagnostic/")
    page.select_option("#id_period", "30")
    page.check("#id_materials_1")  # Recipes
    page.check("#id_output_3")  # Both
    page.check("#id_downstream_1")  # Yes
    with page.expect_navigation():
        page.click("[data-testid=run-form] button[type=submit]")

    assessment = Assessment.objects.get()
    assert page.url.endswith(f"/diagnostic/{assessment.pk}/")
    assert page.text_content("[data-testid=mode]") == "Mixed (process feeding discrete)"
    assert page.locator("[data-testid=step4] tr[data-symptom]").count() == 7
    assert (
        page.locator("[data-item='batches.records_complete']").get_attribute("data-status")
        == "not_applicable"
    )
    assert page.locator("[data-item='mes.audit_trail_intact']").count() == 1

    page.fill("[data-testid=sign-form] input[name=username]", qa_user.username)
    page.fill("[data-testid=sign-form] input[type=password]", DEFAULT_PASSWORD)
    with page.expect_navigation():
        page.click("[data-testid=sign-form] button[type=submit]")

    manifestation = page.locator("[data-testid=signatures] .signature-manifestation")
    assert manifestation.count() == 1
    assert "Assessment signed" in manifestation.text_content()
    assert "VALID" in manifestation.text_content()
