"""Every change of a recipe: authoring a draft, the version workflow with its e-signatures,
and "new version".

Rules that hold for every caller (pages, API, demo, commands):
- only a draft is edited; an approved, superseded, obsolete or in-review version refuses every
  edit with 409 `recipe_version_not_editable`;
- edits of one version are serialised by a lock on the version row; positions stay gapless;
- transitions follow recipes.choices.VERSION_STATUS_TRANSITIONS, each one signed
  (mes.esign.record_sign) in the same transaction as the change and an append-only
  RecipeEvent; approving version N+1 supersedes N under a lock on the recipe row;
- the approver is neither the version's author (policy author_may_sign=False) nor the person
  who submitted it (policy distinct_from=["submitted"]).

Signing is two calls: the page or API view calls `mes.esign.services.signer_authenticate`
outside any transaction and passes the AuthenticatedSigner here.
"""

from collections.abc import Iterable
from typing import Any

from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from genealogy.models import Material
from mes.audit.context import acting_as, current_context
from mes.esign.models import Meaning
from mes.esign.services import AuthenticatedSigner, record_sign
from mes.exceptions import InvalidInput, NotAuthorized, NotFound, SignatureRefused
from recipes import signals
from recipes.choices import (
    OPEN_STATUSES,
    RecipeEventType,
    RecipeVersionStatus,
)
from recipes.content import version_content
from recipes.exceptions import (
    RecipeIncomplete,
    RecipeInvalid,
    RecipeOpenVersionExists,
    RecipeVersionNotEditable,
)
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
from recipes.validation import (
    Lookups,
    clean_header,
    clean_input,
    clean_named,
    clean_output,
    clean_parameter,
    clean_phase,
    text,
)

PERM_ADD_RECIPE = "recipes.add_masterrecipe"
PERM_CHANGE_RECIPE = "recipes.change_masterrecipe"
PERM_AUTHOR = "recipes.author_recipeversion"
PERM_REVIEW = "recipes.review_recipeversion"
_PARKED = 1_000_000  # temporary positions while renumbering (positions are unique per parent)


# --- helpers ---------------------------------------------------------------------------------


def _require(actor: Any, permission: str, action: str) -> None:
    if actor is None or not getattr(actor, "is_active", False) or not actor.has_perm(permission):
        role = "Recipe Author" if permission != PERM_REVIEW else "QA Reviewer"
        raise NotAuthorized(f"You may not {action}: it needs the {role} role.")


def _request_id() -> str:
    ctx = current_context()
    return ctx.request_id if ctx is not None else ""


def _save(obj: models.Model, actor: Any, reason: str, **kwargs: Any) -> None:
    obj._history_user = actor  # type: ignore[attr-defined]
    obj._change_reason = reason  # type: ignore[attr-defined]
    obj.save(**kwargs)


def _delete(obj: models.Model, actor: Any, reason: str) -> None:
    obj._history_user = actor  # type: ignore[attr-defined]
    obj._change_reason = reason  # type: ignore[attr-defined]
    obj.delete()


