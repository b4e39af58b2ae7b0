"""Admin of the ERP connectors: connections are master data (credentials only by reference);
links, receipts, messages and findings are read-only records."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from erp_connectors.models import (
    DeadLetterRetry,
    ErpConnection,
    ErpOrderLink,
    InboundReceipt,
    OutboxMessage,
    ReconciliationFinding,
)


@admin.register(ErpConnection)
class ErpConnectionAdmin(SimpleHistoryAdmin):
    list_display = [
        "code",
        "kind",
        "site",
        "base_url",
        "is_active",
        "pull_enabled",
        "last_pulled_at",
    ]
    list_filter = ["kind", "is_active"]
    readonly_fields = ["last_pulled_at", "created_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ErpOrderLink)
class ErpOrderLinkAdmin(ReadOnlyAdmin):
    list_display = ["connection", "erp_order_id", "version", "kind", "batch", "work_order"]
    search_fields = ["erp_order_id"]


@admin.register(InboundReceipt)
class InboundReceiptAdmin(ReadOnlyAdmin):
    list_display = ["connection", "erp_order_id", "version", "outcome", "channel", "received_at"]
    list_filter = ["outcome", "channel"]
    search_fields = ["erp_order_id"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "connection", "kind", "erp_order_id", "status", "attempts", "created_at"]
    list_filter = ["status", "kind"]
    search_fields = ["erp_order_id", "idempotency_key"]


@admin.register(DeadLetterRetry)
class DeadLetterRetryAdmin(ReadOnlyAdmin):
    list_display = ["message", "actor", "reason", "at"]


@admin.register(ReconciliationFinding)
class ReconciliationFindingAdmin(ReadOnlyAdmin):
    list_display = ["connection", "erp_order_id", "field", "mes_value", "erp_value", "status"]
    list_filter = ["status", "field"]
