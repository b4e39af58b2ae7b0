"""The audit trail on the embedded SQLite database: demo grade, NOT for GMP use.

The same shape as on PostgreSQL (mes/audit/pg.py), with SQLite triggers that call Python
functions registered on each connection (`register_functions`, from connection_created):
- capture: AFTER INSERT/UPDATE/DELETE triggers on every registered table write one
  `audit_event` row (whole row, or only the changed columns for an UPDATE; no-op updates skipped),
  refusing a write without an audit context and an UPDATE/DELETE without a reason where the table
  requires one. So `QuerySet.update()`, bulk writes and raw SQL through Django's cursor are
  captured here too;
- sealing: an AFTER INSERT trigger on audit_event assigns seq, prev_hash and hash at once (SQLite
  has one writer at a time, so the chain needs no lock);
- guards: append-only tables refuse UPDATE/DELETE, `deletable=False` tables refuse DELETE, the
  audit tables refuse UPDATE/DELETE (except the seal).

Limits (why it is a demo): the time comes from the application server's clock, not an
independent database clock; anyone with the file can drop the triggers or edit it (there are no
roles); writes through a connection other than Django's (the sqlite3 shell) fail because the
functions are missing, rather than being recorded; JSON columns of audited tables are recorded as
text; there is no transaction id. Data migrations run before the triggers are (re)installed at
post_migrate are not captured.
"""

import hashlib
import json
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from mes.audit.install import TablePlan
from mes.audit.payload import chain_hash, sqlite_payload

PREFIX = "mes_audit_"

# The audit context of the statement being executed (set by mes/audit/db.py around each write,
# so the trigger's function never has to query the database itself).
statement_context: ContextVar[str | None] = ContextVar("mes_audit_sqlite_ctx", default=None)


def _ctx() -> str | None:
    return statement_context.get()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _mask_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _masked(values: dict[str, Any], masked: set[str]) -> dict[str, Any]:
    return {k: (_mask_value(v) if k in masked and v is not None else v) for k, v in values.items()}


def _mask(row_json: str | None, masked_csv: str) -> str | None:
    if row_json is None or not masked_csv:
        return row_json
    return json.dumps(_masked(json.loads(row_json), set(masked_csv.split(","))))


def _diff(old_json: str, new_json: str, masked_csv: str) -> str | None:
    old, new = json.loads(old_json), json.loads(new_json)
    changed = [k for k, v in new.items() if k not in old or old[k] != v]
    if not changed:
        return None
    masked = set(masked_csv.split(",")) if masked_csv else set()
    return json.dumps(
        {
            "old": _masked({k: old.get(k) for k in changed}, masked),
            "new": _masked({k: new[k] for k in changed}, masked),
        }
    )


def _hash(prev_hash: str, seq: int, *row: Any) -> str:
    return chain_hash(prev_hash, sqlite_payload(seq, *row))


def register_functions(raw_connection: Any) -> None:
    raw_connection.create_function(f"{PREFIX}ctx", 0, _ctx)
    raw_connection.create_function(f"{PREFIX}now", 0, _now)
    raw_connection.create_function(f"{PREFIX}mask", 2, _mask, deterministic=True)
    raw_connection.create_function(f"{PREFIX}diff", 3, _diff, deterministic=True)
    raw_connection.create_function(f"{PREFIX}hash", 17, _hash, deterministic=True)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _row_json(alias: str, columns: list[str]) -> str:
    """json_object over the row (json_patch joins chunks: SQLite functions take <= 127 args)."""
    chunks = [columns[i : i + 50] for i in range(0, len(columns), 50)]
    parts = [
        "json_object(" + ", ".join(f"{_lit(c)}, {alias}.{_q(c)}" for c in chunk) + ")"
        for chunk in chunks
    ]
    expr = parts[0]
    for part in parts[1:]:
        expr = f"json_patch({expr}, {part})"
    return expr


_EVENT_COLUMNS = (
    "occurred_at, table_name, record_pk, action, old_values, new_values, user_id, user_name, "
    "roles, reason, request_id, app_version, on_behalf_of, txid, seq, prev_hash, hash"
)


def _who(ctx: str) -> str:
    return (
        f"json_extract({ctx}, '$.user_id'), json_extract({ctx}, '$.user_name'), "
        f"coalesce(json_extract({ctx}, '$.roles'), '[]'), coalesce(json_extract({ctx}, '$.reason'), ''), "
        f"coalesce(json_extract({ctx}, '$.request_id'), ''), coalesce(json_extract({ctx}, '$.app_version'), ''), "
        f"coalesce(json_extract({ctx}, '$.on_behalf_of'), ''), NULL, NULL, '', ''"
    )


def _raise(message: str) -> str:
    return f"SELECT RAISE(ABORT, {_lit(message)})"


