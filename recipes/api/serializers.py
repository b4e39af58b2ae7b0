"""Serializers of the recipes API. Output serializers read; `*InputSerializer`s only check the
shape of a request (the services check the rules and answer with the element's path)."""

from typing import Any

from rest_framework import serializers

from mes.esign.api.serializers import SignatureInputSerializer
from recipes.choices import OutputKind, ParameterDataType
from recipes.content import dec, version_content
from recipes.models import MasterRecipe, RecipeVersion

# --- output ----------------------------------------------------------------------------------


class MasterRecipeSerializer(serializers.ModelSerializer):
    product = serializers.CharField(source="product.code")
    product_name = serializers.CharField(source="product.name")
    approved_version = serializers.IntegerField(source="approved_number", allow_null=True)
    open_version = serializers.IntegerField(source="open_number", allow_null=True)
    open_status = serializers.CharField(allow_null=True)
    version_count = serializers.IntegerField()

    class Meta:
        model = MasterRecipe
        fields = [
            "id",
            "code",
            "name",
            "description",
            "product",
            "product_name",
            "approved_version",
            "open_version",
            "open_status",
            "version_count",
            "created_at",
        ]


def _user(user: Any) -> dict[str, str] | None:
    if user is None:
        return None
    return {"username": user.get_username(), "printed_name": user.printed_name}


class RecipeVersionSerializer(serializers.ModelSerializer):
    recipe_code = serializers.CharField(source="recipe.code")
    status_display = serializers.CharField(source="get_status_display")
    batch_size_min = serializers.SerializerMethodField()
    batch_size_max = serializers.SerializerMethodField()
    batch_size_reference = serializers.SerializerMethodField()
    author = serializers.SerializerMethodField()
    submitted_by = serializers.SerializerMethodField()
    approved_by = serializers.SerializerMethodField()
    obsoleted_by = serializers.SerializerMethodField()
    based_on = serializers.IntegerField(source="based_on.number", allow_null=True, default=None)
    superseded_by = serializers.IntegerField(
        source="superseded_by.number", allow_null=True, default=None
    )
    is_editable = serializers.BooleanField()

    class Meta:
        model = RecipeVersion
        fields = [
            "id",
            "recipe",
            "recipe_code",
            "number",
            "status",
            "status_display",
            "is_editable",
            "batch_size_min",
            "batch_size_max",
            "batch_size_reference",
            "batch_size_uom",
            "description",
            "change_summary",
            "based_on",
            "author",
            "created_at",
            "updated_at",
            "submitted_at",
            "submitted_by",
            "approved_at",
            "approved_by",
            "superseded_at",
            "superseded_by",
            "obsoleted_at",
            "obsoleted_by",
            "obsolete_reason",
            "rejection_reason",
        ]

    def get_batch_size_min(self, obj: RecipeVersion) -> str | None:
        return dec(obj.batch_size_min)

    def get_batch_size_max(self, obj: RecipeVersion) -> str | None:
        return dec(obj.batch_size_max)

    def get_batch_size_reference(self, obj: RecipeVersion) -> str | None:
        return dec(obj.batch_size_reference)

    def get_author(self, obj: RecipeVersion) -> dict | None:
        return _user(obj.author)

    def get_submitted_by(self, obj: RecipeVersion) -> dict | None:
        return _user(obj.submitted_by)

    def get_approved_by(self, obj: RecipeVersion) -> dict | None:
        return _user(obj.approved_by)

    def get_obsoleted_by(self, obj: RecipeVersion) -> dict | None:
        return _user(obj.obsoleted_by)


class SignatureSerializer(serializers.Serializer):
    meaning = serializers.CharField()
    printed_name = serializers.CharField()
    username = serializers.CharField()
    reason = serializers.CharField()
    signed_at = serializers.DateTimeField()
    manifestation = serializers.CharField()
    is_valid = serializers.BooleanField()
    invalid_reason = serializers.CharField()


class RecipeVersionDetailSerializer(RecipeVersionSerializer):
    """A version with its whole content tree and its signatures (validity recomputed)."""

    content = serializers.SerializerMethodField()
    signatures = serializers.SerializerMethodField()

    class Meta(RecipeVersionSerializer.Meta):
        fields = [*RecipeVersionSerializer.Meta.fields, "content", "signatures"]

    def get_content(self, obj: RecipeVersion) -> dict:
        return version_content(obj)

    def get_signatures(self, obj: RecipeVersion) -> list[dict]:
        from recipes.selectors import recipe_version_signatures

        return SignatureSerializer(recipe_version_signatures(obj), many=True).data


