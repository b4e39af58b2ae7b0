"""Alerts to administrators about security events (11.300(d): detect and urgently report
attempts at unauthorized use)."""

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from mes.accounts.models import SecurityEvent, User
from mes.accounts.roles import Role
from mes.accounts.services import security_event_record


def lockout_alert_recipients() -> list[str]:
    """settings.ADMINS plus the e-mail of every active user in the Administrator role."""
    addresses = [address for _name, address in settings.ADMINS if address]
    administrators = (
        User.objects.filter(groups__name=Role.ADMINISTRATOR.value, is_active=True)
        .exclude(email="")
        .order_by("username")
        .values_list("email", flat=True)
    )
    for address in administrators:
        if address.lower() not in {a.lower() for a in addresses}:
            addresses.append(address)
    return addresses


def lockout_alert_send(*, security_event_id: int) -> int:
    event = SecurityEvent.objects.get(pk=security_event_id, type=SecurityEvent.Type.LOCKED_OUT)
    recipients = lockout_alert_recipients()
    if not recipients:
        return 0
    when = timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S %Z")
    data = event.data or {}
    subject = f"[{settings.MES_SITE_NAME}] Account locked out: {event.username}"
    body = (
        f"The account {event.username!r} was locked out at {when} after "
        f"{data.get('failures', '?')} failed {data.get('source', 'login')} attempts "
        f"from {event.ip_address or 'an unknown address'}.\n"
        f"The lockout lasts {data.get('cooloff_minutes', '?')} minutes for this user ID at "
        f"this address. If this was not the user, treat it as an attempted unauthorized use "
        f"(21 CFR 11.300(d)).\n\nSecurity event #{event.pk}."
    )
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
    security_event_record(
        event_type=SecurityEvent.Type.ALERT_SENT,
        user=event.user,
        username=event.username,
        data={"about_event": event.pk, "recipients": recipients, "alert": "lockout"},
    )
    return len(recipients)
