"""Batch records in the admin: read-only (every change goes through batches.services)."""

from typing import Any

from django.contrib import admin

from batches.models import (
    BatchEvent,
    BatchOrder,
    MaterialUse,
    ParameterValue,
    PhaseExecution,
    YieldRecord,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(BatchOrder)
class BatchOrderAdmin(ReadOnlyAdmin):
    list_display = ("number", "product", "batch_size", "batch_size_uom", "status", "unit")
    list_filter = ("status",)
    search_fields = ("number",)


@admin.register(PhaseExecution)
class PhaseExecutionAdmin(ReadOnlyAdmin):
    list_display = ("batch", "sequence", "path", "name", "status", "completed_by", "verified_by")
    list_filter = ("status",)


@admin.register(ParameterValue)
class ParameterValueAdmin(ReadOnlyAdmin):
    list_display = ("phase", "name", "value_text", "is_out_of_limit", "entered_by", "entered_at")


@admin.register(MaterialUse)
class MaterialUseAdmin(ReadOnlyAdmin):
    list_display = ("phase", "material", "lot", "quantity", "uom", "dispensed_at")


@admin.register(YieldRecord)
class YieldRecordAdmin(ReadOnlyAdmin):
    list_display = ("batch", "material", "lot", "quantity", "yield_pct", "is_within_range")


@admin.register(BatchEvent)
class BatchEventAdmin(ReadOnlyAdmin):
    list_display = ("batch", "type", "phase", "actor", "at")
    list_filter = ("type",)
