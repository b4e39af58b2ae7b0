"""Grant the equipment permissions to the plant's roles (groups from accounts 0002).

Operators see only the areas they are granted (guardian `operate_in_area`); the other roles
hold the global `view_area` and see the whole plant."""

from django.db import migrations

from mes.accounts.grants import ALL, grant_role_permissions

GRANTS = {
    "Operator": ["use_unit", "record_cleaning", "verify_cleaning"],
    "Supervisor": [
        "use_unit",
        "record_cleaning",
        "verify_cleaning",
        "change_unit_status",
        "view_area",
    ],
    "QA Reviewer": ["verify_cleaning", "view_area"],
    "Planner": ["view_area"],
    "Maintenance": [
        "record_cleaning",
        "change_unit_status",
        "record_calibration",
        "change_instrument_status",
        "add_maintenanceworkorder",
        "execute_maintenanceworkorder",
        "view_area",
    ],
    "Integration (ERP)": ["use_unit", "view_area"],
}
ADMIN_ROLE = "Administrator"


def grant(apps, schema_editor):
    grant_role_permissions(apps, "equipment", {**GRANTS, ADMIN_ROLE: ALL})


class Migration(migrations.Migration):
    dependencies = [
        ("equipment", "0002_capability_equipmentclass_maintenanceplan_and_more"),
        ("accounts", "0002_roles_and_system_users"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
