"""mes.prepared: hot reads as server-side prepared statements on PostgreSQL."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mes.accounts.models import User
from mes.accounts.tests.factories import UserFactory
from mes.audit.models import AuditEvent
from mes.prepared import attnames, columns, from_row, prepared

pytestmark = pytest.mark.django_db


def _names(q):
    return list(q.order_by("username").values_list("username", flat=True))


@pytest.mark.postgres
def test_a_queryset_runs_as_a_prepared_statement_with_the_same_rows():
    for name in ("ada", "bob", "cyd%"):
        UserFactory(username=name)
    query = User.objects.filter(username__in=["ada", "cyd%"], username__contains="%")
    plain = _names(User.objects.filter(username__in=["ada", "cyd%"]))
    with CaptureQueriesContext(connection) as ctx, prepared("mes_test_users"):
        first = _names(User.objects.filter(username__in=["ada", "cyd%"]))
        again = _names(User.objects.filter(username__in=["ada", "cyd%"]))
        literal_percent = _names(query)
    sent = [q["sql"] for q in ctx.captured_queries]
    assert first == again == plain == ["ada", "cyd%"]
    assert literal_percent == ["cyd%"]
    # (the debug cursor logs the last statement psycopg2 sent: PREPARE went just before)
    assert all(sql.startswith("EXECUTE mes_test_users_") for sql in sent)
    assert sent[0] == sent[1] != sent[2]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'mes_test_users_%%'"
        )
        assert cursor.fetchone()[0] == 2  # one per statement text


@pytest.mark.postgres
def test_switched_off_it_sends_the_statement_itself(settings):
    settings.MES_DB_PREPARED = False
    UserFactory(username="ada")
    with CaptureQueriesContext(connection) as ctx, prepared("mes_test_off"):
        assert _names(User.objects.filter(username="ada")) == ["ada"]
    assert ctx.captured_queries[0]["sql"].startswith("SELECT")


def test_from_row_loads_an_instance_as_the_orm_does():
    """A handwritten statement's row, through `from_row`, equals what the ORM loads: JSON,
    dates and numbers converted by the backend's and the fields' converters (both databases)."""
    UserFactory(username="ada")
    event = AuditEvent.objects.filter(table_name="accounts_user").order_by("id").first()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns(AuditEvent)} FROM audit_event WHERE id = %s", [event.pk])
        loaded = from_row(AuditEvent, cursor.fetchone())
    names = attnames(AuditEvent)
    assert [getattr(loaded, n) for n in names] == [getattr(event, n) for n in names]
    assert loaded.new_values["username"] == "ada"
    assert loaded._state.adding is False
