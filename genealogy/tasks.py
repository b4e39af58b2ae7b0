"""Celery entry points of genealogy (thin: they call services)."""

from celery import shared_task

from genealogy import services
from mes.audit.context import system_context


@shared_task(name="genealogy.recall_job")
def recall_job_task(job_id: int) -> str:
    """Compute a queued recall scope (progress on the RecallJob row); returns its status."""
    with system_context("celery", reason=f"recall job {job_id}"):
        return services.recall_job_run(job_id=job_id).status
