"""Tampering with the audit trail directly in SQL, as a database superuser who switches the
guards off, is detected by `manage.py verify_audit_trail`, which exits 1 naming the first bad
event (P11-A-02, P11-E-06). Plant records: equipment.Site."""

import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from equipment.models import Site
from equipment.tests.factories import SiteFactory
from mes.audit.models import AuditEvent, ChainHead
from mes.audit.payload import chain_hash, payload_sql
from mes.audit.services import checkpoint_create
from mes.audit.testing import checkpoint_files, seal_pending  # noqa: F401
from mes.audit.verification import verify_trail

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def sites(checkpoint_files):  # noqa: F811
    """Six sites (one sealed INSERT event each), a checkpoint after the third and one at the
    end; returns the six events' seqs."""
    seqs = []
    for n in range(6):
        SiteFactory(code=f"T{n}", name=f"Tamper site {n}")
        seal_pending()
        seqs.append(
            AuditEvent.objects.get(
                table_name="equipment_site", record_pk=str(Site.objects.get(code=f"T{n}").pk)
            ).seq
        )
        if n == 2:
            checkpoint_create(actor=None)
    checkpoint_create(actor=None)
    return seqs


def _as_superuser_without_guards(*statements):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_guard")
        cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_seal")
        cursor.execute("ALTER TABLE audit_chain_head DISABLE TRIGGER audit_head_guard")
        for sql, params in statements:
            cursor.execute(sql, params)


def _verify_fails() -> str:
    with pytest.raises(CommandError) as exc:
        call_command("verify_audit_trail")
    assert exc.value.returncode == 1
    return str(exc.value)


def _first_bad(message: str) -> int:
    found = re.search(r"first bad event: seq (\d+)[,:]", message)
    assert found, message
    return int(found.group(1))


def _payload_and_hash(seq):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {payload_sql('e')}, e.hash FROM audit_event e WHERE e.seq = %s", [seq]
        )
        return cursor.fetchone()


def test_intact_trail_passes(sites, capsys):
    call_command("verify_audit_trail")

    total = AuditEvent.objects.count()
    assert capsys.readouterr().out.strip() == (
        f"audit trail intact: {total} events checked, 2 checkpoints verified, 0 signatures valid"
    )


def test_a_edited_new_values(sites):
    target = sites[3]
    _as_superuser_without_guards(
        (
            "UPDATE audit_event SET new_values = jsonb_set(new_values, '{name}', '\"Forged\"') "
            "WHERE seq = %s",
            [target],
        )
    )

    message = _verify_fails()

    assert _first_bad(message) == target
    assert "content hash mismatch" in message


def test_b_deleted_event(sites):
    target = sites[2]
    _as_superuser_without_guards(("DELETE FROM audit_event WHERE seq = %s", [target]))

    message = _verify_fails()

    assert _first_bad(message) == target
    assert f"event(s) seq {target} missing" in message


def test_c_forged_event_inserted_into_the_chain(sites):
    """The forger makes room at seq k and inserts an event with a correct hash for its own
    payload; the displaced original at k+1 no longer links."""
    k = sites[3]
    last = AuditEvent.objects.order_by("-seq").first().seq
    _as_superuser_without_guards(
        ("UPDATE audit_event SET seq = -seq WHERE seq >= %s", [k]),
        ("UPDATE audit_event SET seq = -seq + 1 WHERE seq < 0", None),
        (
            "INSERT INTO audit_event (occurred_at, table_name, record_pk, action, new_values, "
            "user_name, roles, reason, request_id, app_version, on_behalf_of, txid, seq, "
            "prev_hash, hash) SELECT clock_timestamp(), 'equipment_site', '999', 'INSERT', "
            "'{\"name\": \"Ghost site\"}', 'quinn.qa', '[\"QA Reviewer\"]', '', '', '', '', 1, "
            "%s, hash, '' FROM audit_event WHERE seq = %s",
            [k, k - 1],
        ),
    )
    payload, _ = _payload_and_hash(k)
    prev = AuditEvent.objects.get(seq=k).prev_hash
    _as_superuser_without_guards(
        ("UPDATE audit_event SET hash = %s WHERE seq = %s", [chain_hash(prev, payload), k])
    )

    message = _verify_fails()

    assert _first_bad(message) == k + 1
    assert AuditEvent.objects.order_by("-seq").first().seq == last + 1


def test_c_forged_event_left_unsealed(sites):
    """A forged event inserted with the seal switched off stays unsealed: once it is older
    than the grace period (MES_AUDIT_SEAL_GRACE_SECONDS) the verifier names it."""
    _as_superuser_without_guards(
        (
            "INSERT INTO audit_event (occurred_at, table_name, record_pk, action, new_values, "
            "user_name, roles, reason, request_id, app_version, on_behalf_of, prev_hash, hash) "
            "VALUES (clock_timestamp() - interval '1 hour', 'equipment_site', '999', 'DELETE', "
            "NULL, 'quinn.qa', '[]', '', '', '', '', '', '')",
            None,
        )
    )
    forged = AuditEvent.objects.get(record_pk="999")

    message = _verify_fails()

    assert f"first bad event: event id {forged.id}, table equipment_site record 999" in message
    assert "left unsealed for more than 300 s" in message


