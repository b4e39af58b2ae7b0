"""People, API tokens and security events in the Django admin.

- Users are never deleted (no delete action or permission) and nobody sets another person's
  password here: there is no password form at all. "Issue temporary password" generates a
  one-time password, shows it once (never stored or sent) and forces a change at next login;
  a new user is created the same way.
- Deactivation/reactivation go through the services (reason required).
- Roles (groups) and permissions are edited normally; the database trigger audits them. Nobody
  changes their own roles or superuser status here (no self-escalation).
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join

from mes.accounts.models import ApiToken, RoleGrantRequest, SecurityEvent, User
from mes.accounts.services import (
    api_token_create,
    api_token_revoke,
    role_grant,
    role_grant_decide,
    roles_needing_second_approval,
    user_create,
    user_deactivate,
    user_issue_temporary_password,
    user_reactivate,
)
from mes.exceptions import DomainError

REASON_TEMPLATE = "accounts/admin/action_reason.html"
SECRETS_TEMPLATE = "accounts/admin/shown_once.html"


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


def _shown_once(
    request: HttpRequest, *, title: str, rows: list[tuple[str, str]], what: str, model: Any
) -> HttpResponse:
    """A page that shows secrets once; it is never cached and the secrets are stored nowhere."""
    opts = model._meta
    context = {
        **admin.site.each_context(request),
        "title": title,
        "rows": rows,
        "what": what,
        "back_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
    }
    response = TemplateResponse(request, SECRETS_TEMPLATE, context)
    response["Cache-Control"] = "no-store"
    return response


def _reason_step(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    action: str,
    title: str,
) -> tuple[str | None, HttpResponse | None]:
    """Intermediate page asking for a reason; returns (reason, None) once given."""
    if "apply" in request.POST:
        form = ReasonForm(request.POST)
        if form.is_valid():
            return form.cleaned_data["reason"], None
    else:
        form = ReasonForm()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "objects": list(queryset),
        "form": form,
        "action": action,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return None, TemplateResponse(request, REASON_TEMPLATE, context)


class UserAddForm(forms.ModelForm):
    """Username, printed name, e-mail, roles: no password (a temporary one is issued)."""

    class Meta:
        model = User
        fields = ["username", "full_name", "email", "groups", "is_staff"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["full_name"].required = True
        self.fields["groups"].label = "Roles"

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(
                "This username exists or existed: usernames are never reused."
            )
        return username


class UserChangeForm(forms.ModelForm):
    class Meta:
        model = User
        fields = [
            "full_name",
            "first_name",
            "last_name",
            "email",
            "is_staff",
            "is_superuser",
            "groups",
            "user_permissions",
        ]


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = UserChangeForm
    add_form = UserAddForm
    list_display = (
        "username",
        "full_name",
        "roles",
        "is_active",
        "deactivated_at",
        "must_change_password",
        "is_staff",
        "last_login",
    )
    list_filter = ("is_active", "must_change_password", "is_staff", "is_superuser", "groups")
    search_fields = ("username", "full_name", "email")
    ordering = ("username",)
    filter_horizontal = ("groups", "user_permissions")
    actions = ["issue_temporary_password", "deactivate_users", "reactivate_users"]
    readonly_always = (
        "username",
        "password_state",
        "is_active",
        "deactivated_at",
        "deactivation_reason",
        "must_change_password",
        "password_changed_at",
        "is_system",
        "last_login",
        "date_joined",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def roles(self, obj: User) -> str:
        return ", ".join(sorted(g.name for g in obj.groups.all())) or "—"

    @admin.display(description="Password")
    def password_state(self, obj: User) -> str:
        if not obj.has_usable_password():
            return "none (cannot log in until a temporary password is issued)"
        if obj.must_change_password:
            return "temporary: must be changed at next login"
        return "set by the user"

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):  # type: ignore[no-untyped-def]
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None):  # type: ignore[no-untyped-def]
        if obj is None:
            return [(None, {"fields": ["username", "full_name", "email", "groups", "is_staff"]})]
        return [
            (None, {"fields": ["username", "full_name", "first_name", "last_name", "email"]}),
            (
                "Access",
                {
                    "fields": [
                        "is_active",
                        "deactivated_at",
                        "deactivation_reason",
                        "password_state",
                        "must_change_password",
                        "password_changed_at",
                        "is_system",
                    ]
                },
            ),
            (
                "Roles and permissions",
                {"fields": ["is_staff", "is_superuser", "groups", "user_permissions"]},
            ),
            ("Dates", {"fields": ["last_login", "date_joined"]}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        fields = list(self.readonly_always)
        if not request.user.is_superuser:
            fields.append("is_superuser")
        if obj.pk == request.user.pk:
            fields += ["is_staff", "is_superuser", "groups", "user_permissions"]
        return fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and request.user.has_perm(
            "accounts.issue_temporary_password"
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        if not request.user.has_perm("accounts.issue_temporary_password"):
            actions.pop("issue_temporary_password", None)
        if not request.user.has_perm("accounts.deactivate_user"):
            actions.pop("deactivate_users", None)
            actions.pop("reactivate_users", None)
        return actions

    def save_related(
        self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool
    ) -> None:
        """A role that needs a second administrator becomes a pending request, not a grant."""
        if not change or "groups" not in form.cleaned_data:
            super().save_related(request, form, formsets, change)
            return
        held = set(form.instance.groups.all())
        wanted = set(form.cleaned_data["groups"])
        gated = roles_needing_second_approval()
        asked = sorted(g.name for g in wanted - held if g.name in gated)
        form.cleaned_data["groups"] = [g for g in wanted if g in held or g.name not in gated]
        super().save_related(request, form, formsets, change)
        if asked:
            role_grant(
                actor=request.user,
                user=form.instance,
                roles=asked,
                reason=f"requested by {request.user.get_username()} in user administration",
            )
            self._pending_message(request, form.instance, asked)

    def _pending_message(self, request: HttpRequest, user: User, roles: list[str]) -> None:
        self.message_user(
            request,
            f"{', '.join(roles)} for {user.username} waits for a second administrator's "
            "approval (Role grant requests).",
            messages.WARNING,
        )

    def save_model(
        self, request: HttpRequest, obj: User, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        user = user_create(
            actor=request.user,
            username=form.cleaned_data["username"],
            full_name=form.cleaned_data["full_name"],
            email=form.cleaned_data.get("email", ""),
            roles=[g.name for g in form.cleaned_data.get("groups", [])],
            is_staff=form.cleaned_data.get("is_staff", False),
        )
        request._mes_temporary_password = user_issue_temporary_password(  # type: ignore[attr-defined]
            actor=request.user, user=user
        )
        pending = sorted(
            r.role.name
            for r in user.role_grant_requests.filter(status=RoleGrantRequest.Status.PENDING)
        )
        if pending:
            self._pending_message(request, user, pending)
        obj.pk = user.pk
        obj.password = user.password
        obj._state.adding = False
        obj._state.db = user._state.db

    def response_add(
        self, request: HttpRequest, obj: User, post_url_continue: Any = None
    ) -> HttpResponse:
        password = getattr(request, "_mes_temporary_password", None)
        if password is None:
            return super().response_add(request, obj, post_url_continue)
        return _shown_once(
            request,
            title=f"User {obj.username} created",
            rows=[(obj.username, password)],
            what="temporary password",
            model=User,
        )

    @admin.action(description="Issue a temporary password (shown once)")
    def issue_temporary_password(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        rows = []
        for user in queryset.order_by("username"):
            try:
                rows.append(
                    (user.username, user_issue_temporary_password(actor=request.user, user=user))
                )
            except DomainError as exc:
                self.message_user(request, f"{user.username}: {exc.detail}", messages.ERROR)
        if not rows:
            return None
        return _shown_once(
            request, title="Temporary passwords", rows=rows, what="temporary password", model=User
        )

    @admin.action(description="Deactivate selected users (reason required)")
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        reason, page = _reason_step(
            self, request, queryset, action="deactivate_users", title="Deactivate users"
        )
        if page is not None:
            return page
        for user in queryset:
            try:
                user_deactivate(actor=request.user, user=user, reason=reason or "")
                self.message_user(request, f"{user.username} deactivated.", messages.SUCCESS)
            except DomainError as exc:
                self.message_user(request, f"{user.username}: {exc.detail}", messages.ERROR)
        return None

    @admin.action(description="Reactivate selected users (reason required)")
    def reactivate_users(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        reason, page = _reason_step(
            self, request, queryset, action="reactivate_users", title="Reactivate users"
        )
        if page is not None:
            return page
        for user in queryset:
            try:
                user_reactivate(actor=request.user, user=user, reason=reason or "")
                self.message_user(request, f"{user.username} reactivated.", messages.SUCCESS)
            except DomainError as exc:
                self.message_user(request, f"{user.username}: {exc.detail}", messages.ERROR)
        return None


class ApiTokenAddForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["name", "user"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "key_prefix",
        "is_active",
        "created_at",
        "created_by",
        "revoked_at",
        "revoked_by",
        "last_used_at",
    )
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "key_prefix")
    list_select_related = ("user", "created_by", "revoked_by")
    actions = ["revoke_tokens"]
    readonly_fields = (
        "name",
        "user",
        "key_prefix",
        "created_at",
        "created_by",
        "revoked_at",
        "revoked_by",
        "last_used_at",
    )

    @admin.display(boolean=True, description="Active")
    def is_active(self, obj: ApiToken) -> bool:
        return obj.is_active

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):  # type: ignore[no-untyped-def]
        if obj is None:
            kwargs["form"] = ApiTokenAddForm
            kwargs["fields"] = ["name", "user"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):  # type: ignore[no-untyped-def]
        return () if obj is None else self.readonly_fields

    def get_fields(self, request: HttpRequest, obj: Any = None):  # type: ignore[no-untyped-def]
        return ["name", "user"] if obj is None else list(self.readonly_fields)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        if not request.user.has_perm("accounts.revoke_apitoken"):
            actions.pop("revoke_tokens", None)
        return actions

    def save_model(
        self, request: HttpRequest, obj: ApiToken, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            return  # every field is read-only; nothing to save
        token, raw_key = api_token_create(
            actor=request.user, user=form.cleaned_data["user"], name=form.cleaned_data["name"]
        )
        request._mes_raw_key = raw_key  # type: ignore[attr-defined]
        obj.pk = token.pk
        obj._state.adding = False
        obj._state.db = token._state.db

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return

    def response_add(
        self, request: HttpRequest, obj: ApiToken, post_url_continue: Any = None
    ) -> HttpResponse:
        raw_key = getattr(request, "_mes_raw_key", None)
        if raw_key is None:
            return super().response_add(request, obj, post_url_continue)
        return _shown_once(
            request,
            title=f"API token {obj.name} created for {obj.user.username}",
            rows=[(obj.name, raw_key)],
            what="API key (send it as 'Authorization: Token <key>')",
            model=ApiToken,
        )

    @admin.action(description="Revoke selected tokens (reason required)")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        reason, page = _reason_step(
            self, request, queryset, action="revoke_tokens", title="Revoke API tokens"
        )
        if page is not None:
            return page
        for token in queryset:
            try:
                api_token_revoke(actor=request.user, token=token, reason=reason or "")
                self.message_user(request, f"{token} revoked.", messages.SUCCESS)
            except DomainError as exc:
                self.message_user(request, f"{token}: {exc.detail}", messages.ERROR)
        return None


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ("at", "type", "username", "ip_address", "summary")
    list_filter = ("type",)
    search_fields = ("username", "ip_address")
    date_hierarchy = "at"
    readonly_fields = ("at", "type", "username", "user", "ip_address", "data")

    @admin.display(description="Details")
    def summary(self, obj: SecurityEvent) -> str:
        return format_html_join(", ", "{}={}", sorted((obj.data or {}).items())) or "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RoleGrantRequest)
class RoleGrantRequestAdmin(admin.ModelAdmin):
    """Pending grants of sensitive roles; a second administrator approves or rejects them."""

    list_display = (
        "user",
        "role",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "role")
    readonly_fields = [f.name for f in RoleGrantRequest._meta.fields]
    actions = ["approve_requests", "reject_requests"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _decide(
        self, request: HttpRequest, queryset: QuerySet, *, approve: bool
    ) -> HttpResponse | None:
        verb = "approve" if approve else "reject"
        reason, page = _reason_step(
            self, request, queryset, action=f"{verb}_requests", title=f"{verb.title()} role grants"
        )
        if page is not None:
            return page
        for grant in queryset:
            try:
                role_grant_decide(
                    actor=request.user, request=grant, approve=approve, reason=reason or ""
                )
                self.message_user(
                    request, f"{grant.role} for {grant.user}: {verb}d.", messages.SUCCESS
                )
            except DomainError as exc:
                self.message_user(
                    request, f"{grant.role} for {grant.user}: {exc.detail}", messages.ERROR
                )
        return None

    @admin.action(
        description="Approve selected role grants (reason required)", permissions=["approve"]
    )
    def approve_requests(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._decide(request, queryset, approve=True)

    @admin.action(
        description="Reject selected role grants (reason required)", permissions=["approve"]
    )
    def reject_requests(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._decide(request, queryset, approve=False)

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.approve_rolegrantrequest")
