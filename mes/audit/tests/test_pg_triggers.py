"""The PostgreSQL trail: triggers everywhere, database clock, sealing, guards that even the
owner/superuser meets (P11-E-01, P11-E-02, P11-E-06)."""

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.db import DatabaseError, connection, transaction

from mes.audit.install import install, table_plans
from mes.audit.models import AuditEvent, ChainHead
from mes.audit.payload import GENESIS_HASH, chain_hash, payload_sql
from mes.audit.services import checkpoint_create
from mes.audit.testing import seal_pending
from mes.audit.tests.factories import GroupFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _triggers():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid
            WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace
            """
        )
        return {(table, name): enabled for table, name, enabled in cursor.fetchall()}


def _execute(*statements):
    with transaction.atomic(), connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)


def _refused(sql, params=None):
    with pytest.raises(DatabaseError) as exc:
        _execute((sql, params))
    return str(exc.value)


def test_every_registered_table_has_its_triggers_enabled_always():
    triggers = _triggers()
    plans = table_plans()

    assert {p.table for p in plans if p.capture} >= {
        "accounts_user",
        "auth_group",
        "accounts_user_groups",
        "esign_signature",
        "guardian_userobjectpermission",
    }
    for plan in plans:
        if plan.capture:
            assert triggers[(plan.table, "audit_capture")] == "A", plan.table
        if plan.append_only or not plan.deletable:
            assert triggers[(plan.table, "audit_guard_row")] == "A", plan.table
        assert triggers[(plan.table, "audit_guard_truncate")] == "A", plan.table
    assert triggers[("audit_event", "audit_seal")] == "A"
    assert triggers[("audit_event", "audit_event_guard")] == "A"
    assert triggers[("audit_chain_head", "audit_head_guard")] == "A"
    assert triggers[("audit_checkpoint", "audit_guard_row")] == "A"


def test_simple_history_tables_are_append_only_but_not_captured():
    history = [p for p in table_plans() if p.table.startswith("equipment_historical")]

    assert history
    assert {(p.capture, p.append_only) for p in history} == {(False, True)}
    triggers = _triggers()
    for plan in history:
        assert (plan.table, "audit_capture") not in triggers
        assert triggers[(plan.table, "audit_guard_row")] == "A"


def test_installing_again_changes_nothing():
    assert install(connection) == []


def test_event_time_is_the_database_clock_not_the_application_clock(trail):
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        before = cursor.fetchone()[0]
    frozen = datetime(2001, 1, 1, tzinfo=UTC)
    with mock.patch("django.utils.timezone.now", return_value=frozen):
        GroupFactory(name="Clock check")
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp(), txid_current()")
        after, txid = cursor.fetchone()

    [event] = trail("auth_group")
    assert before <= event.occurred_at <= after
    assert event.txid == txid


def test_events_are_sealed_into_a_gapless_hash_chain_at_commit(trail):
    head_before = ChainHead.objects.get(pk=1)
    GroupFactory(name="Chain 1")
    GroupFactory(name="Chain 2")

    unsealed = [e.seq for e in trail()]
    seal_pending()
    events = trail()
    head = ChainHead.objects.get(pk=1)

    assert unsealed == [None, None]
    assert [e.seq for e in events] == [head_before.seq + 1, head_before.seq + 2]
    assert events[0].prev_hash == head_before.hash
    assert events[1].prev_hash == events[0].hash
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {payload_sql('e')} FROM audit_event e WHERE id = ANY(%s) ORDER BY seq",
            [[e.id for e in events]],
        )
        payloads = [row[0] for row in cursor.fetchall()]
    assert events[0].hash == chain_hash(head_before.hash, payloads[0])
    assert events[1].hash == chain_hash(events[0].hash, payloads[1])
    assert (head.seq, head.hash) == (events[1].seq, events[1].hash)


def test_the_first_event_links_to_the_genesis_hash():
    first = AuditEvent.objects.filter(seq=1).first()
    assert first is not None  # the migrations' role grants are the first events
    assert first.prev_hash == GENESIS_HASH


def test_audit_event_refuses_update_delete_and_truncate_for_the_superuser(trail):
    GroupFactory(name="Evidence")
    seal_pending()
    [event] = trail("auth_group")

    update = _refused("UPDATE audit_event SET reason = 'edited' WHERE id = %s", [event.id])
    delete = _refused("DELETE FROM audit_event WHERE id = %s", [event.id])
    truncate = _refused("TRUNCATE audit_event")
    insert = _refused(
        "INSERT INTO audit_event (occurred_at, table_name, record_pk, action, user_name, roles, "
        "reason, request_id, app_version, on_behalf_of, prev_hash, hash) "
        "VALUES (now(), 'auth_group', '1', 'INSERT', 'forger', '[]', '', '', '', '', '', '')"
    )

    assert "audit tables are append-only: UPDATE refused on audit_event" in update
    assert "audit tables are append-only: DELETE refused on audit_event" in delete
    assert "audit tables are append-only: TRUNCATE refused on audit_event" in truncate
    assert "written only by the audit_capture() trigger" in insert
    assert AuditEvent.objects.get(pk=event.id).reason == "test setup"
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone()[0] is True


def test_replica_mode_does_not_switch_the_guards_off(trail):
    GroupFactory(name="Replica")
    seal_pending()
    [event] = trail("auth_group")

    with pytest.raises(DatabaseError) as exc:
        _execute(
            ("SET LOCAL session_replication_role = replica", None),
            ("UPDATE audit_event SET new_values = '{}' WHERE id = %s", [event.id]),
        )

    assert "audit tables are append-only: UPDATE refused on audit_event" in str(exc.value)
    assert AuditEvent.objects.get(pk=event.id).new_values == {
        "id": event.new_values["id"],
        "name": "Replica",
    }


def test_the_sealing_update_cannot_be_repeated_or_widened(trail):
    GroupFactory(name="Sealed once")
    [event] = trail("auth_group")

    widened = _refused(
        "UPDATE audit_event SET seq = 999999, hash = 'x', reason = 'and more' WHERE id = %s",
        [event.id],
    )
    seal_pending()
    resealed = _refused("UPDATE audit_event SET seq = 999999 WHERE id = %s", [event.id])

    assert "audit tables are append-only" in widened
    assert "audit tables are append-only" in resealed
    assert AuditEvent.objects.get(pk=event.id).seq != 999999


def test_chain_head_and_checkpoints_are_protected(checkpoint_files):
    GroupFactory(name="Checkpointed")
    seal_pending()
    checkpoint_create(actor=None)

    head = _refused("UPDATE audit_chain_head SET seq = seq + 1, hash = 'forged'")
    head_delete = _refused("DELETE FROM audit_chain_head")
    checkpoint = _refused("DELETE FROM audit_checkpoint")
    checkpoint_update = _refused("UPDATE audit_checkpoint SET hash = 'forged'")
    checkpoint_truncate = _refused("TRUNCATE audit_checkpoint")

    assert "audit tables are append-only: UPDATE refused on audit_chain_head" in head
    assert "audit tables are append-only: DELETE refused on audit_chain_head" in head_delete
    assert "audit tables are append-only: DELETE refused on audit_checkpoint" in checkpoint
    assert "audit tables are append-only: UPDATE refused on audit_checkpoint" in checkpoint_update
    assert (
        "audit tables are append-only: TRUNCATE refused on audit_checkpoint" in checkpoint_truncate
    )


def test_truncate_of_an_audited_table_is_refused():
    GroupFactory(name="Stays")

    message = _refused("TRUNCATE auth_group CASCADE")

    assert "audit: TRUNCATE refused on auth_group" in message
    assert GroupFactory._meta.model.objects.filter(name="Stays").exists()