def test_a_fresh_unsealed_event_is_pending_not_broken(sites, settings):
    _as_superuser_without_guards(
        (
            "INSERT INTO audit_event (occurred_at, table_name, record_pk, action, new_values, "
            "user_name, roles, reason, request_id, app_version, on_behalf_of, prev_hash, hash) "
            "VALUES (clock_timestamp(), 'equipment_site', '998', 'DELETE', NULL, 'quinn.qa', "
            "'[]', '', '', '', '', '', '')",
            None,
        )
    )

    fresh = verify_trail()
    settings.MES_AUDIT_SEAL_GRACE_SECONDS = 0
    overdue = verify_trail()

    assert fresh.ok
    assert fresh.pending_seal == 1
    assert fresh.summary().endswith("(1 new events awaiting their seal)")
    assert not overdue.ok


def test_the_verifying_transactions_own_unsealed_writes_are_pending(sites, settings):
    """A long transaction that verifies the trail (the demo's self-audit) sees its own events
    unsealed (they are sealed at its commit): pending, not "left unsealed"."""
    SiteFactory(code="T9", name="Written by the verifying transaction")
    settings.MES_AUDIT_SEAL_GRACE_SECONDS = 0

    result = verify_trail()

    assert result.ok, result.summary()
    assert result.pending_seal == 1


def test_d_two_events_swapped(sites):
    a, b = sites[1], sites[2]
    _as_superuser_without_guards(
        ("UPDATE audit_event SET seq = -1 WHERE seq = %s", [a]),
        ("UPDATE audit_event SET seq = %s WHERE seq = %s", [a, b]),
        ("UPDATE audit_event SET seq = %s WHERE seq = -1", [b]),
    )

    message = _verify_fails()

    assert _first_bad(message) == a


def test_e_edit_and_rechain_is_caught_only_by_the_checkpoint(sites):
    """The superuser edits seq k and recomputes every later hash and the head: the chain is
    internally consistent again, but the event at the last checkpoint's seq no longer carries
    the signed hash."""
    k, first_checkpoint, last_checkpoint = sites[4], sites[2], sites[5]
    _as_superuser_without_guards(
        (
            "UPDATE audit_event SET new_values = jsonb_set(new_values, '{name}', '\"Forged\"') "
            "WHERE seq = %s",
            [k],
        )
    )
    prev = AuditEvent.objects.get(seq=k - 1).hash
    for seq in range(k, AuditEvent.objects.order_by("-seq").first().seq + 1):
        payload, _ = _payload_and_hash(seq)
        new_hash = chain_hash(prev, payload)
        _as_superuser_without_guards(
            (
                "UPDATE audit_event SET prev_hash = %s, hash = %s WHERE seq = %s",
                [prev, new_hash, seq],
            )
        )
        prev = new_hash
    _as_superuser_without_guards(("UPDATE audit_chain_head SET hash = %s", [prev]))

    message = _verify_fails()

    assert _first_bad(message) == last_checkpoint
    assert "the chain was rewritten" in message
    assert f"the change lies in seq {first_checkpoint + 1}..{last_checkpoint}" in message
    assert "content hash mismatch" not in message


def test_f_truncated_tail_is_caught_by_the_checkpoint(sites):
    keep = sites[3]
    kept = AuditEvent.objects.get(seq=keep)
    _as_superuser_without_guards(
        ("DELETE FROM audit_event WHERE seq > %s", [keep]),
        ("UPDATE audit_chain_head SET seq = %s, hash = %s", [keep, kept.hash]),
    )

    message = _verify_fails()

    assert _first_bad(message) == keep + 1
    assert "tail truncated" in message
    assert ChainHead.objects.get(pk=1).seq == keep


def test_a_deleted_database_checkpoint_is_noticed_through_the_external_log(sites):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_checkpoint DISABLE TRIGGER audit_guard_row")
        cursor.execute("DELETE FROM audit_checkpoint WHERE seq = %s", [sites[5]])

    message = _verify_fails()

    assert (
        f"checkpoint at seq {sites[5]} in the external log is missing from the database" in message
    )


def test_a_checkpoint_signed_with_another_key_is_rejected(sites, settings, tmp_path):
    settings.MES_AUDIT_SIGNING_KEY_FILE = tmp_path / "attacker.pem"  # a new key is generated
    checkpoint_create(actor=None, force=True)
    settings.MES_AUDIT_TRUSTED_PUBLIC_KEYS = []
    settings.MES_AUDIT_SIGNING_KEY_FILE = tmp_path / "keys" / "audit-ed25519.pem"

    message = _verify_fails()

    assert "is signed by an untrusted or unknown key" in message
