"""Server-side prepared statements for the few hot statements every request runs (PostgreSQL).

psycopg2 sends each statement as text, so PostgreSQL plans it again on every execution. For the
API token lookup (a join with three array subqueries) planning took twice as long as running
it. `prepared()` PREPAREs the statement once per database session and EXECUTEs it after
that; PostgreSQL then re-uses the plan (after five executions, a generic one). The work-order
terminal's reads are the others (unit and operation locks, BOM lines, scanned lots, genealogy's
lot lock, the reservation gate, the ERP link probe).

Those statements are also written by hand (or compiled from the ORM once per process): building
a queryset with its joins and annotations cost the terminal more CPU than running it. The
helpers at the end give such a statement its select list and turn its rows back into model
instances exactly as the ORM would (`columns`, `from_row`, `instances`).

Prepared statements belong to the session, not to a transaction (a rollback keeps them), so
which ones a session holds is remembered per raw connection. Behind a transaction-pooling
proxy (PgBouncer in transaction mode) sessions are shared: set MES_DB_PREPARED=0 there.
"""

import functools
import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db import connection
from django.db.models import Model

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


# --- model instances from a handwritten statement --------------------------------------------


@functools.cache
def attnames(model: type[Model]) -> tuple[str, ...]:
    """The attribute names of `model`'s concrete fields: the order of `columns(model)`."""
    return tuple(f.attname for f in model._meta.concrete_fields)


@functools.cache
def columns(model: type[Model]) -> str:
    """The select list of `model`'s concrete fields, qualified by its table name."""
    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    return ", ".join(f"{table}.{q(f.column)}" for f in model._meta.concrete_fields)


@functools.cache
def _converters(model: type[Model], vendor: str) -> tuple[tuple[int, Any, tuple[Any, ...]], ...]:
    """The fields whose values the ORM converts when it reads them from this database (the
    backend's converters, then the field's `from_db_value`): (position, column, converters)."""
    found = []
    for at, field in enumerate(model._meta.concrete_fields):
        col = field.get_col(model._meta.db_table)
        funcs = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if funcs:
            found.append((at, col, tuple(funcs)))
    return tuple(found)


def from_row(model: type[Model], values: Sequence[Any]) -> Any:
    """An instance of `model` from `values` in `attnames(model)` order, as the ORM loads one."""
    values = list(values)
    if len(values) != len(attnames(model)):
        raise ValueError(f"{model.__name__} has {len(attnames(model))} columns, not {len(values)}")
    for at, col, funcs in _converters(model, connection.vendor):
        for func in funcs:
            values[at] = func(values[at], col, connection)
    return model.from_db(connection.alias, attnames(model), values)


def instances(row: Sequence[Any], *models: type[Model]) -> list[Any]:
    """A row whose select list is `columns(m)` of each of `models` in turn, then any other
    values: an instance of each model (`from_row`), followed by those values."""
    found, at = [], 0
    for model in models:
        n = len(attnames(model))
        found.append(from_row(model, row[at : at + n]))
        at += n
    return [*found, *row[at:]]
