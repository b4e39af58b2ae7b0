"""The audit-trail screen, its CSV export and the per-record trail partial."""

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from mes.audit import selectors
from mes.audit.forms import AuditEventFilterForm
from mes.audit.install import table_plans
from mes.exceptions import NotAuthorized

PAGE_SIZE = 50
CSV_COLUMNS = [
    "seq",
    "occurred_at",
    "record_type",
    "table",
    "record_id",
    "action",
    "user_id",
    "user_name",
    "roles",
    "reason",
    "on_behalf_of",
    "request_id",
    "app_version",
    "old_values",
    "new_values",
    "hash",
]


def _filtered(request: HttpRequest) -> tuple[AuditEventFilterForm, Any]:
    form = AuditEventFilterForm(request.GET or None)
    filters = form.filters() if form.is_valid() else {}
    try:
        events = selectors.audit_event_list(actor=request.user, **filters)
    except NotAuthorized as exc:
        raise PermissionDenied(exc.detail) from exc
    return form, events


@require_GET
@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    form, events = _filtered(request)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page_obj": page,
        "events": page.object_list,
        "can_export": selectors.can_export_audit_trail(request.user),
    }
    template = (
        "audit/_event_rows.html" if getattr(request, "htmx", False) else "audit/event_list.html"
    )
    return render(request, template, context)


def _safe_text(value: str) -> str:
    """Spreadsheets execute cells starting with = + - @: keep such text inert."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _csv_rows(events: Any) -> Iterator[list[Any]]:
    yield CSV_COLUMNS
    for e in events.iterator(chunk_size=2000):
        yield [
            e.seq,
            timezone.localtime(e.occurred_at).isoformat(),
            e.record_type,
            e.table_name,
            e.record_pk,
            e.action,
            e.user_id if e.user_id is not None else "",
            _safe_text(e.user_name),
            ";".join(e.roles or []),
            _safe_text(e.reason),
            _safe_text(e.on_behalf_of),
            _safe_text(e.request_id),
            e.app_version,
            json.dumps(e.old_values, sort_keys=True) if e.old_values is not None else "",
            json.dumps(e.new_values, sort_keys=True) if e.new_values is not None else "",
            e.hash,
        ]


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@login_required
def event_export(request: HttpRequest) -> StreamingHttpResponse:
    if not selectors.can_export_audit_trail(request.user):
        raise PermissionDenied(
            "Exporting the audit trail needs a reviewer role or the export right."
        )
    _form, events = _filtered(request)
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _csv_rows(events)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
    return response


@require_GET
@login_required
def record_trail(request: HttpRequest, table: str, pk: str) -> HttpResponse:
    """The trail of one record as an HTML fragment (for hx-get from a record's page)."""
    if not selectors.can_view_audit_trail(request.user):
        raise PermissionDenied("Reading the audit trail needs a reviewer role.")
    plan = next((p for p in table_plans() if p.table == table and p.capture), None)
    if plan is None:
        raise Http404(f"{table} is not an audited table.")
    model = next(m for m in apps.get_models(include_auto_created=True) if m._meta.db_table == table)
    events = list(selectors.events_for_record(model, pk))
    return render(request, "audit/_record_trail.html", {"audit_events": events})
