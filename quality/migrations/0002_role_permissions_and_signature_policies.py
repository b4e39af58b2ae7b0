"""Grant the quality permissions to the plant's roles, and create the signature policies of
the quality records (only where none exists yet: an administrator's later change is kept).

| record              | meaning    | who may sign | author may sign |
|---------------------|------------|--------------|-----------------|
| LotDisposition      | released, rejected, on_hold, assessed (back to quarantine) | QA Reviewer | yes (the decider signs) |
| ReleaseOverride     | override   | QA Reviewer  | no (someone other than the requester) |
| Deviation           | closed     | QA Reviewer  | yes |
| Specification       | approved   | QA Reviewer  | no (four eyes on a spec) |
| Nonconformance      | approved   | QA Reviewer  | yes |
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

QA = "QA Reviewer"
VIEW_ALL = [
    "view_specification",
    "view_spectest",
    "view_labresult",
    "view_deviation",
    "view_deviationlot",
    "view_capaaction",
    "view_releaseoverride",
    "view_lotdisposition",
    "view_nonconformance",
    "view_characteristic",
    "view_spcvalue",
    "view_qualityevent",
]
GRANTS = {
    QA: [
        *VIEW_ALL,
        "add_specification",
        "change_specification",
        "approve_specification",
        "enter_labresult",
        "correct_labresult",
        "request_override",
        "dispose_lot",
        "add_deviation",
        "manage_deviation",
        "add_nonconformance",
        "disposition_nonconformance",
        "add_characteristic",
        "change_characteristic",
        "record_spc_value",
    ],
    "Supervisor": [*VIEW_ALL, "add_deviation", "add_nonconformance", "record_spc_value"],
    "Operator": [
        "view_deviation",
        "view_capaaction",
        "view_nonconformance",
        "view_characteristic",
        "view_spcvalue",
        "add_deviation",
        "add_nonconformance",
        "record_spc_value",
    ],
    "Integration (ERP)": [
        "view_specification",
        "view_spectest",
        "view_labresult",
        "view_lotdisposition",
        "view_characteristic",
        "view_spcvalue",
        "enter_labresult",
        "record_spc_value",
    ],
    "Maintenance": ["view_deviation", "view_capaaction", "add_deviation"],
    "Planner": ["view_deviation", "view_lotdisposition", "add_deviation"],
    "Recipe Author": ["view_deviation", "view_specification", "view_spectest", "add_deviation"],
    "Administrator": [*VIEW_ALL, "add_characteristic", "change_characteristic"],
}

# (model, meaning, author_may_sign)
POLICIES = [
    ("lotdisposition", "released", True),
    ("lotdisposition", "rejected", True),
    ("lotdisposition", "on_hold", True),
    ("lotdisposition", "assessed", True),
    ("releaseoverride", "override", False),
    ("deviation", "closed", True),
    ("specification", "approved", False),
    ("nonconformance", "approved", True),
]


def forward(apps, schema_editor):
    from mes.audit.context import system_context

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    SignaturePolicy = apps.get_model("esign", "SignaturePolicy")
    with system_context("migrate", reason="quality permissions and signature policies"):
        perms = Permission.objects.filter(content_type__app_label="quality")
        for role, codenames in GRANTS.items():
            group = Group.objects.get(name=role)
            group.permissions.add(*perms.filter(codename__in=codenames))
        qa = Group.objects.get(name=QA)
        for model, meaning, author_may_sign in POLICIES:
            content_type, _ = ContentType.objects.get_or_create(app_label="quality", model=model)
            if SignaturePolicy.objects.filter(content_type=content_type, meaning=meaning).exists():
                continue
            policy = SignaturePolicy.objects.create(
                content_type=content_type,
                meaning=meaning,
                author_may_sign=author_may_sign,
                distinct_from=[],
                is_active=True,
            )
            policy.allowed_roles.add(qa)


class Migration(migrations.Migration):
    dependencies = [
        ("quality", "0001_initial"),
        ("accounts", "0002_roles_and_system_users"),
        ("esign", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
