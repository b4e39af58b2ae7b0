"""Serializers of the ERP-connector API."""

from rest_framework import serializers

from erp_connectors.models import (
    ErpOrderLink,
    OutboxAttempt,
    OutboxMessage,
    ReconciliationFinding,
)


class OrderPushInputSerializer(serializers.Serializer):
    """One ERP order version, pushed by the ERP (the canonical InboundOrder)."""

    connection = serializers.CharField(max_length=40, help_text="Code of the ERP connection.")
    erp_order_id = serializers.CharField(max_length=80)
    version = serializers.CharField(max_length=40)
    kind = serializers.ChoiceField(choices=["process", "discrete"])
    material_code = serializers.CharField(max_length=40)
    quantity = serializers.DecimalField(max_digits=18, decimal_places=6)
    uom = serializers.CharField(max_length=16)
    due = serializers.DateField(required=False, allow_null=True)
    start = serializers.DateField(required=False, allow_null=True)
    plant = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    recipe_code = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    work_center = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    expected_yield_pct = serializers.DecimalField(
        max_digits=7, decimal_places=3, required=False, allow_null=True, default=None
    )
    priority = serializers.IntegerField(required=False, default=0)
    status = serializers.ChoiceField(
        choices=["planned", "released", "cancelled"], required=False, default="released"
    )


class ReceiveResultSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    erp_order_id = serializers.CharField()
    version = serializers.CharField()
    mes_number = serializers.CharField()
    reason = serializers.CharField()
    original = serializers.CharField()


class OutboxAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = OutboxAttempt
        fields = ["number", "outcome", "http_status", "detail", "at"]


class OutboxMessageSerializer(serializers.ModelSerializer):
    connection = serializers.CharField(source="connection.code")
    log = OutboxAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = OutboxMessage
        fields = [
            "id",
            "connection",
            "kind",
            "order_kind",
            "erp_order_id",
            "payload",
            "idempotency_key",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "external_ref",
            "created_at",
            "delivered_at",
            "log",
        ]
        read_only_fields = fields


class RetryInputSerializer(serializers.Serializer):
    reason = serializers.CharField(min_length=3, max_length=1000)


class OrderLinkSerializer(serializers.ModelSerializer):
    connection = serializers.CharField(source="connection.code")
    mes_number = serializers.CharField(read_only=True)

    class Meta:
        model = ErpOrderLink
        fields = [
            "id",
            "connection",
            "erp_order_id",
            "version",
            "kind",
            "material_code",
            "quantity",
            "uom",
            "due",
            "erp_status",
            "mes_number",
            "batch",
            "work_order",
        ]
        read_only_fields = fields


class FindingSerializer(serializers.ModelSerializer):
    connection = serializers.CharField(source="connection.code")

    class Meta:
        model = ReconciliationFinding
        fields = [
            "id",
            "connection",
            "erp_order_id",
            "field",
            "mes_value",
            "erp_value",
            "status",
            "detected_at",
            "resolved_at",
        ]
        read_only_fields = fields


class ReconcileInputSerializer(serializers.Serializer):
    connection = serializers.CharField(max_length=40, required=False, allow_blank=True)
