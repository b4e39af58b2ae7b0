"""Pages of the self-audit, mounted at /diagnostic/: the history (trend, run form), one
assessment (steps 1-4, evidence links, signatures, sign form) and its PDF."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from mes.diagnostic import selectors, services
from mes.diagnostic.choices import SECTIONS, ItemStatus, ProductionModel
from mes.diagnostic.derivation import QUESTIONS
from mes.diagnostic.forms import AssessmentRunForm
from mes.diagnostic.models import Assessment
from mes.diagnostic.pdf import assessment_pdf
from mes.esign.forms import SignatureForm
from mes.esign.models import Meaning
from mes.esign.selectors import signatures_for_record
from mes.esign.services import signer_authenticate
from mes.exceptions import DomainError


def _viewer(request: HttpRequest) -> None:
    if not selectors.can_view(request.user):
        raise PermissionDenied("You may not see the self-audit.")


@login_required
@require_GET
def assessment_list(request: HttpRequest) -> HttpResponse:
    _viewer(request)
    trend = selectors.assessment_trend(actor=request.user)
    return render(
        request,
        "diagnostic/assessment_list.html",
        {
            "assessments": selectors.assessment_list(actor=request.user)[:50],
            "chart": selectors.trend_chart(trend) if len(trend) > 1 else None,
            "form": AssessmentRunForm() if selectors.can_run(request.user) else None,
        },
    )


@login_required
@require_POST
def assessment_run(request: HttpRequest) -> HttpResponse:
    _viewer(request)
    form = AssessmentRunForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return HttpResponseRedirect(reverse("diagnostic:assessment_list"))
    try:
        assessment = services.assessment_run(
            actor=request.user, period=form.period_value(), answers=form.answers()
        )
    except DomainError as exc:
        messages.error(request, exc.detail)
        return HttpResponseRedirect(reverse("diagnostic:assessment_list"))
    messages.success(request, f"Assessment #{assessment.pk} done in {assessment.duration_ms} ms.")
    return HttpResponseRedirect(reverse("diagnostic:assessment_detail", args=[assessment.pk]))


def _sections(assessment: Assessment) -> list[dict]:
    sections = []
    for key, heading in SECTIONS:
        items = [i for i in assessment.items if i["model"] == key]
        if items:
            sections.append({"key": key, "heading": heading, "items": items})
    known = {k for k, _ in SECTIONS}
    other = [i for i in assessment.items if i["model"] not in known]
    if other:
        sections.append({"key": "other", "heading": "Other checks", "items": other})
    return sections


@login_required
@require_GET
def assessment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _viewer(request)
    assessment = selectors.assessment_get(actor=request.user, pk=pk)
    answers = [
        {
            "question": q,
            "answer": options[assessment.answers[k]][0]
            if k in assessment.answers
            else "not answered",
        }
        for k, (q, options) in QUESTIONS.items()
    ]
    return render(
        request,
        "diagnostic/assessment_detail.html",
        {
            "a": assessment,
            "mode_label": ProductionModel(assessment.mode).label,
            "answers": answers,
            "sections": _sections(assessment),
            "status_labels": dict(ItemStatus.choices),
            "signatures": signatures_for_record(assessment),
            "sign_form": SignatureForm(meaning=Meaning.ASSESSED)
            if selectors.can_sign(request.user)
            else None,
        },
    )


@login_required
@require_POST
def assessment_sign(request: HttpRequest, pk: int) -> HttpResponse:
    _viewer(request)
    assessment = selectors.assessment_get(actor=request.user, pk=pk)
    back = reverse("diagnostic:assessment_detail", args=[assessment.pk])
    form = SignatureForm(request.POST, meaning=Meaning.ASSESSED)
    if not form.is_valid():
        messages.error(request, "Enter your user ID and password to sign.")
        return HttpResponseRedirect(back)
    try:
        # OUTSIDE any transaction: a wrong password is recorded even though nothing is signed
        signer = signer_authenticate(request=request, actor=request.user, **form.signer_kwargs())
        services.assessment_sign(
            actor=request.user,
            assessment=assessment,
            signer=signer,
            reason=form.cleaned_data["reason"],
        )
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Assessment #{assessment.pk} signed.")
    return HttpResponseRedirect(back)


@login_required
@require_GET
def assessment_pdf_view(request: HttpRequest, pk: int) -> HttpResponse:
    _viewer(request)
    assessment = selectors.assessment_get(actor=request.user, pk=pk)
    pdf = assessment_pdf(assessment, site_name=getattr(settings, "MES_SITE_NAME", "MES"))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="self-audit-{assessment.pk}.pdf"'
    return response
