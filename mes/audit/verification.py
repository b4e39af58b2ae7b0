"""Verification of the audit trail: `verify_trail()` recomputes everything outside the database.

It streams every sealed event in `seq` order and checks, in Python (hashlib):
- the sequence is gapless from 1 (a deleted event shows as a missing seq);
- each `prev_hash` links to the previous event's hash (seq 1 links to the genesis hash);
- each `hash` is sha256(prev_hash || payload), the payload fetched with the same expression
  the sealing trigger used (mes/audit/payload.py), so any edited, forged or reordered event fails;
- no committed event is left unsealed (longer than MES_AUDIT_SEAL_GRACE_SECONDS, default 300:
  under load a commit leaves its events to the next sealer, see mes/audit/pg.py);
- the chain head agrees with the last event;
- every signed checkpoint, from the database table and from the external log: the signature is
  valid for a trusted key, the event at its seq still carries the signed hash (a superuser who
  edits and re-chains the whole tail is caught here), and the chain is not shorter than a signed
  head (a truncated tail);
- then every verifier other apps registered (`register_verifier`), e.g. the e-signatures'
  record hashes.

`python manage.py verify_audit_trail` prints the result and exits non-zero naming the first bad
event; other code (the self-audit) calls `verify_trail()` and reads the result object.
"""

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from mes.audit import keys
from mes.audit.models import AuditEvent
from mes.audit.payload import GENESIS_HASH, chain_hash, payload_sql, sqlite_payload
from mes.audit.services import checkpoint_message, isoformat_utc

logger = logging.getLogger(__name__)

MAX_PROBLEMS = 1000


@dataclass(frozen=True)
class Problem:
    message: str
    seq: int | None = None
    event_id: int | None = None
    table: str = ""
    record_pk: str = ""

    def __str__(self) -> str:
        where = []
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        elif self.event_id is not None:
            where.append(f"event id {self.event_id}")
        if self.table:
            where.append(f"table {self.table} record {self.record_pk or '?'}")
        return (", ".join(where) + ": " if where else "") + self.message


@dataclass
class VerifierReport:
    """What a registered verifier returns (a plain list of problem strings is accepted too)."""

    checked: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class VerificationResult:
    events_checked: int = 0
    checkpoints_verified: int = 0
    signatures_checked: int = 0
    head_seq: int | None = None
    pending_seal: int = 0
    problems: list[Problem] = field(default_factory=list)
    # False when a time budget stopped the chain walk early (verify_trail(time_budget_seconds=)):
    # events up to head_seq were checked, the tail and the head row were not.
    complete: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        if not self.problems:
            return None
        return min(self.problems, key=lambda p: (p.seq is None, p.seq or 0))

    def summary(self) -> str:
        if self.ok and not self.complete:
            return (
                f"audit trail intact as far as checked: the first {self.events_checked} events "
                f"(seq 1..{self.head_seq}) verified within the time budget, "
                f"{self.checkpoints_verified} checkpoints verified; the rest was not reached"
            )
        if self.ok:
            pending = (
                f" ({self.pending_seal} new events awaiting their seal)"
                if self.pending_seal
                else ""
            )
            return (
                f"audit trail intact: {self.events_checked} events checked, "
                f"{self.checkpoints_verified} checkpoints verified, "
                f"{self.signatures_checked} signatures valid{pending}"
            )
        return (
            f"audit trail BROKEN: first bad event: {self.first_problem} "
            f"({len(self.problems)} problem(s); {self.events_checked} events checked)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "complete": self.complete,
            "events_checked": self.events_checked,
            "checkpoints_verified": self.checkpoints_verified,
            "signatures_checked": self.signatures_checked,
            "head_seq": self.head_seq,
            "pending_seal": self.pending_seal,
            "first_problem": str(self.first_problem) if self.first_problem else None,
            "problems": [
                {
                    "seq": p.seq,
                    "event_id": p.event_id,
                    "table": p.table,
                    "record_pk": p.record_pk,
                    "message": p.message,
                }
                for p in self.problems
            ],
        }


# --- verifiers other apps contribute (e.g. mes.esign: every signature's record hash) ---------

Verifier = Callable[[], "VerifierReport | Iterable[Any]"]
_verifiers: dict[str, Verifier] = {}


