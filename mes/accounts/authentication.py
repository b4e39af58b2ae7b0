"""Per-integration API tokens: `Authorization: Token <key>`; revocable; only a hash is stored.

A revoked token, or a token of a deactivated user, is refused on the very next request
(21 CFR 11.300(c)): the token row is read on every request, nothing is cached across requests.

On PostgreSQL that read is ONE statement: the token, its user, the user's permissions (direct
and through roles) and role names, as array subqueries. The permissions fill the caches
Django's ModelBackend would otherwise fill with two more queries at the first `has_perm()`, and
the role names fill the request's audit context (one more query at the first audited write).
The statement is compiled from the ORM once per process (compiling it cost more than running
it) and run with the key hash as its parameter.
Everything is read fresh per request, so a revoked token, a deactivated user or a withdrawn
role takes effect on the very next request, exactly as before. Other databases (the SQLite
demo) read the token and user, and the rest lazily as before.
"""

import functools
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import OuterRef, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone
from rest_framework import authentication, exceptions

from mes.accounts.models import ApiToken, User
from mes.audit.context import acting_as, current_context
from mes.prepared import attnames, from_row, prepared

# `last_used_at` is written at most this often (each write is an audit event).
LAST_USED_RESOLUTION = timedelta(hours=1)


def _perm_names(qs: QuerySet[Permission]) -> QuerySet[Permission]:
    return (
        qs.order_by()
        .annotate(perm_name=Concat("content_type__app_label", Value("."), "codename"))
        .values("perm_name")
    )


_TOKEN_FIELDS = attnames(ApiToken)
_USER_FIELDS = attnames(User)
_ARRAYS = ["user_perm_names", "group_perm_names", "role_names"]
_SENTINEL = "mes-api-token-key-hash-placeholder"


def _token_values(key_hash: str) -> QuerySet[ApiToken]:
    """The token, its user, and the user's permissions and role names, as one row."""
    from django.contrib.postgres.expressions import ArraySubquery

    user = OuterRef("user_id")
    return (
        ApiToken.objects.filter(key_hash=key_hash)
        .annotate(
            user_perm_names=ArraySubquery(_perm_names(Permission.objects.filter(user=user))),
            group_perm_names=ArraySubquery(
                _perm_names(Permission.objects.filter(group__user=user))
            ),
            role_names=ArraySubquery(
                Group.objects.filter(user=user).order_by("name").values("name")
            ),
        )
        .values_list(*_TOKEN_FIELDS, *[f"user__{name}" for name in _USER_FIELDS], *_ARRAYS)
    )


@functools.cache
def _compiled_token_sql() -> tuple[str, tuple[Any, ...], int]:
    """The statement, compiled once per process (compiling the ORM query cost more than
    running it); the key hash is its one varying parameter."""
    sql, params = _token_values(_SENTINEL).query.sql_with_params()
    positions = [i for i, p in enumerate(params) if p == _SENTINEL]
    if len(positions) != 1:
        raise ImproperlyConfigured("the API token statement must take the key hash once")
    return sql, tuple(params), positions[0]


def _token_lookup(key_hash: str) -> ApiToken | None:
    """The token with its user; on PostgreSQL with the user's permissions and role names
    (`user_perm_names`, `group_perm_names`, `role_names`) from the same statement."""
    if connection.vendor != "postgresql":
        return ApiToken.objects.select_related("user").filter(key_hash=key_hash).first()
    sql, params, at = _compiled_token_sql()
    values = list(params)
    values[at] = key_hash
    with prepared("mes_api_token"), connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return None
    nt, nu = len(_TOKEN_FIELDS), len(_USER_FIELDS)
    token = from_row(ApiToken, row[:nt])
    token.user = from_row(User, row[nt : nt + nu])
    token.user_perm_names, token.group_perm_names, token.role_names = row[nt + nu :]
    return token


def _prime_caches(token: ApiToken) -> None:
    """Hand what the one statement read to ModelBackend's per-user caches and to the audit
    context (a superuser's permissions stay with ModelBackend: it grants all of them)."""
    user = token.user
    if not hasattr(token, "role_names"):
        return
    if not user.is_superuser:
        user._user_perm_cache = set(token.user_perm_names)  # type: ignore[attr-defined]
        user._group_perm_cache = set(token.group_perm_names)  # type: ignore[attr-defined]
    ctx = current_context()
    if ctx is not None:
        ctx.prime_roles(user, list(token.role_names))


class ApiTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiToken]:
        token = _token_lookup(ApiToken.hash_key(key))
        if token is None or not token.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive.")
        _prime_caches(token)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            token.last_used_at = now
            with acting_as(token.user, reason="API token used"):
                token.save(update_fields=["last_used_at"])
        return token.user, token
