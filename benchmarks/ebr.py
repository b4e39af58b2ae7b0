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
the production password hasher (Argon2id, settings.base); a gunicorn server (gthread,
--workers x --threads) is started on that database with DEBUG=0, then 20 client threads
(httpx, one per terminal) go through the REAL HTTP API:
  1. every terminal starts its phase 1 (warm-up, not timed);
  2. every terminal records --values numeric parameter values into its phase 1
     (POST /api/v1/batches/phases/{id}/values/): entries per second and latency percentiles;
  3. every terminal completes phase 1 and then starts + completes --completions more phases,
     each completion signed with user ID and password (POST .../complete/): signed phase
     completions per second and latency; the hasher's cost of one verification is measured
     on its own.
Goals: parameter entries >= 200/s with p95 < 150 ms. Prints a table.
"""

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["all", "pdf", "throughput"], default="all")
    parser.add_argument("--phases", type=int, default=300)
    parser.add_argument("--terminals", type=int, default=20)
    parser.add_argument("--values", type=int, default=40, help="entries per terminal")
    parser.add_argument("--completions", type=int, default=5, help="extra phases per terminal")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
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


def _throughput_setup(args: Any) -> list[dict[str, Any]]:
    """Recipe, people, units, started batches and API tokens, through the services."""
    from guardian.shortcuts import assign_perm

    from batches import services
    from batches.tests.factories import batch_order, reactor
    from mes.accounts.services import api_token_create
    from mes.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
    from mes.audit.context import system_context
    from recipes.tests.factories import approved, draft_recipe

    def param(n: int) -> dict[str, Any]:
        return {
            "name": f"T{n:03d}",
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
            "parameters": [param(n) for n in range(args.values)],
        }
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
    }
    cmd = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "mes.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)


def _wait_ready(base: str, token: str, server: subprocess.Popen) -> None:
    import httpx

    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit("gunicorn exited; see its output above")
        try:
            r = httpx.get(
                f"{base}/api/v1/batches/orders/?limit=1",
                headers={"Authorization": f"Token {token}"},
                timeout=5,
            )
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit("gunicorn did not answer within 60 s")


def throughput_part(args: Any, url: str) -> None:
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)

    hasher, cost = _hasher_cost()
    terminals = _throughput_setup(args)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(args, url, port)
    n = len(terminals)
    latencies: dict[str, list[float]] = {"start": [], "value": [], "complete": []}
    windows: dict[str, list[tuple[float, float]]] = {"value": [], "complete": []}
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def call(client: Any, kind: str, path: str, body: dict[str, Any] | None = None) -> None:
        t0 = time.perf_counter()
        r = client.post(path, json=body or {})
        elapsed = time.perf_counter() - t0
        with lock:
            latencies[kind].append(elapsed)
            if r.status_code >= 300:
                errors.append(f"{kind} {r.status_code} {r.text[:160]}")

    def terminal(t: dict[str, Any]) -> None:
        headers = {"Authorization": f"Token {t['token']}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            first, rest = t["phases"][0], t["phases"][1:]
            call(client, "start", f"/api/v1/batches/phases/{first}/start/")
            barrier.wait()
            t0 = time.perf_counter()
            for i, name in enumerate(t["params"]):
                call(
                    client,
                    "value",
                    f"/api/v1/batches/phases/{first}/values/",
                    {"name": name, "value": f"{25 + (i % 7) * 0.5}"},
                )
            t1 = time.perf_counter()
            barrier.wait()
            sign = {"username": t["username"], "password": t["password"], "reason": ""}
            t2 = time.perf_counter()
            call(client, "complete", f"/api/v1/batches/phases/{first}/complete/", sign)
            for pk in rest:
                call(client, "start", f"/api/v1/batches/phases/{pk}/start/")
                call(client, "complete", f"/api/v1/batches/phases/{pk}/complete/", sign)
            t3 = time.perf_counter()
            with lock:
                windows["value"].append((t0, t1))
                windows["complete"].append((t2, t3))

    try:
        _wait_ready(base, terminals[0]["token"], server)
        threads = [threading.Thread(target=terminal, args=(t,)) for t in terminals]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    def wall(kind: str) -> float:
        spans = windows[kind]
        return max(e for _, e in spans) - min(s for s, _ in spans)

    print()
    print(
        f"throughput through the HTTP API: {n} terminals (httpx threads), gunicorn gthread "
        f"{args.workers} workers x {args.threads} threads, PostgreSQL, DEBUG=0"
    )
    print(f"password hasher: {hasher}, one verification {cost * 1000:.0f} ms (every signature)")
    print(f"{'request':<28}{'count':>7}{'per s':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    rows = [
        ("parameter entry", "value", wall("value")),
        ("signed phase completion", "complete", wall("complete")),
        ("phase start", "start", None),
    ]
    for label, kind, seconds in rows:
        lat = latencies[kind]
        rate = f"{len(lat) / seconds:9.1f}" if seconds else f"{'':>9}"
        print(
            f"{label:<28}{len(lat):>7}{rate}{_pct(lat, 50) * 1000:9.0f}"
            f"{_pct(lat, 95) * 1000:9.0f}{max(lat) * 1000:9.0f}"
        )
    entries = len(latencies["value"]) / wall("value")
    p95 = _pct(latencies["value"], 95) * 1000
    goal = "met" if entries >= 200 and p95 < 150 else "MISSED"
    print(f"goal parameter entries >= 200/s with p95 < 150 ms: {goal}")
    print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))


if __name__ == "__main__":
    main()
