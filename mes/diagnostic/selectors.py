"""Reads of the self-audit: who may see and run it, the assessments, the trend."""

from typing import Any

from django.db.models import QuerySet

from mes.diagnostic.models import Assessment
from mes.exceptions import NotFound

PERM_VIEW = "diagnostic.view_assessment"


def can_view(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm(PERM_VIEW))


def can_run(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False) and user.has_perm("diagnostic.run_assessment")
    )


def can_sign(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False) and user.has_perm("diagnostic.sign_assessment")
    )


def assessment_list(*, actor: Any) -> QuerySet[Assessment]:
    """The assessments the actor may see, newest first (plant-wide: no area scope)."""
    if not can_view(actor):
        return Assessment.objects.none()
    return Assessment.objects.select_related("created_by").order_by("-created_at", "-id")


def assessment_get(*, actor: Any, pk: int) -> Assessment:
    found = assessment_list(actor=actor).filter(pk=pk).first()
    if found is None:
        raise NotFound(f"There is no assessment #{pk} you may see.")
    return found


def assessment_trend(*, actor: Any, limit: int = 20) -> list[dict[str, Any]]:
    """The pass / warning / fail counts of the last `limit` assessments, oldest first."""
    rows = list(
        assessment_list(actor=actor).values(
            "pk", "created_at", "pass_count", "warning_count", "fail_count", "mode"
        )[:limit]
    )
    return list(reversed(rows))


def trend_chart(rows: list[dict[str, Any]], *, width: int = 640, height: int = 180) -> dict:
    """Server-rendered SVG geometry: one polyline per status over the assessments."""
    pad_left, pad_right, pad_top, pad_bottom = 36, 12, 12, 28
    top = max([1] + [r[k] for r in rows for k in ("pass_count", "warning_count", "fail_count")])
    inner_w, inner_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    step = inner_w / max(len(rows) - 1, 1)

    def y(value: int) -> float:
        return round(pad_top + inner_h - inner_h * value / top, 1)

    series = []
    for key, label, css in (
        ("pass_count", "pass", "trend-pass"),
        ("warning_count", "warning", "trend-warn"),
        ("fail_count", "fail", "trend-fail"),
    ):
        points = [(round(pad_left + i * step, 1), y(r[key])) for i, r in enumerate(rows)]
        series.append(
            {
                "label": label,
                "css": css,
                "points": " ".join(f"{px},{py}" for px, py in points),
                "dots": [
                    {"x": px, "y": py, "value": r[key], "pk": r["pk"]}
                    for (px, py), r in zip(points, rows, strict=True)
                ],
            }
        )
    ticks = [{"y": y(v), "value": v} for v in sorted({0, top // 2, top})]
    labels = [
        {"x": round(pad_left + i * step, 1), "text": f"#{r['pk']}"} for i, r in enumerate(rows)
    ]
    return {
        "width": width,
        "height": height,
        "series": series,
        "ticks": ticks,
        "labels": labels,
        "axis_x": pad_left,
        "axis_y": height - pad_bottom,
        "label_y": height - 8,
        "right": width - pad_right,
    }
