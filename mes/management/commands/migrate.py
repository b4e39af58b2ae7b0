"""`migrate` under a named system principal, so data migrations and post-migrate handlers
that touch GMP tables are attributed in the audit trail (`system:migrate`)."""

from typing import Any

from django.core.management.commands.migrate import Command as DjangoMigrate

from mes.audit.context import system_context


class Command(DjangoMigrate):
    def handle(self, *args: Any, **options: Any) -> None:
        with system_context("migrate", reason="schema migration"):
            super().handle(*args, **options)
