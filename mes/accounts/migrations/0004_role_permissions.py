"""Grant the people-and-rights permissions to the Administrator role (group from 0002).

Administrators manage people (add, change roles, deactivate, issue temporary passwords),
API tokens and see security events. Nobody holds `delete_user`: users are deactivated."""

from django.db import migrations

from mes.accounts.grants import grant_role_permissions

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


def grant(apps, schema_editor):
    for app_label, codenames in ADMIN_GRANTS.items():
        grant_role_permissions(apps, app_label, {ADMIN_ROLE: codenames})
    for role, grants in OTHER_GRANTS.items():
        for app_label, codenames in grants.items():
            grant_role_permissions(apps, app_label, {role: codenames})


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_manager_alert_event"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
