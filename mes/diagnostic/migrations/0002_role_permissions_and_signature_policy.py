"""Grant the self-audit permissions to the plant's roles and create the signature policy of the
assessment report (idempotent: an existing policy, perhaps tuned by an administrator, is kept).

| role          | may                         |
|---------------|-----------------------------|
| Administrator | view, run, sign             |
| QA Reviewer   | view, run, sign             |
| Supervisor    | view, run                   |

Signature: assessment, meaning "assessed", signed by QA Reviewer or Administrator.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ALL = ["view_assessment", "run_assessment", "sign_assessment"]
GRANTS = {
    "Administrator": ALL,
    "QA Reviewer": ALL,
    "Supervisor": ["view_assessment", "run_assessment"],
}
POLICY_ROLES = ["QA Reviewer", "Administrator"]


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
    with system_context("migrate", reason="diagnostic: role permissions and signature policy"):
        perms = Permission.objects.filter(content_type__app_label="diagnostic")
        for role, codenames in GRANTS.items():
            Group.objects.get(name=role).permissions.add(*perms.filter(codename__in=codenames))
        content_type, _ = ContentType.objects.get_or_create(
            app_label="diagnostic", model="assessment"
        )
        policy, created = SignaturePolicy.objects.get_or_create(
            content_type=content_type,
            meaning="assessed",
            defaults={"author_may_sign": True, "distinct_from": [], "is_active": True},
        )
        if created:
            policy.allowed_roles.set(Group.objects.filter(name__in=POLICY_ROLES))


class Migration(migrations.Migration):
    dependencies = [
        ("diagnostic", "0001_initial"),
        ("esign", "0001_initial"),
        ("accounts", "0002_roles_and_system_users"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
