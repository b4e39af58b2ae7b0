"""Work-order pages: the operator terminal (pick a work center, then an operation: clock on and
off, machine, pause, quantities, units with component scans and inspection) and the planners'
back office (BOMs, routings, work orders, variance with CSV and an SVG chart)."""

import csv
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from equipment.models import Area, WorkCenter
from equipment.selectors import areas_visible_to
from genealogy.models import Material
from mes.esign.selectors import signatures_for_record
from mes.esign.services import signer_authenticate
from mes.exceptions import DomainError, InvalidInput
from workorders import selectors, services
from workorders.choices import CharacteristicKind, ReasonKind, TimeBasis, UnitStatus
from workorders.models import (
    Bom,
    DowntimeRecord,
    HandoffRule,
    InspectionCharacteristic,
    LaborRecord,
    LotReservation,
    MachineRecord,
    ReasonCode,
    Routing,
    WorkOrder,
    WorkOrderOperation,
    WorkOrderUnit,
)


def _run(request: HttpRequest, action: Callable[[], Any], success: str) -> bool:
    """Call a service; show its refusal (with the reason) or `success`."""
    try:
        action()
    except DomainError as exc:
        messages.error(request, exc.detail)
        return False
    messages.success(request, success)
    return True


def _op_or_404(request: HttpRequest, pk: int) -> WorkOrderOperation:
    try:
        return selectors.operation_get(actor=request.user, pk=pk)
    except WorkOrderOperation.DoesNotExist as exc:
        raise Http404("No such operation in your areas.") from exc


def _unit_or_404(request: HttpRequest, pk: int) -> WorkOrderUnit:
    try:
        return selectors.unit_get(actor=request.user, pk=pk)
    except WorkOrderUnit.DoesNotExist as exc:
        raise Http404("No such unit in your areas.") from exc


def _reason(request: HttpRequest, field: str, kind: str) -> ReasonCode | None:
    value = request.POST.get(field) or ""
    return ReasonCode.objects.filter(pk=value, kind=kind).first() if value.isdigit() else None


# --- terminal --------------------------------------------------------------------------------


@login_required
@require_GET
def terminal(request: HttpRequest) -> HttpResponse:
    centers = WorkCenter.objects.filter(
        area__in=areas_visible_to(request.user), is_active=True
    ).select_related("area")
    center_id = request.GET.get("work_center")
    operations = (
        selectors.operation_list(actor=request.user, work_center_id=int(center_id))
        if center_id and center_id.isdigit()
        else []
    )
    return render(
        request,
        "workorders/terminal.html",
        {"centers": centers, "center_id": center_id, "operations": operations},
    )


def _panel_context(request: HttpRequest, operation: WorkOrderOperation) -> dict[str, Any]:
    wo = operation.work_order
    units = (
        WorkOrderUnit.objects.filter(operation=operation)
        .exclude(status=UnitStatus.FINISHED)
        .order_by("serial_number")
        if wo.is_serialized
        else []
    )
    return {
        "op": operation,
        "wo": wo,
        "units": units,
        "lines": services._bom_lines_at(operation),
        "characteristics": InspectionCharacteristic.objects.filter(
            operation_id=operation.routing_operation_id
        ),
        "labor": selectors.open_labor(operation=operation),
        "me_on": selectors.open_labor(operation=operation).filter(operator=request.user).exists(),
        "machine_running": MachineRecord.objects.filter(
            operation=operation, ended_at__isnull=True
        ).exists(),
        "paused": DowntimeRecord.objects.filter(
            operation=operation, ended_at__isnull=True
        ).exists(),
        "scrap_reasons": ReasonCode.objects.filter(kind=ReasonKind.SCRAP, is_active=True),
        "rework_reasons": ReasonCode.objects.filter(kind=ReasonKind.REWORK, is_active=True),
        "downtime_reasons": ReasonCode.objects.filter(kind=ReasonKind.DOWNTIME, is_active=True),
    }


@login_required
@require_GET
def operation_panel(request: HttpRequest, pk: int) -> HttpResponse:
    operation = _op_or_404(request, pk)
    return render(request, "workorders/operation.html", _panel_context(request, operation))


