"""Concurrent writers, each with its own database connection: the chain stays gapless and
verifies; a commit never waits for another's seal; a rolled-back transaction consumes no seq
(P11-E-06)."""

import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connection, connections, transaction

from mes.audit.context import system_context
from mes.audit.models import AuditEvent, ChainHead
from mes.audit.services import seal_pending_events
from mes.audit.verification import verify_trail

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WRITERS = 6
TRANSACTIONS = 25


def _writer(n: int, errors: list) -> None:
    try:
        with system_context(f"writer-{n}", reason="concurrency test"):
            for i in range(TRANSACTIONS):
                with transaction.atomic():
                    group = Group.objects.create(name=f"Writer {n} group {i}")
                    group.name = f"Writer {n} group {i} (renamed)"
                    group.save(update_fields=["name"])
    except Exception as exc:  # reported to the main thread
        errors.append(exc)
    finally:
        connections.close_all()


def test_parallel_writers_give_a_gapless_verified_chain(checkpoint_files):
    head_before = ChainHead.objects.get(pk=1).seq
    errors: list = []
    threads = [threading.Thread(target=_writer, args=(n, errors)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    seal_pending_events()  # what the sealer task does for commits that found the head busy

    assert errors == []
    written = AuditEvent.objects.filter(table_name="auth_group", reason="concurrency test")
    seqs = sorted(written.values_list("seq", flat=True))
    assert len(seqs) == WRITERS * TRANSACTIONS * 2
    assert seqs == list(range(head_before + 1, head_before + 1 + len(seqs)))
    assert AuditEvent.objects.filter(seq__isnull=True).count() == 0
    assert set(written.values_list("user_name", flat=True)) == {
        f"system:writer-{n}" for n in range(WRITERS)
    }
    result = verify_trail()
    assert result.ok, result.summary()
    assert result.events_checked == ChainHead.objects.get(pk=1).seq


def test_a_commit_does_not_wait_for_a_busy_chain_head():
    """While another transaction holds the head (sealing), a writer commits at once and leaves
    its event to the next sealer, which chains it without a gap."""
    head_before = ChainHead.objects.get(pk=1).seq
    holding, release = threading.Event(), threading.Event()

    def hold_the_head() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT seq FROM audit_chain_head WHERE id = 1 FOR UPDATE")
                holding.set()
                release.wait(timeout=60)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_head)
    holder.start()
    holding.wait(timeout=60)
    with system_context("pytest", reason="busy head"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '5s'")  # a commit that waited would fail
        Group.objects.create(name="Committed while the head was busy")
    left_unsealed = AuditEvent.objects.get(reason="busy head").seq
    release.set()
    holder.join(timeout=60)
    with system_context("pytest", reason="next writer"):
        Group.objects.create(name="The next commit seals both")

    assert left_unsealed is None
    assert [
        (e.reason, e.seq) for e in AuditEvent.objects.filter(seq__gt=head_before).order_by("seq")
    ] == [("busy head", head_before + 1), ("next writer", head_before + 2)]
    assert verify_trail().ok


def _create_then_fail() -> None:
    with transaction.atomic():
        Group.objects.create(name="Rolled back")
        raise RuntimeError("abort")


def test_a_rolled_back_transaction_consumes_no_seq():
    head_before = ChainHead.objects.get(pk=1).seq
    with system_context("pytest", reason="rolled back"):
        with pytest.raises(RuntimeError):
            _create_then_fail()
        Group.objects.create(name="Committed")

    event = AuditEvent.objects.get(table_name="auth_group", action="INSERT", reason="rolled back")
    assert event.seq == head_before + 1
    assert event.new_values["name"] == "Committed"
    assert not Group.objects.filter(name="Rolled back").exists()
