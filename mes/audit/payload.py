"""The canonical payload of an audit event and its chain hash.

    hash = sha256(prev_hash || payload)          (hex; prev_hash of seq 1 is GENESIS_HASH)
    payload = jsonb_build_array(seq, id, table_name, record_pk, action, old_values, new_values,
                                user_id, user_name, roles, reason, request_id, app_version,
                                on_behalf_of, <occurred_at in epoch microseconds>, txid)::text

On PostgreSQL the database renders the payload (the sealing trigger and the verifier use the
same expression, `payload_sql()`; jsonb's text output is deterministic). On the SQLite demo
database `sqlite_payload()` renders the same array in jsonb's text format in Python.
"""

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

GENESIS_HASH = "0" * 64

# The payload's elements after `seq`, as SQL over a row alias; the last two are computed.
_TAIL = (
    "id",
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
)


def payload_tail_sql(alias: str) -> str:
    """`jsonb_build_array(<every element but seq>)::text` over the row `alias` (for example
    `NEW` in the sealing trigger). The full payload is `'[' || seq || ', ' || tail[2:]`."""
    cols = ", ".join(f"{alias}.{c}" for c in _TAIL)
    return (
        f"jsonb_build_array({cols}, "
        f"(extract(epoch FROM {alias}.occurred_at) * 1000000)::bigint, {alias}.txid)::text"
    )


def payload_sql(alias: str) -> str:
    """The full payload expression over the row `alias` (the verifier fetches it)."""
    cols = ", ".join(f"{alias}.{c}" for c in ("seq", *_TAIL))
    return (
        f"jsonb_build_array({cols}, "
        f"(extract(epoch FROM {alias}.occurred_at) * 1000000)::bigint, {alias}.txid)::text"
    )


def chain_hash(prev_hash: str, payload: str) -> str:
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def _key_order(key: str) -> tuple[int, bytes]:
    raw = key.encode()
    return (len(raw), raw)


def jsonb_text(value: Any) -> str:
    """`value` rendered as PostgreSQL prints jsonb: keys ordered by length then bytes, ", " and
    ": " separators, numbers without exponent."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return format(Decimal(repr(value)) if isinstance(value, float) else value, "f")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(jsonb_text(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: _key_order(kv[0]))
        return "{" + ", ".join(f"{jsonb_text(k)}: {jsonb_text(v)}" for k, v in items) + "}"
    raise TypeError(f"not a JSON value: {value!r}")


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def epoch_microseconds(stored: str | datetime) -> int:
    """A timestamp as SQLite stores Django datetimes (UTC, "YYYY-MM-DD HH:MM:SS[.ffffff]")."""
    moment = stored if isinstance(stored, datetime) else datetime.fromisoformat(stored)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def sqlite_payload(
    seq: int,
    event_id: int,
    table_name: str,
    record_pk: str,
    action: str,
    old_values: str | None,
    new_values: str | None,
    user_id: int | None,
    user_name: str,
    roles: str | None,
    reason: str,
    request_id: str,
    app_version: str,
    on_behalf_of: str,
    occurred_at: str,
    txid: int | None,
) -> str:
    """The payload of an event stored on SQLite (JSON columns as text, time as text)."""
    return jsonb_text(
        [
            seq,
            event_id,
            table_name,
            record_pk,
            action,
            _loads(old_values),
            _loads(new_values),
            user_id,
            user_name,
            _loads(roles) if roles is not None else [],
            reason,
            request_id,
            app_version,
            on_behalf_of,
            epoch_microseconds(occurred_at),
            txid,
        ]
    )
