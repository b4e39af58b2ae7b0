"""Signature policies (who may sign what) are master data for administrators; signatures
themselves are read-only here."""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest

from mes.esign.models import Meaning, Signature, SignaturePolicy
from mes.esign.selectors import signatures_with_validity
from mes.esign.services import signature_policy_set


class SignaturePolicyForm(forms.ModelForm):
    distinct_from = forms.MultipleChoiceField(
        choices=Meaning.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Meanings on the same record that must have been signed by someone else.",
    )

    class Meta:
        model = SignaturePolicy
        fields = [
            "content_type",
            "meaning",
            "allowed_roles",
            "author_may_sign",
            "distinct_from",
            "is_active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["content_type"].queryset = ContentType.objects.order_by("app_label", "model")
        self.fields["allowed_roles"].label = "Roles allowed to sign"


@admin.register(SignaturePolicy)
class SignaturePolicyAdmin(admin.ModelAdmin):
    form = SignaturePolicyForm
    list_display = ("content_type", "meaning", "roles", "author_may_sign", "distinct", "is_active")
    list_filter = ("meaning", "is_active", "content_type__app_label")
    filter_horizontal = ("allowed_roles",)

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        return (
            super()
            .get_queryset(request)
            .select_related("content_type")
            .prefetch_related("allowed_roles")
        )

    @admin.display(description="Roles")
    def roles(self, obj: SignaturePolicy) -> str:
        return ", ".join(sorted(g.name for g in obj.allowed_roles.all()))

    @admin.display(description="Distinct from")
    def distinct(self, obj: SignaturePolicy) -> str:
        return ", ".join(obj.distinct_from) or "—"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):  # type: ignore[no-untyped-def]
        return ("content_type", "meaning") if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate a policy instead (is_active)

    def save_model(
        self, request: HttpRequest, obj: SignaturePolicy, form: Any, change: bool
    ) -> None:
        data = form.cleaned_data
        policy = signature_policy_set(
            actor=request.user,
            model=(obj.content_type if change else data["content_type"]).model_class(),
            meaning=obj.meaning if change else data["meaning"],
            roles=[g.name for g in data["allowed_roles"]],
            author_may_sign=data["author_may_sign"],
            distinct_from=data.get("distinct_from") or [],
            is_active=data["is_active"],
        )
        obj.pk = policy.pk
        obj._state.adding = False
        obj._state.db = policy._state.db

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return  # the service set the roles


@admin.register(Signature)
class SignatureAdmin(admin.ModelAdmin):
    list_display = ("signed_at", "printed_name", "username", "meaning", "record", "valid")
    list_filter = ("meaning", "content_type")
    search_fields = ("username", "printed_name", "object_id")
    date_hierarchy = "signed_at"
    list_select_related = ("content_type",)
    readonly_fields = (
        "content_type",
        "object_id",
        "signer",
        "printed_name",
        "username",
        "meaning",
        "reason",
        "signed_at",
        "record_hash",
        "hash_alg",
    )

    @admin.display(description="Record")
    def record(self, obj: Signature) -> str:
        return f"{obj.content_type.app_label}.{obj.content_type.model} #{obj.object_id}"

    @admin.display(boolean=True, description="Valid")
    def valid(self, obj: Signature) -> bool:
        return signatures_with_validity([obj])[0].is_valid

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
