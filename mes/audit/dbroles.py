"""Database roles for production (PostgreSQL), applied by `manage.py setup_db_roles`.

The audit trail is only as strong as the separation between the role that owns the tables and
the role the application logs in with:
- the owner (the role that runs `migrate`: a superuser or a dedicated `mes_owner`) owns every
  table and the audit functions; only it can ALTER tables or disable triggers;
- `mes_app` (Django web and Celery at run time) owns nothing. It may SELECT/INSERT/UPDATE/DELETE
  business tables, only SELECT/INSERT append-only GMP tables and the simple-history tables,
  SELECT/INSERT/UPDATE tables whose rows are never deleted, and only SELECT the audit tables. The
  capture and seal triggers are SECURITY DEFINER (they run as the owner), so its writes are
  still recorded; checkpoints and the sealer task go through `audit_checkpoint_append()` and
  `audit_seal_events()`, the functions it may EXECUTE;
- optionally a NOLOGIN `mes_auditor` group with SELECT on every table, to grant to reviewers'
  database logins.
Run it after every `migrate` (it is idempotent): grants follow the current tables.
"""

from typing import Any

from mes.audit.install import table_plans
from mes.audit.pg import AUDIT_TABLES

APP_FUNCTIONS = (
    "audit_checkpoint_append(bigint, text, timestamptz, text, text)",
    "audit_seal_events(boolean)",
)


def _q(connection: Any, name: str) -> str:
    return connection.ops.quote_name(name)


def role_statements(
    connection: Any, *, app_role: str, password: str | None, auditor_role: str | None
) -> list[tuple[str, list[Any] | None]]:
    """The SQL (with parameters) that creates/updates the roles and their grants."""
    q = lambda name: _q(connection, name)  # noqa: E731
    plans = {p.table: p for p in table_plans()}
    out: list[tuple[str, list[Any] | None]] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), current_schema()")
        database, schema = cursor.fetchone()
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [app_role])
        exists = cursor.fetchone() is not None
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1"
        )
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'S' ORDER BY 1"
        )
        sequences = [row[0] for row in cursor.fetchall()]

    attrs = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    verb = "ALTER" if exists else "CREATE"
    if password:
        out.append((f"{verb} ROLE {q(app_role)} {attrs} PASSWORD %s", [password]))
    else:
        out.append((f"{verb} ROLE {q(app_role)} {attrs}", None))
    out.append((f"GRANT CONNECT ON DATABASE {q(database)} TO {q(app_role)}", None))
    out.append((f"GRANT USAGE ON SCHEMA {q(schema)} TO {q(app_role)}", None))
    out.append((f"REVOKE ALL ON ALL TABLES IN SCHEMA {q(schema)} FROM {q(app_role)}", None))
    out.append((f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {q(schema)} FROM {q(app_role)}", None))
    for table in tables:
        plan = plans.get(table)
        if table in AUDIT_TABLES or table == "django_migrations":
            rights = "SELECT"
        elif plan is not None and plan.append_only:
            rights = "SELECT, INSERT"
        elif plan is not None and not plan.deletable:
            rights = "SELECT, INSERT, UPDATE"
        else:
            rights = "SELECT, INSERT, UPDATE, DELETE"
        out.append((f"GRANT {rights} ON TABLE {q(schema)}.{q(table)} TO {q(app_role)}", None))
    for sequence in sequences:
        if not sequence.startswith(AUDIT_TABLES):
            out.append(
                (
                    f"GRANT USAGE, SELECT ON SEQUENCE {q(schema)}.{q(sequence)} TO {q(app_role)}",
                    None,
                )
            )
    for function in APP_FUNCTIONS:
        out.append((f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC", None))
        out.append((f"GRANT EXECUTE ON FUNCTION {function} TO {q(app_role)}", None))
    if auditor_role:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [auditor_role])
            auditor_exists = cursor.fetchone() is not None
        if not auditor_exists:
            out.append((f"CREATE ROLE {q(auditor_role)} NOLOGIN", None))
        out.append((f"GRANT CONNECT ON DATABASE {q(database)} TO {q(auditor_role)}", None))
        out.append((f"GRANT USAGE ON SCHEMA {q(schema)} TO {q(auditor_role)}", None))
        out.append((f"GRANT SELECT ON ALL TABLES IN SCHEMA {q(schema)} TO {q(auditor_role)}", None))
    return out


def is_superuser(connection: Any) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    return bool(row and row[0])


def owned_relations(connection: Any, role: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
            "WHERE r.rolname = %s",
            [role],
        )
        return int(cursor.fetchone()[0])
