"""Which tables are GMP records. Each one gets the capture trigger (every INSERT, UPDATE and
DELETE becomes an audit event) and, where declared, the append-only guard.

    @audited(append_only=True)
    class LotEvent(models.Model): ...

`manage.py migrate` (post_migrate) installs or refreshes the triggers on PostgreSQL.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import models

M = TypeVar("M", bound=type[models.Model])


@dataclass(frozen=True)
class AuditedTable:
    model: type[models.Model]
    capture: bool = True
    append_only: bool = False
    require_reason: bool = False
    deletable: bool = True
    # Columns whose values the trail records only as a digest ("sha256:..."), e.g. secrets.
    # A column named "password" is always masked.
    masked_fields: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def label(self) -> str:
        return self.model._meta.label


_registry: dict[str, AuditedTable] = {}


def register(
    model: type[models.Model],
    *,
    capture: bool = True,
    append_only: bool = False,
    require_reason: bool = False,
    deletable: bool = True,
    masked_fields: tuple[str, ...] = (),
) -> None:
    _registry[model._meta.label_lower] = AuditedTable(
        model=model,
        capture=capture,
        append_only=append_only,
        require_reason=require_reason,
        deletable=deletable and not append_only,
        masked_fields=tuple(masked_fields),
    )


def audited(
    *,
    append_only: bool = False,
    require_reason: bool = False,
    deletable: bool = True,
    masked_fields: tuple[str, ...] = (),
) -> Callable[[M], M]:
    """Class decorator: this model is a GMP record (audited; optionally append-only, not
    deletable, or changes need a reason; `masked_fields` are recorded as digests only)."""

    def decorate(model: M) -> M:
        register(
            model,
            append_only=append_only,
            require_reason=require_reason,
            deletable=deletable,
            masked_fields=masked_fields,
        )
        return model

    return decorate


def audited_tables() -> list[AuditedTable]:
    return sorted(_registry.values(), key=lambda t: t.table)


def is_audited(model: type[models.Model] | Any) -> bool:
    return model._meta.label_lower in _registry


def register_platform_tables() -> None:
    """Django's and guardian's rights tables: every change of user rights is audited."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from guardian.models import GroupObjectPermission, UserObjectPermission

    user_model = get_user_model()
    register(Group)
    register(Group.permissions.through)
    register(user_model.groups.through)
    register(user_model.user_permissions.through)
    register(UserObjectPermission)
    register(GroupObjectPermission)
