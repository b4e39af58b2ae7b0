"""Celery entrypoints of the equipment app (thin: they call services)."""

from celery import shared_task

from equipment import services
from mes.accounts.models import User
from mes.audit.context import system_context

SYSTEM_USERNAME = "celery"


@shared_task(name="equipment.generate_preventive_maintenance")
def generate_preventive_maintenance() -> list[str]:
    """Beat, hourly: a maintenance work order for every preventive plan that is due."""
    with system_context("celery", reason="preventive maintenance generation"):
        actor = User.objects.get(username=SYSTEM_USERNAME)
        orders = services.maintenance_plans_generate_due(actor=actor)
    return [order.number for order in orders]