def _event(
    *,
    recipe: MasterRecipe,
    version: RecipeVersion | None,
    type_: str,
    actor: Any,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> RecipeEvent:
    event = RecipeEvent(
        recipe=recipe,
        version=version,
        type=type_,
        actor=actor,
        reason=reason,
        data=data or {},
        request_id=_request_id(),
    )
    event.save()
    return event


def _check_signer(actor: Any, signer: AuthenticatedSigner) -> None:
    if not isinstance(signer, AuthenticatedSigner):
        raise SignatureRefused(
            "A signature needs your user ID and password.", code="signature_not_authenticated"
        )
    if getattr(signer.user, "pk", None) != getattr(actor, "pk", None):
        raise SignatureRefused(
            "The signature must be yours: the signer is not the acting user.",
            code="signature_wrong_user",
        )


def _reason(reason: str, *, required: bool, what: str) -> str:
    reason = (reason or "").strip()
    if required and len(reason) < 3:
        raise InvalidInput(f"Give a reason to {what}.", code="reason_required")
    if len(reason) > 2000:
        raise InvalidInput("The reason is longer than 2000 characters.")
    return reason


def _lock_version(version: RecipeVersion | int) -> RecipeVersion:
    pk = version.pk if isinstance(version, RecipeVersion) else version
    try:
        return (
            RecipeVersion.objects.select_for_update(of=("self",))
            .select_related("recipe", "recipe__product")
            .get(pk=pk)
        )
    except RecipeVersion.DoesNotExist:
        raise NotFound(f"There is no recipe version #{pk}.") from None


def _editable(actor: Any, version: RecipeVersion | int) -> RecipeVersion:
    """Check the author's right, lock the version row and refuse unless it is a draft."""
    _require(actor, PERM_AUTHOR, "edit recipe versions")
    locked = _lock_version(version)
    if not locked.is_editable:
        status = locked.get_status_display().lower()
        hint = (
            "Reject it back to draft to change it."
            if locked.status == RecipeVersionStatus.IN_REVIEW
            else "Create a new version to change it."
        )
        raise RecipeVersionNotEditable(f"{locked.title} is {status}: it cannot be edited. {hint}")
    return locked


def _refetch(model: type[models.Model], pk: int, what: str) -> Any:
    try:
        return model.objects.get(pk=pk)
    except model.DoesNotExist:
        raise NotFound(f"The {what} no longer exists (removed by someone else?).") from None


def _renumber(items: list[Any], actor: Any, reason: str) -> None:
    """Give `items` (siblings, in their new order) the positions 1..n, in two passes so that
    the unique (parent, position) constraint holds at every statement."""
    changed = [(n, item) for n, item in enumerate(items, 1) if item.position != n]
    for n, item in changed:
        item.position = _PARKED + n
        _save(item, actor, reason, update_fields=["position"])
    for n, item in changed:
        item.position = n
        _save(item, actor, reason, update_fields=["position"])


def _place(siblings: list[Any], item: Any, position: int | None) -> list[Any]:
    """`siblings` without `item`, then `item` inserted at `position` (1-based, clamped;
    None: at the end)."""
    order = [s for s in siblings if s.pk != item.pk]
    index = len(order) if position is None else max(0, min(int(position) - 1, len(order)))
    order.insert(index, item)
    return order


def _next_position(queryset: models.QuerySet) -> int:
    return (queryset.aggregate(m=Max("position"))["m"] or 0) + 1


def _as_position(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"The position {value!r} is not a whole number.") from None


# --- paths of elements (as in the diff: "UP1/OP2/PH3") --------------------------------------


def phase_path(phase: Phase) -> str:
    op = phase.operation
    return f"UP{op.unit_procedure.position}/OP{op.position}/PH{phase.position}"


def operation_path(operation: Operation) -> str:
    return f"UP{operation.unit_procedure.position}/OP{operation.position}"


# --- building a tree (copy, import) ---------------------------------------------------------


def _create_phase(
    *,
    operation: Operation,
    position: int,
    values: dict[str, Any],
    actor: Any,
    reason: str,
) -> Phase:
    capabilities = values.pop("capabilities", [])
    phase = Phase(operation=operation, position=position, **values)
    _save(phase, actor, reason)
    if capabilities:
        phase.capabilities.set(capabilities)
    return phase


def _build_phase_children(
    *, phase: Phase, data: dict[str, Any], path: str, lookups: Lookups, actor: Any, reason: str
) -> None:
    names: set[str] = set()
    for n, raw in enumerate(data.get("parameters") or [], 1):
        where = f"{path}.parameters[{(raw or {}).get('name') or n}]"
        values = clean_parameter(raw or {}, path=where)
        if values["name"].lower() in names:
            raise RecipeInvalid(
                f"The parameter {values['name']!r} appears twice in the phase.",
                field="name",
                path=path,
            )
        names.add(values["name"].lower())
        _save(PhaseParameter(phase=phase, position=n, **values), actor, reason)
    for key, cleaner, model in (
        ("inputs", clean_input, PhaseInput),
        ("outputs", clean_output, PhaseOutput),
    ):
        seen: set[int] = set()
        for n, raw in enumerate(data.get(key) or [], 1):
            where = f"{path}.{key}[{(raw or {}).get('material') or n}]"
            values = cleaner(raw or {}, lookups=lookups, path=where)
            if values["material"].pk in seen:
                raise RecipeInvalid(
                    f"{values['material'].code} is listed twice in the {key} of the phase.",
                    field="material",
                    path=path,
                )
            seen.add(values["material"].pk)
            _save(model(phase=phase, position=n, **values), actor, reason)


def _build_tree(*, version: RecipeVersion, tree: dict[str, Any], actor: Any, reason: str) -> None:
    """Create the unit procedures (and everything below) of `tree` in the empty `version`."""
    lookups = Lookups()
    codes = []
    for up in tree.get("unit_procedures") or []:
        for op in (up or {}).get("operations") or []:
            for ph in (op or {}).get("phases") or []:
                for item in [*((ph or {}).get("inputs") or []), *((ph or {}).get("outputs") or [])]:
                    if isinstance((item or {}).get("material"), str):
                        codes.append(item["material"])
    lookups.preload_materials(codes)
    for u, up_data in enumerate(tree.get("unit_procedures") or [], 1):
        up_path = f"UP{u}"
        unit_procedure = UnitProcedure(
            version=version,
            position=u,
            **clean_named(up_data or {}, what="unit procedure", path=up_path),
        )
        _save(unit_procedure, actor, reason)
        for o, op_data in enumerate((up_data or {}).get("operations") or [], 1):
            op_path = f"{up_path}/OP{o}"
            operation = Operation(
                unit_procedure=unit_procedure,
                position=o,
                **clean_named(op_data or {}, what="operation", path=op_path),
            )
            _save(operation, actor, reason)
            for p, ph_data in enumerate((op_data or {}).get("phases") or [], 1):
                ph_path = f"{op_path}/PH{p}"
                values = clean_phase(ph_data or {}, lookups=lookups, path=ph_path)
                phase = _create_phase(
                    operation=operation, position=p, values=values, actor=actor, reason=reason
                )
                _build_phase_children(
                    phase=phase,
                    data=ph_data or {},
                    path=ph_path,
                    lookups=lookups,
                    actor=actor,
                    reason=reason,
                )


def _delete_phases(phases: Iterable[Phase], actor: Any, reason: str) -> None:
    for phase in phases:
        for model in (PhaseParameter, PhaseInput, PhaseOutput):
            for child in model.objects.filter(phase=phase):
                _delete(child, actor, reason)
        phase.capabilities.clear()
        _delete(phase, actor, reason)


def _delete_operations(operations: Iterable[Operation], actor: Any, reason: str) -> None:
    for operation in operations:
        _delete_phases(list(operation.phases.all()), actor, reason)
        _delete(operation, actor, reason)


def _delete_tree(version: RecipeVersion, actor: Any, reason: str) -> None:
    for unit_procedure in version.unit_procedures.all():
        _delete_operations(list(unit_procedure.operations.all()), actor, reason)
        _delete(unit_procedure, actor, reason)


# --- master recipes and versions -------------------------------------------------------------


@transaction.atomic
def master_recipe_create(
    *,
    actor: Any,
    code: str,
    name: str,
    product: Material | str | int,
    batch_size_min: Any,
    batch_size_max: Any,
    batch_size_reference: Any,
    batch_size_uom: str | None = None,
    description: str = "",
) -> MasterRecipe:
    """A new master recipe for `product`, with version 1 as an empty draft."""
    _require(actor, PERM_ADD_RECIPE, "create recipes")
    _require(actor, PERM_AUTHOR, "create recipes")
    code = text(code, field="code", label="recipe code", max_length=40, required=True).upper()
    if any(c.isspace() for c in code):
        raise RecipeInvalid("The recipe code may not contain spaces.", field="code")
    name = text(name, field="name", label="recipe name", max_length=200, required=True)
    product = Lookups().material(product, field="product")
    header = clean_header(
        {
            "batch_size_min": batch_size_min,
            "batch_size_max": batch_size_max,
            "batch_size_reference": batch_size_reference,
            "batch_size_uom": batch_size_uom,
        },
        product=product,
    )
    if MasterRecipe.objects.filter(code__iexact=code).exists():
        raise RecipeInvalid(
            f"A recipe {code} exists already.", field="code", code="duplicate_recipe"
        )
    with acting_as(actor, reason=f"create recipe {code}"):
        recipe = MasterRecipe(
            code=code,
            name=name,
            product=product,
            description=text(
                description, field="description", label="description", max_length=5000
            ),
            created_by=actor,
        )
        _save(recipe, actor, "recipe created")
        version = RecipeVersion(recipe=recipe, number=1, author=actor, **header)
        _save(version, actor, "version 1 created")
        _event(recipe=recipe, version=None, type_=RecipeEventType.RECIPE_CREATED, actor=actor)
        _event(
            recipe=recipe,
            version=version,
            type_=RecipeEventType.VERSION_CREATED,
            actor=actor,
            data={"number": 1, "based_on": None},
        )
    return recipe


@transaction.atomic
def master_recipe_update(
    *, actor: Any, recipe: MasterRecipe, name: str | None = None, description: str | None = None
) -> MasterRecipe:
    """Rename or describe a recipe (its code and product never change)."""
    _require(actor, PERM_CHANGE_RECIPE, "change recipes")
    recipe = MasterRecipe.objects.select_for_update().get(pk=recipe.pk)
    if name is not None:
        recipe.name = text(name, field="name", label="recipe name", max_length=200, required=True)
    if description is not None:
        recipe.description = text(
            description, field="description", label="description", max_length=5000
        )
    with acting_as(actor, reason=f"update recipe {recipe.code}"):
        _save(recipe, actor, "recipe updated", update_fields=["name", "description"])
    return recipe


@transaction.atomic
def recipe_version_create_next(
    *, actor: Any, recipe: MasterRecipe, based_on: RecipeVersion | None = None
) -> RecipeVersion:
    """ "New version": a deep copy of `based_on` (default: the current approved version, else
    the latest) as draft N+1. Refused while another version is a draft or in review."""
    _require(actor, PERM_AUTHOR, "create recipe versions")
    recipe = MasterRecipe.objects.select_for_update().select_related("product").get(pk=recipe.pk)
    versions = list(RecipeVersion.objects.filter(recipe=recipe).order_by("-number"))
    open_version = next((v for v in versions if v.status in OPEN_STATUSES), None)
    if open_version is not None:
        raise RecipeOpenVersionExists(
            f"{open_version.title} is {open_version.get_status_display().lower()}: "
            "finish or discard it before starting another version."
        )
    if based_on is not None:
        source = next((v for v in versions if v.pk == based_on.pk), None)
        if source is None:
            raise InvalidInput(f"{based_on} is not a version of {recipe.code}.")
    else:
        source = next((v for v in versions if v.status == RecipeVersionStatus.APPROVED), None)
        source = source or (versions[0] if versions else None)
    if source is None:
        raise NotFound(f"{recipe.code} has no version to copy.")
    number = versions[0].number + 1
    reason = f"version {number} created from version {source.number}"
    with acting_as(actor, reason=f"{recipe.code}: {reason}"):
        version = RecipeVersion(
            recipe=recipe,
            number=number,
            author=actor,
            based_on=source,
            batch_size_min=source.batch_size_min,
            batch_size_max=source.batch_size_max,
            batch_size_reference=source.batch_size_reference,
            batch_size_uom=source.batch_size_uom,
            description=source.description,
        )
        _save(version, actor, reason)
        _build_tree(version=version, tree=version_content(source), actor=actor, reason=reason)
        _event(
            recipe=recipe,
            version=version,
            type_=RecipeEventType.VERSION_CREATED,
            actor=actor,
            data={"number": number, "based_on": source.number},
        )
    return version


@transaction.atomic
def recipe_version_update(
    *, actor: Any, version: RecipeVersion, changes: dict[str, Any]
) -> RecipeVersion:
    """Change the header of a draft: batch size range and reference, unit, description,
    change summary."""
    version = _editable(actor, version)
    allowed = {
        "batch_size_min",
        "batch_size_max",
        "batch_size_reference",
        "batch_size_uom",
        "description",
        "change_summary",
    }
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(unknown)} of a version here.")
    current = {name: getattr(version, name) for name in allowed}
    values = clean_header({**current, **changes}, product=version.recipe.product)
    for name, value in values.items():
        setattr(version, name, value)
    with acting_as(actor, reason=f"edit {version}"):
        _save(version, actor, "header edited")
    return version


