"""Equipment pages: the plant model browser, unit detail with its logbook and cleaning
forms, instruments and calibration, maintenance work orders, the printable logbook."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from equipment import forms, selectors, services
from equipment import permissions as perms
from equipment.choices import MaintenanceWorkOrderStatus
from equipment.models import Instrument, MaintenanceWorkOrder, Unit
from equipment.pdf import unit_logbook_pdf
from mes.esign.forms import SignatureForm
from mes.esign.models import Meaning
from mes.esign.services import signer_authenticate
from mes.exceptions import DomainError


def _unit_or_404(request: HttpRequest, pk: int) -> Unit:
    try:
        return selectors.unit_get(actor=request.user, pk=pk)
    except Unit.DoesNotExist as exc:
        raise Http404("No such unit in your areas.") from exc


def _instrument_or_404(request: HttpRequest, pk: int) -> Instrument:
    try:
        return selectors.instrument_get(actor=request.user, pk=pk)
    except Instrument.DoesNotExist as exc:
        raise Http404("No such instrument in your areas.") from exc


def _order_or_404(request: HttpRequest, pk: int) -> MaintenanceWorkOrder:
    try:
        return selectors.maintenance_work_order_get(actor=request.user, pk=pk)
    except MaintenanceWorkOrder.DoesNotExist as exc:
        raise Http404("No such maintenance work order in your areas.") from exc


def _run(request: HttpRequest, action: Callable[[], Any], success: str) -> bool:
    """Call a service; show its refusal (with the reason) or `success`."""
    try:
        action()
    except DomainError as exc:
        messages.error(request, exc.detail)
        return False
    messages.success(request, success)
    return True


def _invalid(request: HttpRequest, form: Any) -> None:
    errors = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items())
    messages.error(request, f"Invalid input: {errors}")


# --- plant model -----------------------------------------------------------------------------


@login_required
@require_GET
def plant(request: HttpRequest) -> HttpResponse:
    sites = selectors.plant_model(actor=request.user)
    return render(request, "equipment/plant.html", {"sites": sites})


@login_required
@require_GET
def unit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    unit = _unit_or_404(request, pk)
    now = timezone.now()
    check = forms.UsabilityForm(request.GET or None)
    product_code = check.cleaned_data["product_code"] if check.is_valid() else ""
    ok, reasons = services.unit_usability(unit, product_code=product_code or None, at=now)
    user = request.user
    context = {
        "unit": unit,
        "row": selectors.unit_rows([unit], at=now)[0],
        "ok": ok,
        "reasons": reasons,
        "product_code": product_code,
        "logbook": list(reversed(selectors.unit_logbook(unit=unit))),
        "instruments": [
            (i, selectors.calibration_due_state(i, at=now))
            for i in unit.instruments.filter(is_active=True).order_by("code")
        ],
        "orders": unit.maintenance_work_orders.filter(
            status__in=[MaintenanceWorkOrderStatus.OPEN, MaintenanceWorkOrderStatus.IN_PROGRESS]
        ),
        "check_form": check if check.is_bound else forms.UsabilityForm(),
        "cleaning_form": forms.CleaningForm(),
        "verify_form": forms.VerifyCleaningForm(),
        "status_form": forms.UnitStatusForm(),
        "can_record_cleaning": user.has_perm(perms.RECORD_CLEANING),
        "can_verify_cleaning": user.has_perm(perms.VERIFY_CLEANING),
        "can_change_status": user.has_perm(perms.CHANGE_UNIT_STATUS),
    }
    if request.htmx:
        return render(request, "equipment/partials/_usability.html", context)
    return render(request, "equipment/unit_detail.html", context)


@login_required
@require_POST
def unit_record_cleaning(request: HttpRequest, pk: int) -> HttpResponse:
    unit = _unit_or_404(request, pk)
    form = forms.CleaningForm(request.POST)
    if form.is_valid():
        _run(
            request,
            lambda: services.unit_record_cleaning(
                actor=request.user,
                unit=unit,
                cleaning_type=form.cleaned_data["cleaning_type"],
                note=form.cleaned_data["note"],
            ),
            f"{form.cleaned_data['cleaning_type'].title()} cleaning of {unit.code} recorded; "
            "it needs verifying by another person.",
        )
    else:
        _invalid(request, form)
    return HttpResponseRedirect(reverse("equipment:unit_detail", args=[unit.pk]))


@login_required
@require_POST
def unit_verify_cleaning(request: HttpRequest, pk: int) -> HttpResponse:
    unit = _unit_or_404(request, pk)
    form = forms.VerifyCleaningForm(request.POST)
    if form.is_valid():
        _run(
            request,
            lambda: services.unit_verify_cleaning(
                actor=request.user, unit=unit, note=form.cleaned_data["note"]
            ),
            f"Cleaning of {unit.code} verified.",
        )
    else:
        _invalid(request, form)
    return HttpResponseRedirect(reverse("equipment:unit_detail", args=[unit.pk]))


@login_required
@require_POST
def unit_change_status(request: HttpRequest, pk: int) -> HttpResponse:
    unit = _unit_or_404(request, pk)
    form = forms.UnitStatusForm(request.POST)
    if form.is_valid():
        _run(
            request,
            lambda: services.unit_change_status(
                actor=request.user,
                unit=unit,
                to_status=form.cleaned_data["to_status"],
                reason=form.cleaned_data["reason"],
            ),
            f"Status of {unit.code} changed.",
        )
    else:
        _invalid(request, form)
    return HttpResponseRedirect(reverse("equipment:unit_detail", args=[unit.pk]))


@login_required
@require_GET
def unit_logbook(request: HttpRequest, pk: int) -> HttpResponse:
    unit = _unit_or_404(request, pk)
    body = unit_logbook_pdf(unit=unit, printed_by=request.user)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="logbook-{unit.code}.pdf"'
    return response


# --- instruments -----------------------------------------------------------------------------


@login_required
@require_GET
def instrument_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = [
        (i, selectors.calibration_due_state(i, at=now))
        for i in selectors.instrument_list(actor=request.user)
    ]
    return render(request, "equipment/instrument_list.html", {"rows": rows})


@login_required
def instrument_detail(request: HttpRequest, pk: int) -> HttpResponse:
    instrument = _instrument_or_404(request, pk)
    if request.method == "POST":
        form = forms.CalibrationForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            done = _run(
                request,
                lambda: services.instrument_record_calibration(
                    actor=request.user,
                    instrument=instrument,
                    reference_value=data["reference_value"],
                    as_found_value=data["as_found_value"],
                    as_left_value=data["as_left_value"],
                    as_found_passed=form.as_bool(data["as_found_result"]),
                    as_left_passed=form.as_bool(data["as_left_result"]),
                    certificate_ref=data["certificate_ref"],
                    note=data["note"],
                ),
                f"Calibration of {instrument.code} recorded.",
            )
            if done:
                return HttpResponseRedirect(
                    reverse("equipment:instrument_detail", args=[instrument.pk])
                )
        else:
            _invalid(request, form)
    else:
        form = forms.CalibrationForm()
    ok, reasons = services.instrument_usability(instrument)
    context = {
        "instrument": instrument,
        "due_state": selectors.calibration_due_state(instrument),
        "ok": ok,
        "reasons": reasons,
        "calibrations": selectors.instrument_calibrations(instrument=instrument),
        "form": form,
        "can_record_calibration": request.user.has_perm(perms.RECORD_CALIBRATION),
    }
    return render(request, "equipment/instrument_detail.html", context)


# --- maintenance -----------------------------------------------------------------------------


@login_required
@require_GET
def maintenance_list(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "open")
    orders = selectors.maintenance_work_order_list(actor=request.user, open_only=show == "open")
    context = {
        "orders": orders[:200],
        "show": show,
        "can_execute": request.user.has_perm(perms.EXECUTE_MAINTENANCE_WORK_ORDER),
        "now": timezone.now(),
    }
    return render(request, "equipment/maintenance_list.html", context)


def _order_action(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    order = _order_or_404(request, pk)
    if verb == "start":
        _run(
            request,
            lambda: services.maintenance_work_order_start(actor=request.user, work_order=order),
            f"{order.number} started; {order.unit.code} is in maintenance.",
        )
    elif verb == "complete":
        form = forms.MaintenanceCompleteForm(request.POST)
        sign = (
            SignatureForm(request.POST, meaning=Meaning.PERFORMED)
            if request.POST.get("username")
            else None
        )
        if form.is_valid() and (sign is None or sign.is_valid()):

            def complete() -> None:
                # authenticate outside any transaction: a wrong password is recorded
                signer = (
                    signer_authenticate(request=request, actor=request.user, **sign.signer_kwargs())
                    if sign is not None
                    else None
                )
                services.maintenance_work_order_complete(
                    actor=request.user,
                    work_order=order,
                    note=form.cleaned_data["note"],
                    signer=signer,
                    signature_reason=sign.cleaned_data["reason"] if sign is not None else "",
                )

            _run(
                request,
                complete,
                f"{order.number} completed" + (" and signed." if sign is not None else "."),
            )
        else:
            _invalid(request, sign if form.is_valid() else form)
    else:
        form = forms.MaintenanceCancelForm(request.POST)
        if form.is_valid():
            _run(
                request,
                lambda: services.maintenance_work_order_cancel(
                    actor=request.user, work_order=order, reason=form.cleaned_data["reason"]
                ),
                f"{order.number} cancelled.",
            )
        else:
            _invalid(request, form)
    return HttpResponseRedirect(reverse("equipment:maintenance_list"))


@login_required
@require_POST
def maintenance_start(request: HttpRequest, pk: int) -> HttpResponse:
    return _order_action(request, pk, "start")


@login_required
@require_POST
def maintenance_complete(request: HttpRequest, pk: int) -> HttpResponse:
    return _order_action(request, pk, "complete")


@login_required
@require_POST
def maintenance_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _order_action(request, pk, "cancel")
