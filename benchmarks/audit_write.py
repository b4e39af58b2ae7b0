"""Throughput of audited writes on PostgreSQL.

    DATABASE_URL=postgres://... python benchmarks/audit_write.py [--seconds 5] [--writers 1,4,16]

Needs a migrated database (the audit functions must be installed) and a superuser connection
(it creates two scratch tables). Each writer is a process with its own connection that commits
single-row INSERT transactions for a fixed time, exactly as Django sends them (the audit context
`set_config` and the INSERT in one autocommit message). The same load runs against two
identical tables, one with the audit capture trigger (plus the seal at commit) and one without;
the table prints transactions per second and the ratio plain / audited.

The events the run writes stay in the trail (it is append-only); use a scratch database.
"""

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TABLE_DDL = """
CREATE TABLE IF NOT EXISTS {name} (
    id bigserial PRIMARY KEY,
    code varchar(40) NOT NULL,
    quantity numeric(14, 3) NOT NULL,
    status varchar(20) NOT NULL DEFAULT 'open',
    note text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
CONTEXT = json.dumps(
    {
        "user_id": None,
        "user_name": "system:benchmark",
        "roles": ["system"],
        "reason": "audit write benchmark",
        "request_id": "bench",
        "app_version": "bench",
        "on_behalf_of": "",
    },
    sort_keys=True,
    separators=(",", ":"),
)


def _dsn() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to a PostgreSQL database (migrated, superuser connection)")
    return url


def setup(dsn: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT to_regprocedure('audit_capture()') IS NOT NULL")
        if not cur.fetchone()[0]:
            sys.exit("the audit functions are missing: run `manage.py migrate` on this database")
        for name in ("bench_plain", "bench_audited"):
            cur.execute(f"DROP TABLE IF EXISTS {name}")
            cur.execute(TABLE_DDL.format(name=name))
        cur.execute(
            "CREATE TRIGGER audit_capture AFTER INSERT OR DELETE OR UPDATE ON bench_audited "
            "FOR EACH ROW EXECUTE FUNCTION audit_capture('id', 'false', '')"
        )
        cur.execute("ALTER TABLE bench_audited ENABLE ALWAYS TRIGGER audit_capture")
    conn.close()


def teardown(dsn: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_plain, bench_audited")
    conn.close()


def writer(
    dsn: str, table: str, seconds: float, start: "mp.synchronize.Barrier", out: "mp.Queue"
) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    sql = (
        "SELECT set_config('mes.ctx', %s, true); "
        f"INSERT INTO {table} (code, quantity, note) VALUES (%s, %s, %s)"
    )
    count = 0
    with conn.cursor() as cur:
        cur.execute(sql, [CONTEXT, "warm-up", 1, ""])
        start.wait()
        t0 = time.perf_counter()
        deadline = t0 + seconds
        while time.perf_counter() < deadline:
            cur.execute(sql, [CONTEXT, f"LOT-{os.getpid()}-{count}", count % 1000 + 0.5, "bench"])
            count += 1
        elapsed = time.perf_counter() - t0
    conn.close()
    out.put((count, elapsed))


def run(dsn: str, table: str, writers: int, seconds: float) -> float:
    start = mp.Barrier(writers)
    out: mp.Queue = mp.Queue()
    procs = [
        mp.Process(target=writer, args=(dsn, table, seconds, start, out)) for _ in range(writers)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    total = sum(count for count, _ in results)
    elapsed = max(e for _, e in results)
    return total / elapsed


def last_event_id(dsn: str) -> int:
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM audit_event")
        row = cur.fetchone()
    conn.close()
    return int(row[0])


def seal_and_check(dsn: str, after_id: int) -> tuple[int, int, int, int]:
    """Seal what busy commits left (as the sealer task does), then count this run's events:
    (events, min seq, max seq, left unsealed before the final seal)."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit_event WHERE id > %s AND seq IS NULL", [after_id])
        unsealed = cur.fetchone()[0]
        cur.execute("SELECT audit_seal_events(true)")
        cur.execute(
            "SELECT count(*), min(seq), max(seq) FROM audit_event WHERE id > %s", [after_id]
        )
        count, first, last = cur.fetchone()
    conn.close()
    return count, first, last, unsealed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating plain/audited runs per level (median)"
    )
    parser.add_argument("--writers", default="1,4,16")
    parser.add_argument("--keep", action="store_true", help="keep the scratch tables")
    args = parser.parse_args()
    dsn = _dsn()
    setup(dsn)
    start_id = last_event_id(dsn)
    levels = [int(w) for w in args.writers.split(",")]
    load_before = os.getloadavg()[0]
    rows = []
    for n in levels:
        plain, audited = [], []
        for _ in range(args.rounds):  # alternate, so drifting machine load hits both alike
            plain.append(run(dsn, "bench_plain", n, args.seconds))
            audited.append(run(dsn, "bench_audited", n, args.seconds))
        rows.append((n, statistics.median(plain), statistics.median(audited)))
    count, first, last, unsealed = seal_and_check(dsn, start_id)
    if not args.keep:
        teardown(dsn)
    print(
        f"single-row INSERT transactions per second (median of {args.rounds} alternating runs of "
        f"{args.seconds:g} s), {os.cpu_count()} CPUs, load average {load_before:.1f} -> "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(f"{'writers':>8} {'plain tx/s':>12} {'audited tx/s':>14} {'ratio':>7}")
    for n, plain, audited in rows:
        print(f"{n:>8} {plain:>12.0f} {audited:>14.0f} {plain / audited:>7.2f}")
    print(
        f"audit events written: {count}, seq {first}..{last} "
        f"({'gapless' if count and last - first + 1 == count else 'NOT gapless'}); "
        f"{unsealed} were left to the sealer by commits that found the chain head busy"
    )


if __name__ == "__main__":
    main()
