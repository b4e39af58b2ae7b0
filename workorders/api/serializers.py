"""Serializers of work orders: output shapes and `<Entity><Verb>InputSerializer`s."""

from rest_framework import serializers

from equipment.models import Area, WorkCenter
from genealogy.models import Material
from workorders.choices import CharacteristicKind, SerialIssue, TimeBasis, WorkOrderSource
from workorders.models import (
    Bom,
    BomLine,
    HandoffRule,
    Routing,
    RoutingOperation,
    WorkOrder,
    WorkOrderOperation,
    WorkOrderUnit,
)


class BomLineSerializer(serializers.ModelSerializer):
    component = serializers.CharField(source="component.code")

    class Meta:
        model = BomLine
        fields = ["position", "component", "quantity_per", "scrap_factor", "operation_seq"]


class BomSerializer(serializers.ModelSerializer):
    item = serializers.CharField(source="item.code")
    lines = BomLineSerializer(many=True, read_only=True)

    class Meta:
        model = Bom
        fields = [
            "id",
            "item",
            "version",
            "status",
            "effective_from",
            "effective_to",
            "base_quantity",
            "approved_at",
            "lines",
        ]


class RoutingOperationSerializer(serializers.ModelSerializer):
    work_center = serializers.CharField(source="work_center.code")

    class Meta:
        model = RoutingOperation
        fields = [
            "seq",
            "name",
            "work_center",
            "setup_minutes",
            "run_minutes_per_unit",
            "time_basis",
            "crew_size",
        ]


class RoutingSerializer(serializers.ModelSerializer):
    item = serializers.CharField(source="item.code")
    operations = RoutingOperationSerializer(many=True, read_only=True)

    class Meta:
        model = Routing
        fields = [
            "id",
            "item",
            "version",
            "status",
            "effective_from",
            "effective_to",
            "approved_at",
            "operations",
        ]


class WorkOrderOperationSerializer(serializers.ModelSerializer):
    work_center = serializers.CharField(source="work_center.code")
    wip = serializers.DecimalField(max_digits=18, decimal_places=6, read_only=True)

    class Meta:
        model = WorkOrderOperation
        fields = [
            "id",
            "seq",
            "name",
            "work_center",
            "qty_received",
            "qty_good",
            "qty_scrap",
            "qty_rework",
            "qty_rework_returned",
            "wip",
            "setup_minutes",
            "run_minutes_per_unit",
            "time_basis",
            "crew_size",
        ]
        read_only_fields = fields


class WorkOrderSerializer(serializers.ModelSerializer):
    item = serializers.CharField(source="item.code")
    operations = WorkOrderOperationSerializer(many=True, read_only=True)

    class Meta:
        model = WorkOrder
        fields = [
            "id",
            "number",
            "item",
            "quantity",
            "due_date",
            "status",
            "source",
            "external_ref",
            "bom",
            "routing",
            "released_at",
            "closed_at",
            "operations",
        ]
        read_only_fields = fields


class WorkOrderUnitSerializer(serializers.ModelSerializer):
    """A serialized unit and the operation (sequence number) it stands at."""

    operation = serializers.SerializerMethodField()

    class Meta:
        model = WorkOrderUnit
        fields = ["id", "serial_number", "status", "operation"]

    def get_operation(self, unit: WorkOrderUnit) -> int | None:
        return unit.operation.seq if unit.operation else None


class WorkOrderCreateInputSerializer(serializers.Serializer):
    item = serializers.SlugRelatedField(slug_field="code", queryset=Material.objects.all())
    quantity = serializers.DecimalField(max_digits=18, decimal_places=6)
    due_date = serializers.DateField()
    source = serializers.ChoiceField(choices=WorkOrderSource.choices, default="api")
    external_ref = serializers.CharField(max_length=100, required=False, default="")
    serial_pattern = serializers.CharField(max_length=100, required=False, default="")
    serial_issue = serializers.ChoiceField(choices=SerialIssue.choices, default="release")


