"""ERP integration throughput: inbound orders and outbound messages through a real worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mes_bench_erp \\
    REDIS_URL=redis://127.0.0.1:6379/9 \\
    python benchmarks/erp.py [--orders 10000] [--messages 10000] [--concurrency 4]
                             [--inbound-processes 4]

Use a scratch PostgreSQL database (it is migrated and gets the demo plant if missing) and a
Redis database nobody else uses (it is purged). It starts F1's generic REST/webhook ERP
simulator in its own process (HMAC-signed, dedupes on `Idempotency-Key`) and seeds it with
the orders, then:

1. inbound: receives every order through `inbound.order_receive` (the service behind
   `POST /api/v1/erp-connectors/orders/`), a discrete planned order each (work order of the
   demo's pail assembly), pushed by `--inbound-processes` clients at once (each its own
   process and connection; 1 = one by one), then receives a sample again: it must create
   nothing, and every work order must have its own number;
2. outbound: writes one message per order into the outbox (`outbox.message_write`, what the
   plant-event receivers call), starts `celery -A mes worker` and one drain task per worker
   process, and waits until the outbox is empty;
3. prints inbound orders/s (and per 1,000 orders, to show it does not fall as the tables grow)
   with inbound duplicates (work orders made by a re-sent version) and losses (an order left
   without its work order), then outbound messages/s with the duplicates (an idempotency key
   with more than one effect in the ERP) and losses (a message not delivered, or delivered
   without an effect).
Goal: >= 200 messages/s, 0 duplicates, 0 losses.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECRET = "sim-secret"
ENV = {
    "DJANGO_SETTINGS_MODULE": "mes.settings.base",
    "MES_ALLOW_INSECURE_KEY": "1",
    "DEBUG": "0",  # as in production (DEBUG keeps every statement: slower)
    "SECURE_SSL_REDIRECT": "0",
    "MES_ERP_DELIVER_ON_COMMIT": "0",
    "MES_ERP_CREDENTIALS": json.dumps({"bench": {"secret": SECRET}}),
}
ITEM = "PAIL-ASM-20"


def inbound_order(erp_id: str, due: Any) -> Any:
    """A discrete planned order of ITEM as the ERP would send it."""
    from erp_connectors.adapters.base import InboundOrder

    return InboundOrder(
        erp_order_id=erp_id,
        version="1",
        kind="discrete",
        material_code=ITEM,
        quantity=Decimal(10),
        uom="ea",
        due=due,
        status="planned",
    )


def _push(job: tuple[int, list[str], Any]) -> int:
    """One pushing ERP client (a forked process with its own connection): receive its orders."""
    from django.db import connections

    from erp_connectors.inbound import erp_user, order_receive
    from erp_connectors.models import ErpConnection

    connection_pk, erp_ids, due = job
    conn, actor = ErpConnection.objects.get(pk=connection_pk), erp_user()
    for erp_id in erp_ids:
        order_receive(
            actor=actor, connection=conn, order=inbound_order(erp_id, due), channel="push"
        )
    connections.close_all()
    return len(erp_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--inbound-processes", type=int, default=4, help="ERP pushes at once (1: one by one)"
    )
    parser.add_argument("--resend", type=int, default=1_000, help="orders received twice")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to a scratch PostgreSQL database")
    if not os.environ.get("REDIS_URL"):
        sys.exit("set REDIS_URL to a Redis database nobody else uses")
    os.environ.update(ENV)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections, transaction
    from django.utils import timezone

    from erp_connectors.adapters.base import ORDER_START
    from erp_connectors.inbound import erp_user, order_receive
    from erp_connectors.models import ErpConnection, ErpOrderLink, OutboxMessage, OutboxStatus
    from erp_connectors.outbox import message_write
    from erp_connectors.simulators import spawn_simulator
    from genealogy.models import Material
    from mes.audit.context import system_context
    from mes.celery import app
    from workorders.models import WorkOrder

    call_command("migrate", verbosity=0)
    if not Material.objects.filter(code=ITEM).exists():
        call_command("load_demo", interactive=False, stdout=open(os.devnull, "w"))  # noqa: SIM115
    site = __import__("equipment.models", fromlist=["Site"]).Site.objects.get(code="RPP")
    sim = spawn_simulator("rest", page_size=500)
    run = f"{int(time.time())}"
    ids = [f"B{run}-{n:06d}" for n in range(max(args.orders, args.messages))]
    for start in range(0, len(ids), 2000):
        sim.seed(
            *(
                {"id": i, "material": ITEM, "quantity": "10", "uom": "ea"}
                for i in ids[start : start + 2000]
            )
        )
    actor = erp_user()
    due = timezone.localdate() + timedelta(days=14)
    with system_context("benchmark", reason="ERP benchmark"):
        conn = ErpConnection.objects.create(
            site=site, code=f"BENCH-{run}", kind="rest", base_url=sim.url, credentials_ref="bench"
        )

        def order(erp_id: str) -> Any:
            return inbound_order(erp_id, due)

        wo_before = WorkOrder.objects.count()
        with connections["default"].cursor() as cursor:
            # this machine's PostgreSQL runs with autovacuum off: without statistics of the
            # grown tables the planner sorts a whole series to find its last work-order number
            cursor.execute("SHOW autovacuum")
            print(f"autovacuum: {cursor.fetchone()[0]}; ANALYZE before the run")
            cursor.execute("ANALYZE")
        t0 = time.perf_counter()
        laps: list[str] = []  # orders/s per 1,000 (one process): flat if no lookup grows
        if args.inbound_processes == 1:
            lap = t0
            for n, erp_id in enumerate(ids[: args.orders], start=1):
                order_receive(actor=actor, connection=conn, order=order(erp_id), channel="push")
                if n % 1000 == 0:
                    now_ = time.perf_counter()
                    laps.append(f"{1000 / (now_ - lap):.0f}")
                    lap = now_
        else:  # ERP pushes arriving at once: one process (and connection) per pusher
            import multiprocessing

            connections.close_all()
            with multiprocessing.get_context("fork").Pool(args.inbound_processes) as pool:
                jobs = [
                    (conn.pk, ids[k : args.orders : args.inbound_processes], due)
                    for k in range(args.inbound_processes)
                ]
                pool.map(_push, jobs)
        inbound_s = time.perf_counter() - t0
        created = WorkOrder.objects.count() - wo_before
        again = [
            order_receive(actor=actor, connection=conn, order=order(erp_id)).outcome
            for erp_id in ids[: args.resend]
        ]
        inbound_dupes = WorkOrder.objects.count() - wo_before - created
        numbers = (
            WorkOrder.objects.filter(external_ref__startswith=f"{conn.code}:")
            .values("number")
            .distinct()
            .count()
        )
        linked = set(
            ErpOrderLink.objects.filter(
                connection=conn, erp_order_id__in=ids[: args.orders], work_order__isnull=False
            ).values_list("erp_order_id", flat=True)
        )
        inbound_losses = args.orders - len(linked)
        print(
            f"inbound: {args.orders} orders in {inbound_s:.1f} s by {args.inbound_processes} "
            f"process(es) = {args.orders / inbound_s:.0f} orders/s"
            + (f" (per 1,000: {' '.join(laps)})" if laps else "")
            + f"; {created} work orders, {numbers} distinct numbers; "
            f"{args.resend} re-sent: {again.count('duplicate')} answered duplicate"
        )
        print(
            f"inbound duplicates: {inbound_dupes} (work orders made by a re-sent version)   "
            f"inbound losses: {inbound_losses} (orders without their work order)"
        )

        links = list(ErpOrderLink.objects.filter(connection=conn).order_by("id")[: args.messages])
        missing = args.messages - len(links)
        for erp_id in ids[len(links) : args.messages]:  # fewer orders than messages asked
            links.append(
                ErpOrderLink.objects.create(
                    connection=conn,
                    erp_order_id=erp_id,
                    version="1",
                    kind="discrete",
                    material_code=ITEM,
                    quantity=Decimal(10),
                    uom="ea",
                )
            )
        now = timezone.now().isoformat()
        t0 = time.perf_counter()
        for start in range(0, len(links), 500):
            with transaction.atomic():
                for link in links[start : start + 500]:
                    message_write(
                        link=link, kind=ORDER_START, source="start", payload={"started_at": now}
                    )
        write_s = time.perf_counter() - t0
        keys = set(
            OutboxMessage.objects.filter(connection=conn).values_list("idempotency_key", flat=True)
        )
        print(f"outbox: {len(keys)} messages written in {write_s:.1f} s ({missing} links added)")

    app.conf.task_always_eager = False
    app.control.purge()
    env = {**os.environ, "MES_ERP_DRAIN_SECONDS": "120"}
    worker = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "mes",
            "worker",
            f"--concurrency={args.concurrency}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
            "-n",
            f"bench{run}@%h",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        time.sleep(3)  # the worker's start-up is not part of the drain
        from erp_connectors.tasks import deliver_outbox

        open_qs = OutboxMessage.objects.filter(connection=conn).exclude(
            status__in=[OutboxStatus.DELIVERED, OutboxStatus.DEAD]
        )
        t0 = time.perf_counter()
        for _ in range(args.concurrency):
            deliver_outbox.apply_async()
        while open_qs.exists():
            time.sleep(0.2)
            if time.perf_counter() - t0 > 1800:
                print("gave up after 30 min")
                break
        drain_s = time.perf_counter() - t0
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    state = sim.state()
    sim.stop()
    effective = {k: v["count"] for k, v in state["effective"].items() if k in keys}
    delivered = OutboxMessage.objects.filter(connection=conn, status=OutboxStatus.DELIVERED)
    duplicates = sum(count - 1 for count in effective.values() if count > 1)
    losses = len(keys - set(effective)) + (len(keys) - delivered.count())
    dead = OutboxMessage.objects.filter(connection=conn, status=OutboxStatus.DEAD).count()
    print(
        f"outbound: {len(keys)} messages drained in {drain_s:.1f} s by {args.concurrency} "
        f"worker processes = {len(keys) / drain_s:.0f} messages/s"
    )
    print(f"outbound duplicates: {duplicates}   outbound losses: {losses}   dead letters: {dead}")


if __name__ == "__main__":
    main()
