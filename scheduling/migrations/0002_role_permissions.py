"""Grant the scheduling permissions to the plant's roles: planners plan (create, solve, move,
lock, publish schedules and keep the master data); supervisors and operators read schedules
(the dispatch lists of the terminals)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = [
    "view_schedule",
    "view_scheduleentry",
    "view_scheduleevent",
    "view_changeovermatrix",
    "view_changeoverrule",
    "view_shiftcalendar",
    "view_shiftwindow",
    "view_demandpriority",
]
MASTER = [
    f"{verb}_{model}"
    for verb in ("add", "change")
    for model in (
        "changeovermatrix",
        "changeoverrule",
        "shiftcalendar",
        "shiftwindow",
        "demandpriority",
    )
]
GRANTS = {
    "Planner": ["plan_schedule", *MASTER, *VIEW],
    "Supervisor": VIEW,
    "Operator": ["view_schedule", "view_scheduleentry"],
    "QA Reviewer": VIEW,
}
ADMIN_ROLE = "Administrator"


def grant(apps, schema_editor):
    from mes.audit.context import system_context

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    with system_context("migrate", reason="grant scheduling permissions to roles"):
        perms = Permission.objects.filter(content_type__app_label="scheduling")
        for role, codenames in GRANTS.items():
            Group.objects.get(name=role).permissions.add(*perms.filter(codename__in=codenames))
        Group.objects.get(name=ADMIN_ROLE).permissions.add(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0001_initial"),
        ("accounts", "0002_roles_and_system_users"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
