"""`python manage.py checkpoint_audit_trail [--force] [--generate-key]`: sign the audit
trail's chain head now (the Celery beat task does it every MES_AUDIT_CHECKPOINT_MINUTES)."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mes.audit import keys
from mes.audit.services import checkpoint_create
from mes.exceptions import DomainError


class Command(BaseCommand):
    help = "Sign the audit trail's chain head (Ed25519) into the database and the external log."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--force", action="store_true", help="sign even if the head is unchanged"
        )
        parser.add_argument(
            "--generate-key",
            action="store_true",
            help="write a new signing key to MES_AUDIT_SIGNING_KEY_FILE (refuses to overwrite)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["generate_key"]:
            path = Path(settings.MES_AUDIT_SIGNING_KEY_FILE)
            if path.exists():
                raise CommandError(f"{path} exists: a signing key is never overwritten.")
            key = keys.generate_key_file(path)
            self.stdout.write(f"new signing key at {path} (mode 0600)")
            self.stdout.write(f"public key: {keys.public_key_text(key.public_key())}")
            return
        try:
            checkpoint = checkpoint_create(
                actor="manage.py checkpoint_audit_trail", force=options["force"]
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(
            f"checkpoint seq={checkpoint.seq} hash={checkpoint.hash} signed_at={checkpoint.signed_at.isoformat()}"
        )
