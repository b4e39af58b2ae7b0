"""Signature serializers. `SignatureInputSerializer` is what every app's signing endpoint
accepts next to its own fields (user ID, password, reason)."""

from rest_framework import serializers

from mes.esign.models import Signature


class SignatureInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=256, trim_whitespace=False, write_only=True, style={"input_type": "password"}
    )
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class SignatureSerializer(serializers.ModelSerializer):
    record_type = serializers.SerializerMethodField()
    meaning_display = serializers.CharField(source="get_meaning_display", read_only=True)
    is_valid = serializers.BooleanField(read_only=True)
    invalid_reason = serializers.CharField(read_only=True)
    manifestation = serializers.CharField(read_only=True)

    class Meta:
        model = Signature
        fields = [
            "id",
            "record_type",
            "object_id",
            "printed_name",
            "username",
            "meaning",
            "meaning_display",
            "reason",
            "signed_at",
            "record_hash",
            "hash_alg",
            "is_valid",
            "invalid_reason",
            "manifestation",
        ]
        read_only_fields = fields

    def get_record_type(self, obj: Signature) -> str:
        return f"{obj.content_type.app_label}.{obj.content_type.model}"
