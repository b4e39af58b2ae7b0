"""ISA-88 master recipes.

    MasterRecipe (one product)
      └ RecipeVersion (the procedure; number, status, batch size range, author)
          └ UnitProcedure (ordered)
              └ Operation (ordered)
                  └ Phase (ordered; instructions, hold times, verification, equipment need)
                      ├ PhaseParameter (process parameter with limits)
                      ├ PhaseInput (material per reference batch size, tolerance, scalable)
                      └ PhaseOutput (product / by-product with its expected yield range)

Only a draft version is edited, and only through recipes.services. The structural position of
every element ("UP1/OP2/PH3") is its `position` within its parent, unique and gapless.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Now
from simple_history.models import HistoricalRecords

from equipment.choices import InstrumentKind
from genealogy.choices import UnitOfMeasure
from mes.audit.registry import audited
from mes.exceptions import InvalidTransition
from recipes.choices import (
    EDITABLE_STATUSES,
    OPEN_STATUSES,
    VERSION_STATUS_TRANSITIONS,
    OutputKind,
    ParameterDataType,
    RecipeEventType,
    RecipeVersionStatus,
)

QUANTITY = {"max_digits": 18, "decimal_places": 6}
PERCENT = {"max_digits": 7, "decimal_places": 3}
VALUE = {"max_digits": 18, "decimal_places": 6}


@audited(deletable=False)
class MasterRecipe(models.Model):
    """A master recipe: how one product is made. Its versions carry the content."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    product = models.ForeignKey("genealogy.Material", on_delete=models.PROTECT, related_name="+")
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        default_permissions = ("add", "change", "view")
        constraints = [
            models.UniqueConstraint(Lower("code"), name="recipes_recipe_code_ci_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@audited(deletable=False)
class RecipeVersion(models.Model):
    """One version of a master recipe: the ISA-88 procedure with its formula."""

    recipe = models.ForeignKey(MasterRecipe, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=12,
        choices=RecipeVersionStatus.choices,
        default=RecipeVersionStatus.DRAFT,
        editable=False,
    )
    batch_size_min = models.DecimalField(**QUANTITY)
    batch_size_max = models.DecimalField(**QUANTITY)
    batch_size_reference = models.DecimalField(
        **QUANTITY, help_text="The batch size that input and output quantities are given for."
    )
    batch_size_uom = models.CharField(max_length=8, choices=UnitOfMeasure.choices)
    description = models.TextField(blank=True, default="")
    change_summary = models.TextField(
        blank=True, default="", help_text="What changed compared with the version it is based on."
    )
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    superseded_at = models.DateTimeField(null=True, blank=True, editable=False)
    superseded_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    obsoleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    obsoleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    obsolete_reason = models.TextField(blank=True, default="", editable=False)
    rejection_reason = models.TextField(
        blank=True, default="", editable=False, help_text="The last reviewer's rejection reason."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["recipe__code", "-number"]
        default_permissions = ("add", "change", "view")
        permissions = [
            ("author_recipeversion", "Can author recipe versions (edit drafts, submit)"),
            ("review_recipeversion", "Can approve, reject and make obsolete recipe versions"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipe", "number"], name="recipes_version_number_per_recipe"
            ),
            models.UniqueConstraint(
                fields=["recipe"],
                condition=Q(status=RecipeVersionStatus.APPROVED),
                name="recipes_one_approved_version_per_recipe",
            ),
            models.UniqueConstraint(
                fields=["recipe"],
                condition=Q(status__in=sorted(OPEN_STATUSES)),
                name="recipes_one_open_version_per_recipe",
            ),
            models.CheckConstraint(
                condition=Q(status__in=RecipeVersionStatus.values),
                name="recipes_version_status_valid",
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="recipes_version_number_min"),
            models.CheckConstraint(
                condition=Q(batch_size_min__gt=0), name="recipes_version_batch_min_positive"
            ),
            models.CheckConstraint(
                condition=Q(batch_size_min__lte=F("batch_size_reference"))
                & Q(batch_size_reference__lte=F("batch_size_max")),
                name="recipes_version_batch_reference_in_range",
            ),
            models.CheckConstraint(
                condition=Q(batch_size_uom__in=UnitOfMeasure.values),
                name="recipes_version_batch_uom_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status=RecipeVersionStatus.APPROVED)
                | Q(approved_at__isnull=False, approved_by__isnull=False),
                name="recipes_version_approved_has_approver",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipe.code} v{self.number}"

    @property
    def label(self) -> str:
        return f"version {self.number} of {self.recipe.code}"

    @property
    def title(self) -> str:
        return f"Version {self.number} of {self.recipe.code}"

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES

    def can_become(self, status: str) -> bool:
        return status in VERSION_STATUS_TRANSITIONS[self.status]

    def ensure_can_become(self, status: str) -> None:
        if not self.can_become(status):
            raise InvalidTransition(
                f"{self.title} is {self.get_status_display().lower()}: it cannot "
                f"become {RecipeVersionStatus(status).label.lower()}.",
                code="recipe_version_invalid_transition",
            )

    # --- e-signatures (mes.esign) --------------------------------------------------------

    def signature_author(self) -> object:
        return self.author

    def signature_content(self) -> dict:
        """The whole version tree; the lifecycle fields are left out so that a later
        supersession does not void the approval signature, while any edit of the content
        would."""
        from recipes.content import version_content

        return version_content(self)


@audited()
class UnitProcedure(models.Model):
    version = models.ForeignKey(
        RecipeVersion, on_delete=models.PROTECT, related_name="unit_procedures"
    )
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        ordering = ["version", "position"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["version", "position"], name="recipes_up_position_per_version"
            ),
            models.CheckConstraint(condition=Q(position__gte=1), name="recipes_up_position_min"),
        ]

    def __str__(self) -> str:
        return f"UP{self.position} {self.name}"

    @property
    def path(self) -> str:
        return f"UP{self.position}"


@audited()
class Operation(models.Model):
    unit_procedure = models.ForeignKey(
        UnitProcedure, on_delete=models.PROTECT, related_name="operations"
    )
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        ordering = ["unit_procedure", "position"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["unit_procedure", "position"], name="recipes_op_position_per_up"
            ),
            models.CheckConstraint(condition=Q(position__gte=1), name="recipes_op_position_min"),
        ]

    def __str__(self) -> str:
        return f"OP{self.position} {self.name}"


@audited()
class Phase(models.Model):
    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="phases")
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    instructions = models.TextField(blank=True, default="")
    can_run_parallel_with_previous = models.BooleanField(default=False)
    hold_min_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Shortest time the phase must last (hold), in minutes."
    )
    hold_max_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Longest time allowed (hold-time limit), in minutes."
    )
    requires_verification = models.BooleanField(
        default=False, help_text="A second person verifies the phase on completion."
    )
    is_critical = models.BooleanField(
        default=False, help_text="A critical step: always verified by a second person."
    )
    equipment_class = models.ForeignKey(
        "equipment.EquipmentClass",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    min_volume_l = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    capabilities = models.ManyToManyField("equipment.Capability", blank=True, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["operation", "position"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "position"], name="recipes_phase_position_per_op"
            ),
            models.CheckConstraint(condition=Q(position__gte=1), name="recipes_phase_position_min"),
            models.CheckConstraint(
                condition=Q(hold_min_minutes__isnull=True)
                | Q(hold_max_minutes__isnull=True)
                | Q(hold_min_minutes__lte=F("hold_max_minutes")),
                name="recipes_phase_hold_min_le_max",
            ),
            models.CheckConstraint(
                condition=Q(is_critical=False) | Q(requires_verification=True),
                name="recipes_phase_critical_is_verified",
            ),
            models.CheckConstraint(
                condition=Q(min_volume_l__isnull=True)
                | Q(min_volume_l__gt=0, equipment_class__isnull=False),
                name="recipes_phase_volume_needs_class",
            ),
        ]

    def __str__(self) -> str:
        return f"PH{self.position} {self.name}"


