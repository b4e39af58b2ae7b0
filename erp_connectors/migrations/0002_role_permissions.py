"""Grant the ERP-connector permissions to the plant's roles; the `erp` system principal (pulled
orders, B2MML imports) acts with the Integration role's rights."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = [
    "view_erpconnection",
    "view_erporderlink",
    "view_inboundreceipt",
    "view_outboxmessage",
    "view_outboxattempt",
    "view_deadletterretry",
    "view_reconciliationfinding",
]
GRANTS = {
    "Integration (ERP)": ["receive_erporder", *VIEW],
    "Supervisor": ["manage_outbox", *VIEW],
    "Planner": VIEW,
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
    User = apps.get_model("accounts", "User")
    with system_context("migrate", reason="grant ERP-connector permissions"):
        perms = Permission.objects.filter(content_type__app_label="erp_connectors")
        for role, codenames in GRANTS.items():
            Group.objects.get(name=role).permissions.add(*perms.filter(codename__in=codenames))
        Group.objects.get(name=ADMIN_ROLE).permissions.add(*perms)
        erp = User.objects.filter(username="erp").first()
        if erp is not None:
            erp.groups.add(Group.objects.get(name="Integration (ERP)"))


class Migration(migrations.Migration):
    dependencies = [
        ("erp_connectors", "0001_initial"),
        ("accounts", "0002_roles_and_system_users"),
        ("batches", "0002_role_permissions_and_signature_policies"),
        ("workorders", "0002_role_permissions_and_signature_policies"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
