"""Discrete manufacturing on PostgreSQL: 50 operator terminals through the real HTTP API, and the
variance report over 1,000,000 time records.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mes_bench python benchmarks/discrete.py \
        [--terminals 50] [--units 8] [--rate 150] [--paced-seconds 20] \
        [--worker-class sync] [--workers 4] [--threads 1] [--records 1000000] [--skip-variance]

Use a scratch database (created if missing, migrated by the script): everything the run writes
stays in the audit trail, which is append-only.

1. Terminals. The script builds, through the services, a serialized item with an approved BOM
   (one bulk component consumed at the first operation) and a 5-operation routing, and for each
   terminal an operator (Operator role, granted the line, an API token), a released component
   lot and a released work order. It starts gunicorn (sync workers by default, `--workers` x
   `--threads`, DEBUG=0) on the same database. One client thread per terminal, writing each
   request to a plain socket (the client shares the machine with the server: it must cost
   little; its CPU per completion is printed). Each terminal takes its units one after the
   other through every operation: at the first it scans the component lot into the unit
   (`POST units/{id}/scan/`), then completes the operation (`POST units/{id}/complete/`); every
   request is one service call in one transaction, audited by the database triggers.
   Two runs, on different units of the same orders:
   (a) saturation: closed loop, zero think time, `--units` units per terminal. With zero think
       time latency = terminals / throughput (Little's law), so its latency says little;
       its completions/s is the capacity.
   (b) paced: the terminals together offer `--rate` completions/s (each `rate/terminals` per
       second on a fixed, staggered schedule) for `--paced-seconds`. Latency is counted from
       when a completion was due (after a scan: from the scan's answer), so a server that falls
       behind shows it in the latency rather than by quietly sending less.
   Printed for each: completions/s (completions / wall time, scans included in the time),
   completion latency p50/p95/p99, scan p95, all requests/s, errors, CPU ms per completion of
   the gunicorn processes, of the PostgreSQL backends of the benchmark database and of the
   client (from /proc: unlike wall time it does not depend on what else the machine runs),
   the load average. The goal verdict: (b) achieves >= 98 % of the offered 150/s with p95 <
   150 ms, (a) >= 150/s, no errors.
2. Variance. `--records` labor and machine records (half each, 50 per operation) on closed work
   orders of the last 12 months are bulk-loaded with INSERT ... SELECT (through the audit
   capture trigger, like any write), then `workorders.selectors.variance_report` is timed
   grouped by item, work center and period (median of 3 runs).
"""

import argparse
import http.client
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
GOAL_RATE, GOAL_P95_MS, GOAL_VARIANCE_S = 150.0, 150.0, 1.0


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to a scratch PostgreSQL database (superuser connection)")
    return url


def _ensure_database(url: str) -> None:
    import psycopg2
    from psycopg2 import sql

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = urlunparse(parts._replace(path="/postgres"))
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")
    conn.close()


def _env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="mes.settings.base",
        DEBUG="0",
        SECRET_KEY=env.get("SECRET_KEY") or secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        DB_CONN_MAX_AGE="600",
    )
    env.pop("REDIS_URL", None)
    return env


# --- setup (through the services) -----------------------------------------------------------


