"""Signed checkpoints of the chain head: Ed25519, key outside the database, stored in the
database and in the external append-only log (P11-E-06)."""

import base64
import json
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.core.management.base import CommandError

from mes.audit.exceptions import SigningKeyMissing
from mes.audit.models import ChainHead, Checkpoint
from mes.audit.services import checkpoint_create, checkpoint_message
from mes.audit.tasks import checkpoint_audit_trail
from mes.audit.testing import seal_pending
from mes.audit.tests.factories import GroupFactory

pytestmark = pytest.mark.django_db


def _log_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_checkpoint_signs_the_head_and_is_stored_twice(checkpoint_files):
    GroupFactory(name="Before the checkpoint")
    seal_pending()
    head = ChainHead.objects.get(pk=1)

    checkpoint = checkpoint_create(actor=None)

    assert (checkpoint.seq, checkpoint.hash) == (head.seq, head.hash)
    [line] = _log_lines(checkpoint_files / "audit-checkpoints.jsonl")
    assert line["seq"] == head.seq
    assert line["hash"] == head.hash
    assert line["signature"] == checkpoint.signature
    assert line["public_key"] == checkpoint.public_key
    key_file = checkpoint_files / "keys" / "audit-ed25519.pem"
    private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    message = checkpoint_message(head.seq, head.hash, line["signed_at"])
    private.public_key().verify(base64.b64decode(checkpoint.signature), message)  # no exception
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_an_unchanged_head_is_not_signed_again_unless_forced(checkpoint_files):
    first = checkpoint_create(actor=None)
    again = checkpoint_create(actor=None)
    forced = checkpoint_create(actor=None, force=True)

    assert again.pk == first.pk
    assert forced.pk != first.pk
    assert forced.seq == first.seq
    assert len(_log_lines(checkpoint_files / "audit-checkpoints.jsonl")) == 2


def test_a_new_event_moves_the_next_checkpoint_forward(checkpoint_files):
    first = checkpoint_create(actor=None)
    GroupFactory(name="After the first checkpoint")
    seal_pending()

    second = checkpoint_create(actor=None)

    assert second.seq == first.seq + 1
    assert second.hash == ChainHead.objects.get(pk=1).hash


def test_production_never_generates_a_key_silently(checkpoint_files, settings):
    settings.MES_AUDIT_GENERATE_KEY = False

    with pytest.raises(SigningKeyMissing) as exc:
        checkpoint_create(actor=None)

    assert "No audit checkpoint signing key" in exc.value.detail
    assert Checkpoint.objects.count() == 0
    assert not (checkpoint_files / "audit-checkpoints.jsonl").exists()


def test_the_command_and_the_task_sign_checkpoints(checkpoint_files, capsys):
    call_command("checkpoint_audit_trail", "--force")
    seq = checkpoint_audit_trail.delay().get()

    out = capsys.readouterr().out
    assert out.startswith(f"checkpoint seq={ChainHead.objects.get(pk=1).seq} hash=")
    assert seq == ChainHead.objects.get(pk=1).seq
    assert Checkpoint.objects.count() == 1  # the task found the head unchanged


def test_the_command_generates_a_key_once(checkpoint_files, settings, capsys):
    settings.MES_AUDIT_GENERATE_KEY = False
    call_command("checkpoint_audit_trail", "--generate-key")
    with pytest.raises(CommandError) as exc:
        call_command("checkpoint_audit_trail", "--generate-key")

    assert "public key: " in capsys.readouterr().out
    assert "a signing key is never overwritten" in str(exc.value)
    assert checkpoint_create(actor=None).seq == ChainHead.objects.get(pk=1).seq
