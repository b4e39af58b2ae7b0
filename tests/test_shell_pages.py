"""The shop-floor shell: layout, home per role, the scan box, error pages, admin branding.

This module is also the URLconf of the tests that need pages raising errors
(`@pytest.mark.urls(__name__)`).
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import override_settings
from django.urls import path, reverse

from mes.accounts.models import User
from mes.audit.context import acting_as
from mes.exceptions import Conflict, InvalidInput, NotAuthorized
from mes.registry import (
    Tile,
    register_scan_resolver,
    register_tile,
    unregister_scan_resolver,
)
from mes.urls import urlpatterns as project_urlpatterns

pytestmark = pytest.mark.django_db

# --- test URLconf: pages that fail in each way -------------------------------------------------


@login_required
def refuse(request, kind):
    if kind == "conflict":
        # a service that wrote, then refused: the refusal must leave nothing behind
        raise Conflict("Batch B-7 is already released.")
    if kind == "invalid":
        raise InvalidInput("The weight must be positive.")
    if kind == "not-authorized":
        raise NotAuthorized("Only QA may release a lot.")
    if kind == "forbidden":
        raise PermissionDenied
    if kind == "missing":
        raise Http404
    raise RuntimeError("boom")


@login_required
def rename_then_refuse(request):
    """A page whose service renames the user, then refuses (all in one transaction)."""
    from django.db import transaction

    with transaction.atomic(), acting_as(request.user, reason="test"):
        user = User.objects.select_for_update().get(pk=request.user.pk)
        user.full_name = "Changed Name"
        user.save(update_fields=["full_name"])
        raise Conflict("Refused after a write: rolled back.")


urlpatterns = [
    path("test/refuse/<str:kind>/", refuse),
    path("test/rename-then-refuse/", rename_then_refuse),
    *project_urlpatterns,
]

handler500 = "mes.views.server_error"

test_urls = pytest.mark.urls(__name__)


# --- layout ------------------------------------------------------------------------------------


@override_settings(MES_DATABASE_IS_GMP_GRADE=False)
def test_layout_shows_printed_name_roles_clock_and_banner(client, operator):
    client.force_login(operator)
    html = client.get(reverse("home")).content.decode()
    assert '<span class="who-name">Olivia Operator</span>' in html
    assert '<span class="who-roles"><span class="role">Operator</span></span>' in html
    assert 'data-clock data-tz="UTC"' in html
    assert re.search(r"<time class=\"clock-time\" data-clock-time>\d\d:\d\d:\d\d</time>", html)
    assert "Not for GMP use." in html
    assert 'action="/logout/"' in html


@override_settings(MES_DATABASE_IS_GMP_GRADE=True)
def test_no_banner_on_a_gmp_grade_database(client, operator):
    client.force_login(operator)
    html = client.get(reverse("home")).content.decode()
    assert "Not for GMP use." not in html


@override_settings(TIME_ZONE="Europe/Berlin")
def test_clock_shows_the_plant_time_zone(client, operator):
    client.force_login(operator)
    html = client.get(reverse("home")).content.decode()
    assert 'data-clock data-tz="Europe/Berlin"' in html
    assert "· Europe/Berlin</span>" in html


def test_layout_loads_only_local_assets(client, operator):
    client.force_login(operator)
    html = client.get(reverse("home")).content.decode()
    assert '<script src="/static/vendor/htmx.min.js" defer></script>' in html
    assert '<script src="/static/mes/mes.js" defer></script>' in html
    assert '<link rel="stylesheet" href="/static/mes/mes.css">' in html
    assert re.findall(r'(?:src|href)="(?:https?:)?//', html) == []


def test_person_without_role_is_told_so(client, db):
    from mes.accounts.tests.factories import UserFactory

    nobody = UserFactory(username="nora.norole", full_name="Nora Norole")
    client.force_login(nobody)
    html = client.get(reverse("home")).content.decode()
    assert '<h1 class="home-heading">No role assigned</h1>' in html
    assert '<span class="role role-none">no role</span>' in html


# --- home per role -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "heading", "role", "terminal"),
    [
        ("operator", "My work", "Operator", True),
        ("supervisor", "Shift overview", "Supervisor", False),
        ("qa_user", "Review queue", "QA Reviewer", False),
        ("recipe_author", "Recipes", "Recipe Author", False),
        ("planner", "Planning", "Planner", False),
        ("maintenance_user", "Maintenance work", "Maintenance", False),
        ("admin_user", "Administration", "Administrator", False),
        ("integration_user", "Integration account", "Integration (ERP)", False),
    ],
)
def test_home_heading_per_role(client, request, fixture, heading, role, terminal):
    client.force_login(request.getfixturevalue(fixture))
    response = client.get(reverse("home"))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'<h1 class="home-heading">{heading}</h1>' in html
    assert f'data-role-home="{role}"' in html
    assert ('<body class="terminal"' in html) is terminal


def test_operator_home_has_the_scan_box(client, operator):
    client.force_login(operator)
    html = client.get(reverse("home")).content.decode()
    assert 'action="/scan/"' in html
    assert re.search(r'<input id="scan-code"[^>]* name="code" data-scan ', html)


def test_qa_home_has_no_scan_box(client, qa_user):
    client.force_login(qa_user)
    html = client.get(reverse("home")).content.decode()
    assert "data-scan" not in html


def test_operator_with_qa_role_gets_the_terminal_home(client, db):
    from mes.accounts.tests.factories import UserFactory

    both = UserFactory(username="bo.both", roles=["QA Reviewer", "Operator"])
    client.force_login(both)
    html = client.get(reverse("home")).content.decode()
    assert '<h1 class="home-heading">My work</h1>' in html
    assert '<span class="role">Operator</span><span class="role">QA Reviewer</span>' in html


def test_admin_home_shows_kernel_tiles_and_admin_link(client, admin_user):
    client.force_login(admin_user)
    html = client.get(reverse("home")).content.decode()
    tiles = re.findall(r'<a class="tile" href="([^"]+)" data-tile="([^"]+)">', html)
    assert ("/admin/", "mes.admin") in tiles
    assert ("/api/docs/", "mes.api_docs") in tiles
    assert '<a class="navlink" href="/admin/">Admin</a>' in html


def test_operator_home_lists_only_operator_tiles(client, operator):
    register_tile(
        Tile(key="test.floor", title="Floor task", url_name="home", roles=("Operator",), order=1)
    )
    register_tile(
        Tile(key="test.qa", title="QA task", url_name="home", roles=("QA Reviewer",), order=1)
    )
    try:
        client.force_login(operator)
        html = client.get(reverse("home")).content.decode()
    finally:
        from mes import registry

        registry._tiles.pop("test.floor")
        registry._tiles.pop("test.qa")
    keys = re.findall(r'data-tile="([^"]+)"', html)
    assert "test.floor" in keys
    assert "test.qa" not in keys
    assert "mes.admin" not in keys
    assert '<strong class="tile-title">Floor task</strong>' in html


# --- scan box ----------------------------------------------------------------------------------


@pytest.fixture
def lot_resolver():
    def resolve(code, user):
        return "/admin/" if code == "LOT-0001" and user.is_authenticated else None

    register_scan_resolver("test.lot", resolve, order=10)
    yield
    unregister_scan_resolver("test.lot")


def test_scan_of_a_known_code_opens_its_record(client, operator, lot_resolver):
    client.force_login(operator)
    response = client.post(reverse("scan"), {"code": "  LOT-0001\n", "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_scan_of_an_unknown_code_says_so_and_goes_back(client, operator, lot_resolver):
    client.force_login(operator)
    response = client.post(reverse("scan"), {"code": "XYZ-9", "next": "/"}, follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [("/", 302)]
    assert (
        '<div class="msg msg-error" role="alert">“XYZ-9” is not a batch, work order, lot or '
        "unit you can open here. Check the label and scan again.</div>"
    ) in html


def test_scan_of_nothing_asks_to_scan_again(client, operator):
    client.force_login(operator)
    response = client.post(reverse("scan"), {"code": "   "}, follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert "Nothing was scanned. Scan the label again." in response.content.decode()


def test_scan_never_redirects_off_site(client, operator):
    client.force_login(operator)
    response = client.post(reverse("scan"), {"code": "X", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_scan_needs_login_and_post(client, operator):
    response = client.post(reverse("scan"), {"code": "LOT-0001"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    client.force_login(operator)
    assert client.get(reverse("scan")).status_code == 405


def test_scan_resolvers_are_asked_in_order(client, operator):
    asked = []

    def first(code, user):
        asked.append("first")

    def second(code, user):
        asked.append("second")
        return "/api/docs/"

    register_scan_resolver("test.second", second, order=20)
    register_scan_resolver("test.first", first, order=10)
    try:
        client.force_login(operator)
        response = client.post(reverse("scan"), {"code": "ABC"})
    finally:
        unregister_scan_resolver("test.first")
        unregister_scan_resolver("test.second")
    assert asked == ["first", "second"]
    assert response["Location"] == "/api/docs/"


# --- error pages -------------------------------------------------------------------------------


@test_urls
@pytest.mark.parametrize(
    ("kind", "status", "heading", "detail"),
    [
        (
            "conflict",
            409,
            "Not possible in the record's current state",
            "Batch B-7 is already released.",
        ),
        ("invalid", 400, "The request was not accepted", "The weight must be positive."),
        ("not-authorized", 403, "You are not permitted to do this", "Only QA may release a lot."),
        ("forbidden", 403, "You are not permitted to do this", ""),
        ("missing", 404, "Not found", ""),
    ],
)
def test_error_pages_say_what_the_error_means(client, operator, kind, status, heading, detail):
    client.force_login(operator)
    response = client.get(f"/test/refuse/{kind}/")
    html = response.content.decode()
    assert response.status_code == status
    assert f"<h1>{heading}</h1>" in html
    assert f'data-status="{status}"' in html
    assert '<span class="who-name">Olivia Operator</span>' in html  # in the shell's layout
    assert '<a class="btn btn-primary" href="/">Back to home</a>' in html
    if detail:
        assert f">{detail}</p>" in html


@test_urls
def test_refusal_after_a_write_leaves_nothing(client, operator):
    client.force_login(operator)
    response = client.get("/test/rename-then-refuse/")
    assert response.status_code == 409
    assert "Refused after a write: rolled back." in response.content.decode()
    operator.refresh_from_db()
    assert operator.full_name == "Olivia Operator"


@test_urls
def test_htmx_refusal_is_a_fragment_for_the_message_area(client, operator):
    client.force_login(operator)
    response = client.get("/test/refuse/conflict/", HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#messages"
    assert response["HX-Reswap"] == "innerHTML"
    assert response.content.decode().strip() == (
        '<div class="msg msg-error" role="alert" data-code="conflict"><strong>Refused:</strong> '
        "Batch B-7 is already released.</div>"
    )


@test_urls
@override_settings(MES_DATABASE_IS_GMP_GRADE=False)
def test_server_error_page_is_in_the_layout(client, operator):
    client.force_login(operator)
    client.raise_request_exception = False
    response = client.get("/test/refuse/boom/", HTTP_X_REQUEST_ID="req-500")
    html = response.content.decode()
    assert response.status_code == 500
    assert "<h1>Something went wrong in the system</h1>" in html
    assert "<code>req-500</code>" in html
    assert "Not for GMP use." in html


def test_server_error_view_renders_without_queries(rf, django_assert_num_queries):
    from mes.views import server_error

    request = rf.get("/")
    request.request_id = "abc123"
    with django_assert_num_queries(0):
        response = server_error(request)
    html = response.content.decode()
    assert response.status_code == 500
    assert "<h1>Something went wrong in the system</h1>" in html
    assert "<code>abc123</code>" in html


def test_unknown_url_is_the_404_page(client, operator):
    client.force_login(operator)
    response = client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in html
    assert "<code>/no/such/page/</code>" in html


def test_every_error_template_extends_the_layout():
    for name in ("400", "401", "403", "404", "409", "500"):
        text = (Path(settings.BASE_DIR) / "templates" / f"{name}.html").read_text()
        assert text.startswith('{% extends "error_page.html" %}'), name


# --- admin ---------------------------------------------------------------------------------------


@override_settings(MES_DATABASE_IS_GMP_GRADE=False)
def test_admin_is_branded_and_warns_on_sqlite(client, db):
    from mes.accounts.tests.factories import UserFactory

    root = UserFactory(username="root.admin", is_staff=True, is_superuser=True)
    client.force_login(root)
    response = client.get("/admin/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<a href="/admin/">Open MES administration</a>' in html
    assert "Master data, people and rights" in html
    assert "Not for GMP use: embedded SQLite database." in html
    assert '<a class="mes-back" href="/">Back to the MES</a>' in html


# --- the touch terminal's CSS --------------------------------------------------------------------


def test_css_declares_touch_targets_for_gloved_hands():
    css = (Path(settings.BASE_DIR) / "static" / "mes" / "mes.css").read_text()
    assert "--touch: 56px;" in css
    assert "--touch-primary: 64px;" in css
    assert re.search(r"\.btn \{[^}]*min-height: var\(--touch\);", css)
    assert re.search(r"\.btn-primary \{[^}]*min-height: var\(--touch-primary\);", css)


def test_tile_without_a_page_is_left_out_and_logged(client, operator, caplog):
    register_tile(
        Tile(key="test.unwired", title="Unwired", url_name="no_such_page", roles=("Operator",))
    )
    try:
        client.force_login(operator)
        response = client.get(reverse("home"))
    finally:
        from mes import registry

        registry._tiles.pop("test.unwired")
    assert response.status_code == 200
    assert 'data-tile="test.unwired"' not in response.content.decode()
    assert "Home tile test.unwired: no URL named 'no_such_page'" in caplog.text
