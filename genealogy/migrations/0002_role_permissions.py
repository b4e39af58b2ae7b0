"""Grants the genealogy permissions to the plant's roles (groups)."""

from django.db import migrations

from mes.accounts.grants import grant_role_permissions

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
    grant_role_permissions(apps, "genealogy", GRANTS, create_groups=True)


class Migration(migrations.Migration):
    dependencies = [
        ("genealogy", "0001_initial"),
        ("accounts", "0002_roles_and_system_users"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
