"""Serializers of the genealogy API: output shapes and the input of each command."""

from typing import Any

from rest_framework import serializers

from genealogy.choices import ContextKind, Direction, UnitOfMeasure
from genealogy.models import Lot, LotEvent, Material, RecallJob
from genealogy.selectors import RecallScope, Trace, TraceEdge, TraceNode


class MaterialSerializer(serializers.ModelSerializer):
    class Meta:
        model = Material
        fields = [
            "id",
            "code",
            "name",
            "description",
            "kind",
            "uom",
            "is_lot_controlled",
            "is_serialized",
            "shelf_life_days",
            "retest_interval_days",
            "is_active",
        ]


class LotSerializer(serializers.ModelSerializer):
    material = serializers.CharField(source="material.code")
    parent_lot = serializers.PrimaryKeyRelatedField(read_only=True)
    source = serializers.SerializerMethodField()

    class Meta:
        model = Lot
        fields = [
            "id",
            "kind",
            "material",
            "lot_number",
            "parent_lot",
            "quantity",
            "uom",
            "status",
            "supplier",
            "supplier_lot_number",
            "expires_at",
            "retest_at",
            "container",
            "location",
            "source",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_source(self, lot: Lot) -> dict[str, str] | None:
        if not lot.source_ref:
            return None
        return {"kind": lot.source_kind, "ref": lot.source_ref, "url": lot.source_url}


class LotEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username")
    approved_by = serializers.CharField(source="approved_by.username", default=None)

    class Meta:
        model = LotEvent
        fields = [
            "id",
            "type",
            "lot",
            "quantity_delta",
            "quantity_after",
            "uom",
            "operation_id",
            "occurred_at",
            "recorded_at",
            "actor",
            "approved_by",
            "context_kind",
            "context_ref",
            "context_url",
            "customer",
            "shipment_ref",
            "reason",
            "data",
        ]
        read_only_fields = fields


class RecallJobSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username")

    class Meta:
        model = RecallJob
        fields = [
            "id",
            "requested_by",
            "lot",
            "supplier_lot_number",
            "status",
            "stage",
            "progress",
            "node_count",
            "finished_lot_count",
            "unit_count",
            "shipment_count",
            "customer_count",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
        ]
        read_only_fields = fields


# --- plain renderers for the trace and the recall scope (fast: no per-row serializer) -----


def node_data(node: TraceNode, depth: int | None = None) -> dict[str, Any]:
    data = {
        "id": node.id,
        "kind": str(node.kind),
        "lot_number": node.lot_number,
        "material": node.material_code,
        "material_kind": str(node.material_kind),
        "status": str(node.status),
        "quantity": str(node.quantity),
        "uom": str(node.uom),
        "source": (
            {"kind": node.source_kind, "ref": node.source_ref, "url": node.source_url}
            if node.source_ref
            else None
        ),
    }
    if depth is not None:
        data["depth"] = depth
    return data


def edge_data(edge: TraceEdge) -> dict[str, Any]:
    return {
        "parent": edge.parent_id,
        "child": edge.child_id,
        "kind": edge.kind,
        "quantity": str(edge.quantity),
        "uom": edge.uom,
        "context": (
            {"kind": edge.context_kind, "ref": edge.context_ref, "url": edge.context_url}
            if edge.context_ref
            else None
        ),
    }


def trace_data(trace: Trace) -> dict[str, Any]:
    depths = trace.depths()
    return {
        "direction": trace.direction,
        "root": node_data(trace.root, 0),
        "count": trace.count,
        "truncated": trace.truncated,
        "nodes": [
            node_data(node, depths.get(node.id))
            for node_id, node in trace.nodes.items()
            if node_id != trace.root.id
        ],
        "edges": [edge_data(edge) for edge in trace.edges],
    }


def recall_data(scope: RecallScope, *, limit: int | None = None) -> dict[str, Any]:
    def lots(rows: list) -> list[dict[str, Any]]:
        return [
            {
                "id": r.id,
                "kind": r.kind,
                "lot_number": r.lot_number,
                "material": r.material_code,
                "status": r.status,
                "quantity": str(r.quantity),
                "uom": r.uom,
            }
            for r in rows[:limit]
        ]

    return {
        **scope.summary(),
        "limit": limit,
        "complete": limit is None,
        "finished_lots": lots(scope.finished_lots),
        "units": lots(scope.units),
        "shipments": [
            {
                "lot": s.lot_id,
                "lot_number": s.lot_number,
                "material": s.material_code,
                "customer": s.customer,
                "shipment_ref": s.shipment_ref,
                "quantity": str(s.quantity),
                "uom": s.uom,
                "shipped_at": s.shipped_at.isoformat() if s.shipped_at else None,
            }
            for s in scope.shipments[:limit]
        ],
    }


# --- inputs of the commands ----------------------------------------------------------------


class ReferenceInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ContextKind.choices)
    ref = serializers.CharField(max_length=200)
    url = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class TraceQueryInput(serializers.Serializer):
    direction = serializers.ChoiceField(choices=Direction.choices, default=Direction.BACKWARD)


