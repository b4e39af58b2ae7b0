"""Reads of recipes: lists for the back office, the version tree prefetched for the editor,
what a batch may use, completeness of a draft."""

from typing import Any

from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery

from genealogy.models import Material
from mes.esign.selectors import signatures_for_record
from mes.exceptions import NotFound
from recipes.choices import OPEN_STATUSES, OutputKind, RecipeVersionStatus
from recipes.content import iter_phases, version_content
from recipes.exceptions import RecipeVersionNotUsable
from recipes.models import (
    MasterRecipe,
    Operation,
    Phase,
    PhaseInput,
    PhaseOutput,
    PhaseParameter,
    RecipeEvent,
    RecipeVersion,
    UnitProcedure,
)

PERM_VIEW = "recipes.view_masterrecipe"


def can_view_recipes(actor: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False) and actor.has_perm(PERM_VIEW))


def can_author_recipes(actor: Any) -> bool:
    return bool(
        getattr(actor, "is_authenticated", False) and actor.has_perm("recipes.author_recipeversion")
    )


def can_review_recipes(actor: Any) -> bool:
    return bool(
        getattr(actor, "is_authenticated", False) and actor.has_perm("recipes.review_recipeversion")
    )


def _status_subquery(status: str, field: str = "number") -> Subquery:
    return Subquery(
        RecipeVersion.objects.filter(recipe=OuterRef("pk"), status=status).values(field)[:1]
    )


def recipe_list(*, actor: Any, q: str = "") -> QuerySet[MasterRecipe]:
    """Recipes the actor may see, each annotated with `approved_number`, `open_number`,
    `open_status` and `version_count`."""
    if not can_view_recipes(actor):
        return MasterRecipe.objects.none()
    qs = MasterRecipe.objects.select_related("product").annotate(
        approved_number=_status_subquery(RecipeVersionStatus.APPROVED),
        open_number=Subquery(
            RecipeVersion.objects.filter(recipe=OuterRef("pk"), status__in=OPEN_STATUSES).values(
                "number"
            )[:1]
        ),
        open_status=Subquery(
            RecipeVersion.objects.filter(recipe=OuterRef("pk"), status__in=OPEN_STATUSES).values(
                "status"
            )[:1]
        ),
        version_count=Count("versions"),
    )
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q) | Q(product__code__icontains=q))
    return qs.order_by("code")


def recipe_get(*, actor: Any, pk: int) -> MasterRecipe:
    try:
        return recipe_list(actor=actor).get(pk=pk)
    except MasterRecipe.DoesNotExist:
        raise NotFound("No such recipe.", code="recipe_not_found") from None


def recipe_version_list(
    *, actor: Any, recipe: MasterRecipe | None = None, status: str | None = None
) -> QuerySet[RecipeVersion]:
    if not can_view_recipes(actor):
        return RecipeVersion.objects.none()
    qs = RecipeVersion.objects.select_related(
        "recipe", "recipe__product", "author", "approved_by", "submitted_by"
    )
    if recipe is not None:
        qs = qs.filter(recipe=recipe)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("recipe__code", "-number")


def recipe_version_get(*, actor: Any, pk: int) -> RecipeVersion:
    try:
        return recipe_version_list(actor=actor).get(pk=pk)
    except RecipeVersion.DoesNotExist:
        raise NotFound("No such recipe version.", code="recipe_version_not_found") from None


def review_queue(*, actor: Any) -> QuerySet[RecipeVersion]:
    """Versions waiting for a reviewer."""
    return recipe_version_list(actor=actor, status=RecipeVersionStatus.IN_REVIEW)


# --- what a batch may use --------------------------------------------------------------------


def recipe_version_current_approved(recipe: MasterRecipe | int) -> RecipeVersion | None:
    """The one approved version of the recipe (the only one a new batch may use), or None."""
    recipe_id = recipe.pk if isinstance(recipe, MasterRecipe) else recipe
    return (
        RecipeVersion.objects.select_related("recipe", "recipe__product")
        .filter(recipe_id=recipe_id, status=RecipeVersionStatus.APPROVED)
        .first()
    )


def recipe_version_for_batch(version_id: int) -> RecipeVersion:
    """The version, if it is the current approved version of its recipe; otherwise a clear
    refusal (409 `recipe_version_not_usable`) naming the version to use instead."""
    version = (
        RecipeVersion.objects.select_related("recipe", "recipe__product")
        .filter(pk=version_id)
        .first()
    )
    if version is None:
        raise NotFound(
            f"There is no recipe version #{version_id}.", code="recipe_version_not_found"
        )
    if version.status == RecipeVersionStatus.APPROVED:
        return version
    current = recipe_version_current_approved(version.recipe_id)
    state = version.get_status_display().lower()
    if current is None:
        tail = f"{version.recipe.code} has no approved version"
    else:
        tail = f"the current approved version is {current.number}"
    raise RecipeVersionNotUsable(
        f"Version {version.number} of {version.recipe.code} is {state}; {tail}. Only the "
        "current approved version can be used for a new batch."
    )


# --- review ----------------------------------------------------------------------------------


