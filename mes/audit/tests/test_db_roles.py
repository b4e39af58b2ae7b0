"""The application's database role (manage.py setup_db_roles): DML on business tables, only
SELECT on the audit tables (P11-E-06). The role is cluster-wide, so its name carries the test
database's name and it is dropped afterwards."""

import json

import psycopg2
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from mes.audit.models import AuditEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CONTEXT = json.dumps({"user_id": None, "user_name": "system:app-role-test", "roles": ["system"]})


@pytest.fixture
def app_role():
    name = f"mes_app_{connection.settings_dict['NAME']}"[:60]
    call_command("setup_db_roles", "--app-role", name, "--password", "app-role-test-pw")
    db = connection.settings_dict
    conn = psycopg2.connect(
        dbname=db["NAME"], user=name, password="app-role-test-pw", host=db["HOST"], port=db["PORT"]
    )
    conn.autocommit = True
    yield name, conn
    conn.close()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP OWNED BY "{name}"')
        cursor.execute(f'DROP ROLE "{name}"')


def _run(conn, sql, params=None):
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_event SET reason = 'edited'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
        "INSERT INTO audit_event (occurred_at, table_name, record_pk, action, user_name) "
        "VALUES (now(), 'x', '1', 'INSERT', 'forger')",
        "UPDATE audit_chain_head SET seq = 0",
        "DELETE FROM audit_checkpoint",
        "ALTER TABLE audit_event DISABLE TRIGGER audit_event_guard",
        "DELETE FROM accounts_securityevent",
        "UPDATE accounts_securityevent SET username = 'x'",
    ],
)
def test_the_app_role_may_not_touch_audit_tables_or_append_only_records(app_role, sql):
    _name, conn = app_role
    before = AuditEvent.objects.count()

    with pytest.raises(psycopg2.errors.InsufficientPrivilege) as exc:
        _run(conn, sql)

    assert "permission denied" in str(exc.value) or "must be owner" in str(exc.value)
    assert AuditEvent.objects.count() == before


def test_the_app_role_writes_business_records_and_they_are_audited(app_role):
    _name, conn = app_role

    _run(
        conn,
        "SELECT set_config('mes.ctx', %s, true); INSERT INTO auth_group (name) "
        "VALUES ('Written by the app role')",
        [CONTEXT],
    )
    rows = _run(conn, "SELECT count(*) FROM audit_event WHERE user_name = 'system:app-role-test'")

    assert rows == [(1,)]
    event = AuditEvent.objects.get(user_name="system:app-role-test")
    assert (event.table_name, event.action, event.seq is not None) == ("auth_group", "INSERT", True)


def test_the_app_role_cannot_write_without_a_context(app_role):
    _name, conn = app_role

    with pytest.raises(psycopg2.errors.RaiseException) as exc:
        _run(conn, "INSERT INTO auth_group (name) VALUES ('No context')")

    assert "audit: no attributable user for INSERT on auth_group" in str(exc.value)
    assert _run(conn, "SELECT count(*) FROM auth_group WHERE name = 'No context'") == [(0,)]


def test_the_app_role_may_sign_checkpoints_through_the_function_only(app_role):
    _name, conn = app_role
    _run(
        conn,
        "SELECT set_config('mes.ctx', %s, true); INSERT INTO auth_group (name) VALUES ('Signed')",
        [CONTEXT],
    )
    head = _run(conn, "SELECT seq, hash FROM audit_chain_head WHERE id = 1")[0]

    _run(
        conn,
        "SELECT audit_checkpoint_append(%s, %s, now(), 'sig', 'key')",
        [head[0], head[1]],
    )
    with pytest.raises(psycopg2.errors.RaiseException) as exc:
        _run(conn, "SELECT audit_checkpoint_append(%s, 'bogus', now(), 'sig', 'key')", [head[0]])

    assert head[0] > 0
    assert "does not match the chain" in str(exc.value)
    assert _run(conn, "SELECT count(*) FROM audit_checkpoint") == [(1,)]


def test_dry_run_prints_the_grants(capsys):
    call_command("setup_db_roles", "--app-role", "mes_app_dry", "--password", "pw", "--dry-run")

    out = capsys.readouterr().out
    assert (
        "CREATE ROLE \"mes_app_dry\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '********'"
        in out
    )
    assert 'GRANT SELECT ON TABLE "public"."audit_event" TO "mes_app_dry"' in out
    assert 'GRANT SELECT, INSERT ON TABLE "public"."accounts_securityevent" TO "mes_app_dry"' in out
    assert 'GRANT SELECT, INSERT, UPDATE ON TABLE "public"."accounts_user" TO "mes_app_dry"' in out
    assert (
        'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "public"."auth_group" TO "mes_app_dry"'
        in out
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'mes_app_dry'")
        assert cursor.fetchone() == (0,)


def test_a_role_that_owns_tables_is_refused():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]

    with pytest.raises(CommandError) as exc:
        call_command("setup_db_roles", "--app-role", owner, "--dry-run")

    assert "owns tables: an owner can disable the audit triggers" in str(exc.value)
