"""django-simple-history, made cheaper on the terminal's save path.

1. Reading `instance.history` (simple-history does it on every save of a model with history, to
   find the historical model) built a new manager class each time:
   `HistoryManager.from_queryset(HistoricalQuerySet)`, which walks the queryset class with
   `inspect.getmembers`. That was about a third of the cost of writing a history row. The
   class depends only on the two classes, so it is built once (`install()`, at start-up).
2. `update_with_history()`: the UPDATE of a row and the history row simple-history would write
   for it, as ONE statement on PostgreSQL (a data-modifying CTE), for the hottest saves of the
   terminal (a unit moving on, a lot consumed). Elsewhere it is the plain save.
"""

import functools
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone


@functools.cache
def _manager_class(manager: type, queryset: type) -> type:
    return manager.from_queryset(queryset)  # type: ignore[attr-defined, no-any-return]


def _history_get(self: Any, instance: Any, owner: Any) -> Any:
    return _manager_class(self.manager_class, self.queryset_class)(self.model, instance)


def install() -> None:
    from simple_history.manager import HistoryDescriptor

    HistoryDescriptor.__get__ = _history_get  # type: ignore[method-assign]


def update_with_history(instance: Model, fields: Sequence[str], *, user: Any) -> None:
    """`instance.save(update_fields=fields)` with the history row of the change, by `user`.

    On PostgreSQL one statement writes both: the UPDATE (captured by the audit trigger like
    any other) and the history row with the columns simple-history fills (the row as updated,
    `history_date` now, type "~", the user, `_change_reason` if set). `auto_now` fields in
    `fields` are stamped as `save()` would. No pre_save / post_save signal is sent: only for a
    model no receiver listens to but simple-history (`mes.testing.save_receivers`; the tests
    of units and lots assert it)."""
    model = type(instance)
    if connection.vendor != "postgresql":
        instance._history_user = user  # type: ignore[attr-defined]
        instance.save(update_fields=list(fields))
        return
    q = connection.ops.quote_name
    meta, history = model._meta, model.history.model  # type: ignore[attr-defined]
    now = timezone.now()
    sets, params = [], []
    for name in fields:
        field = meta.get_field(name)
        if getattr(field, "auto_now", False):
            setattr(instance, field.attname, now)
        sets.append(f"{q(field.column)} = %s")
        params.append(field.get_db_prep_save(getattr(instance, field.attname), connection))
    params.append(instance.pk)
    stamped = {
        "history_date": getattr(instance, "_history_date", now),
        "history_change_reason": getattr(instance, "_change_reason", None),
        "history_type": "~",
        "history_user_id": getattr(user, "pk", None),
    }
    columns, values = [], []
    for field in history._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(q(field.column))
        if field.attname in stamped:
            values.append("%s")
            params.append(stamped[field.attname])
        else:
            values.append(f"u.{q(field.column)}")
    sql = (
        f"WITH u AS (UPDATE {q(meta.db_table)} SET {', '.join(sets)} "
        f"WHERE {q(meta.pk.column)} = %s RETURNING *) "
        f"INSERT INTO {q(history._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM u"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
