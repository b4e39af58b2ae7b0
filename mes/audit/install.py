"""What the database must enforce, table by table, and the entry point that installs it.

`table_plans()` turns the registry (mes/audit/registry.py) into one plan per table:
- every registered model with `capture` gets the capture trigger; auto-created many-to-many
  tables of registered models are captured too (who may sign, which roles a user holds);
- `append_only` tables refuse UPDATE and DELETE, `deletable=False` tables refuse DELETE, every
  captured or append-only table refuses TRUNCATE;
- the django-simple-history tables (`HistoricalX`) of registered models are append-only (not
  captured: they are a UI convenience, the trail is authoritative).

`install(connection)` (re)installs functions and triggers idempotently; it runs from the audit
migration and after every `migrate` (post_migrate, mes/audit/receivers.py).
"""

from dataclasses import dataclass
from typing import Any

from mes.audit.registry import audited_tables, is_audited

ALWAYS_MASKED = ("password",)


@dataclass(frozen=True)
class TablePlan:
    table: str
    label: str
    pk_column: str
    capture: bool = True
    append_only: bool = False
    deletable: bool = True
    require_reason: bool = False
    masked: tuple[str, ...] = ()

    @property
    def refuses_truncate(self) -> bool:
        return self.capture or self.append_only


def _columns(model: Any) -> set[str]:
    return {f.column for f in model._meta.concrete_fields}


def table_plans() -> list[TablePlan]:
    from django.apps import apps

    plans: dict[str, TablePlan] = {}
    for entry in audited_tables():
        model = entry.model
        columns = _columns(model)
        masked = {model._meta.get_field(name).column for name in entry.masked_fields}
        masked |= {c for c in ALWAYS_MASKED if c in columns}
        plans[entry.table] = TablePlan(
            table=entry.table,
            label=entry.label,
            pk_column=model._meta.pk.column,
            capture=entry.capture,
            append_only=entry.append_only,
            deletable=entry.deletable,
            require_reason=entry.require_reason,
            masked=tuple(sorted(masked)),
        )
    for entry in audited_tables():
        for m2m in entry.model._meta.local_many_to_many:
            through = m2m.remote_field.through
            table = through._meta.db_table
            if through._meta.auto_created and table not in plans:
                plans[table] = TablePlan(
                    table=table, label=through._meta.label, pk_column=through._meta.pk.column
                )
    for model in apps.get_models():
        base = getattr(model, "instance_type", None)
        if (
            base is not None
            and model._meta.model_name.startswith("historical")
            and is_audited(base)
        ):
            table = model._meta.db_table
            plans.setdefault(
                table,
                TablePlan(
                    table=table,
                    label=model._meta.label,
                    pk_column=model._meta.pk.column,
                    capture=False,
                    append_only=True,
                    deletable=False,
                ),
            )
    return sorted(plans.values(), key=lambda p: p.table)


def plan_for_table(table: str) -> TablePlan | None:
    return next((p for p in table_plans() if p.table == table), None)


def install(connection: Any) -> list[str]:
    """Install or refresh the trail on `connection`'s database; returns the DDL it ran."""
    if connection.vendor == "postgresql":
        from mes.audit import pg

        return pg.install(connection, table_plans())
    if connection.vendor == "sqlite":
        from mes.audit import sqlite

        return sqlite.install(connection, table_plans())
    return []
