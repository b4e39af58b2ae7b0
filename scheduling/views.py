"""The planner's pages (schedules, the Gantt with move / lock / re-optimize / stop / publish,
compare) and the terminals' dispatch lists. Every change calls a service; refusals show the
service's reason (and answer 409 to the Gantt's drag-and-drop)."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from batches.models import BatchOrder
from equipment.models import Site, Unit, WorkCenter
from equipment.selectors import areas_visible_to
from mes.exceptions import DomainError
from scheduling import forms, selectors, services, tasks
from scheduling.models import (
    ChangeoverMatrix,
    DemandPriority,
    Schedule,
    ScheduleEntry,
    ScheduleStatus,
    ShiftCalendar,
)
from workorders.models import WorkOrder


def _viewer(request: HttpRequest) -> None:
    if not selectors.can_view(request.user):
        raise PermissionDenied("You may not see schedules.")


def _schedule_or_404(request: HttpRequest, pk: int) -> Schedule:
    _viewer(request)
    try:
        return selectors.schedule_get(actor=request.user, pk=pk)
    except Schedule.DoesNotExist as exc:
        raise Http404("No such schedule.") from exc


def _run(request: HttpRequest, action: Callable[[], Any], success: str) -> Any:
    try:
        result = action()
    except DomainError as exc:
        messages.error(request, exc.detail)
        return None
    messages.success(request, success)
    return result if result is not None else True


def _back(schedule: Schedule) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("scheduling:schedule_detail", args=[schedule.pk]))


def _sites(request: HttpRequest) -> list[Site]:
    return list(Site.objects.filter(areas__in=areas_visible_to(request.user)).distinct())


@login_required
@require_GET
def schedule_list(request: HttpRequest) -> HttpResponse:
    _viewer(request)
    schedules = selectors.schedule_list(actor=request.user)[:50]
    return render(
        request,
        "scheduling/schedule_list.html",
        {
            "schedules": schedules,
            "form": forms.ScheduleCreateForm(),
            "can_plan": selectors.can_plan(request.user),
            "sites": _sites(request),
        },
    )


@login_required
@require_POST
def schedule_create(request: HttpRequest) -> HttpResponse:
    _viewer(request)
    form = forms.ScheduleCreateForm(request.POST)
    sites = _sites(request)
    site = next((s for s in sites if str(s.pk) == request.POST.get("site")), None)
    site = site or (sites[0] if len(sites) == 1 else None)
    if not form.is_valid() or site is None:
        messages.error(request, "Invalid input: choose a site and check the weights.")
        return HttpResponseRedirect(reverse("scheduling:schedule_list"))

    def create() -> Schedule:
        schedule = services.schedule_create(actor=request.user, site=site, **form.cleaned_data)
        tasks.enqueue_solve(schedule, request.user)
        return schedule

    schedule = _run(request, create, "Schedule created; the solver is running.")
    if not isinstance(schedule, Schedule):
        return HttpResponseRedirect(reverse("scheduling:schedule_list"))
    return _back(schedule)


def _detail_context(request: HttpRequest, schedule: Schedule) -> dict[str, Any]:
    problems, by_entry = services.schedule_conflicts(schedule)
    chart = selectors.gantt(schedule, conflicts=by_entry)
    movable = [e for e in selectors.schedule_entries(schedule) if e.kind in ("operation", "batch")]
    return {
        "schedule": schedule,
        "gantt": chart,
        "conflicts": problems,
        "movable": movable,
        "can_plan": selectors.can_plan(request.user),
        "editable": schedule.status == ScheduleStatus.PROPOSED and not schedule.is_solving,
        "published": selectors.schedule_published(schedule.site_id),
        "solve_form": forms.ScheduleSolveForm(
            initial={
                "tardiness_weight": schedule.tardiness_weight,
                "makespan_weight": schedule.makespan_weight,
                "changeover_weight": schedule.changeover_weight,
                "time_limit_seconds": schedule.time_limit_seconds,
            }
        ),
        "events": schedule.events.select_related("actor").order_by("-id")[:15],
    }


@login_required
@require_GET
def schedule_detail(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = _schedule_or_404(request, pk)
    return render(request, "scheduling/schedule_detail.html", _detail_context(request, schedule))


@login_required
@require_GET
def schedule_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The HTMX poll while solving: the progress box and the best Gantt so far."""
    schedule = _schedule_or_404(request, pk)
    response = render(request, "scheduling/partials/_live.html", _detail_context(request, schedule))
    if not schedule.is_solving and request.GET.get("was") == "solving":
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def schedule_solve(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = _schedule_or_404(request, pk)
    form = forms.ScheduleSolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Invalid weights or time limit.")
        return _back(schedule)

    def solve() -> Schedule:
        queued = services.schedule_request_solve(
            actor=request.user, schedule=schedule, **form.cleaned_data
        )
        tasks.enqueue_solve(queued, request.user)
        return queued

    _run(request, solve, "Re-optimizing: the best schedule so far shows as it improves.")
    return _back(schedule)


@login_required
@require_POST
def schedule_stop(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = _schedule_or_404(request, pk)
    _run(
        request,
        lambda: services.schedule_stop(actor=request.user, schedule=schedule),
        "Stop requested: the best schedule found so far is kept.",
    )
    return _back(schedule)


@login_required
@require_POST
def schedule_publish(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = _schedule_or_404(request, pk)
    _run(
        request,
        lambda: services.schedule_publish(actor=request.user, schedule=schedule),
        f"{schedule.number} published: it is now the dispatch list of every work center and unit.",
    )
    return _back(schedule)


def _resource(value: str) -> tuple[WorkCenter | None, Unit | None]:
    kind, _, pk = value.partition(":")
    if kind == "wc":
        return WorkCenter.objects.filter(pk=int(pk)).first(), None
    if kind == "unit":
        return None, Unit.objects.filter(pk=int(pk)).first()
    return None, None


@login_required
@require_POST
def entry_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Form post (redirect with a message) or the Gantt's drop (JSON; 409 with the reason)."""
    schedule = _schedule_or_404(request, pk)
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    form = forms.EntryMoveForm(request.POST)
    if not form.is_valid():
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        if wants_json:
            return JsonResponse({"code": "invalid_input", "detail": detail}, status=400)
        messages.error(request, f"Invalid input: {detail}")
        return _back(schedule)
    entry = ScheduleEntry.objects.filter(schedule=schedule, pk=form.cleaned_data["entry"]).first()
    if entry is None:
        raise Http404("No such entry in this schedule.")
    work_center, unit = _resource(form.cleaned_data["resource"])
    try:
        moved, warnings = services.schedule_entry_move(
            actor=request.user,
            entry=entry,
            start=form.cleaned_data["start"],
            work_center=work_center,
            unit=unit,
        )
    except DomainError as exc:
        if wants_json:
            return JsonResponse({"code": exc.code, "detail": exc.detail}, status=exc.status_code)
        messages.error(request, exc.detail)
        return _back(schedule)
    if wants_json:
        return JsonResponse({"entry": moved.pk, "warnings": warnings})
    messages.success(request, f"{moved.label} moved and locked to its resource.")
    for warning in warnings:
        messages.warning(request, warning)
    return _back(schedule)


@login_required
@require_POST
def entry_lock(request: HttpRequest, pk: int, entry_pk: int) -> HttpResponse:
    schedule = _schedule_or_404(request, pk)
    entry = ScheduleEntry.objects.filter(schedule=schedule, pk=entry_pk).first()
    if entry is None:
        raise Http404("No such entry in this schedule.")
    locked = request.POST.get("locked", "1") == "1"
    _run(
        request,
        lambda: services.schedule_entry_lock(actor=request.user, entry=entry, locked=locked),
        f"{entry.label} {'locked' if locked else 'unlocked'}.",
    )
    return _back(schedule)


@login_required
@require_GET
def schedule_compare(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = _schedule_or_404(request, pk)
    published = selectors.schedule_published(schedule.site_id)
    if published is not None and published.pk == schedule.pk:
        published = schedule.based_on
    return render(
        request,
        "scheduling/compare.html",
        {
            "schedule": schedule,
            "published": published,
            "result": selectors.schedule_compare(schedule, published),
            "left": selectors.gantt(published) if published else None,
            "right": selectors.gantt(schedule),
        },
    )


# --- terminals -------------------------------------------------------------------------------


@login_required
@require_GET
def dispatch_index(request: HttpRequest) -> HttpResponse:
    _viewer(request)
    areas = areas_visible_to(request.user)
    return render(
        request,
        "scheduling/dispatch_index.html",
        {
            "work_centers": WorkCenter.objects.filter(area__in=areas, is_active=True).order_by(
                "code"
            ),
            "units": Unit.objects.filter(
                area__in=areas, is_active=True, process_cell__isnull=False
            ).order_by("code"),
        },
    )


def _dispatch(request: HttpRequest, resource: Any, entries: list[ScheduleEntry]) -> HttpResponse:
    template = (
        "scheduling/partials/_dispatch.html"
        if request.headers.get("HX-Request")
        else "scheduling/dispatch.html"
    )
    return render(
        request,
        template,
        {
            "resource": resource,
            "entries": entries,
            "next": entries[0] if entries else None,
            "published": selectors.schedule_published(resource.area.site_id),
        },
    )


@login_required
@require_GET
def dispatch_work_center(request: HttpRequest, pk: int) -> HttpResponse:
    _viewer(request)
    wc = WorkCenter.objects.filter(pk=pk, area__in=areas_visible_to(request.user)).first()
    if wc is None:
        raise Http404("No such work center in your areas.")
    return _dispatch(request, wc, selectors.dispatch_list(work_center=wc))


@login_required
@require_GET
def dispatch_unit(request: HttpRequest, pk: int) -> HttpResponse:
    _viewer(request)
    unit = Unit.objects.filter(pk=pk, area__in=areas_visible_to(request.user)).first()
    if unit is None:
        raise Http404("No such unit in your areas.")
    return _dispatch(request, unit, selectors.dispatch_list(unit=unit))


# --- master data (back office) ---------------------------------------------------------------


@login_required
def master_data(request: HttpRequest) -> HttpResponse:
    """Changeover matrices and rules, shift calendars, order priorities; planners set a
    changeover rule or an order's priority here (administrators also in the admin)."""
    _viewer(request)
    sites = _sites(request)
    if request.method == "POST":
        if request.POST.get("form") == "rule":
            form = forms.ChangeoverRuleForm(request.POST)
            matrix = ChangeoverMatrix.objects.filter(
                pk=request.POST.get("matrix"), site__in=sites
            ).first()
            if form.is_valid() and matrix is not None:
                data = dict(form.cleaned_data)
                data.pop("matrix")
                _run(
                    request,
                    lambda: services.changeover_rule_set(actor=request.user, matrix=matrix, **data),
                    f"Changeover {data['from_product']} → {data['to_product']} saved.",
                )
            else:
                messages.error(request, "Invalid changeover rule.")
        else:
            form = forms.DemandPriorityForm(request.POST)
            if form.is_valid():
                number = form.cleaned_data["order"].strip()
                batch = BatchOrder.objects.filter(number=number).first()
                work_order = None if batch else WorkOrder.objects.filter(number=number).first()
                if batch is None and work_order is None:
                    messages.error(request, f"There is no batch or work order {number}.")
                else:
                    _run(
                        request,
                        lambda: services.demand_priority_set(
                            actor=request.user,
                            batch=batch,
                            work_order=work_order,
                            due_at=form.cleaned_data["due_at"],
                            priority=form.cleaned_data["priority"],
                            duration_minutes=form.cleaned_data["duration_minutes"],
                        ),
                        f"Priority of {number} saved.",
                    )
            else:
                messages.error(request, "Invalid priority.")
        return HttpResponseRedirect(reverse("scheduling:master_data"))
    return render(
        request,
        "scheduling/master_data.html",
        {
            "matrices": ChangeoverMatrix.objects.filter(site__in=sites).prefetch_related("rules"),
            "calendars": ShiftCalendar.objects.select_related(
                "work_center", "unit"
            ).prefetch_related("windows"),
            "priorities": DemandPriority.objects.select_related("batch", "work_order"),
            "can_plan": selectors.can_plan(request.user),
            "rule_form": forms.ChangeoverRuleForm(),
            "priority_form": forms.DemandPriorityForm(),
        },
    )
