"""Browser-test helpers: Debian's Chromium driven by Playwright's sync API, and a login.

    from tests.browser import login

    @pytest.mark.browser
    @pytest.mark.django_db(transaction=True)
    def test_something(browser_page, live_server, operator):
        login(browser_page, live_server.url, "olivia.operator")
        ...

`browser_page` (tests/conftest.py) is a fresh page in a fresh browser context (no cookies) on
one Chromium shared by the module. Live-server tests are transactional: the database is
emptied after each one (mes/audit/testing.py lets the flush pass the trail's guards), which
also removes what data migrations created (roles, system users, role permissions, signature
policies); `browser_page` puts those back first (`restore_migration_data`). Never run `playwright install`: the browser is
/usr/bin/chromium (`make chromium` installs it from the distribution).
"""

import contextlib
import os
from collections.abc import Iterator

from playwright.sync_api import Browser, Page, Playwright

from mes.accounts.tests.factories import DEFAULT_PASSWORD

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# A shop-floor terminal: a 1280×800 panel PC.
TERMINAL_VIEWPORT = {"width": 1280, "height": 800}
DEFAULT_TIMEOUT_MS = 15_000


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS
    )


@contextlib.contextmanager
def django_orm_next_to_playwright() -> Iterator[None]:
    """Playwright's sync API runs an event loop in the test's thread; Django refuses ORM calls
    from a thread with a running loop unless told it is safe (it is: the loop is idle while
    the test's code runs)."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def login(page: Page, base_url: str, username: str, password: str = DEFAULT_PASSWORD) -> None:
    """Log in through the login page, as a person would, and wait for the next page."""
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("form.form-large button[type=submit]")


from mes.testing import restore_migration_data  # noqa: E402,F401 (re-export)
