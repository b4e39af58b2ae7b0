"""Serializers of the batches API: read shapes and the input of each command."""

from rest_framework import serializers

from batches.choices import MaterialReturnKind
from batches.models import (
    BatchOrder,
    MaterialReturn,
    MaterialUse,
    ParameterValue,
    PhaseExecution,
)
from mes.esign.api.serializers import SignatureInputSerializer


class BatchOrderSerializer(serializers.ModelSerializer):
    recipe = serializers.CharField(source="recipe_version.recipe.code", read_only=True)
    version = serializers.IntegerField(source="recipe_version.number", read_only=True)
    product = serializers.CharField(source="product.code", read_only=True)
    unit = serializers.CharField(source="unit.code", read_only=True, default=None)
    output_lot = serializers.CharField(source="output_lot.lot_number", read_only=True, default=None)
    needs_repoint = serializers.BooleanField(read_only=True)
    superseded_by_version = serializers.IntegerField(
        source="superseded_by_version.number", read_only=True, default=None
    )

    class Meta:
        model = BatchOrder
        fields = [
            "id",
            "number",
            "recipe",
            "version",
            "recipe_version",
            "product",
            "batch_size",
            "batch_size_uom",
            "status",
            "unit",
            "output_lot",
            "control_recipe_hash",
            "needs_repoint",
            "version_superseded_at",
            "superseded_by_version",
            "created_at",
            "started_at",
            "completed_at",
            "released_at",
        ]
        read_only_fields = fields


class ParameterValueSerializer(serializers.ModelSerializer):
    instrument = serializers.CharField(source="instrument.code", read_only=True, default=None)
    entered_by = serializers.CharField(source="entered_by.username", read_only=True)

    class Meta:
        model = ParameterValue
        fields = [
            "id",
            "name",
            "value_text",
            "value_number",
            "unit",
            "is_out_of_limit",
            "limit_text",
            "instrument",
            "supersedes",
            "reason",
            "entered_by",
            "entered_at",
        ]
        read_only_fields = fields


class RecordedValueSerializer(ParameterValueSerializer):
    """The answer to recording or correcting a value: the new entry and its phase (id)."""

    phase = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta(ParameterValueSerializer.Meta):
        fields = ["phase", *ParameterValueSerializer.Meta.fields]
        read_only_fields = fields


class MaterialUseSerializer(serializers.ModelSerializer):
    material = serializers.CharField(source="material.code", read_only=True)
    lot = serializers.CharField(source="lot.lot_number", read_only=True)

    class Meta:
        model = MaterialUse
        fields = ["id", "material", "lot", "quantity", "uom", "consumption", "dispensed_at"]
        read_only_fields = fields


class PhaseExecutionSerializer(serializers.ModelSerializer):
    batch = serializers.CharField(source="batch.number", read_only=True)
    completed_by = serializers.CharField(source="completed_by.username", default=None)
    verified_by = serializers.CharField(source="verified_by.username", default=None)
    values = ParameterValueSerializer(many=True, read_only=True)
    uses = MaterialUseSerializer(many=True, read_only=True)

    class Meta:
        model = PhaseExecution
        fields = [
            "id",
            "batch",
            "sequence",
            "path",
            "name",
            "status",
            "started_at",
            "completed_at",
            "completed_by",
            "verified_at",
            "verified_by",
            "definition",
            "values",
            "uses",
        ]
        read_only_fields = fields


class BatchCreateInputSerializer(serializers.Serializer):
    recipe_version = serializers.IntegerField(min_value=1)
    batch_size = serializers.DecimalField(max_digits=18, decimal_places=6)
    number = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


class BatchStartInputSerializer(serializers.Serializer):
    unit = serializers.CharField(max_length=30, help_text="Unit code (scanned).")


class BatchYieldInputSerializer(serializers.Serializer):
    quantity = serializers.DecimalField(max_digits=18, decimal_places=6)
    lot_number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class BatchCancelInputSerializer(SignatureInputSerializer):
    reason = serializers.CharField(max_length=1000)


class BatchRepointInputSerializer(SignatureInputSerializer):
    reason = serializers.CharField(max_length=1000)
    recipe_version = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None
    )


class BatchSignInputSerializer(SignatureInputSerializer):
    pass


class ValueInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    value = serializers.CharField(max_length=200)
    instrument = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")


class CorrectionInputSerializer(serializers.Serializer):
    value_id = serializers.IntegerField(min_value=1)
    value = serializers.CharField(max_length=200)
    reason = serializers.CharField(max_length=1000)


class DispenseInputSerializer(serializers.Serializer):
    lot = serializers.IntegerField(min_value=1, help_text="Lot id.")
    quantity = serializers.DecimalField(max_digits=18, decimal_places=6)
    uom = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")


class ReturnInputSerializer(serializers.Serializer):
    use = serializers.IntegerField(min_value=1, help_text="Material use (dispense) id.")
    kind = serializers.ChoiceField(choices=MaterialReturnKind.choices)
    quantity = serializers.DecimalField(max_digits=18, decimal_places=6)
    uom = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    reason = serializers.CharField(max_length=2000)


class MaterialReturnSerializer(serializers.ModelSerializer):
    recorded_by = serializers.CharField(source="recorded_by.username", read_only=True)

    class Meta:
        model = MaterialReturn
        fields = ["id", "use", "kind", "quantity", "uom", "reason", "lot_event", "recorded_by"]
        read_only_fields = fields
