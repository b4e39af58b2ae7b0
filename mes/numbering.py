"""Document numbers (work orders, batch orders, schedules): the next number of a series.

A series is a prefix on a unique field (`WO-2026-`, `B2026-`, `SCH-`) followed by a zero-padded
counter. Two transactions asking for the next number at once would both read the same last one
and one would fail on the unique constraint; on PostgreSQL the issuer therefore takes a
transaction-scoped advisory lock on the series, held until commit, so the second one reads the
number the first one wrote. SQLite (the single-user demo) serializes writers by itself.

Call it inside the transaction that inserts the record, as late as possible (the lock is held
until that transaction ends).
"""

import hashlib
import re
from typing import Any

from django.db import connection, models


def series_lock(key: str) -> None:
    """Wait for, then hold until commit, the lock of `key` (PostgreSQL; nothing on SQLite)."""
    if not connection.in_atomic_block:
        raise RuntimeError("series_lock() needs a transaction: the lock is held until commit")
    if connection.vendor != "postgresql":
        return
    lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


def next_number(model: type[models.Model], field: str, prefix: str, *, width: int = 5) -> str:
    """`prefix` + the series' last counter + 1, zero-padded to `width` (numbers of the same
    prefix whose rest is not a counter, e.g. `B-DEMO-0001`, are ignored)."""
    series_lock(f"{model._meta.db_table}.{field}:{prefix}")
    last: Any = (
        model._default_manager.filter(**{f"{field}__regex": rf"^{re.escape(prefix)}[0-9]+$"})
        .order_by(f"-{field}")
        .values_list(field, flat=True)
        .first()
    )
    n = int(last[len(prefix) :]) + 1 if last else 1
    return f"{prefix}{n:0{width}d}"
