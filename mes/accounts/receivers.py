"""Login, logout and lockout news becomes security events; a new lockout alerts the
administrators (21 CFR 11.300(d)). django-axes counts the failures (by user ID and address
together) and sends `user_locked_out`."""

from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction

from mes.accounts.models import SecurityEvent, User


def _user_named(username: str) -> User | None:
    if not username:
        return None
    return User.objects.filter(username__iexact=username).first()


def _source(request: Any) -> str:
    return "signature" if getattr(request, "mes_signing", False) else "login"


def on_logged_in(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    from mes.accounts.middleware import session_start
    from mes.accounts.services import security_event_record

    if request is not None and hasattr(request, "session"):
        session_start(request, user, terminal=getattr(request, "mes_terminal_login", False))
    security_event_record(
        event_type=SecurityEvent.Type.LOGIN_SUCCEEDED,
        actor=user,
        user=user,
        request=request,
        data={
            "terminal": bool(request.session.get("mes_terminal"))
            if request is not None and hasattr(request, "session")
            else False
        },
    )


def on_logged_out(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    from mes.accounts.services import security_event_record

    if user is None or getattr(request, "mes_session_expired", False):
        return  # an expired session was recorded as session.expired
    security_event_record(
        event_type=SecurityEvent.Type.LOGGED_OUT,
        actor=user,
        user=user,
        request=request,
        data={"locked_out": bool(getattr(request, "axes_locked_out", False))},
    )


def on_login_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    from mes.accounts.services import security_event_record

    if getattr(request, "mes_signing", False):
        return  # signer_authenticate records signature.failed itself
    username = str(credentials.get(settings.AXES_USERNAME_FORM_FIELD) or "")
    security_event_record(
        event_type=SecurityEvent.Type.LOGIN_FAILED,
        user=_user_named(username),
        username=username,
        request=request,
        data={
            "locked_out": bool(getattr(request, "axes_locked_out", False)),
            "failures": getattr(request, "axes_failures_since_start", None),
        },
    )


def on_locked_out(
    sender: Any, request: Any, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    """axes sends this for the failure that reaches the limit and again for every attempt
    during the lockout; only the first one is a new lockout (event + alert)."""
    from axes.helpers import get_cool_off, get_failure_limit

    from mes.accounts.services import security_event_record
    from mes.accounts.tasks import send_lockout_alert

    failures = getattr(request, "axes_failures_since_start", None)
    limit = get_failure_limit(request, getattr(request, "axes_credentials", None))
    if failures != limit:
        return
    cool_off = get_cool_off(request)
    user = _user_named(username or "")
    event = security_event_record(
        event_type=SecurityEvent.Type.LOCKED_OUT,
        user=user,
        username=username or "",
        request=request,
        data={
            "failures": failures,
            "source": _source(request),
            "cooloff_minutes": int(cool_off.total_seconds() // 60) if cool_off else None,
        },
    )
    transaction.on_commit(lambda: send_lockout_alert.delay(event.pk))


def connect() -> None:
    """Connected in AccountsConfig.ready()."""
    user_logged_in.connect(on_logged_in, dispatch_uid="mes-accounts-logged-in")
    user_logged_out.connect(on_logged_out, dispatch_uid="mes-accounts-logged-out")
    user_login_failed.connect(on_login_failed, dispatch_uid="mes-accounts-login-failed")
    user_locked_out.connect(on_locked_out, dispatch_uid="mes-accounts-locked-out")
