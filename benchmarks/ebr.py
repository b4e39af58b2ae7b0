"""The EBR of a long batch, and the batch API under 20 concurrent terminals.

    .venv/bin/python benchmarks/ebr.py --part pdf          # 300 phases, fresh SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mes_bench_ebr .venv/bin/python benchmarks/ebr.py

Part `pdf`: builds (through the services) an approved recipe of N phases (30 operations of
N/30 phases, five parameters each: 1,500 values for 300 phases; the temperature out of limits
and corrected every 50th phase),
a batch of it with every phase executed and signed "performed", then prints the seconds and
database queries of: the JSON export, the PDF (pages counted), and the canonical content hash.
Goal: 300 phases render in well under 3 s (one small table per phase, never one giant table).

Part `throughput` (PostgreSQL only; the database name must contain "bench": it is dropped and
re-created): 20 operators, each with an API token, a started batch in a unit of their own and
the production password hasher (Argon2id, settings.base); a gunicorn server (sync workers by
default, --workers x --threads, persistent database connections) is started on that database
with DEBUG=0, then 20 terminal threads (http.client, one connection each, kept alive by gthread
and re-opened per request by sync workers: the client must cost little of the 2 cores it shares
with the server) go through the REAL HTTP API:
  1. every terminal starts its phase 1 (warm-up, not timed);
  (a) saturation: every terminal records --values numeric values into phase 1 in a closed
     loop (the next as soon as the previous is answered; with no think time Little's law
     makes mean latency = terminals / throughput, so read (a) for capacity, not latency);
  2. phase 1 is completed (signed), phase 2 started;
  (b) paced: the 20 terminals together offer --rate entries/s (each rate/20 per second on a
     fixed schedule, spread evenly) for --paced-seconds; latency counts from each request's
     scheduled moment (a late start is waiting too), the achieved rate is reported;
  3. every terminal starts + completes --completions phases without parameters, each
     completion signed with user ID and password (POST .../complete/): signed phase
     completions per second and latency; the hasher's cost of one verification is measured
     on its own.
For each part the CPU time used by the gunicorn workers, the PostgreSQL backends and the
client is printed per request: unlike wall time, it is not stretched when other programs hold
the cores, so it tells what 2 free cores would sustain.
Goal: parameter entries >= 200/s with p95 < 150 ms, judged on (b) (achieved >= 98 % of the
offered rate, p95 < 150 ms) together with (a) >= 200/s. Prints a table.
"""

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def _reset_postgres(url: str) -> None:
    """Drop and re-create the scratch database (its name must contain "bench")."""
    import psycopg2

    name = urlparse(url).path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"refusing to reset {name!r}: use a scratch database whose name contains 'bench'")
    admin = urlparse(url)._replace(path="/postgres").geturl()
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def analyze() -> None:
    """Fresh planner statistics for the tables the setup filled."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["all", "pdf", "throughput"], default="all")
    parser.add_argument("--phases", type=int, default=300)
    parser.add_argument("--terminals", type=int, default=20)
    parser.add_argument(
        "--values", type=int, default=40, help="entries per terminal, saturation run"
    )
    parser.add_argument("--rate", type=float, default=200, help="entries/s offered, paced run")
    parser.add_argument("--paced-seconds", type=float, default=8, help="length of the paced run")
    parser.add_argument("--completions", type=int, default=5, help="extra phases per terminal")
    # sync workers (one request at a time per process, as in docker-compose.yml): each request
    # is accepted by a free worker; gthread's kept-alive connections stick to the worker that
    # accepted them (uneven load), and its threads contend for the GIL (twice the CPU per entry)
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="gthread only")
    args = parser.parse_args()
    # the production settings (Argon2 hasher), whatever the shell exported (the test settings
    # hash with MD5)
    os.environ["DJANGO_SETTINGS_MODULE"] = "mes.settings.base"
    os.environ.setdefault("DEBUG", "1")
    if "DATABASE_URL" not in os.environ:
        path = Path(tempfile.gettempdir()) / "mes_bench_ebr.sqlite3"
        path.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    url = os.environ["DATABASE_URL"]
    if args.part == "throughput" and not _is_postgres(url):
        sys.exit("the throughput part needs DATABASE_URL=postgres://.../<name with 'bench'>")
    if _is_postgres(url):
        _reset_postgres(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.part in ("all", "pdf"):
        pdf_part(args)
    if args.part in ("all", "throughput") and _is_postgres(url):
        throughput_part(args, url)


def pdf_part(args: Any) -> None:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from batches import ebr, services
    from batches.tests.factories import batch_order, reactor
    from mes.accounts.tests.factories import UserFactory
    from mes.audit.context import system_context
    from mes.esign.services import signer_for_system_command
    from recipes.tests.factories import approved

    per_op = 10
    ops = max(1, args.phases // per_op)
    with system_context("benchmark"):
        author = UserFactory(username="bench.author", roles=["Recipe Author"])
        qa = UserFactory(username="bench.qa", roles=["QA Reviewer"])
        planner = UserFactory(username="bench.planner", roles=["Planner"])
        operator = UserFactory(username="bench.operator", roles=["Operator"])
        supervisor = UserFactory(username="bench.supervisor", roles=["Supervisor"])

        def phase(n: int, last: bool) -> dict:
            return {
                "name": f"Step {n}",
                "instructions": f"Do step {n} as per SOP.",
                "parameters": [
                    {
                        "name": "Temperature",
                        "unit": "°C",
                        "data_type": "number",
                        "low_limit": "20",
                        "high_limit": "30",
                    },
                    {
                        "name": "Pressure",
                        "unit": "bar",
                        "data_type": "number",
                        "low_limit": "1",
                        "high_limit": "2",
                    },
                    *[
                        {
                            "name": name,
                            "unit": unit,
                            "data_type": "number",
                            "low_limit": "0",
                            "high_limit": "100",
                        }
                        for name, unit in (("Speed", "rpm"), ("Level", "%"), ("pH", ""))
                    ],
                ],
                "outputs": [
                    {
                        "material": "RESIN-T",
                        "kind": "product",
                        "expected_quantity": "2450",
                        "yield_low_pct": "90",
                        "yield_high_pct": "105",
                    }
                ]
                if last
                else [],
            }

        tree = {
            "unit_procedures": [
                {
                    "name": "Long procedure",
                    "description": "",
                    "operations": [
                        {
                            "name": f"Operation {o + 1}",
                            "description": "",
                            "phases": [
                                phase(o * per_op + p + 1, o == ops - 1 and p == per_op - 1)
                                for p in range(per_op)
                            ],
                        }
                        for o in range(ops)
                    ],
                }
            ]
        }
        from recipes.tests.factories import draft_recipe

        started = time.perf_counter()
        version = approved(draft_recipe(author=author, tree=tree), author=author, reviewer=qa)
        batch = batch_order(planner=planner, version=version, batch_size="2500")
        unit = reactor(cleaned_by=operator, verified_by=supervisor)
        batch = services.batch_start(actor=operator, batch=batch, unit=unit)
        for ph in batch.phases.order_by("sequence"):
            ph = services.phase_start(actor=operator, phase=ph)
            t = services.parameter_value_record(
                actor=operator,
                phase=ph,
                name="Temperature",
                value="35" if ph.sequence % 50 == 0 else "25",
            )
            if ph.sequence % 50 == 0:
                services.parameter_value_correct(
                    actor=operator, value=t, new_value="26", reason="misread"
                )
            services.parameter_value_record(actor=operator, phase=ph, name="Pressure", value="1.5")
            for name in ("Speed", "Level", "pH"):
                services.parameter_value_record(actor=operator, phase=ph, name=name, value="7")
            services.phase_complete(
                actor=operator, phase=ph, signer=signer_for_system_command(user=operator)
            )
        built = time.perf_counter() - started

    batch.refresh_from_db()
    reset_queries()
    with CaptureQueriesContext(connection) as q_json:
        t0 = time.perf_counter()
        data = ebr.ebr_export(batch)
        t_json = time.perf_counter() - t0
    with CaptureQueriesContext(connection) as q_pdf:
        t0 = time.perf_counter()
        pdf = ebr.ebr_pdf(batch)
        t_pdf = time.perf_counter() - t0
    import re

    pages = int(re.search(rb"/Count (\d+)", pdf).group(1))
    print(f"database:          {connection.vendor}")
    values = sum(len(ph["values"]) for ph in data["record"]["phases"])
    print(f"phases:            {len(data['record']['phases'])}, {values} values")
    print(f"audit trail:       {len(data['events'])} events (in the PDF)")
    print(f"built in:          {built:.1f} s (recipe, batch, every phase executed and signed)")
    print(f"JSON export:       {t_json:.2f} s, {len(q_json.captured_queries)} queries")
    print(
        f"PDF:               {t_pdf:.2f} s, {len(q_pdf.captured_queries)} queries, "
        f"{pages} pages, {len(pdf) // 1024} KiB"
    )
    print(f"content hash:      {data['content_hash']}")


# --- throughput through the HTTP API ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _hasher_cost() -> tuple[str, float]:
    """The production hasher's cost of one verification (median of 7)."""
    from django.contrib.auth.hashers import check_password, get_hasher, make_password

    hasher = get_hasher()
    encoded = make_password("bench-password")
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        check_password("bench-password", encoded)
        times.append(time.perf_counter() - t0)
    params = ""
    if hasattr(hasher, "time_cost"):
        params = (
            f" (t={hasher.time_cost}, m={hasher.memory_cost // 1024} MiB, p={hasher.parallelism})"
        )
    return f"{hasher.algorithm}{params}", statistics.median(times)


