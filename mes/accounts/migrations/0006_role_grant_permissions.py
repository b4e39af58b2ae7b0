"""Administrators decide role grant requests (the second approval of P11-C2-05) and see
password history only through the audit trail (no grant)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = ["view_rolegrantrequest", "approve_rolegrantrequest"]


def grant(apps, schema_editor):
    from mes.audit.context import system_context

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    with system_context("migrate", reason="grant role-grant approval to administrators"):
        admin = Group.objects.get(name="Administrator")
        admin.permissions.add(
            *Permission.objects.filter(content_type__app_label="accounts", codename__in=GRANTS)
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_password_history_access_review_role_grants")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
