"""Every change to people and their rights. Users are deactivated, never deleted."""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction

from mes.accounts.models import User
from mes.audit.context import acting_as
from mes.exceptions import Conflict, InvalidInput


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
    """Create a person. A username is unique case-insensitively and never reused."""
    if not username or not full_name:
        raise InvalidInput("A user needs a username and a printed full name.")
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"Username {username!r} exists or existed: usernames are never reused.")
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
        groups = list(Group.objects.filter(name__in=list(roles)))
        missing = set(roles) - {g.name for g in groups}
        if missing:
            raise InvalidInput(f"Unknown role(s): {', '.join(sorted(missing))}")
        user.groups.set(groups)
    return user
