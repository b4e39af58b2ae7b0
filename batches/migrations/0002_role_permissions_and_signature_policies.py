"""Grant the batches permissions to the plant's roles and create the signature policies of the
batch record (idempotent: an existing policy, perhaps tuned by an administrator, is kept).

| record         | meaning   | who signs              | distinct from |
|----------------|-----------|------------------------|---------------|
| phase          | performed | Operator, Supervisor   |               |
| phase          | verified  | Operator, Supervisor   | performed     |
| batch order    | released  | QA Reviewer            |               |
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = [
    "view_batchorder",
    "view_phaseexecution",
    "view_parametervalue",
    "view_materialuse",
    "view_yieldrecord",
    "view_batchevent",
]
GRANTS = {
    "Operator": [*VIEW, "execute_batchorder"],
    "Supervisor": [*VIEW, "execute_batchorder", "create_batchorder"],
    "Planner": [*VIEW, "create_batchorder"],
    "QA Reviewer": [*VIEW, "release_batchorder"],
    "Integration (ERP)": [*VIEW, "create_batchorder"],
    "Administrator": VIEW,
}
POLICIES = [
    # model, meaning, roles, author_may_sign, distinct_from
    ("phaseexecution", "performed", ["Operator", "Supervisor"], True, []),
    ("phaseexecution", "verified", ["Operator", "Supervisor"], True, ["performed"]),
    ("batchorder", "released", ["QA Reviewer"], True, []),
]


def forwards(apps, schema_editor):
    from mes.audit.context import system_context

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    SignaturePolicy = apps.get_model("esign", "SignaturePolicy")
    with system_context("migrate", reason="batches: role permissions and signature policies"):
        perms = Permission.objects.filter(content_type__app_label="batches")
        for role, codenames in GRANTS.items():
            Group.objects.get(name=role).permissions.add(*perms.filter(codename__in=codenames))
        for model, meaning, roles, author_may_sign, distinct_from in POLICIES:
            content_type, _ = ContentType.objects.get_or_create(app_label="batches", model=model)
            policy, created = SignaturePolicy.objects.get_or_create(
                content_type=content_type,
                meaning=meaning,
                defaults={
                    "author_may_sign": author_may_sign,
                    "distinct_from": distinct_from,
                    "is_active": True,
                },
            )
            if created:
                policy.allowed_roles.set(Group.objects.filter(name__in=roles))


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0001_initial"),
        ("esign", "0001_initial"),
        ("accounts", "0002_roles_and_system_users"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
