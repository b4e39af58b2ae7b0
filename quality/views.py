"""Quality pages: the QA review queue, the lot quality page (spec, results entry, overrides,
signed disposition), deviations with CAPA, nonconformances, specifications, SPC charts.

Every POST calls one service and redirects back (the message says what happened or why it
was refused). Signed actions take the kernel's signing form: `signer_authenticate` runs here,
outside any transaction, then the service signs inside its own.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from genealogy.models import Lot, Material
from mes.esign.forms import SignatureForm
from mes.esign.models import Meaning
from mes.esign.selectors import signatures_for_record
from mes.esign.services import signer_authenticate
from mes.exceptions import DomainError
from quality import forms, selectors, services
from quality import permissions as perms
from quality.charts import chart_panels
from quality.choices import Decision, NcrStatus, SpecificationStatus, TestKind
from quality.models import (
    CapaAction,
    Characteristic,
    Deviation,
    LabResult,
    Nonconformance,
    ReleaseOverride,
    Specification,
)

DECISIONS = {
    "release": (Decision.RELEASED, Meaning.RELEASED, False, "Release lot"),
    "reject": (Decision.REJECTED, Meaning.REJECTED, True, "Reject lot"),
    "hold": (Decision.ON_HOLD, Meaning.ON_HOLD, True, "Put lot on hold"),
    "quarantine": (Decision.QUARANTINE, Meaning.ASSESSED, True, "Return lot to quarantine"),
}

# --- helpers ---------------------------------------------------------------------------------


def _need(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"You lack the permission to see this page ({perm}).")


def _run(
    request: HttpRequest, action: Callable[[], Any], success: str | Callable[[Any], str]
) -> Any:
    """Call a service; show its refusal (the reason) or the success message."""
    try:
        result = action()
    except DomainError as exc:
        messages.error(request, exc.detail)
        return None
    messages.success(request, success(result) if callable(success) else success)
    return result if result is not None else True


def _signed(
    request: HttpRequest,
    *,
    meaning: str,
    reason_required: bool,
    action: Callable[[Any, str], Any],
    success: str | Callable[[Any], str],
) -> Any:
    """Check the signing form, authenticate the signer (outside any transaction), then call
    the signed service."""
    form = SignatureForm(request.POST, meaning=meaning, reason_required=reason_required)
    if not form.is_valid():
        _invalid(request, form)
        return None
    try:
        signer = signer_authenticate(request=request, actor=request.user, **form.signer_kwargs())
    except DomainError as exc:
        messages.error(request, exc.detail)
        return None
    return _run(request, lambda: action(signer, form.cleaned_data["reason"]), success)


def _invalid(request: HttpRequest, form: Any) -> None:
    errors = "; ".join(
        f"{'' if field == '__all__' else field + ': '}{' '.join(errs)}"
        for field, errs in form.errors.items()
    )
    messages.error(request, f"Invalid input: {errors}")


def _back(url_name: str, *args: Any, anchor: str = "") -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse(url_name, args=args) + (f"#{anchor}" if anchor else ""))


def _lot_or_404(pk: int) -> Lot:
    lot = Lot.objects.select_related("material").filter(pk=pk).first()
    if lot is None:
        raise Http404("No such lot.")
    return lot


def _get_or_404(qs: Any, pk: int) -> Any:
    found = qs.filter(pk=pk).first()
    if found is None:
        raise Http404("Not found, or not visible to you.")
    return found


# --- review queue ----------------------------------------------------------------------------


@login_required
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    _need(request, perms.VIEW_DISPOSITION)
    user = request.user
    context = {
        "lots": selectors.lots_awaiting_disposition(actor=user)[:200],
        "deviations": selectors.deviation_list(actor=user, open_only=True)[:200],
        "overdue_capa": selectors.capa_overdue(actor=user),
        "pending_overrides": selectors.override_list(actor=user).filter(signed_at__isnull=True),
        "counts": selectors.open_counts(actor=user),
        "today": selectors.today(),
    }
    return render(request, "quality/review_queue.html", context)


# --- lot quality page ------------------------------------------------------------------------


@login_required
@require_GET
def lot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, perms.VIEW_LAB_RESULT)
    lot = _lot_or_404(pk)
    state = selectors.lot_quality(lot)
    user = request.user
    overrides = [(o, signatures_for_record(o)) for o in state.overrides]
    dispositions = [(d, signatures_for_record(d)) for d in state.dispositions]
    candidate_deviations = list(selectors.deviations_open_for_lot(lot))
    sign_forms = {
        key: SignatureForm(meaning=meaning, reason_required=required, auto_id=f"id_{key}_%s")
        for key, (_, meaning, required, _) in DECISIONS.items()
    }
    context = {
        "lot": lot,
        "state": state,
        "TestKind": TestKind,
        "overrides": overrides,
        "dispositions": dispositions,
        "decisions": [
            (key, label, sign_forms[key], reverse("quality:lot_dispose", args=[lot.pk, key]))
            for key, (_, _, _, label) in DECISIONS.items()
            if key != "release"
        ],
        "release_form": sign_forms["release"],
        "release_action": reverse("quality:lot_dispose", args=[lot.pk, "release"]),
        "override_form": forms.OverrideRequestForm(deviations=candidate_deviations),
        "candidate_deviations": candidate_deviations,
        "override_sign_form": SignatureForm(meaning=Meaning.OVERRIDE, auto_id="id_override_%s"),
        "correction_form": forms.CorrectionForm(),
        "can_enter": user.has_perm(perms.ENTER_LAB_RESULT),
        "can_correct": user.has_perm(perms.CORRECT_LAB_RESULT),
        "can_dispose": user.has_perm(perms.DISPOSE_LOT),
        "can_request_override": user.has_perm(perms.REQUEST_OVERRIDE),
        "can_open_deviation": user.has_perm(perms.ADD_DEVIATION),
    }
    return render(request, "quality/lot_detail.html", context)


@login_required
@require_POST
def lot_results_enter(request: HttpRequest, pk: int) -> HttpResponse:
    lot = _lot_or_404(pk)
    state = selectors.lot_quality(lot)
    entries = []
    for requirement in state.missing:
        raw = request.POST.get(f"r_{requirement.test.pk}_{requirement.sample_no}", "").strip()
        if raw:
            entries.append((requirement.test, requirement.sample_no, raw))
    note = request.POST.get("note", "")
    _run(
        request,
        lambda: services.lab_results_enter(actor=request.user, lot=lot, entries=entries, note=note),
        lambda results: (
            f"{len(results)} result(s) recorded"
            + (
                f"; {sum(r.is_failing for r in results)} out of specification."
                if any(r.is_failing for r in results)
                else "; all within specification."
            )
        ),
    )
    return _back("quality:lot_detail", lot.pk, anchor="results")


@login_required
@require_POST
def result_correct(request: HttpRequest, pk: int) -> HttpResponse:
    result = _get_or_404(LabResult.objects.select_related("lot"), pk)
    form = forms.CorrectionForm(request.POST)
    if form.is_valid():
        _run(
            request,
            lambda: services.lab_result_correct(
                actor=request.user,
                result=result,
                value=form.cleaned_data["value"],
                reason=form.cleaned_data["reason"],
            ),
            lambda new: f"Result #{result.pk} corrected by result #{new.pk} ({new.outcome}).",
        )
    else:
        _invalid(request, form)
    return _back("quality:lot_detail", result.lot_id, anchor="results")


@login_required
@require_POST
def lot_dispose(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    if decision not in DECISIONS:
        raise Http404("Unknown decision.")
    lot = _lot_or_404(pk)
    value, meaning, reason_required, _ = DECISIONS[decision]
    service = services.DISPOSITION_SERVICES[value]
    _signed(
        request,
        meaning=meaning,
        reason_required=reason_required,
        action=lambda signer, reason: service(
            actor=request.user, lot=lot, signer=signer, reason=reason
        ),
        success=f"Lot {lot.lot_number}: {Decision(value).label.lower()} (signed).",
    )
    return _back("quality:lot_detail", lot.pk, anchor="disposition")


@login_required
@require_POST
def lot_override_request(request: HttpRequest, pk: int) -> HttpResponse:
    lot = _lot_or_404(pk)
    deviations = selectors.deviation_list(actor=request.user, open_only=True)
    form = forms.OverrideRequestForm(request.POST, deviations=deviations)
    if form.is_valid():
        deviation = deviations.filter(pk=form.cleaned_data["deviation"]).first()
        if deviation is None:
            messages.error(request, "Choose an open deviation.")
        else:
            _run(
                request,
                lambda: services.override_request(
                    actor=request.user,
                    lot=lot,
                    deviation=deviation,
                    justification=form.cleaned_data["justification"],
                ),
                lambda o: f"Override #{o.pk} requested: another QA reviewer must sign it.",
            )
    else:
        _invalid(request, form)
    return _back("quality:lot_detail", lot.pk, anchor="override")


@login_required
@require_POST
def override_sign(request: HttpRequest, pk: int) -> HttpResponse:
    override = _get_or_404(ReleaseOverride.objects.select_related("lot"), pk)
    _signed(
        request,
        meaning=Meaning.OVERRIDE,
        reason_required=False,
        action=lambda signer, reason: services.override_sign(
            actor=request.user, override=override, signer=signer, reason=reason
        ),
        success=f"Override #{override.pk} signed.",
    )
    return _back("quality:lot_detail", override.lot_id, anchor="override")


# --- deviations ------------------------------------------------------------------------------


@login_required
@require_GET
def deviation_list(request: HttpRequest) -> HttpResponse:
    _need(request, perms.VIEW_DEVIATION)
    show = request.GET.get("show", "open")
    qs = selectors.deviation_list(actor=request.user, open_only=show != "all")
    context = {
        "deviations": qs[:500],
        "show": show,
        "ageing": selectors.deviation_ageing(actor=request.user),
        "overdue": selectors.deviations_overdue(actor=request.user),
        "overdue_capa": selectors.capa_overdue(actor=request.user),
        "can_open": request.user.has_perm(perms.ADD_DEVIATION),
    }
    return render(request, "quality/deviation_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def deviation_new(request: HttpRequest) -> HttpResponse:
    _need(request, perms.ADD_DEVIATION)
    lot_id = request.GET.get("lot") or request.POST.get("lot")
    lot = (
        Lot.objects.select_related("material").filter(pk=lot_id).first()
        if lot_id and str(lot_id).isdigit()
        else None
    )
    if request.method == "POST":
        form = forms.DeviationForm(request.POST)
        if form.is_valid():
            source = (
                {
                    "kind": "lot",
                    "ref": lot.lot_number,
                    "url": reverse("quality:lot_detail", args=[lot.pk]),
                }
                if lot is not None
                else None
            )
            deviation = _run(
                request,
                lambda: services.deviation_open(
                    actor=request.user,
                    title=form.cleaned_data["title"],
                    description=form.cleaned_data["description"],
                    source=source,
                    lots=[lot] if lot is not None else [],
                ),
                lambda d: f"{d.number} opened.",
            )
            if deviation:
                if lot is not None:
                    return _back("quality:lot_detail", lot.pk, anchor="override")
                return _back("quality:deviation_detail", deviation.pk)
        else:
            _invalid(request, form)
    else:
        form = forms.DeviationForm(initial={"lot": lot.pk if lot else None})
    return render(request, "quality/deviation_new.html", {"form": form, "lot": lot})


@login_required
@require_GET
def deviation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, perms.VIEW_DEVIATION)
    try:
        deviation = selectors.deviation_get(actor=request.user, pk=pk)
    except Deviation.DoesNotExist as exc:
        raise Http404("No such deviation.") from exc
    context = {
        "deviation": deviation,
        "lots": [link.lot for link in deviation.lot_links.all()],
        "capa_actions": deviation.capa_actions.select_related("owner", "completed_by"),
        "events": selectors.deviation_events(deviation),
        "signatures": signatures_for_record(deviation),
        "today": selectors.today(),
        "classify_form": forms.ClassifyForm(initial={"classification": deviation.classification}),
        "investigate_form": forms.InvestigateForm(
            initial={"investigation": deviation.investigation, "root_cause": deviation.root_cause}
        ),
        "capa_form": forms.CapaForm(),
        "complete_form": forms.CapaCompleteForm(),
        "close_form": SignatureForm(meaning=Meaning.CLOSED, reason_required=True),
        "can_manage": request.user.has_perm(perms.MANAGE_DEVIATION),
    }
    return render(request, "quality/deviation_detail.html", context)


def _deviation_for_post(request: HttpRequest, pk: int) -> Deviation:
    return _get_or_404(selectors.deviation_list(actor=request.user), pk)


@login_required
@require_POST
def deviation_classify(request: HttpRequest, pk: int) -> HttpResponse:
    deviation = _deviation_for_post(request, pk)
    form = forms.ClassifyForm(request.POST)
    if form.is_valid():
        _run(
            request,
            lambda: services.deviation_classify(
                actor=request.user, deviation=deviation, **form.cleaned_data
            ),
            f"{deviation.number} classified {form.cleaned_data['classification']}.",
        )
    else:
        _invalid(request, form)
    return _back("quality:deviation_detail", deviation.pk)


@login_required
@require_POST
def deviation_investigate(request: HttpRequest, pk: int) -> HttpResponse:
    deviation = _deviation_for_post(request, pk)
    form = forms.InvestigateForm(request.POST)
    if form.is_valid():
        _run(
            request,
            lambda: services.deviation_investigate(
                actor=request.user, deviation=deviation, **form.cleaned_data
            ),
            f"Investigation of {deviation.number} recorded.",
        )
    else:
        _invalid(request, form)
    return _back("quality:deviation_detail", deviation.pk)


@login_required
@require_POST
def deviation_add_capa(request: HttpRequest, pk: int) -> HttpResponse:
    deviation = _deviation_for_post(request, pk)
    form = forms.CapaForm(request.POST)
    if form.is_valid():
        _run(
            request,
            lambda: services.capa_action_add(
                actor=request.user, deviation=deviation, **form.cleaned_data
            ),
            lambda a: f"{a.number} added, owner {a.owner.printed_name}.",
        )
    else:
        _invalid(request, form)
    return _back("quality:deviation_detail", deviation.pk, anchor="capa")


@login_required
@require_POST
def deviation_close(request: HttpRequest, pk: int) -> HttpResponse:
    deviation = _deviation_for_post(request, pk)
    _signed(
        request,
        meaning=Meaning.CLOSED,
        reason_required=True,
        action=lambda signer, reason: services.deviation_close(
            actor=request.user, deviation=deviation, signer=signer, closure_summary=reason
        ),
        success=f"{deviation.number} closed (signed).",
    )
    return _back("quality:deviation_detail", deviation.pk)


@login_required
@require_POST
def capa_complete(request: HttpRequest, pk: int) -> HttpResponse:
    action = _get_or_404(CapaAction.objects.select_related("deviation"), pk)
    form = forms.CapaCompleteForm(request.POST)
    if form.is_valid():
        _run(
            request,
            lambda: services.capa_action_complete(
                actor=request.user, action=action, note=form.cleaned_data["note"]
            ),
            f"{action.number} completed.",
        )
    else:
        _invalid(request, form)
    return _back("quality:deviation_detail", action.deviation_id, anchor="capa")


# --- nonconformances -------------------------------------------------------------------------


@login_required
@require_GET
def ncr_list(request: HttpRequest) -> HttpResponse:
    _need(request, perms.VIEW_NONCONFORMANCE)
    context = {
        "ncrs": selectors.nonconformance_list(actor=request.user)[:500],
        "can_open": request.user.has_perm(perms.ADD_NONCONFORMANCE),
    }
    return render(request, "quality/ncr_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def ncr_new(request: HttpRequest) -> HttpResponse:
    _need(request, perms.ADD_NONCONFORMANCE)
    form = forms.NonconformanceForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            lot = Lot.objects.filter(pk=data["lot"]).first() if data["lot"] else None
            if data["lot"] and lot is None:
                messages.error(request, f"No lot with id {data['lot']}.")
            else:
                ncr = _run(
                    request,
                    lambda: services.nonconformance_open(
                        actor=request.user,
                        description=data["description"],
                        defect_code=data["defect_code"],
                        lot=lot,
                        quantity=data["quantity"],
                    ),
                    lambda n: f"{n.number} reported.",
                )
                if ncr:
                    return _back("quality:ncr_detail", ncr.pk)
        else:
            _invalid(request, form)
    return render(request, "quality/ncr_new.html", {"form": form})


@login_required
@require_GET
def ncr_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, perms.VIEW_NONCONFORMANCE)
    ncr = _get_or_404(selectors.nonconformance_list(actor=request.user), pk)
    context = {
        "ncr": ncr,
        "signatures": signatures_for_record(ncr),
        "disposition_form": forms.NcrDispositionForm(),
        "sign_form": SignatureForm(meaning=Meaning.APPROVED),
        "can_disposition": request.user.has_perm(perms.DISPOSITION_NONCONFORMANCE)
        and ncr.status == NcrStatus.OPEN,
    }
    return render(request, "quality/ncr_detail.html", context)


@login_required
@require_POST
def ncr_disposition(request: HttpRequest, pk: int) -> HttpResponse:
    ncr = _get_or_404(Nonconformance.objects.all(), pk)
    form = forms.NcrDispositionForm(request.POST)
    if not form.is_valid():
        _invalid(request, form)
        return _back("quality:ncr_detail", ncr.pk)
    data = form.cleaned_data
    deviation = (
        Deviation.objects.filter(pk=data["deviation"]).first() if data["deviation"] else None
    )
    if data["deviation"] and deviation is None:
        messages.error(request, f"No deviation with id {data['deviation']}.")
        return _back("quality:ncr_detail", ncr.pk)
    _signed(
        request,
        meaning=Meaning.APPROVED,
        reason_required=False,
        action=lambda signer, reason: services.nonconformance_disposition(
            actor=request.user,
            ncr=ncr,
            disposition=data["disposition"],
            justification=data["justification"],
            signer=signer,
            deviation=deviation,
        ),
        success=f"{ncr.number} dispositioned (signed).",
    )
    return _back("quality:ncr_detail", ncr.pk)


# --- specifications --------------------------------------------------------------------------


@login_required
@require_GET
def specification_list(request: HttpRequest) -> HttpResponse:
    _need(request, perms.VIEW_SPECIFICATION)
    context = {
        "specifications": selectors.specification_list(actor=request.user),
        "can_add": request.user.has_perm(perms.ADD_SPECIFICATION),
    }
    return render(request, "quality/specification_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def specification_new(request: HttpRequest) -> HttpResponse:
    _need(request, perms.ADD_SPECIFICATION)
    materials = Material.objects.filter(is_active=True, is_lot_controlled=True).order_by("code")
    form = forms.SpecificationForm(request.POST or None, materials=materials)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            material = materials.filter(pk=data["material"]).first()
            if material is None:
                messages.error(request, "Choose an active material.")
            else:
                spec = _run(
                    request,
                    lambda: services.specification_create(
                        actor=request.user,
                        material=material,
                        title=data["title"],
                        tests=data["tests"],
                        sample_count=data["sample_count"],
                        sampling_basis=data["sampling_basis"],
                    ),
                    lambda s: f"{s} drafted: another QA reviewer approves it.",
                )
                if spec:
                    return _back("quality:specification_detail", spec.pk)
        else:
            _invalid(request, form)
    return render(request, "quality/specification_new.html", {"form": form})


@login_required
@require_GET
def specification_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, perms.VIEW_SPECIFICATION)
    try:
        spec = selectors.specification_get(actor=request.user, pk=pk)
    except Specification.DoesNotExist as exc:
        raise Http404("No such specification.") from exc
    context = {
        "spec": spec,
        "tests": spec.tests.all(),
        "signatures": signatures_for_record(spec),
        "versions": Specification.objects.filter(material_id=spec.material_id).order_by("-version"),
        "approve_form": SignatureForm(meaning=Meaning.APPROVED),
        "can_approve": request.user.has_perm(perms.APPROVE_SPECIFICATION)
        and spec.status == SpecificationStatus.DRAFT,
        "can_new_version": request.user.has_perm(perms.ADD_SPECIFICATION)
        and spec.status == SpecificationStatus.APPROVED,
    }
    return render(request, "quality/specification_detail.html", context)


@login_required
@require_POST
def specification_approve(request: HttpRequest, pk: int) -> HttpResponse:
    spec = _get_or_404(Specification.objects.all(), pk)
    _signed(
        request,
        meaning=Meaning.APPROVED,
        reason_required=False,
        action=lambda signer, reason: services.specification_approve(
            actor=request.user, specification=spec, signer=signer, reason=reason
        ),
        success=f"{spec} approved (signed).",
    )
    return _back("quality:specification_detail", spec.pk)


@login_required
@require_POST
def specification_new_version(request: HttpRequest, pk: int) -> HttpResponse:
    spec = _get_or_404(Specification.objects.all(), pk)
    new = _run(
        request,
        lambda: services.specification_new_version(actor=request.user, specification=spec),
        lambda s: f"{s} drafted from v{spec.version}.",
    )
    return _back("quality:specification_detail", new.pk if new else spec.pk)


# --- SPC -------------------------------------------------------------------------------------


@login_required
@require_GET
def spc_list(request: HttpRequest) -> HttpResponse:
    _need(request, perms.VIEW_CHARACTERISTIC)
    return render(
        request,
        "quality/spc_list.html",
        {"characteristics": selectors.characteristic_list(actor=request.user)},
    )


def _characteristic_or_404(request: HttpRequest, key: str) -> Characteristic:
    found = selectors.characteristic_list(actor=request.user).filter(key=key).first()
    if found is None:
        raise Http404("No such characteristic.")
    return found


@login_required
@require_GET
def spc_chart(request: HttpRequest, key: str) -> HttpResponse:
    _need(request, perms.VIEW_CHARACTERISTIC)
    characteristic = _characteristic_or_404(request, key)
    chart = selectors.spc_chart(characteristic)
    main, secondary = chart_panels(chart)
    context = {
        "c": characteristic,
        "chart": chart,
        "main": main,
        "secondary": secondary,
        "violations": [(v, chart.points[v.index]) for v in chart.violations],
        "can_open_deviation": request.user.has_perm(perms.ADD_DEVIATION),
    }
    return render(request, "quality/spc_chart.html", context)


@login_required
@require_POST
def spc_open_deviation(request: HttpRequest, key: str) -> HttpResponse:
    characteristic = _characteristic_or_404(request, key)
    form = forms.SpcDeviationForm(request.POST)
    if not form.is_valid():
        _invalid(request, form)
        return _back("quality:spc_chart", characteristic.key)
    url = reverse("quality:spc_chart", args=[characteristic.key])
    deviation = _run(
        request,
        lambda: services.deviation_open_from_spc(
            actor=request.user,
            characteristic=characteristic,
            point_index=form.cleaned_data["point"],
            rules=form.cleaned_data["rules"],
            url=url,
        ),
        lambda d: f"{d.number} opened.",
    )
    if deviation:
        return _back("quality:deviation_detail", deviation.pk)
    return _back("quality:spc_chart", characteristic.key)
