"""Writes of the audit app itself: signed checkpoints of the chain head.

The trail's events are written by the database (mes/audit/pg.py); the application never
writes them. A checkpoint states "at database time T the chain head was (seq, hash)", signed
with Ed25519 by a key kept outside the database (mes/audit/keys.py), and is kept twice: in
`audit_checkpoint` and as one JSON line appended to `settings.MES_AUDIT_CHECKPOINT_LOG` (put that
file on append-only / WORM storage, or ship it to a log service). A full rewrite of the chain by
a database superuser, or a truncated tail, no longer matches the signed heads.
"""

import base64
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mes.audit import keys
from mes.audit.models import ChainHead, Checkpoint

logger = logging.getLogger(__name__)


def checkpoint_message(seq: int, chain_hash: str, signed_at: str) -> bytes:
    """The exact bytes a checkpoint signs."""
    return f"mes-audit-checkpoint/v1|{seq}|{chain_hash}|{signed_at}".encode()


def isoformat_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _read_head() -> tuple[int, str, datetime]:
    """The committed chain head and the database's clock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT seq, hash, clock_timestamp() FROM audit_chain_head WHERE id = 1")
            row = cursor.fetchone()
        return int(row[0]), str(row[1]), row[2]
    head = ChainHead.objects.get(pk=1)
    return head.seq, head.hash, timezone.now()


def _append_to_log(line: dict[str, Any]) -> None:
    path = Path(settings.MES_AUDIT_CHECKPOINT_LOG)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:  # O_APPEND
        handle.write(json.dumps(line, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def seal_pending_events() -> int:
    """Chain every committed event still unsealed (PostgreSQL; at commit a writer only seals
    when the chain head is free, see mes/audit/pg.py). Waits for the head. Returns how many
    events it sealed. SQLite seals at once: always 0 there."""
    if connection.vendor != "postgresql":
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT audit_seal_events(true)")
        return int(cursor.fetchone()[0])


@transaction.atomic
def checkpoint_create(*, actor: Any = None, force: bool = False) -> Checkpoint:
    """Sign the current chain head and store the checkpoint in the database and the external
    log. Without `force`, an unchanged head is not signed again (the last checkpoint is
    returned). `actor` is whoever asked (a user or None for the scheduled task); it is logged."""
    seal_pending_events()
    seq, head_hash, db_now = _read_head()
    last = Checkpoint.objects.order_by("-seq", "-id").first()
    if last is not None and not force and last.seq == seq and last.hash == head_hash:
        return last

    key = keys.signing_key()
    public = keys.public_key_text(key.public_key())
    signed_at = isoformat_utc(db_now)
    signature = base64.b64encode(key.sign(checkpoint_message(seq, head_hash, signed_at))).decode()

    if connection.vendor == "postgresql":
        # The application role may not write audit tables; this SECURITY DEFINER function
        # checks the checkpoint against the chain and appends it.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT audit_checkpoint_append(%s, %s, %s, %s, %s)",
                [seq, head_hash, db_now, signature, public],
            )
            checkpoint_id = cursor.fetchone()[0]
        checkpoint = Checkpoint.objects.get(pk=checkpoint_id)
    else:
        checkpoint = Checkpoint.objects.create(
            seq=seq, hash=head_hash, signed_at=db_now, signature=signature, public_key=public
        )
    _append_to_log(
        {
            "id": checkpoint.pk,
            "seq": seq,
            "hash": head_hash,
            "signed_at": signed_at,
            "signature": signature,
            "public_key": public,
        }
    )
    logger.info(
        "audit: checkpoint seq=%s signed (requested by %s)", seq, actor or "system schedule"
    )
    return checkpoint
