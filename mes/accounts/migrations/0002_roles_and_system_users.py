"""The plant's roles as groups, and the named system principals."""

from django.contrib.auth.hashers import make_password
from django.db import migrations

ROLES = [
    "Operator",
    "Supervisor",
    "QA Reviewer",
    "Recipe Author",
    "Planner",
    "Maintenance",
    "Integration (ERP)",
    "Administrator",
]
SYSTEM_USERS = [
    ("system", "MES system"),
    ("celery", "MES background worker"),
    ("erp", "ERP integration"),
]


def create(apps, schema_editor):
    from mes.audit.context import system_context

    Group = apps.get_model("auth", "Group")
    User = apps.get_model("accounts", "User")
    with system_context("migrate", reason="create roles and system principals"):
        for name in ROLES:
            Group.objects.get_or_create(name=name)
        for username, full_name in SYSTEM_USERS:
            User.objects.get_or_create(
                username=username,
                defaults={
                    "full_name": full_name,
                    "is_system": True,
                    "is_active": True,
                    "password": make_password(None),
                },
            )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
