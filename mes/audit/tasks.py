"""Scheduled work of the audit trail (CELERY_BEAT_SCHEDULE in mes/settings/base.py)."""

import logging

from celery import shared_task
from django.core.mail import mail_admins

from mes.audit.services import checkpoint_create, seal_pending_events
from mes.audit.verification import verify_trail

logger = logging.getLogger(__name__)


@shared_task(name="audit.seal_pending")
def seal_pending() -> int:
    """Chain events a busy commit left unsealed (every MES_AUDIT_SEAL_SECONDS)."""
    return seal_pending_events()


@shared_task(name="audit.checkpoint_audit_trail")
def checkpoint_audit_trail() -> int:
    """Sign the chain head (every MES_AUDIT_CHECKPOINT_MINUTES); returns the signed seq."""
    return checkpoint_create(actor=None).seq


@shared_task(name="audit.verify_audit_trail")
def verify_audit_trail() -> bool:
    """Verify the whole trail (nightly); a break is mailed to the administrators."""
    result = verify_trail()
    if not result.ok:
        logger.error("audit: %s", result.summary())
        details = "\n".join(str(p) for p in result.problems[:100])
        mail_admins("Audit trail verification FAILED", f"{result.summary()}\n\n{details}")
    return result.ok