@audited()
class PhaseParameter(models.Model):
    """A process parameter captured in the phase: a number with target and limits, a text,
    a yes/no or a choice among `choices`."""

    phase = models.ForeignKey(Phase, on_delete=models.PROTECT, related_name="parameters")
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=80)
    unit = models.CharField(max_length=20, blank=True, default="")
    data_type = models.CharField(
        max_length=8, choices=ParameterDataType.choices, default=ParameterDataType.NUMBER
    )
    choices = models.JSONField(default=list, blank=True)
    target = models.DecimalField(**VALUE, null=True, blank=True)
    low_limit = models.DecimalField(**VALUE, null=True, blank=True)
    high_limit = models.DecimalField(**VALUE, null=True, blank=True)
    expected_text = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="Yes/no and choice: the expected answer (another answer is a deviation).",
    )
    is_required = models.BooleanField(default=True)
    instrument_required = models.BooleanField(
        default=False, help_text="The value must name a registered, calibrated instrument."
    )
    instrument_kind = models.CharField(
        max_length=30, choices=InstrumentKind.choices, blank=True, default=""
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["phase", "position"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["phase", "position"], name="recipes_param_position_per_phase"
            ),
            models.UniqueConstraint(fields=["phase", "name"], name="recipes_param_name_per_phase"),
            models.CheckConstraint(condition=Q(position__gte=1), name="recipes_param_position_min"),
            models.CheckConstraint(
                condition=Q(data_type__in=ParameterDataType.values),
                name="recipes_param_data_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(data_type=ParameterDataType.NUMBER)
                | Q(target__isnull=True, low_limit__isnull=True, high_limit__isnull=True),
                name="recipes_param_limits_only_for_numbers",
            ),
            models.CheckConstraint(
                condition=Q(low_limit__isnull=True)
                | Q(high_limit__isnull=True)
                | Q(low_limit__lte=F("high_limit")),
                name="recipes_param_low_le_high",
            ),
            models.CheckConstraint(
                condition=Q(target__isnull=True)
                | (
                    (Q(low_limit__isnull=True) | Q(low_limit__lte=F("target")))
                    & (Q(high_limit__isnull=True) | Q(target__lte=F("high_limit")))
                ),
                name="recipes_param_target_within_limits",
            ),
            models.CheckConstraint(
                condition=Q(instrument_required=False) | Q(data_type=ParameterDataType.NUMBER),
                name="recipes_param_instrument_only_for_numbers",
            ),
            models.CheckConstraint(
                condition=Q(instrument_required=True) | Q(instrument_kind=""),
                name="recipes_param_instrument_kind_needs_instrument",
            ),
        ]

    def __str__(self) -> str:
        return self.name


