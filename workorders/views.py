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

from equipment.models import WorkCenter
from equipment.selectors import areas_visible_to
from mes.exceptions import DomainError
from workorders import selectors, services
from workorders.choices import ReasonKind, UnitStatus
from workorders.models import (
    DowntimeRecord,
    InspectionCharacteristic,
    LaborRecord,
    MachineRecord,
    ReasonCode,
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