def _paced_values(args: Any) -> int:
    return max(1, round(args.rate / args.terminals * args.paced_seconds))


def _throughput_setup(args: Any) -> list[dict[str, Any]]:
    """Recipe, people, units, started batches and API tokens, through the services.

    The recipe: phase 1 "Capture" (--values numeric parameters, the saturation run), phase 2
    "Paced capture" (the parameters the paced run needs: rate / terminals x seconds), then
    --completions phases without parameters (the signed completions)."""
    from guardian.shortcuts import assign_perm

    from batches import services
    from batches.tests.factories import batch_order, reactor
    from mes.accounts.services import api_token_create
    from mes.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
    from mes.audit.context import system_context
    from recipes.tests.factories import approved, draft_recipe

    def param(prefix: str, n: int) -> dict[str, Any]:
        return {
            "name": f"{prefix}{n:03d}",
            "unit": "°C",
            "data_type": "number",
            "low_limit": "20",
            "high_limit": "30",
            "is_required": False,
        }

    phases = [
        {
            "name": "Capture",
            "instructions": "Record every reading.",
            "parameters": [param("T", n) for n in range(args.values)],
        },
        {
            "name": "Paced capture",
            "instructions": "Record every reading.",
            "parameters": [param("P", n) for n in range(_paced_values(args))],
        },
    ]
    phases += [
        {"name": f"Step {n}", "instructions": "Do it and sign.", "parameters": []}
        for n in range(args.completions)
    ]
    phases[-1]["outputs"] = [
        {
            "material": "RESIN-T",
            "kind": "product",
            "expected_quantity": "2450",
            "yield_low_pct": "90",
            "yield_high_pct": "105",
        }
    ]
    tree = {
        "unit_procedures": [
            {
                "name": "Throughput",
                "description": "",
                "operations": [{"name": "Run", "description": "", "phases": phases}],
            }
        ]
    }
    terminals = []
    with system_context("benchmark"):
        author = UserFactory(username="tp.author", roles=["Recipe Author"])
        qa = UserFactory(username="tp.qa", roles=["QA Reviewer"])
        planner = UserFactory(username="tp.planner", roles=["Planner"])
        supervisor = UserFactory(username="tp.supervisor", roles=["Supervisor"])
        admin = UserFactory(username="tp.admin", roles=["Administrator"])
        version = approved(
            draft_recipe(author=author, code="BENCH-TP", tree=tree), author=author, reviewer=qa
        )
        for i in range(args.terminals):
            op = UserFactory(username=f"tp.op{i:02d}", roles=["Operator"])
            unit = reactor(cleaned_by=op, verified_by=supervisor)
            assign_perm("equipment.operate_in_area", op, unit.area)
            batch = batch_order(planner=planner, version=version, batch_size="2500")
            services.batch_start(actor=op, batch=batch, unit=unit)
            _, key = api_token_create(actor=admin, user=op, name=f"terminal {i}")
            terminals.append(
                {
                    "username": op.username,
                    "password": DEFAULT_PASSWORD,
                    "token": key,
                    "phases": list(batch.phases.order_by("sequence").values_list("pk", flat=True)),
                    "params": [p["name"] for p in phases[0]["parameters"]],
                    "paced": [p["name"] for p in phases[1]["parameters"]],
                }
            )
    return terminals


