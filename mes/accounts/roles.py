"""The plant's roles. Each is a Django group created by migration; apps grant their
permissions to these groups in their own migrations."""

from django.db import models


class Role(models.TextChoices):
    OPERATOR = "Operator"
    SUPERVISOR = "Supervisor"
    QA_REVIEWER = "QA Reviewer"
    RECIPE_AUTHOR = "Recipe Author"
    PLANNER = "Planner"
    MAINTENANCE = "Maintenance"
    INTEGRATION = "Integration (ERP)"
    ADMINISTRATOR = "Administrator"


ALL_ROLES: tuple[str, ...] = tuple(r.value for r in Role)
SHOP_FLOOR_ROLES: frozenset[str] = frozenset({Role.OPERATOR.value})