def _back(operation: WorkOrderOperation) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("workorders:operation", args=[operation.pk]))


@login_required
@require_POST
def operation_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One POST per terminal button; each calls one service."""
    operation = _op_or_404(request, pk)
    user = request.user
    post = request.POST
    actions: dict[str, tuple[Callable[[], Any], str]] = {
        "clock-on": (
            lambda: services.labor_clock_on(actor=user, operation=operation),
            "Clocked on.",
        ),
        "clock-off": (
            lambda: services.labor_clock_off(actor=user, operation=operation),
            "Clocked off.",
        ),
        "machine-start": (
            lambda: services.machine_start(actor=user, operation=operation),
            "Machine running.",
        ),
        "machine-stop": (
            lambda: services.machine_stop(actor=user, operation=operation),
            "Machine stopped.",
        ),
        "pause": (
            lambda: services.operation_pause(
                actor=user,
                operation=operation,
                reason_code=_reason(request, "reason", ReasonKind.DOWNTIME),
            ),
            "Paused.",
        ),
        "resume": (
            lambda: services.operation_resume(actor=user, operation=operation),
            "Resumed.",
        ),
        "report": (
            lambda: services.operation_report(
                actor=user,
                operation=operation,
                good=post.get("good") or 0,
                scrap=post.get("scrap") or 0,
                rework=post.get("rework") or 0,
                scrap_reason=_reason(request, "scrap_reason", ReasonKind.SCRAP),
                rework_reason=_reason(request, "rework_reason", ReasonKind.REWORK),
            ),
            "Quantities reported.",
        ),
        "consume": (
            lambda: services.operation_consume(
                actor=user,
                operation=operation,
                code=post.get("code", ""),
                quantity=post.get("quantity") or 0,
            ),
            "Component consumed.",
        ),
        "start-unit": (
            lambda: services.unit_start(actor=user, operation=operation),
            "Unit started.",
        ),
    }
    if action not in actions:
        raise Http404("Unknown action.")
    call, success = actions[action]
    _run(request, call, success)
    return _back(operation)


@login_required
@require_POST
def unit_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    unit = _unit_or_404(request, pk)
    operation = unit.operation
    user = request.user
    post = request.POST

    def inspect() -> Any:
        results = {
            int(key.split("_", 1)[1]): value
            for key, value in post.items()
            if key.startswith("char_") and key.split("_", 1)[1].isdigit()
        }
        return services.unit_inspect(actor=user, unit=unit, results=results)

    actions: dict[str, tuple[Callable[[], Any], str]] = {
        "scan": (
            lambda: services.unit_scan_component(actor=user, unit=unit, code=post.get("code", "")),
            f"Component recorded into {unit.serial_number}.",
        ),
        "inspect": (inspect, f"Inspection of {unit.serial_number} recorded."),
        "complete": (
            lambda: services.unit_complete_operation(actor=user, unit=unit),
            f"{unit.serial_number} completed.",
        ),
        "scrap": (
            lambda: services.unit_scrap(
                actor=user,
                unit=unit,
                note=post.get("note", ""),
                reason_code=_reason(request, "reason", ReasonKind.SCRAP),
            ),
            f"{unit.serial_number} scrapped.",
        ),
        "rework": (
            lambda: services.unit_send_to_rework(
                actor=user,
                unit=unit,
                note=post.get("note", ""),
                reason_code=_reason(request, "reason", ReasonKind.REWORK),
            ),
            f"{unit.serial_number} sent to rework.",
        ),
        "return": (
            lambda: services.unit_return_from_rework(actor=user, unit=unit),
            f"{unit.serial_number} back from rework.",
        ),
    }
    if action not in actions:
        raise Http404("Unknown action.")
    call, success = actions[action]
    _run(request, call, success)
    return _back(operation)  # type: ignore[arg-type]


# --- back office -----------------------------------------------------------------------------


@login_required
@require_GET
def work_order_list(request: HttpRequest) -> HttpResponse:
    orders = selectors.work_order_list(actor=request.user, status=request.GET.get("status"))
    return render(request, "workorders/work_order_list.html", {"orders": orders[:500]})


@login_required
@require_GET
def work_order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        wo = selectors.work_order_get(actor=request.user, pk=pk)
    except WorkOrder.DoesNotExist as exc:
        raise Http404("No such work order in your areas.") from exc
    labor = (
        LaborRecord.objects.filter(operation__work_order=wo)
        .select_related("operator", "operation")
        .order_by("started_at")
    )
    rows = selectors.work_order_variance(wo)
    return render(
        request,
        "workorders/work_order_detail.html",
        {
            "wo": wo,
            "operations": wo.operations.all(),
            "labor": labor,
            "variance": rows,
            "units": wo.units.select_related("operation").order_by("serial_number"),
        },
    )


@login_required
@require_POST
def work_order_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    try:
        wo = selectors.work_order_get(actor=request.user, pk=pk)
    except WorkOrder.DoesNotExist as exc:
        raise Http404("No such work order in your areas.") from exc
    calls = {
        "release": (
            lambda: services.work_order_release(actor=request.user, work_order=wo),
            "Released.",
        ),
        "close": (
            lambda: services.work_order_close(actor=request.user, work_order=wo),
            "Closed.",
        ),
    }
    if action not in calls:
        raise Http404("Unknown action.")
    _run(request, *calls[action])
    return HttpResponseRedirect(reverse("workorders:work_order_detail", args=[wo.pk]))


@login_required
@require_GET
def bom_list(request: HttpRequest) -> HttpResponse:
    return render(request, "workorders/bom_list.html", {"boms": selectors.bom_list()[:200]})


@login_required
@require_GET
def routing_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "workorders/routing_list.html", {"routings": selectors.routing_list()[:200]}
    )


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d")  # noqa: DTZ007  (made aware below)
    except ValueError:
        return None
    return timezone.make_aware(day)


@login_required
@require_GET
def variance(request: HttpRequest) -> HttpResponse:
    group_by = request.GET.get("group_by", "item")
    if group_by not in selectors.GROUPS:
        group_by = "item"
    rows = selectors.variance_report(
        group_by=group_by,
        closed_from=_date(request.GET.get("from")),
        closed_to=_date(request.GET.get("to")),
    )
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="variance-{group_by}.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                group_by,
                "label",
                "std labor h",
                "actual labor h",
                "std machine h",
                "actual machine h",
                "std cost",
                "actual cost",
                "cost variance",
                "good",
                "scrap",
            ]
        )
        for r in rows:
            writer.writerow(
                [
                    r.key,
                    r.label,
                    r.std_labor_hours,
                    r.actual_labor_hours,
                    r.std_machine_hours,
                    r.actual_machine_hours,
                    r.std_cost,
                    r.actual_cost,
                    r.cost_variance,
                    r.good,
                    r.scrap,
                ]
            )
        return response
    return render(
        request,
        "workorders/variance.html",
        {
            "rows": rows,
            "chart": selectors.variance_chart(rows),
            "group_by": group_by,
            "groups": [g for g in selectors.GROUPS if g != "operation"],
            "query": request.GET.urlencode(),
        },
    )


# --- authoring: BOM and routing versions, handoff rules --------------------------------------

TIME_BASES = TimeBasis.choices
CHAR_KINDS = CharacteristicKind.choices


def _rows(post: Any, names: tuple[str, ...], keys: int = 2) -> list[dict[str, str]]:
    """Parallel lists from a form whose rows repeat the same field names; a row whose first
    `keys` fields are blank is an empty row and dropped (selects always send a value)."""
    columns = [post.getlist(name) for name in names]
    rows = []
    for values in zip(*columns, strict=False):
        row = {name: (value or "").strip() for name, value in zip(names, values, strict=True)}
        if any(row[name] for name in names[:keys]):
            rows.append(row)
    return rows


def _day(value: str, what: str) -> Any:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()  # noqa: DTZ007  (a calendar date)
    except ValueError as exc:
        raise InvalidInput(f"The {what} must be a date (YYYY-MM-DD).") from exc


def _material(code: str, what: str) -> Material:
    found = Material.objects.filter(code=code).first() if code else None
    if found is None:
        raise InvalidInput(f"{what}: unknown material {code!r}.")
    return found


def _center(code: str, what: str) -> WorkCenter:
    found = WorkCenter.objects.filter(code=code).first() if code else None
    if found is None:
        raise InvalidInput(f"{what}: unknown work center {code!r}.")
    return found


def _int(value: str, what: str) -> int:
    if not value.isdigit():
        raise InvalidInput(f"{what} must be a whole number (got {value!r}).")
    return int(value)


BOM_FIELDS = ("component", "quantity_per", "scrap_factor", "operation_seq")
OP_FIELDS = (
    "seq",
    "name",
    "work_center",
    "alternatives",
    "setup_minutes",
    "run_minutes_per_unit",
    "time_basis",
    "crew_size",
)
CHAR_FIELDS = ("char_seq", "char_name", "char_kind", "char_low", "char_high", "char_unit")
CHAR_FIELDS += ("char_spc",)


def _bom_from_post(post: Any) -> dict[str, Any]:
    lines = []
    for n, row in enumerate(_rows(post, BOM_FIELDS), start=1):
        lines.append(
            {
                "component": _material(row["component"], f"Line {n}"),
                "quantity_per": row["quantity_per"],
                "scrap_factor": row["scrap_factor"] or "0",
                "operation_seq": _int(row["operation_seq"], f"Line {n}: the consuming operation"),
            }
        )
    return {
        "item": _material(post.get("item", "").strip(), "Item"),
        "effective_from": _day(post.get("effective_from", ""), "effective-from date")
        or timezone.localdate(),
        "effective_to": _day(post.get("effective_to", ""), "effective-to date"),
        "base_quantity": post.get("base_quantity") or "1",
        "description": post.get("description", ""),
        "lines": lines,
    }


def _routing_from_post(post: Any) -> dict[str, Any]:
    chars: dict[str, list[dict[str, Any]]] = {}
    for row in _rows(post, CHAR_FIELDS):
        chars.setdefault(row["char_seq"], []).append(
            {
                "name": row["char_name"],
                "kind": row["char_kind"],
                "lower_limit": row["char_low"],
                "upper_limit": row["char_high"],
                "unit": row["char_unit"],
                "spc_key": row["char_spc"],
            }
        )
    operations = []
    for row in _rows(post, OP_FIELDS, keys=3):
        seq = _int(row["seq"], "An operation's sequence number")
        what = f"Operation {seq}"
        operations.append(
            {
                "seq": seq,
                "name": row["name"],
                "work_center": _center(row["work_center"], what),
                "alternative_work_centers": [
                    _center(code.strip(), f"{what} (alternative)")
                    for code in row["alternatives"].split(",")
                    if code.strip()
                ],
                "setup_minutes": row["setup_minutes"] or "0",
                "run_minutes_per_unit": row["run_minutes_per_unit"] or "0",
                "time_basis": row["time_basis"] or TimeBasis.BOTH,
                "crew_size": _int(row["crew_size"] or "1", f"{what}: the crew size"),
                "characteristics": chars.pop(row["seq"], []),
            }
        )
    if chars:
        raise InvalidInput(
            f"Inspection characteristics refer to operation(s) {', '.join(sorted(chars))} "
            "that the routing lacks."
        )
    return {
        "item": _material(post.get("item", "").strip(), "Item"),
        "effective_from": _day(post.get("effective_from", ""), "effective-from date")
        or timezone.localdate(),
        "effective_to": _day(post.get("effective_to", ""), "effective-to date"),
        "description": post.get("description", ""),
        "operations": operations,
    }


def _bom_rows_of(bom: Bom | None) -> list[dict[str, Any]]:
    if bom is None:
        return [{}, {}, {}]
    return [
        {
            "component": line.component.code,
            "quantity_per": f"{line.quantity_per.normalize():f}",
            "scrap_factor": f"{line.scrap_factor.normalize():f}",
            "operation_seq": line.operation_seq,
        }
        for line in bom.lines.select_related("component").order_by("position")
    ]


def _routing_rows_of(routing: Routing | None) -> tuple[list[dict], list[dict]]:
    if routing is None:
        return [{}, {}], [{}]
    ops, chars = [], []
    for op in routing.operations.select_related("work_center").order_by("seq"):
        ops.append(
            {
                "seq": op.seq,
                "name": op.name,
                "work_center": op.work_center.code,
                "alternatives": ", ".join(c.code for c in op.alternative_work_centers.all()),
                "setup_minutes": f"{op.setup_minutes.normalize():f}",
                "run_minutes_per_unit": f"{op.run_minutes_per_unit.normalize():f}",
                "time_basis": op.time_basis,
                "crew_size": op.crew_size,
            }
        )
        for c in op.characteristics.order_by("position"):
            chars.append(
                {
                    "char_seq": op.seq,
                    "char_name": c.name,
                    "char_kind": c.kind,
                    "char_low": "" if c.lower_limit is None else f"{c.lower_limit.normalize():f}",
                    "char_high": "" if c.upper_limit is None else f"{c.upper_limit.normalize():f}",
                    "char_unit": c.unit,
                    "char_spc": c.spc_key,
                }
            )
    return ops, chars or [{}]


def _posted_rows(post: Any, names: tuple[str, ...]) -> list[dict[str, str]]:
    return _rows(post, names) or [{}]


def _authoring_context() -> dict[str, Any]:
    return {
        "materials": Material.objects.filter(is_active=True).order_by("code"),
        "centers": WorkCenter.objects.filter(is_active=True).order_by("code"),
        "time_bases": TIME_BASES,
        "char_kinds": CHAR_KINDS,
    }


def _source_version(model: type[Bom] | type[Routing], value: str | None) -> Any:
    return model.objects.filter(pk=value).first() if value and value.isdigit() else None


@login_required
def bom_new(request: HttpRequest) -> HttpResponse:
    """Author a draft BOM version (or a new version from an existing one: ?from=<id>)."""
    context = _authoring_context()
    if request.method == "POST":
        try:
            bom = services.bom_create(actor=request.user, **_bom_from_post(request.POST))
        except DomainError as exc:
            context.update(
                error=exc.detail,
                form=request.POST,
                rows=_posted_rows(request.POST, BOM_FIELDS),
            )
            return render(request, "workorders/bom_form.html", context, status=exc.status_code)
        messages.success(request, f"{bom} saved as a draft.")
        return HttpResponseRedirect(reverse("workorders:bom_detail", args=[bom.pk]))
    source = _source_version(Bom, request.GET.get("from"))
    form = {"item": source.item.code, "base_quantity": source.base_quantity} if source else {}
    context.update(form=form, rows=_bom_rows_of(source), source=source)
    return render(request, "workorders/bom_form.html", context)


@login_required
def routing_new(request: HttpRequest) -> HttpResponse:
    context = _authoring_context()
    if request.method == "POST":
        try:
            routing = services.routing_create(
                actor=request.user, **_routing_from_post(request.POST)
            )
        except DomainError as exc:
            context.update(
                error=exc.detail,
                form=request.POST,
                ops=_posted_rows(request.POST, OP_FIELDS),
                chars=_posted_rows(request.POST, CHAR_FIELDS),
            )
            return render(request, "workorders/routing_form.html", context, status=exc.status_code)
        messages.success(request, f"{routing} saved as a draft.")
        return HttpResponseRedirect(reverse("workorders:routing_detail", args=[routing.pk]))
    source = _source_version(Routing, request.GET.get("from"))
    ops, chars = _routing_rows_of(source)
    form = {"item": source.item.code} if source else {}
    context.update(form=form, ops=ops, chars=chars, source=source)
    return render(request, "workorders/routing_form.html", context)


ROW_TEMPLATES = {
    "bom-line": "workorders/partials/_bom_line_row.html",
    "operation": "workorders/partials/_operation_row.html",
    "characteristic": "workorders/partials/_characteristic_row.html",
}


@login_required
@require_GET
def authoring_row(request: HttpRequest, kind: str) -> HttpResponse:
    """HTMX: one empty row of the BOM or routing form, appended by "Add"."""
    if kind not in ROW_TEMPLATES:
        raise Http404("Unknown row.")
    return render(request, ROW_TEMPLATES[kind], {"row": {}, **_authoring_context()})


def _signed(request: HttpRequest, call: Callable[[Any], Any], success: str) -> bool:
    """Authenticate the signer (outside any transaction), then call the service."""
    try:
        signer = signer_authenticate(
            request=request,
            actor=request.user,
            username=request.POST.get("username", ""),
            password=request.POST.get("password", ""),
        )
        call(signer)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return False
    messages.success(request, success)
    return True


@login_required
def bom_detail(request: HttpRequest, pk: int) -> HttpResponse:
    bom = selectors.bom_list().filter(pk=pk).first()
    if bom is None:
        raise Http404("No such BOM.")
    if request.method == "POST":
        _signed(
            request,
            lambda signer: services.bom_approve(
                actor=request.user, bom=bom, signer=signer, reason=request.POST.get("reason", "")
            ),
            f"{bom} approved.",
        )
        return HttpResponseRedirect(reverse("workorders:bom_detail", args=[bom.pk]))
    return render(
        request,
        "workorders/bom_detail.html",
        {
            "bom": bom,
            "explosion": selectors.explosion_flat(selectors.bom_explode(bom)),
            "signatures": signatures_for_record(bom),
            "can_approve": request.user.has_perm("workorders.approve_bom"),
        },
    )


@login_required
def routing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    routing = selectors.routing_list().filter(pk=pk).first()
    if routing is None:
        raise Http404("No such routing.")
    if request.method == "POST":
        _signed(
            request,
            lambda signer: services.routing_approve(
                actor=request.user,
                routing=routing,
                signer=signer,
                reason=request.POST.get("reason", ""),
            ),
            f"{routing} approved.",
        )
        return HttpResponseRedirect(reverse("workorders:routing_detail", args=[routing.pk]))
    return render(
        request,
        "workorders/routing_detail.html",
        {
            "routing": routing,
            "signatures": signatures_for_record(routing),
            "can_approve": request.user.has_perm("workorders.approve_routing"),
        },
    )


@login_required
def handoff_rules(request: HttpRequest) -> HttpResponse:
    """Mixed-mode rules: list, create, switch on/off (with a reason)."""
    status = 200
    error = ""
    if request.method == "POST":
        post = request.POST
        try:
            if post.get("rule"):
                rule = HandoffRule.objects.get(pk=_int(post["rule"], "The rule"))
                rule = services.handoff_rule_set_active(
                    actor=request.user,
                    rule=rule,
                    is_active=post.get("is_active") == "1",
                    reason=post.get("reason", ""),
                )
                messages.success(request, f"{rule}: {'on' if rule.is_active else 'off'}.")
            else:
                area = Area.objects.filter(code=post.get("area", "")).first()
                if area is None:
                    raise InvalidInput(f"Unknown area {post.get('area', '')!r}.")
                rule = services.handoff_rule_create(
                    actor=request.user,
                    material=_material(post.get("material", ""), "Released material"),
                    item=_material(post.get("item", ""), "Item to make"),
                    area=area,
                    serial_pattern=post.get("serial_pattern", ""),
                    note=post.get("note", ""),
                )
                messages.success(request, f"Rule {rule} created.")
            return HttpResponseRedirect(reverse("workorders:handoff_rules"))
        except DomainError as exc:
            error, status = exc.detail, exc.status_code
    rules = HandoffRule.objects.select_related("material", "item", "area").order_by("id")
    reservations = LotReservation.objects.select_related("lot", "work_order", "rule").order_by(
        "-id"
    )[:50]
    return render(
        request,
        "workorders/handoff_rules.html",
        {
            "rules": rules,
            "reservations": reservations,
            "error": error,
            "form": request.POST if error else {},
            "areas": areas_visible_to(request.user),
            **_authoring_context(),
        },
        status=status,
    )
