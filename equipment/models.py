"""The plant model (ISA-95): site → area → work center / process cell → unit.

Object-level scoping is by area: django-guardian grants `operate_in_area` (and the others
below) on an Area to a user or group; selectors ask `get_objects_for_user`.
"""

from django.db import models
from simple_history.models import HistoricalRecords

from mes.audit.registry import audited


@audited()
class Site(models.Model):
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC")
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@audited()
class Area(models.Model):
    class Kind(models.TextChoices):
        PROCESS = "process", "Process (batch)"
        DISCRETE = "discrete", "Discrete (assembly/packaging)"
        WAREHOUSE = "warehouse", "Warehouse"
        LAB = "lab", "Laboratory"

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="areas")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PROCESS)
    history = HistoricalRecords()

    class Meta:
        ordering = ["site__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["site", "code"], name="equipment_area_code_per_site")
        ]
        permissions = [
            ("operate_in_area", "Can execute production in this area"),
            ("review_in_area", "Can review and release records of this area"),
            ("plan_in_area", "Can plan and schedule this area"),
        ]

    def __str__(self) -> str:
        return f"{self.site.code}/{self.code} {self.name}"
