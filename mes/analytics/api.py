"""The dashboard's figures through the API, mounted at /api/v1/analytics/:

    GET /api/v1/analytics/                      the registered metrics
    GET /api/v1/analytics/<key>/?from=YYYY-MM-DD&to=YYYY-MM-DD&bucket=week&work_center=PK-ASM
                                                one metric: series, table rows, note

A bad range (unparsable date, from after to, too many points) is 400 `invalid_input`; a user
without an analytics role 403 `not_authorized`; an unknown key 404 `not_found`.
"""

from typing import Any

from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mes.analytics import selectors
from mes.analytics.buckets import FILTER_KEYS, parse_query
from mes.analytics.tables import columns_of, json_value
from mes.api.serializers import ErrorSerializer
from mes.registry import Metric


def _describe(request: Request, metric: Metric) -> dict[str, Any]:
    return {
        "key": metric.key,
        "title": metric.title,
        "unit": metric.unit,
        "group": metric.group,
        "chart": metric.chart,
        "description": metric.description,
        "filters": list(metric.filters),
        "url": request.build_absolute_uri(reverse("api-analytics-metric", args=[metric.key])),
    }


class MetricSerializer(serializers.Serializer):
    """One registered metric (schema only)."""

    key = serializers.CharField()
    title = serializers.CharField()
    unit = serializers.CharField()
    group = serializers.CharField()
    chart = serializers.CharField()
    description = serializers.CharField()
    filters = serializers.ListField(child=serializers.CharField())
    url = serializers.URLField()


class MetricListView(APIView):
    @extend_schema(
        operation_id="analytics_metrics_list",
        summary="The metrics of the analytics dashboard",
        responses={
            200: inline_serializer("AnalyticsMetricList", {"metrics": MetricSerializer(many=True)}),
            403: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        found = selectors.metric_list(actor=request.user)
        return Response({"metrics": [_describe(request, m) for m in found]})


class MetricDetailView(APIView):
    @extend_schema(
        operation_id="analytics_metric_retrieve",
        summary="One metric over a date range, per bucket, with its table",
        parameters=[
            OpenApiParameter(
                "from", OpenApiTypes.DATE, description="first day (default: 12 weeks ago)"
            ),
            OpenApiParameter(
                "to", OpenApiTypes.DATE, description="last day, inclusive (default: today)"
            ),
            OpenApiParameter("bucket", OpenApiTypes.STR, enum=["day", "week", "month"]),
            *[OpenApiParameter(k, OpenApiTypes.STR, description="a code") for k in FILTER_KEYS],
        ],
        responses={
            200: OpenApiTypes.OBJECT,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request, key: str) -> Response:
        metric = selectors.metric_get(actor=request.user, key=key)
        query = parse_query(request.query_params)
        computed = selectors.metric_compute(actor=request.user, metric=metric, query=query)
        result = computed.result
        return Response(
            {
                **_describe(request, metric),
                "from": query.date_from.isoformat(),
                "to": query.date_to.isoformat(),
                "bucket": query.bucket,
                "applied_filters": computed.applied_filters,
                "has_data": computed.has_data,
                "series": [
                    {
                        "name": name,
                        "points": [{"x": json_value(x), "value": json_value(v)} for x, v in points],
                    }
                    for name, points in result.series.items()
                ],
                "columns": columns_of(result),
                "rows": [{k: json_value(v) for k, v in row.items()} for row in result.rows],
                "note": result.note,
            }
        )


urlpatterns = [
    path("", MetricListView.as_view(), name="api-analytics-metrics"),
    path("<str:key>/", MetricDetailView.as_view(), name="api-analytics-metric"),
]