def recipe_version_baseline(version: RecipeVersion) -> RecipeVersion | None:
    """What a reviewer compares `version` with: the approved version it replaces (or
    replaced), else the version it was copied from."""
    if version.status in (RecipeVersionStatus.APPROVED, RecipeVersionStatus.SUPERSEDED):
        replaced = (
            RecipeVersion.objects.select_related("recipe").filter(superseded_by=version).first()
        )
        if replaced is not None:
            return replaced
    elif version.status in OPEN_STATUSES:
        current = recipe_version_current_approved(version.recipe_id)
        if current is not None and current.pk != version.pk:
            return current
    if version.based_on_id:
        return RecipeVersion.objects.select_related("recipe").get(pk=version.based_on_id)
    return None


def recipe_version_problems(version: RecipeVersion) -> list[str]:
    """Why the version cannot be submitted (or approved) yet; empty when complete."""
    content = version_content(version)
    recipe = version.recipe
    problems: list[str] = []
    if not content["unit_procedures"]:
        problems.append("The version has no unit procedure.")
    for u, up in enumerate(content["unit_procedures"], 1):
        if not up["operations"]:
            problems.append(f"UP{u}: the unit procedure has no operation.")
        classes = set()
        for o, op in enumerate(up["operations"], 1):
            if not op["phases"]:
                problems.append(f"UP{u}/OP{o}: the operation has no phase.")
            elif op["phases"][0]["can_run_parallel_with_previous"]:
                problems.append(
                    f"UP{u}/OP{o}/PH1: the first phase of an operation has no previous phase "
                    "to run in parallel with."
                )
            for ph in op["phases"]:
                if ph["equipment_class"]:
                    classes.add(ph["equipment_class"])
        if len(classes) > 1:
            problems.append(
                f"UP{u}: its phases ask for different equipment classes "
                f"({', '.join(sorted(classes))}); a unit procedure runs in one unit."
            )
    products = []
    codes = set()
    for path, ph in iter_phases(content):
        if not ph["instructions"]:
            problems.append(f"{path}: the phase has no operator instructions.")
        for output in ph["outputs"]:
            codes.add(output["material"])
            if output["kind"] == OutputKind.PRODUCT:
                products.append((path, output))
        for item in ph["inputs"]:
            codes.add(item["material"])
    if not products:
        problems.append(f"No phase produces the product {recipe.product.code}.")
    elif len(products) > 1:
        problems.append(
            "More than one phase output is the product ("
            + ", ".join(path for path, _ in products)
            + "); mark the others as by-products."
        )
    for path, output in products:
        if output["material"] != recipe.product.code:
            problems.append(
                f"{path}: the product output is {output['material']}, but the recipe makes "
                f"{recipe.product.code}."
            )
    for code in sorted(
        Material.objects.filter(code__in=codes, is_active=False).values_list("code", flat=True)
    ):
        problems.append(f"The material {code} is inactive.")
    if version.number > 1 and not version.change_summary.strip():
        problems.append("Say what changed in this version (change summary).")
    return problems


# --- the editor ------------------------------------------------------------------------------


def recipe_version_tree(version: RecipeVersion) -> list[UnitProcedure]:
    """The unit procedures of the version with operations, phases and their parameters,
    inputs, outputs and capabilities prefetched (a fixed number of queries)."""
    phases = Phase.objects.select_related("equipment_class").prefetch_related(
        Prefetch("parameters", queryset=PhaseParameter.objects.order_by("position")),
        Prefetch(
            "inputs", queryset=PhaseInput.objects.select_related("material").order_by("position")
        ),
        Prefetch(
            "outputs", queryset=PhaseOutput.objects.select_related("material").order_by("position")
        ),
        "capabilities",
    )
    operations = Operation.objects.prefetch_related(
        Prefetch("phases", queryset=phases.order_by("position"))
    )
    return list(
        UnitProcedure.objects.filter(version=version)
        .prefetch_related(Prefetch("operations", queryset=operations.order_by("position")))
        .order_by("position")
    )


def phase_for_editor(pk: int) -> Phase:
    return (
        Phase.objects.select_related(
            "equipment_class", "operation", "operation__unit_procedure__version__recipe__product"
        )
        .prefetch_related(
            Prefetch("parameters", queryset=PhaseParameter.objects.order_by("position")),
            Prefetch(
                "inputs",
                queryset=PhaseInput.objects.select_related("material").order_by("position"),
            ),
            Prefetch(
                "outputs",
                queryset=PhaseOutput.objects.select_related("material").order_by("position"),
            ),
            "capabilities",
        )
        .get(pk=pk)
    )


def recipe_version_signatures(version: RecipeVersion) -> list:
    return signatures_for_record(version)


def recipe_events(*, recipe: MasterRecipe) -> QuerySet[RecipeEvent]:
    return RecipeEvent.objects.filter(recipe=recipe).select_related("actor", "version")


def recipe_version_counts(version: RecipeVersion) -> dict[str, int]:
    """How big the version is (for the list and the review header)."""
    in_version = {"phase__operation__unit_procedure__version": version}
    return {
        "unit_procedures": UnitProcedure.objects.filter(version=version).count(),
        "operations": Operation.objects.filter(unit_procedure__version=version).count(),
        "phases": Phase.objects.filter(operation__unit_procedure__version=version).count(),
        "parameters": PhaseParameter.objects.filter(**in_version).count(),
        "inputs": PhaseInput.objects.filter(**in_version).count(),
        "outputs": PhaseOutput.objects.filter(**in_version).count(),
    }
