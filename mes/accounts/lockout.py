"""The response for a locked-out attempt (settings.AXES_LOCKOUT_CALLABLE).

Browser: the `registration/locked_out.html` page (HTTP 429). API: the standard error body
`{"code": "account_locked", "detail": ...}`. When the locked user ID is the one logged in
on this session (failed e-signature passwords), the session is ended too: someone other than
the owner may be at an unattended terminal (21 CFR 11.300(d))."""

from typing import Any

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from mes.accounts.middleware import is_api_request


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    username = get_client_username(request, credentials) or ""
    cool_off = get_cool_off(request)
    minutes = int(cool_off.total_seconds() // 60) if cool_off else None
    detail = (
        f"Too many failed attempts for user ID {username!r} from this address: it is locked "
        + (f"for {minutes} minutes" if minutes else "until an administrator unlocks it")
        + "; an administrator has been alerted."
    )
    user = getattr(request, "user", None)
    if (
        user is not None
        and user.is_authenticated
        and username
        and username.casefold() == user.get_username().casefold()
    ):
        logout(request)
    status = getattr(settings, "AXES_HTTP_RESPONSE_CODE", 429)
    if is_api_request(request) or request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return JsonResponse({"code": "account_locked", "detail": detail}, status=status)
    context = {
        "username": username,
        "failure_limit": get_failure_limit(request, credentials),
        "cooloff_minutes": minutes,
        "detail": detail,
    }
    return render(request, "registration/locked_out.html", context, status=status)
