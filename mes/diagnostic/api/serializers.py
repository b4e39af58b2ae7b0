from rest_framework import serializers

from mes.diagnostic.derivation import QUESTIONS
from mes.diagnostic.models import Assessment
from mes.esign.api.serializers import SignatureInputSerializer, SignatureSerializer


class AssessmentListSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    mode_display = serializers.CharField(source="get_mode_display", read_only=True)

    class Meta:
        model = Assessment
        fields = [
            "id",
            "period_start",
            "period_end",
            "mode",
            "mode_display",
            "pass_count",
            "warning_count",
            "fail_count",
            "not_applicable_count",
            "error_count",
            "duration_ms",
            "content_hash",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class AssessmentSerializer(AssessmentListSerializer):
    signatures = serializers.SerializerMethodField()

    class Meta(AssessmentListSerializer.Meta):
        fields = [
            *AssessmentListSerializer.Meta.fields,
            "answers",
            "facts",
            "mode_reasons",
            "disagreements",
            "items",
            "symptoms",
            "signatures",
        ]
        read_only_fields = fields

    def get_signatures(self, obj: Assessment) -> list[dict]:
        from mes.esign.selectors import signatures_for_record

        return SignatureSerializer(signatures_for_record(obj), many=True).data


class AssessmentRunInputSerializer(serializers.Serializer):
    period_start = serializers.DateTimeField(required=False)
    period_end = serializers.DateTimeField(required=False)
    days = serializers.IntegerField(required=False, min_value=1, max_value=1098)
    answers = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)

    def validate(self, data: dict) -> dict:
        has_range = "period_start" in data or "period_end" in data
        if has_range and not ("period_start" in data and "period_end" in data):
            raise serializers.ValidationError("Give both period_start and period_end.")
        if has_range and "days" in data:
            raise serializers.ValidationError("Give either days or period_start/period_end.")
        unknown = sorted(set(data.get("answers", {})) - set(QUESTIONS))
        if unknown:
            raise serializers.ValidationError(
                {"answers": f"Unknown question(s): {', '.join(unknown)}."}
            )
        return data


class AssessmentSignInputSerializer(SignatureInputSerializer):
    pass
