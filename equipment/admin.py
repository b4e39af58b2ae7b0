"""Master data of the plant model for administrators. Status, counters, calibration dates
and the records (calibrations, logbook, events, maintenance orders) are read-only here:
only the services change them."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from equipment.models import (
    Area,
    CalibrationRecord,
    Capability,
    CleaningRule,
    EquipmentClass,
    EquipmentEvent,
    Instrument,
    MaintenancePlan,
    MaintenanceWorkOrder,
    ProcessCell,
    Site,
    Unit,
    UnitLogEntry,
    WorkCenter,
)


class NotDeletableMixin:
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(NotDeletableMixin, admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Site)
class SiteAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "timezone"]
    search_fields = ["code", "name"]


@admin.register(Area)
class AreaAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "site", "kind"]
    list_filter = ["site", "kind"]
    search_fields = ["code", "name"]


@admin.register(EquipmentClass)
class EquipmentClassAdmin(SimpleHistoryAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]


@admin.register(Capability)
class CapabilityAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(ProcessCell)
class ProcessCellAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "area", "is_active"]
    list_filter = ["area", "is_active"]


@admin.register(WorkCenter)
class WorkCenterAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "area", "kind", "capacity_per_hour", "capacity_uom"]
    list_filter = ["area", "kind", "is_active"]


@admin.register(Unit)
class UnitAdmin(NotDeletableMixin, SimpleHistoryAdmin):
    list_display = [
        "code",
        "name",
        "area",
        "equipment_class",
        "working_volume_l",
        "status",
        "is_active",
    ]
    list_filter = ["area", "equipment_class", "status", "is_active"]
    search_fields = ["code", "name"]
    filter_horizontal = ["capabilities"]
    readonly_fields = [
        "status",
        "status_changed_at",
        "current_batch_ref",
        "current_product_code",
        "hours_run",
        "batch_count",
    ]


@admin.register(Instrument)
class InstrumentAdmin(NotDeletableMixin, SimpleHistoryAdmin):
    list_display = [
        "code",
        "name",
        "kind",
        "area",
        "unit",
        "calibration_interval_days",
        "next_calibration_due_at",
        "status",
    ]
    list_filter = ["kind", "area", "status", "is_active"]
    search_fields = ["code", "name", "serial_number"]
    readonly_fields = ["last_calibrated_at", "next_calibration_due_at", "status"]


@admin.register(CleaningRule)
class CleaningRuleAdmin(SimpleHistoryAdmin):
    list_display = [
        "__str__",
        "clean_hold_hours",
        "dirty_hold_hours",
        "major_clean_on_product_change",
        "is_active",
    ]
    list_filter = ["is_active", "equipment_class"]


@admin.register(MaintenancePlan)
class MaintenancePlanAdmin(NotDeletableMixin, SimpleHistoryAdmin):
    list_display = [
        "code",
        "name",
        "unit",
        "trigger",
        "interval_days",
        "interval_hours",
        "interval_batches",
        "last_completed_at",
        "is_active",
    ]
    list_filter = ["trigger", "is_active"]
    readonly_fields = [
        "last_completed_at",
        "hours_at_last_completion",
        "batches_at_last_completion",
    ]

    def save_model(
        self, request: HttpRequest, obj: MaintenancePlan, form: Any, change: bool
    ) -> None:
        if not change:
            # A new usage plan counts from the unit's counters of today.
            obj.hours_at_last_completion = obj.unit.hours_run
            obj.batches_at_last_completion = obj.unit.batch_count
        super().save_model(request, obj, form, change)


@admin.register(MaintenanceWorkOrder)
class MaintenanceWorkOrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "unit", "kind", "status", "title", "due_at", "completed_at"]
    list_filter = ["status", "kind"]
    search_fields = ["number", "title", "unit__code"]


@admin.register(CalibrationRecord)
class CalibrationRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "instrument",
        "performed_at",
        "performed_by",
        "as_found_result",
        "as_left_result",
        "certificate_ref",
        "next_due_at",
    ]
    list_filter = ["as_left_result"]
    search_fields = ["instrument__code", "certificate_ref"]


@admin.register(UnitLogEntry)
class UnitLogEntryAdmin(ReadOnlyAdmin):
    list_display = ["unit", "at", "type", "product_code", "batch_ref", "cleaning_type", "actor"]
    list_filter = ["type", "cleaning_type"]
    search_fields = ["unit__code", "batch_ref", "product_code"]


@admin.register(EquipmentEvent)
class EquipmentEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "type", "unit", "instrument", "from_status", "to_status", "actor"]
    list_filter = ["type"]
