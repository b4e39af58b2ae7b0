"""Every change to people, their credentials and their rights. Users are deactivated, never
deleted (21 CFR 11.100(a)); nobody learns or sets another person's password (11.200(a)(3)):
an administrator can only issue a one-time temporary password that must be changed at first
use; every such event is a SecurityEvent (and, on PostgreSQL, an audit event)."""

import contextlib
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from mes.accounts.models import ApiToken, PasswordHistory, RoleGrantRequest, SecurityEvent, User
from mes.audit.context import acting_as, audit_context, change_reason, current_context
from mes.exceptions import Conflict, InvalidInput, NotAuthorized

ANONYMOUS_PRINCIPAL = "anonymous:login"


def client_ip(request: Any) -> str | None:
    """The client address as axes sees it (honours AXES_IPWARE_PROXY_COUNT)."""
    if request is None:
        return None
    from axes.helpers import get_client_ip_address

    django_request = getattr(request, "_request", request)
    return get_client_ip_address(django_request) or None


def _is_human(actor: Any) -> bool:
    return (
        actor is not None
        and getattr(actor, "is_authenticated", False)
        and not getattr(actor, "is_system", False)
    )


def _require_perm(actor: Any, perm: str, action: str) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise NotAuthorized(f"Only an active, logged-in user may {action}.")
    if not actor.has_perm(perm):
        raise NotAuthorized(f"You lack the permission to {action} ({perm}).")


def security_event_record(
    *,
    event_type: str,
    actor: Any = None,
    user: User | None = None,
    username: str = "",
    request: Any = None,
    data: dict | None = None,
) -> SecurityEvent:
    """Append one SecurityEvent. With an authenticated `actor` the write is attributed to
    them; else to the current context's principal (a task, a command); with nobody known (a
    failed login) to the anonymous login principal, keeping the request id."""
    if user is not None and not username:
        username = user.get_username()
    ctx = current_context()
    scope: contextlib.AbstractContextManager
    if actor is not None and getattr(actor, "is_authenticated", False):
        scope = acting_as(actor, reason=event_type)
    elif ctx is not None and (ctx.principal or ctx.resolved_user() is not None):
        scope = change_reason(event_type)
    else:
        scope = audit_context(
            principal=ANONYMOUS_PRINCIPAL,
            reason=event_type,
            request_id=ctx.request_id if ctx is not None else None,
        )
    with scope:
        return SecurityEvent.objects.create(
            type=event_type,
            user=user,
            username=username[:150],
            ip_address=client_ip(request),
            data=data or {},
        )


@transaction.atomic
def user_create(
    *,
    actor: Any,
    username: str,
    full_name: str,
    email: str = "",
    roles: Iterable[str] = (),
    password: str | None = None,
    must_change_password: bool = True,
    is_staff: bool = False,
) -> User:
    """Create a person. A username is unique case-insensitively and never reused.

    A person acting (an administrator) can never give someone else a usable password that
    stays valid: a password they choose is a temporary one that must be changed at first use
    (11.200(a)(3)). Only a system principal (demo loader, migration) may set a final one."""
    if not username or not full_name:
        raise InvalidInput("A user needs a username and a printed full name.")
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"Username {username!r} exists or existed: usernames are never reused.")
    if password and _is_human(actor):
        must_change_password = True
    roles = list(roles)
    with acting_as(actor, reason=f"create user {username}"):
        user = User(
            username=username,
            full_name=full_name,
            email=email,
            is_staff=is_staff,
            must_change_password=must_change_password,
        )
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        groups = list(Group.objects.filter(name__in=roles))
        missing = set(roles) - {g.name for g in groups}
        if missing:
            raise InvalidInput(f"Unknown role(s): {', '.join(sorted(missing))}")
    role_grant(actor=actor, user=user, roles=roles, reason=f"new user {username}")
    return user


def roles_needing_second_approval() -> set[str]:
    return {r for r in settings.MES_ROLES_NEEDING_SECOND_APPROVAL if r}


