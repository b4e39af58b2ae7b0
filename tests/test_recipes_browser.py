"""A recipe author builds a small recipe in the back-office editor (no page reload per field),
meets an inline refusal, submits it with an e-signature; QA reviews and approves it."""

import pytest

from mes.accounts.tests.factories import DEFAULT_PASSWORD
from recipes.models import MasterRecipe
from recipes.tests.factories import materials
from tests.browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign(page, password=DEFAULT_PASSWORD, form="[data-testid=sign-form]"):
    page.fill(f"{form} input[type=password]", password)
    with page.expect_navigation():
        page.click(f"{form} button[type=submit]")


def test_an_author_builds_and_submits_a_recipe_and_qa_approves_it(
    browser_page, live_server, recipe_author, qa_user
):
    page = browser_page
    materials()
    login(page, live_server.url, recipe_author.username)

    page.goto("/recipes/new/")
    page.fill("#id_code", "RESIN-B")
    page.fill("#id_name", "Browser resin")
    page.select_option("#id_product", "RESIN-T")
    page.fill("#id_batch_size_min", "1000")
    page.fill("#id_batch_size_max", "3000")
    page.fill("#id_batch_size_reference", "2000")
    with page.expect_navigation():
        page.click("[data-testid=recipe-form] button[type=submit]")
    loaded_url = page.url

    # Structure, one HTMX request each: the page is never reloaded.
    page.fill("#new-up", "Polymerisation")
    page.click("text=Add unit procedure")
    page.wait_for_selector("[data-path=UP1]")
    page.fill("[placeholder^='New operation']", "Charge")
    page.click("text=Add operation")
    page.wait_for_selector("[data-path='UP1/OP1']")
    page.fill("[placeholder^='New phase']", "Charge monomer")
    page.click("text=Add phase")
    phase = page.locator("details[data-path='UP1/OP1/PH1']")
    phase.wait_for()
    assert phase.get_attribute("open") is not None

    # A field saves on change.
    phase.locator("textarea[name=instructions]").fill("Charge the monomer.")
    phase.locator("textarea[name=instructions]").press("Tab")
    page.wait_for_selector("details[data-path='UP1/OP1/PH1'] .rcp-row-add")
    page.wait_for_function(
        "() => !document.querySelector('#problems').textContent.includes('no operator instructions')"
    )

    # A refused parameter shows its reason inline; fixed, it is added.
    add = page.locator("details[data-path='UP1/OP1/PH1'] [data-testid=add-parameter]")
    add.locator("input[name=name]").fill("Temperature")
    add.locator("input[name=low_limit]").fill("90")
    add.locator("input[name=high_limit]").fill("80")
    add.locator("button[type=submit]").click()
    error = page.locator("[data-testid=add-parameter-error]")
    error.wait_for()
    assert "The low limit 90 is above the high limit 80." in error.inner_text()
    add = page.locator("details[data-path='UP1/OP1/PH1'] [data-testid=add-parameter]")
    add.locator("input[name=high_limit]").fill("95")
    add.locator("button[type=submit]").click()
    page.wait_for_selector("details[data-path='UP1/OP1/PH1'] form[data-name=Temperature]")

    add_input = page.locator("details[data-path='UP1/OP1/PH1'] [data-testid=add-input]")
    add_input.locator("input[name=material]").fill("RM-MONO")
    add_input.locator("input[name=quantity]").fill("1000")
    add_input.locator("input[name=tolerance_pct]").fill("0.5")
    add_input.locator("button[type=submit]").click()
    page.wait_for_selector("details[data-path='UP1/OP1/PH1'] form[data-material=RM-MONO]")

    add_output = page.locator("details[data-path='UP1/OP1/PH1'] [data-testid=add-output]")
    add_output.locator("input[name=material]").fill("RESIN-T")
    add_output.locator("input[name=expected_quantity]").fill("980")
    add_output.locator("input[name=yield_low_pct]").fill("95")
    add_output.locator("input[name=yield_high_pct]").fill("102")
    add_output.locator("button[type=submit]").click()
    page.wait_for_selector("details[data-path='UP1/OP1/PH1'] form[data-material=RESIN-T]")
    page.wait_for_selector("[data-testid=no-problems]")
    assert page.url == loaded_url

    # Submit, signed with user ID and password.
    with page.expect_navigation():
        page.click("[data-testid=submit-link]")
    _sign(page)
    assert page.locator("[data-testid=version-status]").inner_text() == "In review"

    # QA reviews and approves.
    page.context.clear_cookies()
    login(page, live_server.url, qa_user.username)
    page.goto("/recipes/")
    with page.expect_navigation():
        page.click("[data-testid=review-queue] a")
    assert "First version: nothing to compare with" in page.content()
    _sign(page, form="[data-testid=approve] [data-testid=sign-form]")
    assert page.locator("[data-testid=version-status]").inner_text() == "Approved"

    version = MasterRecipe.objects.get(code="RESIN-B").versions.get()
    assert (version.status, version.approved_by, version.author) == (
        "approved",
        qa_user,
        recipe_author,
    )
    phase_db = version.unit_procedures.get().operations.get().phases.get()
    assert phase_db.instructions == "Charge the monomer."
    assert list(phase_db.parameters.values_list("name", "low_limit", "high_limit")) == [
        ("Temperature", 90, 95)
    ]
