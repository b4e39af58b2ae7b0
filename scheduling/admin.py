"""Master data of scheduling for planners and administrators (changeover matrices and rules,
shift calendars and windows, demand priorities); schedules and their events read-only
(every change goes through scheduling.services). Master data is never deleted here: a matrix
is deactivated, a rule or window corrected (the audit trail keeps the old values)."""

from typing import Any

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from scheduling.models import (
    ChangeoverMatrix,
    ChangeoverRule,
    DemandPriority,
    Schedule,
    ScheduleEntry,
    ScheduleEvent,
    ShiftCalendar,
    ShiftWindow,
)


class NoDeleteAdmin(SimpleHistoryAdmin):
    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class ChangeoverRuleInline(admin.TabularInline):
    model = ChangeoverRule
    extra = 1
    can_delete = False


@admin.register(ChangeoverMatrix)
class ChangeoverMatrixAdmin(NoDeleteAdmin):
    list_display = (
        "name",
        "site",
        "process_cell",
        "minor_clean_minutes",
        "major_clean_minutes",
        "max_campaign_batches",
        "max_campaign_hours",
        "is_active",
    )
    list_filter = ("is_active", "site")
    inlines = [ChangeoverRuleInline]


@admin.register(ChangeoverRule)
class ChangeoverRuleAdmin(NoDeleteAdmin):
    list_display = ("matrix", "from_product", "to_product", "kind", "clean_minutes", "is_forbidden")
    list_filter = ("matrix", "kind", "is_forbidden")
    search_fields = ("from_product", "to_product")


class ShiftWindowInline(admin.TabularInline):
    model = ShiftWindow
    extra = 1
    can_delete = False


@admin.register(ShiftCalendar)
class ShiftCalendarAdmin(NoDeleteAdmin):
    list_display = ("name", "work_center", "unit")
    inlines = [ShiftWindowInline]


@admin.register(DemandPriority)
class DemandPriorityAdmin(NoDeleteAdmin):
    list_display = ("__str__", "batch", "work_order", "due_at", "priority", "duration_minutes")
    raw_id_fields = ("batch", "work_order")


@admin.register(Schedule)
class ScheduleAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "site",
        "status",
        "solver_status",
        "makespan_minutes",
        "tardiness_minutes",
        "changeover_minutes",
        "published_at",
        "published_by",
    )
    list_filter = ("status", "solver_status")
    exclude = ("problem",)


@admin.register(ScheduleEntry)
class ScheduleEntryAdmin(ReadOnlyAdmin):
    list_display = ("schedule", "kind", "label", "work_center", "unit", "start", "end", "is_locked")
    list_filter = ("kind",)


@admin.register(ScheduleEvent)
class ScheduleEventAdmin(ReadOnlyAdmin):
    list_display = ("schedule", "type", "actor", "at")
    list_filter = ("type",)
