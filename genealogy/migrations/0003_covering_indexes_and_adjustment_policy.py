"""1. The covering indexes of the traces stay in the database (created by 0001: on PostgreSQL
with INCLUDE, on SQLite without) but leave the model state, so that SQLite does not warn
(models.W040) on every command.
2. A quantity adjustment is signed (mes.esign, meaning "adjusted") by its author, who must be
a Supervisor or a QA Reviewer: the signature policy, and the adjust permission moves from the
Operator role to the QA Reviewer role; the unused approve_adjustment permission goes."""

from django.db import migrations

SIGNERS = ["Supervisor", "QA Reviewer"]


def forward(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    from mes.audit.context import system_context

    app_config = apps.get_app_config("genealogy")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    SignaturePolicy = apps.get_model("esign", "SignaturePolicy")
    with system_context("migrate", reason="genealogy: signed adjustments"):
        adjust = Permission.objects.get(content_type__app_label="genealogy", codename="adjust_lot")
        for name in SIGNERS:
            group, _ = Group.objects.get_or_create(name=name)
            group.permissions.add(adjust)
        operator = Group.objects.filter(name="Operator").first()
        if operator is not None:
            operator.permissions.remove(adjust)
        stale = Permission.objects.filter(
            content_type__app_label="genealogy", codename="approve_adjustment"
        )
        for group in Group.objects.filter(permissions__in=stale).distinct():
            group.permissions.remove(*stale)
        stale.delete()
        content_type, _ = ContentType.objects.get_or_create(app_label="genealogy", model="lotevent")
        if not SignaturePolicy.objects.filter(content_type=content_type, meaning="adjusted").exists():
            policy = SignaturePolicy.objects.create(
                content_type=content_type,
                meaning="adjusted",
                author_may_sign=True,
                distinct_from=[],
                is_active=True,
            )
            policy.allowed_roles.add(*Group.objects.filter(name__in=SIGNERS))


class Migration(migrations.Migration):
    dependencies = [
        ("genealogy", "0002_role_permissions"),
        ("esign", "0001_initial"),
        ("accounts", "0002_roles_and_system_users"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="lot",
            options={
                "default_permissions": ("view",),
                "ordering": ["-id"],
                "permissions": [
                    ("receive_lot", "Can receive lots from a supplier"),
                    ("produce_lot", "Can record production of a lot or unit"),
                    ("consume_lot", "Can record consumption of a lot"),
                    ("split_lot", "Can split a lot into sub-lots"),
                    ("merge_lot", "Can merge lots"),
                    ("transfer_lot", "Can transfer a lot"),
                    ("ship_lot", "Can ship lots and units"),
                    ("adjust_lot", "Can adjust a lot's quantity (signed)"),
                    ("trace_lot", "Can trace the genealogy of a lot"),
                    ("recall_lot", "Can compute a recall scope"),
                    ("import_genealogy", "Can import genealogy history"),
                ],
            },
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="link", name="genealogy_link_down_idx"),
                migrations.RemoveIndex(model_name="link", name="genealogy_link_up_idx"),
                migrations.RemoveIndex(model_name="lotevent", name="genealogy_event_shipped_idx"),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forward, migrations.RunPython.noop),
    ]