@transaction.atomic
def role_grant(
    *, actor: Any, user: User, roles: Iterable[str], reason: str
) -> list[RoleGrantRequest]:
    """Give `user` these roles. A role listed in MES_ROLES_NEEDING_SECOND_APPROVAL, asked for by
    a person, becomes a pending request that another administrator approves
    (`role_grant_decide`); the others are granted at once. A system principal (the demo loader,
    a migration) grants directly. Returns the pending requests."""
    roles = set(roles)
    if not roles:
        return []
    groups = {g.name: g for g in Group.objects.filter(name__in=roles)}
    missing = roles - set(groups)
    if missing:
        raise InvalidInput(f"Unknown role(s): {', '.join(sorted(missing))}")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the role is given.")
    held = set(user.groups.values_list("name", flat=True))
    needs_second = roles_needing_second_approval() if _is_human(actor) else set()
    pending: list[RoleGrantRequest] = []
    with acting_as(actor, reason=f"grant {', '.join(sorted(roles - held))} to {user.username}"):
        for name in sorted(roles - held):
            if name in needs_second:
                request, _ = RoleGrantRequest.objects.get_or_create(
                    user=user,
                    role=groups[name],
                    status=RoleGrantRequest.Status.PENDING,
                    defaults={"requested_by": actor, "reason": reason},
                )
                pending.append(request)
            else:
                user.groups.add(groups[name])
    return pending


@transaction.atomic
def role_grant_decide(
    *, actor: Any, request: RoleGrantRequest, approve: bool, reason: str
) -> RoleGrantRequest:
    """The second administrator approves (the role is granted) or rejects a pending request.
    Nobody decides a request they made, or one that gives a role to themselves."""
    _require_perm(actor, "accounts.approve_rolegrantrequest", "approve role grants")
    request = RoleGrantRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != RoleGrantRequest.Status.PENDING:
        raise Conflict(f"This request was already {request.status}.")
    if actor.pk in (request.requested_by_id, request.user_id):
        raise Conflict(
            "A second administrator must decide: you asked for this role, or it is for you "
            "(21 CFR 11.200(a)(3))."
        )
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give the reason for the decision.")
    verb = "approve" if approve else "reject"
    with acting_as(actor, reason=f"{verb} {request.role.name} for {request.user.username}"):
        request.status = (
            RoleGrantRequest.Status.APPROVED if approve else RoleGrantRequest.Status.REJECTED
        )
        request.decided_by = actor
        request.decided_at = timezone.now()
        request.decision_reason = reason
        request.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        if approve:
            request.user.groups.add(request.role)
    return request


@transaction.atomic
def user_deactivate(*, actor: Any, user: User, reason: str) -> User:
    """Take a person's access away for good (until reactivated): login, sessions (on their
    next request), signing and API tokens (revoked). The row and username stay forever."""
    _require_perm(actor, "accounts.deactivate_user", "deactivate users")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required to deactivate a user.")
    if actor.pk == user.pk:
        raise Conflict("You cannot deactivate yourself.", code="user_self_deactivation")
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        raise Conflict(f"{user.username} is already deactivated.", code="user_already_inactive")
    with acting_as(actor, reason=f"deactivate user {user.username}: {reason}"):
        user.is_active = False
        user.deactivated_at = timezone.now()
        user.deactivation_reason = reason
        user.save(update_fields=["is_active", "deactivated_at", "deactivation_reason"])
        revoked = []
        for token in ApiToken.objects.select_for_update().filter(user=user, revoked_at=None):
            token.revoked_at = timezone.now()
            token.revoked_by = actor
            token.save(update_fields=["revoked_at", "revoked_by"])
            revoked.append(token.key_prefix)
        security_event_record(
            event_type=SecurityEvent.Type.USER_DEACTIVATED,
            actor=actor,
            user=user,
            data={"reason": reason, "by": actor.get_username(), "tokens_revoked": revoked},
        )
    return user


