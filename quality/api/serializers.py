"""Serializers of the quality API: output serializers for records, `<Entity><Verb>Input`
serializers for commands (they validate shape only; services decide)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mes.esign.selectors import signatures_for_record
from quality.choices import (
    CapaKind,
    Classification,
    NcrDisposition,
    SamplingBasis,
    TestKind,
)
from quality.models import (
    CapaAction,
    Characteristic,
    Deviation,
    LabResult,
    LotDisposition,
    Nonconformance,
    ReleaseOverride,
    Specification,
    SpecTest,
)


class SignatureOutSerializer(serializers.Serializer):
    signer = serializers.CharField(source="username")
    printed_name = serializers.CharField()
    meaning = serializers.CharField()
    reason = serializers.CharField()
    signed_at = serializers.DateTimeField()
    manifestation = serializers.CharField()
    is_valid = serializers.BooleanField()


class SignedSerializerMixin(serializers.Serializer):
    signatures = serializers.SerializerMethodField()

    @extend_schema_field(SignatureOutSerializer(many=True))
    def get_signatures(self, obj):  # type: ignore[no-untyped-def]
        return SignatureOutSerializer(signatures_for_record(obj), many=True).data


class SpecTestSerializer(serializers.ModelSerializer):
    class Meta:
        model = SpecTest
        fields = ["id", "position", "name", "unit", "method", "kind", "low", "high", "limits_text"]


class SpecificationSerializer(SignedSerializerMixin, serializers.ModelSerializer):
    material = serializers.CharField(source="material.code")
    tests = SpecTestSerializer(many=True, read_only=True)

    class Meta:
        model = Specification
        fields = [
            "id",
            "material",
            "version",
            "title",
            "status",
            "sample_count",
            "sampling_basis",
            "notes",
            "created_at",
            "approved_at",
            "tests",
            "signatures",
        ]


class SpecTestInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    unit = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    method = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=TestKind.choices, default=TestKind.NUMERIC)
    low = serializers.DecimalField(max_digits=18, decimal_places=6, required=False, allow_null=True)
    high = serializers.DecimalField(
        max_digits=18, decimal_places=6, required=False, allow_null=True
    )


class SpecificationCreateInputSerializer(serializers.Serializer):
    material = serializers.CharField(help_text="Material code")
    title = serializers.CharField(max_length=200)
    sample_count = serializers.IntegerField(min_value=1, max_value=100, default=1)
    sampling_basis = serializers.ChoiceField(
        choices=SamplingBasis.choices, default=SamplingBasis.PER_LOT
    )
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    tests = SpecTestInputSerializer(many=True)


class SignatureInputSerializer(serializers.Serializer):
    """The signer's user ID and password (asked for every signature) and a reason."""

    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, write_only=True)
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class LabResultSerializer(serializers.ModelSerializer):
    lot_number = serializers.CharField(source="lot.lot_number")
    test = serializers.CharField(source="spec_test.name")
    entered_by = serializers.CharField(source="entered_by.username")
    is_current = serializers.SerializerMethodField()

    class Meta:
        model = LabResult
        fields = [
            "id",
            "lot",
            "lot_number",
            "spec_test",
            "test",
            "sample_no",
            "value",
            "value_text",
            "outcome",
            "low",
            "high",
            "unit",
            "source",
            "external_ref",
            "note",
            "tested_at",
            "entered_by",
            "entered_at",
            "supersedes",
            "correction_reason",
            "is_current",
        ]

    def get_is_current(self, obj: LabResult) -> bool:
        annotated = getattr(obj, "superseded_by_result", "missing")
        if annotated != "missing":
            return annotated is None
        return not LabResult.objects.filter(supersedes=obj).exists()


class LabResultEnterInputSerializer(serializers.Serializer):
    """A LIMS names the lot by id, or by material code and lot number; the test by id, or by
    name within the approved specification of the lot's material."""

    lot = serializers.IntegerField(required=False)
    material = serializers.CharField(required=False)
    lot_number = serializers.CharField(required=False)
    spec_test = serializers.IntegerField(required=False)
    test = serializers.CharField(required=False, help_text="Test name")
    sample_no = serializers.IntegerField(min_value=1, default=1)
    value = serializers.CharField(max_length=50)
    external_ref = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    tested_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        if attrs.get("lot") is None and not (attrs.get("material") and attrs.get("lot_number")):
            raise serializers.ValidationError("Name the lot: lot (id), or material and lot_number.")
        if attrs.get("spec_test") is None and not attrs.get("test"):
            raise serializers.ValidationError("Name the test: spec_test (id) or test (name).")
        return attrs


class LabResultCorrectInputSerializer(serializers.Serializer):
    value = serializers.CharField(max_length=50)
    reason = serializers.CharField(max_length=2000)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class BlockerSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class SpecRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    title = serializers.CharField()


class MissingResultSerializer(serializers.Serializer):
    test = serializers.CharField()
    sample_no = serializers.IntegerField()


