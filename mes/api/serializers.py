"""Serializers of the platform API."""

from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """The body of every error answer (see mes/api/__init__.py)."""

    code = serializers.CharField(help_text="Stable machine-readable reason, e.g. `conflict`.")
    detail = serializers.CharField(help_text="What happened, in words for the person.")
    errors = serializers.DictField(
        required=False, help_text="For `invalid_input`: the messages by field."
    )


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    printed_name = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
