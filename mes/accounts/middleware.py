"""Session policy: idle timeout (shorter on shop-floor terminals), absolute limit since login,
forced password change.

The rule for a *terminal session* (documented in mes/accounts/README.md):
- the person ticked "Shop-floor terminal" on the login page, or
- every role the person holds is a shop-floor role (today: only Operator).
A terminal session ends after MES_TERMINAL_IDLE_TIMEOUT_SECONDS without activity, any other
after MES_IDLE_TIMEOUT_SECONDS; every session ends MES_SESSION_ABSOLUTE_LIMIT_SECONDS after
login. An ended session is logged out, a `session.expired` SecurityEvent is written, and the
login page tells the person why. Background requests that carry `X-MES-Passive: 1` (a board
polling for news) do not count as activity.

Only browser sessions are governed here; API token requests carry no session.
"""

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import urlencode

from mes.accounts.models import SecurityEvent
from mes.accounts.roles import SHOP_FLOOR_ROLES

SESSION_LOGIN_AT = "mes_login_at"
SESSION_LAST_SEEN = "mes_last_seen"
SESSION_TERMINAL = "mes_terminal"
SESSION_NOTICE = "mes_session_notice"
PASSIVE_HEADER = "X-MES-Passive"
# Activity is written to the session at most this often (one session write per request
# would be wasteful); the idle limits are minutes, so the error is negligible.
LAST_SEEN_RESOLUTION_SECONDS = 10


def is_terminal_user(roles: set[str]) -> bool:
    """A person whose only roles are shop-floor roles works on terminals."""
    return bool(roles) and roles <= SHOP_FLOOR_ROLES


def session_start(request: HttpRequest, user: Any, *, terminal: bool = False) -> None:
    """Called at login: stamps the login time and decides whether this is a terminal session."""
    now = int(time.time())
    request.session[SESSION_LOGIN_AT] = now
    request.session[SESSION_LAST_SEEN] = now
    request.session[SESSION_TERMINAL] = bool(terminal) or is_terminal_user(user.role_names)


def idle_limit_seconds(session: Any) -> int:
    if session.get(SESSION_TERMINAL):
        return settings.MES_TERMINAL_IDLE_TIMEOUT_SECONDS
    return settings.MES_IDLE_TIMEOUT_SECONDS


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def _minutes(seconds: int) -> str:
    minutes = round(seconds / 60)
    if minutes >= 120 and minutes % 60 == 0:
        return f"{minutes // 60} hours"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class SessionPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            ended = self._check_expiry(request, user)
            if ended is not None:
                return ended
            if (
                user.must_change_password or user.password_expired
            ) and not self._exempt_from_password_change(request):
                return self._password_change_required(
                    request, expired=not user.must_change_password
                )
        return self.get_response(request)

    # --- expiry -------------------------------------------------------------------------
    def _check_expiry(self, request: HttpRequest, user: Any) -> HttpResponse | None:
        session = request.session
        now = int(time.time())
        login_at = session.get(SESSION_LOGIN_AT)
        last_seen = session.get(SESSION_LAST_SEEN)
        if login_at is None or last_seen is None:
            # A session that predates the policy: start counting now.
            session_start(request, user)
            return None
        absolute = settings.MES_SESSION_ABSOLUTE_LIMIT_SECONDS
        idle_limit = idle_limit_seconds(session)
        if now - login_at > absolute:
            return self._expire(
                request,
                user,
                kind="absolute",
                seconds=now - login_at,
                notice=f"Your session ended {_minutes(absolute)} after login. Please log in again.",
            )
        if now - last_seen > idle_limit:
            return self._expire(
                request,
                user,
                kind="idle",
                seconds=now - last_seen,
                notice=f"Your session ended after {_minutes(idle_limit)} without activity. "
                "Please log in again.",
            )
        passive = request.headers.get(PASSIVE_HEADER, "") == "1"
        if not passive and now - last_seen >= LAST_SEEN_RESOLUTION_SECONDS:
            session[SESSION_LAST_SEEN] = now
        return None

    def _expire(
        self, request: HttpRequest, user: Any, *, kind: str, seconds: int, notice: str
    ) -> HttpResponse:
        from mes.accounts.services import security_event_record

        terminal = bool(request.session.get(SESSION_TERMINAL))
        security_event_record(
            event_type=SecurityEvent.Type.SESSION_EXPIRED,
            actor=user,
            user=user,
            request=request,
            data={
                "reason": kind,
                "seconds": seconds,
                "terminal": terminal,
                "idle_limit": idle_limit_seconds(request.session),
                "absolute_limit": settings.MES_SESSION_ABSOLUTE_LIMIT_SECONDS,
                "path": request.path_info[:200],
            },
        )
        request.mes_session_expired = True  # type: ignore[attr-defined]
        logout(request)
        request.session[SESSION_NOTICE] = notice
        login_url = reverse(settings.LOGIN_URL)
        if is_api_request(request):
            return JsonResponse({"code": "session_expired", "detail": notice}, status=401)
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = login_url
            return response
        next_url = request.get_full_path() if request.method == "GET" else "/"
        return HttpResponseRedirect(f"{login_url}?{urlencode({'next': next_url})}")

    # --- forced password change -------------------------------------------------------
    def _exempt_from_password_change(self, request: HttpRequest) -> bool:
        path = request.path_info
        if path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return True
        exempt = {
            reverse("login"),
            reverse("logout"),
            reverse("password_change"),
            reverse("password_change_done"),
            reverse("healthz"),
        }
        return path in exempt

    def _password_change_required(
        self, request: HttpRequest, *, expired: bool = False
    ) -> HttpResponse:
        if expired:
            detail = (
                f"Your password is older than {settings.MES_PASSWORD_MAX_AGE_DAYS} days: "
                "change it before you continue (21 CFR 11.300(b))."
            )
        else:
            detail = "You must change your temporary password before you continue."
        if is_api_request(request):
            return JsonResponse({"code": "password_change_required", "detail": detail}, status=403)
        url = reverse("password_change")
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return HttpResponseRedirect(url)
