"""`manage.py generate_maintenance_orders [--dry-run]`: what Celery beat does every hour,
by hand (as the `celery` system principal)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from equipment import services
from mes.accounts.models import User
from mes.audit.context import system_context


class _DryRun(Exception):
    pass


class Command(BaseCommand):
    help = "Create maintenance work orders for every preventive maintenance plan that is due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would be created, roll back."
        )
        parser.add_argument(
            "--no-input", "--noinput", action="store_false", dest="interactive", help="(no-op)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        orders = []
        try:
            with (
                system_context("manage", reason="generate preventive maintenance"),
                transaction.atomic(),
            ):
                actor = User.objects.get(username="celery")
                orders = services.maintenance_plans_generate_due(actor=actor)
                for order in orders:
                    self.stdout.write(
                        f"{order.number} {order.unit.code}: {order.title}"
                        f" (due {order.due_at:%Y-%m-%d})"
                    )
                if options["dry_run"]:
                    raise _DryRun
        except _DryRun:
            self.stdout.write(f"Dry run: {len(orders)} order(s) would be created; rolled back.")
            return
        self.stdout.write(f"{len(orders)} maintenance work order(s) created.")