@transaction.atomic
def recipe_version_tree_replace(
    *, actor: Any, version: RecipeVersion, tree: dict[str, Any]
) -> RecipeVersion:
    """Replace the whole structure of a draft (unit procedures and everything below) with
    `tree`, a content dict as recipes.content.version_content returns (the API's PUT). Header
    fields present in `tree` are applied too."""
    version = _editable(actor, version)
    header_fields = (
        "batch_size_min",
        "batch_size_max",
        "batch_size_reference",
        "batch_size_uom",
        "description",
        "change_summary",
    )
    reason = "structure replaced"
    with acting_as(actor, reason=f"{version}: {reason}"):
        if any(name in tree for name in header_fields):
            current = {name: getattr(version, name) for name in header_fields}
            given = {name: tree[name] for name in header_fields if name in tree}
            for name, value in clean_header(
                {**current, **given}, product=version.recipe.product
            ).items():
                setattr(version, name, value)
            _save(version, actor, reason)
        _delete_tree(version, actor, reason)
        _build_tree(version=version, tree=tree, actor=actor, reason=reason)
        _event(
            recipe=version.recipe,
            version=version,
            type_=RecipeEventType.VERSION_TREE_REPLACED,
            actor=actor,
        )
    return version


# --- unit procedures and operations ----------------------------------------------------------