def _setup(tag: str, terminals: int, units: int) -> list[dict[str, Any]]:
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone
    from guardian.shortcuts import assign_perm

    from equipment.models import Area
    from equipment.tests.factories import AreaFactory, WorkCenterFactory
    from genealogy import services as genealogy
    from mes.accounts import services as accounts
    from mes.accounts.tests.factories import UserFactory
    from mes.audit.context import system_context
    from mes.esign.services import signer_for_system_command
    from workorders import services

    with system_context("benchmark", reason="discrete benchmark setup"):
        admin = UserFactory(username=f"bench-admin-{tag}", is_superuser=True, is_staff=True)
        qa = UserFactory(username=f"bench-qa-{tag}", roles=["QA Reviewer"])
        area = AreaFactory(code=f"B{tag}"[:20], kind=Area.Kind.DISCRETE, name="Bench line")
        centers = [
            WorkCenterFactory(area=area, code=f"B{tag}-{n}"[:30], name=f"Bench center {n}")
            for n in range(1, 6)
        ]
        for center in centers:
            services.work_center_rate_set(
                actor=admin, work_center=center, labor_rate="40", machine_rate="60"
            )
        item = genealogy.material_create(
            actor=admin,
            code=f"BK-{tag}",
            name="Bench kit",
            uom="ea",
            kind="finished",
            is_serialized=True,
        )
        resin = genealogy.material_create(
            actor=admin, code=f"BR-{tag}", name="Bench resin", uom="kg", kind="intermediate"
        )
        start = timezone.localdate() - timedelta(days=1)
        bom = services.bom_create(
            actor=admin,
            item=item,
            effective_from=start,
            lines=[{"component": resin, "quantity_per": "2", "operation_seq": 10}],
        )
        routing = services.routing_create(
            actor=admin,
            item=item,
            effective_from=start,
            operations=[
                {
                    "seq": 10 * n,
                    "name": f"Step {n}",
                    "work_center": centers[n - 1],
                    "setup_minutes": "5",
                    "run_minutes_per_unit": "0.5",
                    "time_basis": "both",
                    "crew_size": 1,
                }
                for n in range(1, 6)
            ],
        )
        services.bom_approve(actor=qa, bom=bom, signer=signer_for_system_command(user=qa))
        services.routing_approve(
            actor=qa, routing=routing, signer=signer_for_system_command(user=qa)
        )
        plan = []
        for t in range(terminals):
            operator = UserFactory(username=f"bench-op-{tag}-{t:02d}", roles=["Operator"])
            assign_perm("equipment.operate_in_area", operator, area)
            _token, key = accounts.api_token_create(actor=admin, user=operator, name="terminal")
            lot = genealogy.lot_receive(
                actor=admin,
                material=resin,
                lot_number=f"BR-{tag}-{t:02d}",
                quantity=Decimal(1000),
                supplier="Bench",
                supplier_lot_number=f"S-{tag}-{t:02d}",
            )
            genealogy.lot_set_status(actor=admin, lot=lot, status="released", reason="bench")
            wo = services.work_order_create(
                actor=admin,
                item=item,
                quantity=units,
                due_date=start + timedelta(days=3),
                serial_pattern=f"BK{tag}-{t:02d}-{{seq:05d}}",
            )
            wo = services.work_order_release(actor=admin, work_order=wo)
            plan.append(
                {
                    "key": key,
                    "lot": lot.lot_number,
                    "units": list(wo.units.order_by("serial_number").values_list("pk", flat=True)),
                    "ops": 5,
                }
            )
    return plan


# --- the HTTP run ---------------------------------------------------------------------------


