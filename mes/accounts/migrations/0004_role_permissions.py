"""Grant the people-and-rights permissions to the Administrator role (group from 0002).

Administrators manage people (add, change roles, deactivate, issue temporary passwords),
API tokens and see security events. Nobody holds `delete_user`: users are deactivated."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADMIN_ROLE = "Administrator"
ADMIN_GRANTS = {
    "accounts": [
        "view_user",
        "add_user",
        "change_user",
        "deactivate_user",
        "issue_temporary_password",
        "view_apitoken",
        "add_apitoken",
        "revoke_apitoken",
        "view_securityevent",
    ],
    "auth": ["view_group", "change_group", "add_group", "view_permission"],
}
OTHER_GRANTS = {
    # QA reviews lockouts and failed signatures (11.300(d)).
    "QA Reviewer": {"accounts": ["view_securityevent"]},
}


def _perms(Permission, app_label, codenames):
    return Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)


def grant(apps, schema_editor):
    from mes.audit.context import system_context

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    with system_context("migrate", reason="grant accounts permissions to roles"):
        admin = Group.objects.get(name=ADMIN_ROLE)
        for app_label, codenames in ADMIN_GRANTS.items():
            admin.permissions.add(*_perms(Permission, app_label, codenames))
        for role, grants in OTHER_GRANTS.items():
            group = Group.objects.get(name=role)
            for app_label, codenames in grants.items():
                group.permissions.add(*_perms(Permission, app_label, codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_manager_alert_event"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
