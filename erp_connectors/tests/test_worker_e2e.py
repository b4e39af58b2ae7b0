"""End to end with a real Redis broker, a real Celery worker process and F1's REST/webhook
simulator in its own process: an ERP order is pulled, the batch made from it runs, its
messages are delivered by the worker; the worker is SIGKILLed while the ERP has committed a
message but not yet answered; a new worker gets the lost task back from the broker (late
acknowledgement), takes over the stale claim and re-sends with the same idempotency key.
The ERP then holds every message exactly once in effect, and nothing is lost."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as dj_settings
from django.db import connection

from batches import services as batch_services
from batches.models import BatchOrder
from batches.tests import factories as bf
from batches.tests.test_services import run_batch
from erp_connectors.inbound import erp_user, orders_pull
from erp_connectors.models import ErpOrderLink, OutboxMessage, OutboxStatus
from erp_connectors.tests import factories as f

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sim-secret"
WORKER_ENV = {
    "DJANGO_SETTINGS_MODULE": "mes.settings.base",
    "MES_ALLOW_INSECURE_KEY": "1",
    "DEBUG": "1",
    "SECURE_SSL_REDIRECT": "0",
    "MES_VAR_DIR": "/tmp/mes-test-var",  # noqa: S108
    "MES_ERP_CREDENTIALS": json.dumps({"sim": {"secret": SECRET}}),
    "MES_ERP_OUTBOX_LEASE_SECONDS": "4",
    "MES_ERP_DRAIN_SECONDS": "20",
    "MES_ERP_TASK_TIME_LIMIT": "30",
    "CELERY_VISIBILITY_TIMEOUT": "35",
    "CELERY_TASK_ALWAYS_EAGER": "0",
}
VISIBILITY = 35


def start_worker(log: Path, name: str) -> subprocess.Popen:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, **WORKER_ENV, "DATABASE_URL": url, "REDIS_URL": dj_settings.REDIS_URL}
    cmd = [
        str(Path(sys.executable).with_name("celery")),
        "-A",
        "mes",
        "worker",
        "--pool=prefork",
        "--concurrency=2",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"{name}@%h",
        "-l",
        "INFO",
    ]
    out = log.open("ab")
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def kill_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_for(predicate, *, timeout: float, what: str, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def celery_broker(settings):
    from mes.celery import app

    settings.MES_ERP_CREDENTIALS = {"sim": {"secret": SECRET}}
    settings.MES_ERP_DELIVER_ON_COMMIT = False  # the test sends the one task itself
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    app.conf.broker_url = dj_settings.REDIS_URL
    app.control.purge()
    yield app
    app.conf.task_always_eager = eager


def test_worker_killed_mid_delivery_loses_nothing_and_duplicates_nothing(
    celery_broker,
    erp_simulator_process,
    admin_user,
    recipe_author,
    qa_user,
    operator,
    operator2,
    supervisor,
    tmp_path,
):
    from erp_connectors.tasks import deliver_outbox

    sim = erp_simulator_process("rest")
    sim.seed(
        {
            "id": "PO-E2E",
            "kind": "process",
            "material": "RESIN-T",
            "recipe": "RESIN-T",
            "quantity": "2000",
            "uom": "kg",
            "expected_yield_pct": "97.5",
        }
    )
    conn = f.connection(actor=admin_user, base_url=sim.url, credentials_ref="sim")
    bf.recipe(author=recipe_author, reviewer=qa_user)

    # inbound: pulled from the ERP
    [pulled] = orders_pull(connection=conn, actor=erp_user())
    assert (pulled.outcome, pulled.erp_order_id) == ("created", "PO-E2E")
    batch = BatchOrder.objects.get()
    assert ErpOrderLink.objects.get().batch == batch

    # the plant runs the batch: its messages wait in the outbox
    unit = bf.reactor(cleaned_by=operator, verified_by=supervisor)
    batch_services.batch_start(actor=operator, batch=batch, unit=unit)
    run_batch(batch, operator, operator2, qa_user, yield_qty="1950")
    batch_services.batch_complete(actor=operator, batch=batch)
    keys = set(OutboxMessage.objects.values_list("idempotency_key", flat=True))
    assert len(keys) == 8
    first = OutboxMessage.objects.order_by("id").first()

    # the ERP commits the first message and takes 15 s to answer
    sim.fault(path="/api/messages", method="POST", count=1, kind="timeout_after_commit", delay=15)
    log = tmp_path / "worker.log"
    worker = start_worker(log, "one")
    try:
        deliver_outbox.apply_async()

        def committed_not_answered():
            effective = sim.state()["effective"]
            first.refresh_from_db()
            return first.idempotency_key in effective and first.status == OutboxStatus.IN_FLIGHT

        wait_for(committed_not_answered, timeout=90, what="the ERP to commit the first message")
        received_at = time.monotonic()  # the worker fetched the task before this moment
        kill_worker(worker)
        first.refresh_from_db()
        assert first.status == OutboxStatus.IN_FLIGHT
        assert OutboxMessage.objects.filter(status=OutboxStatus.DELIVERED).count() == 0

        # the broker gives the lost task back once its visibility timeout has passed (the new
        # worker restores such tasks when it starts)
        time.sleep(max(0.0, VISIBILITY + 2 - (time.monotonic() - received_at)))
        worker = start_worker(log, "two")
        wait_for(
            lambda: not OutboxMessage.objects.exclude(status=OutboxStatus.DELIVERED).exists(),
            timeout=90,
            what="every message delivered by the second worker",
            step=0.5,
        )
    finally:
        kill_worker(worker)

    effective = sim.state()["effective"]
    assert set(effective) == keys  # nothing lost, nothing foreign
    assert {k: v["count"] for k, v in effective.items()} == dict.fromkeys(keys, 1)
    first.refresh_from_db()
    assert first.attempts == 2
    assert list(first.log.values_list("outcome", flat=True)) == ["duplicate"]
    kinds = [m.kind for m in OutboxMessage.objects.order_by("delivered_at", "id") if m.delivered_at]
    assert kinds[0] == "order_start"
    assert kinds[-1] == "order_completion"