@transaction.atomic
def unit_procedure_add(
    *,
    actor: Any,
    version: RecipeVersion,
    name: str,
    description: str = "",
    position: int | None = None,
) -> UnitProcedure:
    version = _editable(actor, version)
    values = clean_named({"name": name, "description": description}, what="unit procedure")
    siblings = list(UnitProcedure.objects.filter(version=version).order_by("position"))
    with acting_as(actor, reason=f"{version}: add unit procedure"):
        unit_procedure = UnitProcedure(version=version, position=_PARKED * 2, **values)
        _save(unit_procedure, actor, "unit procedure added")
        _renumber(_place(siblings, unit_procedure, _as_position(position)), actor, "added")
    return unit_procedure


@transaction.atomic
def unit_procedure_update(
    *, actor: Any, unit_procedure: UnitProcedure, changes: dict[str, Any]
) -> UnitProcedure:
    _editable(actor, unit_procedure.version_id)
    unit_procedure = _refetch(UnitProcedure, unit_procedure.pk, "unit procedure")
    current = {"name": unit_procedure.name, "description": unit_procedure.description}
    values = clean_named(
        {**current, **changes}, what="unit procedure", path=f"UP{unit_procedure.position}"
    )
    for key, value in values.items():
        setattr(unit_procedure, key, value)
    with acting_as(actor, reason="edit unit procedure"):
        _save(unit_procedure, actor, "unit procedure edited")
    return unit_procedure


@transaction.atomic
def unit_procedure_move(
    *, actor: Any, unit_procedure: UnitProcedure, position: int
) -> UnitProcedure:
    version = _editable(actor, unit_procedure.version_id)
    unit_procedure = _refetch(UnitProcedure, unit_procedure.pk, "unit procedure")
    siblings = list(UnitProcedure.objects.filter(version=version).order_by("position"))
    with acting_as(actor, reason="move unit procedure"):
        _renumber(_place(siblings, unit_procedure, _as_position(position)), actor, "moved")
    unit_procedure.refresh_from_db()
    return unit_procedure


@transaction.atomic
def unit_procedure_remove(*, actor: Any, unit_procedure: UnitProcedure) -> RecipeVersion:
    """Remove the unit procedure with its operations and phases."""
    version = _editable(actor, unit_procedure.version_id)
    unit_procedure = _refetch(UnitProcedure, unit_procedure.pk, "unit procedure")
    reason = f"unit procedure UP{unit_procedure.position} removed"
    with acting_as(actor, reason=reason):
        _delete_operations(list(unit_procedure.operations.all()), actor, reason)
        _delete(unit_procedure, actor, reason)
        siblings = list(UnitProcedure.objects.filter(version=version).order_by("position"))
        _renumber(siblings, actor, reason)
    return version


@transaction.atomic
def operation_add(
    *,
    actor: Any,
    unit_procedure: UnitProcedure,
    name: str,
    description: str = "",
    position: int | None = None,
) -> Operation:
    _editable(actor, unit_procedure.version_id)
    unit_procedure = _refetch(UnitProcedure, unit_procedure.pk, "unit procedure")
    values = clean_named({"name": name, "description": description}, what="operation")
    siblings = list(Operation.objects.filter(unit_procedure=unit_procedure).order_by("position"))
    with acting_as(actor, reason="add operation"):
        operation = Operation(unit_procedure=unit_procedure, position=_PARKED * 2, **values)
        _save(operation, actor, "operation added")
        _renumber(_place(siblings, operation, _as_position(position)), actor, "added")
    return operation


@transaction.atomic
def operation_update(*, actor: Any, operation: Operation, changes: dict[str, Any]) -> Operation:
    _editable(actor, operation.unit_procedure.version_id)
    operation = _refetch(Operation, operation.pk, "operation")
    current = {"name": operation.name, "description": operation.description}
    values = clean_named({**current, **changes}, what="operation", path=operation_path(operation))
    for key, value in values.items():
        setattr(operation, key, value)
    with acting_as(actor, reason="edit operation"):
        _save(operation, actor, "operation edited")
    return operation


