"""Read-only admin: genealogy changes only through its services (and their audit trail)."""

from typing import Any

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from genealogy.models import Link, Lot, LotEvent, Material, RecallJob


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Material)
class MaterialAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = [
        "code",
        "name",
        "kind",
        "uom",
        "is_lot_controlled",
        "is_serialized",
        "is_active",
    ]
    list_filter = ["kind", "is_serialized", "is_active"]
    search_fields = ["code", "name"]


@admin.register(Lot)
class LotAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = [
        "lot_number",
        "material",
        "kind",
        "status",
        "quantity",
        "uom",
        "supplier_lot_number",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["=lot_number", "=supplier_lot_number"]
    list_select_related = ["material"]
    show_full_result_count = False
    raw_id_fields = ["material", "parent_lot"]


@admin.register(LotEvent)
class LotEventAdmin(ReadOnlyAdmin):
    list_display = [
        "occurred_at",
        "type",
        "lot",
        "quantity_delta",
        "quantity_after",
        "uom",
        "actor",
    ]
    list_filter = ["type"]
    list_select_related = ["lot", "actor"]
    show_full_result_count = False
    raw_id_fields = ["lot", "actor", "approved_by"]


@admin.register(Link)
class LinkAdmin(ReadOnlyAdmin):
    list_display = ["parent", "kind", "quantity", "uom", "child", "context_ref"]
    list_filter = ["kind"]
    list_select_related = ["parent", "child"]
    show_full_result_count = False
    raw_id_fields = ["parent", "child", "event"]


@admin.register(RecallJob)
class RecallJobAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "requested_by",
        "lot",
        "supplier_lot_number",
        "status",
        "progress",
        "created_at",
    ]
    raw_id_fields = ["lot", "requested_by"]
