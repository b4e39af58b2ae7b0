"""`manage.py import_genealogy FILE.csv`: bulk-load lot events (the format is in --help)."""

from argparse import RawDescriptionHelpFormatter
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from genealogy import services
from genealogy.importer import FORMAT_HELP
from mes.accounts.models import User
from mes.audit.context import system_context
from mes.exceptions import DomainError


class Command(BaseCommand):
    help = (
        "Bulk-load lot history (receive, produce, consume, split, merge, unit, transfer, ship, "
        "adjust) from a CSV file. The whole file is validated first; a bad line refuses it "
        "('line N: reason') and nothing is loaded.\n\n" + FORMAT_HELP
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="the CSV file")
        parser.add_argument(
            "--user",
            default="system",
            help="username recorded as the actor of every imported event (default: system)",
        )
        parser.add_argument("--dry-run", action="store_true", help="validate only; write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            actor = User.objects.get(username=options["user"], is_active=True)
        except User.DoesNotExist as exc:
            raise CommandError(f"No active user {options['user']!r}.") from exc
        with system_context("import_genealogy", reason=f"import {options['file']}"):
            try:
                result = services.genealogy_import(
                    actor=actor, path=options["file"], dry_run=options["dry_run"]
                )
            except DomainError as exc:
                raise CommandError(f"refused, nothing loaded: {exc.detail}") from exc
        self.stdout.write(result.as_text())