def table_triggers(plan: TablePlan, columns: list[str]) -> dict[str, str]:
    """Trigger name -> CREATE TRIGGER statement for one GMP table."""
    t = plan.table
    qt = _q(t)
    masked = _lit(",".join(plan.masked))
    pk_new, pk_old = (
        f"CAST(NEW.{_q(plan.pk_column)} AS TEXT)",
        f"CAST(OLD.{_q(plan.pk_column)} AS TEXT)",
    )
    triggers: dict[str, str] = {}

    def no_user(op: str) -> str:
        return (
            _raise(
                f"audit: no attributable user for {op} on {t} (write GMP records inside an audit "
                "context: a request, acting_as() or system_context())"
            )
            + f" WHERE {PREFIX}ctx() IS NULL;"
        )

    if plan.capture:
        new_row, old_row = _row_json("NEW", columns), _row_json("OLD", columns)
        triggers[f"{PREFIX}ci__{t}"] = (
            f"CREATE TRIGGER {_q(PREFIX + 'ci__' + t)} AFTER INSERT ON {qt} FOR EACH ROW BEGIN "
            f"{no_user('INSERT')} "
            f"INSERT INTO audit_event ({_EVENT_COLUMNS}) SELECT {PREFIX}now(), {_lit(t)}, {pk_new}, "
            f"'INSERT', NULL, {PREFIX}mask({new_row}, {masked}), {_who('c.v')} "
            f"FROM (SELECT {PREFIX}ctx() AS v) AS c; END"
        )
        reason_check = ""
        delete_reason_check = ""
        if plan.require_reason:
            no_reason = f"coalesce(json_extract({PREFIX}ctx(), '$.reason'), '') = ''"
            reason_check = (
                _raise(f"audit: a reason is required to update a row of {t} (give a change reason)")
                + f" WHERE {no_reason} AND {PREFIX}diff({old_row}, {new_row}, '') IS NOT NULL;"
            )
            delete_reason_check = (
                _raise(f"audit: a reason is required to delete a row of {t} (give a change reason)")
                + f" WHERE {no_reason};"
            )
        triggers[f"{PREFIX}cu__{t}"] = (
            f"CREATE TRIGGER {_q(PREFIX + 'cu__' + t)} AFTER UPDATE ON {qt} FOR EACH ROW BEGIN "
            f"{no_user('UPDATE')} {reason_check} "
            f"INSERT INTO audit_event ({_EVENT_COLUMNS}) SELECT {PREFIX}now(), {_lit(t)}, {pk_new}, "
            f"'UPDATE', json_extract(d.v, '$.old'), json_extract(d.v, '$.new'), {_who('d.c')} "
            f"FROM (SELECT {PREFIX}diff({old_row}, {new_row}, {masked}) AS v, {PREFIX}ctx() AS c) AS d "
            "WHERE d.v IS NOT NULL; END"
        )
        triggers[f"{PREFIX}cd__{t}"] = (
            f"CREATE TRIGGER {_q(PREFIX + 'cd__' + t)} AFTER DELETE ON {qt} FOR EACH ROW BEGIN "
            f"{no_user('DELETE')} {delete_reason_check} "
            f"INSERT INTO audit_event ({_EVENT_COLUMNS}) SELECT {PREFIX}now(), {_lit(t)}, {pk_old}, "
            f"'DELETE', {PREFIX}mask({old_row}, {masked}), NULL, {_who('c.v')} "
            f"FROM (SELECT {PREFIX}ctx() AS v) AS c; END"
        )
    if plan.append_only:
        triggers[f"{PREFIX}gu__{t}"] = (
            f"CREATE TRIGGER {_q(PREFIX + 'gu__' + t)} BEFORE UPDATE ON {qt} FOR EACH ROW BEGIN "
            + _raise(f"audit: UPDATE refused on {t}: GMP records of this table are append-only")
            + "; END"
        )
        triggers[f"{PREFIX}gd__{t}"] = (
            f"CREATE TRIGGER {_q(PREFIX + 'gd__' + t)} BEFORE DELETE ON {qt} FOR EACH ROW BEGIN "
            + _raise(f"audit: DELETE refused on {t}: GMP records of this table are append-only")
            + "; END"
        )
    elif not plan.deletable:
        triggers[f"{PREFIX}gd__{t}"] = (
            f"CREATE TRIGGER {_q(PREFIX + 'gd__' + t)} BEFORE DELETE ON {qt} FOR EACH ROW BEGIN "
            + _raise(
                f"audit: DELETE refused on {t}: GMP records of this table are never deleted "
                "(deactivate or void them)"
            )
            + "; END"
        )
    return triggers


_SEALED_UNCHANGED = " AND ".join(
    f"NEW.{c} IS OLD.{c}"
    for c in (
        "id",
        "occurred_at",
        "table_name",
        "record_pk",
        "action",
        "old_values",
        "new_values",
        "user_id",
        "user_name",
        "roles",
        "reason",
        "request_id",
        "app_version",
        "on_behalf_of",
        "txid",
    )
)
_HEAD = "(SELECT {col} FROM audit_chain_head WHERE id = 1)"


