"""`manage.py load_demo`: the demo plant's platform part, its idempotency and its steps."""

from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth.password_validation import validate_password
from django.core.management import CommandError, call_command
from guardian.shortcuts import get_perms

from mes.accounts.models import User
from mes.accounts.roles import ALL_ROLES
from mes.management.commands.load_demo import DEMO_PASSWORD, DEMO_USERS
from mes.registry import demo_steps, register_demo_step, unregister_demo_step

pytestmark = pytest.mark.django_db

Site = apps.get_model("equipment", "Site")
Area = apps.get_model("equipment", "Area")

DEMO_USERNAMES = [
    "operator",
    "supervisor",
    "qa",
    "author",
    "planner",
    "maintenance",
    "integration",
    "admin",
]


def load_demo(*args: str) -> str:
    out = StringIO()
    call_command("load_demo", "--no-input", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def no_app_steps(monkeypatch):
    """Run the platform part alone: plant apps may have registered their own steps."""
    from mes import registry

    monkeypatch.setattr(registry, "_demo_steps", {})


def snapshot() -> dict[str, int]:
    from guardian.models import UserObjectPermission

    return {
        "sites": Site.objects.count(),
        "areas": Area.objects.count(),
        "users": User.objects.count(),
        "memberships": User.groups.through.objects.count(),
        "object_perms": UserObjectPermission.objects.count(),
    }


def test_builds_the_mixed_mode_site(no_app_steps):
    load_demo()
    site = Site.objects.get(code="RPP")
    assert site.name == "Resin & Packaging Plant"
    areas = {a.code: (a.name, a.kind) for a in Area.objects.filter(site=site)}
    assert areas == {
        "RX": ("Resin reactor area", "process"),
        "PK": ("Packaging and assembly line", "discrete"),
    }


def test_one_demo_user_per_role_with_a_usable_password(no_app_steps):
    load_demo()
    users = User.objects.filter(username__in=DEMO_USERNAMES)
    roles = {u.username: sorted(u.role_names) for u in users}
    assert roles == {
        "operator": ["Operator"],
        "supervisor": ["Supervisor"],
        "qa": ["QA Reviewer"],
        "author": ["Recipe Author"],
        "planner": ["Planner"],
        "maintenance": ["Maintenance"],
        "integration": ["Integration (ERP)"],
        "admin": ["Administrator"],
    }
    assert {r for rs in roles.values() for r in rs} == set(ALL_ROLES)
    assert [u.must_change_password for u in users] == [False] * 8
    assert User.objects.get(username="admin").is_staff is True
    assert User.objects.get(username="operator").printed_name == "Demo Operator"
    assert User.objects.get(username="qa").check_password(DEMO_PASSWORD) is True


def test_demo_password_passes_the_validators_for_every_user():
    assert len(DEMO_PASSWORD) >= 10
    for spec in DEMO_USERS:
        validate_password(DEMO_PASSWORD, user=User(username=spec.username))


def test_area_rights_by_role(no_app_steps):
    load_demo()
    rx, pk = Area.objects.get(code="RX"), Area.objects.get(code="PK")

    def rights(username):
        user = User.objects.get(username=username)
        return sorted(get_perms(user, rx)), sorted(get_perms(user, pk))

    assert rights("operator") == (["operate_in_area"], ["operate_in_area"])
    assert rights("supervisor") == (["operate_in_area"], ["operate_in_area"])
    assert rights("qa") == (["review_in_area"], ["review_in_area"])
    assert rights("planner") == (["plan_in_area"], ["plan_in_area"])
    assert rights("maintenance") == ([], [])
    assert rights("integration") == ([], [])


def test_prints_the_demo_logins_as_a_table(no_app_steps):
    out = load_demo()
    assert "Demo plant loaded: 19 object(s) created." in out
    assert "Username     Password        Role               Printed name" in out
    assert "operator     rpp-demo-plant  Operator           Demo Operator" in out
    assert "qa           rpp-demo-plant  QA Reviewer        Demo QA Reviewer" in out
    assert "admin        rpp-demo-plant  Administrator      Demo Administrator" in out


def test_second_run_changes_nothing_and_says_so(no_app_steps):
    load_demo()
    before = snapshot()
    out = load_demo()
    assert snapshot() == before
    assert "Demo plant already loaded: nothing changed." in out
    assert "  + " not in out


def test_completes_a_partly_loaded_demo(no_app_steps):
    load_demo()
    from guardian.shortcuts import remove_perm

    remove_perm(
        "equipment.review_in_area", User.objects.get(username="qa"), Area.objects.get(code="PK")
    )
    out = load_demo()
    assert "  + right review_in_area on PK for qa" in out
    assert "Demo plant loaded: 1 object(s) created." in out


def test_dry_run_writes_nothing(no_app_steps):
    before = snapshot()
    out = load_demo("--dry-run")
    assert snapshot() == before
    assert "Dry run: would create 19 object(s); rolled back." in out


def test_interactive_run_can_be_declined(no_app_steps, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    before = snapshot()
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert snapshot() == before
    assert "Cancelled: nothing changed." in out.getvalue()


def test_runs_under_the_load_demo_principal(no_app_steps):
    seen = []

    def step(ctx):
        from mes.audit.context import current_context

        seen.append(current_context().as_dict()["user_name"])

    register_demo_step("test.principal", step, order=1)
    try:
        load_demo()
    finally:
        unregister_demo_step("test.principal")
    assert seen == ["system:load_demo"]


def test_app_steps_run_in_order_after_the_platform_part(no_app_steps):
    calls = []

    def later(ctx):
        calls.append(("later", sorted(ctx.areas), ctx.user("Operator").username))

    def earlier(ctx):
        calls.append(("earlier", ctx.site.code, ctx.password))
        ctx.created("thing one")

    register_demo_step("test.later", later, order=300)
    register_demo_step("test.earlier", earlier, order=200)
    out = load_demo()
    assert calls == [
        ("earlier", "RPP", "rpp-demo-plant"),
        ("later", ["PK", "RX"], "operator"),
    ]
    assert "Demo step test.earlier: test.earlier\n  + thing one" in out
    assert "20 object(s) created" in out

    calls.clear()
    out = load_demo()
    assert [c[0] for c in calls] == ["earlier", "later"]
    assert "21 object(s) created" not in out  # the step reported one change again: 1 created
    assert "Demo plant loaded: 1 object(s) created." in out


def test_a_failing_step_rolls_back_the_whole_demo(no_app_steps):
    def broken(ctx):
        raise RuntimeError("no reactor")

    register_demo_step("test.broken", broken, order=200)
    before = snapshot()
    with pytest.raises(CommandError, match=r"Demo step test.broken failed: no reactor\. Nothing"):
        load_demo()
    assert snapshot() == before


def test_demo_steps_are_sorted_by_order_then_key(no_app_steps):
    register_demo_step("b.second", lambda ctx: None, order=20)
    register_demo_step("a.second", lambda ctx: None, order=20)
    register_demo_step("z.first", lambda ctx: None, order=10)
    assert [s.key for s in demo_steps()] == ["z.first", "a.second", "b.second"]
    register_demo_step("z.first", lambda ctx: None, order=30, title="moved")
    assert [(s.key, s.title) for s in demo_steps()] == [
        ("a.second", "a.second"),
        ("b.second", "b.second"),
        ("z.first", "moved"),
    ]


def test_the_audit_trail_names_the_demo_loader(no_app_steps):
    from mes.audit.models import AuditEvent

    load_demo()
    events = AuditEvent.objects.filter(
        table_name__in=["equipment_site", "equipment_area", "accounts_user"], action="INSERT"
    )
    assert sorted({(e.table_name, e.user_name) for e in events}) == [
        ("accounts_user", "system:load_demo"),
        ("equipment_area", "system:load_demo"),
        ("equipment_site", "system:load_demo"),
    ]
    assert events.filter(table_name="accounts_user").count() == 8
    assert sorted(
        events.filter(table_name="accounts_user").values_list("reason", flat=True)
    ) == sorted(f"create user {name}" for name in DEMO_USERNAMES)
