"""The PostgreSQL side of the audit trail: functions and triggers, installed idempotently.

Capture. `audit_capture()` (AFTER INSERT OR UPDATE OR DELETE, FOR EACH ROW, SECURITY DEFINER)
reads `current_setting('mes.ctx')` (set per transaction by mes/audit/db.py), refuses a change
that names no user, stores the whole row for INSERT/DELETE and only the changed keys (old and
new) for UPDATE, skips no-op updates, refuses UPDATE/DELETE without a reason on tables
declared `require_reason`, and appends one `audit_event` row stamped with `clock_timestamp()`
and the transaction id. Arguments: pk column, require_reason, masked columns (comma list).

Sealing. `audit_seal_events()` locks the single `audit_chain_head` row, and for every event
the transaction can see unsealed (its own, and those of transactions that have committed) in
(txid, id) order assigns the gapless `seq`, links `prev_hash` and computes
`hash = sha256(prev_hash || payload)` (mes/audit/payload.py). It looks only at events of
transactions from the head's `low_txid` on (the oldest transaction still running when the last
seal began), through a partial index: without it, every seal re-read the dead row versions the
sealing updates leave behind until VACUUM, and slowed down as the trail grew. It runs
- at commit, from `audit_seal()`, a DEFERRABLE INITIALLY DEFERRED constraint trigger on
  audit_event, which does NOT wait for the head: it uses `FOR UPDATE SKIP LOCKED`. A row lock
  is held until the holder's commit record is flushed, so waiting (the first design) made every
  audited commit wait for the previous one's WAL flush: no group commit, up to 10x slower than
  plain inserts at 16 writers (mes/audit/README.md). When the head is free (always, at low
  rates) a transaction seals its own events at its commit; when another transaction is sealing,
  the next committing transaction, or the sealer task (`audit.seal_pending`, every minute),
  seals them. Properties kept: the seq is gapless (a rolled-back sealer returns its seqs), every
  committed event is chained; `verify_audit_trail` reports events left unsealed longer than
  MES_AUDIT_SEAL_GRACE_SECONDS;
- as `audit_seal_events(true)`, waiting for the head, from the sealer task and before every
  checkpoint (`seal_pending_events()` in mes/audit/services.py).

Guards (all ENABLE ALWAYS, so `session_replication_role = replica` does not skip them):
audit_event refuses UPDATE (except the sealing update made by audit_seal_events(), which fills
a NULL seq once and changes nothing else), DELETE, TRUNCATE and any INSERT that does not come
from the capture trigger; audit_chain_head accepts only the seal's forward move; audit_checkpoint
is insert-only (through `audit_checkpoint_append()`). GMP tables: append-only ones refuse
UPDATE/DELETE, `deletable=False` ones refuse DELETE, all refuse TRUNCATE.

A superuser can still `ALTER TABLE .. DISABLE TRIGGER`: that is what the hash chain, the signed
checkpoints kept outside the database and `verify_audit_trail` are for.
"""

import hashlib
import re
from typing import Any

from mes.audit.install import TablePlan
from mes.audit.payload import payload_tail_sql

AUDIT_TABLES = ("audit_event", "audit_chain_head", "audit_checkpoint")
OUR_FUNCTIONS = (
    "audit_capture",
    "audit_seal",
    "audit_guard",
    "audit_event_guard",
    "audit_head_guard",
)

