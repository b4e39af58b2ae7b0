"""Signature policies of the re-point and the cancellation of a batch order (idempotent: an
existing policy, perhaps tuned by an administrator, is kept).

| record         | meaning   | who signs              |
|----------------|-----------|------------------------|
| batch re-point | approved  | Supervisor, Planner    |
| batch order    | cancelled | Supervisor, Planner    |
"""

from django.db import migrations

POLICIES = [
    # model, meaning, roles
    ("batchrepoint", "approved", ["Supervisor", "Planner"]),
    ("batchorder", "cancelled", ["Supervisor", "Planner"]),
]


def forwards(apps, schema_editor):
    from mes.audit.context import system_context

    Group = apps.get_model("auth", "Group")
    ContentType = apps.get_model("contenttypes", "ContentType")
    SignaturePolicy = apps.get_model("esign", "SignaturePolicy")
    with system_context("migrate", reason="batches: re-point and cancel signature policies"):
        for model, meaning, roles in POLICIES:
            content_type, _ = ContentType.objects.get_or_create(app_label="batches", model=model)
            policy, created = SignaturePolicy.objects.get_or_create(
                content_type=content_type,
                meaning=meaning,
                defaults={"author_may_sign": True, "distinct_from": [], "is_active": True},
            )
            if created:
                policy.allowed_roles.set(Group.objects.filter(name__in=roles))


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0004_repoint_and_superseded_flag"),
        ("esign", "0001_initial"),
        ("accounts", "0002_roles_and_system_users"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
