"""Celery entrypoints of quality (thin: they read, then send)."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from mes.audit.context import system_context
from quality import selectors


def send_overdue_capa_reminders() -> list[str]:
    """E-mail every owner of an overdue CAPA action (one message each); returns the
    usernames reminded."""
    with system_context("celery", reason="overdue CAPA reminders"):
        reminders = selectors.overdue_capa_reminders()
    for reminder in reminders:
        send_mail(
            subject=f"[{settings.MES_SITE_NAME}] {reminder.subject}",
            message=reminder.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[reminder.to],
        )
    return [reminder.owner for reminder in reminders]


@shared_task(name="quality.remind_overdue_capa")
def remind_overdue_capa() -> list[str]:
    """Beat, daily: remind the owners of overdue CAPA actions."""
    return send_overdue_capa_reminders()
