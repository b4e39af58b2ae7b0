"""Reads of the audit trail. Who may read it: QA reviewers, administrators and supervisors, or
anyone granted `audit.view_auditevent` (export: the same roles or `audit.export_auditevent`)."""

import json
from datetime import datetime
from functools import cache
from typing import Any

from django.apps import apps
from django.db.models import Model, Q, QuerySet

from mes.accounts.roles import Role
from mes.audit.models import AuditEvent
from mes.exceptions import NotAuthorized

AUDIT_READER_ROLES = frozenset(
    {Role.QA_REVIEWER.value, Role.ADMINISTRATOR.value, Role.SUPERVISOR.value}
)


def _has_reader_role(user: Any) -> bool:
    return bool(
        user.is_authenticated and (user.is_superuser or AUDIT_READER_ROLES & user.role_names)
    )


def can_view_audit_trail(user: Any) -> bool:
    return _has_reader_role(user) or bool(
        user.is_authenticated and user.has_perm("audit.view_auditevent")
    )


def can_export_audit_trail(user: Any) -> bool:
    return _has_reader_role(user) or bool(
        user.is_authenticated and user.has_perm("audit.export_auditevent")
    )


def audit_event_list(
    *,
    actor: Any,
    table: str | None = None,
    record: str | None = None,
    user: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Events newest first, filtered. `user` matches a user name (part of it) or a user id."""
    if not can_view_audit_trail(actor):
        raise NotAuthorized(
            "Reading the audit trail needs the QA Reviewer, Supervisor or Administrator role."
        )
    qs = AuditEvent.objects.all()
    if table:
        qs = qs.filter(table_name=table)
    if record:
        qs = qs.filter(record_pk=record)
    if user:
        match = Q(user_name__icontains=user)
        if user.isdigit():
            match |= Q(user_id=int(user))
        qs = qs.filter(match)
    if action:
        qs = qs.filter(action=action)
    if since:
        qs = qs.filter(occurred_at__gte=since)
    if until:
        qs = qs.filter(occurred_at__lt=until)
    return qs.order_by("-seq", "-id")


def events_for_record(model: type[Model] | Model, pk: Any) -> QuerySet[AuditEvent]:
    """The trail of one record, oldest first: its own row's events and those of its
    many-to-many links (e.g. a user's roles). For `{% include "audit/_record_trail.html" %}`."""
    meta = model._meta
    value = meta.pk.to_python(pk)
    match = Q(table_name=meta.db_table, record_pk=str(value))
    for m2m in meta.local_many_to_many:
        through = m2m.remote_field.through
        column = m2m.m2m_column_name()
        match |= Q(table_name=through._meta.db_table) & (
            Q(**{f"new_values__{column}": value}) | Q(**{f"old_values__{column}": value})
        )
    return AuditEvent.objects.filter(match).order_by("seq", "id")


# --- presentation helpers (pure Python, no queries) -----------------------------------------


@cache
def _table_labels() -> dict[str, tuple[str, dict[str, str]]]:
    """db table -> (record type label, {column: field label})."""
    labels: dict[str, tuple[str, dict[str, str]]] = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        labels.setdefault(
            meta.db_table,
            (
                f"{meta.app_label}.{meta.object_name}",
                {f.column: str(f.verbose_name) for f in meta.concrete_fields},
            ),
        )
    return labels


def record_type_label(table: str) -> str:
    return _table_labels().get(table, (table, {}))[0]


def field_label(table: str, column: str) -> str:
    return _table_labels().get(table, (table, {}))[1].get(column, column)


def display_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return "(hidden: recorded as a digest)" if value.startswith("sha256:") else value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def event_changes(event: AuditEvent) -> list[tuple[str, str, str]]:
    """(field label, old, new) for each field the event recorded."""
    old, new = event.old_values or {}, event.new_values or {}
    columns = list(new) if event.action != AuditEvent.Action.DELETE else list(old)
    return [
        (
            field_label(event.table_name, column),
            display_value(old.get(column)) if event.action != AuditEvent.Action.INSERT else "",
            display_value(new.get(column)) if event.action != AuditEvent.Action.DELETE else "",
        )
        for column in columns
    ]
