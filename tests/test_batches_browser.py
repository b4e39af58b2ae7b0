"""An operator at the terminal: opens the running batch, starts the first phase, records a
value out of limits (kept, flagged, deviation opened), corrects another entry, then completes
the phase with an e-signature; a wrong password first is refused and nothing is signed."""

import pytest
from guardian.shortcuts import assign_perm

from batches.models import PhaseExecution
from batches.tests import factories as f
from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.esign.models import Signature
from quality.models import Deviation
from tests.browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign(page, username, password):
    page.fill("[data-testid=sign-form] input[name=username]", username)
    page.fill("[data-testid=sign-form] input[type=password]", password)
    with page.expect_navigation():
        page.click("[data-testid=sign-form] button[type=submit]")


def test_an_operator_executes_a_phase_at_the_terminal(
    browser_page, live_server, operator, supervisor, planner, recipe_author, qa_user
):
    page = browser_page
    version = f.recipe(author=recipe_author, reviewer=qa_user)
    unit = f.reactor(cleaned_by=operator, verified_by=supervisor)
    batch = f.started_batch(planner=planner, operator=operator, version=version, unit=unit)
    assign_perm("equipment.operate_in_area", operator, unit.area)
    phase = f.phase(batch, 1)
    login(page, live_server.url, operator.username)

    page.goto(f"{live_server.url}/batches/")
    with page.expect_navigation():
        page.click(f"text={batch.number}")
    with page.expect_navigation():
        page.click("text=UP1/OP1/PH1 Charge monomer")
    with page.expect_navigation():
        page.click("[data-testid=start-phase]")
    assert page.inner_text("[data-testid=phase-status]") == "Active"

    page.fill("[aria-label='Charge temperature']", "41")
    with page.expect_navigation():
        page.click("[data-testid=values] button:has-text('Record')")
    row = page.locator("tr[data-param='Charge temperature']")
    assert "OUT OF LIMIT" in row.inner_text()

    row.locator("[aria-label='Corrected value']").fill("34")
    row.locator("[aria-label='Reason']").fill("probe not settled")
    with page.expect_navigation():
        row.locator("button:has-text('Correct')").click()
    assert "34 †" in page.locator("tr[data-param='Charge temperature']").inner_text()

    _sign(page, operator.username, "wrong-password")
    assert PhaseExecution.objects.get(pk=phase.pk).status == "active"
    assert not Signature.objects.filter(meaning="performed").exists()

    _sign(page, operator.username, DEFAULT_PASSWORD)

    assert page.inner_text("[data-testid=phase-status]") == "Completed"
    assert Signature.objects.filter(meaning="performed").count() == 1
    assert list(
        Deviation.objects.filter(source_ref=batch.number)
        .order_by("id")
        .values_list("title", flat=True)
    ) == [
        f"{batch.number}: Charge temperature out of limits",
        f"{batch.number}: RM-MONO dispensing outside tolerance",
    ]


SHORT_TREE = {
    "unit_procedures": [
        {
            "name": "Short",
            "description": "",
            "operations": [
                {
                    "name": "Make",
                    "description": "",
                    "phases": [
                        {
                            "name": "Heat",
                            "instructions": "Heat to 60 °C.",
                            "parameters": [
                                {
                                    "name": "Temperature",
                                    "unit": "°C",
                                    "data_type": "number",
                                    "low_limit": "55",
                                    "high_limit": "65",
                                }
                            ],
                        },
                        {
                            "name": "Discharge",
                            "instructions": "Discharge into drums.",
                            "parameters": [],
                            "outputs": [
                                {
                                    "material": "RESIN-T",
                                    "kind": "product",
                                    "expected_quantity": "2450",
                                    "yield_low_pct": "90",
                                    "yield_high_pct": "105",
                                }
                            ],
                        },
                    ],
                }
            ],
        }
    ]
}


def test_an_operator_runs_a_short_batch_and_qa_releases_it(
    browser_page, live_server, operator, supervisor, planner, recipe_author, qa_user
):
    from genealogy.models import Lot
    from recipes.tests.factories import approved, draft_recipe

    page = browser_page
    version = approved(
        draft_recipe(author=recipe_author, code="SHORT-1", tree=SHORT_TREE),
        author=recipe_author,
        reviewer=qa_user,
    )
    unit = f.reactor(cleaned_by=operator, verified_by=supervisor)
    batch = f.started_batch(planner=planner, operator=operator, version=version, unit=unit)
    assign_perm("equipment.operate_in_area", operator, unit.area)
    login(page, live_server.url, operator.username)

    # phase by phase at the terminal
    for path, name, value in (("UP1/OP1/PH1", "Heat", "60"), ("UP1/OP1/PH2", "Discharge", None)):
        page.goto(f"{live_server.url}/batches/{batch.pk}/")
        with page.expect_navigation():
            page.click(f"text={path} {name}")
        with page.expect_navigation():
            page.click("[data-testid=start-phase]")
        if value is not None:
            page.fill("[aria-label='Temperature']", value)
            with page.expect_navigation():
                page.click("[data-testid=values] button:has-text('Record')")
        _sign(page, operator.username, DEFAULT_PASSWORD)
        assert page.inner_text("[data-testid=phase-status]") == "Completed"

    # yield and completion on the batch page
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    page.fill("[data-testid=yield-form] input[name=quantity]", "1950")
    with page.expect_navigation():
        page.click("[data-testid=yield-form] button[type=submit]")
    with page.expect_navigation():
        page.click("[data-testid=complete-batch]")
    assert page.inner_text("[data-testid=batch-status]") == "Completed"

    # the lab's results on the produced lot (quality's own pages), then QA releases
    f.output_lot_results(batch, qa=qa_user)
    page.context.clear_cookies()
    login(page, live_server.url, qa_user.username)
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    assert "Review by exception (0)" in page.inner_text("body")
    _sign(page, qa_user.username, DEFAULT_PASSWORD)

    assert page.inner_text("[data-testid=batch-status]") == "Released"
    batch.refresh_from_db()
    assert batch.status == "released"
    assert Lot.objects.get(pk=batch.output_lot_id).status == "released"
    assert list(
        Signature.objects.filter(meaning__in=["performed", "released"])
        .order_by("id")
        .values_list("meaning", "signer__username")
    ) == [
        ("performed", operator.username),
        ("performed", operator.username),
        ("released", qa_user.username),  # the batch record
        ("released", qa_user.username),  # its output lot, by the same signature act
    ]