def register_verifier(fn: Verifier, *, name: str | None = None) -> Verifier:
    """Register `fn()` to run with every verification. It returns a `VerifierReport` (checked
    count and problems) or just a list of problems (strings). Usable as a decorator."""
    _verifiers[name or f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def unregister_verifier(name: str) -> None:
    _verifiers.pop(name, None)


def registered_verifiers() -> dict[str, Verifier]:
    return dict(_verifiers)


# --- checkpoints ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Signed:
    seq: int
    hash: str
    signed_at: str
    signature: str
    public_key: str


def _db_checkpoints(using: str) -> list[_Signed]:
    from mes.audit.models import Checkpoint

    return [
        _Signed(c.seq, c.hash, isoformat_utc(c.signed_at), c.signature, c.public_key)
        for c in Checkpoint.objects.using(using).order_by("seq", "id")
    ]


def _log_checkpoints(problems: list[Problem]) -> list[_Signed]:
    path = Path(settings.MES_AUDIT_CHECKPOINT_LOG)
    if not path.exists():
        return []
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            found.append(
                _Signed(
                    int(data["seq"]),
                    str(data["hash"]),
                    str(data["signed_at"]),
                    str(data["signature"]),
                    str(data["public_key"]),
                )
            )
        except (ValueError, KeyError, TypeError):
            problems.append(Problem(f"checkpoint log {path} line {number} is not a checkpoint"))
    return found


# --- the chain ------------------------------------------------------------------------------

_SQLITE_COLUMNS = (
    "seq, id, table_name, record_pk, prev_hash, hash, action, old_values, new_values, user_id, "
    "user_name, roles, reason, request_id, app_version, on_behalf_of, occurred_at, txid"
)


def _stream_events(connection: Any) -> Iterable[tuple[int, int, str, str, str, str, str]]:
    """(seq, id, table, record_pk, prev_hash, hash, payload) of every sealed event by seq."""
    cursor = connection.chunked_cursor()
    try:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT e.seq, e.id, e.table_name, e.record_pk, e.prev_hash, e.hash, "
                f"{payload_sql('e')} FROM audit_event e WHERE e.seq IS NOT NULL ORDER BY e.seq"
            )
            while rows := cursor.fetchmany(2000):
                yield from rows
        else:
            cursor.execute(
                f"SELECT {_SQLITE_COLUMNS} FROM audit_event WHERE seq IS NOT NULL ORDER BY seq"
            )
            while rows := cursor.fetchmany(2000):
                for r in rows:
                    occurred = r[16].isoformat() if isinstance(r[16], datetime) else r[16]
                    payload = sqlite_payload(r[0], r[1], r[2], r[3], *r[6:16], occurred, r[17])
                    yield (r[0], r[1], r[2], r[3], r[4], r[5], payload)
    finally:
        cursor.close()


def _database_now(connection: Any) -> datetime:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT clock_timestamp()")
            return cursor.fetchone()[0]
    return timezone.now()


