"""Reads of the dashboard: who may see it, the registered metrics, one metric computed."""

import inspect
from dataclasses import dataclass
from typing import Any

from mes.accounts.roles import Role
from mes.analytics.buckets import AnalyticsQuery
from mes.exceptions import NotAuthorized, NotFound
from mes.registry import Metric, MetricResult, metrics

ANALYTICS_ROLES: frozenset[str] = frozenset(
    {
        Role.SUPERVISOR.value,
        Role.QA_REVIEWER.value,
        Role.PLANNER.value,
        Role.ADMINISTRATOR.value,
    }
)


def can_view_analytics(user: Any) -> bool:
    """Supervisors, QA reviewers, planners and administrators (and superusers). Operators see
    their own work on the terminal, not the plant's figures."""
    return bool(
        user is not None
        and user.is_authenticated
        and (user.is_superuser or ANALYTICS_ROLES & user.role_names)
    )


def _require_viewer(actor: Any) -> None:
    if not can_view_analytics(actor):
        raise NotAuthorized(
            "The analytics dashboard needs the Supervisor, QA Reviewer, Planner or "
            "Administrator role."
        )


def metric_list(*, actor: Any) -> list[Metric]:
    _require_viewer(actor)
    return metrics()


def metric_get(*, actor: Any, key: str) -> Metric:
    _require_viewer(actor)
    found = next((m for m in metrics() if m.key == key), None)
    if found is None:
        raise NotFound(f"No metric {key!r} is registered.")
    return found


@dataclass
class ComputedMetric:
    metric: Metric
    query: AnalyticsQuery
    result: MetricResult
    applied_filters: dict[str, str]

    @property
    def has_data(self) -> bool:
        return bool(self.result.rows) or any(
            value is not None for points in self.result.series.values() for _x, value in points
        )


def _kwargs_for(metric: Metric, query: AnalyticsQuery) -> dict[str, Any]:
    """`bucket` and the metric's declared filters, as far as its `compute` takes them."""
    wanted: dict[str, Any] = {"bucket": query.bucket}
    wanted.update({k: v for k, v in query.filters.items() if k in metric.filters and v})
    params = inspect.signature(metric.compute).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return wanted
    names = {p.name for p in params}
    return {k: v for k, v in wanted.items() if k in names}


def metric_compute(*, actor: Any, metric: Metric, query: AnalyticsQuery) -> ComputedMetric:
    """Run one metric for the query's period, bucket and (applicable) filters."""
    _require_viewer(actor)
    kwargs = _kwargs_for(metric, query)
    result = metric.compute(query.period, **kwargs)
    applied = {k: v for k, v in kwargs.items() if k != "bucket"}
    return ComputedMetric(metric=metric, query=query, result=result, applied_filters=applied)