def _start_server(
    env: dict[str, str], port: int, workers: int, threads: int, worker_class: str
) -> Any:
    server = subprocess.Popen(
        [
            str(Path(PYTHON).with_name("gunicorn")),
            "mes.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            worker_class,
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--backlog",
            "512",
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status < 500:
                conn.close()
                return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    sys.exit("gunicorn did not come up")


class _Terminal:
    """One operator terminal: its token, its lot, its units. The client shares the 2 cores
    with the server, so it must cost little: each request is written to a plain socket as
    prepared bytes and the answer read to the end (`Connection: close`, which is what sync
    workers do anyway; stdlib http.client cost about 0.5 ms of CPU per completion)."""

    def __init__(self, port: int, job: dict[str, Any]) -> None:
        self.port, self.job = port, job
        self.head = (
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Token {job['key']}\r\nAccept: application/json\r\n"
            "Content-Type: application/json\r\nContent-Length: {length}\r\n"
            "Connection: close\r\n\r\n"
        )

    def post(self, path: str, body: bytes = b"") -> tuple[int, bytes]:
        request = self.head.format(path=path, length=len(body)).encode() + body
        for attempt in (1, 2):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
                    sock.sendall(request)
                    chunks = []
                    while chunk := sock.recv(65536):
                        chunks.append(chunk)
                answer = b"".join(chunks)
                head, _, content = answer.partition(b"\r\n\r\n")
                return int(head[9:12]), content
            except (OSError, ValueError):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def steps(self, units: list[int]) -> list[tuple[int, bool]]:
        """(unit, scan first?) per completion: the component is scanned at the first op."""
        return [(unit, index == 0) for unit in units for index in range(self.job["ops"])]


def _closed_loop(term: _Terminal, units: list[int], barrier: threading.Barrier, out: dict) -> None:
    """Zero think time: the next request leaves when the previous answer arrives."""
    barrier.wait()
    for unit, scan in term.steps(units):
        if scan:
            t0 = time.perf_counter()
            status, body = term.post(
                f"/api/v1/workorders/units/{unit}/scan/",
                f'{{"code": "{term.job["lot"]}"}}'.encode(),
            )
            out["scan"].append(time.perf_counter() - t0)
            if status != 200:
                out["errors"].append(f"scan {status} {body[:200]!r}")
        t0 = time.perf_counter()
        status, body = term.post(f"/api/v1/workorders/units/{unit}/complete/")
        out["complete"].append(time.perf_counter() - t0)
        if status != 200:
            out["errors"].append(f"complete {status} {body[:200]!r}")
    out["done"].append(time.perf_counter())


def _paced(
    term: _Terminal,
    units: list[int],
    barrier: threading.Barrier,
    out: dict,
    *,
    interval: float,
    phase: float,
) -> None:
    """A fixed schedule: completion k is due at start + phase + k * interval. Its latency is
    counted from when it was due (or, after a scan, from when the scan answered), so a
    server that falls behind shows it in the latency instead of hiding it by sending less."""
    barrier.wait()
    start = out["start"][0]
    for k, (unit, scan) in enumerate(term.steps(units)):
        due = start + phase + k * interval
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        if scan:
            t0 = time.perf_counter()
            status, body = term.post(
                f"/api/v1/workorders/units/{unit}/scan/",
                f'{{"code": "{term.job["lot"]}"}}'.encode(),
            )
            out["scan"].append(time.perf_counter() - t0)
            if status != 200:
                out["errors"].append(f"scan {status} {body[:200]!r}")
            due = max(due, time.perf_counter())
        status, body = term.post(f"/api/v1/workorders/units/{unit}/complete/")
        out["complete"].append(time.perf_counter() - due)
        if status != 200:
            out["errors"].append(f"complete {status} {body[:200]!r}")
    out["done"].append(time.perf_counter())


def _cpu_by_process(server_pid: int, database: str) -> dict[str, dict[int, float]]:
    """CPU seconds used so far by the gunicorn processes, by the PostgreSQL backends of the
    benchmark's database and by this client process (Linux /proc): a figure that, unlike
    wall time, does not depend on what else the shared machine is doing."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[str, dict[int, float]] = {"server": {}, "postgres": {}, "client": {}}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick
        pid, pgid = int(entry.name), int(fields[2])
        if pgid == server_pid:
            found["server"][pid] = cpu
        elif cmdline.startswith("postgres: ") and f" {database} " in cmdline:
            found["postgres"][pid] = cpu
        elif pid == os.getpid():
            found["client"][pid] = cpu
    return found


def _cpu_used(before: dict, after: dict) -> dict[str, float]:
    return {
        kind: sum(cpu - before[kind].get(pid, 0.0) for pid, cpu in after[kind].items())
        for kind in after
    }


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else math.nan


def _run(
    port: int, plan: list[dict[str, Any]], key: str, server: Any, **pacing: float
) -> dict[str, Any]:
    out: dict[str, list] = {"scan": [], "complete": [], "errors": [], "done": [], "start": []}
    terminals = [_Terminal(port, job) for job in plan]
    # Warm-up, not measured: every terminal takes one unit of its own through all operations
    # (scan + 5 completions), so that each gunicorn thread has opened its database connection
    # and each PostgreSQL backend has planned the audit triggers before the clock starts.
    warm: dict[str, list] = {"scan": [], "complete": [], "errors": [], "done": []}
    barrier = threading.Barrier(len(plan) + 1)
    threads = [
        threading.Thread(
            target=_closed_loop, args=(term, [term.job[f"warm_{key}"]], barrier, warm), daemon=True
        )
        for term in terminals
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    for thread in threads:
        thread.join()
    if warm["errors"]:
        print(f"  warm-up: {len(warm['errors'])} errors, first: {warm['errors'][0]}")
    database = urlparse(_database_url()).path.lstrip("/")
    cpu_before = _cpu_by_process(server.pid, database)
    barrier = threading.Barrier(len(plan) + 1)
    threads = []
    for index, term in enumerate(terminals):
        if pacing:
            interval = pacing["interval"]
            kwargs = {"interval": interval, "phase": interval * index / len(terminals)}
            target, args = _paced, (term, term.job[key], barrier, out)
        else:
            kwargs, target, args = {}, _closed_loop, (term, term.job[key], barrier, out)
        threads.append(threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True))
    for thread in threads:
        thread.start()
    load_before = os.getloadavg()[0]
    out["start"].append(time.perf_counter() + 0.2)
    barrier.wait()
    for thread in threads:
        thread.join()
    started = out["start"][0]
    wall = max(out["done"] or [time.perf_counter()]) - started
    cpu = _cpu_used(cpu_before, _cpu_by_process(server.pid, database))
    lat = out["complete"]
    return {
        "wall": wall,
        "completions": len(lat),
        "rate": len(lat) / wall,
        "requests_rate": (len(lat) + len(out["scan"])) / wall,
        "p50": _pct(lat, 0.50),
        "p95": _pct(lat, 0.95),
        "p99": _pct(lat, 0.99),
        "scan_p95": _pct(out["scan"], 0.95),
        "errors": out["errors"],
        "load": (load_before, os.getloadavg()[0]),
        "cpu_ms": {kind: 1000 * used / max(len(lat), 1) for kind, used in cpu.items()},
    }


def _rows(name: str, result: dict[str, Any], *, goal_rate: str) -> list[tuple[str, str, str]]:
    if result["errors"]:
        print(f"  {name}: {len(result['errors'])} errors, first: {result['errors'][0]}")
    return [
        (f"{name}: completions/s", f"{result['rate']:.1f}", goal_rate),
        (f"{name}: completion latency p50 (ms)", f"{result['p50']:.0f}", ""),
        (f"{name}: completion latency p95 (ms)", f"{result['p95']:.0f}", f"< {GOAL_P95_MS:.0f}"),
        (f"{name}: completion latency p99 (ms)", f"{result['p99']:.0f}", ""),
        (f"{name}: component scan latency p95 (ms)", f"{result['scan_p95']:.0f}", ""),
        (f"{name}: all requests/s (scans + completions)", f"{result['requests_rate']:.1f}", ""),
        (
            f"{name}: completions / errors",
            f"{result['completions']} / {len(result['errors'])}",
            "0 errors",
        ),
        (
            f"{name}: CPU ms per completion: server / postgres / client",
            " / ".join(f"{result['cpu_ms'][k]:.1f}" for k in ("server", "postgres", "client")),
            "",
        ),
        (
            f"{name}: load average 1 min before / after",
            f"{result['load'][0]:.1f} / {result['load'][1]:.1f}",
            "",
        ),
    ]


# --- variance over 1,000,000 time records ---------------------------------------------------

LOAD_SQL = """
WITH wo AS (
    INSERT INTO workorders_workorder
        (number, item_id, quantity, due_date, area_id, bom_id, routing_id, status, source,
         external_ref, serial_pattern, serial_issue, created_by_id, created_at, released_at,
         closed_at, closed_by_id)
    SELECT %(tag)s || '-' || lpad(g::text, 6, '0'), %(item)s, 100, current_date, %(area)s,
           %(bom)s, %(routing)s, 'closed', 'planner', '', '', 'release', %(user)s,
           now() - (g %% 365) * interval '1 day', now() - (g %% 365) * interval '1 day',
           now() - (g %% 365) * interval '1 day' + interval '8 hours', %(user)s
    FROM generate_series(%(lo)s, %(hi)s) g
    RETURNING id
), op AS (
    INSERT INTO workorders_workorderoperation
        (work_order_id, seq, name, work_center_id, routing_operation_id, is_first, is_last,
         setup_minutes, run_minutes_per_unit, time_basis, crew_size, labor_rate, machine_rate,
         qty_received, qty_good, qty_scrap, qty_rework, qty_rework_returned,
         std_labor_hours, std_machine_hours)
    SELECT wo.id, r.seq, r.name, r.work_center_id, r.id, r.seq = 10, r.seq = 50,
           r.setup_minutes, r.run_minutes_per_unit, r.time_basis, r.crew_size, 40, 60,
           100, 98, 2, 0, 0, (r.setup_minutes + r.run_minutes_per_unit * 100) / 60,
           (r.setup_minutes + r.run_minutes_per_unit * 100) / 60
    FROM wo CROSS JOIN workorders_routingoperation r WHERE r.routing_id = %(routing)s
    RETURNING id, work_order_id
), lab AS (
    INSERT INTO workorders_laborrecord (operation_id, started_at, ended_at, seconds, operator_id)
    SELECT op.id, now() - interval '1 day', now() - interval '1 day' + interval '1 minute' * k,
           60 * k + (op.id %% 17), %(user)s
    FROM op CROSS JOIN generate_series(1, %(per_op)s) k
    RETURNING 1
)
INSERT INTO workorders_machinerecord (operation_id, started_at, ended_at, seconds, started_by_id)
SELECT op.id, now() - interval '1 day', now() - interval '1 day' + interval '1 minute' * k,
       55 * k + (op.id %% 13), %(user)s
FROM op CROSS JOIN generate_series(1, %(per_op)s) k
"""


def _load_records(tag: str, records: int) -> float:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from mes.audit.context import audit_context
    from workorders.models import WorkOrder

    sample = WorkOrder.objects.filter(number__startswith="WO-").order_by("-id").first()
    user = get_user_model().objects.get(username=f"bench-admin-{tag}")
    per_op = 50
    orders = records // (2 * per_op * 5)
    chunk = 400  # work orders (= 200,000 time records) per transaction
    started = time.perf_counter()
    for lo in range(1, orders + 1, chunk):
        with (
            audit_context(user=user, reason="discrete benchmark: bulk load of closed orders"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(
                LOAD_SQL,
                {
                    "tag": f"VB{tag}",
                    "item": sample.item_id,
                    "area": sample.area_id,
                    "bom": sample.bom_id,
                    "routing": sample.routing_id,
                    "user": user.pk,
                    "lo": lo,
                    "hi": min(orders, lo + chunk - 1),
                    "per_op": per_op,
                },
            )
        print(f"  loaded {min(orders, lo + chunk - 1) * 5 * per_op * 2:,} time records", flush=True)
    with connection.cursor() as cur:
        cur.execute("ANALYZE workorders_laborrecord")
        cur.execute("ANALYZE workorders_machinerecord")
        cur.execute("ANALYZE workorders_workorderoperation")
        cur.execute("ANALYZE workorders_workorder")
    return time.perf_counter() - started


def _time_variance() -> dict[str, tuple[float, int]]:
    from workorders.models import LaborRecord, MachineRecord
    from workorders.selectors import variance_report

    total = LaborRecord.objects.count() + MachineRecord.objects.count()
    print(f"  {total:,} time records in the database")
    timings = {}
    for group in ("item", "work_center", "period"):
        runs, rows = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            rows = variance_report(group_by=group)
            runs.append(time.perf_counter() - t0)
        timings[group] = (statistics.median(runs), len(rows))
    return timings


def analyze() -> None:
    """What autovacuum does in production (it is off on this machine): dead row versions of
    earlier runs cleared (each sealed audit event leaves one) and fresh planner statistics."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=50)
    parser.add_argument("--units", type=int, default=8, help="units per terminal, saturation")
    parser.add_argument("--rate", type=float, default=GOAL_RATE, help="paced: offered total/s")
    parser.add_argument("--paced-seconds", type=float, default=20.0)
    # sync workers, as in docker-compose.yml (see benchmarks/ebr.py for why not gthread)
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="gthread only")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-saturation", action="store_true")
    parser.add_argument("--skip-paced", action="store_true")
    parser.add_argument("--skip-variance", action="store_true")
    args = parser.parse_args()

    url = _database_url()
    _ensure_database(url)
    env = _env(url)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    os.environ.update(env)
    import django

    django.setup()
    tag = f"{int(time.time()) % 1_000_000:06d}"
    interval = args.terminals / args.rate  # seconds between completions of one terminal
    paced_units = 0 if args.skip_paced else math.ceil(args.paced_seconds / interval / 5)
    sat_units = 0 if args.skip_saturation else args.units
    rows: list[tuple[str, str, str]] = []
    if not args.skip_http:
        print(
            f"setup {tag}: {args.terminals} terminals x ({sat_units} + {paced_units} + 2 "
            "warm-up) units x 5 operations ..."
        )
        t0 = time.perf_counter()
        plan = _setup(tag, args.terminals, sat_units + paced_units + 2)
        analyze()
        for job in plan:
            units = job["units"]
            job["warm_saturation"], job["warm_paced"] = units[0], units[1]
            job["saturation"], job["paced"] = units[2 : 2 + sat_units], units[2 + sat_units :]
        print(f"  setup took {time.perf_counter() - t0:.1f} s")
        from django.db import connections

        connections.close_all()
        server = _start_server(env, args.port, args.workers, args.threads, args.worker_class)
        try:
            if sat_units:
                print("(a) saturation: closed loop, zero think time ...")
                sat = _run(args.port, plan, "saturation", server)
                rows += _rows(
                    f"(a) saturation, {args.terminals} terminals closed loop",
                    sat,
                    goal_rate=f">= {GOAL_RATE:.0f}",
                )
            if paced_units:
                print(
                    f"(b) paced: {args.rate:.0f}/s offered ({1 / interval:.2f}/s per terminal) ..."
                )
                paced = _run(args.port, plan, "paced", server, interval=interval)
                rows += _rows(
                    f"(b) paced, {args.rate:.0f}/s offered",
                    paced,
                    goal_rate=f">= {0.98 * args.rate:.0f} (offered {args.rate:.0f})",
                )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        rows.append(
            (
                "server",
                f"{args.worker_class} {args.workers}x{args.threads}",
                "gunicorn workers x threads",
            )
        )
        if sat_units and paced_units:
            met = (
                sat["rate"] >= GOAL_RATE
                and paced["rate"] >= 0.98 * args.rate
                and paced["p95"] < GOAL_P95_MS
                and not sat["errors"]
                and not paced["errors"]
            )
            rows.append(
                (
                    "goal (paced achieves >= 98 % of 150/s with p95 < 150 ms, "
                    "saturation >= 150/s, no errors)",
                    "MET" if met else "MISSED",
                    "",
                )
            )
    if not args.skip_variance:
        print(f"bulk-loading {args.records:,} time records ...")
        if args.skip_http:
            _setup(tag, 1, 1)  # the item, BOM and routing the loaded orders refer to
        load = _load_records(tag, args.records)
        rows.append(("bulk load of the time records (s)", f"{load:.1f}", ""))
        for group, (seconds, count) in _time_variance().items():
            rows.append((f"variance report by {group} ({count} rows) (s)", f"{seconds:.3f}", "< 1"))
    width = max(len(r[0]) for r in rows) + 2
    print()
    print(f"{'measure'.ljust(width)}{'value':>14}  goal")
    print("-" * (width + 24))
    for name, value, goal in rows:
        print(f"{name.ljust(width)}{value:>14}  {goal}")


if __name__ == "__main__":
    main()