@transaction.atomic
def user_reactivate(*, actor: Any, user: User, reason: str) -> User:
    """Give a deactivated person their access back (same username, same history). Revoked
    API tokens stay revoked."""
    _require_perm(actor, "accounts.deactivate_user", "reactivate users")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required to reactivate a user.")
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active:
        raise Conflict(f"{user.username} is active.", code="user_already_active")
    with acting_as(actor, reason=f"reactivate user {user.username}: {reason}"):
        user.is_active = True
        user.deactivated_at = None
        user.deactivation_reason = ""
        user.save(update_fields=["is_active", "deactivated_at", "deactivation_reason"])
        security_event_record(
            event_type=SecurityEvent.Type.USER_REACTIVATED,
            actor=actor,
            user=user,
            data={"reason": reason, "by": actor.get_username()},
        )
    return user


def temporary_password_generate(user: User) -> str:
    """A random password that passes the configured validators."""
    for _ in range(10):
        candidate = secrets.token_urlsafe(12)
        try:
            validate_password(candidate, user)
        except ValidationError:
            continue
        return candidate
    raise RuntimeError("could not generate a temporary password that passes the validators")


@transaction.atomic
def user_issue_temporary_password(*, actor: Any, user: User) -> str:
    """Replace `user`'s password by a one-time temporary one (returned once, to hand over in
    person); the user must change it at their next login. Their sessions end (Django's session
    hash follows the password) and their login lockout is lifted."""
    _require_perm(actor, "accounts.issue_temporary_password", "issue temporary passwords")
    if actor.pk == user.pk:
        raise Conflict(
            "Change your own password with 'Change password'; a temporary password is for "
            "someone else.",
            code="temporary_password_self",
        )
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_system:
        raise Conflict(f"{user.username} is a system principal and cannot log in.")
    if not user.is_active:
        raise Conflict(f"{user.username} is deactivated; reactivate first.")
    password = temporary_password_generate(user)
    with acting_as(actor, reason=f"issue temporary password to {user.username}"):
        user.set_password(password)
        user.must_change_password = True
        user.save(update_fields=["password", "must_change_password"])
        unlocked = _reset_lockout(user.get_username())
        security_event_record(
            event_type=SecurityEvent.Type.TEMPORARY_PASSWORD_ISSUED,
            actor=actor,
            user=user,
            data={"by": actor.get_username(), "lockout_attempts_cleared": unlocked},
        )
    return password


def _reset_lockout(username: str) -> int:
    from axes.handlers.proxy import AxesProxyHandler

    return AxesProxyHandler.reset_attempts(username=username)


@transaction.atomic
def user_change_password(*, actor: Any, user: User, new_password: str, request: Any = None) -> User:
    """A person changes their own password (nobody else may, 11.200(a)(3)). Clears the
    forced-change flag and stamps `password_changed_at`."""
    if actor is None or actor.pk != user.pk:
        raise NotAuthorized(
            "A password can only be changed by its owner; administrators issue a temporary "
            "password instead.",
            code="password_not_owner",
        )
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.check_password(new_password):
        raise InvalidInput("The new password must differ from the current one.")
    keep = settings.MES_PASSWORD_HISTORY
    if keep > 1:
        # The current password counts as one of the last `keep`.
        earlier = PasswordHistory.objects.filter(user=user).values_list("password", flat=True)
        for encoded in earlier[: keep - 1]:
            if check_password(new_password, encoded):
                raise InvalidInput(
                    f"The new password must differ from your last {keep} passwords "
                    "(21 CFR 11.300(b))."
                )
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from exc
    with acting_as(actor, reason="password changed"):
        was_forced = user.must_change_password
        was_expired = user.password_expired
        if user.has_usable_password() and not was_forced:
            # A temporary password is not the user's own and is not kept in the history.
            PasswordHistory.objects.create(
                user=user, password=user.password, set_at=user.password_age_start()
            )
        user.set_password(new_password)
        user.must_change_password = False
        user.password_changed_at = timezone.now()
        user.save(update_fields=["password", "must_change_password", "password_changed_at"])
        security_event_record(
            event_type=SecurityEvent.Type.PASSWORD_CHANGED,
            actor=actor,
            user=user,
            request=request,
            data={"was_temporary": was_forced, "was_expired": was_expired},
        )
    return user


