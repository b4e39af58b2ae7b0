"""The dashboard page (every registered metric as a chart with its table), its HTMX partial
and the CSV download of one metric's table. One date-range form applies to all charts."""

import logging
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from mes.analytics import selectors
from mes.analytics.buckets import BUCKETS, AnalyticsQuery, parse_query
from mes.analytics.charts import Chart, chart_for
from mes.analytics.figures import shared_reads
from mes.analytics.sources import FILTER_LABELS, filter_choices
from mes.analytics.tables import columns_of, csv_text, table_rows
from mes.exceptions import InvalidInput, NotAuthorized, NotFound
from mes.registry import Metric

logger = logging.getLogger("mes.analytics")


@dataclass
class Panel:
    """One metric on the page: its chart, the table under it and where to download it."""

    metric: Metric
    chart: Chart | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""
    csv_url: str = ""
    api_url: str = ""
    has_data: bool = False
    failed: bool = False
    applied: str = ""


@dataclass
class FilterField:
    key: str
    label: str
    choices: list[tuple[str, str]]
    selected: str


def _require_viewer(request: HttpRequest) -> None:
    if not selectors.can_view_analytics(request.user):
        raise PermissionDenied(
            "The analytics dashboard needs the Supervisor, QA Reviewer, Planner or "
            "Administrator role."
        )


def _panel(request: HttpRequest, metric: Metric, query: AnalyticsQuery) -> Panel:
    params = urlencode(query.params())
    panel = Panel(
        metric=metric,
        csv_url=f"{reverse('analytics:metric_csv', args=[metric.key])}?{params}",
        api_url=f"{reverse('api-analytics-metric', args=[metric.key])}?{params}",
    )
    try:
        with transaction.atomic():  # a savepoint: a failed query spoils no other figure
            computed = selectors.metric_compute(actor=request.user, metric=metric, query=query)
    except InvalidInput as exc:
        panel.failed, panel.note = True, exc.detail
        return panel
    except Exception:  # one app's broken figure must not take the dashboard down
        logger.exception("Analytics metric %s failed", metric.key)
        panel.failed, panel.note = True, "This figure could not be computed (see the log)."
        return panel
    result = computed.result
    panel.has_data = computed.has_data
    panel.chart = chart_for(metric.chart, result.series, unit=metric.unit, bucket=query.bucket)
    panel.columns = columns_of(result)
    panel.rows = table_rows(result)
    panel.note = result.note
    panel.applied = ", ".join(
        f"{FILTER_LABELS.get(k, k)} {v}" for k, v in computed.applied_filters.items()
    )
    return panel


def _form_context(raw: Any, query: AnalyticsQuery | None) -> dict[str, Any]:
    return {
        "date_from": query.date_from.isoformat() if query else raw.get("from", ""),
        "date_to": query.date_to.isoformat() if query else raw.get("to", ""),
        "bucket": query.bucket if query else raw.get("bucket", ""),
        "buckets": BUCKETS,
        "filter_fields": [
            FilterField(
                key, label, filter_choices(key), (query.filters if query else raw).get(key, "")
            )
            for key, label in FILTER_LABELS.items()
        ],
    }


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    _require_viewer(request)
    status, error, panels = 200, "", []
    try:
        query: AnalyticsQuery | None = parse_query(request.GET)
    except InvalidInput as exc:
        query, error, status = None, exc.detail, 400
    if query is not None:
        with shared_reads():
            panels = [_panel(request, m, query) for m in selectors.metric_list(actor=request.user)]
    context = {
        "panels": panels,
        "query": query,
        "error": error,
        **_form_context(request.GET, query),
    }
    template = (
        "analytics/partials/_panels.html"
        if getattr(request, "htmx", False)
        else "analytics/dashboard.html"
    )
    response = render(request, template, context, status=status)
    if status == 400 and getattr(request, "htmx", False):
        response["HX-Retarget"] = "#analytics-panels"  # mes.js swaps a 4xx that says where
        response["HX-Reswap"] = "innerHTML"
    return response


@login_required
@require_GET
def metric_csv(request: HttpRequest, key: str) -> HttpResponse:
    _require_viewer(request)
    try:
        metric = selectors.metric_get(actor=request.user, key=key)
        query = parse_query(request.GET)
        computed = selectors.metric_compute(actor=request.user, metric=metric, query=query)
    except NotFound as exc:
        raise Http404(exc.detail) from exc
    except NotAuthorized as exc:
        raise PermissionDenied(exc.detail) from exc
    except InvalidInput as exc:
        return HttpResponse(exc.detail, status=400, content_type="text/plain; charset=utf-8")
    name = f"{key}_{query.date_from.isoformat()}_{query.date_to.isoformat()}.csv"
    response = HttpResponse(csv_text(computed.result), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
