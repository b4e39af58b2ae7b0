"""Grant the work-order permissions to the plant's roles, and the signature policies: a BOM or
routing version is approved (signed) by a QA Reviewer or a Supervisor who is not its author."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = [
    "view_bom",
    "view_bomline",
    "view_routing",
    "view_routingoperation",
    "view_inspectioncharacteristic",
    "view_workorder",
    "view_workorderoperation",
    "view_workorderunit",
    "view_laborrecord",
    "view_machinerecord",
    "view_downtimerecord",
    "view_quantityreport",
    "view_inspectionresult",
    "view_componentconsumption",
    "view_workorderevent",
    "view_reasoncode",
    "view_workcenterrate",
]
MASTER = ["add_bom", "change_bom", "add_routing", "change_routing", "add_reasoncode"]
GRANTS = {
    "Operator": ["execute_workorder", *VIEW],
    "Supervisor": [
        "execute_workorder",
        "add_workorder",
        "release_workorder",
        "close_workorder",
        "approve_bom",
        "approve_routing",
        *MASTER,
        *VIEW,
    ],
    "QA Reviewer": ["approve_bom", "approve_routing", *VIEW],
    "Planner": [
        "add_workorder",
        "release_workorder",
        "close_workorder",
        "change_workcenterrate",
        "add_workcenterrate",
        *MASTER,
        *VIEW,
    ],
    "Integration (ERP)": ["add_workorder", "release_workorder", *VIEW],
}
ADMIN_ROLE = "Administrator"
APPROVERS = ["QA Reviewer", "Supervisor"]


def grant(apps, schema_editor):
    from mes.audit.context import system_context

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    SignaturePolicy = apps.get_model("esign", "SignaturePolicy")
    with system_context("migrate", reason="grant work-order permissions; signature policies"):
        perms = Permission.objects.filter(content_type__app_label="workorders")
        for role, codenames in GRANTS.items():
            Group.objects.get(name=role).permissions.add(*perms.filter(codename__in=codenames))
        Group.objects.get(name=ADMIN_ROLE).permissions.add(*perms)
        for model in ("bom", "routing"):
            content_type, _ = ContentType.objects.get_or_create(app_label="workorders", model=model)
            policy, _ = SignaturePolicy.objects.get_or_create(
                content_type=content_type,
                meaning="approved",
                defaults={"author_may_sign": False, "distinct_from": [], "is_active": True},
            )
            policy.allowed_roles.set(Group.objects.filter(name__in=APPROVERS))


class Migration(migrations.Migration):
    dependencies = [
        ("workorders", "0001_initial"),
        ("accounts", "0002_roles_and_system_users"),
        ("esign", "0002_role_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