class LotQualitySerializer(serializers.Serializer):
    """The quality state of a lot (input: a `selectors.LotQuality`)."""

    id = serializers.IntegerField(source="lot.pk")
    lot_number = serializers.CharField(source="lot.lot_number")
    material = serializers.CharField(source="lot.material.code")
    status = serializers.CharField(source="lot.status")
    expires_at = serializers.DateField(source="lot.expires_at")
    specification = serializers.SerializerMethodField()
    required_results = serializers.SerializerMethodField()
    missing_results = serializers.SerializerMethodField()
    failing_result_ids = serializers.SerializerMethodField()
    open_deviations = serializers.SerializerMethodField()
    can_release = serializers.BooleanField()
    blockers = serializers.SerializerMethodField()

    @extend_schema_field(SpecRefSerializer(allow_null=True))
    def get_specification(self, state):  # type: ignore[no-untyped-def]
        spec = state.specification
        return {"id": spec.pk, "version": spec.version, "title": spec.title} if spec else None

    def get_required_results(self, state) -> int:  # type: ignore[no-untyped-def]
        return len(state.requirements)

    @extend_schema_field(MissingResultSerializer(many=True))
    def get_missing_results(self, state):  # type: ignore[no-untyped-def]
        return [{"test": r.test.name, "sample_no": r.sample_no} for r in state.missing]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_failing_result_ids(self, state):  # type: ignore[no-untyped-def]
        return [r.pk for r in state.failing]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_open_deviations(self, state):  # type: ignore[no-untyped-def]
        return [d.number for d in state.open_deviations]

    @extend_schema_field(BlockerSerializer(many=True))
    def get_blockers(self, state):  # type: ignore[no-untyped-def]
        return [{"code": code, "detail": detail} for code, detail in state.blockers]


class LotListSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    lot_number = serializers.CharField()
    material = serializers.CharField(source="material.code")
    status = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=18, decimal_places=6)
    uom = serializers.CharField()
    result_count = serializers.IntegerField()
    failing_count = serializers.IntegerField()


class LotDispositionSerializer(SignedSerializerMixin, serializers.ModelSerializer):
    lot_number = serializers.CharField(source="lot.lot_number")
    decided_by = serializers.CharField(source="decided_by.username")

    class Meta:
        model = LotDisposition
        fields = [
            "id",
            "lot",
            "lot_number",
            "decision",
            "from_status",
            "reason",
            "specification",
            "override",
            "summary",
            "decided_by",
            "decided_at",
            "signatures",
        ]


class OverrideRequestInputSerializer(serializers.Serializer):
    deviation = serializers.IntegerField()
    justification = serializers.CharField(max_length=4000)


class ReleaseOverrideSerializer(SignedSerializerMixin, serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username")
    signed_by = serializers.CharField(source="signed_by.username", default=None)
    deviation_number = serializers.CharField(source="deviation.number")

    class Meta:
        model = ReleaseOverride
        fields = [
            "id",
            "lot",
            "deviation",
            "deviation_number",
            "justification",
            "result_ids",
            "requested_by",
            "requested_at",
            "signed_by",
            "signed_at",
            "signatures",
        ]


class CapaActionSerializer(serializers.ModelSerializer):
    number = serializers.CharField()
    owner = serializers.CharField(source="owner.username")

    class Meta:
        model = CapaAction
        fields = [
            "id",
            "number",
            "deviation",
            "kind",
            "description",
            "owner",
            "due_at",
            "status",
            "completed_at",
            "completion_note",
        ]


class DeviationSerializer(SignedSerializerMixin, serializers.ModelSerializer):
    number = serializers.CharField()
    opened_by = serializers.CharField(source="opened_by.username")
    lots = serializers.SerializerMethodField()
    capa_actions = CapaActionSerializer(many=True, read_only=True)

    class Meta:
        model = Deviation
        fields = [
            "id",
            "number",
            "title",
            "description",
            "status",
            "classification",
            "source_kind",
            "source_ref",
            "source_url",
            "lots",
            "opened_by",
            "opened_at",
            "due_at",
            "investigation",
            "root_cause",
            "closure_summary",
            "closed_at",
            "capa_actions",
            "signatures",
        ]

    def get_lots(self, obj: Deviation) -> list[int]:
        return [link.lot_id for link in obj.lot_links.all()]


class SourceInputSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=16)
    ref = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    url = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class DeviationOpenInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10000)
    source = SourceInputSerializer(required=False, allow_null=True, default=None)
    lots = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    due_at = serializers.DateField(required=False, allow_null=True, default=None)


class DeviationClassifyInputSerializer(serializers.Serializer):
    classification = serializers.ChoiceField(choices=Classification.choices)
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class DeviationInvestigateInputSerializer(serializers.Serializer):
    investigation = serializers.CharField(max_length=20000)
    root_cause = serializers.CharField(
        max_length=10000, required=False, allow_blank=True, default=""
    )


class CapaAddInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CapaKind.choices)
    description = serializers.CharField(max_length=5000)
    owner = serializers.CharField(help_text="Username of the owner")
    due_at = serializers.DateField()


class CapaCompleteInputSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=5000)


class DeviationCloseInputSerializer(SignatureInputSerializer):
    closure_summary = serializers.CharField(max_length=10000)


class NonconformanceSerializer(SignedSerializerMixin, serializers.ModelSerializer):
    number = serializers.CharField()
    opened_by = serializers.CharField(source="opened_by.username")

    class Meta:
        model = Nonconformance
        fields = [
            "id",
            "number",
            "description",
            "defect_code",
            "lot",
            "quantity",
            "uom",
            "source_kind",
            "source_ref",
            "source_url",
            "status",
            "disposition",
            "justification",
            "deviation",
            "opened_by",
            "opened_at",
            "dispositioned_at",
            "signatures",
        ]


class NonconformanceOpenInputSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=10000)
    defect_code = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    lot = serializers.IntegerField(required=False, allow_null=True, default=None)
    quantity = serializers.DecimalField(
        max_digits=18, decimal_places=6, required=False, allow_null=True, default=None
    )
    uom = serializers.CharField(max_length=8, required=False, allow_blank=True, default="")
    source = SourceInputSerializer(required=False, allow_null=True, default=None)


class NonconformanceDispositionInputSerializer(SignatureInputSerializer):
    disposition = serializers.ChoiceField(choices=NcrDisposition.choices)
    justification = serializers.CharField(max_length=5000)
    deviation = serializers.IntegerField(required=False, allow_null=True, default=None)


class CharacteristicSerializer(serializers.ModelSerializer):
    material = serializers.CharField(source="material.code", default=None)

    class Meta:
        model = Characteristic
        fields = [
            "id",
            "key",
            "name",
            "unit",
            "description",
            "material",
            "subgroup_size",
            "lsl",
            "usl",
            "target",
            "baseline_size",
            "is_active",
        ]


class CharacteristicCreateInputSerializer(serializers.Serializer):
    key = serializers.SlugField(max_length=100)
    name = serializers.CharField(max_length=200)
    unit = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    material = serializers.CharField(required=False, allow_blank=True, default="")
    subgroup_size = serializers.IntegerField(min_value=1, max_value=10, default=1)
    lsl = serializers.DecimalField(
        max_digits=18, decimal_places=6, required=False, allow_null=True, default=None
    )
    usl = serializers.DecimalField(
        max_digits=18, decimal_places=6, required=False, allow_null=True, default=None
    )
    target = serializers.DecimalField(
        max_digits=18, decimal_places=6, required=False, allow_null=True, default=None
    )
    baseline_size = serializers.IntegerField(
        min_value=2, required=False, allow_null=True, default=None
    )


class SpcValueInputSerializer(serializers.Serializer):
    value = serializers.DecimalField(max_digits=18, decimal_places=6)
    at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    source_ref = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    source_url = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class SpcValueSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    characteristic = serializers.CharField(source="characteristic.key")
    value = serializers.DecimalField(max_digits=18, decimal_places=6)
    at = serializers.DateTimeField()
    source_ref = serializers.CharField()


class ChartPointSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    y = serializers.FloatField()
    at = serializers.DateTimeField()
    secondary = serializers.FloatField(allow_null=True)
    rules = serializers.ListField(child=serializers.IntegerField())


class ViolationSerializer(serializers.Serializer):
    rule = serializers.IntegerField()
    index = serializers.IntegerField()
    description = serializers.CharField()


class SpcChartSerializer(serializers.Serializer):
    """The chart of a characteristic (input: a `selectors.SpcChart`)."""

    key = serializers.CharField(source="characteristic.key")
    total_values = serializers.IntegerField()
    center = serializers.FloatField(allow_null=True)
    ucl = serializers.FloatField(allow_null=True)
    lcl = serializers.FloatField(allow_null=True)
    secondary_center = serializers.FloatField(allow_null=True)
    secondary_ucl = serializers.FloatField(allow_null=True)
    secondary_lcl = serializers.FloatField(allow_null=True)
    cp = serializers.SerializerMethodField()
    cpk = serializers.SerializerMethodField()
    points = serializers.SerializerMethodField()
    violations = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.FLOAT)
    def get_cp(self, chart):  # type: ignore[no-untyped-def]
        return chart.capability.cp if chart.capability else None

    @extend_schema_field(OpenApiTypes.FLOAT)
    def get_cpk(self, chart):  # type: ignore[no-untyped-def]
        return chart.capability.cpk if chart.capability else None

    @extend_schema_field(ChartPointSerializer(many=True))
    def get_points(self, chart):  # type: ignore[no-untyped-def]
        return [
            {"index": p.index, "y": p.y, "at": p.at, "secondary": p.secondary, "rules": p.rules}
            for p in chart.points
        ]

    @extend_schema_field(ViolationSerializer(many=True))
    def get_violations(self, chart):  # type: ignore[no-untyped-def]
        return [
            {"rule": v.rule, "index": v.index, "description": v.description}
            for v in chart.violations
        ]
