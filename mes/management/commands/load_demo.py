"""`manage.py load_demo [--no-input] [--dry-run]`: the demo plant, idempotent.

The platform part builds a small mixed-mode site: site RPP "Resin & Packaging Plant" with the
resin reactor area RX (process) feeding the packaging and assembly line PK (discrete), one demo
user per role with a known password, and their area rights. Then every demo step the plant
apps registered (`mes.registry.register_demo_step`) runs, in order. Everything runs in one
transaction under the `system:load_demo` principal; a second run changes nothing and says so.

The demo passwords are printed: never load the demo into a database used for production.
"""

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from guardian.shortcuts import assign_perm, get_perms

from mes.accounts.models import User
from mes.accounts.roles import Role
from mes.accounts.services import user_create
from mes.audit.context import system_context
from mes.registry import DemoContext, demo_steps

SITE_CODE = "RPP"
SITE_NAME = "Resin & Packaging Plant"
SYSTEM_USERNAME = "system"
# One password for every demo login, so the table is easy to use; it passes the validators.
DEMO_PASSWORD = "rpp-demo-plant"  # noqa: S105 (the demo's published password)


@dataclass(frozen=True)
class DemoArea:
    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    role: str
    area_perms: tuple[str, ...] = ()
    is_staff: bool = False


# The resin made in RX is filled and packed in PK: the mixed-mode handoff of the demo.
DEMO_AREAS = (
    DemoArea("RX", "Resin reactor area", "process"),
    DemoArea("PK", "Packaging and assembly line", "discrete"),
)
DEMO_USERS = (
    DemoUser("operator", "Demo Operator", Role.OPERATOR.value, ("operate_in_area",)),
    DemoUser("supervisor", "Demo Supervisor", Role.SUPERVISOR.value, ("operate_in_area",)),
    DemoUser("qa", "Demo QA Reviewer", Role.QA_REVIEWER.value, ("review_in_area",)),
    DemoUser("author", "Demo Recipe Author", Role.RECIPE_AUTHOR.value),
    DemoUser("planner", "Demo Planner", Role.PLANNER.value, ("plan_in_area",)),
    DemoUser("maintenance", "Demo Maintenance", Role.MAINTENANCE.value),
    DemoUser("integration", "Demo ERP Integration", Role.INTEGRATION.value),
    DemoUser("admin", "Demo Administrator", Role.ADMINISTRATOR.value, is_staff=True),
)


class DryRunRollback(Exception):
    """Raised to roll back the transaction of a --dry-run."""

    def __init__(self, ctx: DemoContext) -> None:
        super().__init__("dry run")
        self.ctx = ctx