@audited()
class PhaseInput(models.Model):
    """A material charged in the phase: `quantity` is for the reference batch size; a
    scalable input scales with the batch size, a fixed one does not."""

    phase = models.ForeignKey(Phase, on_delete=models.PROTECT, related_name="inputs")
    position = models.PositiveIntegerField()
    material = models.ForeignKey("genealogy.Material", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    uom = models.CharField(max_length=8, choices=UnitOfMeasure.choices)
    tolerance_pct = models.DecimalField(**PERCENT)
    is_scalable = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        ordering = ["phase", "position"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["phase", "position"], name="recipes_input_position_per_phase"
            ),
            models.UniqueConstraint(
                fields=["phase", "material"], name="recipes_input_material_per_phase"
            ),
            models.CheckConstraint(condition=Q(position__gte=1), name="recipes_input_position_min"),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="recipes_input_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(tolerance_pct__gte=0, tolerance_pct__lte=100),
                name="recipes_input_tolerance_range",
            ),
            models.CheckConstraint(
                condition=Q(uom__in=UnitOfMeasure.values), name="recipes_input_uom_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.material_id}: {self.quantity} {self.uom}"


@audited()
class PhaseOutput(models.Model):
    """What the phase produces: the product or a by-product, with the quantity expected at
    the reference batch size (it scales) and the accepted yield range in % of it."""

    phase = models.ForeignKey(Phase, on_delete=models.PROTECT, related_name="outputs")
    position = models.PositiveIntegerField()
    material = models.ForeignKey("genealogy.Material", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=OutputKind.choices, default=OutputKind.PRODUCT)
    expected_quantity = models.DecimalField(**QUANTITY)
    uom = models.CharField(max_length=8, choices=UnitOfMeasure.choices)
    yield_low_pct = models.DecimalField(**PERCENT)
    yield_high_pct = models.DecimalField(**PERCENT)
    history = HistoricalRecords()

    class Meta:
        ordering = ["phase", "position"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["phase", "position"], name="recipes_output_position_per_phase"
            ),
            models.UniqueConstraint(
                fields=["phase", "material"], name="recipes_output_material_per_phase"
            ),
            models.CheckConstraint(
                condition=Q(position__gte=1), name="recipes_output_position_min"
            ),
            models.CheckConstraint(
                condition=Q(expected_quantity__gt=0), name="recipes_output_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(yield_low_pct__gte=0) & Q(yield_low_pct__lte=F("yield_high_pct")),
                name="recipes_output_yield_range_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=OutputKind.values), name="recipes_output_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(uom__in=UnitOfMeasure.values), name="recipes_output_uom_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.material_id}"


@audited(append_only=True)
class RecipeEvent(models.Model):
    """One step of a recipe's life (created, submitted, approved...). Immutable."""

    recipe = models.ForeignKey(MasterRecipe, on_delete=models.PROTECT, related_name="events")
    version = models.ForeignKey(
        RecipeVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    type = models.CharField(max_length=40, choices=RecipeEventType.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(db_default=Now())
    reason = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=RecipeEventType.values), name="recipes_event_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.recipe_id}/{self.version_id}"
