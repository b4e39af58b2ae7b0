"""Celery entrypoints of scheduling (thin: they call services).

`enqueue_solve(schedule)` sends the solve to the worker once the request's transaction has
committed; with eager Celery (tests, the embedded default) the solve runs right there, to its
time limit.
"""

from typing import Any

from celery import shared_task
from django.db import transaction

from mes.accounts.models import User
from mes.audit.context import audit_context
from scheduling import services
from scheduling.models import Schedule


@shared_task(name="scheduling.solve_schedule")
def schedule_solve_task(schedule_id: int, actor_id: int) -> dict[str, Any]:
    """Solve a queued schedule as the planner who asked for it."""
    actor = User.objects.get(pk=actor_id)
    with audit_context(user=actor, reason="solve schedule"):
        schedule = services.schedule_solve(schedule_id=schedule_id, actor=actor)
    return {
        "schedule": schedule.number,
        "status": schedule.solver_status,
        "objective": schedule.best_objective,
    }


def enqueue_solve(schedule: Schedule, actor: Any) -> None:
    transaction.on_commit(lambda: schedule_solve_task.delay(schedule.pk, actor.pk))
