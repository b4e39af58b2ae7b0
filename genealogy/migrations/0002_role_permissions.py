"""Grants the genealogy permissions to the plant's roles (groups)."""

from django.db import migrations

VIEW = ["view_material", "view_lot", "view_lotevent", "view_link"]
MOVE = [
    "receive_lot",
    "produce_lot",
    "consume_lot",
    "split_lot",
    "merge_lot",
    "transfer_lot",
    "ship_lot",
]
GRANTS = {
    "Operator": [*VIEW, *MOVE, "adjust_lot", "trace_lot"],
    "Supervisor": [
        *VIEW,
        *MOVE,
        "adjust_lot",
        "approve_adjustment",
        "trace_lot",
        "recall_lot",
        "view_recalljob",
    ],
    "QA Reviewer": [*VIEW, "approve_adjustment", "trace_lot", "recall_lot", "view_recalljob"],
    "Planner": [*VIEW, "add_material", "change_material", "trace_lot"],
    "Integration (ERP)": [*VIEW, *MOVE, "trace_lot"],
    "Administrator": [
        *VIEW,
        "add_material",
        "change_material",
        "import_genealogy",
        "trace_lot",
        "recall_lot",
        "view_recalljob",
    ],
    "Recipe Author": ["view_material"],
}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    from mes.audit.context import system_context

    app_config = apps.get_app_config("genealogy")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    with system_context("migrate", reason="grant genealogy permissions to roles"):
        for role, codenames in GRANTS.items():
            group, _ = Group.objects.get_or_create(name=role)
            perms = Permission.objects.filter(
                content_type__app_label="genealogy", codename__in=codenames
            )
            group.permissions.add(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("genealogy", "0001_initial"),
        ("accounts", "0002_roles_and_system_users"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