@transaction.atomic
def operation_move(
    *,
    actor: Any,
    operation: Operation,
    position: int | None,
    unit_procedure: UnitProcedure | None = None,
) -> Operation:
    """Move the operation within its unit procedure, or into `unit_procedure` (same
    version) at `position`."""
    version = _editable(actor, operation.unit_procedure.version_id)
    operation = _refetch(Operation, operation.pk, "operation")
    source = operation.unit_procedure
    target = source
    if unit_procedure is not None and unit_procedure.pk != source.pk:
        target = _refetch(UnitProcedure, unit_procedure.pk, "unit procedure")
        if target.version_id != version.pk:
            raise InvalidInput("An operation moves only within its own recipe version.")
    with acting_as(actor, reason="move operation"):
        if target.pk != source.pk:
            operation.unit_procedure = target
            operation.position = _PARKED * 2
            _save(operation, actor, "moved", update_fields=["unit_procedure", "position"])
            _renumber(
                list(Operation.objects.filter(unit_procedure=source).order_by("position")),
                actor,
                "moved",
            )
        siblings = list(Operation.objects.filter(unit_procedure=target).order_by("position"))
        _renumber(_place(siblings, operation, _as_position(position)), actor, "moved")
    operation.refresh_from_db()
    return operation


@transaction.atomic
def operation_remove(*, actor: Any, operation: Operation) -> RecipeVersion:
    version = _editable(actor, operation.unit_procedure.version_id)
    operation = _refetch(Operation, operation.pk, "operation")
    unit_procedure = operation.unit_procedure
    reason = f"operation {operation_path(operation)} removed"
    with acting_as(actor, reason=reason):
        _delete_operations([operation], actor, reason)
        _renumber(
            list(Operation.objects.filter(unit_procedure=unit_procedure).order_by("position")),
            actor,
            reason,
        )
    return version


# --- phases ----------------------------------------------------------------------------------


def _phase_values(phase: Phase) -> dict[str, Any]:
    return {
        "name": phase.name,
        "instructions": phase.instructions,
        "can_run_parallel_with_previous": phase.can_run_parallel_with_previous,
        "hold_min_minutes": phase.hold_min_minutes,
        "hold_max_minutes": phase.hold_max_minutes,
        "requires_verification": phase.requires_verification,
        "is_critical": phase.is_critical,
        "equipment_class": phase.equipment_class,
        "min_volume_l": phase.min_volume_l,
        "capabilities": list(phase.capabilities.all()),
    }


@transaction.atomic
def phase_add(
    *,
    actor: Any,
    operation: Operation,
    values: dict[str, Any],
    position: int | None = None,
) -> Phase:
    """Add a phase (name required; instructions, flags, hold times, equipment requirement
    optional) at `position` of the operation (default: at the end)."""
    _editable(actor, operation.unit_procedure.version_id)
    operation = _refetch(Operation, operation.pk, "operation")
    cleaned = clean_phase(values, lookups=Lookups())
    siblings = list(Phase.objects.filter(operation=operation).order_by("position"))
    with acting_as(actor, reason="add phase"):
        phase = _create_phase(
            operation=operation, position=_PARKED * 2, values=cleaned, actor=actor, reason="added"
        )
        _renumber(_place(siblings, phase, _as_position(position)), actor, "added")
    phase.refresh_from_db()
    return phase


@transaction.atomic
def phase_update(*, actor: Any, phase: Phase, changes: dict[str, Any]) -> Phase:
    _editable(actor, phase.operation.unit_procedure.version_id)
    phase = _refetch(Phase, phase.pk, "phase")
    path = phase_path(phase)
    cleaned = clean_phase({**_phase_values(phase), **changes}, lookups=Lookups(), path=path)
    capabilities = cleaned.pop("capabilities")
    for key, value in cleaned.items():
        setattr(phase, key, value)
    with acting_as(actor, reason=f"edit phase {path}"):
        _save(phase, actor, "phase edited")
        if {c.pk for c in capabilities} != set(phase.capabilities.values_list("pk", flat=True)):
            phase.capabilities.set(capabilities)
    return phase


@transaction.atomic
def phase_move(
    *, actor: Any, phase: Phase, position: int | None, operation: Operation | None = None
) -> Phase:
    """Move the phase within its operation, or into `operation` (same version)."""
    version = _editable(actor, phase.operation.unit_procedure.version_id)
    phase = _refetch(Phase, phase.pk, "phase")
    source = phase.operation
    target = source
    if operation is not None and operation.pk != source.pk:
        target = _refetch(Operation, operation.pk, "operation")
        if target.unit_procedure.version_id != version.pk:
            raise InvalidInput("A phase moves only within its own recipe version.")
    with acting_as(actor, reason="move phase"):
        if target.pk != source.pk:
            phase.operation = target
            phase.position = _PARKED * 2
            _save(phase, actor, "moved", update_fields=["operation", "position"])
            _renumber(
                list(Phase.objects.filter(operation=source).order_by("position")), actor, "moved"
            )
        siblings = list(Phase.objects.filter(operation=target).order_by("position"))
        _renumber(_place(siblings, phase, _as_position(position)), actor, "moved")
    phase.refresh_from_db()
    return phase


