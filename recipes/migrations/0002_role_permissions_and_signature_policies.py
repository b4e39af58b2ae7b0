"""Grant the recipes permissions to the plant's roles and create the signature policies of the
version workflow (idempotent: an existing policy, perhaps tuned by an administrator, is kept).

| meaning     | who signs                    | author may sign | distinct from |
|-------------|------------------------------|-----------------|---------------|
| submitted   | Recipe Author                | yes             |               |
| approved    | QA Reviewer                  | no              | submitted     |
| rejected    | QA Reviewer                  | yes             |               |
| cancelled   | QA Reviewer or Recipe Author | yes             |               |

("cancelled" is the meaning of making a version obsolete; only a reviewer may obsolete an
approved or superseded version, which recipes.services checks.)
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = [
    "view_masterrecipe",
    "view_recipeversion",
    "view_unitprocedure",
    "view_operation",
    "view_phase",
    "view_phaseparameter",
    "view_phaseinput",
    "view_phaseoutput",
    "view_recipeevent",
]
GRANTS = {
    "Recipe Author": [
        *VIEW,
        "add_masterrecipe",
        "change_masterrecipe",
        "add_recipeversion",
        "change_recipeversion",
        "author_recipeversion",
    ],
    "QA Reviewer": [*VIEW, "review_recipeversion"],
    "Supervisor": VIEW,
    "Planner": VIEW,
    "Integration (ERP)": VIEW,
    "Administrator": VIEW,
}
POLICIES = [
    # meaning, roles, author_may_sign, distinct_from
    ("submitted", ["Recipe Author"], True, []),
    ("approved", ["QA Reviewer"], False, ["submitted"]),
    ("rejected", ["QA Reviewer"], True, []),
    ("cancelled", ["QA Reviewer", "Recipe Author"], True, []),
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
    with system_context("migrate", reason="recipes: role permissions and signature policies"):
        perms = Permission.objects.filter(content_type__app_label="recipes")
        for role, codenames in GRANTS.items():
            Group.objects.get(name=role).permissions.add(*perms.filter(codename__in=codenames))
        content_type, _ = ContentType.objects.get_or_create(
            app_label="recipes", model="recipeversion"
        )
        for meaning, roles, author_may_sign, distinct_from in POLICIES:
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
        ("recipes", "0001_initial"),
        ("esign", "0001_initial"),
        ("accounts", "0002_roles_and_system_users"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