def _own_txid(connection: Any) -> int | None:
    """The id of the transaction running the verification, when it has written anything."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_current_if_assigned()")
        return cursor.fetchone()[0]


def _verify_chain(
    connection: Any, result: VerificationResult, wanted: set[int], deadline: float | None = None
) -> dict[int, str]:
    """Check the chain; returns the stored hash at each seq in `wanted` (checkpoint seqs).
    With a `deadline` (time.monotonic()), stops there and marks the result incomplete."""
    problems = result.problems
    hashes_at: dict[int, str] = {}
    expected, last_hash = 1, GENESIS_HASH
    for seq, event_id, table, record_pk, prev_hash, stored, payload in _stream_events(connection):
        result.events_checked += 1
        where = {"event_id": event_id, "table": table, "record_pk": record_pk}
        if seq != expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
            problems.append(
                Problem(
                    f"event(s) seq {missing} missing: the sequence jumps to {seq}", seq=expected
                )
            )
        if prev_hash != last_hash:
            problems.append(
                Problem("prev_hash does not link to the previous event", seq=seq, **where)
            )
        if chain_hash(prev_hash, payload) != stored:
            problems.append(
                Problem("content hash mismatch: the event was altered or forged", seq=seq, **where)
            )
        if seq in wanted:
            hashes_at[seq] = stored
        expected, last_hash = seq + 1, stored
        if len(problems) >= MAX_PROBLEMS:
            problems.append(Problem(f"stopped after {MAX_PROBLEMS} problems"))
            break
        if (
            deadline is not None
            and result.events_checked % 500 == 0
            and time.monotonic() > deadline
        ):
            result.complete = False
            break
    result.head_seq = expected - 1
    if not result.complete:
        return hashes_at  # the tail, the unsealed events and the head row were not reached

    grace = timedelta(seconds=getattr(settings, "MES_AUDIT_SEAL_GRACE_SECONDS", 300))
    now = _database_now(connection)
    own_txid = _own_txid(connection)
    unsealed = AuditEvent.objects.using(connection.alias).filter(seq__isnull=True).order_by("id")
    for event in unsealed.only("id", "table_name", "record_pk", "occurred_at", "txid"):
        if event.occurred_at > now - grace or (own_txid is not None and event.txid == own_txid):
            # a busy commit left it to the next sealer, or it is the verifying transaction's
            # own write (not committed yet: it is sealed at that commit)
            result.pending_seal += 1
            continue
        problems.append(
            Problem(
                f"committed event left unsealed for more than {grace.total_seconds():g} s "
                "(written with the seal disabled, or the sealer task is not running)",
                event_id=event.id,
                table=event.table_name,
                record_pk=event.record_pk,
            )
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, hash FROM audit_chain_head WHERE id = 1")
        head = cursor.fetchone()
    last_seq = expected - 1
    if head is None:
        problems.append(Problem("the chain head row is missing"))
    elif head[0] > last_seq:
        problems.append(
            Problem(
                f"the chain head says seq {head[0]} but the events end at seq {last_seq}: "
                "the tail was removed",
                seq=last_seq + 1,
            )
        )
    elif head[0] < last_seq:
        problems.append(
            Problem(f"events exist beyond the chain head (seq {head[0]})", seq=head[0] + 1)
        )
    elif head[1] != last_hash:
        problems.append(Problem("the chain head's hash differs from the last event", seq=last_seq))
    return hashes_at


def _verify_checkpoints(
    result: VerificationResult,
    in_db: list[_Signed],
    in_log: list[_Signed],
    hashes_at: dict[int, str],
) -> None:
    problems = result.problems
    trusted = keys.trusted_public_keys()
    last_seq = result.head_seq or 0
    db_set, log_set = set(in_db), set(in_log)
    for cp in sorted(db_set - log_set, key=lambda c: c.seq):
        problems.append(
            Problem(f"checkpoint at seq {cp.seq} in the database is not in the external log")
        )
    for cp in sorted(log_set - db_set, key=lambda c: c.seq):
        problems.append(
            Problem(f"checkpoint at seq {cp.seq} in the external log is missing from the database")
        )
    matched_below = 0
    for cp in sorted(db_set | log_set, key=lambda c: (c.seq, c.signed_at)):
        key = trusted.get(cp.public_key)
        if key is None:
            problems.append(
                Problem(f"checkpoint at seq {cp.seq} is signed by an untrusted or unknown key")
            )
            continue
        message = checkpoint_message(cp.seq, cp.hash, cp.signed_at)
        if not keys.signature_is_valid(key, cp.signature, message):
            problems.append(Problem(f"checkpoint at seq {cp.seq} has an invalid signature"))
            continue
        if cp.seq > last_seq and not result.complete:
            continue  # beyond what the time budget let us walk: not judged
        if cp.seq > last_seq:
            problems.append(
                Problem(
                    f"events seq {last_seq + 1}..{cp.seq} are missing: a checkpoint signed at "
                    f"{cp.signed_at} covers seq {cp.seq}, the chain ends at {last_seq} "
                    "(tail truncated)",
                    seq=last_seq + 1,
                )
            )
            continue
        if cp.seq > 0 and hashes_at.get(cp.seq) != cp.hash:
            problems.append(
                Problem(
                    f"the chain was rewritten: the event at seq {cp.seq} no longer has the hash "
                    f"signed at {cp.signed_at}; the change lies in seq "
                    f"{matched_below + 1}..{cp.seq} (after the last matching checkpoint)",
                    seq=cp.seq,
                )
            )
            continue
        matched_below = max(matched_below, cp.seq)
        result.checkpoints_verified += 1


def _run_verifiers(result: VerificationResult) -> None:
    for name, fn in _verifiers.items():
        try:
            report = fn()
        except Exception as exc:  # a broken verifier is itself a finding
            logger.exception("audit: verifier %s failed", name)
            result.problems.append(Problem(f"verifier {name} failed: {exc}"))
            continue
        if isinstance(report, VerifierReport):
            result.signatures_checked += report.checked
            found = report.problems
        elif hasattr(report, "problems"):
            result.signatures_checked += int(getattr(report, "checked", 0))
            found = list(report.problems)
        else:
            found = list(report)
        result.problems.extend(Problem(f"{name}: {p}") for p in found)


def verify_trail(
    *,
    using: str = "default",
    run_verifiers: bool = True,
    time_budget_seconds: float | None = None,
) -> VerificationResult:
    """Recompute and check the whole trail (see the module docstring). Read-only.
    `time_budget_seconds` bounds the chain walk on a big trail (the self-audit): the result
    then says how far it got (`complete`, `head_seq`)."""
    deadline = time.monotonic() + time_budget_seconds if time_budget_seconds else None
    connection = connections[using]
    result = VerificationResult()
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql" and connection.savepoint_ids == []:
            # outermost transaction: one consistent snapshot for events, head and checkpoints
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        in_db = _db_checkpoints(using)
        in_log = _log_checkpoints(result.problems)
        wanted = {cp.seq for cp in (*in_db, *in_log)}
        hashes_at = _verify_chain(connection, result, wanted, deadline)
        _verify_checkpoints(result, in_db, in_log, hashes_at)
    if run_verifiers:
        _run_verifiers(result)
    return result