def _serve(args: Any, url: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "mes.settings.base",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        # persistent connections: one per server thread, kept across requests
        "DB_CONN_MAX_AGE": "600",
    }
    cmd = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "mes.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        args.worker_class,
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--keep-alive",
        "60",
        "--timeout",
        "300",
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)


class _Terminal:
    """One shop-floor terminal: one kept-alive HTTP/1.1 connection (http.client, so that the
    client costs little of the CPU it shares with the server). A connection the server closed
    while the terminal was idle is opened again."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def _request(self, method: str, path: str, body: str | None) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=self.headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        return self._request("POST", path, json.dumps(body or {}))

    def get(self, path: str) -> tuple[int, bytes]:
        return self._request("GET", path, None)

    def close(self) -> None:
        self.conn.close()


def _wait_ready(port: int, token: str, server: subprocess.Popen) -> None:
    deadline = time.time() + 90
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit("gunicorn exited; see its output above")
        try:
            client = _Terminal(port, token)
            status, _ = client.get("/api/v1/batches/orders/?limit=1")
            client.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit("gunicorn did not answer within 90 s")


def _cpu_of(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes have used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


class _CpuMeter:
    """CPU used by the gunicorn workers, by the PostgreSQL backends of the benchmark database
    and by this client process. CPU time, unlike wall time, is not stretched by waiting for a
    core that another program holds, so CPU per request tells what the same work costs on
    free cores even when the machine is shared."""

    def __init__(self, server_pid: int, url: str) -> None:
        import psycopg2

        self.server_pid = server_pid
        self.dbname = urlparse(url).path.lstrip("/")
        self.admin = psycopg2.connect(url)
        self.admin.autocommit = True

    def _workers(self) -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.server_pid:
                pids.append(int(entry))
        return pids

    def _backends(self) -> list[int]:
        with self.admin.cursor() as cur:
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [self.dbname],
            )
            return [row[0] for row in cur.fetchall()]

    def snapshot(self) -> dict[str, Any]:
        workers, backends = self._workers(), self._backends()
        return {
            "app": {pid: _cpu_of([pid]) for pid in workers},
            "db": {pid: _cpu_of([pid]) for pid in backends},
            "client": time.process_time(),
            "wall": time.perf_counter(),
        }

    @staticmethod
    def used(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
        def delta(kind: str) -> float:
            return sum(v - before[kind].get(pid, 0.0) for pid, v in after[kind].items())

        return {
            "app": delta("app"),
            "db": delta("db"),
            "client": after["client"] - before["client"],
        }

    def close(self) -> None:
        self.admin.close()


class _Run:
    """Latencies and errors of one kind of request, across terminal threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.lags: list[float] = []  # paced: how late a request left against its schedule
        self.errors: list[str] = []
        self.spans: list[tuple[float, float]] = []

    def call(
        self, client: _Terminal, path: str, body: dict[str, Any] | None, due: float | None = None
    ) -> None:
        t0 = time.perf_counter()
        status, content = client.post(path, body)
        t1 = time.perf_counter()
        with self.lock:
            # paced: latency counted from the scheduled moment (a late start is waiting too)
            self.latencies.append(t1 - (due if due is not None else t0))
            if due is not None:
                self.lags.append(max(0.0, t0 - due))
            if status >= 300:
                self.errors.append(f"{status} {content[:160]!r}")

    def span(self, start: float, end: float) -> None:
        with self.lock:
            self.spans.append((start, end))

    def rate(self) -> float:
        wall = max(e for _, e in self.spans) - min(s for s, _ in self.spans)
        return len(self.latencies) / wall if wall > 0 else 0.0


