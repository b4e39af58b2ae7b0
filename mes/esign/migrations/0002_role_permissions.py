"""Administrators maintain signature policies; QA, supervisors and administrators read the
signature register."""

from django.db import migrations

from mes.accounts.grants import grant_role_permissions

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
    grant_role_permissions(apps, "esign", GRANTS, reason="grant e-signature permissions to roles")


class Migration(migrations.Migration):
    dependencies = [
        ("esign", "0001_initial"),
        ("accounts", "0002_roles_and_system_users"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
