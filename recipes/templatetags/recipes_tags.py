"""Display helpers of the recipe pages."""

from django import template

register = template.Library()

_BADGES = {
    "draft": "info",
    "in_review": "warn",
    "approved": "ok",
    "superseded": "info",
    "obsolete": "err",
}


@register.filter
def status_badge(status: str) -> str:
    """The badge class of a version status (the label is always shown too)."""
    return _BADGES.get(status, "info")


@register.filter
def shown(value: object) -> object:
    """A diff value for the page: None as an em dash, booleans as yes/no."""
    if value is None:
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return value


@register.filter
def status_label(status: str) -> str:
    from recipes.choices import RecipeVersionStatus

    return RecipeVersionStatus(status).label if status in RecipeVersionStatus.values else status