@transaction.atomic
def phase_duplicate(*, actor: Any, phase: Phase) -> Phase:
    """A copy of the phase (with its parameters, inputs and outputs) right after it."""
    _editable(actor, phase.operation.unit_procedure.version_id)
    phase = _refetch(Phase, phase.pk, "phase")
    values = _phase_values(phase)
    values["name"] = f"{phase.name} (copy)"[:200]
    content = {
        "parameters": [
            {
                k: getattr(p, k)
                for k in (
                    "name",
                    "unit",
                    "data_type",
                    "choices",
                    "target",
                    "low_limit",
                    "high_limit",
                    "expected_text",
                    "is_required",
                    "instrument_required",
                    "instrument_kind",
                )
            }
            for p in phase.parameters.order_by("position")
        ],
        "inputs": [
            {
                "material": i.material,
                "quantity": i.quantity,
                "uom": i.uom,
                "tolerance_pct": i.tolerance_pct,
                "is_scalable": i.is_scalable,
                "note": i.note,
            }
            for i in phase.inputs.select_related("material").order_by("position")
        ],
        "outputs": [
            {
                "material": o.material,
                "kind": o.kind,
                "expected_quantity": o.expected_quantity,
                "uom": o.uom,
                "yield_low_pct": o.yield_low_pct,
                "yield_high_pct": o.yield_high_pct,
            }
            for o in phase.outputs.select_related("material").order_by("position")
        ],
    }
    lookups = Lookups()
    cleaned = clean_phase(values, lookups=lookups)
    siblings = list(Phase.objects.filter(operation=phase.operation).order_by("position"))
    reason = f"phase {phase_path(phase)} duplicated"
    with acting_as(actor, reason=reason):
        copy = _create_phase(
            operation=phase.operation,
            position=_PARKED * 2,
            values=cleaned,
            actor=actor,
            reason=reason,
        )
        _build_phase_children(
            phase=copy,
            data=content,
            path=phase_path(phase),
            lookups=lookups,
            actor=actor,
            reason=reason,
        )
        _renumber(_place(siblings, copy, phase.position + 1), actor, reason)
    copy.refresh_from_db()
    return copy


@transaction.atomic
def phase_remove(*, actor: Any, phase: Phase) -> RecipeVersion:
    version = _editable(actor, phase.operation.unit_procedure.version_id)
    phase = _refetch(Phase, phase.pk, "phase")
    operation = phase.operation
    reason = f"phase {phase_path(phase)} removed"
    with acting_as(actor, reason=reason):
        _delete_phases([phase], actor, reason)
        _renumber(
            list(Phase.objects.filter(operation=operation).order_by("position")), actor, reason
        )
    return version


# --- parameters, inputs, outputs of a phase --------------------------------------------------

_CHILDREN: dict[type[models.Model], tuple[str, str]] = {
    PhaseParameter: ("parameters", "parameter"),
    PhaseInput: ("inputs", "input"),
    PhaseOutput: ("outputs", "output"),
}


def _clean_child(model: type[models.Model], data: dict[str, Any], path: str) -> dict[str, Any]:
    if model is PhaseParameter:
        return clean_parameter(data, path=path)
    cleaner = clean_input if model is PhaseInput else clean_output
    return cleaner(data, lookups=Lookups(), path=path)


def _child_values(item: models.Model) -> dict[str, Any]:
    if isinstance(item, PhaseParameter):
        names = (
            "name",
            "unit",
            "data_type",
            "choices",
            "target",
            "low_limit",
            "high_limit",
            "expected_text",
            "is_required",
            "instrument_required",
            "instrument_kind",
        )
    elif isinstance(item, PhaseInput):
        names = ("material", "quantity", "uom", "tolerance_pct", "is_scalable", "note")
    else:
        names = ("material", "kind", "expected_quantity", "uom", "yield_low_pct", "yield_high_pct")
    return {name: getattr(item, name) for name in names}


def _check_unique_in_phase(
    model: type[models.Model],
    phase: Phase,
    values: dict[str, Any],
    *,
    exclude: int | None,
    path: str,
) -> None:
    qs = model.objects.filter(phase=phase).exclude(pk=exclude)
    if model is PhaseParameter:
        if qs.filter(name__iexact=values["name"]).exists():
            raise RecipeInvalid(
                f"The phase has a parameter {values['name']!r} already.", field="name", path=path
            )
    elif qs.filter(material=values["material"]).exists():
        what = "input" if model is PhaseInput else "output"
        raise RecipeInvalid(
            f"The phase has {values['material'].code} as an {what} already: change that line.",
            field="material",
            path=path,
        )


def _child_add(
    model: type[models.Model], *, actor: Any, phase: Phase, values: dict[str, Any]
) -> Any:
    _editable(actor, phase.operation.unit_procedure.version_id)
    phase = _refetch(Phase, phase.pk, "phase")
    path = phase_path(phase)
    cleaned = _clean_child(model, values, path)
    _check_unique_in_phase(model, phase, cleaned, exclude=None, path=path)
    what = _CHILDREN[model][1]
    with acting_as(actor, reason=f"{path}: add {what}"):
        item = model(
            phase=phase, position=_next_position(model.objects.filter(phase=phase)), **cleaned
        )
        _save(item, actor, f"{what} added")
    return item


def _child_update(
    model: type[models.Model], *, actor: Any, item: Any, changes: dict[str, Any]
) -> Any:
    _editable(actor, item.phase.operation.unit_procedure.version_id)
    item = _refetch(model, item.pk, _CHILDREN[model][1])
    path = phase_path(item.phase)
    cleaned = _clean_child(model, {**_child_values(item), **changes}, path)
    _check_unique_in_phase(model, item.phase, cleaned, exclude=item.pk, path=path)
    for key, value in cleaned.items():
        setattr(item, key, value)
    what = _CHILDREN[model][1]
    with acting_as(actor, reason=f"{path}: edit {what}"):
        _save(item, actor, f"{what} edited")
    return item


