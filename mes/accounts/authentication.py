"""Per-integration API tokens: `Authorization: Token <key>`; revocable; only a hash is stored.

A revoked token, or a token of a deactivated user, is refused on the very next request
(21 CFR 11.300(c)): the token row is read on every request, nothing is cached."""

from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions

from mes.accounts.models import ApiToken
from mes.audit.context import acting_as

# `last_used_at` is written at most this often (each write is an audit event).
LAST_USED_RESOLUTION = timedelta(hours=1)


class ApiTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiToken]:
        token = (
            ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(key)).first()
        )
        if token is None or not token.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            token.last_used_at = now
            with acting_as(token.user, reason="API token used"):
                token.save(update_fields=["last_used_at"])
        return token.user, token
