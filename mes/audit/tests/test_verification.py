"""`verify_trail()` and `manage.py verify_audit_trail` (P11-A-02): intact trails pass with
counts; registered verifiers (e-signatures) take part; an edited event is named. The full set of
tampering cases on PostgreSQL is in tests/test_audit_tamper.py."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from mes.audit.context import system_context
from mes.audit.models import AuditEvent
from mes.audit.services import checkpoint_create
from mes.audit.tasks import verify_audit_trail
from mes.audit.testing import seal_pending
from mes.audit.tests.factories import GroupFactory
from mes.audit.verification import (
    VerifierReport,
    register_verifier,
    unregister_verifier,
    verify_trail,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sealed_events():
    for n in range(3):
        GroupFactory(name=f"Verified {n}")
    seal_pending()
    return AuditEvent.objects.filter(seq__isnull=False).count()


@pytest.fixture
def verifier():
    names = []

    def register(fn, name):
        register_verifier(fn, name=name)
        names.append(name)

    yield register
    for name in names:
        unregister_verifier(name)


def _disable_event_guard():
    """What a database superuser can do: switch the guard off (inside the test transaction)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_guard")
        else:
            cursor.execute("DROP TRIGGER mes_audit_event_update")


def test_an_intact_trail_passes_with_its_counts(sealed_events, checkpoint_files, capsys):
    checkpoint_create(actor=None)

    call_command("verify_audit_trail")

    out = capsys.readouterr().out.strip()
    assert out == (
        f"audit trail intact: {sealed_events} events checked, 1 checkpoints verified, "
        "0 signatures valid"
    )


def test_the_result_object_for_other_apps(sealed_events, checkpoint_files):
    result = verify_trail()

    assert result.ok
    assert (result.events_checked, result.head_seq) == (sealed_events, sealed_events)
    assert result.first_problem is None
    assert result.as_dict()["problems"] == []


def test_registered_verifiers_count_signatures_and_report_problems(
    sealed_events, checkpoint_files, verifier
):
    verifier(lambda: VerifierReport(checked=4, problems=[]), "esign.ok")
    verifier(lambda: ["signature 7: record esign.Signature 7 changed after signing"], "esign.bad")

    result = verify_trail()

    assert result.signatures_checked == 4
    assert [str(p) for p in result.problems] == [
        "esign.bad: signature 7: record esign.Signature 7 changed after signing"
    ]


def test_a_failing_verifier_is_a_finding(sealed_events, checkpoint_files, verifier):
    def broken():
        raise RuntimeError("database gone")

    verifier(broken, "esign.broken")

    result = verify_trail()

    assert not result.ok
    assert str(result.first_problem) == "verifier esign.broken failed: database gone"


def test_an_edited_event_is_named_and_the_command_exits_1(sealed_events, checkpoint_files):
    target = AuditEvent.objects.filter(table_name="auth_group").order_by("-seq")[1]
    _disable_event_guard()
    AuditEvent.objects.filter(pk=target.pk).update(new_values={"id": 1, "name": "Forged"})

    with pytest.raises(CommandError) as exc:
        call_command("verify_audit_trail")

    assert exc.value.returncode == 1
    assert re.search(
        rf"first bad event: seq {target.seq}, table auth_group record {target.record_pk}: "
        "content hash mismatch",
        str(exc.value),
    )


def test_json_report(sealed_events, checkpoint_files, capsys):
    call_command("verify_audit_trail", "--json")

    report = json.loads(capsys.readouterr().out.split("\naudit trail intact")[0])
    assert report["ok"] is True
    assert report["events_checked"] == sealed_events
    assert report["problems"] == []


def test_the_nightly_task_mails_the_administrators_on_a_break(
    sealed_events, checkpoint_files, mailoutbox
):
    target = AuditEvent.objects.filter(table_name="auth_group").order_by("-seq").first()
    _disable_event_guard()
    AuditEvent.objects.filter(pk=target.pk).update(reason="edited afterwards")

    assert verify_audit_trail.delay().get() is False

    [mail] = mailoutbox
    assert mail.subject.endswith("Audit trail verification FAILED")
    assert f"seq {target.seq}, table auth_group" in mail.body


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_command_exit_code_in_a_real_process(checkpoint_files):
    """The exit status operations scripts rely on: 0 intact, 1 broken (PostgreSQL: the
    other process must see committed data)."""
    with system_context("pytest", reason="exit code test"):
        GroupFactory(name="Exit code group")
    checkpoint_create(actor=None)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "MES_AUDIT_SIGNING_KEY_FILE": str(settings.MES_AUDIT_SIGNING_KEY_FILE),
        "MES_AUDIT_CHECKPOINT_LOG": str(settings.MES_AUDIT_CHECKPOINT_LOG),
        "MES_ALLOW_INSECURE_KEY": "1",
    }
    command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "verify_audit_trail"]

    intact = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_guard")
        cursor.execute("UPDATE audit_event SET reason = 'edited' WHERE table_name = 'auth_group'")
        cursor.execute("ALTER TABLE audit_event ENABLE ALWAYS TRIGGER audit_event_guard")
    broken = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.startswith("audit trail intact: ")
    assert broken.returncode == 1
    assert "first bad event: seq" in broken.stderr
    assert "table auth_group" in broken.stderr