def _child_move(model: type[models.Model], *, actor: Any, item: Any, position: int) -> Any:
    _editable(actor, item.phase.operation.unit_procedure.version_id)
    item = _refetch(model, item.pk, _CHILDREN[model][1])
    siblings = list(model.objects.filter(phase=item.phase).order_by("position"))
    with acting_as(actor, reason=f"move {_CHILDREN[model][1]}"):
        _renumber(_place(siblings, item, _as_position(position)), actor, "moved")
    item.refresh_from_db()
    return item


def _child_remove(model: type[models.Model], *, actor: Any, item: Any) -> Phase:
    _editable(actor, item.phase.operation.unit_procedure.version_id)
    item = _refetch(model, item.pk, _CHILDREN[model][1])
    phase = item.phase
    what = _CHILDREN[model][1]
    reason = f"{phase_path(phase)}: {what} removed"
    with acting_as(actor, reason=reason):
        _delete(item, actor, reason)
        _renumber(list(model.objects.filter(phase=phase).order_by("position")), actor, reason)
    return phase


@transaction.atomic
def phase_parameter_add(*, actor: Any, phase: Phase, values: dict[str, Any]) -> PhaseParameter:
    return _child_add(PhaseParameter, actor=actor, phase=phase, values=values)


@transaction.atomic
def phase_parameter_update(
    *, actor: Any, parameter: PhaseParameter, changes: dict[str, Any]
) -> PhaseParameter:
    return _child_update(PhaseParameter, actor=actor, item=parameter, changes=changes)


@transaction.atomic
def phase_parameter_move(*, actor: Any, parameter: PhaseParameter, position: int) -> PhaseParameter:
    return _child_move(PhaseParameter, actor=actor, item=parameter, position=position)


@transaction.atomic
def phase_parameter_remove(*, actor: Any, parameter: PhaseParameter) -> Phase:
    return _child_remove(PhaseParameter, actor=actor, item=parameter)


@transaction.atomic
def phase_input_add(*, actor: Any, phase: Phase, values: dict[str, Any]) -> PhaseInput:
    return _child_add(PhaseInput, actor=actor, phase=phase, values=values)


@transaction.atomic
def phase_input_update(
    *, actor: Any, phase_input: PhaseInput, changes: dict[str, Any]
) -> PhaseInput:
    return _child_update(PhaseInput, actor=actor, item=phase_input, changes=changes)


@transaction.atomic
def phase_input_move(*, actor: Any, phase_input: PhaseInput, position: int) -> PhaseInput:
    return _child_move(PhaseInput, actor=actor, item=phase_input, position=position)


@transaction.atomic
def phase_input_remove(*, actor: Any, phase_input: PhaseInput) -> Phase:
    return _child_remove(PhaseInput, actor=actor, item=phase_input)


@transaction.atomic
def phase_output_add(*, actor: Any, phase: Phase, values: dict[str, Any]) -> PhaseOutput:
    return _child_add(PhaseOutput, actor=actor, phase=phase, values=values)


@transaction.atomic
def phase_output_update(
    *, actor: Any, phase_output: PhaseOutput, changes: dict[str, Any]
) -> PhaseOutput:
    return _child_update(PhaseOutput, actor=actor, item=phase_output, changes=changes)


@transaction.atomic
def phase_output_move(*, actor: Any, phase_output: PhaseOutput, position: int) -> PhaseOutput:
    return _child_move(PhaseOutput, actor=actor, item=phase_output, position=position)


@transaction.atomic
def phase_output_remove(*, actor: Any, phase_output: PhaseOutput) -> Phase:
    return _child_remove(PhaseOutput, actor=actor, item=phase_output)


# --- the version workflow (each transition signed) -------------------------------------------


def _transition(
    version: RecipeVersion,
    *,
    to: str,
    actor: Any,
    fields: dict[str, Any],
    event: str,
    reason: str,
    data: dict[str, Any] | None = None,
) -> None:
    from_status = version.status
    version.status = to
    for key, value in fields.items():
        setattr(version, key, value)
    _save(version, actor, reason or RecipeVersionStatus(to).label)
    _event(
        recipe=version.recipe,
        version=version,
        type_=event,
        actor=actor,
        reason=reason,
        data={"from": from_status, "to": to, **(data or {})},
    )


@transaction.atomic
def recipe_version_submit(
    *, actor: Any, version: RecipeVersion, signer: AuthenticatedSigner, reason: str = ""
) -> RecipeVersion:
    """Draft -> in review, signed "submitted" by a Recipe Author. Refused (listing every gap)
    while the version is incomplete."""
    from recipes.selectors import recipe_version_problems

    _require(actor, PERM_AUTHOR, "submit recipe versions")
    _check_signer(actor, signer)
    reason = _reason(reason, required=False, what="submit")
    version = _lock_version(version)
    version.ensure_can_become(RecipeVersionStatus.IN_REVIEW)
    problems = recipe_version_problems(version)
    if problems:
        raise RecipeIncomplete(problems)
    with acting_as(actor, reason=f"submit {version}"):
        record_sign(record=version, signer=signer, meaning=Meaning.SUBMITTED, reason=reason)
        _transition(
            version,
            to=RecipeVersionStatus.IN_REVIEW,
            actor=actor,
            fields={"submitted_at": timezone.now(), "submitted_by": actor, "rejection_reason": ""},
            event=RecipeEventType.VERSION_SUBMITTED,
            reason=reason,
        )
    return version


