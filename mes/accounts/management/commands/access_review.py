"""List every account for the periodic access review (21 CFR 11.300(b))."""

from typing import Any

from django.core.management.base import BaseCommand

from mes.accounts.services import access_review_report


class Command(BaseCommand):
    help = "List accounts with roles, password age and last access review; flag what is due."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--due", action="store_true", help="only accounts that need action")

    def handle(self, *args: Any, due: bool = False, **options: Any) -> None:
        rows = access_review_report()
        if due:
            rows = [r for r in rows if r["review_due"] or r["password_expired"]]
        self.stdout.write(
            f"{'user':<16} {'active':<6} {'pw age':>6} {'expired':<7} {'last review':<11} "
            f"{'due':<3} roles"
        )
        for r in rows:
            reviewed = (
                r["last_access_review"].date().isoformat() if r["last_access_review"] else "never"
            )
            self.stdout.write(
                f"{r['username']:<16} {'yes' if r['active'] else 'no':<6} "
                f"{r['password_age_days']:>6} {'yes' if r['password_expired'] else 'no':<7} "
                f"{reviewed:<11} {'yes' if r['review_due'] else 'no':<3} {', '.join(r['roles'])}"
            )
        due_count = sum(1 for r in rows if r["review_due"])
        self.stdout.write(f"{len(rows)} accounts, {due_count} due for access review.")
