"""`manage.py remind_overdue_capa [--dry-run]`: e-mail the owners of overdue CAPA actions."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mes.audit.context import system_context
from quality import selectors
from quality.tasks import send_overdue_capa_reminders


class Command(BaseCommand):
    help = "E-mail every owner of an overdue CAPA action (one message per owner)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List the reminders, send nothing."
        )
        parser.add_argument(
            "--no-input", "--noinput", action="store_false", dest="interactive", help="Unused."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            with system_context("remind_overdue_capa"):
                reminders = selectors.overdue_capa_reminders()
            for reminder in reminders:
                self.stdout.write(f"{reminder.to}: {reminder.subject}")
            self.stdout.write(f"Dry run: {len(reminders)} reminder(s) not sent.")
            return
        owners = send_overdue_capa_reminders()
        self.stdout.write(f"{len(owners)} reminder(s) sent.")
