"""The database side of the trail: the chain head row, and on PostgreSQL the capture, seal and
guard functions and triggers (mes/audit/pg.py). post_migrate refreshes them after every migrate
(mes/audit/receivers.py), so tables created by later migrations are covered too. On SQLite the
demo triggers are installed by post_migrate only."""

from django.db import migrations, models


def create_chain_head(apps, schema_editor):
    ChainHead = apps.get_model("audit", "ChainHead")
    ChainHead.objects.using(schema_editor.connection.alias).get_or_create(
        id=1, defaults={"seq": 0, "hash": "0" * 64}
    )


def install_postgres(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from mes.audit.install import install

    install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="on_behalf_of",
            field=models.CharField(blank=True, default="", editable=False, max_length=150),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="table_name",
            field=models.CharField(editable=False, max_length=120),
        ),
        migrations.RunPython(create_chain_head, migrations.RunPython.noop),
        migrations.RunPython(install_postgres, migrations.RunPython.noop),
    ]
