"""Badges for equipment states (text always shown next to the colour)."""

from django import template

register = template.Library()

_STATUS_BADGES = {
    "available": "ok",
    "in_use": "info",
    "in_maintenance": "warn",
    "out_of_service": "err",
    "in_service": "ok",
    "open": "warn",
    "in_progress": "info",
    "completed": "ok",
    "cancelled": "info",
    "overdue": "err",
    "due_soon": "warn",
    "ok": "ok",
}


@register.filter
def badge(value: str) -> str:
    """CSS modifier for a status value: `badge-{{ unit.status|badge }}`."""
    return _STATUS_BADGES.get(str(value), "info")
