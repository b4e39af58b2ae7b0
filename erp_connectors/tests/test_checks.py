"""Self-audit item "ERP write-back": not applicable without an ERP, fails on a dead letter,
warns on an old backlog, passes when everything is delivered."""

from datetime import timedelta

import pytest
from django.utils import timezone

from erp_connectors.checks import erp_write_back
from erp_connectors.models import ErpOrderLink, OutboxMessage, OutboxStatus
from erp_connectors.outbox import message_write
from erp_connectors.tests import factories as f
from mes.registry import Period, capability_checks

pytestmark = pytest.mark.django_db


def _period():
    now = timezone.now()
    return Period(start=now - timedelta(days=1), end=now + timedelta(minutes=1))


def _messages(admin_user, n):
    conn = f.connection(actor=admin_user, code="CHK")
    link = ErpOrderLink.objects.create(
        connection=conn,
        erp_order_id="9",
        version="1",
        kind="discrete",
        material_code="X",
        quantity=1,
        uom="ea",
    )
    return [
        message_write(link=link, kind="goods_issue", source=f"s{i}", payload={}) for i in range(n)
    ]


def test_the_check_is_registered_and_not_applicable_without_an_erp():
    assert "erp_connectors.write_back" in {c.key for c in capability_checks()}
    assert erp_write_back(_period()).status == "not_applicable"


def test_a_dead_letter_fails_the_check(admin_user):
    first, _second = _messages(admin_user, 2)
    OutboxMessage.objects.filter(pk=first.pk).update(status=OutboxStatus.DEAD)

    result = erp_write_back(_period())

    assert result.status == "fail"
    assert result.summary.startswith("1 of 2 ERP messages of the period are dead letters")
    assert result.measured["dead"] == 1


def test_an_old_backlog_warns_and_a_delivered_one_passes(admin_user, settings):
    settings.MES_ERP_BACKLOG_WARN_MINUTES = 15
    messages = _messages(admin_user, 2)
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(minutes=20))
    assert erp_write_back(_period()).status == "warning"

    OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).update(
        status=OutboxStatus.DELIVERED
    )
    result = erp_write_back(_period())
    assert result.status == "pass"
    assert result.measured["delivered"] == 2
