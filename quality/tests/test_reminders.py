"""Overdue CAPA reminders: one e-mail per owner, listing their overdue actions."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from quality import selectors, services
from quality.choices import CapaKind
from quality.tasks import remind_overdue_capa

pytestmark = pytest.mark.django_db


@pytest.fixture
def overdue(qa_user, supervisor):
    deviation = services.deviation_open(actor=qa_user, title="Leak on R-101", description="d")
    actions = [
        services.capa_action_add(
            actor=qa_user,
            deviation=deviation,
            kind=CapaKind.CORRECTIVE,
            description=text,
            owner=supervisor,
            due_at=timezone.localdate(),
        )
        for text in ("Replace seal", "Retrain crew")
    ]
    return deviation, actions


def test_one_reminder_per_owner(overdue, supervisor):
    deviation, actions = overdue
    tomorrow = timezone.localdate() + timedelta(days=1)

    [reminder] = selectors.overdue_capa_reminders(on=tomorrow)

    assert (reminder.to, reminder.owner, reminder.subject) == (
        supervisor.email,
        "sam.supervisor",
        "2 overdue CAPA action(s)",
    )
    assert reminder.capa_ids == tuple(a.pk for a in actions)
    assert (
        f"- {actions[0].number} ({deviation.number} Leak on R-101): Replace seal" in reminder.body
    )
    assert "1 day(s) overdue" in reminder.body


def test_nothing_is_due_today(overdue):
    assert selectors.overdue_capa_reminders() == []


def test_the_task_sends_the_mail(overdue, mailoutbox, supervisor, monkeypatch):
    tomorrow = timezone.localdate() + timedelta(days=1)
    monkeypatch.setattr(selectors, "today", lambda: tomorrow)

    assert remind_overdue_capa() == ["sam.supervisor"]
    assert [(m.to, m.subject) for m in mailoutbox] == [
        ([supervisor.email], f"[{settings.MES_SITE_NAME}] 2 overdue CAPA action(s)")
    ]


def test_the_command_dry_run_sends_nothing(overdue, mailoutbox, supervisor, monkeypatch):
    tomorrow = timezone.localdate() + timedelta(days=1)
    monkeypatch.setattr(selectors, "today", lambda: tomorrow)
    out = StringIO()

    call_command("remind_overdue_capa", "--dry-run", stdout=out)

    assert out.getvalue() == (
        f"{supervisor.email}: 2 overdue CAPA action(s)\nDry run: 1 reminder(s) not sent.\n"
    )
    assert mailoutbox == []
