"""`python manage.py verify_audit_trail [--json]`: recompute the audit trail's hash chain,
check the signed checkpoints (database table and external log) and the registered verifiers
(e-signatures). Exit 0 when intact; exit 1 naming the first bad event otherwise."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mes.audit.verification import verify_trail


class Command(BaseCommand):
    help = "Verify the audit trail (hash chain, signed checkpoints, e-signatures)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="print a machine-readable report")
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify_trail(using=options["database"])
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
        if result.ok:
            self.stdout.write(self.style.SUCCESS(result.summary()))
            return
        for problem in result.problems[:50]:
            self.stderr.write(f"  - {problem}")
        if len(result.problems) > 50:
            self.stderr.write(f"  ... and {len(result.problems) - 50} more")
        raise CommandError(result.summary(), returncode=1)
