"""Administrators decide role grant requests (the second approval of P11-C2-05) and see
password history only through the audit trail (no grant)."""

from django.db import migrations

from mes.accounts.grants import grant_role_permissions

GRANTS = ["view_rolegrantrequest", "approve_rolegrantrequest"]


def grant(apps, schema_editor):
    grant_role_permissions(
        apps, "accounts", {"Administrator": GRANTS}, reason="grant role-grant approval to administrators"
    )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_password_history_access_review_role_grants")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
