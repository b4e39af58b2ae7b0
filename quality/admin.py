"""Quality records in the admin: read-only. Every change goes through the services (and
their signatures); the admin is for looking things up."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from quality.models import (
    CapaAction,
    Characteristic,
    Deviation,
    LabResult,
    LotDisposition,
    Nonconformance,
    QualityEvent,
    ReleaseOverride,
    Specification,
    SpecTest,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SpecTestInline(admin.TabularInline):
    model = SpecTest
    extra = 0
    can_delete = False
    fields = ["position", "name", "unit", "method", "kind", "low", "high"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Specification)
class SpecificationAdmin(ReadOnlyAdmin):
    list_display = ["material", "version", "title", "status", "sample_count", "approved_at"]
    list_filter = ["status", "sampling_basis"]
    search_fields = ["material__code", "title"]
    inlines = [SpecTestInline]


@admin.register(LabResult)
class LabResultAdmin(ReadOnlyAdmin):
    list_display = [
        "lot",
        "spec_test",
        "sample_no",
        "value_text",
        "outcome",
        "source",
        "entered_at",
    ]
    list_filter = ["outcome", "source"]
    search_fields = ["lot__lot_number", "external_ref"]


@admin.register(LotDisposition)
class LotDispositionAdmin(ReadOnlyAdmin):
    list_display = ["lot", "decision", "from_status", "decided_by", "decided_at"]
    list_filter = ["decision"]
    search_fields = ["lot__lot_number"]


@admin.register(ReleaseOverride)
class ReleaseOverrideAdmin(ReadOnlyAdmin):
    list_display = ["lot", "deviation", "requested_by", "signed_by", "signed_at"]


class CapaInline(admin.TabularInline):
    model = CapaAction
    extra = 0
    can_delete = False
    fields = ["kind", "description", "owner", "due_at", "status", "completed_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Deviation)
class DeviationAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "status", "classification", "source_kind", "source_ref", "due_at"]
    list_filter = ["status", "classification", "source_kind"]
    search_fields = ["title", "source_ref"]
    inlines = [CapaInline]


@admin.register(Nonconformance)
class NonconformanceAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "status", "disposition", "lot", "quantity", "opened_at"]
    list_filter = ["status", "disposition"]


@admin.register(Characteristic)
class CharacteristicAdmin(ReadOnlyAdmin):
    list_display = ["key", "name", "unit", "subgroup_size", "lsl", "usl", "is_active"]
    search_fields = ["key", "name"]


@admin.register(QualityEvent)
class QualityEventAdmin(ReadOnlyAdmin):
    list_display = ["type", "at", "actor", "lot", "deviation"]
    list_filter = ["type"]