@transaction.atomic
def api_token_create(*, actor: Any, user: User, name: str) -> tuple[ApiToken, str]:
    """A new API token for `user` (an integration). The raw key is returned once and never
    stored: only its SHA-256 is kept."""
    _require_perm(actor, "accounts.add_apitoken", "create API tokens")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("An API token needs a name (what uses it).")
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        raise Conflict(f"{user.username} is deactivated; a token would not work.")
    raw_key = secrets.token_urlsafe(32)
    with acting_as(actor, reason=f"create API token {name} for {user.username}"):
        token = ApiToken.objects.create(
            name=name,
            user=user,
            key_prefix=raw_key[:8],
            key_hash=ApiToken.hash_key(raw_key),
            created_by=actor,
        )
        security_event_record(
            event_type=SecurityEvent.Type.TOKEN_CREATED,
            actor=actor,
            user=user,
            data={"token_id": token.pk, "name": name, "prefix": token.key_prefix},
        )
    return token, raw_key


@transaction.atomic
def api_token_revoke(*, actor: Any, token: ApiToken, reason: str) -> ApiToken:
    """Revoke a token; the next request with it is refused (11.300(c))."""
    _require_perm(actor, "accounts.revoke_apitoken", "revoke API tokens")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required to revoke an API token.")
    token = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
    if token.revoked_at is not None:
        raise Conflict(f"Token {token} is already revoked.", code="token_already_revoked")
    with acting_as(actor, reason=f"revoke API token {token.name}: {reason}"):
        token.revoked_at = timezone.now()
        token.revoked_by = actor
        token.save(update_fields=["revoked_at", "revoked_by"])
        security_event_record(
            event_type=SecurityEvent.Type.TOKEN_REVOKED,
            actor=actor,
            user=token.user,
            data={"token_id": token.pk, "name": token.name, "reason": reason},
        )
    return token


@transaction.atomic
def user_access_review(*, actor: Any, user: User, note: str) -> SecurityEvent:
    """Record the periodic review of `user`'s access (roles and area rights still needed?),
    21 CFR 11.300(b). A reviewer cannot review their own access."""
    _require_perm(actor, "accounts.change_user", "review user access")
    if actor.pk == user.pk:
        raise Conflict("Your own access must be reviewed by another administrator.")
    note = (note or "").strip()
    if not note:
        raise InvalidInput(
            "Say what was reviewed (for example 'roles confirmed with the area lead')."
        )
    with acting_as(actor, reason=f"access review of {user.username}"):
        return security_event_record(
            event_type=SecurityEvent.Type.ACCESS_REVIEWED,
            actor=actor,
            user=user,
            data={
                "by": actor.get_username(),
                "note": note[:500],
                "roles": sorted(user.role_names),
            },
        )


def access_review_report(*, now: Any = None) -> list[dict[str, Any]]:
    """Every human account with its roles, last login, password age and last access review,
    flagged when the password has expired or the review is due (two queries)."""
    from datetime import timedelta

    from django.db.models import OuterRef, Subquery

    now = now or timezone.now()
    review_days = settings.MES_ACCESS_REVIEW_DAYS
    users = (
        User.objects.filter(is_system=False)
        .annotate(
            last_review=Subquery(
                SecurityEvent.objects.filter(
                    user=OuterRef("pk"), type=SecurityEvent.Type.ACCESS_REVIEWED
                )
                .order_by("-at")
                .values("at")[:1]
            )
        )
        .prefetch_related("groups")
        .order_by("username")
    )
    rows = []
    for user in users:
        reviewed = user.last_review
        due = user.is_active and (reviewed is None or now - reviewed > timedelta(days=review_days))
        rows.append(
            {
                "username": user.username,
                "name": user.printed_name,
                "active": user.is_active,
                "roles": sorted(g.name for g in user.groups.all()),
                "last_login": user.last_login,
                "password_age_days": (now - user.password_age_start()).days,
                "password_expired": user.password_expired,
                "last_access_review": reviewed,
                "review_due": due,
            }
        )
    return rows
