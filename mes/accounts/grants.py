"""Grant an app's permissions to the plant's roles from a data migration.

Every app's `role_permissions` migration states only *what* each role may do:

    from mes.accounts.grants import grant_role_permissions

    GRANTS = {"Operator": ["view_lot", "consume_lot"], "Administrator": ALL}

    def grant(apps, schema_editor):
        grant_role_permissions(apps, "genealogy", GRANTS)

The permissions are created first (Django creates them only after `migrate` ends), the
groups must exist (accounts 0002 makes them), and the grants run under the audit trail's
system principal `migrate`. Granting is additive and idempotent, so `mes.testing` can re-run
the migration after a flush.
"""

from collections.abc import Iterable, Mapping
from typing import Any

ALL = ("__all__",)
"""Every permission of the app (typically for the Administrator role)."""


def create_all_permissions(apps: Any) -> None:
    """Create the permissions of every app in the migration state now."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def grant_role_permissions(
    apps: Any,
    app_label: str,
    grants: Mapping[str, Iterable[str]],
    *,
    reason: str = "",
    create_groups: bool = False,
) -> None:
    """Give each role (group name) these codenames of `app_label` (or `ALL`)."""
    from mes.audit.context import system_context

    create_all_permissions(apps)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    perms = permission_model.objects.filter(content_type__app_label=app_label)
    with system_context("migrate", reason=reason or f"grant {app_label} permissions to roles"):
        for role, codenames in grants.items():
            if create_groups:
                group, _ = group_model.objects.get_or_create(name=role)
            else:
                group = group_model.objects.get(name=role)
            codenames = tuple(codenames)
            chosen = perms if codenames == ALL else perms.filter(codename__in=codenames)
            group.permissions.add(*chosen)
