"""Value sets of recipes: the version status with its transition table, parameter data types,
output kinds and the event types of the version workflow."""

from django.db import models


class RecipeVersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    SUPERSEDED = "superseded", "Superseded"
    OBSOLETE = "obsolete", "Obsolete"


# Each move is one service and one e-signature, except approved -> superseded, which happens
# inside the approval of the next version (its approval signature covers it).
VERSION_STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    RecipeVersionStatus.DRAFT: frozenset(
        {RecipeVersionStatus.IN_REVIEW, RecipeVersionStatus.OBSOLETE}
    ),
    RecipeVersionStatus.IN_REVIEW: frozenset(
        {RecipeVersionStatus.APPROVED, RecipeVersionStatus.DRAFT}
    ),
    RecipeVersionStatus.APPROVED: frozenset(
        {RecipeVersionStatus.SUPERSEDED, RecipeVersionStatus.OBSOLETE}
    ),
    RecipeVersionStatus.SUPERSEDED: frozenset({RecipeVersionStatus.OBSOLETE}),
    RecipeVersionStatus.OBSOLETE: frozenset(),
}

# Only a draft may be edited; everything else is frozen (a new version is the way to change).
EDITABLE_STATUSES: frozenset[str] = frozenset({RecipeVersionStatus.DRAFT})
# At most one version per recipe is being worked on (draft or in review).
OPEN_STATUSES: frozenset[str] = frozenset(
    {RecipeVersionStatus.DRAFT, RecipeVersionStatus.IN_REVIEW}
)


class ParameterDataType(models.TextChoices):
    NUMBER = "number", "Number"
    TEXT = "text", "Text"
    YES_NO = "yes_no", "Yes / no"
    CHOICE = "choice", "Choice"


YES_NO_VALUES: tuple[str, str] = ("yes", "no")


class OutputKind(models.TextChoices):
    PRODUCT = "product", "Product"
    BY_PRODUCT = "by_product", "By-product"


class RecipeEventType(models.TextChoices):
    RECIPE_CREATED = "recipe.created", "Recipe created"
    VERSION_CREATED = "version.created", "Version created"
    VERSION_TREE_REPLACED = "version.tree_replaced", "Structure replaced"
    VERSION_SUBMITTED = "version.submitted", "Submitted for review"
    VERSION_APPROVED = "version.approved", "Approved"
    VERSION_REJECTED = "version.rejected", "Rejected (back to draft)"
    VERSION_SUPERSEDED = "version.superseded", "Superseded"
    VERSION_OBSOLETED = "version.obsoleted", "Made obsolete"
