"""Platform pages: health check, the home page per role, the terminal's scan box, error pages."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    HttpResponseServerError,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.template import loader
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import requires_csrf_token
from django.views.decorators.http import require_GET, require_POST

from mes.accounts.roles import Role
from mes.registry import Tile, scan_resolvers, tiles_for_roles

logger = logging.getLogger("mes.shell")


@dataclass(frozen=True)
class RoleHome:
    """How a role's home page greets it. `terminal` pages are laid out for gloved hands."""

    role: str
    heading: str
    lead: str
    terminal: bool = False
    scan: bool = False


# First match wins for a person with several roles: the shop floor first, then review.
ROLE_HOMES: tuple[RoleHome, ...] = (
    RoleHome(
        Role.OPERATOR,
        "My work",
        "Scan a batch, work order or lot label to start, or pick a task below.",
        terminal=True,
        scan=True,
    ),
    RoleHome(
        Role.SUPERVISOR,
        "Shift overview",
        "Work in progress, exceptions waiting for you and today's plan.",
        scan=True,
    ),
    RoleHome(
        Role.QA_REVIEWER, "Review queue", "Records waiting for review, disposition and release."
    ),
    RoleHome(Role.RECIPE_AUTHOR, "Recipes", "Master recipes and their versions in the workflow."),
    RoleHome(Role.PLANNER, "Planning", "Orders to release and the schedule of the lines."),
    RoleHome(
        Role.MAINTENANCE, "Maintenance work", "Calibrations, preventive maintenance and cleaning."
    ),
    RoleHome(Role.ADMINISTRATOR, "Administration", "Master data, people and their rights."),
    RoleHome(
        Role.INTEGRATION,
        "Integration account",
        "This account is for the ERP interface; it works through the API.",
    ),
)
NO_ROLE_HOME = RoleHome(
    "", "No role assigned", "Your account has no role yet. Ask an administrator to assign one."
)


def role_home_for(roles: set[str]) -> RoleHome:
    return next((home for home in ROLE_HOMES if home.role in roles), NO_ROLE_HOME)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@dataclass(frozen=True)
class TileLink:
    tile: Tile
    url: str


def tile_links(tiles: list[Tile]) -> list[TileLink]:
    """The tiles with their URLs. A tile whose URL does not resolve (an app's page not wired
    yet) is left out and logged, so that one app cannot take every home page down."""
    links = []
    for tile in tiles:
        try:
            links.append(TileLink(tile=tile, url=reverse(tile.url_name)))
        except NoReverseMatch:
            logger.warning("Home tile %s: no URL named %r", tile.key, tile.url_name)
    return links


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    roles = request.user.role_names
    role_home = role_home_for(roles)
    tiles = tile_links(tiles_for_roles(roles, is_superuser=request.user.is_superuser))
    return render(
        request,
        "mes/home.html",
        {"tiles": tiles, "roles": sorted(roles), "role_home": role_home},
    )


@login_required
@require_POST
def scan(request: HttpRequest) -> HttpResponse:
    """Where a scanned code leads: the first registered resolver that knows it."""
    code = request.POST.get("code", "").strip()
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    back = back or reverse("home")
    if not code:
        messages.error(request, "Nothing was scanned. Scan the label again.")
        return redirect(back)
    for resolver in scan_resolvers():
        target = resolver.resolve(code, request.user)
        if target:
            return HttpResponseRedirect(target)
    messages.error(
        request,
        f"“{code}” is not a batch, work order, lot or unit you can open here. "
        "Check the label and scan again.",
    )
    return redirect(back)


@requires_csrf_token
def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """The 500 page in the shell's layout. It must not touch the database (it may be what
    failed), so it renders with a fixed context and no request."""
    template = loader.get_template(template_name)
    context = {
        "MES_SITE_NAME": settings.MES_SITE_NAME,
        "MES_APP_VERSION": settings.MES_APP_VERSION,
        "MES_DATABASE_IS_GMP_GRADE": settings.MES_DATABASE_IS_GMP_GRADE,
        "request_id": getattr(request, "request_id", ""),
    }
    return HttpResponseServerError(template.render(context))
