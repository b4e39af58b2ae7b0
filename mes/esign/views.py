"""The signature register: every signature with its manifestation and validity."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mes.esign.models import Meaning
from mes.esign.selectors import (
    can_view_signatures,
    signature_list,
    signatures_with_validity,
    signed_record_types,
)

PAGE_SIZE = 50


@login_required
def signature_list_view(request: HttpRequest) -> HttpResponse:
    if not can_view_signatures(request.user):
        raise PermissionDenied("Only QA, supervisors and administrators see the signatures.")
    filters = {
        "signer": request.GET.get("signer", "").strip(),
        "meaning": request.GET.get("meaning", "").strip(),
        "record_type": request.GET.get("record_type", "").strip(),
    }
    qs = signature_list(
        actor=request.user,
        signer=filters["signer"] or None,
        meaning=filters["meaning"] or None,
        record_type=filters["record_type"] or None,
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "signatures": signatures_with_validity(page.object_list),
        "filters": filters,
        "meanings": Meaning.choices,
        "record_types": signed_record_types(),
    }
    template = (
        "esign/partials/_signature_rows.html" if request.htmx else "esign/signature_list.html"
    )
    return render(request, template, context)
