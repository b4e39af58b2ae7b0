"""Celery entry points of the accounts kernel: thin, calling services."""

from celery import shared_task

from mes.audit.context import system_context


@shared_task(name="accounts.send_lockout_alert", acks_late=True)
def send_lockout_alert(security_event_id: int) -> int:
    """Mail the administrators that an account was locked out (21 CFR 11.300(d)).
    Returns the number of recipients."""
    from mes.accounts.alerts import lockout_alert_send

    with system_context("celery", reason="lockout alert"):
        return lockout_alert_send(security_event_id=security_event_id)