class Command(BaseCommand):
    help = "Load the demo plant (site RPP, areas RX and PK, one user per role, app steps)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Show what would be created, then roll everything back.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._check_password()
        if options["interactive"] and not self._confirm():
            self.stdout.write("Cancelled: nothing changed.")
            return
        try:
            ctx = self._load(dry_run=options["dry_run"])
        except DryRunRollback as rollback:
            self._summary(rollback.ctx, dry_run=True)
            return
        self._summary(ctx, dry_run=False)

    def _load(self, *, dry_run: bool) -> DemoContext:
        with system_context("load_demo", reason="load the demo plant"), transaction.atomic():
            ctx = self._build_platform()
            for step in demo_steps():
                self.stdout.write(f"Demo step {step.key}: {step.title}")
                try:
                    step.fn(ctx)
                except Exception as exc:
                    raise CommandError(
                        f"Demo step {step.key} failed: {exc}. Nothing was written."
                    ) from exc
            if dry_run:
                raise DryRunRollback(ctx)
        return ctx

    # --- the platform part --------------------------------------------------------------

    def _build_platform(self) -> DemoContext:
        actor = User.objects.get(username=SYSTEM_USERNAME)
        ctx = DemoContext(
            actor=actor,
            site=None,
            areas={},
            users={},
            password=DEMO_PASSWORD,
            write=self.stdout.write,
        )
        self.stdout.write(f"Demo plant {SITE_CODE} {SITE_NAME}")
        ctx.site = self._site(ctx)
        for area in DEMO_AREAS:
            ctx.areas[area.code] = self._area(ctx, area)
        for demo_user in DEMO_USERS:
            ctx.users[demo_user.role] = self._user(ctx, demo_user)
        return ctx

    def _site(self, ctx: DemoContext) -> Any:
        # The kernel names the plant model by label: it may not import a plant app (layers).
        site_model = apps.get_model("equipment", "Site")
        site = site_model.objects.filter(code=SITE_CODE).first()
        if site is None:
            site = site_model(code=SITE_CODE, name=SITE_NAME, timezone=settings.TIME_ZONE)
            site._change_reason = "demo plant"
            site.full_clean()
            site.save()
            ctx.created(f"site {site}")
        return site

    def _area(self, ctx: DemoContext, spec: DemoArea) -> Any:
        area_model = apps.get_model("equipment", "Area")
        area = area_model.objects.filter(site=ctx.site, code=spec.code).first()
        if area is None:
            area = area_model(site=ctx.site, code=spec.code, name=spec.name, kind=spec.kind)
            area._change_reason = "demo plant"
            area.full_clean()
            area.save()
            ctx.created(f"area {area} ({spec.kind})")
        return area

    def _user(self, ctx: DemoContext, spec: DemoUser) -> User:
        user = User.objects.filter(username__iexact=spec.username).first()
        if user is None:
            user = user_create(
                actor=None,  # keeps the trail's principal: system:load_demo
                username=spec.username,
                full_name=spec.full_name,
                email=f"{spec.username}@rpp.example",
                roles=[spec.role],
                password=DEMO_PASSWORD,
                must_change_password=False,
                is_staff=spec.is_staff,
            )
            ctx.created(f"user {user.username} ({spec.role})")
        for area in ctx.areas.values():
            held = get_perms(user, area)
            for perm in spec.area_perms:
                if perm not in held:
                    assign_perm(f"equipment.{perm}", user, area)
                    ctx.created(f"right {perm} on {area.code} for {user.username}")
        return user

    # --- output -------------------------------------------------------------------------

    def _check_password(self) -> None:
        for spec in DEMO_USERS:
            probe = User(username=spec.username, email=f"{spec.username}@rpp.example")
            try:
                validate_password(DEMO_PASSWORD, user=probe)
            except ValidationError as exc:
                raise CommandError(
                    f"The demo password fails the password validators: {' '.join(exc.messages)}"
                ) from exc

    def _confirm(self) -> bool:
        self.stdout.write(
            "This creates demo users whose password is printed. Never load the demo into a "
            "database used for production."
        )
        if settings.MES_DATABASE_IS_GMP_GRADE:
            self.stdout.write(self.style.WARNING("This database is PostgreSQL (GMP grade)."))
        answer = input("Type 'yes' to load the demo plant: ")
        return answer.strip().lower() == "yes"

    def _summary(self, ctx: DemoContext, *, dry_run: bool) -> None:
        count = len(ctx.changes)
        if dry_run:
            self.stdout.write(f"Dry run: would create {count} object(s); rolled back.")
            return
        if count:
            self.stdout.write(self.style.SUCCESS(f"Demo plant loaded: {count} object(s) created."))
        else:
            self.stdout.write("Demo plant already loaded: nothing changed.")
        self._print_logins()

    def _print_logins(self) -> None:
        rows = [("Username", "Password", "Role", "Printed name")] + [
            (u.username, DEMO_PASSWORD, u.role, u.full_name) for u in DEMO_USERS
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]

        def line(row: tuple[str, ...]) -> str:
            return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))

        self.stdout.write("")
        self.stdout.write("Demo logins:")
        self.stdout.write(line(rows[0]).rstrip())
        self.stdout.write("  ".join("-" * width for width in widths))
        for row in rows[1:]:
            self.stdout.write(line(row).rstrip())
