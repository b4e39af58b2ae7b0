"""A supervisor in a real browser (headless Chromium) opens the analytics dashboard, changes
the date range and sees the deviation-ageing chart and its table."""

from datetime import timedelta

import pytest
from django.utils import timezone

from quality import services as quality
from tests.browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_change_the_range_and_see_a_chart_and_its_table(
    browser_page, live_server, supervisor, qa_user
):
    for title, classification in (("Leak at the filler", "major"), ("Label smudged", "minor")):
        d = quality.deviation_open(actor=qa_user, title=title, description="seen on the line")
        quality.deviation_classify(actor=qa_user, deviation=d, classification=classification)
    page = browser_page
    login(page, live_server.url, "sam.supervisor")
    page.click("a[data-tile='mes.analytics']")
    ageing = page.locator("section[data-metric='quality.deviation_ageing']")

    # a range that ended before the deviations were opened: nothing to draw
    page.fill("[data-testid=range-from]", "2020-01-01")
    page.fill("[data-testid=range-to]", "2020-03-31")
    page.select_option("[data-testid=range-bucket]", "month")
    page.click("[data-testid=range-apply]")
    page.wait_for_url("**from=2020-01-01**")
    assert ageing.locator("[data-testid=no-data]").inner_text() == "No data in this period."
    assert ageing.locator("svg[data-testid=chart]").count() == 0

    # up to today: the ageing chart and its table
    today = timezone.localdate()
    page.fill("[data-testid=range-from]", (today - timedelta(days=60)).isoformat())
    page.fill("[data-testid=range-to]", today.isoformat())
    page.click("[data-testid=range-apply]")
    page.wait_for_url(f"**to={today.isoformat()}**")
    chart = ageing.locator("svg[data-testid=chart][data-kind=bar]")
    assert chart.is_visible()
    assert chart.locator("rect[data-category='0–7 days']").count() == 2
    first_row = ageing.locator("[data-testid=metric-table] tbody tr").first
    assert first_row.locator("td").all_inner_texts() == ["0–7 days", "1", "1", "0", "0", "2", "0"]
    assert page.locator("[data-testid=range-shown]").inner_text().endswith("per month.")

    # a range that ends before it starts is refused with the reason
    page.fill("[data-testid=range-from]", (today + timedelta(days=1)).isoformat())
    page.click("[data-testid=range-apply]")
    error = page.locator("[data-testid=range-error]")
    error.wait_for()
    assert error.inner_text().startswith("The range starts (")
