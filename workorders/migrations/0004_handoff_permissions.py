"""Grant the handoff-rule and lot-reservation permissions to the plant's roles."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ["view_handoffrule", "view_lotreservation"]
GRANTS = {
    "Operator": VIEW,
    "QA Reviewer": VIEW,
    "Planner": ["add_handoffrule", "change_handoffrule", *VIEW],
    "Supervisor": ["add_handoffrule", "change_handoffrule", *VIEW],
    "Integration (ERP)": VIEW,
}


def grant(apps, schema_editor):
    from mes.audit.context import system_context

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    with system_context("migrate", reason="grant handoff-rule permissions"):
        perms = Permission.objects.filter(
            content_type__app_label="workorders",
            content_type__model__in=["handoffrule", "lotreservation"],
        )
        for role, codenames in GRANTS.items():
            Group.objects.get(name=role).permissions.add(*perms.filter(codename__in=codenames))
        Group.objects.get(name="Administrator").permissions.add(*perms)


class Migration(migrations.Migration):
    dependencies = [("workorders", "0003_handoff")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
