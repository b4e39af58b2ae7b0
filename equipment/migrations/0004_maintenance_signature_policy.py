"""A completed maintenance work order may be e-signed "performed" by maintenance staff,
supervisors and administrators (mes.esign policy)."""

from django.db import migrations

ROLES = ["Maintenance", "Supervisor", "Administrator"]


def create_policy(apps, schema_editor):
    from mes.audit.context import system_context

    ContentType = apps.get_model("contenttypes", "ContentType")
    SignaturePolicy = apps.get_model("esign", "SignaturePolicy")
    Group = apps.get_model("auth", "Group")
    with system_context("migrate", reason="signature policy: maintenance work order performed"):
        content_type, _ = ContentType.objects.get_or_create(
            app_label="equipment", model="maintenanceworkorder"
        )
        policy, _ = SignaturePolicy.objects.get_or_create(
            content_type=content_type,
            meaning="performed",
            defaults={"author_may_sign": True, "distinct_from": [], "is_active": True},
        )
        policy.allowed_roles.set(Group.objects.filter(name__in=ROLES))


class Migration(migrations.Migration):
    dependencies = [
        ("equipment", "0003_role_permissions"),
        ("esign", "0002_role_permissions"),
    ]
    operations = [migrations.RunPython(create_policy, migrations.RunPython.noop)]
