"""Serializers of the equipment API: output for reads, `<Entity><Verb>InputSerializer` for
commands (input only; the service decides)."""

from rest_framework import serializers

from equipment.choices import CleaningType, EquipmentStatus, InstrumentStatus
from equipment.models import (
    Area,
    CalibrationRecord,
    CleaningRule,
    EquipmentClass,
    Instrument,
    MaintenancePlan,
    MaintenanceWorkOrder,
    ProcessCell,
    Site,
    Unit,
    UnitLogEntry,
    WorkCenter,
)


class SiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["id", "code", "name", "timezone"]


class AreaSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Area
        fields = ["id", "site", "code", "name", "kind"]


class EquipmentClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = EquipmentClass
        fields = ["id", "name", "description"]


class ProcessCellSerializer(serializers.ModelSerializer):
    area = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = ProcessCell
        fields = ["id", "area", "code", "name", "is_active"]


class WorkCenterSerializer(serializers.ModelSerializer):
    area = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = WorkCenter
        fields = ["id", "area", "code", "name", "kind", "capacity_per_hour", "capacity_uom"]


class UnitSerializer(serializers.ModelSerializer):
    area = serializers.SlugRelatedField(slug_field="code", read_only=True)
    equipment_class = serializers.SlugRelatedField(slug_field="name", read_only=True)
    process_cell = serializers.SlugRelatedField(slug_field="code", read_only=True)
    work_center = serializers.SlugRelatedField(slug_field="code", read_only=True)
    capabilities = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)

    class Meta:
        model = Unit
        fields = [
            "id",
            "code",
            "name",
            "area",
            "process_cell",
            "work_center",
            "equipment_class",
            "working_volume_l",
            "capabilities",
            "status",
            "status_changed_at",
            "current_batch_ref",
            "current_product_code",
            "hours_run",
            "batch_count",
            "is_active",
        ]
        read_only_fields = fields


class InstrumentSerializer(serializers.ModelSerializer):
    area = serializers.SlugRelatedField(slug_field="code", read_only=True)
    unit = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Instrument
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "area",
            "unit",
            "uom",
            "tolerance",
            "calibration_interval_days",
            "last_calibrated_at",
            "next_calibration_due_at",
            "status",
            "is_active",
        ]
        read_only_fields = fields


class CalibrationRecordSerializer(serializers.ModelSerializer):
    instrument = serializers.SlugRelatedField(slug_field="code", read_only=True)
    performed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CalibrationRecord
        fields = [
            "id",
            "instrument",
            "performed_at",
            "performed_by",
            "reference_value",
            "as_found_value",
            "as_left_value",
            "as_found_result",
            "as_left_result",
            "certificate_ref",
            "next_due_at",
            "note",
        ]
        read_only_fields = fields


class UnitLogEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = UnitLogEntry
        fields = [
            "id",
            "type",
            "at",
            "actor",
            "product_code",
            "batch_ref",
            "batch_url",
            "cleaning_type",
            "verifies",
            "note",
        ]
        read_only_fields = fields


class CleaningRuleSerializer(serializers.ModelSerializer):
    unit = serializers.SlugRelatedField(slug_field="code", read_only=True)
    equipment_class = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = CleaningRule
        fields = [
            "id",
            "unit",
            "equipment_class",
            "product_code",
            "clean_hold_hours",
            "dirty_hold_hours",
            "major_clean_on_product_change",
            "is_active",
        ]


class MaintenancePlanSerializer(serializers.ModelSerializer):
    unit = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = MaintenancePlan
        fields = [
            "id",
            "code",
            "name",
            "unit",
            "trigger",
            "interval_days",
            "interval_hours",
            "interval_batches",
            "lead_days",
            "last_completed_at",
            "is_active",
        ]


class MaintenanceWorkOrderSerializer(serializers.ModelSerializer):
    unit = serializers.SlugRelatedField(slug_field="code", read_only=True)
    plan = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = MaintenanceWorkOrder
        fields = [
            "id",
            "number",
            "unit",
            "plan",
            "kind",
            "status",
            "title",
            "description",
            "due_at",
            "created_at",
            "started_at",
            "completed_at",
            "completion_note",
        ]
        read_only_fields = fields


class UsabilitySerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.DictField())
    cleaning_state = serializers.CharField(required=False)


# --- command inputs --------------------------------------------------------------------------


class UnitUsabilityQuerySerializer(serializers.Serializer):
    product_code = serializers.CharField(required=False, allow_blank=True)
    equipment_class = serializers.CharField(required=False)
    min_volume_l = serializers.DecimalField(max_digits=12, decimal_places=2, required=False)
    capabilities = serializers.CharField(required=False, help_text="comma-separated")


class UnitRecordCleaningInputSerializer(serializers.Serializer):
    cleaning_type = serializers.ChoiceField(choices=CleaningType.choices)
    at = serializers.DateTimeField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class UnitVerifyCleaningInputSerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class UnitChangeStatusInputSerializer(serializers.Serializer):
    to_status = serializers.ChoiceField(choices=EquipmentStatus.choices)
    reason = serializers.CharField()


class UnitRecordUsageInputSerializer(serializers.Serializer):
    hours = serializers.DecimalField(max_digits=12, decimal_places=2, default=0, min_value=0)
    batches = serializers.IntegerField(default=0, min_value=0)
    ref = serializers.CharField(required=False, allow_blank=True, default="")


class InstrumentRecordCalibrationInputSerializer(serializers.Serializer):
    performed_at = serializers.DateTimeField(required=False)
    reference_value = serializers.DecimalField(max_digits=14, decimal_places=4, required=False)
    as_found_value = serializers.DecimalField(max_digits=14, decimal_places=4, required=False)
    as_left_value = serializers.DecimalField(max_digits=14, decimal_places=4, required=False)
    as_found_passed = serializers.BooleanField(required=False, allow_null=True, default=None)
    as_left_passed = serializers.BooleanField(required=False, allow_null=True, default=None)
    certificate_ref = serializers.CharField(required=False, allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class InstrumentChangeStatusInputSerializer(serializers.Serializer):
    to_status = serializers.ChoiceField(choices=InstrumentStatus.choices)
    reason = serializers.CharField()


class MaintenanceWorkOrderCompleteInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")
    username = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="to e-sign (optional)"
    )
    password = serializers.CharField(
        required=False, allow_blank=True, default="", style={"input_type": "password"}
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class MaintenanceWorkOrderCancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField()