_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION audit_mask(j jsonb, cols text[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = {schema}, pg_temp AS $fn$
DECLARE
  c text;
BEGIN
  IF j IS NULL OR cols IS NULL THEN
    RETURN j;
  END IF;
  FOREACH c IN ARRAY cols LOOP
    IF j ? c AND jsonb_typeof(j -> c) <> 'null' THEN
      j := jsonb_set(j, ARRAY[c],
        to_jsonb('sha256:' || encode(sha256(convert_to(j ->> c, 'UTF8')), 'hex')));
    END IF;
  END LOOP;
  RETURN j;
END
$fn$;

CREATE OR REPLACE FUNCTION audit_capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $fn$
DECLARE
  raw text := current_setting('mes.ctx', true);
  ctx jsonb;
  who text;
  o jsonb;
  n jsonb;
  old_j jsonb;
  new_j jsonb;
  pk text;
  masked text[];
BEGIN
  IF raw IS NOT NULL AND raw <> '' THEN
    ctx := raw::jsonb;
    who := ctx ->> 'user_name';
  END IF;
  IF who IS NULL OR who = '' THEN
    RAISE EXCEPTION 'audit: no attributable user for % on % (write GMP records inside an audit context: a request, acting_as() or system_context())', TG_OP, TG_TABLE_NAME
      USING ERRCODE = 'P0001', HINT = 'mes.ctx is not set for this transaction';
  END IF;

  IF TG_OP = 'INSERT' THEN
    new_j := to_jsonb(NEW);
    pk := new_j ->> TG_ARGV[0];
  ELSIF TG_OP = 'DELETE' THEN
    old_j := to_jsonb(OLD);
    pk := old_j ->> TG_ARGV[0];
  ELSE
    o := to_jsonb(OLD);
    n := to_jsonb(NEW);
    IF o = n THEN
      RETURN NULL;  -- a no-op update changes nothing and records nothing
    END IF;
    SELECT jsonb_object_agg(e.key, e.value) INTO new_j
      FROM jsonb_each(n) AS e WHERE (o -> e.key) IS DISTINCT FROM e.value;
    IF new_j IS NULL THEN
      RETURN NULL;
    END IF;
    SELECT jsonb_object_agg(e.key, e.value) INTO old_j
      FROM jsonb_each(o) AS e WHERE new_j ? e.key;
    pk := n ->> TG_ARGV[0];
  END IF;

  IF TG_ARGV[1] = 'true' AND TG_OP <> 'INSERT' AND coalesce(ctx ->> 'reason', '') = '' THEN
    RAISE EXCEPTION 'audit: a reason is required to % a row of % (give a change reason)', lower(TG_OP), TG_TABLE_NAME
      USING ERRCODE = 'P0001';
  END IF;

  IF TG_ARGV[2] <> '' THEN
    masked := string_to_array(TG_ARGV[2], ',');
    old_j := audit_mask(old_j, masked);
    new_j := audit_mask(new_j, masked);
  END IF;

  INSERT INTO audit_event (
    occurred_at, table_name, record_pk, action, old_values, new_values, user_id, user_name,
    roles, reason, request_id, app_version, on_behalf_of, txid, seq, prev_hash, hash)
  VALUES (
    clock_timestamp(), TG_TABLE_NAME, coalesce(pk, ''), TG_OP, old_j, new_j,
    (ctx ->> 'user_id')::bigint, left(who, 150), coalesce(ctx -> 'roles', '[]'::jsonb),
    coalesce(ctx ->> 'reason', ''), left(coalesce(ctx ->> 'request_id', ''), 64),
    left(coalesce(ctx ->> 'app_version', ''), 40), left(coalesce(ctx ->> 'on_behalf_of', ''), 150),
    txid_current(), NULL, '', '');
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION audit_seal_events(wait boolean) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp
SET mes.audit_sealing = 'on' SET enable_bitmapscan = off AS $fn$
DECLARE
  batch constant integer := 10000;
  head_seq bigint;
  head_hash text;
  low bigint;
  horizon bigint;
  ev record;
  new_hash text;
  sealed integer := 0;
BEGIN
  IF wait THEN
    SELECT seq, hash, low_txid INTO head_seq, head_hash, low
      FROM audit_chain_head WHERE id = 1 FOR UPDATE;
  ELSE
    SELECT seq, hash, low_txid INTO head_seq, head_hash, low
      FROM audit_chain_head WHERE id = 1 FOR UPDATE SKIP LOCKED;
  END IF;
  IF NOT FOUND THEN
    IF wait OR NOT EXISTS (SELECT 1 FROM audit_chain_head WHERE id = 1) THEN
      RAISE EXCEPTION 'audit: the chain head (audit_chain_head id=1) is missing';
    END IF;
    RETURN 0;  -- another transaction is sealing; it, the next one or the sealer task seals ours
  END IF;
  -- Transactions below the horizon had finished before the scan below starts: each of their
  -- committed events is visible to it, so afterwards none below the horizon is unsealed.
  horizon := txid_snapshot_xmin(txid_current_snapshot());
  -- Every event this transaction can see unsealed: its own and those of committed ones, from
  -- the head's low-water mark on (an index range scan: the work does not grow with the trail).
  FOR ev IN
    SELECT e.id, {payload_tail} AS tail FROM audit_event e
    WHERE e.seq IS NULL AND e.txid >= low ORDER BY e.txid, e.id LIMIT batch
  LOOP
    head_seq := head_seq + 1;
    new_hash := encode(sha256(convert_to(
      head_hash || '[' || head_seq::text || ', ' || substr(ev.tail, 2), 'UTF8')), 'hex');
    UPDATE audit_event SET seq = head_seq, prev_hash = head_hash, hash = new_hash
      WHERE id = ev.id;
    head_hash := new_hash;
    sealed := sealed + 1;
  END LOOP;
  IF sealed > 0 THEN
    UPDATE audit_chain_head
      SET seq = head_seq, hash = head_hash,
          low_txid = CASE WHEN sealed < batch THEN greatest(low, horizon) ELSE low END
      WHERE id = 1;
  END IF;
  RETURN sealed;
END
$fn$;

CREATE OR REPLACE FUNCTION audit_seal() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $fn$
BEGIN
  -- At commit. Never waits for the head: the head's row lock lives until the holder's commit
  -- is flushed, so waiting would serialise every commit behind one WAL flush. A REPEATABLE
  -- READ / SERIALIZABLE writer leaves sealing to others (FOR UPDATE on a head that moved after
  -- its snapshot would fail its commit).
  -- One firing per event, but one seal takes every pending event: a firing whose event an
  -- earlier firing already sealed stops at this primary-key probe (so a large transaction
  -- costs linear, not quadratic, time at commit).
  IF EXISTS (SELECT 1 FROM audit_event WHERE id = NEW.id AND seq IS NOT NULL) THEN
    RETURN NULL;
  END IF;
  IF current_setting('transaction_isolation') = 'read committed' THEN
    PERFORM audit_seal_events(false);
  END IF;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION audit_event_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = {schema}, pg_temp AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF pg_trigger_depth() < 2 THEN
      RAISE EXCEPTION 'audit tables are append-only: audit events are written only by the audit_capture() trigger';
    END IF;
    IF NEW.seq IS NOT NULL OR NEW.prev_hash <> '' OR NEW.hash <> '' THEN
      RAISE EXCEPTION 'audit tables are append-only: an event is sealed only by audit_seal_events()';
    END IF;
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' AND current_setting('mes.audit_sealing', true) = 'on'
     AND OLD.seq IS NULL AND NEW.seq IS NOT NULL AND OLD.prev_hash = '' AND OLD.hash = ''
     AND (NEW.id, NEW.occurred_at, NEW.table_name, NEW.record_pk, NEW.action, NEW.old_values,
          NEW.new_values, NEW.user_id, NEW.user_name, NEW.roles, NEW.reason, NEW.request_id,
          NEW.app_version, NEW.on_behalf_of, NEW.txid)
         IS NOT DISTINCT FROM
         (OLD.id, OLD.occurred_at, OLD.table_name, OLD.record_pk, OLD.action, OLD.old_values,
          OLD.new_values, OLD.user_id, OLD.user_name, OLD.roles, OLD.reason, OLD.request_id,
          OLD.app_version, OLD.on_behalf_of, OLD.txid) THEN
    RETURN NEW;  -- the seal: fills seq, prev_hash and hash once
  END IF;
  RAISE EXCEPTION 'audit tables are append-only: % refused on %', TG_OP, TG_TABLE_NAME;
END
$fn$;

CREATE OR REPLACE FUNCTION audit_head_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = {schema}, pg_temp AS $fn$
BEGIN
  IF TG_OP = 'UPDATE' AND current_setting('mes.audit_sealing', true) = 'on'
     AND NEW.id = OLD.id AND NEW.seq > OLD.seq AND NEW.low_txid >= OLD.low_txid THEN
    RETURN NEW;  -- the seal moves the head forward
  END IF;
  RAISE EXCEPTION 'audit tables are append-only: % refused on %', TG_OP, TG_TABLE_NAME;
END
$fn$;

CREATE OR REPLACE FUNCTION audit_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = {schema}, pg_temp AS $fn$
BEGIN
  IF TG_ARGV[0] = 'audit' THEN
    RAISE EXCEPTION 'audit tables are append-only: % refused on %', TG_OP, TG_TABLE_NAME;
  ELSIF TG_OP = 'TRUNCATE' THEN
    RAISE EXCEPTION 'audit: TRUNCATE refused on %: it holds GMP records', TG_TABLE_NAME;
  ELSIF TG_ARGV[0] = 'append_only' THEN
    RAISE EXCEPTION 'audit: % refused on %: GMP records of this table are append-only', TG_OP, TG_TABLE_NAME;
  ELSE
    RAISE EXCEPTION 'audit: DELETE refused on %: GMP records of this table are never deleted (deactivate or void them)', TG_TABLE_NAME;
  END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION audit_checkpoint_append(
  p_seq bigint, p_hash text, p_signed_at timestamptz, p_signature text, p_public_key text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $fn$
DECLARE
  new_id bigint;
BEGIN
  IF p_seq > 0 AND NOT EXISTS (SELECT 1 FROM audit_event WHERE seq = p_seq AND hash = p_hash) THEN
    RAISE EXCEPTION 'audit: checkpoint (seq %, hash %) does not match the chain', p_seq, p_hash;
  END IF;
  INSERT INTO audit_checkpoint (seq, hash, signed_at, signature, public_key)
    VALUES (p_seq, p_hash, p_signed_at, p_signature, p_public_key) RETURNING id INTO new_id;
  RETURN new_id;
END
$fn$;

REVOKE ALL ON FUNCTION audit_checkpoint_append(bigint, text, timestamptz, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_seal_events(boolean) FROM PUBLIC;
"""

_SIMPLE_IDENT = re.compile(r"^[a-z_][a-z0-9_$]*$")


def _ident(name: str) -> str:
    """Quote like PostgreSQL's quote_ident (enough for comparing pg_get_triggerdef)."""
    return name if _SIMPLE_IDENT.match(name) else '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def functions_sql(schema: str) -> str:
    return _FUNCTIONS.replace("{schema}", _ident(schema)).replace(
        "{payload_tail}", payload_tail_sql("e")
    )


def _version(sql: str) -> str:
    return "mes-audit " + hashlib.sha256(sql.encode()).hexdigest()[:16]


def desired_triggers(schema: str, plans: list[TablePlan]) -> dict[tuple[str, str], str]:
    """(table, trigger name) -> definition, in pg_get_triggerdef's form."""
    wanted: dict[tuple[str, str], str] = {}

    def add(table: str, name: str, timing_events: str, level: str, call: str) -> None:
        on = f"{_ident(schema)}.{_ident(table)}"
        wanted[(table, name)] = (
            f"CREATE TRIGGER {name} {timing_events} ON {on} FOR EACH {level} EXECUTE FUNCTION {call}"
        )

    for p in plans:
        if p.capture:
            args = ", ".join(
                _literal(a)
                for a in (p.pk_column, "true" if p.require_reason else "false", ",".join(p.masked))
            )
            add(
                p.table,
                "audit_capture",
                "AFTER INSERT OR DELETE OR UPDATE",
                "ROW",
                f"audit_capture({args})",
            )
        if p.append_only:
            add(
                p.table,
                "audit_guard_row",
                "BEFORE DELETE OR UPDATE",
                "ROW",
                "audit_guard('append_only')",
            )
        elif not p.deletable:
            add(p.table, "audit_guard_row", "BEFORE DELETE", "ROW", "audit_guard('no_delete')")
        if p.refuses_truncate:
            add(
                p.table,
                "audit_guard_truncate",
                "BEFORE TRUNCATE",
                "STATEMENT",
                "audit_guard('truncate')",
            )

    add(
        "audit_event",
        "audit_event_guard",
        "BEFORE INSERT OR DELETE OR UPDATE",
        "ROW",
        "audit_event_guard()",
    )
    add(
        "audit_chain_head",
        "audit_head_guard",
        "BEFORE DELETE OR UPDATE",
        "ROW",
        "audit_head_guard()",
    )
    add(
        "audit_checkpoint",
        "audit_guard_row",
        "BEFORE DELETE OR UPDATE",
        "ROW",
        "audit_guard('audit')",
    )
    for table in AUDIT_TABLES:
        add(table, "audit_guard_truncate", "BEFORE TRUNCATE", "STATEMENT", "audit_guard('audit')")
    return wanted


def _seal_trigger_sql(schema: str) -> str:
    return (
        f"CREATE CONSTRAINT TRIGGER audit_seal AFTER INSERT ON {_ident(schema)}.audit_event "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_seal()"
    )


def existing_triggers(cursor: Any) -> dict[tuple[str, str], tuple[str, str]]:
    """(table, trigger name) -> (definition, tgenabled) for triggers calling our functions."""
    cursor.execute(
        """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE n.nspname = current_schema() AND NOT t.tgisinternal AND p.proname = ANY(%s)
        """,
        [list(OUR_FUNCTIONS)],
    )
    return {(table, name): (definition, enabled) for table, name, definition, enabled in cursor}


def install(connection: Any, plans: list[TablePlan]) -> list[str]:
    """Create or refresh every function and trigger; returns the DDL statements it ran (none
    when everything is already in place)."""
    from django.db import transaction

    ran: list[str] = []
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:

        def run(sql: str) -> None:
            cursor.execute(sql)
            ran.append(sql)

        cursor.execute("SELECT current_schema()")
        schema = cursor.fetchone()[0]
        functions = functions_sql(schema)
        version = _version(functions)
        cursor.execute("SELECT obj_description(to_regprocedure('audit_capture()'), 'pg_proc')")
        if cursor.fetchone()[0] != version:
            run(functions)
            run(f"COMMENT ON FUNCTION audit_capture() IS {_literal(version)}")

        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
        )
        tables = {row[0] for row in cursor.fetchall()}
        wanted = {
            key: sql for key, sql in desired_triggers(schema, plans).items() if key[0] in tables
        }
        have = existing_triggers(cursor)

        for table, name in have:
            if (table, name) not in wanted and name != "audit_seal":
                run(f"DROP TRIGGER {_ident(name)} ON {_ident(schema)}.{_ident(table)}")
        for (table, name), sql in wanted.items():
            current = have.get((table, name))
            if current is None or current[0] != sql:
                run(sql.replace("CREATE TRIGGER", "CREATE OR REPLACE TRIGGER", 1))
                current = None
            if current is None or current[1] != "A":
                run(
                    f"ALTER TABLE {_ident(schema)}.{_ident(table)} ENABLE ALWAYS TRIGGER {_ident(name)}"
                )

        if "audit_event" in tables:
            seal = _seal_trigger_sql(schema)
            current = have.get(("audit_event", "audit_seal"))
            if current is not None and current[0] != seal:
                run(f"DROP TRIGGER audit_seal ON {_ident(schema)}.audit_event")
                current = None
            if current is None:
                run(seal)
            if current is None or current[1] != "A":
                run(f"ALTER TABLE {_ident(schema)}.audit_event ENABLE ALWAYS TRIGGER audit_seal")
    return ran