class OperationReportInputSerializer(serializers.Serializer):
    good = serializers.DecimalField(max_digits=18, decimal_places=6, default=0)
    scrap = serializers.DecimalField(max_digits=18, decimal_places=6, default=0)
    rework = serializers.DecimalField(max_digits=18, decimal_places=6, default=0)
    scrap_reason = serializers.CharField(required=False, allow_blank=True, default="")
    rework_reason = serializers.CharField(required=False, allow_blank=True, default="")


class ScanInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=20)
    note = serializers.CharField(max_length=500, required=False, default="")


class InspectInputSerializer(serializers.Serializer):
    results = serializers.DictField(child=serializers.CharField())


class VersionApproveInputSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class HandoffRuleSerializer(serializers.ModelSerializer):
    material = serializers.CharField(source="material.code")
    item = serializers.CharField(source="item.code")
    area = serializers.CharField(source="area.code")

    class Meta:
        model = HandoffRule
        fields = ["id", "material", "item", "area", "is_active", "serial_pattern", "note"]
        read_only_fields = fields


class HandoffRuleCreateInputSerializer(serializers.Serializer):
    material = serializers.SlugRelatedField(slug_field="code", queryset=Material.objects.all())
    item = serializers.SlugRelatedField(slug_field="code", queryset=Material.objects.all())
    area = serializers.SlugRelatedField(slug_field="code", queryset=Area.objects.all())
    serial_pattern = serializers.CharField(max_length=100, required=False, default="")
    note = serializers.CharField(max_length=200, required=False, default="")


class HandoffRuleSetActiveInputSerializer(serializers.Serializer):
    is_active = serializers.BooleanField()
    reason = serializers.CharField(max_length=500)


class BomLineInputSerializer(serializers.Serializer):
    component = serializers.SlugRelatedField(slug_field="code", queryset=Material.objects.all())
    quantity_per = serializers.DecimalField(max_digits=18, decimal_places=6)
    scrap_factor = serializers.DecimalField(max_digits=6, decimal_places=4, default=0)
    operation_seq = serializers.IntegerField(min_value=1)


class BomCreateInputSerializer(serializers.Serializer):
    item = serializers.SlugRelatedField(slug_field="code", queryset=Material.objects.all())
    effective_from = serializers.DateField()
    effective_to = serializers.DateField(required=False, allow_null=True, default=None)
    base_quantity = serializers.DecimalField(max_digits=18, decimal_places=6, default=1)
    description = serializers.CharField(max_length=200, required=False, default="")
    lines = BomLineInputSerializer(many=True)


class CharacteristicInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=CharacteristicKind.choices)
    lower_limit = serializers.DecimalField(
        max_digits=18, decimal_places=6, required=False, allow_null=True, default=None
    )
    upper_limit = serializers.DecimalField(
        max_digits=18, decimal_places=6, required=False, allow_null=True, default=None
    )
    unit = serializers.CharField(max_length=20, required=False, default="")
    spc_key = serializers.CharField(max_length=100, required=False, default="")


class RoutingOperationInputSerializer(serializers.Serializer):
    seq = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=200)
    work_center = serializers.SlugRelatedField(slug_field="code", queryset=WorkCenter.objects.all())
    alternative_work_centers = serializers.SlugRelatedField(
        slug_field="code", queryset=WorkCenter.objects.all(), many=True, required=False
    )
    setup_minutes = serializers.DecimalField(max_digits=12, decimal_places=4, default=0)
    run_minutes_per_unit = serializers.DecimalField(max_digits=12, decimal_places=4, default=0)
    time_basis = serializers.ChoiceField(choices=TimeBasis.choices, default=TimeBasis.BOTH)
    crew_size = serializers.IntegerField(min_value=1, default=1)
    characteristics = CharacteristicInputSerializer(many=True, required=False)


class RoutingCreateInputSerializer(serializers.Serializer):
    item = serializers.SlugRelatedField(slug_field="code", queryset=Material.objects.all())
    effective_from = serializers.DateField()
    effective_to = serializers.DateField(required=False, allow_null=True, default=None)
    description = serializers.CharField(max_length=200, required=False, default="")
    operations = RoutingOperationInputSerializer(many=True)
