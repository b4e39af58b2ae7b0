"""Administrators maintain signature policies; QA, supervisors and administrators read the
signature register."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Administrator": [
        "view_signaturepolicy",
        "add_signaturepolicy",
        "change_signaturepolicy",
        "view_signature",
    ],
    "QA Reviewer": ["view_signaturepolicy", "view_signature"],
    "Supervisor": ["view_signature"],
}


def grant(apps, schema_editor):
    from mes.audit.context import system_context

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    with system_context("migrate", reason="grant e-signature permissions to roles"):
        for role, codenames in GRANTS.items():
            Group.objects.get(name=role).permissions.add(
                *Permission.objects.filter(content_type__app_label="esign", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("esign", "0001_initial"),
        ("accounts", "0002_roles_and_system_users"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