def audit_table_triggers() -> dict[str, str]:
    head_hash, next_seq = _HEAD.format(col="hash"), _HEAD.format(col="seq + 1")
    append_only = "audit tables are append-only"
    return {
        f"{PREFIX}event_insert": (
            f"CREATE TRIGGER {PREFIX}event_insert BEFORE INSERT ON audit_event FOR EACH ROW "
            "WHEN NEW.seq IS NOT NULL OR NEW.hash <> '' OR NEW.prev_hash <> '' BEGIN "
            + _raise(f"{append_only}: an event is sealed only by the trail")
            + "; END"
        ),
        f"{PREFIX}event_update": (
            f"CREATE TRIGGER {PREFIX}event_update BEFORE UPDATE ON audit_event FOR EACH ROW "
            "WHEN NOT (OLD.seq IS NULL AND NEW.seq IS NOT NULL AND OLD.prev_hash = '' "
            f"AND OLD.hash = '' AND {_SEALED_UNCHANGED}) BEGIN "
            + _raise(f"{append_only}: UPDATE refused on audit_event")
            + "; END"
        ),
        f"{PREFIX}event_delete": (
            f"CREATE TRIGGER {PREFIX}event_delete BEFORE DELETE ON audit_event FOR EACH ROW BEGIN "
            + _raise(f"{append_only}: DELETE refused on audit_event")
            + "; END"
        ),
        f"{PREFIX}event_seal": (
            f"CREATE TRIGGER {PREFIX}event_seal AFTER INSERT ON audit_event FOR EACH ROW "
            "WHEN NEW.seq IS NULL BEGIN "
            + _raise("audit: the chain head (audit_chain_head id=1) is missing")
            + " WHERE NOT EXISTS (SELECT 1 FROM audit_chain_head WHERE id = 1); "
            f"UPDATE audit_event SET seq = {next_seq}, prev_hash = {head_hash}, "
            f"hash = {PREFIX}hash({head_hash}, {next_seq}, id, table_name, record_pk, action, "
            "old_values, new_values, user_id, user_name, roles, reason, request_id, app_version, "
            "on_behalf_of, occurred_at, txid) WHERE id = NEW.id; "
            "UPDATE audit_chain_head SET seq = seq + 1, "
            "hash = (SELECT hash FROM audit_event WHERE id = NEW.id) WHERE id = 1; END"
        ),
        f"{PREFIX}head_update": (
            f"CREATE TRIGGER {PREFIX}head_update BEFORE UPDATE ON audit_chain_head FOR EACH ROW "
            "WHEN NEW.id IS NOT OLD.id OR NEW.seq IS NOT OLD.seq + 1 BEGIN "
            + _raise(f"{append_only}: UPDATE refused on audit_chain_head")
            + "; END"
        ),
        f"{PREFIX}head_delete": (
            f"CREATE TRIGGER {PREFIX}head_delete BEFORE DELETE ON audit_chain_head FOR EACH ROW BEGIN "
            + _raise(f"{append_only}: DELETE refused on audit_chain_head")
            + "; END"
        ),
        f"{PREFIX}checkpoint_update": (
            f"CREATE TRIGGER {PREFIX}checkpoint_update BEFORE UPDATE ON audit_checkpoint FOR EACH ROW BEGIN "
            + _raise(f"{append_only}: UPDATE refused on audit_checkpoint")
            + "; END"
        ),
        f"{PREFIX}checkpoint_delete": (
            f"CREATE TRIGGER {PREFIX}checkpoint_delete BEFORE DELETE ON audit_checkpoint FOR EACH ROW BEGIN "
            + _raise(f"{append_only}: DELETE refused on audit_checkpoint")
            + "; END"
        ),
    }


def existing_triggers(cursor: Any) -> dict[str, str]:
    cursor.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s ESCAPE '\\'",
        [PREFIX.replace("_", "\\_") + "%"],
    )
    return dict(cursor.fetchall())


def drop_all(connection: Any) -> None:
    """Drop every trigger of the trail (before a schema change or a test flush)."""
    with connection.cursor() as cursor:
        for name in existing_triggers(cursor):
            cursor.execute(f"DROP TRIGGER IF EXISTS {_q(name)}")


def install(connection: Any, plans: list[TablePlan]) -> list[str]:
    from django.db import transaction

    ran: list[str] = []
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        wanted: dict[str, str] = {}
        if {"audit_event", "audit_chain_head", "audit_checkpoint"} <= tables:
            wanted.update(audit_table_triggers())
            for plan in plans:
                if plan.table in tables:
                    columns = [
                        col.name
                        for col in connection.introspection.get_table_description(
                            cursor, plan.table
                        )
                    ]
                    wanted.update(table_triggers(plan, columns))
        have = existing_triggers(cursor)
        for name in have:
            if name not in wanted:
                cursor.execute(f"DROP TRIGGER {_q(name)}")
                ran.append(f"DROP TRIGGER {name}")
        for name, sql in wanted.items():
            if have.get(name) != sql:
                if name in have:
                    cursor.execute(f"DROP TRIGGER {_q(name)}")
                cursor.execute(sql)
                ran.append(sql)
    return ran
