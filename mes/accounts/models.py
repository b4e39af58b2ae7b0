"""Users are deactivated, never deleted; a username is never reused (case-insensitive)."""

import hashlib

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower, Now

from mes.audit.registry import audited
from mes.exceptions import Conflict


class UserQuerySet(models.QuerySet):
    def delete(self):  # type: ignore[no-untyped-def]
        raise Conflict(
            "Users are deactivated, never deleted (21 CFR 11.100(a)).", code="user_not_deletable"
        )


class MesUserManager(UserManager):
    """Django's user manager whose querysets refuse `.delete()`."""

    def get_queryset(self) -> UserQuerySet:
        return UserQuerySet(self.model, using=self._db)


@audited(deletable=False)
class User(AbstractUser):
    full_name = models.CharField(
        max_length=200,
        blank=True,
        help_text="Printed name shown in every signature manifestation (snapshot at signing).",
    )
    must_change_password = models.BooleanField(
        default=False, help_text="Set when an administrator issues a temporary password."
    )
    password_changed_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivation_reason = models.TextField(blank=True, default="")
    is_system = models.BooleanField(
        default=False, help_text="A named system principal (Celery, ERP import); cannot log in."
    )

    objects = MesUserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
        ]
        permissions = [
            ("deactivate_user", "Can deactivate a user"),
            ("issue_temporary_password", "Can issue a temporary password"),
        ]

    def __str__(self) -> str:
        return self.username

    def password_age_start(self):  # type: ignore[no-untyped-def]
        """When the current password was set (the account's creation if never changed)."""
        return self.password_changed_at or self.date_joined

    @property
    def password_expired(self) -> bool:
        """True when the password is older than MES_PASSWORD_MAX_AGE_DAYS (0: never expires)."""
        from datetime import timedelta

        from django.conf import settings
        from django.utils import timezone

        days = getattr(settings, "MES_PASSWORD_MAX_AGE_DAYS", 0)
        if not days or self.is_system or not self.has_usable_password():
            return False
        return timezone.now() - self.password_age_start() > timedelta(days=days)

    @property
    def printed_name(self) -> str:
        return self.full_name or self.get_full_name() or self.username

    @property
    def role_names(self) -> set[str]:
        return set(self.groups.values_list("name", flat=True))

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise Conflict(
            "Users are deactivated, never deleted (21 CFR 11.100(a)).", code="user_not_deletable"
        )


@audited()
class ApiToken(models.Model):
    """A revocable token for one integration (an ERP). Only its SHA-256 is stored."""

    name = models.CharField(max_length=100)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    key_prefix = models.CharField(max_length=8, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(db_default=Now())
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [("revoke_apitoken", "Can revoke an API token")]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


@audited(append_only=True)
class SecurityEvent(models.Model):
    """Logins, failures, lockouts, signing failures, password and token changes."""

    class Type(models.TextChoices):
        LOGIN_SUCCEEDED = "login.succeeded"
        LOGIN_FAILED = "login.failed"
        LOGGED_OUT = "login.logged_out"
        LOCKED_OUT = "login.locked_out"
        SESSION_EXPIRED = "session.expired"
        SIGNATURE_FAILED = "signature.failed"
        PASSWORD_CHANGED = "password.changed"
        TEMPORARY_PASSWORD_ISSUED = "password.temporary_issued"
        USER_DEACTIVATED = "user.deactivated"
        USER_REACTIVATED = "user.reactivated"
        TOKEN_CREATED = "token.created"
        TOKEN_REVOKED = "token.revoked"
        ALERT_SENT = "alert.sent"
        ACCESS_REVIEWED = "access.reviewed"

    type = models.CharField(max_length=40, choices=Type.choices, db_index=True)
    at = models.DateTimeField(db_default=Now(), db_index=True)
    username = models.CharField(max_length=150, blank=True, default="")
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.type} {self.username}"


@audited(append_only=True)
class PasswordHistory(models.Model):
    """A password a user had (its hash only), so that the last N cannot be reused."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="password_history")
    password = models.CharField(max_length=256)
    set_at = models.DateTimeField(null=True, blank=True)
    replaced_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-replaced_at", "-id"]
        indexes = [models.Index(fields=["user", "-replaced_at"])]

    def __str__(self) -> str:
        return f"{self.user} password replaced {self.replaced_at:%Y-%m-%d}"


@audited(deletable=False)
class RoleGrantRequest(models.Model):
    """A role that needs a second administrator's approval before it is granted
    (21 CFR 11.200(a)(3): misuse must require the collaboration of two people). Which roles
    need it is the setting MES_ROLES_NEEDING_SECOND_APPROVAL."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="role_grant_requests")
    role = models.ForeignKey("auth.Group", on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(db_default=Now())
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role"],
                condition=models.Q(status="pending"),
                name="accounts_one_pending_grant_per_role",
            )
        ]
        permissions = [("approve_rolegrantrequest", "Can approve or reject a role grant")]

    def __str__(self) -> str:
        return f"{self.role} for {self.user} ({self.status})"
