"""Fixtures of the cross-app tests: a Chromium page for browser tests."""

import pytest


@pytest.fixture(scope="module")
def chromium_browser():
    """One headless Chromium per test module (see tests/browser.py). Module scope keeps the
    async-unsafe ORM allowance (needed next to Playwright) away from other modules' tests."""
    from playwright.sync_api import sync_playwright

    from tests.browser import django_orm_next_to_playwright, launch_chromium

    with django_orm_next_to_playwright(), sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium_browser, live_server):
    """A fresh page (no cookies) with the live server as its base URL."""
    from tests.browser import DEFAULT_TIMEOUT_MS, TERMINAL_VIEWPORT

    context = chromium_browser.new_context(
        viewport=TERMINAL_VIEWPORT, base_url=live_server.url, locale="en-GB"
    )
    page = context.new_page()
    page.set_default_timeout(DEFAULT_TIMEOUT_MS)
    yield page
    context.close()


@pytest.fixture
def midday_time_zone(settings):
    """Run the test in a time zone where it is around noon now, so that records dated a few
    hours back fall on today's date whenever CI runs (no skip near midnight). `Etc/GMT-N` is
    UTC+N (POSIX sign)."""
    from django.utils import timezone

    offset = (12 - timezone.now().hour) % 24
    if offset > 12:
        offset -= 24
    settings.TIME_ZONE = f"Etc/GMT{-offset:+d}" if offset else "UTC"
    assert 10 <= timezone.localtime().hour <= 14
    return settings.TIME_ZONE