class ChangeSerializer(serializers.Serializer):
    path = serializers.CharField()
    change = serializers.ChoiceField(choices=["added", "removed", "changed"])
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


# --- input -----------------------------------------------------------------------------------

_TEXT = {"required": False, "allow_blank": True, "allow_null": True}
_NUMBER = {"required": False, "allow_blank": True, "allow_null": True, "max_length": 40}


class MasterRecipeCreateInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=200)
    product = serializers.CharField(max_length=40, help_text="Material code of the product.")
    description = serializers.CharField(**_TEXT)
    batch_size_min = serializers.CharField(max_length=40)
    batch_size_max = serializers.CharField(max_length=40)
    batch_size_reference = serializers.CharField(max_length=40)
    batch_size_uom = serializers.CharField(**_TEXT)


class MasterRecipeUpdateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class NewVersionInputSerializer(serializers.Serializer):
    based_on = serializers.IntegerField(
        required=False, help_text="Version number to copy (default: the current approved one)."
    )


class VersionHeaderInputSerializer(serializers.Serializer):
    batch_size_min = serializers.CharField(max_length=40, required=False)
    batch_size_max = serializers.CharField(max_length=40, required=False)
    batch_size_reference = serializers.CharField(max_length=40, required=False)
    batch_size_uom = serializers.CharField(max_length=8, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    change_summary = serializers.CharField(required=False, allow_blank=True)


class ParameterInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    unit = serializers.CharField(max_length=20, **_TEXT)
    data_type = serializers.ChoiceField(choices=ParameterDataType.values, required=False)
    choices = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    target = serializers.CharField(**_NUMBER)
    low_limit = serializers.CharField(**_NUMBER)
    high_limit = serializers.CharField(**_NUMBER)
    expected_text = serializers.CharField(max_length=200, **_TEXT)
    is_required = serializers.BooleanField(required=False, default=True)
    instrument_required = serializers.BooleanField(required=False, default=False)
    instrument_kind = serializers.CharField(max_length=30, **_TEXT)


class InputInputSerializer(serializers.Serializer):
    material = serializers.CharField(max_length=40)
    quantity = serializers.CharField(max_length=40)
    uom = serializers.CharField(max_length=8, **_TEXT)
    tolerance_pct = serializers.CharField(**_NUMBER)
    is_scalable = serializers.BooleanField(required=False, default=True)
    note = serializers.CharField(max_length=200, **_TEXT)


class OutputInputSerializer(serializers.Serializer):
    material = serializers.CharField(max_length=40)
    kind = serializers.ChoiceField(choices=OutputKind.values, required=False)
    expected_quantity = serializers.CharField(max_length=40)
    uom = serializers.CharField(max_length=8, **_TEXT)
    yield_low_pct = serializers.CharField(max_length=40)
    yield_high_pct = serializers.CharField(max_length=40)


class PhaseTreeInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    instructions = serializers.CharField(**_TEXT)
    can_run_parallel_with_previous = serializers.BooleanField(required=False, default=False)
    hold_min_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    hold_max_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    requires_verification = serializers.BooleanField(required=False, default=False)
    is_critical = serializers.BooleanField(required=False, default=False)
    equipment_class = serializers.CharField(max_length=60, **_TEXT)
    min_volume_l = serializers.CharField(**_NUMBER)
    capabilities = serializers.ListField(child=serializers.CharField(max_length=40), required=False)
    parameters = ParameterInputSerializer(many=True, required=False)
    inputs = InputInputSerializer(many=True, required=False)
    outputs = OutputInputSerializer(many=True, required=False)


class OperationTreeInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(**_TEXT)
    phases = PhaseTreeInputSerializer(many=True, required=False)


class UnitProcedureTreeInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(**_TEXT)
    operations = OperationTreeInputSerializer(many=True, required=False)


class VersionTreeInputSerializer(VersionHeaderInputSerializer):
    """The content of a draft, in the shape GET .../tree/ answers (recipe, product and version
    number there are informational and ignored here)."""

    unit_procedures = UnitProcedureTreeInputSerializer(many=True)


class SignInputSerializer(SignatureInputSerializer):
    """Every signing asks for user ID and password (21 CFR 11.200(a)), and takes a reason."""


def plain(data: Any) -> Any:
    """Validated nested data as plain dicts and lists."""
    if isinstance(data, dict):
        return {k: plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [plain(v) for v in data]
    return data
