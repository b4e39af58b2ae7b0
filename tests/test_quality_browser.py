"""QA in a real browser (headless Chromium): enters lab results, sees the failing one, is
refused the release, opens a deviation and requests an override; a second QA reviewer signs
the override; only then is the lot released (signed)."""

import re

import pytest

from genealogy.choices import LotStatus
from genealogy.tests.factories import received_lot
from mes.accounts.tests.factories import DEFAULT_PASSWORD
from quality.models import LabResult, LotDisposition, ReleaseOverride
from quality.tests.factories import approved_spec
from tests.browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FAILING_REFUSAL = re.compile(
    r"Lot BR-1 has failing results \(Assay sample 1 = 96\.5 \(limits 98–102 %\)\): release "
    r"needs an override signed by QA and linked to a deviation\."
)


def messages(page):
    return page.locator("#messages .msg")


def test_release_is_refused_until_the_override_is_signed(
    browser_page, live_server, qa_user, qa_user2
):
    spec = approved_spec()
    lot = received_lot(material=spec.material, lot_number="BR-1", quantity="250")
    page = browser_page
    lot_url = f"{live_server.url}/quality/lots/{lot.pk}/"

    # 1. QA enters the lab results: one is out of specification
    login(page, live_server.url, "quinn.qa")
    page.goto(lot_url)
    page.fill("input[data-test=Assay]", "96.5")
    page.fill("input[data-test=Water]", "0.2")
    page.select_option("select[data-test=Identity]", "pass")
    with page.expect_navigation():
        page.click("form[data-testid=results-form] button[type=submit]")
    assert messages(page).first.inner_text() == "3 result(s) recorded; 1 out of specification."
    failing_row = page.locator("[data-testid=results-table] tr[data-outcome=fail]")
    assert failing_row.count() == 1
    assert failing_row.locator("td").first.inner_text() == "Assay"
    assert failing_row.locator("[data-testid=result-fail]").inner_text() == "FAIL"
    assert page.locator("[data-testid=release-blockers] li[data-code=failing_results]").count() == 1

    # 2. the release is refused, with the reason; nothing changes
    page.fill("#id_release_username", "quinn.qa")
    page.fill("#id_release_password", DEFAULT_PASSWORD)
    with page.expect_navigation():
        page.click("form:has(#id_release_username) button[type=submit]")
    assert FAILING_REFUSAL.fullmatch(messages(page).first.inner_text())
    assert page.locator("[data-testid=lot-status]").inner_text() == "Quarantine"
    assert LotDisposition.objects.count() == 0

    # 3. QA opens a deviation for the lot and requests an override
    with page.expect_navigation():
        page.click("[data-testid=open-deviation]")
    page.fill("#id_title", "Assay below specification on BR-1")
    page.fill("#id_description", "Assay 96.5 % against 98.0–102.0 %; reference standard suspect.")
    with page.expect_navigation():
        page.click("form[data-testid=deviation-form] button[type=submit]")
    assert re.fullmatch(r"DEV-\d{5} opened\.", messages(page).first.inner_text())
    page.fill("#id_justification", "Reference standard expired; retest on a new standard: 99.1 %.")
    with page.expect_navigation():
        page.click("form[data-testid=override-form] button[type=submit]")
    override = ReleaseOverride.objects.get(lot=lot)
    assert messages(page).first.inner_text() == (
        f"Override #{override.pk} requested: another QA reviewer must sign it."
    )
    # the requester is not offered the signature; the release is still refused
    assert page.locator("#id_override_username").count() == 0
    page.fill("#id_release_username", "quinn.qa")
    page.fill("#id_release_password", DEFAULT_PASSWORD)
    with page.expect_navigation():
        page.click("form:has(#id_release_username) button[type=submit]")
    assert FAILING_REFUSAL.match(messages(page).first.inner_text())
    assert page.locator("[data-testid=lot-status]").inner_text() == "Quarantine"

    # 4. a second QA reviewer signs the override, then releases the lot (signed)
    page.context.clear_cookies()
    login(page, live_server.url, "queenie.qa")
    page.goto(lot_url)
    page.fill("#id_override_username", "queenie.qa")
    page.fill("#id_override_password", DEFAULT_PASSWORD)
    with page.expect_navigation():
        page.click("form:has(#id_override_username) button[type=submit]")
    assert messages(page).first.inner_text() == f"Override #{override.pk} signed."
    assert page.locator("[data-testid=release-ready]").count() == 1
    page.fill("#id_release_username", "queenie.qa")
    page.fill("#id_release_password", DEFAULT_PASSWORD)
    page.fill("#id_release_reason", "Released under override; see deviation.")
    with page.expect_navigation():
        page.click("form:has(#id_release_username) button[type=submit]")

    assert messages(page).first.inner_text() == "Lot BR-1: released (signed)."
    assert page.locator("[data-testid=lot-status]").inner_text() == "Released"
    decision = page.locator("[data-testid=dispositions] tbody tr").first
    assert "Queenie QA" in decision.inner_text()
    assert "VALID" in decision.inner_text()
    lot.refresh_from_db()
    assert lot.status == LotStatus.RELEASED
    assert LotDisposition.objects.get().override == override
    assert LabResult.objects.filter(lot=lot).count() == 3
