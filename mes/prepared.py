"""Server-side prepared statements for the few hot statements every request runs (PostgreSQL).

psycopg2 sends each statement as text, so PostgreSQL plans it again on every execution. For the
API token lookup (a join with three array subqueries) planning took twice as long as running
it. `prepared()` PREPAREs the statement once per database session and EXECUTEs it after
that; PostgreSQL then re-uses the plan (after five executions, a generic one). The work-order
terminal's operation lock is the other one.

Prepared statements belong to the session, not to a transaction (a rollback keeps them), so
which ones a session holds is remembered per raw connection. Behind a transaction-pooling
proxy (PgBouncer in transaction mode) sessions are shared: set MES_DB_PREPARED=0 there.
"""

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db import connection

_prepared: "WeakKeyDictionary[Any, set[str]]" = WeakKeyDictionary()
_PLACEHOLDER = re.compile(r"%(s|%)")


def _numbered(sql: str) -> str:
    """Django's `%s` placeholders as `$1..$n` (and `%%` as `%`), for PREPARE."""
    n = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal n
        if m.group(1) == "%":
            return "%"
        n += 1
        return f"${n}"

    return _PLACEHOLDER.sub(repl, sql)


@contextmanager
def prepared(name: str) -> Iterator[None]:
    """Inside the block, every statement this connection runs (an ORM queryset with its
    select_related and annotations, or a cursor's execute) goes as a prepared statement named
    `name` plus a hash of its text: prepared on first use in the session, EXECUTEd with the
    parameters after that. Nothing changes on SQLite, or when MES_DB_PREPARED is off. For
    reads (SELECT, also FOR UPDATE) only: a write must carry its audit context, which
    mes/audit/db.py adds to INSERT/UPDATE/DELETE text, not to an EXECUTE."""
    if connection.vendor != "postgresql" or not getattr(settings, "MES_DB_PREPARED", True):
        yield
        return

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if many or not isinstance(sql, str):
            return execute(sql, params, many, context)
        statement = f"{name}_{hashlib.sha1(sql.encode()).hexdigest()[:12]}"  # noqa: S324
        names = _prepared.setdefault(connection.connection, set())
        if statement not in names:
            execute(f"PREPARE {statement} AS {_numbered(sql)}", None, False, context)
            names.add(statement)
        if not params:
            return execute(f"EXECUTE {statement}", None, False, context)
        placeholders = ", ".join(["%s"] * len(params))
        return execute(f"EXECUTE {statement} ({placeholders})", params, False, context)

    connection.ensure_connection()
    with connection.execute_wrapper(wrapper):
        yield