class LotReceiveInput(serializers.Serializer):
    material = serializers.SlugRelatedField(slug_field="code", queryset=Material.objects.all())
    lot_number = serializers.CharField(max_length=64)
    quantity = serializers.DecimalField(max_digits=18, decimal_places=6)
    uom = serializers.ChoiceField(choices=UnitOfMeasure.choices, required=False)
    supplier = serializers.CharField(max_length=200)
    supplier_lot_number = serializers.CharField(max_length=100)
    expires_at = serializers.DateField(required=False, allow_null=True)
    retest_at = serializers.DateField(required=False, allow_null=True)
    container = serializers.CharField(max_length=100, required=False, allow_blank=True)
    location = serializers.CharField(max_length=100, required=False, allow_blank=True)
    occurred_at = serializers.DateTimeField(required=False)
    reference = serializers.CharField(max_length=200, required=False, allow_blank=True)


class LotInputItem(serializers.Serializer):
    lot = serializers.PrimaryKeyRelatedField(queryset=Lot.objects.all())
    quantity = serializers.DecimalField(max_digits=18, decimal_places=6)
    uom = serializers.ChoiceField(choices=UnitOfMeasure.choices, required=False)
    context = ReferenceInput(required=False)


class LotProduceInput(serializers.Serializer):
    material = serializers.SlugRelatedField(slug_field="code", queryset=Material.objects.all())
    quantity = serializers.DecimalField(max_digits=18, decimal_places=6)
    uom = serializers.ChoiceField(choices=UnitOfMeasure.choices, required=False)
    lot_number = serializers.CharField(max_length=64, required=False)
    source = ReferenceInput()
    inputs = LotInputItem(many=True, required=False)
    expires_at = serializers.DateField(required=False, allow_null=True)
    occurred_at = serializers.DateTimeField(required=False)


class LotConsumeInput(serializers.Serializer):
    quantity = serializers.DecimalField(max_digits=18, decimal_places=6)
    uom = serializers.ChoiceField(choices=UnitOfMeasure.choices, required=False)
    into = serializers.PrimaryKeyRelatedField(
        queryset=Lot.objects.all(), required=False, allow_null=True
    )
    context = ReferenceInput()
    occurred_at = serializers.DateTimeField(required=False)


class LotSplitInput(serializers.Serializer):
    quantities = serializers.ListField(
        child=serializers.DecimalField(max_digits=18, decimal_places=6), min_length=1
    )
    lot_numbers = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    uom = serializers.ChoiceField(choices=UnitOfMeasure.choices, required=False)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    occurred_at = serializers.DateTimeField(required=False)


class LotMergeInput(serializers.Serializer):
    lots = serializers.PrimaryKeyRelatedField(queryset=Lot.objects.all(), many=True)
    quantities = serializers.ListField(
        child=serializers.DecimalField(max_digits=18, decimal_places=6), required=False
    )
    uom = serializers.ChoiceField(choices=UnitOfMeasure.choices, required=False)
    lot_number = serializers.CharField(max_length=64, required=False)
    into = serializers.PrimaryKeyRelatedField(
        queryset=Lot.objects.all(), required=False, allow_null=True
    )
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    occurred_at = serializers.DateTimeField(required=False)


class LotShipInput(serializers.Serializer):
    lot = serializers.PrimaryKeyRelatedField(
        queryset=Lot.objects.all(), required=False, allow_null=True
    )
    units = serializers.PrimaryKeyRelatedField(
        queryset=Lot.objects.all(), many=True, required=False
    )
    quantity = serializers.DecimalField(
        max_digits=18, decimal_places=6, required=False, allow_null=True
    )
    uom = serializers.ChoiceField(choices=UnitOfMeasure.choices, required=False)
    customer = serializers.CharField(max_length=200)
    shipment_ref = serializers.CharField(max_length=100)
    occurred_at = serializers.DateTimeField(required=False)


class LotTransferInput(serializers.Serializer):
    location = serializers.CharField(max_length=100)
    container = serializers.CharField(max_length=100, required=False, allow_blank=True)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    occurred_at = serializers.DateTimeField(required=False)


class LotAdjustInput(serializers.Serializer):
    delta = serializers.DecimalField(max_digits=18, decimal_places=6)
    uom = serializers.ChoiceField(choices=UnitOfMeasure.choices, required=False)
    reason = serializers.CharField(max_length=2000)
    username = serializers.CharField(max_length=150, help_text="your user ID (signing)")
    password = serializers.CharField(max_length=200, trim_whitespace=False)
    occurred_at = serializers.DateTimeField(required=False)


class RecallJobInput(serializers.Serializer):
    lot = serializers.PrimaryKeyRelatedField(
        queryset=Lot.objects.all(), required=False, allow_null=True
    )
    supplier_lot_number = serializers.CharField(max_length=100, required=False, allow_blank=True)
