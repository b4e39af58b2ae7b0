"""Test support for the audit trail.

Transactional tests. `@pytest.mark.django_db(transaction=True)` (and `transactional_db`,
`live_server`) empty the database after each test with `TRUNCATE` (PostgreSQL) or `DELETE`
(SQLite), which the trail's guards refuse by design. The session fixture `audit_flush_guard`
(imported into the root conftest.py, so it is always active) wraps Django's flush: on
PostgreSQL, inside the flush's own transaction and as the (superuser) test connection, it
disables the trail's TRUNCATE guards, truncates, re-creates the chain head and re-enables the
guards (`ENABLE ALWAYS`), so no other moment ever sees them off; on SQLite it drops the demo
triggers, deletes and re-installs them. Nothing else is bypassed: a test that TRUNCATEs or
DELETEs an audited table itself is refused, as in production.

Remember what every flush does: it also empties the rows that data migrations created (roles,
system users); tests/conftest.py puts them back for the cross-app tests.

Helpers and fixtures:
- `seal_pending()`: in a non-transactional test (one transaction rolled back at the end) the
  seal only runs at commit; this fires it now so seq/hash can be asserted.
- `without_audit_context()`: run a block with no audit context (to test the refusal).
- fixtures `trail` (events written during the test) and `checkpoint_files` (key and log in
  tmp_path); import them where needed.
"""

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from mes.audit.context import _current


def _pg_flush(original: Any) -> Any:
    def execute_sql_flush(self: Any, sql_list: list[str]) -> None:
        from django.db import transaction

        from mes.audit.pg import OUR_FUNCTIONS

        with transaction.atomic(using=self.connection.alias), self.connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), quote_ident(t.tgname)
                FROM pg_trigger t
                JOIN pg_class c ON c.oid = t.tgrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_proc p ON p.oid = t.tgfoid
                WHERE NOT t.tgisinternal AND p.proname = ANY(%s)
                  AND (t.tgtype & 32) <> 0 AND t.tgenabled <> 'D'
                """,  # tgtype bit 32: TRUNCATE trigger
                [list(OUR_FUNCTIONS)],
            )
            guards = cursor.fetchall()
            for table, trigger in guards:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
            original(self, sql_list)
            for table, trigger in guards:
                cursor.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}")
            cursor.execute(
                "INSERT INTO audit_chain_head (id, seq, hash, low_txid) VALUES (1, 0, %s, 0) "
                "ON CONFLICT (id) DO NOTHING",
                ["0" * 64],
            )

    return execute_sql_flush


def _sqlite_flush(original: Any) -> Any:
    def execute_sql_flush(self: Any, sql_list: list[str]) -> None:
        from django.db import transaction

        from mes.audit.install import install
        from mes.audit.sqlite import drop_all

        with transaction.atomic(using=self.connection.alias):
            drop_all(self.connection)
            original(self, sql_list)
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "INSERT OR IGNORE INTO audit_chain_head (id, seq, hash, low_txid) "
                    "VALUES (1, 0, %s, 0)",
                    ["0" * 64],
                )
            install(self.connection)

    return execute_sql_flush


@pytest.fixture(autouse=True, scope="session")
def audit_flush_guard() -> Iterator[None]:
    """Let Django's test flush empty audited tables (see the module docstring)."""
    from django.db import connections

    wrappers = {"postgresql": _pg_flush, "sqlite": _sqlite_flush}
    with pytest.MonkeyPatch.context() as patch:
        patched: set[type] = set()
        for conn in connections.all():
            ops = type(conn.ops)
            if conn.vendor in wrappers and ops not in patched:
                patch.setattr(
                    ops, "execute_sql_flush", wrappers[conn.vendor](ops.execute_sql_flush)
                )
                patched.add(ops)
        yield


def seal_pending(using: str = "default") -> None:
    """Seal the events written so far in this transaction (PostgreSQL seals at commit;
    SQLite seals at once)."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS audit_seal IMMEDIATE")
            cursor.execute("SET CONSTRAINTS audit_seal DEFERRED")


@contextlib.contextmanager
def without_audit_context() -> Iterator[None]:
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


@pytest.fixture
def trail() -> Any:
    """The audit events written since the fixture was set up: `trail()` or
    `trail("auth_group")`, oldest first."""
    from mes.audit.models import AuditEvent

    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def events(table: str | None = None) -> list[Any]:
        qs = AuditEvent.objects.filter(id__gt=before).order_by("id")
        return list(qs.filter(table_name=table) if table else qs)

    return events


@pytest.fixture
def checkpoint_files(settings: Any, tmp_path: Any) -> Any:
    """A fresh signing key location (generated on first use) and external checkpoint log."""
    settings.MES_AUDIT_SIGNING_KEY_FILE = tmp_path / "keys" / "audit-ed25519.pem"
    settings.MES_AUDIT_CHECKPOINT_LOG = tmp_path / "audit-checkpoints.jsonl"
    settings.MES_AUDIT_GENERATE_KEY = True
    settings.MES_AUDIT_TRUSTED_PUBLIC_KEYS = []
    settings.MES_AUDIT_PUBLIC_KEY_FILE = None
    return tmp_path
