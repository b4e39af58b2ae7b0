"""Read-only admin: recipes change only through recipes.services (the authoring pages and the
API), each change in the audit trail and each transition signed."""

from typing import Any

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from recipes.models import MasterRecipe, RecipeEvent, RecipeVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(MasterRecipe)
class MasterRecipeAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ["code", "name", "product", "created_at", "created_by"]
    search_fields = ["code", "name", "product__code"]
    list_select_related = ["product", "created_by"]


@admin.register(RecipeVersion)
class RecipeVersionAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ["recipe", "number", "status", "author", "approved_by", "approved_at"]
    list_filter = ["status"]
    search_fields = ["recipe__code"]
    list_select_related = ["recipe", "author", "approved_by"]


@admin.register(RecipeEvent)
class RecipeEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "type", "recipe", "version", "actor", "reason"]
    list_filter = ["type"]
    search_fields = ["recipe__code"]
    list_select_related = ["recipe", "version", "actor"]
