"""Carries the audit context to PostgreSQL with every write statement.

Each INSERT/UPDATE/DELETE is prefixed, in the same simple-query message, with
`SELECT set_config('mes.ctx', <json>, true);`: PostgreSQL runs the two as one transaction even
in autocommit mode, and the setting dies with the transaction, so it can never leak to a later
write. Statements written without a context carry nothing and the trigger refuses them.

On the SQLite demo database the context of each write statement is handed to the triggers'
Python functions instead (mes/audit/sqlite.py).
"""

from typing import Any

from psycopg2.extensions import QuotedString

from mes.audit.context import current_context

_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "WITH", "MERGE")


def _is_write(sql: str) -> bool:
    head = sql.lstrip()[:6].upper()
    return head.startswith(_WRITE_VERBS)


def context_prefix(raw_connection: Any, for_params: bool) -> str:
    ctx = current_context()
    payload = ctx.as_json() if ctx is not None else None
    if payload is None:
        return ""
    quoted = QuotedString(payload)
    quoted.prepare(raw_connection)
    literal = quoted.getquoted().decode()
    prefix = f"SELECT set_config('mes.ctx', {literal}, true); "
    # psycopg2 interpolates only when parameters are given; then a literal % must be doubled.
    return prefix.replace("%", "%%") if for_params else prefix


def _postgres_wrapper(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
    if isinstance(sql, str) and _is_write(sql):
        raw = context["connection"].connection
        if many:
            prefix = context_prefix(raw, for_params=True)
        else:
            prefix = context_prefix(raw, for_params=params is not None)
        if prefix:
            sql = prefix + sql
    return execute(sql, params, many, context)


def _sqlite_wrapper(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
    from mes.audit.sqlite import statement_context

    if not (isinstance(sql, str) and _is_write(sql)):
        return execute(sql, params, many, context)
    ctx = current_context()
    token = statement_context.set(ctx.as_json() if ctx is not None else None)
    try:
        return execute(sql, params, many, context)
    finally:
        statement_context.reset(token)


def install_context_wrapper(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "postgresql":
        if _postgres_wrapper not in connection.execute_wrappers:
            connection.execute_wrappers.append(_postgres_wrapper)
    elif connection.vendor == "sqlite":
        from mes.audit.sqlite import register_functions

        register_functions(connection.connection)
        if _sqlite_wrapper not in connection.execute_wrappers:
            connection.execute_wrappers.append(_sqlite_wrapper)
