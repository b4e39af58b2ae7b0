"""Platform pages: health check, home per role."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from mes.registry import tiles_for_roles


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    roles = request.user.role_names
    tiles = tiles_for_roles(roles, is_superuser=request.user.is_superuser)
    return render(request, "mes/home.html", {"tiles": tiles, "roles": sorted(roles)})
