"""Installs the database side of the trail after every migrate."""

from typing import Any

from django.apps import apps
from django.db import connections
from django.db.models.signals import post_migrate, pre_migrate


def install_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """(Re)install the trail's functions and triggers on every registered table (idempotent:
    nothing is altered when everything is in place)."""
    from mes.audit.install import install

    install(connections[using])


def drop_sqlite_triggers_before_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """SQLite rebuilds a table to alter it; triggers that name the audit tables would break the
    rebuild, so the demo trail steps aside during migrate and comes back at post_migrate."""
    connection = connections[using]
    if connection.vendor == "sqlite":
        from mes.audit.sqlite import drop_all

        drop_all(connection)


def connect() -> None:
    config = apps.get_app_config("audit")
    post_migrate.connect(install_after_migrate, sender=config, dispatch_uid="mes-audit-install")
    pre_migrate.connect(
        drop_sqlite_triggers_before_migrate, sender=config, dispatch_uid="mes-audit-sqlite-drop"
    )