@transaction.atomic
def recipe_version_approve(
    *, actor: Any, version: RecipeVersion, signer: AuthenticatedSigner, reason: str = ""
) -> RecipeVersion:
    """In review -> approved, signed "approved" by a QA Reviewer who is neither the author nor
    the submitter. The recipe's approved version (if any) becomes superseded in the same
    transaction, under a lock on the recipe row."""
    from recipes.selectors import recipe_version_problems

    _require(actor, PERM_REVIEW, "approve recipe versions")
    _check_signer(actor, signer)
    reason = _reason(reason, required=False, what="approve")
    recipe_id = (
        RecipeVersion.objects.filter(pk=version.pk).values_list("recipe_id", flat=True).first()
    )
    if recipe_id is None:
        raise NotFound(f"There is no recipe version #{version.pk}.")
    MasterRecipe.objects.select_for_update().get(pk=recipe_id)
    version = _lock_version(version)
    version.ensure_can_become(RecipeVersionStatus.APPROVED)
    problems = recipe_version_problems(version)
    if problems:
        raise RecipeIncomplete(problems)
    previous = (
        RecipeVersion.objects.select_for_update()
        .filter(recipe_id=recipe_id, status=RecipeVersionStatus.APPROVED)
        .first()
    )
    now = timezone.now()
    with acting_as(actor, reason=f"approve {version}"):
        record_sign(record=version, signer=signer, meaning=Meaning.APPROVED, reason=reason)
        if previous is not None:
            previous.recipe = version.recipe
            _transition(
                previous,
                to=RecipeVersionStatus.SUPERSEDED,
                actor=actor,
                fields={"superseded_at": now, "superseded_by": version},
                event=RecipeEventType.VERSION_SUPERSEDED,
                reason=f"superseded by version {version.number}",
                data={"superseded_by": version.number},
            )
        _transition(
            version,
            to=RecipeVersionStatus.APPROVED,
            actor=actor,
            fields={"approved_at": now, "approved_by": actor},
            event=RecipeEventType.VERSION_APPROVED,
            reason=reason,
            data={"supersedes": previous.number if previous else None},
        )
    version_id, previous_id = version.pk, previous.pk if previous else None
    transaction.on_commit(
        lambda: signals.recipe_version_approved.send(
            sender=RecipeVersion, version_id=version_id, superseded_version_id=previous_id
        )
    )
    if previous_id is not None:
        transaction.on_commit(
            lambda: signals.recipe_version_superseded.send(
                sender=RecipeVersion, version_id=previous_id, superseded_by_id=version_id
            )
        )
    return version


@transaction.atomic
def recipe_version_reject(
    *, actor: Any, version: RecipeVersion, signer: AuthenticatedSigner, reason: str
) -> RecipeVersion:
    """In review -> draft, signed "rejected" by a QA Reviewer, with the reason for the author."""
    _require(actor, PERM_REVIEW, "reject recipe versions")
    _check_signer(actor, signer)
    reason = _reason(reason, required=True, what="reject the version")
    version = _lock_version(version)
    version.ensure_can_become(RecipeVersionStatus.DRAFT)
    with acting_as(actor, reason=f"reject {version}"):
        record_sign(record=version, signer=signer, meaning=Meaning.REJECTED, reason=reason)
        _transition(
            version,
            to=RecipeVersionStatus.DRAFT,
            actor=actor,
            fields={"rejection_reason": reason, "submitted_at": None, "submitted_by": None},
            event=RecipeEventType.VERSION_REJECTED,
            reason=reason,
        )
    return version


@transaction.atomic
def recipe_version_make_obsolete(
    *, actor: Any, version: RecipeVersion, signer: AuthenticatedSigner, reason: str
) -> RecipeVersion:
    """Retire a version (signed, meaning "cancelled", with a reason). An approved or
    superseded version needs a QA Reviewer; a draft may be discarded by a Recipe Author.
    An obsolete version stays readable; it can never be used for a batch."""
    _check_signer(actor, signer)
    reason = _reason(reason, required=True, what="make the version obsolete")
    version = _lock_version(version)
    if version.status == RecipeVersionStatus.DRAFT:
        if not (actor.has_perm(PERM_AUTHOR) or actor.has_perm(PERM_REVIEW)):
            _require(actor, PERM_AUTHOR, "discard recipe drafts")
    else:
        _require(actor, PERM_REVIEW, "make recipe versions obsolete")
    version.ensure_can_become(RecipeVersionStatus.OBSOLETE)
    was_approved = version.status == RecipeVersionStatus.APPROVED
    with acting_as(actor, reason=f"make {version} obsolete"):
        record_sign(record=version, signer=signer, meaning=Meaning.CANCELLED, reason=reason)
        _transition(
            version,
            to=RecipeVersionStatus.OBSOLETE,
            actor=actor,
            fields={
                "obsoleted_at": timezone.now(),
                "obsoleted_by": actor,
                "obsolete_reason": reason,
            },
            event=RecipeEventType.VERSION_OBSOLETED,
            reason=reason,
            data={"was_current": was_approved},
        )
    version_id = version.pk
    transaction.on_commit(
        lambda: signals.recipe_version_obsoleted.send(sender=RecipeVersion, version_id=version_id)
    )
    return version
