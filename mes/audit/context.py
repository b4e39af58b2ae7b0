"""Who is acting, and why: carried to the database with every write.

Every write to a GMP table must happen inside an audit context. The database trigger reads
it (`current_setting('mes.ctx')`) and refuses a change that carries none. Requests get one from
`AuditContextMiddleware`; services narrow the reason with `change_reason()`; Celery tasks,
commands and migrations open one for a named system principal.

    with audit_context(user=actor, reason="dispensed"):
        ...
"""

import contextlib
import json
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings


@dataclass
class AuditContext:
    """The acting principal. `request` is read lazily, so a user authenticated later in the
    request (an API token, a fresh login) is the one recorded."""

    user: Any = None
    principal: str = ""
    reason: str = ""
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    request: Any = None
    on_behalf_of: str = ""
    _roles_cache: dict[int, list[str]] = field(default_factory=dict, repr=False)

    def resolved_user(self) -> Any:
        user = self.user
        if user is None and self.request is not None:
            user = getattr(self.request, "user", None)
        if user is not None and not getattr(user, "is_authenticated", False):
            return None
        return user

    def prime_roles(self, user: Any, roles: list[str]) -> None:
        """The user's role names, read by the caller in this request (API token
        authentication reads them with the token), so the first write need not."""
        self._roles_cache[user.pk] = sorted(roles)

    def roles(self, user: Any) -> list[str]:
        if user.pk not in self._roles_cache:
            self._roles_cache[user.pk] = sorted(user.groups.values_list("name", flat=True))
        return self._roles_cache[user.pk]

    def as_dict(self) -> dict[str, Any] | None:
        user = self.resolved_user()
        if user is not None:
            return {
                "user_id": user.pk,
                "user_name": user.get_username(),
                "roles": self.roles(user),
                "reason": self.reason,
                "request_id": self.request_id,
                "app_version": settings.MES_APP_VERSION,
                "on_behalf_of": self.on_behalf_of,
            }
        if self.principal:
            return {
                "user_id": None,
                "user_name": self.principal,
                "roles": ["system"] if not self.principal.startswith("anonymous") else [],
                "reason": self.reason,
                "request_id": self.request_id,
                "app_version": settings.MES_APP_VERSION,
                "on_behalf_of": self.on_behalf_of,
            }
        return None

    def as_json(self) -> str | None:
        data = self.as_dict()
        return json.dumps(data, sort_keys=True, separators=(",", ":")) if data else None


_current: ContextVar[AuditContext | None] = ContextVar("mes_audit_context", default=None)


def current_context() -> AuditContext | None:
    return _current.get()


@contextlib.contextmanager
def audit_context(
    *,
    user: Any = None,
    principal: str = "",
    reason: str = "",
    request: Any = None,
    request_id: str | None = None,
    on_behalf_of: str = "",
) -> Iterator[AuditContext]:
    """Act as `user` (or a named system `principal`) for the writes inside the block."""
    ctx = AuditContext(
        user=user,
        principal=principal,
        reason=reason,
        request=request,
        on_behalf_of=on_behalf_of,
        request_id=request_id or uuid.uuid4().hex,
    )
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


@contextlib.contextmanager
def change_reason(reason: str) -> Iterator[None]:
    """Record `reason` for the writes inside the block (keeps the current actor)."""
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("change_reason() needs an audit context (a request, task or command)")
    previous = ctx.reason
    ctx.reason = reason
    try:
        yield
    finally:
        ctx.reason = previous


@contextlib.contextmanager
def acting_as(user: Any, *, reason: str = "") -> Iterator[None]:
    """Within the current context (keeping its request id), act as `user` with `reason`.
    Services call this with their `actor` so the trail names the actor even when a task
    or command opened the context."""
    ctx = _current.get()
    if ctx is None:
        with audit_context(user=user, reason=reason):
            yield
        return
    saved = (ctx.user, ctx.reason)
    ctx.user = user
    if reason:
        ctx.reason = reason
    try:
        yield
    finally:
        ctx.user, ctx.reason = saved


def system_context(name: str, *, reason: str = "") -> contextlib.AbstractContextManager:
    """A named system principal (`system:celery`, `system:migration`, `system:load_demo`)."""
    return audit_context(principal=f"system:{name}", reason=reason)
