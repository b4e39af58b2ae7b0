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
import functools
import os
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

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


@functools.cache
def _data_migrations() -> tuple[Any, list[tuple[str, Any]]]:
    """The project's final historical app registry and every RunPython operation, in
    migration order (computed once per session)."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.operations import RunPython

    loader = MigrationLoader(connection, ignore_no_migrations=True)
    ordered: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for leaf in sorted(loader.graph.leaf_nodes()):
        for node in loader.graph.forwards_plan(leaf):
            if node not in seen:
                seen.add(node)
                ordered.append(node)
    operations = [
        (f"{app}.{name}", op)
        for app, name in ordered
        for op in loader.graph.nodes[(app, name)].operations
        if isinstance(op, RunPython)
    ]
    return loader.project_state().apps, operations


def restore_migration_data() -> float:
    """Re-run the data migrations (they are idempotent: get_or_create, add) against the
    project's final model state, when a flush has emptied what they made. Returns the seconds
    spent (0 when nothing was missing)."""
    from django.contrib.auth.models import Group
    from django.db import connection

    if Group.objects.exists():
        return 0.0
    started = time.perf_counter()
    state_apps, operations = _data_migrations()
    schema_editor = SimpleNamespace(connection=connection)
    for _name, operation in operations:
        operation.code(state_apps, schema_editor)
    return time.perf_counter() - started
