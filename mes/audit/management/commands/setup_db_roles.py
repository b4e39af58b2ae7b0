"""`python manage.py setup_db_roles [--app-role mes_app] [--password ...] [--auditor-role
mes_auditor] [--dry-run]`: create or refresh the application's database role (see
mes/audit/dbroles.py). Connect as a superuser (the owner of the tables); run after every migrate.
The password can also come from the environment (MES_APP_DB_PASSWORD)."""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction

from mes.audit import dbroles


class Command(BaseCommand):
    help = "Create/refresh the PostgreSQL role the application runs as (no rights on audit tables)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--app-role", default="mes_app")
        parser.add_argument("--password", default=os.environ.get("MES_APP_DB_PASSWORD"))
        parser.add_argument("--auditor-role", default=None)
        parser.add_argument("--database", default="default")
        parser.add_argument("--dry-run", action="store_true", help="print the SQL, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            raise CommandError("setup_db_roles is for PostgreSQL (the SQLite demo has no roles).")
        if not dbroles.is_superuser(connection):
            raise CommandError("Connect as a superuser (the owner of the tables) to set up roles.")
        app_role = options["app_role"]
        if dbroles.owned_relations(connection, app_role):
            raise CommandError(
                f"{app_role} owns tables: an owner can disable the audit triggers. Run migrate as "
                "another role and transfer ownership (REASSIGN OWNED) first."
            )
        statements = dbroles.role_statements(
            connection,
            app_role=app_role,
            password=options["password"],
            auditor_role=options["auditor_role"],
        )
        if options["dry_run"]:
            for sql, params in statements:
                self.stdout.write(sql.replace("%s", "'********'") if params else sql + ";")
            return
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
        self.stdout.write(
            f"role {app_role}: DML on business tables, SELECT only on the audit tables "
            f"({len(statements)} statements)"
        )
