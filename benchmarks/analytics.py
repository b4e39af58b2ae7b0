"""The analytics dashboard over a year of shop-floor records, on PostgreSQL.

    .venv/bin/python benchmarks/analytics.py --records 200000
    .venv/bin/python benchmarks/analytics.py --records 20000 --runs 3      # quick

1. makes a fresh database (default mes_bench_analytics), migrates it;
2. fills a discrete line over the last 365 days: 10 work centers, work orders with 4
   operations each, `--records` machine records and as many quantity reports (good, scrap,
   rework), a quarter as many labor records (labor-only operations) and a tenth as many
   downtime records; closed work orders with due dates; deviations (a few hundred) and CAPA.
   Everything is written with bulk inserts inside the system audit context, so the database
   trail records every row (the load time includes the trail);
3. times every registered metric over the year (bucket week, then day and month for the
   OEE), the median of `--runs`, with the number of SQL queries each made, and the whole
   dashboard page (GET /analytics/) for the year.
Goal: each metric < 1 s over a year of 200,000 time records; the page < 3 s.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORK_CENTERS = 10
OPS_PER_ORDER = 4
RECORDS_PER_ORDER = 40


def _fresh_database(name: str) -> None:
    base = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["dropdb", *base, "--if-exists", name], check=True)
    subprocess.run(["createdb", *base, name], check=True)


def fill(records: int, seed: int) -> dict[str, int]:
    from django.db import transaction
    from django.utils import timezone

    from equipment.models import Area, Site, WorkCenter
    from genealogy import services as genealogy
    from genealogy.choices import MaterialKind, UnitOfMeasure
    from mes.accounts.models import User
    from mes.audit.context import system_context
    from quality.models import CapaAction, Deviation
    from workorders.choices import (
        QuantityKind,
        ReasonKind,
        TimeBasis,
        VersionStatus,
        WorkOrderStatus,
    )
    from workorders.models import (
        Bom,
        BomLine,
        DowntimeRecord,
        LaborRecord,
        MachineRecord,
        QuantityReport,
        ReasonCode,
        Routing,
        RoutingOperation,
        WorkOrder,
        WorkOrderOperation,
    )

    rng = random.Random(seed)
    now = timezone.now()
    year_ago = now - timedelta(days=365)
    with system_context("benchmark", reason="analytics benchmark data"), transaction.atomic():
        actor = User.objects.get(username="system")
        site = Site.objects.create(code="BENCH", name="Benchmark plant")
        area = Area.objects.create(site=site, code="PK", name="Packaging", kind="discrete")
        centers = [
            WorkCenter.objects.create(area=area, code=f"WC-{n:02d}", name=f"Line {n}")
            for n in range(1, WORK_CENTERS + 1)
        ]
        item = genealogy.material_create(
            actor=actor, code="BOX", name="Box", uom=UnitOfMeasure.EACH, kind=MaterialKind.FINISHED
        )
        comp = genealogy.material_create(
            actor=actor,
            code="LBL",
            name="Label",
            uom=UnitOfMeasure.EACH,
            kind=MaterialKind.PACKAGING,
        )
        start = year_ago.date()
        bom = Bom.objects.create(
            item=item,
            version=1,
            status=VersionStatus.APPROVED,
            effective_from=start,
            created_by=actor,
        )
        BomLine.objects.create(
            bom=bom, position=1, component=comp, quantity_per=1, operation_seq=10
        )
        routing = Routing.objects.create(
            item=item,
            version=1,
            status=VersionStatus.APPROVED,
            effective_from=start,
            created_by=actor,
        )
        route_ops = [
            RoutingOperation.objects.create(
                routing=routing,
                seq=10 * (i + 1),
                name=f"Op {i + 1}",
                work_center=centers[i % WORK_CENTERS],
                run_minutes_per_unit=Decimal("0.5"),
                time_basis=TimeBasis.LABOR if i == OPS_PER_ORDER - 1 else TimeBasis.MACHINE,
            )
            for i in range(OPS_PER_ORDER)
        ]
        jam = ReasonCode.objects.create(kind=ReasonKind.DOWNTIME, code="JAM", name="Jam")
        dmg = ReasonCode.objects.create(kind=ReasonKind.SCRAP, code="DMG", name="Damaged")

        n_orders = max(1, records // RECORDS_PER_ORDER)
        orders = []
        for n in range(n_orders):
            released = year_ago + timedelta(seconds=rng.uniform(0, 360 * 86400))
            closed = released + timedelta(hours=rng.uniform(4, 120))
            orders.append(
                WorkOrder(
                    number=f"WO-{n:07d}",
                    item=item,
                    quantity=100,
                    due_date=(released + timedelta(days=rng.choice([1, 2, 3, 5]))).date(),
                    area=area,
                    bom=bom,
                    routing=routing,
                    status=WorkOrderStatus.CLOSED,
                    created_by=actor,
                    released_at=released,
                    closed_at=closed if closed < now else None,
                    closed_by=actor,
                )
            )
        for wo in orders:
            if wo.closed_at is None:
                wo.status, wo.closed_by = WorkOrderStatus.RELEASED, None
        WorkOrder.objects.bulk_create(orders, batch_size=5000)
        orders = list(WorkOrder.objects.order_by("id"))
        ops = WorkOrderOperation.objects.bulk_create(
            [
                WorkOrderOperation(
                    work_order=wo,
                    seq=rop.seq,
                    name=rop.name,
                    work_center=rop.work_center,
                    routing_operation=rop,
                    is_first=i == 0,
                    is_last=i == OPS_PER_ORDER - 1,
                    setup_minutes=0,
                    run_minutes_per_unit=rop.run_minutes_per_unit,
                    time_basis=rop.time_basis,
                    crew_size=1,
                )
                for wo in orders
                for i, rop in enumerate(route_ops)
            ],
            batch_size=5000,
        )
        released_at = {wo.pk: wo.released_at for wo in orders}

        def moment(op):  # within five days after the order's release
            return released_at[op.work_order_id] + timedelta(seconds=rng.uniform(0, 5 * 86400))

        machine_ops = [op for op in ops if op.time_basis != TimeBasis.LABOR]
        labor_ops = [op for op in ops if op.time_basis == TimeBasis.LABOR]

        def spans(n, pool, model, **extra):
            rows = []
            for _ in range(n):
                op = rng.choice(pool)
                began = moment(op)
                secs = rng.randint(600, 5400)
                rows.append(
                    model(
                        operation=op,
                        started_at=began,
                        ended_at=began + timedelta(seconds=secs),
                        seconds=Decimal(secs),
                        **extra,
                    )
                )
            return rows

        t0 = time.perf_counter()
        MachineRecord.objects.bulk_create(
            spans(records, machine_ops, MachineRecord, started_by=actor), batch_size=5000
        )
        LaborRecord.objects.bulk_create(
            spans(records // 4, labor_ops, LaborRecord, operator=actor), batch_size=5000
        )
        DowntimeRecord.objects.bulk_create(
            spans(records // 10, machine_ops, DowntimeRecord, started_by=actor, reason=jam),
            batch_size=5000,
        )
        kinds = [QuantityKind.GOOD] * 90 + [QuantityKind.SCRAP] * 6 + [QuantityKind.REWORK] * 4
        reports = []
        for _ in range(records):
            op = rng.choice(ops)
            kind = rng.choice(kinds)
            reports.append(
                QuantityReport(
                    operation=op,
                    kind=kind,
                    quantity=rng.randint(1, 20),
                    actor=actor,
                    reason=dmg if kind == QuantityKind.SCRAP else None,
                    at=moment(op),
                )
            )
        QuantityReport.objects.bulk_create(reports, batch_size=5000)
        deviations = Deviation.objects.bulk_create(
            [
                Deviation(
                    title=f"Deviation {n}",
                    description="benchmark",
                    classification=rng.choice(["", "minor", "major", "critical"]),
                    opened_by=actor,
                    due_at=(now + timedelta(days=30)).date(),
                    opened_at=year_ago + timedelta(seconds=rng.uniform(0, 360 * 86400)),
                )
                for n in range(max(10, records // 500))
            ]
        )
        CapaAction.objects.bulk_create(
            [
                CapaAction(
                    deviation=d,
                    kind=rng.choice(["corrective", "preventive"]),
                    description="benchmark",
                    owner=actor,
                    created_by=actor,
                    due_at=(year_ago + timedelta(days=rng.uniform(0, 400))).date(),
                )
                for d in deviations[::3]
            ]
        )
        return {
            "work orders": len(orders),
            "operations": len(ops),
            "machine records": records,
            "labor records": records // 4,
            "downtime records": records // 10,
            "quantity reports": records,
            "deviations": len(deviations),
            "load s (audited)": round(time.perf_counter() - t0, 1),
        }


def viewer():  # type: ignore[no-untyped-def]
    from mes.accounts.models import User
    from mes.audit.context import system_context

    found = User.objects.filter(username="bench.viewer").first()
    if found is not None:
        return found
    with system_context("benchmark", reason="benchmark viewer"):
        return User.objects.create_superuser("bench.viewer", password="x" * 16)


def measure(runs: int) -> list[tuple[str, str, int, int, float, float]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from mes.analytics.buckets import parse_query
    from mes.analytics.selectors import metric_compute
    from mes.registry import metrics

    actor = viewer()
    today = timezone.localdate()
    year = {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()}
    results = []
    for metric in metrics():
        buckets = ["week", "day", "month"] if metric.key.endswith("oee_trend") else ["week"]
        for bucket in buckets:
            query = parse_query({**year, "bucket": bucket})
            times, queries, rows = [], 0, 0
            for _ in range(runs):
                with CaptureQueriesContext(connection) as ctx:
                    start = time.perf_counter()
                    computed = metric_compute(actor=actor, metric=metric, query=query)
                    times.append(time.perf_counter() - start)
                queries, rows = len(ctx.captured_queries), len(computed.result.rows)
            results.append(
                (
                    metric.key,
                    bucket,
                    queries,
                    rows,
                    statistics.median(times) * 1000,
                    max(times) * 1000,
                )
            )
    return results


def measure_page(runs: int) -> float:
    from django.test import Client
    from django.utils import timezone

    from mes.audit.context import system_context

    client = Client()
    with system_context("benchmark", reason="benchmark viewer logs in"):
        client.force_login(viewer())
    today = timezone.localdate()
    params = {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get("/analytics/", params)
        times.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise SystemExit(f"GET /analytics/ answered {response.status_code}")
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database", default="mes_bench_analytics")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--reuse", action="store_true", help="keep an already filled database")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = f"{args.pg}/{args.database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings.test")
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ.pop("DEBUG", None)
    if not args.reuse:
        _fresh_database(args.database)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.DEBUG = False
    if not args.reuse:
        start = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"migrated in {time.perf_counter() - start:.0f} s")
        filled = fill(args.records, args.seed)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # what autovacuum does after a load
        for name, value in filled.items():
            print(
                f"  {name:<22} {value:>10,}"
                if isinstance(value, int)
                else f"  {name:<22} {value:>10}"
            )
    print(f"\nmetrics over one year ({args.runs} runs each, median / max):")
    print(
        f"  {'metric':<34} {'bucket':<6} {'queries':>7} {'rows':>6} {'median ms':>10} {'max ms':>8}"
    )
    for key, bucket, queries, rows, median, worst in measure(args.runs):
        print(f"  {key:<34} {bucket:<6} {queries:>7} {rows:>6} {median:>10.1f} {worst:>8.1f}")
    print(f"\n  dashboard page GET /analytics/ (a year, weekly): {measure_page(3):.0f} ms median")


if __name__ == "__main__":
    main()
