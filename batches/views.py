"""Pages of batches: the list, the batch (header, phases, yield, review by exception, release),
the operator terminal for one phase (instructions, values, dispensing, signed completion and
verification), the EBR as PDF and JSON. Every change goes through batches.services."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from batches import batchml, ebr, selectors, services
from batches.choices import BatchStatus, PhaseStatus
from batches.forms import (
    BatchCreateForm,
    BatchStartForm,
    CorrectionForm,
    DispenseForm,
    ReturnForm,
    ValueForm,
    YieldForm,
)
from batches.models import BatchOrder, MaterialUse, ParameterValue, PhaseExecution
from equipment.models import Instrument, Unit
from genealogy.models import Lot
from mes.esign.forms import SignatureForm
from mes.esign.models import Meaning
from mes.esign.services import signer_authenticate
from mes.exceptions import DomainError, InvalidInput, NotAuthorized


def _deny_unless(ok: bool) -> None:
    if not ok:
        raise NotAuthorized("You may not see batches.")


def _batch_url(batch: BatchOrder) -> str:
    return reverse("batches:batch_detail", args=[batch.pk])


def _phase_url(phase: PhaseExecution) -> str:
    return reverse("batches:phase_detail", args=[phase.batch_id, phase.pk])


def _run(request: HttpRequest, back: str, call: Callable[[], Any], done: str) -> HttpResponse:
    try:
        call()
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, done)
    return HttpResponseRedirect(back)


def _form_error(form: Any) -> str:
    return "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())


@login_required
@require_GET
def batch_list(request: HttpRequest) -> HttpResponse:
    _deny_unless(selectors.can_view_batches(request.user))
    status = request.GET.get("status") or None
    return render(
        request,
        "batches/batch_list.html",
        {
            "batches": selectors.batch_list(
                actor=request.user, status=status, q=request.GET.get("q", "")
            )[:200],
            "statuses": BatchStatus.choices,
            "status": status,
            "can_create": selectors.can_create(request.user),
            "create_form": BatchCreateForm(),
        },
    )


@login_required
@require_POST
def batch_create(request: HttpRequest) -> HttpResponse:
    form = BatchCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(form))
        return HttpResponseRedirect(reverse("batches:batch_list"))
    try:
        batch = services.batch_order_create(
            actor=request.user,
            recipe_version_id=form.cleaned_data["recipe_version"],
            batch_size=form.cleaned_data["batch_size"],
            number=form.cleaned_data["number"] or None,
        )
    except DomainError as exc:
        messages.error(request, exc.detail)
        return HttpResponseRedirect(reverse("batches:batch_list"))
    messages.success(request, f"Batch {batch.number} created.")
    return HttpResponseRedirect(_batch_url(batch))


@login_required
@require_GET
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = selectors.batch_get(actor=request.user, pk=pk)
    return render(
        request,
        "batches/batch_detail.html",
        {
            "batch": batch,
            "phases": selectors.batch_phases(batch),
            "events": selectors.batch_events(batch),
            "review": selectors.batch_review_summary(batch),
            "signatures": selectors.batch_signatures(batch),
            "yields": list(batch.yields.select_related("lot")),
            "can_execute": selectors.can_execute(request.user),
            "can_create": selectors.can_create(request.user),
            "can_release": selectors.can_release(request.user),
            "start_form": BatchStartForm(),
            "yield_form": YieldForm(),
            "cancel_form": SignatureForm(meaning=Meaning.CANCELLED, reason_required=True),
            "repoint_form": SignatureForm(meaning=Meaning.APPROVED, reason_required=True),
            "repoint_target": selectors.batch_repoint_target(batch),
            "spc_links": selectors.batch_spc_links(batch),
            "reconciliation": selectors.batch_reconciliation(batch),
            "release_form": SignatureForm(meaning=Meaning.RELEASED),
            "problems": services.batch_completion_problems(batch)
            if batch.status == BatchStatus.STARTED
            else [],
        },
    )


@login_required
@require_POST
def batch_start(request: HttpRequest, pk: int) -> HttpResponse:
    batch = selectors.batch_get(actor=request.user, pk=pk)
    form = BatchStartForm(request.POST)
    code = form.data.get("unit", "").strip()

    def call() -> None:
        unit = Unit.objects.filter(code=code).first()
        if unit is None:
            raise InvalidInput(f"There is no unit {code!r}.")
        services.batch_start(actor=request.user, batch=batch, unit=unit)

    return _run(request, _batch_url(batch), call, f"Batch {batch.number} started in {code}.")


@login_required
@require_POST
def batch_yield(request: HttpRequest, pk: int) -> HttpResponse:
    batch = selectors.batch_get(actor=request.user, pk=pk)
    form = YieldForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(form))
        return HttpResponseRedirect(_batch_url(batch))
    return _run(
        request,
        _batch_url(batch),
        lambda: services.batch_record_yield(
            actor=request.user,
            batch=batch,
            quantity=form.cleaned_data["quantity"],
            lot_number=form.cleaned_data["lot_number"] or None,
        ),
        "Yield recorded.",
    )


@login_required
@require_POST
def batch_complete(request: HttpRequest, pk: int) -> HttpResponse:
    batch = selectors.batch_get(actor=request.user, pk=pk)
    return _run(
        request,
        _batch_url(batch),
        lambda: services.batch_complete(actor=request.user, batch=batch),
        f"Batch {batch.number} completed.",
    )


def _signed(
    request: HttpRequest, meaning: str, back: str, action: Callable[[Any, str], Any], done: str
) -> HttpResponse:
    """Authenticate the signer OUTSIDE the transaction (a wrong password is recorded even
    though the action fails), then call the signed service."""
    form = SignatureForm(request.POST, meaning=meaning)
    if not form.is_valid():
        messages.error(request, "Enter your user ID and password to sign.")
        return HttpResponseRedirect(back)
    try:
        signer = signer_authenticate(request=request, actor=request.user, **form.signer_kwargs())
        action(signer, form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, done)
    return HttpResponseRedirect(back)


@login_required
@require_POST
def batch_release(request: HttpRequest, pk: int) -> HttpResponse:
    batch = selectors.batch_get(actor=request.user, pk=pk)
    return _signed(
        request,
        Meaning.RELEASED,
        _batch_url(batch),
        lambda signer, reason: services.batch_release(
            actor=request.user, batch=batch, signer=signer, reason=reason
        ),
        f"Batch record {batch.number} released.",
    )


@login_required
@require_POST
def batch_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    batch = selectors.batch_get(actor=request.user, pk=pk)
    return _signed(
        request,
        Meaning.CANCELLED,
        _batch_url(batch),
        lambda signer, reason: services.batch_cancel(
            actor=request.user, batch=batch, reason=reason, signer=signer
        ),
        f"Batch {batch.number} cancelled.",
    )


@login_required
@require_POST
def batch_repoint(request: HttpRequest, pk: int) -> HttpResponse:
    batch = selectors.batch_get(actor=request.user, pk=pk)
    return _signed(
        request,
        Meaning.APPROVED,
        _batch_url(batch),
        lambda signer, reason: services.batch_repoint(
            actor=request.user, batch=batch, signer=signer, reason=reason
        ),
        f"Batch {batch.number} re-pointed to the current approved recipe version.",
    )


# --- the operator terminal -------------------------------------------------------------------


@login_required
@require_GET
def phase_detail(request: HttpRequest, batch_pk: int, pk: int) -> HttpResponse:
    phase = selectors.phase_get(actor=request.user, batch_pk=batch_pk, pk=pk)
    totals = services.dispensed_totals(phase)
    inputs = [
        {**item, "dispensed": totals.get(item["material_id"])}
        for item in phase.definition.get("inputs", [])
    ]
    return render(
        request,
        "batches/phase_detail.html",
        {
            "batch": phase.batch,
            "phase": phase,
            "rows": selectors.phase_value_rows(phase),
            "inputs": inputs,
            "uses": list(
                phase.uses.select_related("material", "lot", "dispensed_by").prefetch_related(
                    "returns__recorded_by"
                )
            ),
            "signatures": selectors.phase_signatures(phase),
            "can_execute": selectors.can_execute(request.user),
            "is_active": phase.status == PhaseStatus.ACTIVE,
            "is_pending": phase.status == PhaseStatus.PENDING,
            "needs_verification": phase.status == PhaseStatus.COMPLETED
            and phase.requires_verification
            and phase.verified_at is None,
            "complete_form": SignatureForm(meaning=Meaning.PERFORMED),
            "verify_form": SignatureForm(meaning=Meaning.VERIFIED),
        },
    )


@login_required
@require_POST
def phase_start(request: HttpRequest, batch_pk: int, pk: int) -> HttpResponse:
    phase = selectors.phase_get(actor=request.user, batch_pk=batch_pk, pk=pk)
    return _run(
        request,
        _phase_url(phase),
        lambda: services.phase_start(actor=request.user, phase=phase),
        f"Phase {phase.path} started.",
    )


def _instrument(code: str) -> Instrument | None:
    code = (code or "").strip()
    if not code:
        return None
    instrument = Instrument.objects.filter(code=code).first()
    if instrument is None:
        raise InvalidInput(f"There is no instrument {code!r}.", code="instrument_not_found")
    return instrument


@login_required
@require_POST
def phase_value(request: HttpRequest, batch_pk: int, pk: int) -> HttpResponse:
    phase = selectors.phase_get(actor=request.user, batch_pk=batch_pk, pk=pk)
    form = ValueForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(form))
        return HttpResponseRedirect(_phase_url(phase))
    data = form.cleaned_data
    return _run(
        request,
        _phase_url(phase),
        lambda: services.parameter_value_record(
            actor=request.user,
            phase=phase,
            name=data["name"],
            value=data["value"],
            instrument=_instrument(data["instrument"]),
        ),
        f"{data['name']} recorded.",
    )


@login_required
@require_POST
def phase_correct(request: HttpRequest, batch_pk: int, pk: int) -> HttpResponse:
    phase = selectors.phase_get(actor=request.user, batch_pk=batch_pk, pk=pk)
    form = CorrectionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(form))
        return HttpResponseRedirect(_phase_url(phase))
    data = form.cleaned_data

    def call() -> None:
        value = ParameterValue.objects.filter(pk=data["value_id"], phase=phase).first()
        if value is None:
            raise InvalidInput("No such entry in this phase.")
        services.parameter_value_correct(
            actor=request.user, value=value, new_value=data["value"], reason=data["reason"]
        )

    return _run(request, _phase_url(phase), call, "Correction recorded.")


@login_required
@require_POST
def phase_dispense(request: HttpRequest, batch_pk: int, pk: int) -> HttpResponse:
    phase = selectors.phase_get(actor=request.user, batch_pk=batch_pk, pk=pk)
    form = DispenseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(form))
        return HttpResponseRedirect(_phase_url(phase))
    data = form.cleaned_data

    def call() -> None:
        code = data["lot"].strip()
        lot = Lot.objects.filter(material_id=data["material"], lot_number=code).first()
        if lot is None:
            raise InvalidInput(f"There is no lot {code!r} of this material.")
        services.material_dispense(
            actor=request.user, phase=phase, lot=lot, quantity=data["quantity"]
        )

    return _run(
        request, _phase_url(phase), call, f"{data['quantity']} dispensed from {data['lot']}."
    )


@login_required
@require_POST
def phase_return(request: HttpRequest, batch_pk: int, pk: int) -> HttpResponse:
    phase = selectors.phase_get(actor=request.user, batch_pk=batch_pk, pk=pk)
    form = ReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(form))
        return HttpResponseRedirect(_phase_url(phase))
    data = form.cleaned_data

    def call() -> None:
        use = MaterialUse.objects.filter(pk=data["use"], phase=phase).first()
        if use is None:
            raise InvalidInput("No such dispense in this phase.")
        services.material_return(
            actor=request.user,
            use=use,
            kind=data["kind"],
            quantity=data["quantity"],
            reason=data["reason"],
        )

    return _run(request, _phase_url(phase), call, f"{data['quantity']} recorded as {data['kind']}.")


@login_required
@require_POST
def phase_complete(request: HttpRequest, batch_pk: int, pk: int) -> HttpResponse:
    phase = selectors.phase_get(actor=request.user, batch_pk=batch_pk, pk=pk)
    return _signed(
        request,
        Meaning.PERFORMED,
        _phase_url(phase),
        lambda signer, reason: services.phase_complete(
            actor=request.user, phase=phase, signer=signer, reason=reason
        ),
        f"Phase {phase.path} completed.",
    )


@login_required
@require_POST
def phase_verify(request: HttpRequest, batch_pk: int, pk: int) -> HttpResponse:
    phase = selectors.phase_get(actor=request.user, batch_pk=batch_pk, pk=pk)
    return _signed(
        request,
        Meaning.VERIFIED,
        _phase_url(phase),
        lambda signer, reason: services.phase_verify(
            actor=request.user, phase=phase, signer=signer, reason=reason
        ),
        f"Phase {phase.path} verified.",
    )


# --- the EBR ---------------------------------------------------------------------------------


@login_required
@require_GET
def batch_ebr_json(request: HttpRequest, pk: int) -> HttpResponse:
    batch = selectors.batch_get(actor=request.user, pk=pk)
    response = JsonResponse(ebr.ebr_export(batch), json_dumps_params={"ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="EBR-{batch.number}.json"'
    return response


@login_required
@require_GET
def batch_ebr_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    batch = selectors.batch_get(actor=request.user, pk=pk)
    response = HttpResponse(ebr.ebr_pdf(batch), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="EBR-{batch.number}.pdf"'
    return response


@login_required
@require_GET
def batch_batchml(request: HttpRequest, pk: int) -> HttpResponse:
    batch = selectors.batch_get(actor=request.user, pk=pk)
    response = HttpResponse(batchml.batchml_export(batch), content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="BatchML-{batch.number}.xml"'
    return response