def throughput_part(args: Any, url: str) -> None:
    load_before = os.getloadavg()[0]
    hasher, cost = _hasher_cost()
    t_setup = time.perf_counter()
    terminals = _throughput_setup(args)
    analyze()  # what autovacuum does in production (it is off on this machine)
    t_setup = time.perf_counter() - t_setup
    port = _free_port()
    server = _serve(args, url, port)
    n = len(terminals)
    runs = {k: _Run() for k in ("start", "saturation", "paced", "capture_complete", "complete")}
    snapshots: list[dict[str, Any]] = []
    meter: list[_CpuMeter] = []

    def at_barrier() -> None:  # runs once, when every terminal has reached the barrier
        if meter:
            snapshots.append(meter[0].snapshot())

    barrier = threading.Barrier(n, action=at_barrier)
    per_terminal = args.rate / n  # paced: requests per second offered by each terminal

    failures: list[str] = []

    def terminal(i: int, t: dict[str, Any]) -> None:
        try:
            run_terminal(i, t)
        except Exception as exc:  # a terminal that fails stops the run, not hangs it
            failures.append(f"terminal {i}: {exc!r}")
            barrier.abort()

    def run_terminal(i: int, t: dict[str, Any]) -> None:
        client = _Terminal(port, t["token"])
        capture, paced, *rest = t["phases"]
        sign = {"username": t["username"], "password": t["password"], "reason": ""}
        runs["start"].call(client, f"/api/v1/batches/phases/{capture}/start/", None)
        # (a) saturation: closed loop, the next entry as soon as the previous one is answered
        barrier.wait()
        t0 = time.perf_counter()
        for k, name in enumerate(t["params"]):
            body = {"name": name, "value": f"{25 + (k % 7) * 0.5}"}
            runs["saturation"].call(client, f"/api/v1/batches/phases/{capture}/values/", body)
        runs["saturation"].span(t0, time.perf_counter())
        barrier.wait()
        runs["capture_complete"].call(client, f"/api/v1/batches/phases/{capture}/complete/", sign)
        runs["start"].call(client, f"/api/v1/batches/phases/{paced}/start/", None)
        # (b) paced: each terminal offers per_terminal entries/s on a fixed schedule (spread
        # evenly across terminals); a late request leaves at once and its lateness counts
        barrier.wait()
        t0 = time.perf_counter() + 0.2
        offset = i / args.rate
        for k, name in enumerate(t["paced"]):
            due = t0 + offset + k / per_terminal
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            body = {"name": name, "value": f"{25 + (k % 7) * 0.5}"}
            runs["paced"].call(client, f"/api/v1/batches/phases/{paced}/values/", body, due)
        runs["paced"].span(t0 + offset, time.perf_counter())
        barrier.wait()
        runs["capture_complete"].call(client, f"/api/v1/batches/phases/{paced}/complete/", sign)
        # signed completions of phases without parameters (closed loop)
        barrier.wait()
        t0 = time.perf_counter()
        for pk in rest:
            runs["start"].call(client, f"/api/v1/batches/phases/{pk}/start/", None)
            runs["complete"].call(client, f"/api/v1/batches/phases/{pk}/complete/", sign)
        runs["complete"].span(t0, time.perf_counter())
        client.close()

    try:
        _wait_ready(port, terminals[0]["token"], server)
        meter.append(_CpuMeter(server.pid, url))
        threads = [threading.Thread(target=terminal, args=(i, t)) for i, t in enumerate(terminals)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        snapshots.append(meter[0].snapshot())
        meter[0].close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    if failures:
        sys.exit(f"the run failed: {failures[0]}")
    print()
    print(
        f"throughput through the HTTP API: {n} terminals (http.client threads), "
        f"gunicorn {args.worker_class} {args.workers} workers x {args.threads} threads, PostgreSQL, "
        f"DEBUG=0, persistent DB connections; setup {t_setup:.0f} s; "
        f"load average before {load_before:.1f}, after {os.getloadavg()[0]:.1f}"
    )
    print(f"password hasher: {hasher}, one verification {cost * 1000:.0f} ms (every signature)")
    print(f"{'request':<44}{'count':>7}{'per s':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    rows = [
        ("(a) parameter entry, saturation (closed loop)", "saturation", True),
        (f"(b) parameter entry, paced ({args.rate:g}/s offered)", "paced", True),
        ("signed phase completion (no parameters)", "complete", True),
        ("signed completion of a capture phase", "capture_complete", False),
        ("phase start", "start", False),
    ]
    for label, kind, with_rate in rows:
        run = runs[kind]
        lat = run.latencies
        if not lat:
            continue
        rate = f"{run.rate():9.1f}" if with_rate else f"{'':>9}"
        print(
            f"{label:<44}{len(lat):>7}{rate}{_pct(lat, 50) * 1000:9.0f}"
            f"{_pct(lat, 95) * 1000:9.0f}{max(lat) * 1000:9.0f}"
        )
    if len(snapshots) == 6:
        # barriers: 0 before (a), 1 after (a), 2 before (b), 3 after (b), 4 before the
        # completions; 5 at the end
        print(
            "CPU per request (ms; app = gunicorn workers, db = PostgreSQL backends, client = "
            "these terminals), and what 2 free cores would sustain at that cost:"
        )
        for label, kind, i, j in (
            ("(a) parameter entry, saturation", "saturation", 0, 1),
            ("(b) parameter entry, paced", "paced", 2, 3),
            ("signed phase completion + its start", "complete", 4, 5),
        ):
            count = len(runs[kind].latencies)
            cpu = _CpuMeter.used(snapshots[i], snapshots[j])
            server_ms = (cpu["app"] + cpu["db"]) / count * 1000
            print(
                f"  {label:<38} app {cpu['app'] / count * 1000:6.1f}  db "
                f"{cpu['db'] / count * 1000:5.1f}  client {cpu['client'] / count * 1000:5.1f}"
                f"  -> 2 cores / (app + db) = {2000 / server_ms:6.0f} per s"
            )
    paced = runs["paced"]
    if paced.lags:
        print(
            f"paced: latency counted from each request's scheduled moment; requests that left "
            f"late: {sum(1 for x in paced.lags if x > 0.001)} (p95 lateness "
            f"{_pct(paced.lags, 95) * 1000:.0f} ms)"
        )
    sat = runs["saturation"].rate()
    achieved, p95 = paced.rate(), _pct(paced.latencies, 95) * 1000
    print(
        f"little's law check (a): {n} terminals / {sat:.1f} per s = {n / sat * 1000:.0f} ms "
        f"mean latency in a closed loop with no think time"
    )
    met = sat >= args.rate and achieved >= 0.98 * args.rate and p95 < 150
    print(
        f"goal parameter entries >= {args.rate:g}/s with p95 < 150 ms: "
        f"{'met' if met else 'MISSED'} (paced: {achieved:.1f}/s achieved, p95 {p95:.0f} ms; "
        f"saturation {sat:.1f}/s)"
    )
    errors = [e for run in runs.values() for e in run.errors]
    print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))


if __name__ == "__main__":
    main()
