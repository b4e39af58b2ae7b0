"""Back-office pages of recipes: the recipe list, a recipe's versions, the version editor
(HTMX: every field saves on change, each element re-renders in place, refusals show inline),
submission, QA review with the diff against the approved version, and the diff page.

Every change goes through recipes.services; reads through recipes.selectors.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from equipment.choices import InstrumentKind
from equipment.models import Capability, EquipmentClass
from genealogy.choices import UnitOfMeasure
from genealogy.models import Material
from mes.esign.forms import SignatureForm
from mes.esign.models import Meaning
from mes.esign.services import signer_authenticate
from mes.exceptions import DomainError, InvalidInput, NotFound
from recipes import selectors, services
from recipes.choices import OutputKind, ParameterDataType, RecipeVersionStatus
from recipes.content import dec, version_content
from recipes.diff import diff_counts, diff_versions
from recipes.exceptions import RecipeIncomplete, RecipeInvalid
from recipes.forms import DiffForm, RecipeCreateForm, SearchForm
from recipes.models import (
    MasterRecipe,
    Operation,
    Phase,
    PhaseInput,
    PhaseOutput,
    PhaseParameter,
    RecipeVersion,
    UnitProcedure,
)

PHASE_FIELDS = (
    "name",
    "instructions",
    "hold_min_minutes",
    "hold_max_minutes",
    "equipment_class",
    "min_volume_l",
)
PHASE_FLAGS = ("can_run_parallel_with_previous", "requires_verification", "is_critical")
PARAMETER_FIELDS = (
    "name",
    "unit",
    "data_type",
    "choices",
    "target",
    "low_limit",
    "high_limit",
    "expected_text",
    "instrument_kind",
)
PARAMETER_FLAGS = ("is_required", "instrument_required")
INPUT_FIELDS = ("material", "quantity", "uom", "tolerance_pct", "note")
INPUT_FLAGS = ("is_scalable",)
OUTPUT_FIELDS = ("material", "kind", "expected_quantity", "uom", "yield_low_pct", "yield_high_pct")

ROW_KINDS: dict[str, dict[str, Any]] = {
    "parameter": {
        "model": PhaseParameter,
        "fields": PARAMETER_FIELDS,
        "flags": PARAMETER_FLAGS,
        "template": "recipes/partials/_parameter_row.html",
        "add": services.phase_parameter_add,
        "update": lambda actor, item, changes: services.phase_parameter_update(
            actor=actor, parameter=item, changes=changes
        ),
        "move": lambda actor, item, position: services.phase_parameter_move(
            actor=actor, parameter=item, position=position
        ),
        "remove": lambda actor, item: services.phase_parameter_remove(actor=actor, parameter=item),
    },
    "input": {
        "model": PhaseInput,
        "fields": INPUT_FIELDS,
        "flags": INPUT_FLAGS,
        "template": "recipes/partials/_input_row.html",
        "add": services.phase_input_add,
        "update": lambda actor, item, changes: services.phase_input_update(
            actor=actor, phase_input=item, changes=changes
        ),
        "move": lambda actor, item, position: services.phase_input_move(
            actor=actor, phase_input=item, position=position
        ),
        "remove": lambda actor, item: services.phase_input_remove(actor=actor, phase_input=item),
    },
    "output": {
        "model": PhaseOutput,
        "fields": OUTPUT_FIELDS,
        "flags": (),
        "template": "recipes/partials/_output_row.html",
        "add": services.phase_output_add,
        "update": lambda actor, item, changes: services.phase_output_update(
            actor=actor, phase_output=item, changes=changes
        ),
        "move": lambda actor, item, position: services.phase_output_move(
            actor=actor, phase_output=item, position=position
        ),
        "remove": lambda actor, item: services.phase_output_remove(actor=actor, phase_output=item),
    },
}


# --- view models (plain values for logic-free templates) -------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if hasattr(value, "normalize"):
        return dec(value) or ""
    return str(value)


def _posted(
    request: HttpRequest, fields: tuple[str, ...], flags: tuple[str, ...]
) -> dict[str, Any]:
    """The submitted row: text fields as typed, checkboxes as True/False (an unticked box is
    absent from the post)."""
    data: dict[str, Any] = {name: request.POST.get(name, "") for name in fields}
    for flag in flags:
        data[flag] = request.POST.get(flag) in ("on", "true", "1", "yes")
    if "capabilities" in request.POST or "capabilities_present" in request.POST:
        data["capabilities"] = request.POST.getlist("capabilities")
    return data


def _row_values(kind: str, item: Model) -> dict[str, Any]:
    spec = ROW_KINDS[kind]
    values = {}
    for name in spec["fields"]:
        value = getattr(item, name)
        values[name] = value.code if isinstance(value, Material) else _text(value)
    for flag in spec["flags"]:
        values[flag] = getattr(item, flag)
    return values


def _row(
    kind: str, item: Model, *, values: dict | None = None, error: RecipeInvalid | None = None
) -> dict:
    return {
        "kind": kind,
        "obj": item,
        "values": values if values is not None else _row_values(kind, item),
        "error": error.message if error else "",
        "error_field": error.field if error else "",
    }


def _empty_add(kind: str) -> dict:
    defaults = {
        "parameter": {"data_type": "number", "is_required": True},
        "input": {"is_scalable": True, "tolerance_pct": "0"},
        "output": {"kind": "product"},
    }[kind]
    return {"values": defaults, "error": "", "error_field": ""}


def _phase_values(phase: Phase) -> dict[str, Any]:
    values: dict[str, Any] = {name: _text(getattr(phase, name)) for name in PHASE_FIELDS}
    values["equipment_class"] = str(phase.equipment_class_id or "")
    values.update({flag: getattr(phase, flag) for flag in PHASE_FLAGS})
    values["capabilities"] = [str(c.pk) for c in phase.capabilities.all()]
    return values


def _phase_model(
    phase: Phase,
    path: str,
    *,
    open_: bool = False,
    values: dict | None = None,
    error: RecipeInvalid | None = None,
    add_errors: dict[str, dict] | None = None,
) -> dict:
    add_errors = add_errors or {}
    return {
        "obj": phase,
        "path": path,
        "open": open_,
        "values": values if values is not None else _phase_values(phase),
        "error": error.message if error else "",
        "error_field": error.field if error else "",
        "parameters": [_row("parameter", p) for p in phase.parameters.all()],
        "inputs": [_row("input", i) for i in phase.inputs.all()],
        "outputs": [_row("output", o) for o in phase.outputs.all()],
        "add": {kind: add_errors.get(kind) or _empty_add(kind) for kind in ROW_KINDS},
        "capability_codes": [c.code for c in phase.capabilities.all()],
    }


def _tree_model(version: RecipeVersion, open_phase: int | None = None) -> list[dict]:
    ups = []
    for up in selectors.recipe_version_tree(version):
        ops = []
        for op in up.operations.all():
            phases = [
                _phase_model(
                    ph,
                    f"UP{up.position}/OP{op.position}/PH{ph.position}",
                    open_=ph.pk == open_phase,
                )
                for ph in op.phases.all()
            ]
            ops.append({"obj": op, "path": f"UP{up.position}/OP{op.position}", "phases": phases})
        ups.append({"obj": up, "path": f"UP{up.position}", "operations": ops})
    return ups


def _choices() -> dict[str, Any]:
    return {
        "uoms": UnitOfMeasure.choices,
        "data_types": ParameterDataType.choices,
        "instrument_kinds": InstrumentKind.choices,
        "output_kinds": OutputKind.choices,
        "equipment_classes": list(EquipmentClass.objects.order_by("name")),
        "capabilities": list(Capability.objects.order_by("code")),
        "materials": list(
            Material.objects.filter(is_active=True).order_by("code").values_list("code", "name")
        ),
    }


def _operations(version: RecipeVersion) -> list[tuple[int, str]]:
    """(id, "UP1/OP2 Reaction") of every operation of the version: where a phase may move."""
    return [
        (op.pk, f"UP{op.unit_procedure.position}/OP{op.position} {op.name}")
        for op in Operation.objects.filter(unit_procedure__version=version)
        .select_related("unit_procedure")
        .order_by("unit_procedure__position", "position")
    ]


def _header_values(version: RecipeVersion) -> dict[str, str]:
    return {
        name: _text(getattr(version, name))
        for name in (
            "batch_size_min",
            "batch_size_max",
            "batch_size_reference",
            "batch_size_uom",
            "description",
            "change_summary",
        )
    }


# --- helpers ---------------------------------------------------------------------------------


def _version_url(version_id: int, anchor: str = "") -> str:
    url = reverse("recipes:version_detail", args=[version_id])
    return f"{url}#{anchor}" if anchor else url


def _can_edit(request: HttpRequest, version: RecipeVersion) -> bool:
    return version.is_editable and selectors.can_author_recipes(request.user)


def _element(request: HttpRequest, model: type[Model], pk: int) -> Any:
    if not selectors.can_view_recipes(request.user):
        raise NotFound("No such recipe element.")
    related = {
        UnitProcedure: ("version", "version__recipe"),
        Operation: ("unit_procedure", "unit_procedure__version__recipe"),
        Phase: ("operation__unit_procedure__version__recipe",),
        PhaseParameter: ("phase__operation__unit_procedure__version__recipe",),
        PhaseInput: ("phase__operation__unit_procedure__version__recipe", "material"),
        PhaseOutput: ("phase__operation__unit_procedure__version__recipe", "material"),
    }[model]
    found = model.objects.select_related(*related).filter(pk=pk).first()
    if found is None:
        raise NotFound("This element no longer exists (removed by someone else?). Reload the page.")
    return found


def _version_of(element: Any) -> RecipeVersion:
    if isinstance(element, UnitProcedure):
        return element.version
    if isinstance(element, Operation):
        return element.unit_procedure.version
    if isinstance(element, Phase):
        return element.operation.unit_procedure.version
    return element.phase.operation.unit_procedure.version


def _changed(response: HttpResponse) -> HttpResponse:
    """Tell the page that the version changed (the problems panel refreshes itself)."""
    response["HX-Trigger"] = "recipeChanged"
    return response


def _render_tree(
    request: HttpRequest, version: RecipeVersion, open_phase: int | None = None
) -> HttpResponse:
    context = {
        "version": version,
        "tree": _tree_model(version, open_phase),
        "can_edit": _can_edit(request, version),
        "operations": _operations(version),
        **_choices(),
    }
    return _changed(render(request, "recipes/partials/_tree.html", context))


def _render_phase(
    request: HttpRequest,
    phase_id: int,
    *,
    values: dict | None = None,
    error: RecipeInvalid | None = None,
    add_errors: dict[str, dict] | None = None,
) -> HttpResponse:
    phase = selectors.phase_for_editor(phase_id)
    version = phase.operation.unit_procedure.version
    context = {
        "version": version,
        "ph": _phase_model(
            phase,
            services.phase_path(phase),
            open_=True,
            values=values,
            error=error,
            add_errors=add_errors,
        ),
        "can_edit": _can_edit(request, version),
        "operations": _operations(version),
        **_choices(),
    }
    return _changed(render(request, "recipes/partials/_phase.html", context))


def _not_htmx(request: HttpRequest, version_id: int, anchor: str, error: str = "") -> HttpResponse:
    if error:
        messages.error(request, error)
    return HttpResponseRedirect(_version_url(version_id, anchor))


# --- pages -----------------------------------------------------------------------------------


@login_required
@require_GET
def recipe_list(request: HttpRequest) -> HttpResponse:
    search = SearchForm(request.GET or None)
    q = search.cleaned_data["q"] if search.is_valid() else ""
    context = {
        "recipes": selectors.recipe_list(actor=request.user, q=q),
        "search": search,
        "q": q,
        "review_queue": list(selectors.review_queue(actor=request.user))
        if selectors.can_review_recipes(request.user)
        else [],
        "can_author": selectors.can_author_recipes(request.user),
        "can_view": selectors.can_view_recipes(request.user),
    }
    return render(request, "recipes/recipe_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def recipe_create(request: HttpRequest) -> HttpResponse:
    form = RecipeCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            recipe = services.master_recipe_create(
                actor=request.user,
                code=data["code"],
                name=data["name"],
                product=data["product"],
                batch_size_min=data["batch_size_min"],
                batch_size_max=data["batch_size_max"],
                batch_size_reference=data["batch_size_reference"],
                batch_size_uom=data["batch_size_uom"] or None,
                description=data["description"],
            )
        except RecipeInvalid as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except DomainError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, f"Recipe {recipe.code} created: version 1 is a draft.")
            return redirect(_version_url(recipe.versions.get(number=1).pk))
    return render(request, "recipes/recipe_form.html", {"form": form})


@login_required
@require_GET
def recipe_detail(request: HttpRequest, pk: int) -> HttpResponse:
    recipe = selectors.recipe_get(actor=request.user, pk=pk)
    versions = list(
        selectors.recipe_version_list(actor=request.user, recipe=recipe).select_related(
            "superseded_by", "obsoleted_by", "based_on"
        )
    )
    context = {
        "recipe": recipe,
        "versions": versions,
        "events": list(selectors.recipe_events(recipe=recipe).order_by("-at", "-id")[:50]),
        "can_author": selectors.can_author_recipes(request.user),
        "has_open": any(v.status in ("draft", "in_review") for v in versions),
    }
    return render(request, "recipes/recipe_detail.html", context)


@login_required
@require_POST
def recipe_new_version(request: HttpRequest, pk: int) -> HttpResponse:
    recipe: MasterRecipe = selectors.recipe_get(actor=request.user, pk=pk)
    try:
        version = services.recipe_version_create_next(actor=request.user, recipe=recipe)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("recipes:recipe_detail", pk=recipe.pk)
    messages.success(request, f"{version.title} created as a draft (a copy of the current one).")
    return redirect(_version_url(version.pk))


@login_required
@require_GET
def version_detail(request: HttpRequest, pk: int) -> HttpResponse:
    version = selectors.recipe_version_get(actor=request.user, pk=pk)
    can_edit = _can_edit(request, version)
    context: dict[str, Any] = {
        "version": version,
        "recipe": version.recipe,
        "can_edit": can_edit,
        "can_author": selectors.can_author_recipes(request.user),
        "can_review": selectors.can_review_recipes(request.user),
        "signatures": selectors.recipe_version_signatures(version),
        "counts": selectors.recipe_version_counts(version),
        "baseline": selectors.recipe_version_baseline(version),
        "header": _header_values(version),
    }
    if can_edit:
        context |= {
            "tree": _tree_model(version),
            "operations": _operations(version),
            **_choices(),
        }
    else:
        context["content"] = version_content(version)
    return render(request, "recipes/version_detail.html", context)


# --- editor partials (HTMX) ------------------------------------------------------------------


@login_required
@require_POST
def version_header(request: HttpRequest, pk: int) -> HttpResponse:
    version = selectors.recipe_version_get(actor=request.user, pk=pk)
    fields = (
        "batch_size_min",
        "batch_size_max",
        "batch_size_reference",
        "batch_size_uom",
        "description",
        "change_summary",
    )
    posted = {name: request.POST.get(name, "") for name in fields}
    error = None
    try:
        version = services.recipe_version_update(
            actor=request.user, version=version, changes=posted
        )
    except RecipeInvalid as exc:
        error = exc
    if not request.htmx:
        return _not_htmx(request, version.pk, "header", error.detail if error else "")
    context = {
        "version": version,
        "can_edit": _can_edit(request, version),
        "header": posted if error else _header_values(version),
        "error": error.message if error else "",
        "error_field": error.field if error else "",
        "saved": error is None,
        "uoms": UnitOfMeasure.choices,
    }
    return _changed(render(request, "recipes/partials/_header.html", context))


@login_required
@require_GET
def version_problems(request: HttpRequest, pk: int) -> HttpResponse:
    version = selectors.recipe_version_get(actor=request.user, pk=pk)
    return render(
        request,
        "recipes/partials/_problems.html",
        {"version": version, "problems": selectors.recipe_version_problems(version)},
    )


@login_required
@require_POST
def unit_procedure_add(request: HttpRequest, pk: int) -> HttpResponse:
    version = selectors.recipe_version_get(actor=request.user, pk=pk)
    services.unit_procedure_add(
        actor=request.user, version=version, name=request.POST.get("name", "")
    )
    if not request.htmx:
        return _not_htmx(request, version.pk, "tree")
    return _render_tree(request, version)


def _move_target(element: Any, action: str) -> int:
    return element.position - 1 if action == "up" else element.position + 1


@login_required
@require_POST
def unit_procedure_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    up = _element(request, UnitProcedure, pk)
    version = up.version
    actor = request.user
    actions: dict[str, Callable[[], Any]] = {
        "update": lambda: services.unit_procedure_update(
            actor=actor,
            unit_procedure=up,
            changes={k: request.POST.get(k, "") for k in ("name", "description")},
        ),
        "up": lambda: services.unit_procedure_move(
            actor=actor, unit_procedure=up, position=_move_target(up, "up")
        ),
        "down": lambda: services.unit_procedure_move(
            actor=actor, unit_procedure=up, position=_move_target(up, "down")
        ),
        "remove": lambda: services.unit_procedure_remove(actor=actor, unit_procedure=up),
        "add-operation": lambda: services.operation_add(
            actor=actor, unit_procedure=up, name=request.POST.get("name", "")
        ),
    }
    if action not in actions:
        raise NotFound(f"Unknown action {action!r}.")
    actions[action]()
    if not request.htmx:
        return _not_htmx(request, version.pk, "tree")
    return _render_tree(request, version)


@login_required
@require_POST
def operation_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    op = _element(request, Operation, pk)
    version = op.unit_procedure.version
    actor = request.user
    opened: dict[str, int] = {}

    def add_phase() -> None:
        phase = services.phase_add(
            actor=actor, operation=op, values={"name": request.POST.get("name", "")}
        )
        opened["phase"] = phase.pk

    actions: dict[str, Callable[[], Any]] = {
        "update": lambda: services.operation_update(
            actor=actor,
            operation=op,
            changes={k: request.POST.get(k, "") for k in ("name", "description")},
        ),
        "up": lambda: services.operation_move(
            actor=actor, operation=op, position=_move_target(op, "up")
        ),
        "down": lambda: services.operation_move(
            actor=actor, operation=op, position=_move_target(op, "down")
        ),
        "remove": lambda: services.operation_remove(actor=actor, operation=op),
        "add-phase": add_phase,
    }
    if action not in actions:
        raise NotFound(f"Unknown action {action!r}.")
    actions[action]()
    if not request.htmx:
        return _not_htmx(request, version.pk, "tree")
    return _render_tree(request, version, open_phase=opened.get("phase"))


@login_required
@require_GET
def phase_card(request: HttpRequest, pk: int) -> HttpResponse:
    """The phase card with its editor (loaded when the author opens a phase)."""
    phase = _element(request, Phase, pk)
    response = _render_phase(request, phase.pk)
    del response["HX-Trigger"]  # reading changes nothing
    return response


@login_required
@require_POST
def phase_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    phase = _element(request, Phase, pk)
    version = phase.operation.unit_procedure.version
    actor = request.user
    if action == "update":
        posted = _posted(request, PHASE_FIELDS, PHASE_FLAGS)
        posted["capabilities"] = request.POST.getlist("capabilities")
        try:
            services.phase_update(actor=actor, phase=phase, changes=posted)
        except RecipeInvalid as exc:
            if not request.htmx:
                return _not_htmx(request, version.pk, f"phase-{phase.pk}", exc.detail)
            return _render_phase(request, phase.pk, values=posted, error=exc)
        if not request.htmx:
            return _not_htmx(request, version.pk, f"phase-{phase.pk}")
        return _render_phase(request, phase.pk)
    if action.startswith("add-") and action[4:] in ROW_KINDS:
        kind = action[4:]
        spec = ROW_KINDS[kind]
        posted = _posted(request, spec["fields"], spec["flags"])
        try:
            spec["add"](actor=actor, phase=phase, values=posted)
        except RecipeInvalid as exc:
            if not request.htmx:
                return _not_htmx(request, version.pk, f"phase-{phase.pk}", exc.detail)
            failed = {"values": posted, "error": exc.message, "error_field": exc.field}
            return _render_phase(request, phase.pk, add_errors={kind: failed})
        if not request.htmx:
            return _not_htmx(request, version.pk, f"phase-{phase.pk}")
        return _render_phase(request, phase.pk)
    opened: dict[str, int] = {}

    def duplicate() -> None:
        opened["phase"] = services.phase_duplicate(actor=actor, phase=phase).pk

    def move_to() -> None:
        raw = request.POST.get("operation", "")
        target = _element(request, Operation, int(raw)) if raw.isdigit() else None
        if target is None:
            raise InvalidInput("Choose the operation to move the phase to.")
        services.phase_move(actor=actor, phase=phase, position=None, operation=target)

    actions: dict[str, Callable[[], Any]] = {
        "up": lambda: services.phase_move(
            actor=actor, phase=phase, position=_move_target(phase, "up")
        ),
        "down": lambda: services.phase_move(
            actor=actor, phase=phase, position=_move_target(phase, "down")
        ),
        "remove": lambda: services.phase_remove(actor=actor, phase=phase),
        "duplicate": duplicate,
        "move-to": move_to,
    }
    if action not in actions:
        raise NotFound(f"Unknown action {action!r}.")
    actions[action]()
    if not request.htmx:
        return _not_htmx(request, version.pk, "tree")
    return _render_tree(request, version, open_phase=opened.get("phase", phase.pk))


@login_required
@require_POST
def row_action(request: HttpRequest, kind: str, pk: int, action: str) -> HttpResponse:
    if kind not in ROW_KINDS:
        raise NotFound(f"Unknown element {kind!r}.")
    spec = ROW_KINDS[kind]
    item = _element(request, spec["model"], pk)
    version = _version_of(item)
    actor = request.user
    if action == "update":
        posted = _posted(request, spec["fields"], spec["flags"])
        error = None
        try:
            item = spec["update"](actor, item, posted)
        except RecipeInvalid as exc:
            error = exc
        if not request.htmx:
            return _not_htmx(
                request, version.pk, f"phase-{item.phase_id}", error.detail if error else ""
            )
        context = {
            "row": _row(kind, item, values=posted if error else None, error=error),
            "can_edit": _can_edit(request, version),
            "saved": error is None,
            **_choices(),
        }
        return _changed(render(request, spec["template"], context))
    actions: dict[str, Callable[[], Any]] = {
        "up": lambda: spec["move"](actor, item, item.position - 1),
        "down": lambda: spec["move"](actor, item, item.position + 1),
        "remove": lambda: spec["remove"](actor, item),
    }
    if action not in actions:
        raise NotFound(f"Unknown action {action!r}.")
    actions[action]()
    if not request.htmx:
        return _not_htmx(request, version.pk, f"phase-{item.phase_id}")
    return _render_phase(request, item.phase_id)


# --- workflow pages (signed) -----------------------------------------------------------------

SIGNED_ACTIONS: dict[str, dict[str, Any]] = {
    "submit": {
        "meaning": Meaning.SUBMITTED,
        "service": services.recipe_version_submit,
        "reason_required": False,
        "title": "Submit for review",
        "done": "submitted for review",
    },
    "approve": {
        "meaning": Meaning.APPROVED,
        "service": services.recipe_version_approve,
        "reason_required": False,
        "title": "Approve",
        "done": "approved",
    },
    "reject": {
        "meaning": Meaning.REJECTED,
        "service": services.recipe_version_reject,
        "reason_required": True,
        "title": "Reject (back to draft)",
        "done": "rejected back to draft",
    },
    "obsolete": {
        "meaning": Meaning.CANCELLED,
        "service": services.recipe_version_make_obsolete,
        "reason_required": True,
        "title": "Make obsolete",
        "done": "made obsolete",
    },
}


def _sign_form(request: HttpRequest, action: str, data: Any = None) -> SignatureForm:
    spec = SIGNED_ACTIONS[action]
    initial = {"username": request.user.get_username()}
    return SignatureForm(
        data, meaning=spec["meaning"], reason_required=spec["reason_required"], initial=initial
    )


def _review_context(request: HttpRequest, version: RecipeVersion) -> dict[str, Any]:
    baseline = selectors.recipe_version_baseline(version)
    changes = diff_versions(baseline, version) if baseline else []
    return {
        "version": version,
        "recipe": version.recipe,
        "baseline": baseline,
        "changes": changes,
        "counts": diff_counts(changes),
        "content": version_content(version),
        "problems": selectors.recipe_version_problems(version),
        "signatures": selectors.recipe_version_signatures(version),
        "sizes": selectors.recipe_version_counts(version),
        "can_review": selectors.can_review_recipes(request.user)
        and version.status == RecipeVersionStatus.IN_REVIEW,
    }


@login_required
@require_http_methods(["GET", "POST"])
def version_sign(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """The signing page of one transition (GET: the form; POST: sign and move)."""
    if action not in SIGNED_ACTIONS:
        raise NotFound(f"Unknown action {action!r}.")
    spec = SIGNED_ACTIONS[action]
    version = selectors.recipe_version_get(actor=request.user, pk=pk)
    form = _sign_form(request, action, request.POST if request.method == "POST" else None)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            signer = signer_authenticate(
                request=request, actor=request.user, **form.signer_kwargs()
            )
            spec["service"](
                actor=request.user,
                version=version,
                signer=signer,
                reason=form.cleaned_data["reason"],
            )
        except RecipeIncomplete as exc:
            problems = exc.problems
            form.add_error(None, "The version is not complete yet: see the list below.")
        except DomainError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, f"{version.title} {spec['done']}.")
            return redirect(_version_url(version.pk))
    if action in ("approve", "reject"):
        context = _review_context(request, version)
        context |= {
            "approve_form": form if action == "approve" else _sign_form(request, "approve"),
            "reject_form": form if action == "reject" else _sign_form(request, "reject"),
        }
        return render(request, "recipes/version_review.html", context)
    if request.method == "GET" and action == "submit":
        problems = selectors.recipe_version_problems(version)
    context = {
        "version": version,
        "recipe": version.recipe,
        "form": form,
        "action": action,
        "spec": spec,
        "problems": problems,
    }
    return render(request, "recipes/version_sign.html", context)


@login_required
@require_GET
def version_review(request: HttpRequest, pk: int) -> HttpResponse:
    """QA's review page: what changed against the approved version, then approve or reject."""
    version = selectors.recipe_version_get(actor=request.user, pk=pk)
    context = _review_context(request, version)
    context |= {
        "approve_form": _sign_form(request, "approve"),
        "reject_form": _sign_form(request, "reject"),
    }
    return render(request, "recipes/version_review.html", context)


@login_required
@require_GET
def version_diff(request: HttpRequest) -> HttpResponse:
    form = DiffForm(request.GET or None)
    if not form.is_valid():
        raise NotFound("Choose two versions to compare.")
    old = selectors.recipe_version_get(actor=request.user, pk=form.cleaned_data["a"])
    new = selectors.recipe_version_get(actor=request.user, pk=form.cleaned_data["b"])
    changes = diff_versions(old, new)
    return render(
        request,
        "recipes/version_diff.html",
        {"old": old, "new": new, "changes": changes, "counts": diff_counts(changes)},
    )
