"""The outbox: written in the plant transaction, delivered in order with backoff, dead letters
and their audited retry, stale claims taken over, reconciliation findings."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from batches import services as batch_services
from batches.models import BatchOrder
from batches.tests import factories as bf
from batches.tests.test_services import run_batch
from erp_connectors import outbox, services
from erp_connectors.adapters import base as adapter_base
from erp_connectors.inbound import order_receive
from erp_connectors.models import (
    DeadLetterRetry,
    OutboxMessage,
    OutboxStatus,
    ReconciliationFinding,
)
from erp_connectors.tests import factories as f
from mes.exceptions import Conflict, NotAuthorized
from workorders import services as wo_services
from workorders.models import WorkOrder
from workorders.tests import conftest as workorders_conftest

pytestmark = pytest.mark.django_db
line = workorders_conftest.line  # the packaging line fixture of workorders' tests


@pytest.fixture
def script(monkeypatch):
    from erp_connectors.adapters import d365, oracle, rest, sap  # noqa: F401 (registered)

    s = f.Script()
    monkeypatch.setitem(adapter_base._adapters, "rest", f.fake_adapter_class(s))
    return s


@pytest.fixture
def conn(admin_user):
    return f.connection(actor=admin_user)


@pytest.fixture
def batch(conn, recipe_author, qa_user, integration_user):
    bf.recipe(author=recipe_author, reviewer=qa_user)
    order_receive(actor=integration_user, connection=conn, order=f.process_order())
    return BatchOrder.objects.get()


@pytest.fixture
def reactor(operator, supervisor):
    return bf.reactor(cleaned_by=operator, verified_by=supervisor)


def _kinds():
    return list(OutboxMessage.objects.order_by("id").values_list("kind", flat=True))


def test_a_rolled_back_plant_action_leaves_no_message(batch, reactor, operator):
    def start_then_lose_power():
        with transaction.atomic():
            batch_services.batch_start(actor=operator, batch=batch, unit=reactor)
            assert _kinds() == ["order_start"]
            raise RuntimeError("the terminal lost power")

    with pytest.raises(RuntimeError):
        start_then_lose_power()

    assert OutboxMessage.objects.count() == 0

    batch_services.batch_start(actor=operator, batch=batch, unit=reactor)

    message = OutboxMessage.objects.get()
    assert (message.kind, message.status, message.erp_order_id) == (
        "order_start",
        "pending",
        "PO-1",
    )
    assert message.idempotency_key == "mes:ERP1:PO-1:order_start:start"


def test_a_refused_plant_action_leaves_no_message(batch, operator):
    unit = bf.reactor()  # never cleaned: equipment's gate refuses it
    with pytest.raises(Exception, match="clean"):
        batch_services.batch_start(actor=operator, batch=batch, unit=unit)
    assert OutboxMessage.objects.count() == 0


def test_an_order_not_from_the_erp_writes_nothing(
    recipe_author, qa_user, planner, operator, reactor
):
    version = bf.recipe(author=recipe_author, reviewer=qa_user)
    bf.started_batch(planner=planner, operator=operator, version=version, unit=reactor)
    assert OutboxMessage.objects.count() == 0


def test_a_batch_reports_start_issues_receipt_yield_and_completion(
    batch, reactor, operator, operator2, qa_user
):
    batch_services.batch_start(actor=operator, batch=batch, unit=reactor)
    run_batch(batch, operator, operator2, qa_user, yield_qty="1950")
    batch_services.batch_complete(actor=operator, batch=batch)

    kinds = _kinds()
    assert kinds[0] == "order_start"
    assert kinds.count("goods_issue") == 4  # MONO, SOLV, INIT, AID dispensed (run_batch)
    assert kinds[-3:] == ["goods_receipt", "batch_yield", "order_completion"]
    receipt = OutboxMessage.objects.get(kind="goods_receipt")
    assert receipt.payload["quantity"] == "1950"
    assert receipt.payload["material"] == "RESIN-T"
    yield_msg = OutboxMessage.objects.get(kind="batch_yield")
    assert yield_msg.payload == {
        "theoretical": "1960",
        "actual": "1950",
        "uom": "kg",
        "yield_pct": "99.49",
    }
    assert OutboxMessage.objects.get(kind="order_completion").payload["good"] == "1950"
    issued = sum(
        Decimal(m.payload["quantity"]) for m in OutboxMessage.objects.filter(kind="goods_issue")
    )
    assert issued == Decimal("2015")


def _deliver_all(script, *, rounds=1):
    total = outbox.DrainResult()
    for _ in range(rounds):
        r = outbox.outbox_drain(budget_seconds=5)
        total.delivered += r.delivered
        total.duplicates += r.duplicates
        total.retried += r.retried
        total.dead += r.dead
    return total


def test_delivery_sends_the_idempotency_key_and_records_the_erp_reference(
    script, batch, reactor, operator
):
    batch_services.batch_start(actor=operator, batch=batch, unit=reactor)

    result = _deliver_all(script)

    message = OutboxMessage.objects.get()
    assert (result.delivered, message.status, message.external_ref) == (1, "delivered", "ERP-1")
    assert [m.idempotency_key for m in script.seen] == [message.idempotency_key]
    assert list(message.log.values_list("number", "outcome")) == [(1, "delivered")]


def test_a_retryable_failure_backs_off_honouring_retry_after(script, batch, reactor, operator):
    batch_services.batch_start(actor=operator, batch=batch, unit=reactor)
    script.steps = [f.retryable("429 Too Many Requests", status=429, retry_after=120)]
    before = timezone.now()

    result = _deliver_all(script)

    message = OutboxMessage.objects.get()
    assert (result.retried, message.status, message.attempts) == (1, "pending", 1)
    assert message.next_attempt_at >= before + timedelta(seconds=120)
    assert message.last_error == "429 Too Many Requests"
    assert _deliver_all(script).handled == 0  # not due yet

    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    assert _deliver_all(script).delivered == 1
    assert [m.idempotency_key for m in script.seen] == [message.idempotency_key] * 2


def test_backoff_grows_exponentially_with_jitter_and_a_cap(settings):
    settings.MES_ERP_BACKOFF_BASE_SECONDS = 2
    settings.MES_ERP_BACKOFF_CAP_SECONDS = 60
    for attempt, high in ((1, 2), (2, 4), (3, 8), (4, 16), (10, 60)):
        delays = [outbox.backoff_seconds(attempt) for _ in range(50)]
        assert all(high / 2 <= d <= high for d in delays)
        assert len(set(delays)) > 1
    assert outbox.backoff_seconds(1, retry_after=30) == 30


def test_dead_letter_after_max_attempts_then_retry_with_a_reason(
    script, settings, batch, reactor, operator, supervisor
):
    settings.MES_ERP_OUTBOX_MAX_ATTEMPTS = 3
    batch_services.batch_start(actor=operator, batch=batch, unit=reactor)
    script.steps = [f.retryable(), f.retryable(), f.retryable()]
    message = OutboxMessage.objects.get()
    for _ in range(3):
        OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
        _deliver_all(script)

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("dead", 3)
    assert message.last_error == "503 Service Unavailable after 3 attempts"
    assert list(message.log.values_list("outcome", flat=True)) == ["retry", "retry", "dead"]

    with pytest.raises(NotAuthorized):
        services.dead_letter_retry(actor=operator, message=message, reason="try again")
    retried = services.dead_letter_retry(
        actor=supervisor, message=message, reason="ERP maintenance window over"
    )

    assert (retried.status, retried.attempts) == ("pending", 0)
    audit = DeadLetterRetry.objects.get()
    assert (audit.actor, audit.reason, audit.last_error) == (
        supervisor,
        "ERP maintenance window over",
        "503 Service Unavailable after 3 attempts",
    )
    assert _deliver_all(script).delivered == 1
    # The first three sends may have been applied with their answers lost: the re-delivery
    # after the reset counter says "attempt unknown", so adapters read back before posting.
    assert [m.attempt for m in script.seen] == [1, None, None, None]
    with pytest.raises(Conflict, match="not a dead letter"):
        services.dead_letter_retry(actor=supervisor, message=message, reason="again")


def test_a_permanent_failure_is_dead_at_once_and_retried_after_the_mapping_fix(
    script, batch, reactor, operator, supervisor, admin_user, conn
):
    batch_services.batch_start(actor=operator, batch=batch, unit=reactor)
    script.steps = [f.permanent()]

    assert _deliver_all(script).dead == 1
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == ("dead", 1)

    services.connection_mapping_set(
        actor=admin_user,
        connection=conn,
        mapping={"work_centers": {"R-101": "RX01"}},
        reason="R-101 is RX01 in the ERP",
    )
    services.dead_letter_retry(actor=supervisor, message=message, reason="mapping fixed")

    assert _deliver_all(script).delivered == 1
    assert DeadLetterRetry.objects.get().mapping == {"work_centers": {"R-101": "RX01"}}


def test_messages_of_one_order_go_in_order_behind_a_failure(
    script, batch, reactor, operator, operator2, qa_user
):
    batch_services.batch_start(actor=operator, batch=batch, unit=reactor)
    run_batch(batch, operator, operator2, qa_user, yield_qty="1950")
    script.steps = [f.retryable()]

    _deliver_all(script)

    # the first (order_start) failed: nothing behind it was sent
    assert [m.kind for m in script.seen] == ["order_start"]
    assert OutboxMessage.objects.filter(status=OutboxStatus.DELIVERED).count() == 0
    OutboxMessage.objects.update(next_attempt_at=timezone.now())
    _deliver_all(script)
    sent = [m.kind for m in script.seen]
    assert sent == ["order_start", *_kinds()]


def test_a_stale_claim_is_taken_over_and_the_old_worker_cannot_overwrite(
    script, settings, batch, reactor, operator
):
    settings.MES_ERP_OUTBOX_LEASE_SECONDS = 60
    batch_services.batch_start(actor=operator, batch=batch, unit=reactor)
    [claimed] = outbox.outbox_claim(limit=10)  # a worker claims, then dies
    assert outbox.outbox_claim(limit=10) == []  # within the lease nobody else takes it
    OutboxMessage.objects.filter(pk=claimed.pk).update(
        claimed_at=timezone.now() - timedelta(seconds=61)
    )

    assert _deliver_all(script).delivered == 1

    # the dead worker wakes up and tries to record a failure: ignored
    late = outbox.DrainResult()
    outbox.outbox_deliver(claimed, f.fake_adapter_class(f.Script(steps=[f.retryable()]))(), late)
    assert (late.retried, late.lost_claims) == (0, 1)
    assert OutboxMessage.objects.get().status == "delivered"


def test_a_closed_erp_work_order_confirms_every_operation(
    script, admin_user, line, integration_user, operator
):
    conn = f.connection(actor=admin_user, code="ERP2")
    order_receive(actor=integration_user, connection=conn, order=f.discrete_order(quantity=1))
    wo = WorkOrder.objects.get()
    wo_services.labor_clock_on(actor=operator, operation=workorders_conftest.op(wo, 10))
    wo_services.labor_clock_off(actor=operator, operation=workorders_conftest.op(wo, 10))
    unit = wo.units.get()
    wo_services.unit_complete_operation(actor=operator, unit=unit)
    wo_services.unit_scan_component(actor=operator, unit=unit, code=line.pails[0].lot_number)
    wo_services.unit_complete_operation(actor=operator, unit=unit)
    wo_services.unit_scan_component(actor=operator, unit=unit, code="LBL-LOT-1")
    wo_services.unit_complete_operation(actor=operator, unit=unit)
    chars = {
        c.name: c.pk for c in workorders_conftest.op(wo, 40).routing_operation.characteristics.all()
    }
    wo_services.unit_inspect(
        actor=operator,
        unit=unit,
        results={chars["Seal intact"]: "pass", chars["Lid torque"]: "3.1"},
    )
    wo_services.unit_complete_operation(actor=operator, unit=unit)
    wo_services.unit_complete_operation(actor=operator, unit=unit)
    wo_services.work_order_close(actor=admin_user, work_order=wo)

    kinds = _kinds()
    assert kinds[0] == "order_start"
    assert kinds.count("order_start") == 1
    assert kinds.count("goods_issue") == 2  # the pail serial, the labels
    confirmations = list(OutboxMessage.objects.filter(kind="operation_confirmation").order_by("id"))
    ops = [f"{o.seq:04d}" for o in wo.operations.order_by("seq")]
    # the unit confirmed at each operation as it went (partial), then each operation's final
    # confirmation at close (nothing left to confirm)
    assert [(m.payload["operation"], m.payload["final"]) for m in confirmations] == [
        *((seq, False) for seq in ops),
        *((seq, True) for seq in ops),
    ]
    assert [m.payload["good"] for m in confirmations] == ["1"] * 5 + ["0"] * 5
    receipt = OutboxMessage.objects.get(kind="goods_receipt")
    assert receipt.payload["serials"] == [unit.serial_number]
    assert kinds[-1] == "order_completion"

    _deliver_all(script, rounds=3)
    assert OutboxMessage.objects.exclude(status="delivered").count() == 0


def test_reconciliation_flags_a_difference_and_resolves_it(script, batch, reactor, operator):
    batch_services.batch_start(actor=operator, batch=batch, unit=reactor)
    _deliver_all(script)
    key = OutboxMessage.objects.get().idempotency_key
    script.erp_view["PO-1"] = {
        "status": "released",
        "confirmed_good": Decimal(0),
        "goods_issues": Decimal(0),
        "goods_receipts": Decimal(0),
        "idempotency_keys": set(),
    }

    counts = services.reconciliation_run()

    finding = ReconciliationFinding.objects.get()
    assert counts == {"orders": 1, "findings": 1, "errors": 0}
    assert (finding.field, finding.mes_value, finding.erp_value, finding.status) == (
        "missing_messages",
        "1",
        key,
        "open",
    )

    script.erp_view["PO-1"]["idempotency_keys"] = {key}
    services.reconciliation_run()

    finding.refresh_from_db()
    assert finding.status == "resolved"
