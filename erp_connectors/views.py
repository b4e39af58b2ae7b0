"""Back-office pages of the ERP connectors: the outbox (backlog, dead letters with their
delivery log, retry with a reason), a connection's mapping (fix it, with a reason) and the
reconciliation findings."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from erp_connectors import selectors, services
from erp_connectors.models import ErpConnection, OutboxMessage
from mes.exceptions import DomainError

VIEW = "erp_connectors.view_outboxmessage"


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "erp_connectors/outbox.html",
        {
            "counts": selectors.outbox_counts(),
            "backlog": selectors.outbox_backlog(),
            "dead": list(selectors.dead_letters()[:200]),
            "recent": list(selectors.outbox_list()[:50]),
            "connections": list(selectors.connection_list()),
            "findings": list(selectors.findings_open()[:200]),
            "can_manage": request.user.has_perm(services.PERM_MANAGE),
        },
    )


@login_required
@permission_required(services.PERM_MANAGE, raise_exception=True)
@require_POST
def message_retry(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(OutboxMessage, pk=pk)
    try:
        services.dead_letter_retry(
            actor=request.user, message=message, reason=request.POST.get("reason", "")
        )
        messages.success(request, f"Message #{pk} is queued again.")
    except DomainError as exc:
        messages.error(request, exc.detail)
    return redirect("erp_connectors:outbox")


@login_required
@permission_required(VIEW, raise_exception=True)
def connection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(ErpConnection, pk=pk)
    mapping_text = json.dumps(connection.mapping, indent=2, sort_keys=True)
    if request.method == "POST":
        mapping_text = request.POST.get("mapping", "")
        try:
            mapping = json.loads(mapping_text or "{}")
        except json.JSONDecodeError as exc:
            messages.error(request, f"The mapping is not valid JSON: {exc}.")
        else:
            try:
                services.connection_mapping_set(
                    actor=request.user,
                    connection=connection,
                    mapping=mapping,
                    reason=request.POST.get("reason", ""),
                )
                messages.success(request, f"Mapping of {connection.code} saved.")
                return redirect("erp_connectors:connection_detail", pk=pk)
            except DomainError as exc:
                messages.error(request, exc.detail)
    return render(
        request,
        "erp_connectors/connection.html",
        {
            "connection": connection,
            "mapping_text": mapping_text,
            "can_change": request.user.has_perm(services.PERM_CHANGE_CONNECTION),
        },
    )


@login_required
@permission_required(services.PERM_MANAGE, raise_exception=True)
@require_POST
def reconcile_now(request: HttpRequest) -> HttpResponse:
    counts = services.reconciliation_run()
    messages.info(
        request,
        f"Reconciled {counts['orders']} order(s): {counts['findings']} open finding(s), "
        f"{counts['errors']} ERP read error(s).",
    )
    return redirect("erp_connectors:outbox")
