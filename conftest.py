"""Root fixtures: an audit context for every test, service markers, people by role."""

import os

import pytest
from django.db import connection

from mes.accounts.roles import Role
from mes.audit.testing import audit_flush_guard  # noqa: F401  (transactional tests: see there)

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(config, items):
    """A test that needs PostgreSQL or Redis skips on a developer's SQLite run, and fails in CI
    when the service is missing (CI must never silently skip it)."""
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
    has_redis = bool(os.environ.get("REDIS_URL"))
    for item in items:
        if item.get_closest_marker("postgres") and not on_postgres:
            if IN_CI:
                item.user_properties.append(("ci_missing_service", "postgres"))
            else:
                item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)"))
        if item.get_closest_marker("redis") and not has_redis:
            if IN_CI:
                item.user_properties.append(("ci_missing_service", "redis"))
            else:
                item.add_marker(pytest.mark.skip(reason="needs Redis (set REDIS_URL)"))


@pytest.fixture(autouse=True)
def _fail_in_ci_without_service(request):
    for key, service in request.node.user_properties:
        if key == "ci_missing_service":
            pytest.fail(f"CI: this test needs {service}, which is not configured or not running")


@pytest.fixture(autouse=True)
def _audit_context():
    """Tests act as a named system principal unless they open their own context."""
    from mes.audit.context import system_context

    with system_context("pytest", reason="test setup"):
        yield


@pytest.fixture
def on_postgres():
    return connection.vendor == "postgresql"


def _user(username, *roles, **extra):
    from mes.accounts.tests.factories import UserFactory

    return UserFactory(username=username, roles=[r.value for r in roles], **extra)


@pytest.fixture
def operator(db):
    return _user("olivia.operator", Role.OPERATOR, full_name="Olivia Operator")


@pytest.fixture
def operator2(db):
    return _user("oscar.operator", Role.OPERATOR, full_name="Oscar Operator")


@pytest.fixture
def supervisor(db):
    return _user("sam.supervisor", Role.SUPERVISOR, full_name="Sam Supervisor")


@pytest.fixture
def qa_user(db):
    return _user("quinn.qa", Role.QA_REVIEWER, full_name="Quinn QA")


@pytest.fixture
def qa_user2(db):
    return _user("queenie.qa", Role.QA_REVIEWER, full_name="Queenie QA")


@pytest.fixture
def recipe_author(db):
    return _user("rita.author", Role.RECIPE_AUTHOR, full_name="Rita Author")


@pytest.fixture
def planner(db):
    return _user("paul.planner", Role.PLANNER, full_name="Paul Planner")


@pytest.fixture
def maintenance_user(db):
    return _user("max.maint", Role.MAINTENANCE, full_name="Max Maintenance")


@pytest.fixture
def integration_user(db):
    return _user("erp.sap", Role.INTEGRATION, full_name="SAP Integration")


@pytest.fixture
def admin_user(db):
    return _user("ada.admin", Role.ADMINISTRATOR, full_name="Ada Admin", is_staff=True)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
        or (marker is not None and marker.kwargs.get("transaction"))
    )


@pytest.fixture(autouse=True)
def migration_data(request):
    """In a transactional test (live server included): what the data migrations made (roles,
    system users, role permissions, signature policies), put back after an earlier test's flush
    removed it. Autouse, so it runs before fixtures such as `operator` that need the roles."""
    if not _is_transactional(request):
        return
    from mes.testing import restore_migration_data

    request.getfixturevalue("transactional_db")
    restore_migration_data()
